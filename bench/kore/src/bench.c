/* bench/kore/src/bench.c -- the peer kore (Debian's kore 4.1) runs in
 * bench/run.sh: /plaintext, /json and /db on PostgreSQL, written the way
 * kore's own examples write them (kore's TechEmpower entry does the same
 * work), so that its CPU per request sits next to greentor's in one run.
 *
 * /db is kore's asynchronous pgsql API: a state machine per request
 * (http_state_run), a connection of the "db" pool (KORE_PGSQL_ASYNC,
 * pgsql_conn_max in the configuration), the query's result read, the
 * connection given back. The connection string comes from the
 * environment (BENCH_KORE_PG, a libpq conninfo: say gssencmode=disable
 * and sslmode=disable, as the greentor row's URL does), read when the
 * module loads. */
#include <kore/kore.h>
#include <kore/http.h>
#include <kore/pgsql.h>
#include <kore/seccomp.h>

#include <stdio.h>
#include <stdlib.h>

/* kore 4.1's worker sandbox predates glibc's use of newfstatat, which
 * libpq's GSSAPI probe and getaddrinfo() make; without it the worker dies
 * of SIGSYS at its first connect. The rest are what SQLite's unix VFS
 * calls on a WAL database (sqlite.c). */
KORE_SECCOMP_FILTER("bench", KORE_SYSCALL_ALLOW(newfstatat),
                    KORE_SYSCALL_ALLOW(fstat), KORE_SYSCALL_ALLOW(stat),
                    KORE_SYSCALL_ALLOW(pread64), KORE_SYSCALL_ALLOW(pwrite64),
                    KORE_SYSCALL_ALLOW(fcntl), KORE_SYSCALL_ALLOW(openat),
                    KORE_SYSCALL_ALLOW(lseek), KORE_SYSCALL_ALLOW(getpid),
                    KORE_SYSCALL_ALLOW(fsync), KORE_SYSCALL_ALLOW(fdatasync),
                    KORE_SYSCALL_ALLOW(ftruncate), KORE_SYSCALL_ALLOW(geteuid),
                    KORE_SYSCALL_ALLOW(fchown), KORE_SYSCALL_ALLOW(unlink),
                    KORE_SYSCALL_ALLOW(readlink), KORE_SYSCALL_ALLOW(access), )

int bench_init(int);
int page_plaintext(struct http_request *);
int page_json(struct http_request *);
int page_db(struct http_request *);

static int db_init(struct http_request *);
static int db_query(struct http_request *);
static int db_wait(struct http_request *);
static int db_read(struct http_request *);
static int db_error(struct http_request *);
static int db_done(struct http_request *);

static struct http_state db_states[] = {
    KORE_HTTP_STATE(db_init), KORE_HTTP_STATE(db_query),
    KORE_HTTP_STATE(db_wait), KORE_HTTP_STATE(db_read),
    KORE_HTTP_STATE(db_error), KORE_HTTP_STATE(db_done),
};

enum { S_INIT, S_QUERY, S_WAIT, S_READ, S_ERROR, S_DONE };

struct db_req {
    struct kore_pgsql sql;
    char body[64];
    int len;
};

int bench_init(int state)
{
    const char *conn = getenv("BENCH_KORE_PG");

    if (state == KORE_MODULE_LOAD && conn && *conn)
        kore_pgsql_register("db", conn);
    return KORE_RESULT_OK;
}

int page_plaintext(struct http_request *req)
{
    static const char hello[] = "Hello, World!";

    http_response_header(req, "content-type", "text/plain");
    http_response(req, 200, hello, sizeof(hello) - 1);
    return KORE_RESULT_OK;
}

int page_json(struct http_request *req)
{
    char body[64];
    int n = snprintf(body, sizeof(body), "{\"message\":\"%s\"}", "Hello, World!");

    http_response_header(req, "content-type", "application/json");
    http_response(req, 200, body, (size_t)n);
    return KORE_RESULT_OK;
}

int page_db(struct http_request *req)
{
    return http_state_run(db_states, sizeof(db_states) / sizeof(db_states[0]),
                          req);
}

static int db_init(struct http_request *req)
{
    struct db_req *st = http_state_get(req);

    if (!st) {
        st = http_state_create(req, sizeof(*st), NULL);
        kore_pgsql_init(&st->sql);
        kore_pgsql_bind_request(&st->sql, req);
    }
    if (!kore_pgsql_setup(&st->sql, "db", KORE_PGSQL_ASYNC)) {
        if (st->sql.state == KORE_PGSQL_STATE_INIT) { /* no connection free */
            req->fsm_state = S_INIT;
            return HTTP_STATE_RETRY;
        }
        req->fsm_state = S_ERROR;
    } else {
        req->fsm_state = S_QUERY;
    }
    return HTTP_STATE_CONTINUE;
}

static int db_query(struct http_request *req)
{
    struct db_req *st = http_state_get(req);
    char id[16];

    snprintf(id, sizeof(id), "%d", 1 + rand() % 10000);
    req->fsm_state = S_WAIT;
    if (!kore_pgsql_query_params(&st->sql,
                                 "SELECT id, randomnumber FROM world WHERE "
                                 "id = $1",
                                 0, 1, KORE_PGSQL_PARAM_TEXT(id)))
        req->fsm_state = S_ERROR;
    return HTTP_STATE_CONTINUE;
}

static int db_wait(struct http_request *req)
{
    struct db_req *st = http_state_get(req);

    switch (st->sql.state) {
    case KORE_PGSQL_STATE_WAIT:
        return HTTP_STATE_RETRY;
    case KORE_PGSQL_STATE_COMPLETE:
        req->fsm_state = S_DONE;
        break;
    case KORE_PGSQL_STATE_ERROR:
        req->fsm_state = S_ERROR;
        break;
    case KORE_PGSQL_STATE_RESULT:
        req->fsm_state = S_READ;
        break;
    default:
        kore_pgsql_continue(&st->sql);
        break;
    }
    return HTTP_STATE_CONTINUE;
}

static int db_read(struct http_request *req)
{
    struct db_req *st = http_state_get(req);

    if (kore_pgsql_ntuples(&st->sql) == 1)
        st->len = snprintf(st->body, sizeof(st->body),
                           "{\"id\":%s,\"randomNumber\":%s}",
                           kore_pgsql_getvalue(&st->sql, 0, 0),
                           kore_pgsql_getvalue(&st->sql, 0, 1));
    kore_pgsql_continue(&st->sql);
    req->fsm_state = S_WAIT;
    return HTTP_STATE_CONTINUE;
}

static int db_error(struct http_request *req)
{
    struct db_req *st = http_state_get(req);

    kore_pgsql_logerror(&st->sql);
    kore_pgsql_cleanup(&st->sql);
    http_state_cleanup(req);
    http_response(req, 500, NULL, 0);
    return HTTP_STATE_COMPLETE;
}

static int db_done(struct http_request *req)
{
    struct db_req *st = http_state_get(req);

    http_response_header(req, "content-type", "application/json");
    http_response(req, st->len > 0 ? 200 : 404, st->body, (size_t)st->len);
    kore_pgsql_cleanup(&st->sql);
    http_state_cleanup(req);
    return HTTP_STATE_COMPLETE;
}
