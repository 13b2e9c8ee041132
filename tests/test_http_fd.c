/* tests/test_http_fd.c -- out of file descriptors (issue 16, item 1).
 *
 * Under `ulimit -n 256` with 1,000 clients and two workers, the seed's
 * server spun in libuv's accept loop and never got back to closing dead
 * connections, nor to its SIGTERM. Here a server runs in a child process
 * whose RLIMIT_NOFILE is LIMIT, and the test (the parent, with descriptors
 * to spare) opens CLIENTS connections to it, more than the child has
 * descriptors. Then: the surplus clients close, and new connections must
 * be served; or SIGTERM comes while it is still saturated. Either way
 * SIGTERM must end it with exit status 0.
 *
 * The variants cover each way out of descriptors:
 *   - libuv's EMFILE trick intact (with one worker it works: surplus
 *     connections are accepted and dropped);
 *   - the trick disabled (its reserve descriptor closed in the child, as
 *     the race between two workers does at random): the worker must pause
 *     accepting (accept.c), deterministically;
 *   - max_conns left to be derived from the limit: no EMFILE at all, the
 *     surplus is accepted and closed below the limit.
 * All on loopback, with bounded counts; the only times are upper bounds
 * that turn a hang into a failure (no timing threshold is asserted), and
 * the rate limit of the pause message, checked as "no more lines than
 * seconds the child lived, plus one". */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "httpc.h"
#include "util.h"

#define LIMIT 64    /* the server's RLIMIT_NOFILE */
#define CLIENTS 400 /* more than LIMIT, in waves of WAVE */
#define WAVE 40
#define BOUND_MS 20000 /* any wait longer than this is a hang */
#define PAUSE_MSG "accepting paused"

enum { TRICK = 1, NO_TRICK = 2, DERIVED = 4, TERM_SATURATED = 8 };

/* ---- the server (child process) ---------------------------------------- */

typedef struct child_cfg {
    int workers;
    int flags;
    int port_fd; /* the port is written here */
} child_cfg;

static gt_http_server *child_srv;

static int h_ok(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req;
    (void)arg;
    return gt_http_res_printf(res, "ok");
}

/* Keep libuv's EMFILE reserve descriptor away from this worker's loop, so
 * that its trick fails and the server's own pause runs, as it does when
 * another worker takes the descriptor the trick freed. libuv reopens the
 * reserve with every new stream (each accepted connection) when it can,
 * so this closes it again every few milliseconds, until the runtime stops
 * (which cancels the sleep). */
static int drop_reserve(void *arg)
{
    uv_loop_t *loop = gt_loop();

    (void)arg;
    do {
        if (loop->emfile_fd >= 0) {
            close(loop->emfile_fd);
            loop->emfile_fd = -1;
        }
    } while (gt_sleep(2) == 0);
    return 0;
}

static int child_start(void *arg)
{
    child_cfg *c = arg;
    gt_http_config cfg = {.host = "127.0.0.1",
                          .max_conns = c->flags & DERIVED ? 0 : 100000};
    int rc = gt_http_server_open(&child_srv, gt_rt_self(), &cfg, h_ok, NULL);
    int port;

    if (rc == 0)
        rc = gt_http_server_stop_on_signals(child_srv);
    for (int i = 0; rc == 0 && (c->flags & NO_TRICK) && i < c->workers; i++)
        rc = gt_rt_post(gt_rt_self(), i, drop_reserve, NULL);
    port = rc == 0 ? gt_http_server_port(child_srv) : -1;
    if (write(c->port_fd, &port, sizeof(port)) != sizeof(port) || rc < 0)
        _exit(3);
    close(c->port_fd);
    return 0;
}

/* Close what the test process had open, but stdio and 'keep'. */
static void close_others(int keep)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int fds[256], n = 0;

    while (d && (e = readdir(d)) != NULL && n < 256) {
        int fd = atoi(e->d_name);

        if (fd > 2 && fd != keep && fd != dirfd(d))
            fds[n++] = fd;
    }
    if (d)
        closedir(d);
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

static void child_main(child_cfg *c)
{
    struct rlimit rl = {LIMIT, LIMIT};
    gt_rt_config rcfg = {.workers = c->workers};
    gt_rt *rt;

    close_others(c->port_fd);
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || gt_rt_new(&rt, &rcfg) != 0 ||
        gt_rt_post(rt, 0, child_start, c) != 0)
        _exit(4);
    gt_rt_run(rt);
    gt_http_server_close(child_srv);
    gt_rt_free(rt);
    _exit(0);
}

/* ---- the test (parent) ------------------------------------------------- */

typedef struct server {
    pid_t pid;
    int port;
    int err_fd; /* the child's stderr, non-blocking */
    char err[65536];
    size_t err_len;
    struct timespec t0;
} server;

static int64_t ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Collect what the child wrote to stderr so far. */
static void read_err(server *s)
{
    ssize_t n;

    while (s->err_len + 1 < sizeof(s->err) &&
           (n = read(s->err_fd, s->err + s->err_len,
                     sizeof(s->err) - 1 - s->err_len)) > 0)
        s->err_len += (size_t)n;
    s->err[s->err_len] = '\0';
}

static void start_server(server *s, int workers, int flags)
{
    int port_p[2], err_p[2];
    child_cfg c = {workers, flags, -1};
    struct pollfd pfd;

    memset(s, 0, sizeof(*s));
    ck_assert_int_eq(pipe2(port_p, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(err_p, O_CLOEXEC), 0);
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        dup2(err_p[1], STDERR_FILENO);
        c.port_fd = port_p[1];
        child_main(&c);
    }
    close(port_p[1]);
    close(err_p[1]);
    s->err_fd = err_p[0];
    fcntl(s->err_fd, F_SETFL, O_NONBLOCK);
    pfd = (struct pollfd){.fd = port_p[0], .events = POLLIN};
    ck_assert_msg(poll(&pfd, 1, BOUND_MS) == 1 &&
                      read(port_p[0], &s->port, sizeof(s->port)) ==
                          sizeof(s->port) &&
                      s->port > 0,
                  "the server did not start");
    close(port_p[0]);
}

/* SIGTERM, then its exit within the bound, with status 0. */
static void stop_server(server *s)
{
    int status = 0;
    pid_t got = 0;

    ck_assert_int_eq(kill(s->pid, SIGTERM), 0);
    for (int waited = 0; waited < BOUND_MS && got == 0; waited += 20) {
        read_err(s);
        got = waitpid(s->pid, &status, WNOHANG);
        if (got == 0)
            usleep(20000);
    }
    if (got == 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
        read_err(s);
        ck_abort_msg("the server ignored SIGTERM for %d ms; its stderr:\n%s",
                     BOUND_MS, s->err);
    }
    fcntl(s->err_fd, F_SETFL, 0);
    read_err(s); /* to EOF: the child is gone */
    close(s->err_fd);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "the server ended with status 0x%x; its stderr:\n%s", status,
                  s->err);
}

static int connect_to(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One request on a new connection; 1 if it was answered 200. A refused,
 * dropped or reset connection is 0 (the server may still be catching up
 * with the backlog the closed clients left). */
static int served(int port)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n"
                              "Connection: close\r\n\r\n";
    struct timeval tv = {BOUND_MS / 1000, 0};
    char buf[512];
    size_t len = 0;
    ssize_t n;
    int fd = connect_to(port);

    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
        (ssize_t)sizeof(req) - 1) {
        close(fd);
        return 0;
    }
    while (len + 1 < sizeof(buf) &&
           (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    return strncmp(buf, "HTTP/1.1 200", 12) == 0;
}

/* Whether, within 'ms', saturation shows: the pause message, or (unless
 * the pause is wanted) a client whose connection the server dropped
 * (read gives EOF or a reset). */
static int saturated(server *s, const int *fds, int n, int want_pause, int ms)
{
    struct pollfd *p = calloc((size_t)n, sizeof(*p));
    int dropped = 0;

    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    for (int waited = 0;; waited += 20) {
        read_err(s);
        if (!want_pause && poll(p, (nfds_t)n, 0) > 0)
            for (int i = 0; i < n; i++)
                dropped += (p[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        if (strstr(s->err, PAUSE_MSG) || dropped || waited >= ms)
            break;
        usleep(20000);
    }
    free(p);
    return strstr(s->err, PAUSE_MSG) || dropped;
}

static int count_lines(const char *text, const char *what)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
        n++;
    return n;
}

static void run_variant(int workers, int flags)
{
    int want_pause = (flags & NO_TRICK) && !(flags & DERIVED);
    int fds[CLIENTS], nfds = 0, pauses, ok = 0;
    struct rlimit rl;
    int64_t lived_ms;
    server s;

    /* The test itself needs CLIENTS descriptors and some. */
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < CLIENTS + 64) {
        rl.rlim_cur = rl.rlim_max < CLIENTS + 256 ? rl.rlim_max : CLIENTS + 256;
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    start_server(&s, workers, flags);
    /* In waves: the first may meet libuv's trick before the reserve is
     * gone (it drops the whole backlog); the next ones cannot. */
    for (int wave = 0; wave < CLIENTS / WAVE; wave++) {
        for (int i = 0; i < WAVE; i++) {
            int fd = connect_to(s.port);

            if (fd >= 0)
                fds[nfds++] = fd;
        }
        if (nfds > LIMIT && saturated(&s, fds, nfds, want_pause, 200))
            break;
    }
    ck_assert_msg(nfds > LIMIT, "only %d of %d clients connected", nfds,
                  CLIENTS);
    ck_assert_msg(saturated(&s, fds, nfds, want_pause, BOUND_MS),
                  "no sign of running out of descriptors within %d ms "
                  "(%s); the server's stderr:\n%s",
                  BOUND_MS,
                  want_pause ? "no pause message" : "no client dropped", s.err);
    if (flags & TERM_SATURATED) {
        stop_server(&s); /* with every client still connected */
    } else {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        nfds = 0;
        /* Once the surplus clients are gone, new ones are served: a few
         * in a row, so it is not one lucky accept. */
        for (int waited = 0; ok < 5 && waited < BOUND_MS; waited += 50) {
            if (served(s.port))
                ok++;
            else
                usleep(50000);
        }
        read_err(&s);
        ck_assert_msg(ok == 5,
                      "only %d new connections served once the "
                      "clients closed; the server's stderr:\n%s",
                      ok, s.err);
        stop_server(&s);
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    lived_ms = ms_since(&s.t0);
    pauses = count_lines(s.err, PAUSE_MSG);
    ck_assert_msg(pauses <= lived_ms / 1000 + 1,
                  "%d pause messages in %lld "
                  "ms: not limited to one a second",
                  pauses, (long long)lived_ms);
    if (flags & DERIVED)
        ck_assert_msg(pauses == 0,
                      "max_conns derived from RLIMIT_NOFILE "
                      "still ran out of descriptors:\n%s",
                      s.err);
}

START_TEST(fd_exhaustion_libuv_trick_recovers)
{
    run_variant(_i, TRICK);
}
END_TEST

START_TEST(fd_exhaustion_pause_recovers)
{
    run_variant(_i, NO_TRICK);
}
END_TEST

START_TEST(fd_exhaustion_sigterm_while_saturated)
{
    run_variant(_i, NO_TRICK | TERM_SATURATED);
}
END_TEST

START_TEST(fd_exhaustion_derived_max_conns_never_runs_out)
{
    run_variant(_i, NO_TRICK | DERIVED);
}
END_TEST

/* The pause message, however often pauses happen: at most one a second
 * for the whole server, with the count of those not shown. Here every
 * worker is made to pause (with descriptors to spare, so it resumes at
 * once) every few milliseconds for a while; then the server must still
 * serve. */
#define PAUSE_ROUNDS 300

typedef struct pauser {
    gt_http_server *srv;
    int worker;
} pauser;

static int pause_task(void *arg)
{
    pauser *p = arg;

    gt__http_accept_pause(&p->srv->workers[p->worker], UV_EMFILE);
    return 0;
}

static int pause_often(void *arg)
{
    gt_http_config cfg = {.host = "127.0.0.1"};
    pauser ps[2];
    gt_http_server *srv;
    httpc c;
    httpc_res res;
    int *ms = arg;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (gt_http_server_open(&srv, gt_rt_self(), &cfg, h_ok, NULL) != 0)
        return -1;
    gt_sleep(50); /* the workers listen */
    for (int w = 0; w < 2; w++)
        ps[w] = (pauser){srv, w};
    for (int i = 0; i < PAUSE_ROUNDS; i++) {
        for (int w = 0; w < 2; w++)
            gt_rt_post(gt_rt_self(), w, pause_task, &ps[w]);
        gt_sleep(5);
    }
    gt_sleep(300); /* the last pauses resume (RESUME_MS is 100) */
    httpc_init(&c, gt_http_server_port(srv));
    for (int i = 0; i < 5; i++) {
        if (httpc_do(&c, "GET", "/", &res, gt_deadline_in(BOUND_MS)) != 0 ||
            res.status != 200)
            return -2;
        httpc_res_free(&res);
    }
    httpc_close(&c, 0);
    gt_http_server_close(srv);
    *ms = (int)ms_since(&t0);
    return 0;
}

static void pause_child(void *arg)
{
    gt_rt_config cfg = {.workers = 2};
    int ms = 0;

    (void)arg;
    if (gt_rt_main(&cfg, pause_often, &ms) != 0)
        _exit(5);
    fprintf(stderr, "lived %d ms\n", ms);
    _exit(0);
}

START_TEST(fd_pause_message_at_most_once_a_second)
{
    static char err[1 << 16];
    int st = run_child(pause_child, NULL, err, sizeof(err));
    int lines = count_lines(err, PAUSE_MSG), ms = 0;
    const char *lived = strstr(err, "lived ");
    const char *second = strstr(err, PAUSE_MSG);

    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0 && lived,
                  "status 0x%x:\n%s", st, err);
    ms = atoi(lived + 6);
    ck_assert_msg(lines >= 1 && lines <= ms / 1000 + 1,
                  "%d pause messages in %d ms of %d pauses:\n%s", lines, ms,
                  2 * PAUSE_ROUNDS, err);
    /* A later message counts the pauses it did not show. */
    second = second ? strstr(second + 1, PAUSE_MSG) : NULL;
    ck_assert_msg(!second || !strstr(second, "(0 more pauses"),
                  "the second message counts no unreported pause:\n%s", err);
}
END_TEST

/* ThreadSanitizer takes a descriptor number closed on one worker and
 * reused on another (a pause closes a listener or a connection, the other
 * worker's accept4() or dup() gets the number) for a data race on the
 * descriptor: the kernel orders those, TSan cannot see it. Running out of
 * descriptors is all about such reuse, so these tests run in the
 * ASan+UBSan build only, not in the TSan one (make check runs the http
 * suite in both). */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#else
#define UNDER_TSAN 0
#endif

void add_http_fd_tests(Suite *s)
{
    TCase *tc;

    if (UNDER_TSAN)
        return;
    tc = tcase_create("fd_exhaustion");

    tcase_set_timeout(tc, 5 * BOUND_MS / 1000);
    tcase_add_loop_test(tc, fd_exhaustion_libuv_trick_recovers, 1, 3);
    tcase_add_loop_test(tc, fd_exhaustion_pause_recovers, 1, 3);
    tcase_add_loop_test(tc, fd_exhaustion_sigterm_while_saturated, 1, 3);
    tcase_add_loop_test(tc, fd_exhaustion_derived_max_conns_never_runs_out, 1,
                        3);
    tcase_add_test(tc, fd_pause_message_at_most_once_a_second);
    suite_add_tcase(s, tc);
}
