/* db/pg_connect.c -- opening a PostgreSQL connection without blocking the
 * loop.
 *
 * The URL becomes keyword/value arrays for
 * PQconnectStartParams(), and PQconnectPoll() is driven by waits on
 * PQsocket(). libpq may close its socket and open another, possibly under
 * the same number, when it moves on to the next address, so the watch is
 * made afresh at every step. Each PQconnectPoll() step runs on the
 * runtime's driver pool (gt_run_on(GT_THREADS_DRIVER), apart from the
 * application's offload): one of them computes SCRAM's PBKDF2 (4096 HMACs),
 * measured at 8-30 ms of loop stall here when run inline. libpq ignores
 * connect_timeout in this mode: the deadline (which already includes
 * connect_timeout_ms) is enforced by our waits. A host name is resolved on the
 * driver pool too, because libpq's own lookup would block the loop, and is
 * handed over as hostaddr. libpq keeps no SQLSTATE for a failed connection, but
 * its verbose message text carries one ("FATAL:  28P01: ..."), so that is
 * parsed: a server error is GT_EDB, anything else (refused, unreachable)
 * -ECONNREFUSED.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "pg.h"

#define MAX_ADDRS 4
#define MAX_KW 16

/* A host name resolved on the driver pool into "addr1,addr2,...". */
typedef struct lookup {
    const char *host;
    int n, gai;
    char addrs[MAX_ADDRS * (INET6_ADDRSTRLEN + 1)];
} lookup;

static int lookup_run(void *arg)
{
    lookup *l = arg;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    char buf[NI_MAXHOST];
    size_t len = 0, room = sizeof(l->addrs);

    l->gai = getaddrinfo(l->host, NULL, &hints, &res);
    if (l->gai != 0)
        return 0;
    for (ai = res; ai && l->n < MAX_ADDRS; ai = ai->ai_next) {
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof(buf), NULL, 0,
                        NI_NUMERICHOST) != 0 ||
            len + strlen(buf) + 2 > room)
            continue;
        len += (size_t)snprintf(l->addrs + len, room - len, "%s%s",
                                l->n ? "," : "", buf);
        l->n++;
    }
    freeaddrinfo(res);
    return 0;
}

typedef struct conninfo {
    const char *kw[MAX_KW + 1], *val[MAX_KW + 1];
    int n;
    char port[24];
    char *hosts; /* owned: the host name once per address */
    lookup lk;
} conninfo;

static void ci_add(conninfo *ci, const char *kw, const char *val)
{
    if (val && ci->n < MAX_KW) {
        ci->kw[ci->n] = kw;
        ci->val[ci->n++] = val;
    }
}

/* Names that need a lookup: not absent, not a socket directory, not a
 * libpq host list, not an address already. */
static bool needs_lookup(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return host && host[0] && host[0] != '/' && !strchr(host, ',') &&
           inet_pton(AF_INET, host, addr) != 1 &&
           inet_pton(AF_INET6, host, addr) != 1;
}

static int ci_host(conninfo *ci, pg_conn *c, const char *host, int64_t deadline)
{
    lookup *l = &ci->lk;
    size_t len;
    int rc, i;

    if (!needs_lookup(host)) {
        ci_add(ci, "host", host);
        return 0;
    }
    l->host = host;
    rc = gt_run_on(GT_THREADS_DRIVER, lookup_run, l, deadline);
    if (rc < 0)
        return gt__db_error(&c->base, rc, 0, NULL, "resolving \"%s\": %s", host,
                            gt_strerror(rc));
    if (l->n == 0)
        return gt__db_error(&c->base, -ECONNREFUSED, 0, NULL,
                            "could not translate host name \"%s\": %s", host,
                            l->gai ? gai_strerror(l->gai) : "no address");
    len = strlen(host);
    ci->hosts = malloc((len + 1) * (size_t)l->n);
    if (!ci->hosts)
        return -ENOMEM;
    for (i = 0; i < l->n; i++) {
        memcpy(ci->hosts + (size_t)i * (len + 1), host, len);
        ci->hosts[(size_t)i * (len + 1) + len] = i + 1 < l->n ? ',' : '\0';
    }
    ci_add(ci, "host", ci->hosts);
    ci_add(ci, "hostaddr", l->addrs);
    return 0;
}

static int ci_init(conninfo *ci, pg_conn *c, const gt__db_url *u,
                   int64_t deadline)
{
    static const char *const pass[] = {
        "sslmode",     "sslrootcert", "sslcert", "sslkey",
        "sslpassword", "gssencmode",  "options", "target_session_attrs"};
    const char *app = gt__db_url_opt(u, "application_name");
    size_t i;
    int rc;

    memset(ci, 0, sizeof(*ci));
    rc = ci_host(ci, c, u->host, deadline);
    if (rc < 0)
        return rc;
    if (u->port > 0) {
        snprintf(ci->port, sizeof(ci->port), "%d", u->port);
        ci_add(ci, "port", ci->port);
    } else { /* a host list's "p1,p2" (url.c), or ?port= */
        ci_add(ci, "port", gt__db_url_opt(u, "port"));
    }
    ci_add(ci, "user", u->user);
    ci_add(ci, "password", u->password);
    ci_add(ci, "dbname", u->dbname);
    ci_add(ci, "application_name", app ? app : "greentor");
    for (i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
        ci_add(ci, pass[i], gt__db_url_opt(u, pass[i]));
    return 0;
}

/* "...failed: FATAL:  28P01: password ...": the SQLSTATE from the text. */
static int connect_failed(pg_conn *c)
{
    const char *msg = PQerrorMessage(c->pq), *sev = msg, *p, *line;
    char state[6];

    while ((sev = strstr(sev, ":  ")) != NULL) {
        p = sev += 3;
        if (strspn(p, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 5 ||
            strncmp(p + 5, ": ", 2) != 0)
            continue;
        memcpy(state, p, 5);
        state[5] = '\0';
        for (line = p; line > msg && line[-1] != '\n';)
            line--;
        return gt__db_error(&c->base, GT_EDB, 0, state, "%.*s%.*s",
                            (int)(p - line), line, gt__pg_line_len(p + 7),
                            p + 7);
    }
    return gt__db_error(&c->base, -ECONNREFUSED, 0, NULL, "%.*s",
                        gt__pg_line_len(msg), msg);
}

static void drop_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Thread pool: one step of the connection. A step can be pure CPU for
 * tens of ms (SCRAM's PBKDF2, 4096 HMACs; a TLS handshake), which must not
 * stall the loop; a PGconn may move between threads between calls. */
static int poll_step(void *pq)
{
    return (int)PQconnectPoll(pq);
}

/* Drive PQconnectPoll() until connected, failed, or the deadline. */
static int connect_poll(pg_conn *c, int64_t deadline)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    int rc;

    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED)
            return connect_failed(c);
        rc = gt_fdwatch_open(&c->watch, PQsocket(c->pq));
        if (rc < 0)
            return gt__db_error(&c->base, rc, 0, NULL, "connecting: %s",
                                gt_strerror(rc));
        rc = gt_fdwatch_wait(
            &c->watch, st == PGRES_POLLING_READING ? GT_READABLE : GT_WRITABLE,
            deadline);
        gt_fdwatch_close(&c->watch);
        /* Other errors (-EBADF: POLLERR, e.g. refused) are libpq's to
         * diagnose, and maybe to try the next address. */
        if (rc != -ETIMEDOUT && rc != -ECANCELED)
            rc = gt_run_on(GT_THREADS_DRIVER, poll_step, c->pq, deadline);
        if (rc < 0)
            return gt__db_error(&c->base, rc, 0, NULL, "connecting: %s",
                                gt_strerror(rc));
        st = (PostgresPollingStatusType)rc;
    }
    PQsetErrorVerbosity(c->pq, PQERRORS_DEFAULT);
    if (PQsetnonblocking(c->pq, 1) != 0)
        return gt__db_error(&c->base, GT_EPROTO, 0, NULL,
                            "cannot make the connection non-blocking");
    return 0; /* the first wait registers the socket (pg_wait) */
}

int gt__pg_connect(pg_conn *c, const gt__db_url *u, int64_t deadline)
{
    conninfo ci;
    const char *msg;
    int rc = ci_init(&ci, c, u, deadline);

    if (rc == 0) {
        c->pq = PQconnectStartParams(ci.kw, ci.val, 0);
        if (!c->pq)
            rc = -ENOMEM;
    }
    free(ci.hosts);
    if (rc < 0)
        return rc;
    if (PQstatus(c->pq) == CONNECTION_BAD) { /* rejected the options */
        msg = PQerrorMessage(c->pq);
        return gt__db_error(&c->base, -EINVAL, 0, NULL, "%.*s",
                            gt__pg_line_len(msg), msg);
    }
    PQsetNoticeProcessor(c->pq, drop_notice, NULL);
    PQsetErrorVerbosity(c->pq, PQERRORS_VERBOSE); /* SQLSTATE in text */
    return connect_poll(c, deadline);
}
