/* db/url_opts.c -- the options a database URL may carry, checked once
 * for every reader.
 *
 * Every option any part of greentor reads from a URL, for the scheme(s) it
 * applies to: the drivers' (db.c, pg.c, mysql.c, sqlite.c, init.c, and
 * redis/url.c for redis://) and the pool's (pool/pool.c, which reads its
 * options from the same string, so gt_db_open() must accept them too). A name
 * that is not here is a typo, and a typo that silently leaves a default in
 * place (?max_opn=4) is worse than a refusal: gt__db_url_check() refuses it,
 * naming what is accepted. Numbers are checked against their range here, once,
 * so no reader can truncate one (max_open=4294967297 used to become 1). A new
 * option is one line here and its documentation in the header. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"

/* Where a check's messages go. */
typedef struct checker {
    const gt__db_url *u;
    char *err;
    size_t errlen;
} checker;

#define fail(p, ...) gt__db_url_fail((p)->err, (p)->errlen, __VA_ARGS__)

enum { PG = 1, MY = 2, SQ = 4, RD = 8, SQL = PG | MY | SQ, ALL = SQL | RD };
enum { TEXT, NUMBER, CHOICE };

#define MS_MAX 2147483647L /* ~24.8 days; readers keep ms in an int */
#define COUNT_MAX 1000000L

typedef struct known_opt {
    const char *name;
    unsigned char schemes; /* PG | MY | SQ | RD */
    unsigned char kind;    /* TEXT, NUMBER or CHOICE */
    bool pool;             /* read by the pool, not the driver */
    bool icase;            /* CHOICE: compared ignoring case */
    long min, max;         /* NUMBER: the accepted range */
    const char *choices;   /* CHOICE: "a|b|c" */
} known_opt;

#define NUM(n, sc, lo, hi)                                                     \
    {                                                                          \
        n, sc, NUMBER, false, false, lo, hi, NULL                              \
    }
#define POOLNUM(n, lo, hi)                                                     \
    {                                                                          \
        n, ALL, NUMBER, true, false, lo, hi, NULL                              \
    }
#define TXT(n, sc)                                                             \
    {                                                                          \
        n, sc, TEXT, false, false, 0, 0, NULL                                  \
    }

static const known_opt known_opts[] = {
    TXT("init", SQL),
    NUM("connect_timeout_ms", ALL, 0, MS_MAX),
    NUM("stmt_cache", SQL, 0, COUNT_MAX),
    TXT("application_name", PG),
    /* TLS: libpq's names, and for MariaDB the same (mysql_tls.c), which
     * has no allow/prefer: a downgrade the URL cannot see. */
    {"sslmode", PG, CHOICE, false, false, 0, 0,
     "disable|allow|prefer|require|verify-ca|verify-full"},
    {"sslmode", MY, CHOICE, false, false, 0, 0,
     "disable|require|verify-ca|verify-full"},
    TXT("sslrootcert", PG | MY),
    TXT("sslcert", PG | MY),
    TXT("sslkey", PG | MY),
    TXT("sslpassword", PG | MY), /* a secret: gt_db_url_redact() hides it */
    TXT("gssencmode", PG),
    TXT("options", PG),
    TXT("target_session_attrs", PG),
    TXT("port", PG), /* libpq's port list, also made from a host list */
    NUM("busy_timeout_ms", SQ, 0, MS_MAX),
    {"mode", SQ, CHOICE, false, false, 0, 0, "inline|offload"},
    {"synchronous", SQ, CHOICE, false, true, 0, 0, "off|normal|full|extra"},
    POOLNUM("max_open", 1, COUNT_MAX),
    POOLNUM("min_idle", 0, COUNT_MAX),
    POOLNUM("max_idle", 0, COUNT_MAX),
    POOLNUM("max_lifetime_ms", 0, MS_MAX),
    POOLNUM("idle_timeout_ms", 0, MS_MAX),
    POOLNUM("acquire_timeout_ms", 0, MS_MAX),
    POOLNUM("validate_idle_ms", 0, MS_MAX),
    POOLNUM("leak_threshold_ms", 0, MS_MAX),
    POOLNUM("leak_reclaim_ms", 0, MS_MAX),
    POOLNUM("backoff_max_ms", 0, MS_MAX),
    {"reset_on_release", ALL, CHOICE, true, false, 0, 0, "auto|always|never"},
};

#define NKNOWN (sizeof(known_opts) / sizeof(known_opts[0]))

static unsigned scheme_bit(const char *scheme)
{
    return strcmp(scheme, "postgres") == 0 ? PG
           : strcmp(scheme, "mysql") == 0  ? MY
           : strcmp(scheme, "redis") == 0  ? RD
                                           : SQ;
}

/* Edit distance of a and b, at most 3 (enough to tell a typo). */
static int distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    int row[48], d = 0;

    if (na >= 48 || nb >= 48)
        return 3;
    for (size_t j = 0; j <= nb; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];

        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j], best = diag + (a[i - 1] != b[j - 1]);

            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            diag = up;
            row[j] = best;
        }
    }
    d = row[nb];
    return d < 3 ? d : 3;
}

/* "unknown option 'x' [(did you mean y?)]; a <scheme> URL accepts ...". */
static int unknown(checker *p, const char *key, unsigned bit)
{
    const char *near = NULL;
    char list[640];
    size_t n = 0;

    list[0] = '\0';
    for (int pool = 0; pool < 2; pool++) {
        if (pool && n < sizeof(list))
            n += (size_t)snprintf(list + n, sizeof(list) - n,
                                  "; and for the pool:");
        for (size_t i = 0; i < NKNOWN; i++) {
            const known_opt *o = &known_opts[i];

            if (!(o->schemes & bit) || o->pool != pool)
                continue;
            if (!near && distance(key, o->name) <= 2)
                near = o->name;
            if (n < sizeof(list))
                n += (size_t)snprintf(list + n, sizeof(list) - n, " %s",
                                      o->name);
        }
    }
    if (near)
        return fail(p, -EINVAL,
                    "unknown option '%.40s' (did you mean "
                    "%s?); a %s URL accepts:%s",
                    key, near, p->u->scheme, list);
    return fail(p, -EINVAL, "unknown option '%.40s'; a %s URL accepts:%s", key,
                p->u->scheme, list);
}

static bool choice_ok(const known_opt *o, const char *v)
{
    size_t n = strlen(v);

    for (const char *c = o->choices; *c;) {
        size_t len = strcspn(c, "|");

        if (len == n &&
            (o->icase ? strncasecmp(c, v, n) : strncmp(c, v, n)) == 0)
            return true;
        c += len + (c[len] == '|');
    }
    return false;
}

static int check_value(checker *p, const known_opt *o, const char *v)
{
    int bad = 0;
    long n;

    if (o->kind == CHOICE && !choice_ok(o, v))
        return fail(p, -EINVAL,
                    "option %s must be one of %s, not "
                    "'%.40s'",
                    o->name, o->choices, v);
    if (o->kind != NUMBER)
        return 0;
    n = gt__db_url_opt_long(p->u, o->name, 0, &bad);
    if (bad || n < o->min || n > o->max)
        return fail(p, -EINVAL,
                    "option %s must be a whole number from %ld "
                    "to %ld, not '%.40s'",
                    o->name, o->min, o->max, v);
    return 0;
}

/* A mysql URL's TLS files only mean something with TLS on (its sslmode
 * defaults to disable), and a verify mode without a CA could only be a
 * mistake: Connector/C would connect without checking anything. Refused,
 * so that a URL asking for a check always gets one (db/mysql_tls.c). */
static int check_mysql_tls(checker *p)
{
    static const char *const files[] = {"sslrootcert", "sslcert", "sslkey",
                                        "sslpassword"};
    const char *mode = gt__db_url_opt(p->u, "sslmode");
    const char *ca = gt__db_url_opt(p->u, "sslrootcert");

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if ((!mode || strcmp(mode, "disable") == 0) &&
            gt__db_url_opt(p->u, files[i]))
            return fail(p, -EINVAL,
                        "option %s needs sslmode=require, verify-ca or "
                        "verify-full (a mysql URL's sslmode is disable "
                        "unless given)",
                        files[i]);
    if (mode && strncmp(mode, "verify-", 7) == 0 && !(ca && ca[0]))
        return fail(p, -EINVAL, "sslmode=%s needs sslrootcert (the CA file)",
                    mode);
    return 0;
}

int gt__db_url_check(const gt__db_url *u, char *err, size_t errlen)
{
    checker p = {u, err, errlen};
    unsigned bit = scheme_bit(u->scheme);

    for (int i = 0; i < u->nopts; i++) {
        const known_opt *o = NULL;
        int rc;

        for (size_t k = 0; k < NKNOWN && !o; k++)
            if ((known_opts[k].schemes & bit) &&
                strcmp(known_opts[k].name, u->opts[i].key) == 0)
                o = &known_opts[k];
        if (!o)
            return unknown(&p, u->opts[i].key, bit);
        /* The value that counts is the last one (gt__db_url_opt). */
        if (gt__db_url_opt(u, o->name) != u->opts[i].value)
            continue;
        rc = check_value(&p, o, u->opts[i].value);
        if (rc < 0)
            return rc;
    }
    return bit == MY ? check_mysql_tls(&p) : 0;
}

int gt_db_check_url(const char *url, char *err, size_t errlen)
{
    gt__db_url u;
    int rc = gt__db_url_parse(&u, url, err, errlen);

    if (rc == 0)
        rc = gt__db_url_check(&u, err, errlen);
    gt__db_url_free(&u);
    return rc;
}

/* Copy 'v' (NULL: absent) into out[0..cap): its length, -ENOENT or
 * -ENOSPC (out holds ""). */
static int copy_out(const char *v, char *out, size_t cap)
{
    size_t n = v ? strlen(v) : 0;

    if (!v)
        return -ENOENT;
    if (n >= cap || n > INT32_MAX)
        return -ENOSPC;
    memcpy(out, v, n + 1);
    return (int)n;
}

/* The named part of a parsed URL, NULL when absent; 'port' goes through
 * 'buf'. Sets *known to false for a name that is no part. */
static const char *part_of(const gt__db_url *u, const char *name, char *buf,
                           size_t cap, bool *known)
{
    *known = true;
    if (strcmp(name, "host") == 0)
        return u->host;
    if (strcmp(name, "user") == 0)
        return u->user;
    if (strcmp(name, "password") == 0)
        return u->password;
    if (strcmp(name, "dbname") == 0)
        return u->dbname;
    if (strcmp(name, "path") == 0)
        return u->path;
    if (strcmp(name, "port") == 0)
        return u->port ? (snprintf(buf, cap, "%d", u->port), buf) : NULL;
    *known = false;
    return NULL;
}

/* Parse 'url' and copy its part or option 'key' into 'out'. */
static int lookup(const char *url, const char *key, char *out, size_t cap,
                  bool part)
{
    char port[16];
    gt__db_url u;
    bool known = true;
    const char *v;
    int rc;

    if (!url || !key || !out || cap == 0)
        return -EINVAL;
    out[0] = '\0';
    if ((rc = gt__db_url_parse(&u, url, NULL, 0)) < 0)
        return rc;
    v = part ? part_of(&u, key, port, sizeof(port), &known)
             : gt__db_url_opt(&u, key);
    rc = known ? copy_out(v, out, cap) : -EINVAL;
    gt__db_url_free(&u);
    return rc;
}

int gt_db_url_option(const char *url, const char *key, char *out, size_t cap)
{
    return lookup(url, key, out, cap, false);
}

int gt_db_url_part(const char *url, const char *name, char *out, size_t cap)
{
    return lookup(url, name, out, cap, true);
}
