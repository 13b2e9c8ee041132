/* examples/showcase/health.c -- /healthz, the readiness endpoint of the
 * scale-out recipe (scripts/rolling_restart.sh): 200 "ok" while serving,
 * 503 once the server has begun a graceful stop, so that a load balancer
 * with health checks sends no new work to a process that is draining. */
#include <stdatomic.h>

#include "health.h"

static _Atomic(gt_http_server *) served;

static int do_healthz(gt_http_req *req, gt_http_res *res, void *arg)
{
    gt_http_server *srv = atomic_load(&served);

    (void)req, (void)arg;
    if (!srv || gt_http_server_stopping(srv)) {
        gt_http_res_status(res, 503);
        gt_http_res_header(res, "Retry-After", "1");
        return gt_http_res_printf(res, "draining\n");
    }
    return gt_http_res_printf(res, "ok\n");
}

int health_setup(gt_http_router *r)
{
    return gt_http_router_add(r, "GET", "/healthz", do_healthz, NULL);
}

void health_serve(gt_http_server *srv)
{
    atomic_store(&served, srv);
}
