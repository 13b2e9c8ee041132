/* db/url.c -- parse database URLs into a gt__db_url.
 *
 *     postgres://user:pass@host:port/dbname?key=value&...   (postgresql://)
 *     postgres://user:pass@h1:p1,h2:p2/dbname?target_session_attrs=...
 *                                          (libpq's host list; see below)
 *     mysql://user:pass@[::1]:3306/dbname?...               (mariadb://)
 *     sqlite:///absolute/path.db   sqlite:relative/path.db
 *     sqlite::memory:              sqlite://:memory:
 *     redis://user:pass@host:port/dbnumber?...    (no driver here: the
 *                         redis module opens it, the pool reads it)
 *
 * Hand-written rather than built on a URL library because the grammar we
 * accept is small and its errors must name the part that is wrong: a user
 * who typed a bad port should read "port '99999' is not a number in
 * 1-65535", not "invalid URL". Every part is copied and percent-decoded
 * into its own string, so the result outlives the input. A decoded NUL is
 * refused: the strings end at the first one, so it would silently cut a
 * password or path short.
 *
 * The authority ends at the first '/' or '?'; the user part at its last
 * '@', so an unescaped '@' or ':' inside the password still works. '+' in
 * the query is left alone (it is not a space outside HTML forms). */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "driver.h"

/* What parsing needs besides the result: where messages go. */
typedef struct parser {
    gt__db_url *u;
    char *err;
    size_t errlen;
} parser;

int gt__db_url_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* A parse error: the message to where the parser's caller wants it. */
#define fail(p, ...) gt__db_url_fail((p)->err, (p)->errlen, __VA_ARGS__)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Copy s[0..n) percent-decoded into a new string in *out. */
static int decode(parser *p, char **out, const char *s, size_t n,
                  const char *what)
{
    char *d = malloc(n + 1);
    size_t j = 0;

    if (!d)
        return fail(p, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int hi, lo;

        if (s[i] != '%') {
            d[j++] = s[i];
            continue;
        }
        hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || hi * 16 + lo == 0) {
            free(d);
            if (strcmp(what, "password") == 0) /* never quote a secret */
                return fail(p, -EINVAL,
                            "bad percent-escape in the "
                            "password");
            return fail(p, -EINVAL, "bad percent-escape in the %s: '%.*s'",
                        what, (int)(n - i < 3 ? n - i : 3), s + i);
        }
        d[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    d[j] = '\0';
    *out = d;
    return 0;
}

static const struct {
    const char *alias, *scheme;
} schemes[] = {
    {"postgres", "postgres"}, {"postgresql", "postgres"}, {"mysql", "mysql"},
    {"mariadb", "mysql"},     {"sqlite", "sqlite"},       {"redis", "redis"},
};

/* Match the scheme before ':' and store its canonical name. */
static int parse_scheme(parser *p, const char *url, const char **rest)
{
    const char *colon = strchr(url, ':');
    size_t n = colon ? (size_t)(colon - url) : 0;

    if (!colon || n == 0)
        return fail(p, -EINVAL,
                    "missing scheme: expected postgres://, "
                    "mysql://, sqlite: or redis://");
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        if (strlen(schemes[i].alias) == n &&
            strncasecmp(url, schemes[i].alias, n) == 0) {
            p->u->scheme = strdup(schemes[i].scheme);
            *rest = colon + 1;
            return p->u->scheme ? 0 : fail(p, -ENOMEM, "out of memory");
        }
    }
    return fail(p, -EPROTONOSUPPORT,
                "unknown scheme '%.*s': expected postgres, postgresql, "
                "mysql, mariadb, sqlite or redis",
                (int)(n > 32 ? 32 : n), url);
}

/* One "key=value" query option (a missing '=' means an empty value). */
static int parse_opt(parser *p, const char *s, size_t n)
{
    gt__db_url *u = p->u;
    const char *eq = memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    gt__db_opt *o;
    int rc;

    if (kn == 0)
        return fail(p, -EINVAL, "empty option name in the query string");
    o = realloc(u->opts, (size_t)(u->nopts + 1) * sizeof(*o));
    if (!o)
        return fail(p, -ENOMEM, "out of memory");
    u->opts = o;
    o = &u->opts[u->nopts];
    o->key = o->value = NULL;
    u->nopts++;
    rc = decode(p, &o->key, s, kn, "option name");
    if (rc == 0)
        rc = eq ? decode(p, &o->value, eq + 1, n - kn - 1, "option value")
                : decode(p, &o->value, "", 0, "option value");
    return rc;
}

/* The query string after '?': options separated by '&'. */
static int parse_query(parser *p, const char *q)
{
    while (*q) {
        size_t n = strcspn(q, "&");
        int rc = n ? parse_opt(p, q, n) : 0;

        if (rc < 0)
            return rc;
        q += n + (q[n] == '&');
    }
    return 0;
}

/* sqlite:<path>, sqlite:///<abs path>, sqlite::memory:, sqlite://:memory: */
static int parse_sqlite(parser *p, const char *rest)
{
    size_t n = strcspn(rest, "?");
    int rc;

    if (strncmp(rest, "//", 2) == 0) {
        rest += 2;
        n -= 2;
        if (n > 0 && rest[0] != '/' &&
            !(n == 8 && strncmp(rest, ":memory:", 8) == 0))
            return fail(p, -EINVAL,
                        "sqlite URL with a host part: write "
                        "sqlite:///absolute/path, "
                        "sqlite:relative/path or "
                        "sqlite::memory:");
    }
    if (n == 0)
        return fail(p, -EINVAL,
                    "sqlite URL without a path: write "
                    "sqlite:///absolute/path, "
                    "sqlite:relative/path or sqlite::memory:");
    rc = decode(p, &p->u->path, rest, n, "path");
    if (rc == 0 && rest[n] == '?')
        rc = parse_query(p, rest + n + 1);
    return rc;
}

static int parse_port(parser *p, const char *s, size_t n)
{
    long v = 0;

    if (n == 0)
        return 0; /* "host:" -- the default port */
    for (size_t i = 0; i < n && v <= 65535; i++) {
        if (s[i] < '0' || s[i] > '9') {
            v = -1;
            break;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return fail(p, -EINVAL, "port '%.*s' is not a number in 1-65535",
                    (int)(n > 16 ? 16 : n), s);
    p->u->port = (int)v;
    return 0;
}

/* host, host:port, [v6], [v6]:port */
static int parse_hostport(parser *p, const char *s, size_t n)
{
    const char *end, *colon;
    int rc;

    if (n > 0 && s[0] == '[') {
        end = memchr(s, ']', n);
        if (!end)
            return fail(p, -EINVAL, "IPv6 address without its closing ']'");
        if (end + 1 < s + n && end[1] != ':')
            return fail(p, -EINVAL,
                        "unexpected text after ']': expected "
                        "':port'");
        rc = decode(p, &p->u->host, s + 1, (size_t)(end - s - 1), "host");
        if (rc == 0 && end + 1 < s + n)
            rc = parse_port(p, end + 2, (size_t)(s + n - end - 2));
        return rc;
    }
    colon = memchr(s, ':', n);
    rc = colon ? parse_port(p, colon + 1, (size_t)(s + n - colon - 1)) : 0;
    if (rc == 0 && (colon ? colon > s : n > 0))
        rc = decode(p, &p->u->host, s, colon ? (size_t)(colon - s) : n, "host");
    return rc;
}

/* Append "key=value" to the options; takes ownership of both, even on
 * failure. */
static int push_opt(parser *p, char *key, char *value)
{
    size_t size = (size_t)(p->u->nopts + 1) * sizeof(gt__db_opt);
    gt__db_opt *o = key && value ? realloc(p->u->opts, size) : NULL;

    if (!o) {
        free(key);
        free(value);
        return fail(p, -ENOMEM, "out of memory");
    }
    p->u->opts = o;
    o[p->u->nopts].key = key;
    o[p->u->nopts++].value = value;
    return 0;
}

/* host1[:port1],host2[:port2],... (postgres only): libpq's multi-host
 * form. Each element is checked as a single host is; the result is libpq's
 * own pair of lists, host "h1,h2" and the option port "p1,p2" (an empty
 * entry: the default port), stored before the query's options so that an
 * explicit ?port= wins, as in libpq. 'port' stays 0. */
static int parse_hostlist(parser *p, const char *s, size_t n)
{
    gt__db_url *u = p->u;
    char *hosts = malloc(n + 1), *ports = malloc(n + 1);
    size_t hl = 0, pl = 0, en;
    bool any_port = false;
    int rc = hosts && ports ? 0 : fail(p, -ENOMEM, "out of memory");

    for (const char *e = s; rc == 0 && e <= s + n; e += en + 1) {
        en = strcspn(e, ",/?");
        if (e + en > s + n)
            en = (size_t)(s + n - e);
        u->host = NULL;
        u->port = 0;
        rc = en ? parse_hostport(p, e, en) : 0;
        if (rc == 0 && !u->host)
            rc = fail(p, -EINVAL, "empty host in the list '%.*s'",
                      (int)(n > 64 ? 64 : n), s);
        if (rc == 0 && strchr(u->host, ','))
            rc = fail(p, -EINVAL, "host '%.64s' contains ','", u->host);
        if (rc == 0) {
            hl += (size_t)sprintf(hosts + hl, "%s%s", hl ? "," : "", u->host);
            pl +=
                (size_t)(u->port ? sprintf(ports + pl, "%s%d", e > s ? "," : "",
                                           u->port)
                                 : sprintf(ports + pl, "%s", e > s ? "," : ""));
            any_port |= u->port > 0;
        }
        free(u->host);
    }
    u->host = rc == 0 ? hosts : (free(hosts), NULL);
    u->port = 0;
    if (rc == 0 && any_port)
        return push_opt(p, strdup("port"), ports);
    free(ports);
    return rc;
}

/* One host, or a list of them: see parse_hostlist(). */
static int parse_hosts(parser *p, const char *s, size_t n)
{
    if (!memchr(s, ',', n))
        return parse_hostport(p, s, n);
    if (strcmp(p->u->scheme, "postgres") != 0)
        return fail(p, -EINVAL,
                    "a list of hosts is only supported for "
                    "postgres");
    return parse_hostlist(p, s, n);
}

/* user, user:password (the password may contain ':') */
static int parse_userinfo(parser *p, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    size_t un = colon ? (size_t)(colon - s) : n;
    int rc = 0;

    if (un > 0)
        rc = decode(p, &p->u->user, s, un, "user name");
    if (rc == 0 && colon)
        rc = decode(p, &p->u->password, colon + 1, n - un - 1, "password");
    return rc;
}

/* //[userinfo@]hostport[/dbname][?query] */
static int parse_server(parser *p, const char *rest)
{
    size_t alen, plen;
    const char *at = NULL;
    int rc;

    if (strncmp(rest, "//", 2) != 0)
        return fail(p, -EINVAL, "expected '//' after '%s:'", p->u->scheme);
    rest += 2;
    alen = strcspn(rest, "/?");
    for (size_t i = 0; i < alen; i++)
        if (rest[i] == '@')
            at = rest + i;
    rc = at ? parse_userinfo(p, rest, (size_t)(at - rest)) : 0;
    if (rc == 0)
        rc = at ? parse_hosts(p, at + 1, (size_t)(rest + alen - at - 1))
                : parse_hosts(p, rest, alen);
    /* "u:pa/ss@host", "u:pa?ss@host": the authority ended inside the
     * password, and the host or port message just written quotes part of
     * it. Say what happened instead. */
    if (rc == -EINVAL && !at && strchr(rest + alen, '@'))
        rc = fail(p, -EINVAL,
                  "'@' after the host part: a password "
                  "containing '/' or '?' must escape them as "
                  "%%2F and %%3F");
    rest += alen;
    plen = rest[0] == '/' ? strcspn(rest + 1, "?") : 0;
    if (rc == 0 && memchr(rest + 1, '/', plen))
        rc = fail(p, -EINVAL,
                  "database name '%.*s' contains '/' (escape "
                  "it as %%2F)",
                  (int)(plen > 64 ? 64 : plen), rest + 1);
    if (rc == 0 && plen > 0)
        rc = decode(p, &p->u->dbname, rest + 1, plen, "database name");
    rest += rest[0] == '/' ? plen + 1 : 0;
    if (rc == 0 && rest[0] == '?')
        rc = parse_query(p, rest + 1);
    return rc;
}

int gt__db_url_parse(gt__db_url *u, const char *url, char *err, size_t errlen)
{
    parser p = {u, err, errlen};
    const char *rest = NULL;
    int rc;

    memset(u, 0, sizeof(*u));
    if (err && errlen > 0)
        err[0] = '\0';
    if (!url)
        return fail(&p, -EINVAL, "no URL given");
    for (const char *s = url; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return fail(&p, -EINVAL,
                        "control character at offset %zu "
                        "(escape it with %%XX)",
                        (size_t)(s - url));
    rc = parse_scheme(&p, url, &rest);
    if (rc == 0)
        rc = strcmp(u->scheme, "sqlite") == 0 ? parse_sqlite(&p, rest)
                                              : parse_server(&p, rest);
    if (rc < 0)
        gt__db_url_free(u);
    return rc;
}

void gt__db_url_free(gt__db_url *u)
{
    if (!u)
        return;
    free(u->scheme);
    free(u->user);
    free(u->password);
    free(u->host);
    free(u->dbname);
    free(u->path);
    for (int i = 0; i < u->nopts; i++) {
        free(u->opts[i].key);
        free(u->opts[i].value);
    }
    free(u->opts);
    memset(u, 0, sizeof(*u));
}

/* The last occurrence wins, as when options are appended to a base URL. */
const char *gt__db_url_opt(const gt__db_url *u, const char *key)
{
    for (int i = u->nopts - 1; i >= 0; i--)
        if (strcmp(u->opts[i].key, key) == 0)
            return u->opts[i].value;
    return NULL;
}

long gt__db_url_opt_long(const gt__db_url *u, const char *key, long dflt,
                         int *bad)
{
    const char *s = gt__db_url_opt(u, key);
    int neg = 0;
    long v = 0;

    if (bad)
        *bad = 0;
    if (!s)
        return dflt;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (*s == '\0')
        goto bad;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (LONG_MAX - 9) / 10)
            goto bad;
        v = v * 10 + (*s - '0');
    }
    return neg ? -v : v;
bad:
    if (bad)
        *bad = -EINVAL;
    return dflt;
}
