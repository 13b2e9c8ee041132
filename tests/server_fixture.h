/* tests/server_fixture.h -- the HTTP server under test on a thread of its
 * own, for the http_server cases, with the handlers they share.
 *
 * Each case starts a runtime on a background thread with a server on an
 * ephemeral port dispatching to the router below, and talks to it from
 * the test thread with the blocking client (blocking_client.h). Handlers
 * report what they saw through the atomics declared here; server_open()
 * zeroes them (CK_FORK=no runs every case in one process).
 *
 * Routes: /plaintext /json /echo /len /seq /query /user/:id /static/
 * * /header /err /pool /db_gone /sleep /late /local /hang /slow /hold
 * /freelists /stream /big /json_depth and / (test_http_server.c's cases
 * show what each answers). */
#ifndef GT_TESTS_SERVER_FIXTURE_H
#define GT_TESTS_SERVER_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "blocking_client.h"
#include "greentor.h"

typedef struct server {
    gt_rt *rt;
    gt_http_server *srv;
    gt_http_router *router;
    pthread_t thread;
    int port;
    bool running;
} server;

extern const char hello[]; /* what /plaintext answers */
/* /local: coroutine-locals alive; /hang: started, cleaned up, its wait's
 * result; /slow: started; /big: the result of its write; /hold: requests
 * inside it, and how many it waits for. */
extern atomic_int live_locals, hang_started, hang_cleaned, hang_rc;
extern atomic_int slow_started, big_rc;
extern atomic_int hold_in, hold_want;

/* The handler of "/" (also for tests that build routers of their own). */
int h_root(gt_http_req *req, gt_http_res *res, void *arg);

/* Open (bind) the server with 'workers' workers, without running it. */
void server_open(server *s, const gt_http_config *cfg, int workers);
/* Run the runtime on its thread. */
void server_run(server *s);
/* Both. */
void server_start(server *s, const gt_http_config *cfg, int workers);
/* Stop the runtime (if it runs), close and free everything. */
void server_stop(server *s);
/* A client connected to the server over IPv4. */
client *cli_open(const server *s);
/* One request on a fresh connection, checked as roundtrip() does. */
void get(const server *s, const char *req, int status, const char *body);
/* Poll the server's connection count until it is 'want' or 'ms' passed. */
bool wait_conns(server *s, uint64_t want, int ms);

#define GET_(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

#endif
