/* tests/test_http_server_life.c -- the HTTP server's life over real
 * loopback sockets: many idle connections, request scope (locals,
 * deadlines, a client that leaves), graceful and signalled shutdown,
 * max_conns, and routing and the handler API end to end.
 *
 * Same set-up as test_http_server.c (tests/server_fixture.h); no timing
 * thresholds. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/http.h" /* the worker's free lists, for one test */
#include "server_fixture.h"
#include "util.h"

/* ---- many idle connections ----------------------------------------------- */

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;

    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
            resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The client side of many_idle_connections, in a child process so that
 * it has its own file descriptor limit. Async-signal-safe calls only. */
static void idle_clients(int port, int n, int *fds, int go, int done)
{
    static const char req[] = GET_("/plaintext");
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct linger lg = {1, 0};
    char buf[512], cmd;
    int ok = 0;

    if (read(go, &cmd, 1) != 1)
        _exit(1);
    for (int i = 0; i < n; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof(a)))
            break;
        if (send(fds[i], req, sizeof(req) - 1, MSG_NOSIGNAL) !=
                (ssize_t)sizeof(req) - 1 ||
            recv(fds[i], buf, sizeof(buf), 0) < 12 ||
            memcmp(buf, "HTTP/1.1 200", 12) != 0)
            break;
        ok++;
    }
    if (write(done, &ok, sizeof(ok)) != sizeof(ok) || read(go, &cmd, 1) != 1)
        _exit(1);
    for (int i = 0; i < ok; i++) { /* reset: no TIME_WAIT left behind */
        setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        close(fds[i]);
    }
    if (write(done, &ok, sizeof(ok)) != sizeof(ok))
        _exit(1);
    _exit(0);
}

START_TEST(many_idle_connections)
{
    gt_http_config cfg = {.keepalive_timeout_ms = 120000};
    int want = 10000, go[2], done[2], got = 0;
    struct rlimit rl;
    long before, during, after;
    int *fds;
    server s;
    pid_t pid;

    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < (rlim_t)want + 200) {
        want = (int)rl.rlim_cur - 200;
        printf("many_idle_connections: RLIMIT_NOFILE is %lu, using %d "
               "connections instead of 10000\n",
               (unsigned long)rl.rlim_cur, want);
    }
    fds = malloc((size_t)want * sizeof(int));
    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(done), 0);
    server_open(&s, &cfg, 2); /* bound and listening, no threads yet */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        idle_clients(s.port, want, fds, go[0], done[1]);
    server_run(&s);
    get(&s, GET_("/plaintext"), 200, hello); /* warm up */
    ck_assert(wait_conns(&s, 0, 5000));
    before = rss_kib();
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    ck_assert_int_eq(read(done[0], &got, sizeof(got)), sizeof(got));
    ck_assert_int_eq(got, want);
    ck_assert(wait_conns(&s, (uint64_t)want, 10000));
    during = rss_kib();
    get(&s, GET_("/plaintext"), 200, hello); /* still serving */
    ck_assert_int_eq(write(go[1], "c", 1), 1);
    ck_assert_int_eq(read(done[0], &got, sizeof(got)), sizeof(got));
    ck_assert(wait_conns(&s, 0, 20000));
    after = rss_kib();
    get(&s, GET_("/plaintext"), 200, hello);
    printf("many_idle_connections: %d idle keep-alive connections; server "
           "process RSS %ld KiB before, %ld KiB with them (%.2f KiB each, "
           "sanitizers included), %ld KiB after closing\n",
           want, before, during, (double)(during - before) / want, after);
    ck_assert_int_lt((during - before) / want, 64); /* generous bound */
    waitpid(pid, NULL, 0);
    free(fds);
    server_stop(&s);
}
END_TEST

/* ---- request scope ------------------------------------------------------- */

START_TEST(local_destructor_before_next_request)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    /* Three pipelined in one write: each must start only after the
     * previous request's local destructor (which sleeps) has finished. */
    cli_send(c, GET_("/local") GET_("/local") GET_("/local"));
    for (int i = 0; i < 3; i++) {
        ck_assert(cli_read(c, &r, false));
        ck_assert_str_eq(r.body, "before=0");
        resp_free(&r);
    }
    roundtrip(c, GET_("/local"), 200, "before=0"); /* and one more after */
    cli_close(c);
    ck_assert(wait_for(&live_locals, 0, 2000));
    server_stop(&s);
}
END_TEST

START_TEST(handler_deadline_504)
{
    gt_http_config cfg = {.handler_timeout_ms = 200};
    server s;
    client *c;

    server_start(&s, &cfg, 2);
    c = cli_open(&s);
    roundtrip(c, GET_("/sleep"), 504, NULL);      /* returns -ETIMEDOUT */
    roundtrip(c, GET_("/late"), 504, NULL);       /* returns 0, but late */
    roundtrip(c, GET_("/plaintext"), 200, hello); /* connection reusable */
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(client_disconnect_cancels_handler)
{
    server s;
    client *c;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, GET_("/hang"));
    ck_assert(wait_for(&hang_started, 1, 5000));
    cli_close(c);
    ck_assert_msg(wait_for(&hang_cleaned, 1, 5000), "handler not cancelled");
    ck_assert_int_eq(atomic_load(&hang_rc), -ECANCELED);
    ck_assert(wait_conns(&s, 0, 5000));
    get(&s, GET_("/plaintext"), 200, hello);
    server_stop(&s);
}
END_TEST

/* ---- shutdown ------------------------------------------------------------ */

static int join_and_stop(void *arg)
{
    server *s = arg;

    gt_http_server_join(s->srv, GT_NEVER);
    gt_rt_stop(s->rt);
    return 0;
}

START_TEST(graceful_shutdown)
{
    gt_http_config cfg = {.drain_timeout_ms = 1000};
    int64_t until;
    client *slow, *hang, *idle;
    int fd = 0;
    server s;
    resp r;

    server_start(&s, &cfg, 2);
    idle = cli_open(&s);
    roundtrip(idle, GET_("/plaintext"), 200, hello);
    slow = cli_open(&s);
    hang = cli_open(&s);
    cli_send(slow, GET_("/slow"));
    cli_send(hang, GET_("/hang"));
    ck_assert(wait_for(&slow_started, 1, 5000));
    ck_assert(wait_for(&hang_started, 1, 5000));
    gt_http_server_stop(s.srv);
    /* The idle connection is closed; new ones are refused. */
    ck_assert(cli_eof(idle));
    until = gt_now() + 5000;
    while (gt_now() < until &&
           (fd = sock_connect(AF_INET, s.port)) != -ECONNREFUSED) {
        if (fd >= 0) /* a listener not closed yet, or a reset one */
            close(fd);
        usleep(5000);
    }
    ck_assert_int_eq(fd, -ECONNREFUSED);
    /* The in-flight request completes, told to close. */
    ck_assert(cli_read(slow, &r, false));
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "done");
    ck_assert(resp_header_is(&r, "Connection", "close"));
    resp_free(&r);
    ck_assert(cli_eof(slow));
    /* The one that would outlive the drain timeout is cancelled. */
    ck_assert(cli_eof(hang));
    ck_assert(wait_for(&hang_cleaned, 1, 5000));
    ck_assert_int_eq(atomic_load(&hang_rc), -ECANCELED);
    ck_assert_int_eq(gt_rt_post(s.rt, 0, join_and_stop, &s), 0);
    pthread_join(s.thread, NULL);
    s.running = false;
    cli_close(idle);
    cli_close(slow);
    cli_close(hang);
    server_stop(&s);
}
END_TEST

START_TEST(signal_stops_gracefully)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 1);
    ck_assert_int_eq(gt_http_server_stop_on_signals(s.srv), 0);
    ck_assert_int_eq(gt_http_server_stop_on_signals(s.srv), -EALREADY);
    /* One worker: once it has answered, its signal task has run. */
    get(&s, GET_("/plaintext"), 200, hello);
    c = cli_open(&s);
    cli_send(c, GET_("/slow"));
    ck_assert(wait_for(&slow_started, 1, 5000));
    kill(getpid(), SIGTERM);
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, "done");
    resp_free(&r);
    pthread_join(s.thread, NULL); /* gt_rt_run() returned */
    s.running = false;
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(max_conns_per_worker)
{
    gt_http_config cfg = {.max_conns = 2};
    client *a, *b, *c;
    gt_http_stats st;
    server s;

    server_start(&s, &cfg, 1);
    a = cli_open(&s);
    b = cli_open(&s);
    roundtrip(a, GET_("/plaintext"), 200, hello);
    roundtrip(b, GET_("/plaintext"), 200, hello);
    c = cli_open(&s); /* the kernel accepts; the server closes it */
    ck_assert(cli_eof(c));
    cli_close(c);
    gt_http_server_get_stats(s.srv, &st);
    ck_assert_uint_ge(st.rejected, 1);
    cli_close(a);
    ck_assert(wait_conns(&s, 1, 5000));
    get(&s, GET_("/plaintext"), 200, hello);
    roundtrip(b, GET_("/plaintext"), 200, hello);
    cli_close(b);
    server_stop(&s);
}
END_TEST

/* ---- routing and the handler API ----------------------------------------- */

START_TEST(head_404_405)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, "HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(cli_read(c, &r, true));
    ck_assert_int_eq(r.status, 200);
    ck_assert(resp_header_is(&r, "Content-Length", "13"));
    ck_assert(resp_header_is(&r, "Content-Type", "text/plain"));
    resp_free(&r);
    roundtrip(c, GET_("/plaintext"), 200, hello); /* no stray body bytes */
    roundtrip(c, GET_("/nope"), 404, NULL);
    roundtrip(c, GET_("/users/"), 404, NULL); /* empty parameter */
    cli_send(c, "POST /plaintext HTTP/1.1\r\nHost: t\r\n"
                "Content-Length: 0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 405);
    ck_assert(resp_header_is(&r, "Allow", "GET, HEAD, DELETE"));
    resp_free(&r);
    roundtrip(c, "DELETE /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", 200, hello);
    roundtrip(c, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL);
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(handler_errors)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, "PUT /err HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 500);
    ck_assert_ptr_null(strstr(r.body, "never sent"));
    resp_free(&r);
    cli_send(c, GET_("/pool"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 503);
    ck_assert(resp_header_is(&r, "Retry-After", "1"));
    resp_free(&r);
    cli_send(c, GET_("/dbgone")); /* a lost database connection: 503 too */
    ck_assert(cli_read(c, &r, false));
    ck_assert_int_eq(r.status, 503);
    ck_assert(resp_header_is(&r, "Retry-After", "1"));
    resp_free(&r);
    roundtrip(c, GET_("/plaintext"), 200, hello);
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(route_params_and_query)
{
    server s;
    client *c;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    roundtrip(c, GET_("/users/42"), 200, "user=42");
    roundtrip(c, GET_("/users/a%20b"), 200, "user=a b");
    roundtrip(c, GET_("/users/a%2Fb"), 200, "user=a/b");
    roundtrip(c, GET_("/users/me"), 200, "root"); /* literal beats :id */
    roundtrip(c, GET_("/users/1/posts/2"), 200, "user=1 post=2");
    roundtrip(c, GET_("/static/css/a%20b.css"), 200,
              "static /static/css/a b.css via /static/*");
    roundtrip(c, GET_("/static/"), 200, "static /static/ via /static/*");
    roundtrip(c, GET_("/static"), 404, NULL);
    roundtrip(c, GET_("/q?x=1&name=a%20b+c&name=2"), 200, "name=a b c");
    roundtrip(c, GET_("/q?x=1"), 200, "name=(none)");
    roundtrip(c, GET_("/q"), 200, "name=(none)");
    roundtrip(c, GET_("/q?name=%zz"), 200, "name=(none)");
    roundtrip(c, GET_("/"), 200, "root");
    /* Absolute-form targets route by their path. */
    roundtrip(c, GET_("http://t/users/9?x=1"), 200, "user=9");
    roundtrip(c, GET_("http://t"), 200, "root");
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(json_and_streaming)
{
    server s;
    client *c;
    resp r;

    server_start(&s, NULL, 2);
    c = cli_open(&s);
    cli_send(c, GET_("/json"));
    ck_assert(cli_read(c, &r, false));
    ck_assert_str_eq(r.body, "{\"message\":\"Hello, World!\"}");
    ck_assert(resp_header_is(&r, "Content-Type", "application/json"));
    resp_free(&r);
    cli_send(c, GET_("/stream"));
    ck_assert(cli_read(c, &r, false));
    ck_assert(resp_header_is(&r, "Transfer-Encoding", "chunked"));
    ck_assert_str_eq(r.body, "part1part2part3");
    resp_free(&r);
    cli_send(c, "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    ck_assert(cli_read(c, &r, true));
    ck_assert(resp_header_is(&r, "Transfer-Encoding", "chunked"));
    resp_free(&r);
    roundtrip(c, GET_("/plaintext"), 200, hello);
    /* HTTP/1.0 gets the stream delimited by the close. */
    cli_send(c, "GET /stream HTTP/1.0\r\n\r\n");
    ck_assert(cli_read(c, &r, false));
    ck_assert(!resp_has_header(&r, "Transfer-Encoding"));
    ck_assert(resp_header_is(&r, "Connection", "close"));
    ck_assert_str_eq(r.body, "part1part2part3");
    resp_free(&r);
    cli_close(c);
    server_stop(&s);
}
END_TEST

START_TEST(ipv6_and_access_log)
{
    gt_http_config cfg = {.host = "::1", .access_log = 1};
    char path[] = "/tmp/gt_access_XXXXXX", line[4096];
    int logfd = mkstemp(path), saved = dup(STDERR_FILENO);
    size_t n;
    server s;
    client *c;
    FILE *f;

    ck_assert_int_ge(logfd, 0);
    dup2(logfd, STDERR_FILENO);
    server_start(&s, &cfg, 2);
    c = cli_open_family(AF_INET6, s.port);
    roundtrip(c, GET_("/plaintext?x=1"), 200, hello);
    cli_close(c);
    server_stop(&s);
    dup2(saved, STDERR_FILENO);
    f = fdopen(logfd, "r");
    rewind(f);
    n = fread(line, 1, sizeof(line) - 1, f);
    line[n] = '\0';
    fclose(f);
    unlink(path);
    ck_assert_msg(strstr(line, " method=GET target=\"/plaintext?x=1\" "
                               "status=200 bytes=13 us="),
                  "log: %s", line);
}
END_TEST

START_TEST(api_misuse)
{
    gt_http_router *r;
    gt_http_server *srv;
    gt_http_config bad = {.port = 70000};
    gt_rt *rt;
    char *e;
    size_t n;

    ck_assert_int_eq(gt_http_router_new(&r), 0);
    ck_assert_int_eq(gt_http_router_add(r, "GET", "nope", h_root, NULL),
                     -EINVAL);
    ck_assert_int_eq(gt_http_router_add(r, "GET", "/a/*/b", h_root, NULL),
                     -EINVAL);
    ck_assert_int_eq(gt_http_router_add(r, "GET", "/a/:", h_root, NULL),
                     -EINVAL);
    ck_assert_int_eq(gt_http_router_add(r, "G T", "/a", h_root, NULL), -EINVAL);
    ck_assert_int_eq(gt_rt_new(&rt, NULL), 0);
    ck_assert_int_eq(
        gt_http_server_open(&srv, rt, &bad, gt_http_router_dispatch, r),
        -EINVAL);
    ck_assert_int_eq(gt_http_server_open(&srv, rt, NULL, NULL, r), -EINVAL);
    gt_rt_free(rt);
    gt_http_router_free(r);
    e = gt_http_escape_html_new("<a href=\"x\">&'", 14, &n);
    ck_assert_str_eq(e, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    ck_assert_uint_eq(n, strlen(e));
    free(e);
    ck_assert_str_eq(gt_http_reason(404), "Not Found");
}
END_TEST

void add_http_server_life_tests(Suite *s)
{
    TCase *tc = tcase_create("http_server_life");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, many_idle_connections);
    tcase_add_test(tc, local_destructor_before_next_request);
    tcase_add_test(tc, handler_deadline_504);
    tcase_add_test(tc, client_disconnect_cancels_handler);
    tcase_add_test(tc, graceful_shutdown);
    tcase_add_test(tc, signal_stops_gracefully);
    tcase_add_test(tc, max_conns_per_worker);
    tcase_add_test(tc, head_404_405);
    tcase_add_test(tc, handler_errors);
    tcase_add_test(tc, route_params_and_query);
    tcase_add_test(tc, json_and_streaming);
    tcase_add_test(tc, ipv6_and_access_log);
    tcase_add_test(tc, api_misuse);
    suite_add_tcase(s, tc);
}
