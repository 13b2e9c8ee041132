/* db/mysql_tls.c -- TLS to MariaDB/MySQL from the URL's options.
 *
 * The options are PostgreSQL's names, so that one vocabulary covers both
 * servers: sslmode=disable|require|verify-ca|verify-full, sslrootcert (the
 * CA file), sslcert and sslkey (a client certificate) and sslpassword (the
 * key's passphrase). Connector/C has no "verify the chain but not the
 * name" switch of its own; it checks the chain whenever it is given a CA
 * and the name only with MYSQL_OPT_SSL_VERIFY_SERVER_CERT, which is what
 * verify-ca and verify-full become. As with libpq, require with a CA
 * checks the chain too. sslmode defaults to disable (libpq's prefer would
 * mean a silent downgrade the URL cannot see), and an option that only
 * matters with TLS, or a verify mode without its CA, is refused rather than
 * ignored (url_opts.c, so gt_db_check_url() says so): a URL that asks for a
 * certificate check must get one.
 *
 * The handshake runs inside mysql_real_connect_start()/_cont(), on the
 * library's private stack: its reads and writes suspend the call like any
 * other, so mysql_io.c's waits (and their deadline) cover it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mysql.h"

static const char *const mode_names[] = {"disable", "require", "verify-ca",
                                         "verify-full"};

static int parse_mode(const char *v)
{
    for (int i = 0; i < (int)(sizeof(mode_names) / sizeof(mode_names[0])); i++)
        if (v && strcmp(v, mode_names[i]) == 0)
            return i;
    return -1;
}

static char *copy(const char *s, int *rc)
{
    char *d = s ? strdup(s) : NULL;

    if (s && !d)
        *rc = -ENOMEM;
    return d;
}

int gt__my_tls_setup(my_conn *c, const gt__db_url *u)
{
    my_tls *t = &c->target.tls;
    const char *mode = gt__db_url_opt(u, "sslmode");
    const char *ca = gt__db_url_opt(u, "sslrootcert");
    const char *cert = gt__db_url_opt(u, "sslcert");
    const char *key = gt__db_url_opt(u, "sslkey");
    const char *pass = gt__db_url_opt(u, "sslpassword");
    int m = mode ? parse_mode(mode) : MY_TLS_OFF, rc = 0;

    if (m < 0) /* gt__db_url_check() has refused it already */
        return gt__db_error(&c->base, -EINVAL, 0, NULL, "bad sslmode");
    t->mode = m;
    t->ca = copy(ca, &rc);
    t->cert = copy(cert, &rc);
    t->key = copy(key, &rc);
    t->passphrase = copy(pass, &rc);
    return rc < 0 ? gt__db_error(&c->base, rc, 0, NULL, "out of memory") : 0;
}

int gt__my_tls_dup(my_tls *d, const my_tls *s)
{
    int rc = 0;

    d->mode = s->mode;
    d->ca = copy(s->ca, &rc);
    d->cert = copy(s->cert, &rc);
    d->key = copy(s->key, &rc);
    d->passphrase = copy(s->passphrase, &rc);
    return rc;
}

void gt__my_tls_free(my_tls *t)
{
    free(t->ca);
    free(t->cert);
    free(t->key);
    free(t->passphrase);
    memset(t, 0, sizeof(*t));
}

/* Set the handle's TLS options before its connect. Connector/C's
 * mysql_options() fails only on memory. */
int gt__my_tls_apply(MYSQL *my, const my_tls *t)
{
    my_bool on = 1, full = t->mode == MY_TLS_VERIFY_FULL;

    if (t->mode == MY_TLS_OFF)
        return 0;
    if (mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &on) ||
        mysql_options(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &full) ||
        (t->ca && mysql_options(my, MYSQL_OPT_SSL_CA, t->ca)) ||
        (t->cert && mysql_options(my, MYSQL_OPT_SSL_CERT, t->cert)) ||
        (t->key && mysql_options(my, MYSQL_OPT_SSL_KEY, t->key)) ||
        (t->passphrase &&
         mysql_options(my, MARIADB_OPT_TLS_PASSPHRASE, t->passphrase)))
        return -ENOMEM;
    return 0;
}
