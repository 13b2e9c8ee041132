/* tests/test_e2e.c -- the showcase server end to end, on SQLite,
 * PostgreSQL and MariaDB.
 *
 * Each test runs the real binary (build/examples/showcase, or $GT_SHOWCASE)
 * as a child process on a free port with two workers, talks to it over
 * loopback with the coroutine client of httpc.c, and stops it with SIGTERM,
 * asserting a graceful exit 0. Its stdout and stderr go to a log file in
 * /tmp whose tail is quoted in every failure message (and which is kept
 * when a test fails). PostgreSQL and MariaDB are the servers of
 * scripts/db.sh, reseeded by scripts/seed_db.sh before each test; SQLite
 * gets a fresh working directory, so the showcase creates and seeds its
 * default database file there. A missing GT_TEST_*_URL fails the test.
 *
 * The tests, per backend: every endpoint's status, Content-Type and body
 * rules (TechEmpower's clamping, the fortunes page against a reference
 * copy of the 12 fortunes); /updates read back from the database; three
 * seconds of mixed load over 64 keep-alive connections with no error and
 * no non-2xx; an unreachable database ending in exit code 2. SQLite also
 * runs --help and bad settings. PostgreSQL and MariaDB run the seed's
 * scenario: 5,000 requests at concurrency 200 with max_connections
 * lowered to 20 and the pool capped at 10. PostgreSQL runs clients hanging
 * up mid-request, made deterministic by a table lock: their queries stay
 * blocked, so the pool can only empty if the server cancels them. Both
 * also serve every endpoint from the other spelling of TechEmpower's
 * table names (quoted "World" on PostgreSQL, lower-case world on MariaDB,
 * as today's TechEmpower script makes them), and refuse to start, naming
 * the table, when there is none.
 *
 * Cleanup when a test fails: Check ends a failed test's process with
 * _exit() and then kills its process group, which the showcase belongs to,
 * so no server outlives its test. Lowering the database's max_connections
 * (the seed scenario) leaves a marker file; the unchecked teardown, which
 * runs in the runner process after the test case whatever happened,
 * restores the default when it finds one (and the checked teardown does
 * the same under CK_FORK=no, where it runs after a failure too).
 *
 * No timing thresholds: every wait is bounded generously, only to turn a
 * hang into a failure with a message. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "httpc.h"
#include "util.h"

void add_e2e_tests(Suite *s, const char *backend);

#define REQ_TIMEOUT_MS 30000   /* one request, however loaded the machine */
#define START_TIMEOUT_MS 30000 /* until the port accepts */
#define STOP_TIMEOUT_MS 30000  /* SIGTERM to exit (drain is 10 s) */
#define CMD_TIMEOUT_MS 240000  /* db.sh restart, seed_db.sh */
#define SETTLE_MS 20000        /* pool statistics back to idle */
#define WORLD_ROWS 10000

/* ---- backends ------------------------------------------------------------ */

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

static const backend backends[] = {
    {"sqlite", "e2e_sqlite", NULL, NULL, NULL,
     "SELECT id, randomNumber FROM World", NULL, NULL, NULL, NULL},
    {"postgres", "e2e_postgres", "GT_TEST_PG_URL", "pg", "GT_PG_MAX_CONN",
     "SELECT id, randomnumber FROM world",
     "SELECT current_setting('max_connections')::int",
     "SELECT count(*) FROM pg_stat_activity WHERE application_name = ?",
     "camel", "DROP TABLE IF EXISTS world, fortune, \"World\", \"Fortune\""},
    {"mysql", "e2e_mysql", "GT_TEST_MYSQL_URL", "mysql", "GT_MYSQL_MAX_CONN",
     "SELECT id, randomNumber FROM World", "SELECT @@max_connections", NULL,
     "lower", "DROP TABLE IF EXISTS World, Fortune, world, fortune"},
};

static const backend *backend_named(const char *name)
{
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i].name, name) == 0)
            return &backends[i];
    return NULL;
}

static const char *backend_url(const backend *b)
{
    const char *u = getenv(b->env);

    ck_assert_msg(u && *u,
                  "%s is not set: run `eval \"$(bash scripts/db.sh "
                  "start)\"` first",
                  b->env);
    return u;
}

/* ---- the showcase process ------------------------------------------------ */

/* The server of the running test; one per test process. */
static struct showcase {
    pid_t pid; /* 0 when not running */
    int port;
    char log[128]; /* its stdout and stderr */
    char dir[64];  /* its working directory (SQLite), else "" */
} sc;

static pid_t runner_pid;       /* names the marker files; set in the runner */
static const char *seed_names; /* SEED_TABLE_NAMES for seed(); NULL: default */

/* Whether the server still runs, or how it ended (then it is reaped). */
static const char *server_state(void)
{
    static char state[96];
    int status;

    if (sc.pid <= 0 || waitpid(sc.pid, &status, WNOHANG) != sc.pid)
        return state; /* "" until it has died */
    if (WIFSIGNALED(status))
        snprintf(state, sizeof(state),
                 "--- the showcase died: signal %d "
                 "(%s)\n",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(state, sizeof(state), "--- the showcase exited with %d\n",
                 WEXITSTATUS(status));
    sc.pid = 0;
    return state;
}

/* The end of the server's log, headed by its path and, if it died, how,
 * for failure messages (Check truncates those at 8 KiB). */
static const char *log_tail(void)
{
    static char tail[3072];
    int fd = open(sc.log, O_RDONLY | O_CLOEXEC);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
    int h = snprintf(tail, sizeof(tail), "%s--- %s%s:\n", server_state(),
                     sc.log, size > 2048 ? ", last 2 KiB" : "");
    ssize_t n =
        fd >= 0 ? pread(fd, tail + h, 2048, size > 2048 ? size - 2048 : 0) : -1;

    if (fd >= 0)
        close(fd);
    if (n < 0)
        return "(no log)";
    tail[h + n] = '\0';
    for (ssize_t i = h; i < h + n; i++)
        if (tail[i] == '\0')
            tail[i] = '?';
    return tail;
}

/* The whole log, malloc'd and NUL-terminated. */
static char *log_read(void)
{
    FILE *f = fopen(sc.log, "re");
    char *buf = calloc(1, 8 << 20);
    size_t n = f && buf ? fread(buf, 1, (8 << 20) - 1, f) : 0;

    ck_assert_msg(f && buf, "cannot read %s", sc.log);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A path under the repository, which the tests run from. */
static const char *repo_path(const char *rel, char *out)
{
    ck_assert_msg(realpath(rel, out) && access(out, R_OK) == 0,
                  "%s not found: run the tests from the repository root", rel);
    return out;
}

static const char *showcase_path(char *out)
{
    const char *bin = getenv("GT_SHOWCASE");

    bin = bin ? bin : "build/examples/showcase";
    ck_assert_msg(realpath(bin, out) && access(out, X_OK) == 0,
                  "no showcase binary at %s: run `make "
                  "build/examples/showcase` (from the repository root) or "
                  "set GT_SHOWCASE",
                  bin);
    return out;
}

/* fork+exec argv with 'env' applied on top of ours ("K=V" sets, "K"
 * unsets), in 'cwd' (NULL: ours), stdout and stderr appended to 'log'.
 * Called only while this process has one thread. Returns the pid or -1. */
static pid_t spawn(char *const argv[], char *const env[], const char *cwd,
                   const char *log)
{
    pid_t pid = fork();
    int in, out;

    if (pid != 0)
        return pid; /* or -1 */
    in = open("/dev/null", O_RDONLY);
    out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || (cwd && chdir(cwd) != 0))
        _exit(126);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    for (; env && *env; env++)
        if (strchr(*env, '='))
            putenv(*env);
        else
            unsetenv(*env);
    execvp(argv[0], argv);
    dprintf(STDERR_FILENO, "e2e: cannot run %s: %s\n", argv[0],
            strerror(errno));
    _exit(127);
}

/* Wait up to 'ms' for 'pid' to exit. Returns 1 with *status, or 0. */
static int wait_exit(pid_t pid, int ms, int *status)
{
    for (int waited = 0;; waited += 20) {
        pid_t r = waitpid(pid, status, WNOHANG);

        if (r == pid || (r < 0 && errno != EINTR))
            return r == pid;
        if (waited >= ms)
            return 0;
        usleep(20000);
    }
}

/* Run a command to completion; its output goes to 'log'. Returns its wait
 * status, or -1 if it ran over CMD_TIMEOUT_MS (then it is killed). */
static int run_cmd(char *const argv[], char *const env[], const char *log)
{
    pid_t pid = spawn(argv, env, NULL, log);
    int status;

    if (pid < 0)
        return -1;
    if (wait_exit(pid, CMD_TIMEOUT_MS, &status))
        return status;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static void seed(const char *url)
{
    char script[PATH_MAX], u[512], names[64];
    char *argv[] = {"bash", script, u, NULL};
    char *env[] = {names, NULL};
    int st;

    repo_path("scripts/seed_db.sh", script);
    snprintf(u, sizeof(u), "%s", url);
    if (seed_names)
        snprintf(names, sizeof(names), "SEED_TABLE_NAMES=%s", seed_names);
    else
        snprintf(names, sizeof(names), "SEED_TABLE_NAMES");
    st = run_cmd(argv, env, sc.log);
    ck_assert_msg(st == 0, "scripts/seed_db.sh failed (status %d):\n%s", st,
                  log_tail());
}

static int port_accepts(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static void wait_ready(void)
{
    int status;

    for (int waited = 0; !port_accepts(sc.port); waited += 50) {
        if (waitpid(sc.pid, &status, WNOHANG) == sc.pid) {
            sc.pid = 0;
            ck_abort_msg("the showcase exited at start (status 0x%x):\n%s",
                         status, log_tail());
        }
        if (waited >= START_TIMEOUT_MS) {
            kill(sc.pid, SIGKILL);
            waitpid(sc.pid, &status, 0);
            sc.pid = 0;
            ck_abort_msg("the showcase did not accept on port %d within "
                         "%d ms:\n%s",
                         sc.port, START_TIMEOUT_MS, log_tail());
        }
        usleep(50000);
    }
}

/* Name the log of this test and empty it, unless that was done. */
static void open_log(const backend *b)
{
    if (sc.log[0])
        return;
    snprintf(sc.log, sizeof(sc.log), "/tmp/greentor-e2e-%s-%d.log", b->name,
             (int)getpid());
    close(open(sc.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
}

/* Start the showcase for backend 'b' with pool options 'opts' in the URL
 * (PostgreSQL and MariaDB; SQLite uses the default URL). Reseeds first. */
static void start_showcase(const backend *b, const char *opts)
{
    char bin[PATH_MAX], port[32], url[600];
    char *argv[] = {bin, NULL};
    char *env[] = {port, "WORKERS=2", url, NULL};
    const char *cwd = NULL, *u = b->env ? backend_url(b) : NULL;

    showcase_path(bin);
    sc.port = test_free_port();
    snprintf(port, sizeof(port), "PORT=%d", sc.port);
    open_log(b);
    if (u) {
        seed(u);
        snprintf(url, sizeof(url), "DATABASE_URL=%s%s%s", u,
                 strchr(u, '?') ? "&" : "?", opts);
    } else {
        snprintf(sc.dir, sizeof(sc.dir), "/tmp/greentor-e2e-XXXXXX");
        ck_assert_msg(mkdtemp(sc.dir), "mkdtemp: %s", strerror(errno));
        snprintf(url, sizeof(url), "DATABASE_URL"); /* unset: the default */
        cwd = sc.dir;
    }
    sc.pid = spawn(argv, env, cwd, sc.log);
    ck_assert_msg(sc.pid > 0, "fork: %s", strerror(errno));
    wait_ready();
}

/* SIGTERM, then insist on a graceful exit 0. The log is kept. */
static void stop_showcase(void)
{
    pid_t pid = sc.pid;
    int status;

    ck_assert_msg(pid > 0, "the showcase is not running");
    kill(pid, SIGTERM);
    if (!wait_exit(pid, STOP_TIMEOUT_MS, &status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        sc.pid = 0;
        ck_abort_msg("the showcase did not exit within %d ms of SIGTERM:\n%s",
                     STOP_TIMEOUT_MS, log_tail());
    }
    sc.pid = 0;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the showcase did not exit 0 after SIGTERM (%s %d):\n%s",
                  WIFEXITED(status) ? "exit" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                  log_tail());
}

/* After a passing test: remove the log and the SQLite directory. */
static void remove_files(void)
{
    static const char *const names[] = {
        "greentor-showcase.db", "greentor-showcase.db-wal",
        "greentor-showcase.db-shm", "greentor-showcase.db-journal"};
    char path[160];

    unlink(sc.log);
    sc.log[0] = '\0';
    if (!sc.dir[0])
        return;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", sc.dir, names[i]);
        unlink(path);
    }
    rmdir(sc.dir);
    sc.dir[0] = '\0';
}

/* ---- talking to it (in a coroutine) -------------------------------------- */

static httpc conn; /* the tests' keep-alive connection */

static void request(const char *method, const char *target, httpc_res *res)
{
    int rc =
        httpc_do(&conn, method, target, res, gt_deadline_in(REQ_TIMEOUT_MS));

    ck_assert_msg(rc == 0, "%s %s: %s\n%s", method, target, conn.err,
                  log_tail());
}

/* The media type matches 'want'; parameters too when 'want' has some. */
static int type_is(const char *got, const char *want)
{
    size_t n = strchr(want, ';') ? strlen(want) : strcspn(got, ";");

    while (n > 0 && got[n - 1] == ' ')
        n--;
    return strlen(want) == n && strncasecmp(got, want, n) == 0;
}

/* 'what' is the request ("GET /db"), for the messages. */
static void expect(const httpc_res *res, const char *what, int status,
                   const char *type)
{
    char ct[256];

    ck_assert_msg(res->status == status,
                  "%s: status %d, expected %d; body: %.300s", what, res->status,
                  status, res->body);
    if (!type)
        return;
    httpc_header(res, "Content-Type", ct, sizeof(ct));
    ck_assert_msg(type_is(ct, type), "%s: Content-Type '%s', expected '%s'",
                  what, ct, type);
}

/* GET 'target' and check status 200 and the Content-Type. */
static void get_ok(const char *target, const char *type, httpc_res *res)
{
    char what[160];

    snprintf(what, sizeof(what), "GET %s", target);
    request("GET", target, res);
    expect(res, what, 200, type);
}

static json_t *get_json(const char *target)
{
    httpc_res res;
    json_error_t e;
    json_t *j;

    get_ok(target, "application/json", &res);
    j = json_loadb(res.body, res.body_len, 0, &e);
    ck_assert_msg(j, "GET %s: not JSON (%s): %.300s", target, e.text, res.body);
    httpc_res_free(&res);
    return j;
}

/* One World object: exactly {"id":1..10000,"randomNumber":1..10000}. */
static void check_world(const json_t *o, const char *target, int *id, int *rn)
{
    const json_t *i = json_object_get(o, "id");
    const json_t *r = json_object_get(o, "randomNumber");

    ck_assert_msg(json_is_object(o) && json_object_size(o) == 2 &&
                      json_is_integer(i) && json_is_integer(r),
                  "GET %s: not a World object", target);
    *id = (int)json_integer_value(i);
    *rn = (int)json_integer_value(r);
    ck_assert_msg(
        *id >= 1 && *id <= WORLD_ROWS && *rn >= 1 && *rn <= WORLD_ROWS,
        "GET %s: World out of range: id %d, randomNumber %d", target, *id, *rn);
}

/* A JSON array of 'n' World objects; returned for more checks. */
static json_t *get_worlds(const char *target, size_t n)
{
    json_t *a = get_json(target);
    int id, rn;

    ck_assert_msg(json_is_array(a), "GET %s: not an array", target);
    ck_assert_msg(json_array_size(a) == n, "GET %s: %zu rows, expected %zu",
                  target, json_array_size(a), n);
    for (size_t i = 0; i < n; i++)
        check_world(json_array_get(a, i), target, &id, &rn);
    return a;
}

/* The value of metric 'name' (exactly that name, any labels). */
static int metric(const char *text, const char *name, double *out)
{
    size_t n = strlen(name);
    const char *p = text;

    while (p && *p) {
        if (strncmp(p, name, n) == 0 && (p[n] == '{' || p[n] == ' ')) {
            const char *v = p + strcspn(p, "\n");

            while (v > p && v[-1] != ' ') /* the value is the last field */
                v--;
            *out = strtod(v, NULL);
            return 1;
        }
        if ((p = strchr(p, '\n')))
            p++;
    }
    return 0;
}

/* The "user:password@" of 'url', or "" when it has no password. */
static const char *userinfo(const char *url, char *out, size_t cap)
{
    const char *auth = strstr(url, "://"), *at = NULL;

    out[0] = '\0';
    if (!auth)
        return out;
    auth += 3;
    for (const char *s = auth; *s && *s != '?'; s++)
        if (*s == '@')
            at = s;
    if (at && memchr(auth, ':', (size_t)(at - auth)))
        snprintf(out, cap, "%.*s", (int)(at + 1 - auth), auth);
    return out;
}

typedef struct pool_metrics {
    double open, in_use, waiters, max_open_ever;
} pool_metrics;

static void get_pool_metrics(pool_metrics *m)
{
    httpc_res res;

    get_ok("/metrics", "text/plain", &res);
    ck_assert_msg(
        metric(res.body, "greentor_pool_open", &m->open) &&
            metric(res.body, "greentor_pool_in_use", &m->in_use) &&
            metric(res.body, "greentor_pool_waiters", &m->waiters) &&
            metric(res.body, "greentor_pool_max_open_ever", &m->max_open_ever),
        "/metrics lacks the greentor_pool_* gauges:\n%.1500s", res.body);
    ck_assert_ptr_nonnull(strstr(res.body, "greentor_db_interrupted_total{"
                                           "connection=\"kept\"}"));
    httpc_res_free(&res);
}

/* Poll /metrics until in_use and waiters are as given. Returns 1 then, or
 * 0 after 'ms' with the last figures in *m. */
static int wait_pool(double in_use, double waiters, int ms, pool_metrics *m)
{
    int64_t until = gt_now() + ms;

    for (;;) {
        get_pool_metrics(m);
        if (m->in_use == in_use && m->waiters == waiters)
            return 1;
        if (gt_now() >= until)
            return 0;
        gt_sleep(100);
    }
}

static void assert_pool_idle(const char *when)
{
    pool_metrics m;

    ck_assert_msg(wait_pool(0, 0, SETTLE_MS, &m),
                  "%s: the pool did not return to idle within %d ms "
                  "(in_use %g, waiters %g, open %g)\n%s",
                  when, SETTLE_MS, m.in_use, m.waiters, m.open, log_tail());
}

static int run_client(gt_co_fn fn, void *arg)
{
    gt_rt_config cfg = {.workers = 1, .stack_size = 256 * 1024};

    httpc_init(&conn, sc.port);
    return run_main_cfg(&cfg, fn, arg);
}

/* ---- the endpoints ------------------------------------------------------- */

static void check_hello(void)
{
    static const char json[] = "{\"message\":\"Hello, World!\"}";
    const char *targets[] = {"/plaintext", "/json"};
    const char *types[] = {"text/plain", "application/json"};
    const char *bodies[] = {"Hello, World!", json};
    char v[128];
    httpc_res res;

    for (int i = 0; i < 2; i++) {
        get_ok(targets[i], types[i], &res);
        ck_assert_msg(strcmp(res.body, bodies[i]) == 0 &&
                          res.body_len == strlen(bodies[i]),
                      "GET %s: body '%s', expected '%s'", targets[i], res.body,
                      bodies[i]);
        ck_assert_msg(httpc_header(&res, "Server", v, sizeof(v)) &&
                          httpc_header(&res, "Date", v, sizeof(v)),
                      "GET %s: no Server or Date header", targets[i]);
        httpc_res_free(&res);
    }
}

static void check_index(void)
{
    static const char *const links[] = {
        "/plaintext", "/json",           "/db",     "/queries", "/fortunes",
        "/updates",   "/cached-queries", "/metrics"};
    char href[64];
    httpc_res res;

    get_ok("/", "text/html", &res);
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        snprintf(href, sizeof(href), "href=\"%s", links[i]);
        ck_assert_msg(strstr(res.body, href), "GET /: no link to %s:\n%.2000s",
                      links[i], res.body);
    }
    httpc_res_free(&res);
}

static void check_db(void)
{
    json_t *o = get_json("/db");
    int id, rn;

    check_world(o, "/db", &id, &rn);
    json_decref(o);
}

/* TechEmpower's clamping: missing, empty, 0, negative or not a number -> 1;
 * above 500 -> 500. */
static void check_counts(const char *path, const char *param)
{
    static const struct {
        const char *value; /* NULL: parameter missing */
        size_t rows;
    } cases[] = {{"0", 1}, {"foo", 1}, {"501", 500}, {"20", 20}, {NULL, 1},
                 {"", 1},  {"-3", 1},  {"500", 500}, {"1", 1}};
    char target[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].value)
            snprintf(target, sizeof(target), "%s?%s=%s", path, param,
                     cases[i].value);
        else
            snprintf(target, sizeof(target), "%s", path);
        json_decref(get_worlds(target, cases[i].rows));
    }
}

static void check_errors(void)
{
    char allow[128];
    httpc_res res;

    request("GET", "/no/such/path", &res);
    expect(&res, "GET /no/such/path", 404, NULL);
    httpc_res_free(&res);
    request("POST", "/db", &res);
    expect(&res, "POST /db", 405, NULL);
    ck_assert_msg(httpc_header(&res, "Allow", allow, sizeof(allow)) &&
                      strstr(allow, "GET"),
                  "POST /db: 405 without 'Allow: GET' ('%s')", allow);
    httpc_res_free(&res);
}

static void check_metrics(void)
{
    static const char *const envs[] = {"GT_TEST_PG_URL", "GT_TEST_MYSQL_URL"};
    pool_metrics m;
    httpc_res res;
    char ui[256];

    get_ok("/metrics", "text/plain", &res);
    for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        const char *u = getenv(envs[i]);

        ck_assert_msg(!u || !userinfo(u, ui, sizeof(ui))[0] ||
                          !strstr(res.body, ui),
                      "/metrics shows a database password (%s)", ui);
    }
    httpc_res_free(&res);
    get_pool_metrics(&m);
    ck_assert_msg(m.open >= 0 && m.in_use >= 0 && m.max_open_ever >= 1,
                  "/metrics: implausible pool figures (open %g, in use %g, "
                  "max ever %g)",
                  m.open, m.in_use, m.max_open_ever);
}

/* ---- /fortunes ----------------------------------------------------------- */

/* The reference model: the 12 TechEmpower fortunes by id, and the one the
 * server adds (id 0). */
static const char *const fortunes[13] = {
    "Additional fortune added at request time.",
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it "
    "to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \xe2\x80\x94 Tom "
    "Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \xe2\x80\x94 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    "<script>alert(\"This should not be displayed in a browser alert "
    "box.\");</script>",
    "フレームワークのベンチマーク",
};

/* Undo HTML escaping of a text node; -1 on a raw '<' or '>' or an
 * unknown entity. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&lt;", '<'},   {"&gt;", '>'},    {"&amp;", '&'},
                {"&quot;", '"'}, {"&#34;", '"'},   {"&#x22;", '"'},
                {"&#39;", '\''}, {"&#x27;", '\''}, {"&apos;", '\''}};
    size_t o = 0, i = 0, k;

    while (i < n) {
        char c = s[i];
        size_t adv = 1;

        if (c == '<' || c == '>')
            return -1;
        for (k = 0; c == '&' && k < sizeof(ents) / sizeof(ents[0]); k++)
            if (n - i >= strlen(ents[k].ent) &&
                memcmp(s + i, ents[k].ent, strlen(ents[k].ent)) == 0)
                break;
        if (c == '&' && k == sizeof(ents) / sizeof(ents[0]))
            return -1;
        if (c == '&')
            c = ents[k].c, adv = strlen(ents[k].ent);
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
        i += adv;
    }
    out[o] = '\0';
    return 0;
}

static const char *skip(const char *p, const char *lit, const char *what)
{
    ck_assert_msg(strncmp(p, lit, strlen(lit)) == 0,
                  "/fortunes: expected %s '%s' at: %.120s", what, lit, p);
    return p + strlen(lit);
}

/* One "<tr><td>id</td><td>message</td></tr>"; returns what follows. */
static const char *fortune_row(const char *p, int *id, char *msg, size_t cap)
{
    const char *end;
    char *q;

    p = skip(p, "<tr><td>", "row start");
    *id = (int)strtol(p, &q, 10);
    ck_assert_msg(q > p && *id >= 0 && *id <= 12,
                  "/fortunes: bad id at: "
                  "%.80s",
                  p);
    p = skip(q, "</td><td>", "cell separator");
    end = strstr(p, "</td></tr>");
    ck_assert_msg(end, "/fortunes: unterminated row at: %.80s", p);
    ck_assert_msg(unescape(p, (size_t)(end - p), msg, cap) == 0,
                  "/fortunes: message not properly escaped: %.*s",
                  (int)(end - p), p);
    return end + strlen("</td></tr>");
}

static void check_fortune_rows(const char *p, const char *end)
{
    char msg[512], prev[512] = "";
    int seen[13] = {0}, rows = 0, id;

    while (p < end) {
        p = fortune_row(p, &id, msg, sizeof(msg));
        ck_assert_msg(!seen[id], "/fortunes: id %d twice", id);
        seen[id] = 1;
        ck_assert_msg(strcmp(msg, fortunes[id]) == 0,
                      "/fortunes: id %d is '%s', expected '%s'", id, msg,
                      fortunes[id]);
        ck_assert_msg(strcmp(prev, msg) <= 0,
                      "/fortunes: not sorted by "
                      "message: '%s' before '%s'",
                      prev, msg);
        snprintf(prev, sizeof(prev), "%s", msg);
        rows++;
    }
    ck_assert_msg(p == end, "/fortunes: rows overrun the table");
    ck_assert_msg(rows == 13, "/fortunes: %d rows, expected 13", rows);
}

static void check_fortunes(void)
{
    static const char head[] =
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
        "<table><tr><th>id</th><th>message</th></tr>";
    static const char tail[] = "</table></body></html>";
    const size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;
    httpc_res res;

    get_ok("/fortunes", "text/html; charset=utf-8", &res);
    ck_assert_msg(res.body_len > hl + tl && memcmp(res.body, head, hl) == 0 &&
                      memcmp(res.body + res.body_len - tl, tail, tl) == 0,
                  "/fortunes: not the standard page:\n%.3000s", res.body);
    check_fortune_rows(res.body + hl, res.body + res.body_len - tl);
    ck_assert_msg(strstr(res.body, "&lt;script&gt;") &&
                      !strstr(res.body, "<script"),
                  "/fortunes: the <script> fortune is not escaped");
    ck_assert_msg(strstr(res.body, fortunes[12]),
                  "/fortunes: the Japanese fortune is not intact");
    httpc_res_free(&res);
}

/* Issue 16: the start-up line printed the database password. The log
 * names the database with the password as "***", and nowhere has it. */
static void assert_no_password(const char *url)
{
    char ui[256];
    char *log = log_read();

    ck_assert_msg(userinfo(url, ui, sizeof(ui))[0], "%s has no password", url);
    ck_assert_msg(!strstr(log, ui), "the log shows the password (%s):\n%s", ui,
                  log_tail());
    ck_assert_msg(strstr(log, ":***@"),
                  "the start-up line does not name "
                  "the database as user:***@host:\n%s",
                  log_tail());
    free(log);
}

static int t_endpoints(void *arg)
{
    (void)arg;
    check_hello();
    check_index();
    check_db();
    check_counts("/queries", "queries");
    check_counts("/cached-queries", "count");
    check_counts("/updates", "queries");
    check_fortunes();
    check_errors();
    check_metrics();
    assert_pool_idle("after the endpoint checks");
    httpc_close(&conn, 0);
    return 0;
}

START_TEST(e2e_endpoints)
{
    const backend *b = &backends[_i];
    char db[128];

    start_showcase(b, "max_open=8");
    if (sc.dir[0]) {
        snprintf(db, sizeof(db), "%s/greentor-showcase.db", sc.dir);
        ck_assert_msg(access(db, F_OK) == 0,
                      "no %s: the default SQLite "
                      "database was not created in the working directory",
                      db);
    }
    ck_assert_int_eq(run_client(t_endpoints, NULL), 0);
    stop_showcase();
    if (b->env)
        assert_no_password(backend_url(b));
    remove_files();
}
END_TEST

/* ---- /updates persists --------------------------------------------------- */

static int worlds_before[WORLD_ROWS + 1], worlds_after[WORLD_ROWS + 1];

static gt_db *open_db(const backend *b)
{
    char url[600];
    gt_db *db = NULL;
    int rc;

    if (b->env)
        snprintf(url, sizeof(url), "%s", backend_url(b));
    else
        snprintf(url, sizeof(url), "sqlite://%s/greentor-showcase.db", sc.dir);
    rc = gt_db_open(&db, url, gt_deadline_in(REQ_TIMEOUT_MS));
    ck_assert_msg(rc == 0, "gt_db_open(%s): %s: %s", url, gt_strerror(rc),
                  db ? gt_db_errmsg(db) : "");
    return db;
}

static void read_worlds(gt_db *db, const backend *b, int *out)
{
    gt_rows *r = NULL;
    int n = gt_db_query(db, &r, b->all_worlds, NULL, 0, GT_NEVER);

    ck_assert_msg(n == WORLD_ROWS, "%s: %d rows (%s)", b->all_worlds, n,
                  n < 0 ? gt_db_errmsg(db) : "");
    memset(out, 0, sizeof(int) * (WORLD_ROWS + 1));
    for (int i = 0; i < n; i++) {
        int64_t id = gt_rows_int(r, i, 0);

        ck_assert(id >= 1 && id <= WORLD_ROWS);
        out[id] = (int)gt_rows_int(r, i, 1);
    }
    gt_rows_free(r);
}

/* Is 'rn' one of the numbers the response gave id 'id'? (The rules allow
 * an id twice in one request; then either write may be the last.) */
static int returned(json_t *a, int id, int rn)
{
    int i2, r2;

    for (size_t j = 0; j < json_array_size(a); j++) {
        check_world(json_array_get(a, j), "/updates", &i2, &r2);
        if (i2 == id && r2 == rn)
            return 1;
    }
    return 0;
}

static void check_persisted(json_t *a)
{
    static char touched[WORLD_ROWS + 1];
    int id, rn, changed = 0;

    memset(touched, 0, sizeof(touched));
    for (size_t i = 0; i < json_array_size(a); i++) {
        check_world(json_array_get(a, i), "/updates", &id, &rn);
        touched[id] = 1;
        ck_assert_msg(returned(a, id, worlds_after[id]),
                      "/updates: id %d returned randomNumber %d but the "
                      "database holds %d (was %d)",
                      id, rn, worlds_after[id], worlds_before[id]);
        changed += worlds_after[id] != worlds_before[id];
    }
    ck_assert_msg(changed > 0, "/updates: no row changed in the database");
    for (id = 1; id <= WORLD_ROWS; id++)
        ck_assert_msg(touched[id] || worlds_after[id] == worlds_before[id],
                      "/updates: id %d changed but was not returned", id);
}

static int t_updates(void *arg)
{
    const backend *b = arg;
    gt_db *db = open_db(b);
    json_t *a;

    read_worlds(db, b, worlds_before);
    a = get_worlds("/updates?queries=20", 20);
    read_worlds(db, b, worlds_after);
    check_persisted(a);
    json_decref(a);
    gt_db_close(db);
    httpc_close(&conn, 0);
    return 0;
}

START_TEST(e2e_updates_persisted)
{
    const backend *b = &backends[_i];

    start_showcase(b, "max_open=8");
    ck_assert_int_eq(run_client(t_updates, (void *)b), 0);
    stop_showcase();
    remove_files();
}
END_TEST

/* ---- concurrent load ----------------------------------------------------- */

static int verbose(void)
{
    return getenv("GT_TEST_VERBOSE") != NULL;
}

static int t_load(void *arg)
{
    static const char *const mix[] = {"/plaintext",
                                      "/json",
                                      "/db",
                                      "/queries?queries=10",
                                      "/fortunes",
                                      "/updates?queries=5",
                                      "/cached-queries?count=10",
                                      "/"};
    httpc_load l = {.port = sc.port,
                    .conns = 64,
                    .targets = mix,
                    .ntargets = sizeof(mix) / sizeof(mix[0]),
                    .duration_ms = 3000,
                    .request_timeout_ms = REQ_TIMEOUT_MS};

    (void)arg;
    ck_assert_int_eq(httpc_load_run(&l), 0);
    if (verbose())
        fprintf(stderr, "e2e load: %ld requests, %ld errors, %ld non-2xx\n",
                l.requests, l.errors, l.non2xx);
    ck_assert_msg(l.requests > 0, "load: no request completed");
    ck_assert_msg(l.errors == 0 && l.non2xx == 0,
                  "load: %ld requests, %ld socket errors, %ld non-2xx; "
                  "first: %s\n%s",
                  l.requests, l.errors, l.non2xx, l.first_error, log_tail());
    assert_pool_idle("after the load");
    httpc_close(&conn, 0);
    return 0;
}

START_TEST(e2e_concurrent_load)
{
    start_showcase(&backends[_i], "max_open=8");
    ck_assert_int_eq(run_client(t_load, NULL), 0);
    stop_showcase();
    remove_files();
}
END_TEST

/* ---- the seed's scenario: a low max_connections -------------------------- */

static void marker_path(const backend *b, char *out, size_t n)
{
    snprintf(out, n, "/tmp/greentor-e2e-%d-%s.lowered", (int)runner_pid,
             b->server);
}

/* `scripts/db.sh restart <server>`, with max_connections 'max' (NULL:
 * whatever our environment says, normally the default). Returns the wait
 * status. No assertions: the teardowns call it too. */
static int restart_server(const backend *b, const char *max, const char *log)
{
    char script[PATH_MAX], setting[64];
    char *argv[] = {"bash", script, "restart", (char *)b->server, NULL};
    char *env[] = {setting, NULL};

    if (!realpath("scripts/db.sh", script))
        snprintf(script, sizeof(script), "scripts/db.sh");
    snprintf(setting, sizeof(setting), "%s=%s", b->max_env, max ? max : "");
    return run_cmd(argv, max ? env : NULL, log);
}

/* Put back the default max_connections of every server a test lowered
 * and did not restore (it failed or timed out). */
static void restore_servers(void)
{
    char marker[128];

    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        const backend *b = &backends[i];

        if (!b->server)
            continue;
        marker_path(b, marker, sizeof(marker));
        if (access(marker, F_OK) != 0)
            continue;
        if (restart_server(b, NULL, "/tmp/greentor-e2e-restore.log") == 0)
            unlink(marker);
        else
            fprintf(stderr,
                    "e2e: could not restore %s; see "
                    "/tmp/greentor-e2e-restore.log\n",
                    b->server);
    }
}

static void lower_max_connections(const backend *b)
{
    char marker[128];
    int st;

    marker_path(b, marker, sizeof(marker));
    close(open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    st = restart_server(b, "20", sc.log);
    ck_assert_msg(st == 0,
                  "db.sh restart %s with max_connections 20 "
                  "failed (status %d):\n%s",
                  b->server, st, log_tail());
}

static void restore_max_connections(const backend *b)
{
    char marker[128];
    int st = restart_server(b, NULL, sc.log);

    ck_assert_msg(st == 0,
                  "db.sh restart %s (restoring max_connections) "
                  "failed (status %d):\n%s",
                  b->server, st, log_tail());
    marker_path(b, marker, sizeof(marker));
    unlink(marker);
}

static void check_max_connections(const backend *b, int want)
{
    gt_db *db = open_db(b);
    gt_rows *r = NULL;
    int n = gt_db_query(db, &r, b->max_conn, NULL, 0, GT_NEVER);

    ck_assert_msg(n == 1, "%s: %s", b->max_conn, gt_db_errmsg(db));
    ck_assert_msg(gt_rows_int(r, 0, 0) == want,
                  "max_connections is %lld, "
                  "not %d",
                  (long long)gt_rows_int(r, 0, 0), want);
    gt_rows_free(r);
    gt_db_close(db);
}

/* Counts the showcase's sessions from the server's side while the load
 * runs, so that the cap is not only the pool's word. */
typedef struct sampler {
    const backend *b;
    char app[64]; /* the application name the showcase connects with */
    int stop;     /* set when the load is over */
    int64_t max;  /* most sessions seen at once */
} sampler;

static int sample_sessions(void *arg)
{
    sampler *s = arg;
    gt_db *db = open_db(s->b);
    gt_db_value app = gt_db_text(s->app);

    while (!s->stop) {
        gt_rows *r = NULL;
        int n = gt_db_query(db, &r, s->b->sessions, &app, 1, GT_NEVER);

        ck_assert_msg(n == 1, "%s: %s", s->b->sessions, gt_db_errmsg(db));
        if (gt_rows_int(r, 0, 0) > s->max)
            s->max = gt_rows_int(r, 0, 0);
        gt_rows_free(r);
        gt_sleep(20);
    }
    gt_db_close(db);
    return 0;
}

static int t_seed(void *arg)
{
    static const char *const db_only[] = {"/db"};
    httpc_load l = {.port = sc.port,
                    .conns = 200,
                    .targets = db_only,
                    .ntargets = 1,
                    .duration_ms = CMD_TIMEOUT_MS,
                    .max_requests = 5000,
                    .request_timeout_ms = REQ_TIMEOUT_MS};
    sampler *s = arg;
    gt_co *co = NULL;
    pool_metrics m;

    check_max_connections(s->b, 20);
    if (s->b->sessions)
        ck_assert_int_eq(gt_co_spawn(&co, sample_sessions, s), 0);
    ck_assert_int_eq(httpc_load_run(&l), 0);
    s->stop = 1;
    if (co)
        ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_msg(s->max <= 10,
                  "the database saw %lld sessions of the "
                  "showcase with max_open=10",
                  (long long)s->max);
    if (verbose())
        fprintf(stderr,
                "e2e seed scenario on %s: %ld requests, %ld "
                "503s, at most %lld sessions seen by the server%s\n",
                s->b->name, l.requests, l.status503, (long long)s->max,
                s->b->sessions ? "" : " (not measured)");
    ck_assert_msg(l.requests == 5000, "only %ld of 5000 requests ran",
                  l.requests);
    ck_assert_msg(l.errors == 0, "%ld connection errors; first: %s\n%s",
                  l.errors, l.first_error, log_tail());
    ck_assert_msg(l.non2xx == l.status503,
                  "%ld non-2xx other than 503 "
                  "(%ld 503s); first: %s\n%s",
                  l.non2xx - l.status503, l.status503, l.first_error,
                  log_tail());
    get_pool_metrics(&m);
    ck_assert_msg(m.max_open_ever >= 1 && m.max_open_ever <= 10,
                  "greentor_pool_max_open_ever is %g with max_open=10",
                  m.max_open_ever);
    assert_pool_idle("after the seed scenario");
    httpc_close(&conn, 0);
    return 0;
}

START_TEST(e2e_seed_scenario)
{
    const backend *b = &backends[_i];
    sampler s = {.b = b};
    char opts[128];
    char *log;

    backend_url(b);
    open_log(b);
    lower_max_connections(b);
    snprintf(s.app, sizeof(s.app), "gt_e2e_%d", (int)getpid());
    /* Only PostgreSQL's driver reads application_name (an option no part
     * of greentor reads for a scheme is refused). */
    snprintf(opts, sizeof(opts), "max_open=10%s%s",
             b->sessions ? "&application_name=" : "", b->sessions ? s.app : "");
    start_showcase(b, opts);
    ck_assert_int_eq(run_client(t_seed, &s), 0);
    stop_showcase();
    log = log_read();
    ck_assert_msg(!strcasestr(log, "too many connections") &&
                      !strcasestr(log, "too many clients"),
                  "the showcase's log reports too many connections:\n%s",
                  log_tail());
    free(log);
    restore_max_connections(b);
    remove_files();
}
END_TEST

/* ---- client disconnect mid-request (PostgreSQL) -------------------------- */

#define HUNG_UP 12 /* requests whose clients hang up: 8 in use, 4 waiting */

/* Send HUNG_UP requests that block on the locked World table, and wait
 * until the pool shows them all in flight (max_open=8 in use, the rest
 * queued). */
static void send_blocked(httpc *clients)
{
    static const char *const targets[] = {"/queries?queries=500",
                                          "/updates?queries=500"};
    char req[256];
    pool_metrics m;

    for (int i = 0; i < HUNG_UP; i++) {
        int n = snprintf(req, sizeof(req),
                         "GET %s HTTP/1.1\r\nHost: "
                         "127.0.0.1\r\n\r\n",
                         targets[i % 2]);

        httpc_init(&clients[i], sc.port);
        ck_assert_msg(
            httpc_connect(&clients[i], gt_deadline_in(REQ_TIMEOUT_MS)) == 0 &&
                httpc_send(&clients[i], req, (size_t)n,
                           gt_deadline_in(REQ_TIMEOUT_MS)) == 0,
            "client %d: %s", i, clients[i].err);
    }
    ck_assert_msg(wait_pool(8, HUNG_UP - 8, SETTLE_MS, &m),
                  "the requests are not all in flight on the locked table: "
                  "in_use %g, waiters %g\n%s",
                  m.in_use, m.waiters, log_tail());
}

static int t_disconnect(void *arg)
{
    httpc clients[HUNG_UP];
    gt_db *db = open_db(arg);
    pool_metrics m;

    ck_assert_int_eq(gt_db_begin(db, GT_NEVER), 0);
    ck_assert_msg(gt_db_exec(db, "LOCK TABLE world IN ACCESS EXCLUSIVE MODE",
                             NULL, 0, GT_NEVER) >= 0,
                  "LOCK TABLE: %s", gt_db_errmsg(db));
    send_blocked(clients);
    for (int i = 0; i < HUNG_UP; i++)
        httpc_close(&clients[i], i % 2); /* FIN and RST alike */
    ck_assert_msg(wait_pool(0, 0, SETTLE_MS, &m),
                  "%d clients hung up mid-request, their queries still "
                  "blocked: the pool still has %g in use and %g waiting "
                  "after %d ms\n%s",
                  HUNG_UP, m.in_use, m.waiters, SETTLE_MS, log_tail());
    ck_assert_int_eq(gt_db_rollback(db, GT_NEVER), 0);
    gt_db_close(db);
    json_decref(get_worlds("/queries?queries=500", 500));
    json_decref(get_worlds("/updates?queries=500", 500));
    check_db();
    assert_pool_idle("after the disconnects");
    get_pool_metrics(&m);
    ck_assert_msg(m.open <= 8, "greentor_pool_open is %g > max_open", m.open);
    httpc_close(&conn, 0);
    return 0;
}

START_TEST(e2e_client_disconnect)
{
    const backend *b = &backends[_i];

    start_showcase(b, "max_open=8&acquire_timeout_ms=60000");
    ck_assert_int_eq(run_client(t_disconnect, (void *)b), 0);
    stop_showcase();
    remove_files();
}
END_TEST

/* ---- an unreachable database --------------------------------------------- */

/* Start the showcase with 'url_setting' ("DATABASE_URL=...") and expect
 * it to exit by itself with code 2 and a message; returns its log (the
 * caller frees it). */
static char *expect_exit_2(const char *url_setting)
{
    char bin[PATH_MAX], port[32], *log;
    char *argv[] = {bin, NULL};
    char *env[] = {port, "WORKERS=2", (char *)url_setting, NULL};
    int status;

    showcase_path(bin);
    snprintf(port, sizeof(port), "PORT=%d", test_free_port());
    sc.pid = spawn(argv, env, "/tmp", sc.log);
    ck_assert_msg(sc.pid > 0, "fork: %s", strerror(errno));
    if (!wait_exit(sc.pid, START_TIMEOUT_MS, &status)) {
        kill(sc.pid, SIGKILL);
        waitpid(sc.pid, &status, 0);
        sc.pid = 0;
        ck_abort_msg("the showcase still runs %d ms after start with %s:\n"
                     "%s",
                     START_TIMEOUT_MS, url_setting, log_tail());
    }
    sc.pid = 0;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 2,
                  "expected exit code 2 with %s, got status 0x%x:\n%s",
                  url_setting, status, log_tail());
    log = log_read();
    ck_assert_msg(log[0] != '\0', "no message explains the exit");
    return log;
}

START_TEST(e2e_unreachable_database)
{
    const backend *b = &backends[_i];
    char url[256];

    open_log(b);
    if (b->env) /* a port where nothing listens */
        snprintf(url, sizeof(url),
                 "DATABASE_URL=%s://greentor:greentor@"
                 "127.0.0.1:%d/greentor_test",
                 b->name, test_free_port());
    else
        snprintf(url, sizeof(url),
                 "DATABASE_URL=sqlite:///nonexistent-"
                 "greentor-e2e/no/such/dir.db");
    free(expect_exit_2(url));
    remove_files();
}
END_TEST

/* ---- TechEmpower's other table names, and none --------------------------- */

START_TEST(e2e_other_table_spelling)
{
    const backend *b = &backends[_i];

    seed_names = b->other_names;
    start_showcase(b, "max_open=8");
    ck_assert_int_eq(run_client(t_endpoints, NULL), 0);
    stop_showcase();
    remove_files();
    seed_names = NULL;
}
END_TEST

static int drop_tables(void *arg)
{
    const backend *b = arg;
    gt_db *db = open_db(b);

    ck_assert_msg(gt_db_exec(db, b->drop_all, NULL, 0, GT_NEVER) >= 0, "%s: %s",
                  b->drop_all, gt_db_errmsg(db));
    gt_db_close(db);
    return 0;
}

START_TEST(e2e_missing_table_is_named)
{
    const backend *b = &backends[_i];
    char url[600], *log;

    open_log(b);
    ck_assert_int_eq(run_client(drop_tables, (void *)b), 0);
    snprintf(url, sizeof(url), "DATABASE_URL=%s", backend_url(b));
    log = expect_exit_2(url);
    ck_assert_msg(strstr(log, "has no world table (looked for "),
                  "the message does not name the missing table:\n%s", log);
    free(log);
    seed(backend_url(b)); /* leave the tables as the other tests do */
    remove_files();
}
END_TEST

/* ---- --help and bad configuration ---------------------------------------- */

/* Run the showcase with 'arg' (or none) and 'setting' in its environment
 * until it exits by itself; returns its wait status. */
static int run_showcase(const char *arg, const char *setting)
{
    char bin[PATH_MAX], port[32];
    char *argv[] = {bin, (char *)arg, NULL};
    char *env[] = {port, (char *)setting, NULL};
    int status;

    showcase_path(bin);
    snprintf(port, sizeof(port), "PORT=%d", test_free_port());
    sc.pid = spawn(argv, env, "/tmp", sc.log);
    ck_assert_msg(sc.pid > 0, "fork: %s", strerror(errno));
    if (!wait_exit(sc.pid, START_TIMEOUT_MS, &status)) {
        kill(sc.pid, SIGKILL);
        waitpid(sc.pid, &status, 0);
        sc.pid = 0;
        ck_abort_msg("showcase %s (%s) did not exit:\n%s", arg ? arg : "",
                     setting, log_tail());
    }
    sc.pid = 0;
    return status;
}

START_TEST(e2e_help_and_bad_config)
{
    static const char *const bad[] = {"PORT=http", "PORT=70000", "WORKERS=0",
                                      "WORKERS=many"};
    static const char *const names[] = {"PORT", "WORKERS", "DATABASE_URL"};
    static const struct {
        const char *setting, *says;
    } bad_opts[] = {
        {"DATABASE_URL=sqlite:gt-e2e.db?foo=1", "unknown option 'foo'"},
        {"DATABASE_URL=sqlite:gt-e2e.db?max_opn=4", "did you mean max_open"},
        {"DATABASE_URL=sqlite:gt-e2e.db?max_open=4294967297",
         "max_open must be a whole number from 1"},
        {"DATABASE_URL=postgres://u:s3cret@127.0.0.1:1/d?max_open=x",
         "max_open must be"},
        {"DATABASE_URL=postgres://u:s3cret/x@127.0.0.1:1/d",
         "'@' after the host part"},
    };
    int st;
    char *log;

    open_log(&backends[_i]);
    st = run_showcase("--help", "DATABASE_URL");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "--help: status "
                  "0x%x",
                  st);
    log = log_read();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(strstr(log, names[i]),
                      "--help does not mention %s:"
                      "\n%s",
                      names[i], log);
    free(log);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        st = run_showcase(NULL, bad[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2,
                      "%s: expected exit code 2, got status 0x%x\n%s", bad[i],
                      st, log_tail());
    }
    /* Issue 16: options are strict, and the message names the culprit
     * (never the password). */
    for (size_t i = 0; i < sizeof(bad_opts) / sizeof(bad_opts[0]); i++) {
        st = run_showcase(NULL, bad_opts[i].setting);
        log = log_read();
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
                          strstr(log, bad_opts[i].says) &&
                          !strstr(log, "s3cret"),
                      "%s: want exit code 2 and a message with '%s', got "
                      "status 0x%x\n%s",
                      bad_opts[i].setting, bad_opts[i].says, st, log_tail());
        free(log);
    }
    remove_files();
}
END_TEST

/* ---- registration -------------------------------------------------------- */

/* After each test; under CK_FORK=no also after a failed one. */
static void e2e_teardown(void)
{
    int status;

    if (sc.pid > 0) {
        kill(sc.pid, SIGKILL);
        waitpid(sc.pid, &status, 0);
        sc.pid = 0;
    }
    sc.log[0] = sc.dir[0] = '\0'; /* a failed test's files stay */
    seed_names = NULL;            /* under CK_FORK=no, for the next test */
    restore_servers();
}

/* One test case per backend. The tests are loop tests over the single
 * index of the backend in backends[], so one body serves all three and
 * the test process learns its backend without a global. */
void add_e2e_tests(Suite *s, const char *name)
{
    const backend *b = backend_named(name);
    int i;
    TCase *tc;

    if (!b) {
        fprintf(stderr, "add_e2e_tests: unknown backend '%s'\n", name);
        abort();
    }
    i = (int)(b - backends);
    runner_pid = getpid();
    tc = tcase_create(b->tcase);
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, e2e_teardown);
    tcase_add_unchecked_fixture(tc, NULL, restore_servers);
    tcase_add_loop_test(tc, e2e_endpoints, i, i + 1);
    tcase_add_loop_test(tc, e2e_updates_persisted, i, i + 1);
    tcase_add_loop_test(tc, e2e_concurrent_load, i, i + 1);
    tcase_add_loop_test(tc, e2e_unreachable_database, i, i + 1);
    if (b->server) {
        tcase_add_loop_test(tc, e2e_seed_scenario, i, i + 1);
        tcase_add_loop_test(tc, e2e_other_table_spelling, i, i + 1);
        tcase_add_loop_test(tc, e2e_missing_table_is_named, i, i + 1);
    } else /* the same on every backend: run it once */
        tcase_add_loop_test(tc, e2e_help_and_bad_config, i, i + 1);
    if (strcmp(b->name, "postgres") == 0)
        tcase_add_loop_test(tc, e2e_client_disconnect, i, i + 1);
    suite_add_tcase(s, tc);
}
