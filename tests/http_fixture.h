/* tests/http_fixture.h -- a server and its client in one runtime, for the
 * tests of the request API through real loopback sockets.
 *
 * One worker runs both: the test's client coroutine talks to the server
 * with httpc (tests/httpc.h) while the same loop accepts and answers, so a
 * test is straight-line code with no threads, and its handlers can report
 * what they saw in the response body, which the client then checks. */
#ifndef GT_TESTS_HTTP_FIXTURE_H
#define GT_TESTS_HTTP_FIXTURE_H

#include "httpc.h"
#include "util.h"

/* The client side of a test: runs in a coroutine with 'c' set up for the
 * server (not yet connected). */
typedef void (*fx_client_fn)(httpc *c, void *arg);

/* Start a one-worker runtime, open a server on 127.0.0.1 and a free port
 * that dispatches to 'router' with 'cfg' (NULL: defaults; host and port
 * are overridden), run fn(c, arg), then stop the server and the runtime.
 * Fails the test if any of that fails. */
void fx_run(gt_http_router *router, const gt_http_config *cfg, fx_client_fn fn,
            void *arg);

/* A router with the given routes (method NULL: any), or a failed test. */
typedef struct fx_route {
    const char *method, *pattern;
    gt_http_handler fn;
} fx_route;
gt_http_router *fx_router(const fx_route *routes, size_t n);

/* Send raw[0..n) and read one response into *res (free it with
 * httpc_res_free()); connects first if needed. Fails the test on a socket
 * or framing error. */
void fx_send(httpc *c, const char *raw, size_t n, httpc_res *res);

/* A GET of 'target', as fx_send. */
void fx_get(httpc *c, const char *target, httpc_res *res);

/* Assert the status and the exact body of a response, then free it. */
void fx_expect(httpc_res *res, int status, const char *body);

#endif
