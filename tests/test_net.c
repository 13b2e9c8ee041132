/* tests/test_net.c -- yielding TCP and name lookups, against loopback
 * servers written with the same API.
 *
 * Each test runs on a one-worker runtime (two for the cross-worker one):
 * the servers are coroutines of the same worker as the clients, so a call
 * that blocked the loop would hang its own peer and fail by Check's
 * timeout. Nothing measures time: deadlines are only ever expected to
 * pass where nothing else can happen (a peer that never writes). */
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

#define BIG (4 << 20)

static gt_tcp_listener *listen_any(void)
{
    gt_tcp_listener *l;

    ck_assert_int_eq(gt_tcp_listen(&l, "127.0.0.1", 0, 0), 0);
    ck_assert_int_gt(gt_tcp_listener_port(l), 0);
    return l;
}

/* ---- an echo server ------------------------------------------------------ */

/* Echo one connection until its end of stream, then close gracefully. */
static int echo_conn(void *arg)
{
    gt_tcp *c = arg;
    char buf[16384];
    ssize_t n;
    int rc = 0;

    while ((n = gt_tcp_read(c, buf, sizeof(buf), GT_NEVER)) > 0) {
        rc = gt_tcp_write_all(c, buf, (size_t)n, GT_NEVER);
        if (rc < 0)
            break;
    }
    if (n < 0)
        rc = (int)n;
    ck_assert_int_eq(gt_tcp_close(c, gt_deadline_in(10000)), 0);
    return rc;
}

/* Accept 'n' connections and echo each (in turn). */
typedef struct echo_srv {
    gt_tcp_listener *l;
    int n;
} echo_srv;

static int echo_server(void *arg)
{
    echo_srv *s = arg;
    gt_tcp *c;

    for (int i = 0; i < s->n; i++) {
        ck_assert_int_eq(gt_tcp_accept(s->l, &c, GT_NEVER), 0);
        ck_assert_int_eq(echo_conn(c), 0);
    }
    return 0;
}

typedef struct sink {
    gt_tcp *c;
    char *buf;
} sink;

static int read_big(void *arg)
{
    sink *k = arg;

    return gt_tcp_read_exactly(k->c, k->buf, BIG, GT_NEVER);
}

static int body_echo(void *arg)
{
    echo_srv srv = {listen_any(), 1};
    char *out = malloc(BIG), *in = malloc(BIG), tail;
    gt_co *server, *reader;
    sink k;
    gt_tcp *c;
    int rc;

    (void)arg;
    ck_assert(out && in);
    for (int i = 0; i < BIG; i++)
        out[i] = (char)(i * 7 + i / 4096);
    ck_assert_int_eq(gt_co_spawn(&server, echo_server, &srv), 0);
    ck_assert_int_eq(
        gt_tcp_connect(&c, "127.0.0.1", gt_tcp_listener_port(srv.l), GT_NEVER),
        0);
    ck_assert_int_ge(gt_tcp_fd(c), 0);
    /* Full duplex: one coroutine reads while this one writes; 4 MiB is
     * far more than the socket buffers hold, so neither could finish
     * alone. */
    k = (sink){c, in};
    ck_assert_int_eq(gt_co_spawn(&reader, read_big, &k), 0);
    ck_assert_int_eq(gt_tcp_write_all(c, out, BIG, GT_NEVER), 0);
    ck_assert_int_eq(gt_co_join(reader, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(memcmp(in, out, BIG), 0);
    /* Our end of stream reaches the server, which closes: we read 0. */
    ck_assert_int_eq(gt_tcp_shutdown(c, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(gt_tcp_read(c, &tail, 1, GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_read_exactly(c, &tail, 1, GT_NEVER), -EPIPE);
    ck_assert_int_eq(gt_tcp_close(c, 0), 0);
    ck_assert_int_eq(gt_co_join(server, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(gt_tcp_listener_close(srv.l), 0);
    ck_assert_int_eq(gt_tcp_close(NULL, 0), 0);
    ck_assert_int_eq(gt_tcp_listener_close(NULL), 0);
    free(out);
    free(in);
    return 0;
}

START_TEST(echo_4mib_full_duplex_then_shutdown)
{
    ck_assert_int_eq(run_main(body_echo, NULL), 0);
}
END_TEST

/* By name: "localhost" goes through the DNS pool; a literal does not. */
static int body_by_name(void *arg)
{
    echo_srv srv = {listen_any(), 2};
    gt_rt_thread_stats before, after;
    struct addrinfo *ai;
    gt_co *server;
    gt_tcp *c;
    char buf[5];
    int port = gt_tcp_listener_port(srv.l);

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&server, echo_server, &srv), 0);
    ck_assert_int_eq(
        gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DNS, &before), 0);
    ck_assert_int_eq(gt_tcp_connect(&c, "localhost", port, GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_write_all(c, "hello", 5, GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_read_exactly(c, buf, 5, GT_NEVER), 0);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_int_eq(gt_tcp_close(c, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(
        gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DNS, &after), 0);
    ck_assert_uint_eq(after.done, before.done + 1);
    ck_assert_int_eq(gt_tcp_connect(&c, "127.0.0.1", port, GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_close(c, gt_deadline_in(10000)), 0);
    ck_assert_int_eq(
        gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DNS, &before), 0);
    ck_assert_uint_eq(before.done, after.done);
    /* Literals of both families, converted inline. */
    ck_assert_int_eq(gt_net_resolve("::1", 80, &ai, GT_NEVER), 0);
    ck_assert_int_eq(ai->ai_family, AF_INET6);
    ck_assert_int_eq(ai->ai_socktype, SOCK_STREAM);
    ck_assert_int_eq(ntohs(((struct sockaddr_in6 *)ai->ai_addr)->sin6_port),
                     80);
    freeaddrinfo(ai);
    ck_assert_int_eq(gt_net_resolve("127.0.0.1", 0, &ai, GT_NEVER), 0);
    ck_assert_int_eq(ai->ai_family, AF_INET);
    freeaddrinfo(ai);
    ck_assert_int_eq(gt_co_join(server, NULL, GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_listener_close(srv.l), 0);
    return 0;
}

START_TEST(connect_by_name_and_by_literal)
{
    ck_assert_int_eq(run_main(body_by_name, NULL), 0);
}
END_TEST

/* ---- errors of lookups, connects and listeners ----------------------------
 */

static int body_errors(void *arg)
{
    struct addrinfo *ai = (struct addrinfo *)1;
    gt_tcp_listener *l, *l2;
    gt_tcp *c = (gt_tcp *)1;
    int rc;

    (void)arg;
    ck_assert_int_eq(gt_net_resolve(NULL, 80, &ai, GT_NEVER), -EINVAL);
    ck_assert_ptr_null(ai);
    ck_assert_int_eq(gt_net_resolve("", 80, &ai, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_net_resolve("localhost", -1, &ai, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_net_resolve("localhost", 65536, &ai, GT_NEVER),
                     -EINVAL);
    rc = gt_net_resolve("no-such-host.invalid", 80, &ai, gt_deadline_in(20000));
    ck_assert_msg(rc == UV_EAI_NONAME || rc == UV_EAI_AGAIN,
                  "no-such-host.invalid: %s", gt_strerror(rc));
    ck_assert_ptr_null(ai);
    ck_assert_int_eq(
        gt_tcp_connect(&c, "no-such-host.invalid", 80, gt_deadline_in(20000)),
        rc);
    ck_assert_ptr_null(c);
    /* Nobody listens on a free port. */
    ck_assert_int_eq(
        gt_tcp_connect(&c, "127.0.0.1", test_free_port(), GT_NEVER),
        -ECONNREFUSED);
    ck_assert_ptr_null(c);
    /* Listeners: literals only, valid ports, one per address. */
    ck_assert_int_eq(gt_tcp_listen(&l, "localhost", 0, 0), -EINVAL);
    ck_assert_int_eq(gt_tcp_listen(&l, "127.0.0.1", 65536, 0), -EINVAL);
    ck_assert_int_eq(gt_tcp_listen(&l, "127.0.0.1", -1, 0), -EINVAL);
    ck_assert_int_eq(gt_tcp_listen(&l, "::1", 0, 4), 0);
    ck_assert_int_gt(gt_tcp_listener_port(l), 0);
    ck_assert_int_eq(gt_tcp_listener_close(l), 0);
    l = listen_any();
    ck_assert_int_eq(
        gt_tcp_listen(&l2, "127.0.0.1", gt_tcp_listener_port(l), 0),
        -EADDRINUSE);
    ck_assert_ptr_null(l2);
    /* Nobody connects. */
    ck_assert_int_eq(gt_tcp_accept(l, &c, gt_deadline_in(5)), -ETIMEDOUT);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(gt_tcp_listener_close(l), 0);
    return 0;
}

START_TEST(lookup_connect_and_listen_errors)
{
    ck_assert_int_eq(run_main(body_errors, NULL), 0);
}
END_TEST

START_TEST(outside_a_worker_is_einval)
{
    struct addrinfo *ai;
    gt_tcp_listener *l;
    gt_tcp *c;

    ck_assert_int_eq(gt_net_resolve("localhost", 1, &ai, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_tcp_connect(&c, "127.0.0.1", 1, GT_NEVER), -EINVAL);
    ck_assert_int_eq(gt_tcp_listen(&l, "127.0.0.1", 0, 0), -EINVAL);
}
END_TEST

/* ---- deadlines, cancellation, busy slots ----------------------------------
 */

/* A peer that accepts and then does nothing until told. */
typedef struct mute {
    gt_tcp_listener *l;
    gt_tcp *c; /* the accepted connection */
    gt_sem go; /* released by the test: close c */
} mute;

static int mute_server(void *arg)
{
    mute *m = arg;

    ck_assert_int_eq(gt_tcp_accept(m->l, &m->c, GT_NEVER), 0);
    ck_assert_int_eq(gt_sem_acquire(&m->go, GT_NEVER), 0);
    return gt_tcp_close(m->c, 0);
}

static int read_forever(void *arg)
{
    char b;

    return (int)gt_tcp_read(arg, &b, 1, GT_NEVER);
}

static int body_waits(void *arg)
{
    mute m = {.l = listen_any()};
    gt_co *server, *reader;
    gt_tcp *c;
    char b;
    int rc;

    (void)arg;
    gt_sem_init(&m.go, 0);
    ck_assert_int_eq(gt_co_spawn(&server, mute_server, &m), 0);
    ck_assert_int_eq(
        gt_tcp_connect(&c, "127.0.0.1", gt_tcp_listener_port(m.l), GT_NEVER),
        0);
    /* Nothing comes: the deadline ends the read. */
    ck_assert_int_eq(gt_tcp_read(c, &b, 1, gt_deadline_in(5)), -ETIMEDOUT);
    ck_assert_int_eq(gt_tcp_read(c, &b, 1, 0), -ETIMEDOUT);
    ck_assert_int_eq(gt_tcp_read_exactly(c, &b, 1, gt_deadline_in(5)),
                     -ETIMEDOUT);
    ck_assert_int_eq(gt_tcp_read(c, &b, 0, GT_NEVER), 0);
    /* One reader at a time; closing under it is refused. */
    ck_assert_int_eq(gt_co_spawn(&reader, read_forever, c), 0);
    ck_assert_int_eq(gt_yield(), 0);
    ck_assert_int_eq(gt_tcp_read(c, &b, 1, GT_NEVER), -EBUSY);
    ck_assert_int_eq(gt_tcp_close(c, 0), -EBUSY);
    /* A write is not a read: it goes through meanwhile. */
    ck_assert_int_eq(gt_tcp_write_all(c, "x", 1, GT_NEVER), 0);
    gt_co_cancel(reader);
    ck_assert_int_eq(gt_co_join(reader, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    /* The peer closes: the end of stream, and writes fail. */
    gt_sem_release(&m.go);
    ck_assert_int_eq(gt_co_join(server, &rc, GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_read(c, &b, 1, GT_NEVER), -ECONNRESET);
    ck_assert_int_eq(gt_tcp_close(c, 0), 0);
    ck_assert_int_eq(gt_tcp_listener_close(m.l), 0);
    return 0;
}

START_TEST(read_deadline_cancel_busy_and_peer_reset)
{
    ck_assert_int_eq(run_main(body_waits, NULL), 0);
}
END_TEST

/* The peer does not read: write_all and shutdown end at their deadline
 * with bytes unsent / unacknowledged; once it reads, both complete. */
static int drain_after(void *arg)
{
    mute *m = arg;
    char buf[65536];
    ssize_t n;

    ck_assert_int_eq(gt_sem_acquire(&m->go, GT_NEVER), 0);
    while ((n = gt_tcp_read(m->c, buf, sizeof(buf), GT_NEVER)) > 0)
        ;
    ck_assert_int_eq(n, 0);
    return gt_tcp_close(m->c, 0);
}

static int accept_then_drain(void *arg)
{
    mute *m = arg;

    ck_assert_int_eq(gt_tcp_accept(m->l, &m->c, GT_NEVER), 0);
    return drain_after(m);
}

static int body_backpressure(void *arg)
{
    mute m = {.l = listen_any()};
    size_t n = 64 << 20;
    char *junk = calloc(1, n);
    gt_co *server;
    gt_tcp *c;
    int rc;

    (void)arg;
    ck_assert_ptr_nonnull(junk);
    gt_sem_init(&m.go, 0);
    ck_assert_int_eq(gt_co_spawn(&server, accept_then_drain, &m), 0);
    ck_assert_int_eq(
        gt_tcp_connect(&c, "127.0.0.1", gt_tcp_listener_port(m.l), GT_NEVER),
        0);
    /* 64 MiB cannot fit the socket buffers of a peer that does not read. */
    ck_assert_int_eq(gt_tcp_write_all(c, junk, n, gt_deadline_in(50)),
                     -ETIMEDOUT);
    ck_assert_int_eq(gt_tcp_shutdown(c, gt_deadline_in(50)), -ETIMEDOUT);
    ck_assert_int_eq(gt_tcp_write_all(c, "x", 1, GT_NEVER), -EPIPE);
    gt_sem_release(&m.go);
    ck_assert_int_eq(gt_tcp_shutdown(c, GT_NEVER), 0);
    ck_assert_int_eq(gt_co_join(server, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(gt_tcp_close(c, 0), 0);
    ck_assert_int_eq(gt_tcp_listener_close(m.l), 0);
    free(junk);
    return 0;
}

START_TEST(write_and_shutdown_deadlines_with_a_peer_that_does_not_read)
{
    ck_assert_int_eq(run_main(body_backpressure, NULL), 0);
}
END_TEST

/* ---- graceful close ---------------------------------------------------- */

/* The server answers without reading the request, then closes. Lingering
 * keeps the unread request from turning the close into a reset, and
 * ends when the client closes; a client that never closes makes it time
 * out. */
typedef struct answer {
    gt_tcp_listener *l;
    int64_t linger_ms;
    int close_rc;
} answer;

static int answer_unread(void *arg)
{
    answer *a = arg;
    gt_tcp *c;

    ck_assert_int_eq(gt_tcp_accept(a->l, &c, GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_write_all(c, "reply", 5, GT_NEVER), 0);
    a->close_rc = gt_tcp_close(c, gt_deadline_in(a->linger_ms));
    return 0;
}

static int body_linger(void *arg)
{
    answer a = {listen_any(), 10000, 1};
    char buf[8];
    gt_co *server;
    gt_tcp *c;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&server, answer_unread, &a), 0);
    ck_assert_int_eq(
        gt_tcp_connect(&c, "127.0.0.1", gt_tcp_listener_port(a.l), GT_NEVER),
        0);
    ck_assert_int_eq(gt_tcp_write_all(c, "request", 7, GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_read_exactly(c, buf, 5, GT_NEVER), 0);
    ck_assert_int_eq(memcmp(buf, "reply", 5), 0);
    ck_assert_int_eq(gt_tcp_read(c, buf, sizeof(buf), GT_NEVER), 0);
    ck_assert_int_eq(gt_tcp_close(c, 0), 0);
    ck_assert_int_eq(gt_co_join(server, NULL, GT_NEVER), 0);
    ck_assert_int_eq(a.close_rc, 0);
    /* Now a client that reads the reply but keeps its side open. */
    a.linger_ms = 20;
    ck_assert_int_eq(gt_co_spawn(&server, answer_unread, &a), 0);
    ck_assert_int_eq(
        gt_tcp_connect(&c, "127.0.0.1", gt_tcp_listener_port(a.l), GT_NEVER),
        0);
    ck_assert_int_eq(gt_tcp_read_exactly(c, buf, 5, GT_NEVER), 0);
    ck_assert_int_eq(gt_co_join(server, NULL, GT_NEVER), 0);
    ck_assert_int_eq(a.close_rc, -ETIMEDOUT);
    ck_assert_int_eq(gt_tcp_close(c, 0), 0);
    ck_assert_int_eq(gt_tcp_listener_close(a.l), 0);
    return 0;
}

START_TEST(close_lingers_until_the_peer_closes_or_the_deadline)
{
    ck_assert_int_eq(run_main(body_linger, NULL), 0);
}
END_TEST

/* ---- the DNS pool: a stuck lookup holds nobody past the deadline ------- */

static atomic_int stuck_open, stuck_disposed;

static int stuck_lookup(void *arg)
{
    (void)arg;
    while (!atomic_load(&stuck_open))
        usleep(1000);
    return 0;
}

static void count_disposed(void *arg)
{
    (void)arg;
    atomic_fetch_add(&stuck_disposed, 1);
}

static int hold_dns(void *arg)
{
    int ignored;

    (void)arg;
    return gt_run_detached(GT_THREADS_DNS, stuck_lookup, NULL, count_disposed,
                           GT_NEVER, &ignored);
}

static int body_dns_stuck(void *arg)
{
    gt_rt_thread_stats st;
    struct addrinfo *ai;
    gt_co *holder;
    int rc;

    (void)arg;
    /* The one DNS thread is stuck; its caller, cancelled, leaves. */
    ck_assert_int_eq(gt_co_spawn(&holder, hold_dns, NULL), 0);
    do {
        ck_assert_int_eq(gt_sleep(1), 0);
        ck_assert_int_eq(
            gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DNS, &st), 0);
    } while (st.running == 0);
    gt_co_cancel(holder);
    ck_assert_int_eq(gt_co_join(holder, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    ck_assert_int_eq(atomic_load(&stuck_disposed), 0);
    ck_assert_int_eq(gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DNS, &st),
                     0);
    ck_assert_int_eq(st.running, 1);
    /* A lookup queued behind it times out without running. */
    ck_assert_int_eq(gt_net_resolve("localhost", 80, &ai, gt_deadline_in(5)),
                     -ETIMEDOUT);
    ck_assert_ptr_null(ai);
    ck_assert_int_eq(gt_rt_get_thread_stats(gt_rt_self(), GT_THREADS_DNS, &st),
                     0);
    ck_assert_int_eq(st.queued, 0);
    /* A cancelled or late caller does not even queue. */
    ck_assert_int_eq(gt_net_resolve("localhost", 80, &ai, 0), -ETIMEDOUT);
    /* Unstuck: the pool thread disposes of the abandoned call, and
     * lookups work again. */
    atomic_store(&stuck_open, 1);
    while (atomic_load(&stuck_disposed) == 0)
        ck_assert_int_eq(gt_sleep(1), 0);
    ck_assert_int_eq(gt_net_resolve("localhost", 80, &ai, GT_NEVER), 0);
    freeaddrinfo(ai);
    gt_co_cancel(gt_co_self());
    ck_assert_int_eq(gt_net_resolve("localhost", 80, &ai, GT_NEVER),
                     -ECANCELED);
    return 0;
}

START_TEST(stuck_lookup_holds_nobody_past_the_deadline)
{
    gt_rt_config cfg = {.workers = 1, .dns_threads = 1};

    ck_assert_int_eq(run_main_cfg(&cfg, body_dns_stuck, NULL), 0);
}
END_TEST

/* ---- another worker's stream -------------------------------------------- */

typedef struct foreign {
    gt_tcp *c;
    gt_tcp_listener *l;
    atomic_int rc[5];
    atomic_int done;
} foreign;

static int use_from_worker_1(void *arg)
{
    foreign *f = arg;
    gt_tcp *c;
    char b;

    atomic_store(&f->rc[0], (int)gt_tcp_read(f->c, &b, 1, 0));
    atomic_store(&f->rc[1], gt_tcp_write_all(f->c, "x", 1, 0));
    atomic_store(&f->rc[2], gt_tcp_shutdown(f->c, 0));
    atomic_store(&f->rc[3], gt_tcp_close(f->c, 0));
    atomic_store(&f->rc[4], gt_tcp_accept(f->l, &c, 0));
    atomic_store(&f->done, 1);
    return 0;
}

static int body_foreign(void *arg)
{
    foreign f = {.l = listen_any()};
    gt_tcp *server_side;

    (void)arg;
    ck_assert_int_eq(gt_worker_id(), 0);
    ck_assert_int_eq(
        gt_tcp_connect(&f.c, "127.0.0.1", gt_tcp_listener_port(f.l), GT_NEVER),
        0);
    ck_assert_int_eq(gt_tcp_accept(f.l, &server_side, GT_NEVER), 0);
    ck_assert_int_eq(gt_rt_post(gt_rt_self(), 1, use_from_worker_1, &f), 0);
    while (!atomic_load(&f.done))
        ck_assert_int_eq(gt_sleep(1), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(atomic_load(&f.rc[i]), -EXDEV);
    ck_assert_int_eq(gt_tcp_listener_close(f.l), 0);
    ck_assert_int_eq(gt_tcp_close(f.c, 0), 0);
    ck_assert_int_eq(gt_tcp_close(server_side, 0), 0);
    return 0;
}

START_TEST(another_workers_stream_is_exdev)
{
    gt_rt_config cfg = {.workers = 2};

    ck_assert_int_eq(run_main_cfg(&cfg, body_foreign, NULL), 0);
}
END_TEST

/* ---- out of memory ---------------------------------------------------------
 */

/* Fail each allocation of a listen, a connect by name and an accept in
 * turn: each call fails with -ENOMEM and leaks nothing (ASan's leak check
 * at exit), or succeeds. */
static int one_round(void)
{
    gt_tcp_listener *l;
    gt_tcp *c, *s;
    int rc = gt_tcp_listen(&l, "127.0.0.1", 0, 0);

    if (rc < 0)
        return rc;
    rc = gt_tcp_connect(&c, "localhost", gt_tcp_listener_port(l), GT_NEVER);
    if (rc == 0) {
        rc = gt_tcp_accept(l, &s, GT_NEVER);
        if (rc == 0)
            gt_tcp_close(s, 0);
        gt_tcp_close(c, 0);
    }
    gt_tcp_listener_close(l);
    return rc;
}

static int body_oom(void *arg)
{
    int failed = 0;

    (void)arg;
    for (long n = 1; n < 100; n++) {
        long made;
        int rc;

        gt_alloc_fail(n, 0);
        rc = one_round();
        made = gt_alloc_fail(0, 0);
        ck_assert_msg(rc == 0 || rc == -ENOMEM, "allocation %ld: %s", n,
                      gt_strerror(rc));
        failed += rc == -ENOMEM;
        if (made < n)
            break;
    }
    ck_assert_int_ge(failed, 4); /* listener, lookup, host, job, stream */
    ck_assert_int_eq(one_round(), 0);
    return 0;
}

START_TEST(every_allocation_failure_is_enomem)
{
    ck_assert_int_eq(run_main(body_oom, NULL), 0);
}
END_TEST

void add_net_tests(Suite *s)
{
    TCase *tc = tcase_create("net");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, echo_4mib_full_duplex_then_shutdown);
    tcase_add_test(tc, connect_by_name_and_by_literal);
    tcase_add_test(tc, lookup_connect_and_listen_errors);
    tcase_add_test(tc, outside_a_worker_is_einval);
    tcase_add_test(tc, read_deadline_cancel_busy_and_peer_reset);
    tcase_add_test(tc,
                   write_and_shutdown_deadlines_with_a_peer_that_does_not_read);
    tcase_add_test(tc, close_lingers_until_the_peer_closes_or_the_deadline);
    tcase_add_test(tc, stuck_lookup_holds_nobody_past_the_deadline);
    tcase_add_test(tc, another_workers_stream_is_exdev);
    tcase_add_test(tc, every_allocation_failure_is_enomem);
    suite_add_tcase(s, tc);
}
