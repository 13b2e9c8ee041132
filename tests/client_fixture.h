/* tests/client_fixture.h -- greentor's own server for the outbound client
 * tests (test_client.c), run on the same runtime as the test's body.
 *
 * with_server() makes a runtime, opens a server on 127.0.0.1 (an ephemeral
 * port) on it, and runs the body as a coroutine of worker 0 of the same
 * runtime: the client's transfers and the server's connections share the
 * worker's loop, so a call that blocked the loop would hang its own server
 * and fail the test by Check's timeout. The runtime stops when the body
 * returns, which also runs the client's stop hook.
 *
 * Routes: /hello, /echo (any method: method, body and Content-Type back),
 * /headers, /big?n=, /chunked?n=, /hang (parks until cancelled), /redirect,
 * /loop (redirects to itself), /seq, /proxy (fetches /hang itself). */
#ifndef GT_TESTS_CLIENT_FIXTURE_H
#define GT_TESTS_CLIENT_FIXTURE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "greentor.h"

typedef struct fixture {
    gt_rt *rt;
    gt_http_server *srv;
    gt_http_router *router;
    int port;
    gt_co_fn body;
} fixture;

/* The running test's server. */
extern fixture fx;
/* /hang: started, and its wait's result; /proxy: its fetch's result (1
 * until it has one). Reset by with_server(). */
extern atomic_int cl_hang_started, cl_hang_rc, cl_proxy_rc;

/* Run body(&fx) on worker 0 of a new runtime of 'workers' workers, with
 * the server open; stop and free everything after. */
void with_server(gt_co_fn body, int workers);
/* "http://127.0.0.1:<port><path>" in buf. */
const char *url(char *buf, size_t cap, const char *path);
/* The same in a buffer per call site. */
#define URL(path) url((char[256]){0}, 256, (path))
/* The server's accepted-connections count and open connections. */
uint64_t accepted(void);
uint64_t open_conns(void);
/* GET the server's 'path'. */
int get_path(const char *path, gt_http_response **out, int64_t deadline);

#endif
