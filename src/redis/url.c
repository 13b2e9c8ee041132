/* redis/url.c -- opening a redis:// URL.
 *
 *     redis://[[user]:password@]host[:port][/dbnumber][?options]
 *
 * The URL's syntax and its options are the database URLs' (db.h: the
 * one parser and the one list of what a URL may say, so a typo such as
 * ?max_opn=4 is refused the same way for every scheme); this file only
 * turns the parts into a connect and its set-up: AUTH with the
 * credentials (a user too for Redis 6 ACLs), SELECT the database number.
 * connect_timeout_ms bounds all of it, as for SQL URLs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "greentor/db.h"
#include "redis.h"

#define DEFAULT_PORT 6379
#define PART_MAX 256

typedef struct parts {
    char host[PART_MAX], user[PART_MAX], password[PART_MAX];
    int port, dbnum;
    int64_t timeout_ms; /* -1: none */
} parts;

/* A part into buf: 1 when present, 0 when absent, or an error. */
static int part(const char *url, const char *name, char *buf, size_t cap)
{
    int rc = gt_db_url_part(url, name, buf, cap);

    return rc == -ENOENT ? 0 : rc < 0 ? rc : 1;
}

/* A whole number in 0..max from 'name' (a part or an option), or dflt. */
static int number(const char *url, const char *name, bool option, long max,
                  long dflt, long *out)
{
    char buf[24], *end;
    int rc = option ? gt_db_url_option(url, name, buf, sizeof(buf))
                    : gt_db_url_part(url, name, buf, sizeof(buf));

    *out = dflt;
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc == -ENOSPC ? -EINVAL : rc;
    *out = strtol(buf, &end, 10);
    return buf[0] && *end == '\0' && *out >= 0 && *out <= max ? 0 : -EINVAL;
}

static int read_parts(const char *url, parts *p)
{
    long port, db, ms;
    int rc = gt_db_check_url(url, NULL, 0);

    if (rc == -EPROTONOSUPPORT || (rc == 0 && strncasecmp(url, "redis:", 6)))
        return -EINVAL; /* not a redis URL */
    if (rc == 0 && (rc = part(url, "host", p->host, sizeof(p->host))) == 0)
        strcpy(p->host, "127.0.0.1");
    if (rc >= 0)
        rc = part(url, "user", p->user, sizeof(p->user));
    if (rc >= 0)
        rc = part(url, "password", p->password, sizeof(p->password));
    if (rc >= 0)
        rc = number(url, "port", false, 65535, DEFAULT_PORT, &port);
    if (rc >= 0)
        rc = number(url, "dbname", false, 1000000, 0, &db);
    if (rc >= 0)
        rc = number(url, "connect_timeout_ms", true, 2147483647L, -1, &ms);
    if (rc < 0)
        return rc == -ENOSPC ? -EINVAL : rc;
    p->port = (int)port;
    p->dbnum = (int)db;
    p->timeout_ms = ms;
    return 0;
}

int gt_redis_open_url(gt_redis **out, const char *url, int64_t deadline)
{
    parts p;
    gt__redis_login login;
    int rc;

    *out = NULL;
    memset(&p, 0, sizeof(p));
    if (!url || !gt_co_self())
        return -EINVAL;
    rc = read_parts(url, &p);
    if (rc < 0)
        return rc;
    if (p.timeout_ms >= 0 &&
        (deadline == GT_NEVER || gt_deadline_in(p.timeout_ms) < deadline))
        deadline = gt_deadline_in(p.timeout_ms);
    login.user = p.user[0] ? p.user : NULL;
    login.password = p.password[0] ? p.password : NULL;
    login.dbnum = p.dbnum;
    return gt__redis_open(out, p.host, p.port, &login, deadline);
}
