/* tests/e2e_fixture.c -- see e2e_fixture.h. */
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

#include "e2e_fixture.h"

/* ---- e2e_backends
 * ------------------------------------------------------------ */

const backend e2e_backends[NBACKENDS] = {
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

const backend *backend_named(const char *name)
{
    for (size_t i = 0; i < sizeof(e2e_backends) / sizeof(e2e_backends[0]); i++)
        if (strcmp(e2e_backends[i].name, name) == 0)
            return &e2e_backends[i];
    return NULL;
}

const char *backend_url(const backend *b)
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
struct showcase e2e_sc;

pid_t runner_pid;       /* names the marker files; set in the runner */
const char *seed_names; /* SEED_TABLE_NAMES for e2e_seed(); NULL: default */

/* Whether the server still runs, or how it ended (then it is reaped). */
static const char *server_state(void)
{
    static char state[96];
    int status;

    if (e2e_sc.pid <= 0 || waitpid(e2e_sc.pid, &status, WNOHANG) != e2e_sc.pid)
        return state; /* "" until it has died */
    if (WIFSIGNALED(status))
        snprintf(state, sizeof(state),
                 "--- the showcase died: signal %d "
                 "(%s)\n",
                 WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(state, sizeof(state), "--- the showcase exited with %d\n",
                 WEXITSTATUS(status));
    e2e_sc.pid = 0;
    return state;
}

/* The end of the server's log, headed by its path and, if it died, how,
 * for failure messages (Check truncates those at 8 KiB). */
const char *log_tail(void)
{
    static char tail[3072];
    int fd = open(e2e_sc.log, O_RDONLY | O_CLOEXEC);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
    int h = snprintf(tail, sizeof(tail), "%s--- %s%s:\n", server_state(),
                     e2e_sc.log, size > 2048 ? ", last 2 KiB" : "");
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
char *log_read(void)
{
    FILE *f = fopen(e2e_sc.log, "re");
    char *buf = calloc(1, 8 << 20);
    size_t n = f && buf ? fread(buf, 1, (8 << 20) - 1, f) : 0;

    ck_assert_msg(f && buf, "cannot read %s", e2e_sc.log);
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

const char *showcase_path(char *out)
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
pid_t e2e_spawn(char *const argv[], char *const env[], const char *cwd,
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
int e2e_wait_exit(pid_t pid, int ms, int *status)
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
    pid_t pid = e2e_spawn(argv, env, NULL, log);
    int status;

    if (pid < 0)
        return -1;
    if (e2e_wait_exit(pid, CMD_TIMEOUT_MS, &status))
        return status;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

void e2e_seed(const char *url)
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
    st = run_cmd(argv, env, e2e_sc.log);
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

    for (int waited = 0; !port_accepts(e2e_sc.port); waited += 50) {
        if (waitpid(e2e_sc.pid, &status, WNOHANG) == e2e_sc.pid) {
            e2e_sc.pid = 0;
            ck_abort_msg("the showcase exited at start (status 0x%x):\n%s",
                         status, log_tail());
        }
        if (waited >= START_TIMEOUT_MS) {
            kill(e2e_sc.pid, SIGKILL);
            waitpid(e2e_sc.pid, &status, 0);
            e2e_sc.pid = 0;
            ck_abort_msg("the showcase did not accept on port %d within "
                         "%d ms:\n%s",
                         e2e_sc.port, START_TIMEOUT_MS, log_tail());
        }
        usleep(50000);
    }
}

/* Name the log of this test and empty it, unless that was done. */
void e2e_open_log(const backend *b)
{
    if (e2e_sc.log[0])
        return;
    snprintf(e2e_sc.log, sizeof(e2e_sc.log), "/tmp/greentor-e2e-%s-%d.log",
             b->name, (int)getpid());
    close(open(e2e_sc.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
}

/* Start the showcase for backend 'b' with pool options 'opts' in the URL
 * (PostgreSQL and MariaDB; SQLite uses the default URL). Reseeds first. */
void start_showcase(const backend *b, const char *opts)
{
    char bin[PATH_MAX], port[32], url[600];
    char *argv[] = {bin, NULL};
    char *env[] = {port, "WORKERS=2", url, NULL};
    const char *cwd = NULL, *u = b->env ? backend_url(b) : NULL;

    showcase_path(bin);
    e2e_sc.port = test_free_port();
    snprintf(port, sizeof(port), "PORT=%d", e2e_sc.port);
    e2e_open_log(b);
    if (u) {
        e2e_seed(u);
        snprintf(url, sizeof(url), "DATABASE_URL=%s%s%s", u,
                 strchr(u, '?') ? "&" : "?", opts);
    } else {
        snprintf(e2e_sc.dir, sizeof(e2e_sc.dir), "/tmp/greentor-e2e-XXXXXX");
        ck_assert_msg(mkdtemp(e2e_sc.dir), "mkdtemp: %s", strerror(errno));
        snprintf(url, sizeof(url), "DATABASE_URL"); /* unset: the default */
        cwd = e2e_sc.dir;
    }
    e2e_sc.pid = e2e_spawn(argv, env, cwd, e2e_sc.log);
    ck_assert_msg(e2e_sc.pid > 0, "fork: %s", strerror(errno));
    wait_ready();
}

/* SIGTERM, then insist on a graceful exit 0. The log is kept. */
void stop_showcase(void)
{
    pid_t pid = e2e_sc.pid;
    int status;

    ck_assert_msg(pid > 0, "the showcase is not running");
    kill(pid, SIGTERM);
    if (!e2e_wait_exit(pid, STOP_TIMEOUT_MS, &status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        e2e_sc.pid = 0;
        ck_abort_msg("the showcase did not exit within %d ms of SIGTERM:\n%s",
                     STOP_TIMEOUT_MS, log_tail());
    }
    e2e_sc.pid = 0;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the showcase did not exit 0 after SIGTERM (%s %d):\n%s",
                  WIFEXITED(status) ? "exit" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
                  log_tail());
}

/* After a passing test: remove the log and the SQLite directory. */
void remove_files(void)
{
    static const char *const names[] = {
        "greentor-showcase.db", "greentor-showcase.db-wal",
        "greentor-showcase.db-shm", "greentor-showcase.db-journal"};
    char path[160];

    unlink(e2e_sc.log);
    e2e_sc.log[0] = '\0';
    if (!e2e_sc.dir[0])
        return;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", e2e_sc.dir, names[i]);
        unlink(path);
    }
    rmdir(e2e_sc.dir);
    e2e_sc.dir[0] = '\0';
}

/* ---- talking to it (in a coroutine) -------------------------------------- */

httpc e2e_conn; /* the tests' keep-alive connection */

void e2e_request(const char *method, const char *target, httpc_res *res)
{
    int rc = httpc_do(&e2e_conn, method, target, res,
                      gt_deadline_in(REQ_TIMEOUT_MS));

    ck_assert_msg(rc == 0, "%s %s: %s\n%s", method, target, e2e_conn.err,
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
void e2e_expect(const httpc_res *res, const char *what, int status,
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
void e2e_get_ok(const char *target, const char *type, httpc_res *res)
{
    char what[160];

    snprintf(what, sizeof(what), "GET %s", target);
    e2e_request("GET", target, res);
    e2e_expect(res, what, 200, type);
}

json_t *e2e_get_json(const char *target)
{
    httpc_res res;
    json_error_t e;
    json_t *j;

    e2e_get_ok(target, "application/json", &res);
    j = json_loadb(res.body, res.body_len, 0, &e);
    ck_assert_msg(j, "GET %s: not JSON (%s): %.300s", target, e.text, res.body);
    httpc_res_free(&res);
    return j;
}

/* One World object: exactly {"id":1..10000,"randomNumber":1..10000}. */
void e2e_check_world(const json_t *o, const char *target, int *id, int *rn)
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
json_t *e2e_get_worlds(const char *target, size_t n)
{
    json_t *a = e2e_get_json(target);
    int id, rn;

    ck_assert_msg(json_is_array(a), "GET %s: not an array", target);
    ck_assert_msg(json_array_size(a) == n, "GET %s: %zu rows, expected %zu",
                  target, json_array_size(a), n);
    for (size_t i = 0; i < n; i++)
        e2e_check_world(json_array_get(a, i), target, &id, &rn);
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
const char *e2e_userinfo(const char *url, char *out, size_t cap)
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

void get_pool_metrics(pool_metrics *m)
{
    httpc_res res;

    e2e_get_ok("/metrics", "text/plain", &res);
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
int wait_pool(double in_use, double waiters, int ms, pool_metrics *m)
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

void assert_pool_idle(const char *when)
{
    pool_metrics m;

    ck_assert_msg(wait_pool(0, 0, SETTLE_MS, &m),
                  "%s: the pool did not return to idle within %d ms "
                  "(in_use %g, waiters %g, open %g)\n%s",
                  when, SETTLE_MS, m.in_use, m.waiters, m.open, log_tail());
}

int e2e_run_client(gt_co_fn fn, void *arg)
{
    gt_rt_config cfg = {.workers = 1, .stack_size = 256 * 1024};

    httpc_init(&e2e_conn, e2e_sc.port);
    return run_main_cfg(&cfg, fn, arg);
}

void marker_path(const backend *b, char *out, size_t n)
{
    snprintf(out, n, "/tmp/greentor-e2e-%d-%s.lowered", (int)runner_pid,
             b->server);
}

/* `scripts/db.sh restart <server>`, with max_connections 'max' (NULL:
 * whatever our environment says, normally the default). Returns the wait
 * status. No assertions: the teardowns call it too. */
int restart_server(const backend *b, const char *max, const char *log)
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
void restore_servers(void)
{
    char marker[128];

    for (size_t i = 0; i < sizeof(e2e_backends) / sizeof(e2e_backends[0]);
         i++) {
        const backend *b = &e2e_backends[i];

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

/* After each test; under CK_FORK=no also after a failed one. */
void e2e_teardown(void)
{
    int status;

    if (e2e_sc.pid > 0) {
        kill(e2e_sc.pid, SIGKILL);
        waitpid(e2e_sc.pid, &status, 0);
        e2e_sc.pid = 0;
    }
    e2e_sc.log[0] = e2e_sc.dir[0] = '\0'; /* a failed test's files stay */
    seed_names = NULL; /* under CK_FORK=no, for the next test */
    restore_servers();
}
