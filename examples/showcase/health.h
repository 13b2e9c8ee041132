/* examples/showcase/health.h -- the readiness endpoint (health.c). */
#ifndef SHOWCASE_HEALTH_H
#define SHOWCASE_HEALTH_H

#include "greentor.h"

/* Add GET /healthz to 'r'. 0 or a negative error. */
int health_setup(gt_http_router *r);

/* The server /healthz reports on, once it is open; until then it answers
 * 503. Any thread. */
void health_serve(gt_http_server *srv);

#endif
