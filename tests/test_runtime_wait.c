/* tests/test_runtime_wait.c -- fd waits on a socketpair and the blocking
 * offload: readiness, timeouts, cancellation, and proof that the loop keeps
 * running while a coroutine waits. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

typedef struct pair {
    int fd[2];
    int ticks;
    int stop;
} pair;

static void open_pair(pair *p)
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
    p->ticks = p->stop = 0;
}

static void close_pair(pair *p)
{
    close(p->fd[0]);
    close(p->fd[1]);
}

static int write_later(void *arg)
{
    pair *p = arg;

    ck_assert_int_eq(gt_sleep(20), 0);
    ck_assert_int_eq(write(p->fd[1], "x", 1), 1);
    return 0;
}

static int t_readable(void *arg)
{
    pair p;
    char c;

    (void)arg;
    open_pair(&p);
    ck_assert_int_eq(gt_wait_fd(p.fd[0], GT_WRITABLE, GT_NEVER), GT_WRITABLE);
    ck_assert_int_eq(gt_wait_fd(p.fd[0], GT_READABLE, gt_deadline_in(10)),
                     -ETIMEDOUT);
    ck_assert_int_eq(gt_co_spawn(NULL, write_later, &p), 0);
    ck_assert_int_eq(gt_wait_fd(p.fd[0], GT_READABLE, GT_NEVER), GT_READABLE);
    ck_assert_int_eq(read(p.fd[0], &c, 1), 1);
    ck_assert_int_eq(c, 'x');
    close_pair(&p);
    return 0;
}

START_TEST(wait_fd_readable_writable_and_timeout)
{
    ck_assert_int_eq(run_main(t_readable, NULL), 0);
}
END_TEST

static int wait_read(void *arg)
{
    return gt_wait_fd(((pair *)arg)->fd[0], GT_READABLE, GT_NEVER);
}

static int t_fd_cancel(void *arg)
{
    pair p;
    gt_co *co;
    int rc;

    (void)arg;
    open_pair(&p);
    ck_assert_int_eq(gt_co_spawn(&co, wait_read, &p), 0);
    ck_assert_int_eq(gt_yield(), 0);
    gt_co_cancel(co);
    ck_assert_int_eq(gt_co_join(co, &rc, GT_NEVER), 0);
    ck_assert_int_eq(rc, -ECANCELED);
    /* The fd is free for a new registration. */
    ck_assert_int_eq(gt_wait_fd(p.fd[0], GT_WRITABLE, GT_NEVER), GT_WRITABLE);
    close_pair(&p);
    return 0;
}

START_TEST(cancel_during_fd_wait)
{
    ck_assert_int_eq(run_main(t_fd_cancel, NULL), 0);
}
END_TEST

static int t_hangup(void *arg)
{
    pair p;
    char c;

    (void)arg;
    open_pair(&p);
    close(p.fd[1]);
    ck_assert_int_eq(gt_wait_fd(p.fd[0], GT_READABLE, GT_NEVER) & GT_READABLE,
                     GT_READABLE);
    ck_assert_int_eq(read(p.fd[0], &c, 1), 0);
    close(p.fd[0]);
    return 0;
}

START_TEST(peer_hangup_counts_as_readable)
{
    ck_assert_int_eq(run_main(t_hangup, NULL), 0);
}
END_TEST

static int echo_n(void *arg)
{
    pair *p = arg;
    gt_fdwatch w;
    char c;

    ck_assert_int_eq(gt_fdwatch_open(&w, p->fd[1]), 0);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(gt_fdwatch_wait(&w, GT_READABLE, GT_NEVER),
                         GT_READABLE);
        ck_assert_int_eq(read(p->fd[1], &c, 1), 1);
        ck_assert_int_eq(write(p->fd[1], &c, 1), 1);
    }
    gt_fdwatch_close(&w);
    return 0;
}

static int t_fdwatch(void *arg)
{
    pair p;
    gt_fdwatch w;
    gt_co *co;
    char c;

    (void)arg;
    open_pair(&p);
    ck_assert_int_eq(gt_co_spawn(&co, echo_n, &p), 0);
    ck_assert_int_eq(gt_fdwatch_open(&w, p.fd[0]), 0);
    for (int i = 0; i < 100; i++) {
        c = (char)i;
        ck_assert_int_eq(write(p.fd[0], &c, 1), 1);
        ck_assert_int_eq(gt_fdwatch_wait(&w, GT_READABLE, GT_NEVER),
                         GT_READABLE);
        ck_assert_int_eq(read(p.fd[0], &c, 1), 1);
        ck_assert_int_eq(c, (char)i);
    }
    gt_fdwatch_close(&w);
    gt_fdwatch_close(&w); /* idempotent */
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    close_pair(&p);
    return 0;
}

START_TEST(fdwatch_ping_pongs_between_coroutines)
{
    ck_assert_int_eq(run_main(t_fdwatch, NULL), 0);
}
END_TEST

static int t_refused(void *arg)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons(1),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
    socklen_t len = sizeof(err);

    (void)arg;
    ck_assert_int_ge(fd, 0);
    connect(fd, (struct sockaddr *)&sa, sizeof(sa)); /* EINPROGRESS */
    /* The error wakes the waiter as "ready"; the socket then tells. */
    ck_assert_int_eq(gt_wait_fd(fd, GT_WRITABLE, gt_deadline_in(5000)) &
                         GT_WRITABLE,
                     GT_WRITABLE);
    ck_assert_int_eq(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
    ck_assert_int_eq(err, ECONNREFUSED);
    close(fd);
    return 0;
}

START_TEST(socket_error_is_reported_as_ready)
{
    ck_assert_int_eq(run_main(t_refused, NULL), 0);
}
END_TEST

/* ---- blocking offload
 * ---------------------------------------------------------- */

static int ticker(void *arg)
{
    pair *p = arg;

    while (!p->stop) {
        if (gt_sleep(10) < 0)
            break;
        p->ticks++;
    }
    return 0;
}

static int block_200ms(void *arg)
{
    (void)arg;
    usleep(200 * 1000);
    return 99;
}

static int t_offload(void *arg)
{
    pair p = {.ticks = 0, .stop = 0};
    gt_co *tick;

    (void)arg;
    ck_assert_int_eq(gt_co_spawn(&tick, ticker, &p), 0);
    ck_assert_int_eq(gt_run_blocking(block_200ms, NULL, GT_NEVER), 99);
    p.stop = 1;
    ck_assert_int_eq(gt_co_join(tick, NULL, GT_NEVER), 0);
    /* ~20 ticks when the loop is free; 0 or 1 if the call had blocked it. */
    ck_assert_int_ge(p.ticks, 5);
    return 0;
}

START_TEST(blocking_offload_keeps_the_loop_ticking)
{
    ck_assert_int_eq(run_main(t_offload, NULL), 0);
}
END_TEST

static atomic_int ran_late;

static int block_long(void *arg)
{
    (void)arg;
    usleep(300 * 1000);
    return 1;
}

static int mark_ran(void *arg)
{
    (void)arg;
    atomic_store(&ran_late, 1);
    return 5;
}

static int run_long(void *arg)
{
    (void)arg;
    return gt_run_blocking(block_long, NULL, GT_NEVER);
}

static int t_offload_timeout(void *arg)
{
    gt_co *busy[4];
    int rc;

    (void)arg;
    /* Occupy the pool's 4 threads so the next job has to queue. */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_co_spawn(&busy[i], run_long, NULL), 0);
    ck_assert_int_eq(gt_sleep(50), 0);
    ck_assert_int_eq(gt_run_blocking(mark_ran, NULL, gt_deadline_in(20)),
                     -ETIMEDOUT);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(gt_co_join(busy[i], &rc, GT_NEVER), 0);
        ck_assert_int_eq(rc, 1);
    }
    ck_assert_int_eq(atomic_load(&ran_late), 0);
    /* Once a job runs it is seen through, even if cancelled meanwhile. */
    gt_co_cancel(gt_co_self());
    ck_assert_int_eq(gt_run_blocking(mark_ran, NULL, GT_NEVER), -ECANCELED);
    return 0;
}

START_TEST(queued_blocking_call_times_out_without_running)
{
    gt_rt_config cfg = {.workers = 1, .offload_threads = 4};

    ck_assert_int_eq(run_main_cfg(&cfg, t_offload_timeout, NULL), 0);
}
END_TEST

static int cancel_self_later(void *arg)
{
    gt_co *target = arg;

    ck_assert_int_eq(gt_sleep(30), 0);
    gt_co_cancel(target);
    return 0;
}

static int t_offload_running_cancel(void *arg)
{
    (void)arg;
    ck_assert_int_eq(gt_co_spawn(NULL, cancel_self_later, gt_co_self()), 0);
    /* Cancelled while its job runs: waits for it, returns its result. */
    ck_assert_int_eq(gt_run_blocking(block_200ms, NULL, GT_NEVER), 99);
    ck_assert(gt_co_cancelled(gt_co_self()));
    return 0;
}

START_TEST(running_blocking_call_is_seen_through_when_cancelled)
{
    ck_assert_int_eq(run_main(t_offload_running_cancel, NULL), 0);
}
END_TEST

/* ---- gt_run_thread: a call the caller may stop waiting for --------------- */

/* A side call that blocks until the test releases it through a pipe. */
typedef struct gate {
    int fd[2];
    atomic_int ran, done;
} gate;

static gate the_gate;

static void gate_open(gate *g)
{
    ck_assert_int_eq(pipe(g->fd), 0);
    atomic_store(&g->ran, 0);
    atomic_store(&g->done, 0);
}

static int wait_at_gate(void *arg)
{
    gate *g = arg;
    char c;

    atomic_store(&g->ran, 1);
    return read(g->fd[0], &c, 1) == 1 ? 42 : -EIO;
}

static void gate_done(void *arg)
{
    atomic_store(&((gate *)arg)->done, 1);
}

static void gate_release_and_settle(gate *g)
{
    ck_assert_int_eq(write(g->fd[1], "x", 1), 1);
    for (int i = 0; i < 2000 && !atomic_load(&g->done); i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&g->done), 1); /* done(arg) always runs */
    close(g->fd[0]);
    close(g->fd[1]);
}

static int release_later(void *arg)
{
    ck_assert_int_eq(gt_sleep(20), 0);
    ck_assert_int_eq(write(((gate *)arg)->fd[1], "x", 1), 1);
    return 0;
}

static int t_thread_result(void *arg)
{
    gate *g = arg;

    ck_assert_int_eq(gt_co_spawn(NULL, release_later, g), 0);
    return gt_run_thread(wait_at_gate, g, gate_done, GT_NEVER);
}

START_TEST(thread_call_returns_its_result)
{
    gate_open(&the_gate);
    ck_assert_int_eq(run_main(t_thread_result, &the_gate), 42);
    for (int i = 0; i < 2000 && !atomic_load(&the_gate.done); i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&the_gate.done), 1);
    close(the_gate.fd[0]);
    close(the_gate.fd[1]);
}
END_TEST

static int t_thread_deadline(void *arg)
{
    gate *g = arg;

    /* The call blocks until after the runtime is gone; the caller leaves
     * at its deadline, and the worker stops without waiting for it. */
    return gt_run_thread(wait_at_gate, g, gate_done, gt_deadline_in(30));
}

START_TEST(thread_call_can_be_abandoned_and_never_holds_up_a_stop)
{
    gate_open(&the_gate);
    ck_assert_int_eq(run_main(t_thread_deadline, &the_gate), -ETIMEDOUT);
    ck_assert_int_eq(atomic_load(&the_gate.ran), 1);
    ck_assert_int_eq(atomic_load(&the_gate.done), 0); /* still blocked */
    gate_release_and_settle(&the_gate);
}
END_TEST

static int t_thread_cancelled(void *arg)
{
    gt_co_cancel(gt_co_self());
    return gt_run_thread(wait_at_gate, arg, gate_done, GT_NEVER);
}

START_TEST(thread_call_from_a_cancelled_caller_still_runs)
{
    gate_open(&the_gate);
    ck_assert_int_eq(run_main(t_thread_cancelled, &the_gate), -ECANCELED);
    for (int i = 0; i < 2000 && !atomic_load(&the_gate.ran); i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&the_gate.ran), 1); /* fire and forget */
    gate_release_and_settle(&the_gate);
}
END_TEST

void add_runtime_wait_tests(Suite *s)
{
    TCase *tc = tcase_create("wait");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, wait_fd_readable_writable_and_timeout);
    tcase_add_test(tc, cancel_during_fd_wait);
    tcase_add_test(tc, peer_hangup_counts_as_readable);
    tcase_add_test(tc, fdwatch_ping_pongs_between_coroutines);
    tcase_add_test(tc, socket_error_is_reported_as_ready);
    tcase_add_test(tc, blocking_offload_keeps_the_loop_ticking);
    tcase_add_test(tc, queued_blocking_call_times_out_without_running);
    tcase_add_test(tc, running_blocking_call_is_seen_through_when_cancelled);
    tcase_add_test(tc, thread_call_returns_its_result);
    tcase_add_test(tc, thread_call_can_be_abandoned_and_never_holds_up_a_stop);
    tcase_add_test(tc, thread_call_from_a_cancelled_caller_still_runs);
    suite_add_tcase(s, tc);
}
