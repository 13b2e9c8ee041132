/* tests/server_fixture.c -- see server_fixture.h. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h" /* the worker's free lists, for /freelists */
#include "server_fixture.h"

/* ---- handlers ------------------------------------------------------------ */

atomic_int live_locals, hang_started, hang_cleaned, hang_rc;
atomic_int slow_started, big_rc;
static gt_local_key local_key;
static pthread_once_t local_once = PTHREAD_ONCE_INIT;

const char hello[] = "Hello, World!";

static int h_plaintext(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", "text/plain");
    gt_http_res_body_static(res, hello, sizeof(hello) - 1);
    return 0;
}

static int h_json(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_json(res, json_pack("{ss}", "message", hello));
}

static int h_echo(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *body;
    size_t len;
    int rc = gt_http_req_body(req, &body, &len);

    (void)arg;
    return rc < 0 ? rc : gt_http_res_body(res, body, len);
}

static int h_len(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *body;
    size_t len;
    int rc = gt_http_req_body(req, &body, &len);

    (void)arg;
    return rc < 0 ? rc : gt_http_res_printf(res, "len=%zu", len);
}

static int h_seq(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *i = gt_http_req_query(req, "i");

    (void)arg;
    return gt_http_res_printf(res, "%s", i ? i : "?");
}

static int h_query(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v = gt_http_req_query(req, "name");

    (void)arg;
    return gt_http_res_printf(res, "name=%s", v ? v : "(none)");
}

static int h_user(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *post = gt_http_req_param(req, "post");

    (void)arg;
    if (post)
        return gt_http_res_printf(res, "user=%s post=%s",
                                  gt_http_req_param(req, "id"), post);
    return gt_http_res_printf(res, "user=%s", gt_http_req_param(req, "id"));
}

static int h_static(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)arg;
    return gt_http_res_printf(res, "static %s via %s", gt_http_req_path(req),
                              gt_http_req_route(req));
}

static int h_header(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *v = gt_http_req_header(req, "x-TEST");

    (void)arg;
    for (int i = 0; i < 40; i++) { /* outgrow the inline header buffer */
        char name[16];

        snprintf(name, sizeof(name), "X-H%d", i);
        gt_http_res_header(res, name, "a-value-of-some-length-to-fill-it");
    }
    gt_http_res_header(res, "X-Reply", "yes");
    return gt_http_res_printf(res, "x-test=%s", v ? v : "(none)");
}

static int h_err(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_printf(res, "never sent");
    return -EIO;
}

static int h_pool(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return GT_EPOOL;
}

/* What a query returns when the database went away mid-request. */
static int h_db_gone(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return -ECONNRESET;
}

static int h_sleep(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return gt_sleep(10000);
}

static int h_late(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_sleep(10000);
    return gt_http_res_printf(res, "too late");
}

static void local_dtor(void *v)
{
    (void)v;
    gt_sleep(20); /* a destructor doing I/O, like a pool's rollback */
    atomic_fetch_sub(&live_locals, 1);
}

static void make_local_key(void)
{
    gt_local_key_new(&local_key, local_dtor);
}

static int h_local(gt_http_req *req, gt_http_res *res, void *arg)
{
    int before = atomic_load(&live_locals);

    (void)req, (void)arg;
    atomic_fetch_add(&live_locals, 1);
    gt_local_set(local_key, &live_locals);
    return gt_http_res_printf(res, "before=%d", before);
}

static void hang_cleanup(void *arg)
{
    (void)arg;
    atomic_store(&hang_cleaned, 1);
}

static int h_hang(gt_http_req *req, gt_http_res *res, void *arg)
{
    int rc;

    (void)req, (void)res, (void)arg;
    gt_co_defer(hang_cleanup, NULL);
    atomic_store(&hang_started, 1);
    rc = gt_sleep(60000);
    atomic_store(&hang_rc, rc);
    return rc;
}

static int h_slow(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    atomic_fetch_add(&slow_started, 1);
    gt_sleep(300);
    return gt_http_res_printf(res, "done");
}

/* /hold answers once 'hold_want' requests are in it at once (or after
 * 10 s); /freelists shows the length of its worker's free lists. */
atomic_int hold_in, hold_want;

static int h_hold(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    atomic_fetch_add(&hold_in, 1);
    for (int i = 0; i < 2000 && atomic_load(&hold_in) < atomic_load(&hold_want);
         i++)
        gt_sleep(5);
    return gt_http_res_printf(res, "held");
}

static int h_freelists(gt_http_req *req, gt_http_res *res, void *arg)
{
    const gt__http_worker *w = req->conn->w;

    (void)arg;
    return gt_http_res_printf(res, "%zu %zu", w->bufs.n, w->reqs.n);
}

static int h_stream(gt_http_req *req, gt_http_res *res, void *arg)
{
    static const char *parts[] = {"part1", "part2", "part3"};
    int rc = 0;

    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", "text/plain");
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = gt_http_res_write(res, parts[i], 5);
        if (rc == 0)
            rc = gt_yield();
    }
    return rc;
}

/* Streams up to 256 MiB in 64 KiB parts, for a client that never reads.
 * With ?fail=n, allocation n from the end of the first part on fails
 * (gt_alloc_fail()): the streaming path's own. */
static int h_big(gt_http_req *req, gt_http_res *res, void *arg)
{
    static char part[64 * 1024];
    int64_t fail = 0;
    int rc = gt_http_req_query_int64(req, "fail", &fail);

    (void)arg;
    if (rc != -ENOENT && rc < 0)
        return rc;
    rc = 0;
    for (int i = 0; i < 4096 && rc == 0; i++) {
        rc = gt_http_res_write(res, part, sizeof(part));
        if (i == 0 && fail > 0)
            gt_alloc_fail(fail, 0);
    }
    atomic_store(&big_rc, rc == 0 ? 1 : rc);
    return rc;
}

static int json_depth(const json_t *j)
{
    int deepest = 0;

    if (json_is_array(j))
        for (size_t i = 0; i < json_array_size(j); i++) {
            int d = json_depth(json_array_get(j, i));

            deepest = d > deepest ? d : deepest;
        }
    return json_is_array(j) ? deepest + 1 : 0;
}

/* Parses with jansson on the request coroutine's stack, as users do. */
static int h_json_depth(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *body;
    size_t len;
    json_error_t err;
    json_t *j;
    int rc = gt_http_req_body(req, &body, &len);

    (void)arg;
    if (rc < 0)
        return rc;
    j = json_loadb(body, len, 0, &err);
    if (!j) {
        gt_http_res_status(res, 400);
        return gt_http_res_printf(res, "bad json: %s", err.text);
    }
    rc = gt_http_res_printf(res, "depth=%d", json_depth(j));
    json_decref(j);
    return rc;
}

int h_root(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_printf(res, "root");
}

static gt_http_router *make_router(void)
{
    static const struct {
        const char *method, *pattern;
        gt_http_handler fn;
    } routes[] = {
        {"GET", "/", h_root},
        {"GET", "/plaintext", h_plaintext},
        {"GET", "/json", h_json},
        {"POST", "/echo", h_echo},
        {"POST", "/len", h_len},
        {"POST", "/json/depth", h_json_depth},
        {"GET", "/seq", h_seq},
        {"GET", "/q", h_query},
        {"GET", "/users/:id", h_user},
        {"GET", "/users/:id/posts/:post", h_user},
        {"GET", "/users/me", h_root},
        {"GET", "/static/*", h_static},
        {"GET", "/hdr", h_header},
        {NULL, "/err", h_err},
        {"GET", "/pool", h_pool},
        {"GET", "/dbgone", h_db_gone},
        {"GET", "/sleep", h_sleep},
        {"GET", "/late", h_late},
        {"GET", "/local", h_local},
        {"GET", "/hang", h_hang},
        {"GET", "/slow", h_slow},
        {"GET", "/stream", h_stream},
        {"GET", "/big", h_big},
        {"GET", "/hold", h_hold},
        {"GET", "/freelists", h_freelists},
        {"DELETE", "/plaintext", h_plaintext},
    };
    gt_http_router *r;

    ck_assert_int_eq(gt_http_router_new(&r), 0);
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        ck_assert_int_eq(gt_http_router_add(r, routes[i].method,
                                            routes[i].pattern, routes[i].fn,
                                            NULL),
                         0);
    return r;
}

/* ---- the server under test ----------------------------------------------- */

static void *run_rt(void *p)
{
    gt_rt_run(((server *)p)->rt);
    return NULL;
}

/* Open (bind) without starting the runtime yet. */
void server_open(server *s, const gt_http_config *cfg, int workers)
{
    gt_rt_config rc = {.workers = workers};

    pthread_once(&local_once, make_local_key);
    /* Handler observations start afresh (CK_FORK=no runs all tests in one
     * process). */
    atomic_store(&live_locals, 0);
    atomic_store(&hang_started, 0);
    atomic_store(&hang_cleaned, 0);
    atomic_store(&hang_rc, 0);
    atomic_store(&slow_started, 0);
    atomic_store(&big_rc, 0);
    memset(s, 0, sizeof(*s));
    ck_assert_int_eq(gt_rt_new(&s->rt, &rc), 0);
    s->router = make_router();
    ck_assert_int_eq(gt_http_server_open(&s->srv, s->rt, cfg,
                                         gt_http_router_dispatch, s->router),
                     0);
    s->port = gt_http_server_port(s->srv);
    ck_assert_int_gt(s->port, 0);
}

void server_run(server *s)
{
    ck_assert_int_eq(pthread_create(&s->thread, NULL, run_rt, s), 0);
    s->running = true;
}

void server_start(server *s, const gt_http_config *cfg, int workers)
{
    server_open(s, cfg, workers);
    server_run(s);
}

void server_stop(server *s)
{
    if (s->running) {
        gt_rt_stop(s->rt);
        pthread_join(s->thread, NULL);
    }
    gt_http_server_close(s->srv);
    gt_rt_free(s->rt);
    gt_http_router_free(s->router);
}

client *cli_open(const server *s)
{
    return cli_open_family(AF_INET, s->port);
}

/* One request on a fresh connection. */
void get(const server *s, const char *req, int status, const char *body)
{
    client *c = cli_open(s);

    roundtrip(c, req, status, body);
    cli_close(c);
}

bool wait_conns(server *s, uint64_t want, int ms)
{
    int64_t until = gt_now() + ms;
    gt_http_stats st;

    do {
        gt_http_server_get_stats(s->srv, &st);
        if (st.conns == want)
            return true;
        usleep(10000);
    } while (gt_now() < until);
    return false;
}
