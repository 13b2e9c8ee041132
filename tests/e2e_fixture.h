/* tests/e2e_fixture.h -- what the end-to-end test files share: the
 * backends, the showcase server as a child process, and talking to it
 * over loopback (see test_e2e.c for the whole story). */
#ifndef GT_TESTS_E2E_FIXTURE_H
#define GT_TESTS_E2E_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "httpc.h"
#include "util.h"

#define REQ_TIMEOUT_MS 30000   /* one request, however loaded the machine */
#define START_TIMEOUT_MS 30000 /* until the port accepts */
#define STOP_TIMEOUT_MS 30000  /* SIGTERM to exit (drain is 10 s) */
#define CMD_TIMEOUT_MS 240000  /* db.sh restart, seed_db.sh */
#define SETTLE_MS 20000        /* pool statistics back to idle */
#define WORLD_ROWS 10000
#define NBACKENDS 3

typedef struct backend {
    const char *name;        /* as add_e2e_tests() is given it */
    const char *tcase;       /* its test case (Check keeps the pointer) */
    const char *env;         /* the variable holding its URL; NULL: SQLite */
    const char *server;      /* db.sh's name for it */
    const char *max_env;     /* db.sh's max_connections variable */
    const char *all_worlds;  /* id, randomNumber of every World row */
    const char *max_conn;    /* the server's max_connections */
    const char *sessions;    /* our sessions, by application name; NULL:
                              * the server cannot tell them from others' */
    const char *other_names; /* SEED_TABLE_NAMES for the other spelling */
    const char *drop_all;    /* drops every spelling of the tables */
} backend;

extern const backend e2e_backends[NBACKENDS];

/* The server of the running test; one per test process. */
struct showcase {
    pid_t pid; /* 0 when not running */
    int port;
    char log[128]; /* its stdout and stderr */
    char dir[64];  /* its working directory (SQLite), else "" */
};
extern struct showcase e2e_sc;
extern pid_t runner_pid; /* names the marker files; set in the runner */
extern const char
    *seed_names;       /* SEED_TABLE_NAMES for e2e_seed(); NULL: default */
extern httpc e2e_conn; /* the tests' keep-alive connection */

typedef struct pool_metrics {
    double open, in_use, waiters, max_open_ever;
} pool_metrics;

const backend *backend_named(const char *name);
const char *backend_url(const backend *b);
/* The end of the server's log, headed by its path and, if it died, how,
 * for failure messages (Check truncates those at 8 KiB). */
const char *log_tail(void);
/* The whole log, malloc'd and NUL-terminated. */
char *log_read(void);
const char *showcase_path(char *out);
/* fork+exec argv with 'env' applied on top of ours ("K=V" sets, "K"
 * unsets), in 'cwd' (NULL: ours), stdout and stderr appended to 'log'.
 * Called only while this process has one thread. Returns the pid or -1. */
pid_t e2e_spawn(char *const argv[], char *const env[], const char *cwd,
                const char *log);
/* Wait up to 'ms' for 'pid' to exit. Returns 1 with *status, or 0. */
int e2e_wait_exit(pid_t pid, int ms, int *status);
void e2e_seed(const char *url);
/* Name the log of this test and empty it, unless that was done. */
void e2e_open_log(const backend *b);
/* Start the showcase for backend 'b' with pool options 'opts' in the URL
 * (PostgreSQL and MariaDB; SQLite uses the default URL). Reseeds first. */
void start_showcase(const backend *b, const char *opts);
/* SIGTERM, then insist on a graceful exit 0. The log is kept. */
void stop_showcase(void);
/* After a passing test: remove the log and the SQLite directory. */
void remove_files(void);
void e2e_request(const char *method, const char *target, httpc_res *res);
/* 'what' is the request ("GET /db"), for the messages. */
void e2e_expect(const httpc_res *res, const char *what, int status,
                const char *type);
/* GET 'target' and check status 200 and the Content-Type. */
void e2e_get_ok(const char *target, const char *type, httpc_res *res);
json_t *e2e_get_json(const char *target);
/* One World object: exactly {"id":1..10000,"randomNumber":1..10000}. */
void e2e_check_world(const json_t *o, const char *target, int *id, int *rn);
/* A JSON array of 'n' World objects; returned for more checks. */
json_t *e2e_get_worlds(const char *target, size_t n);
/* The "user:password@" of 'url', or "" when it has no password. */
const char *e2e_userinfo(const char *url, char *out, size_t cap);
void get_pool_metrics(pool_metrics *m);
/* Poll /metrics until in_use and waiters are as given. Returns 1 then, or
 * 0 after 'ms' with the last figures in *m. */
int wait_pool(double in_use, double waiters, int ms, pool_metrics *m);
void assert_pool_idle(const char *when);
int e2e_run_client(gt_co_fn fn, void *arg);
void marker_path(const backend *b, char *out, size_t n);
/* `scripts/db.sh restart <server>`, with max_connections 'max' (NULL:
 * whatever our environment says, normally the default). Returns the wait
 * status. No assertions: the teardowns call it too. */
int restart_server(const backend *b, const char *max, const char *log);
/* Put back the default max_connections of every server a test lowered
 * and did not restore (it failed or timed out). */
void restore_servers(void);
/* After each test; under CK_FORK=no also after a failed one. */
void e2e_teardown(void);

/* test_e2e.c's, used by the fault tests too: /db answers; every
 * endpoint checked (a coroutine body for e2e_run_client()); a connection
 * of our own to backend b's database; whether GT_TEST_VERBOSE is set. */
void check_db(void);
int t_endpoints(void *arg);
gt_db *open_db(const backend *b);
int verbose(void);

/* The fault tests (test_e2e_faults.c) of backend 'b', index i, into tc. */
void add_e2e_fault_tests(TCase *tc, const backend *b, int i);

#endif
