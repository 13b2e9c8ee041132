/* examples/bookmarks/preview.h -- GET /preview/:id, the bookmark's page
 * fetched and summed up (preview.c). */
#ifndef BOOKMARKS_PREVIEW_H
#define BOOKMARKS_PREVIEW_H

#include "greentor.h"

/* What the route's handler needs: set before the server starts, read-only
 * after. */
typedef struct preview_cfg {
    gt_pool **pool;  /* the bookmarks' database */
    gt_pool **cache; /* Redis (REDIS_URL), or a NULL pool: no cache */
    int cache_ttl_s; /* how long a summary is kept */
    int timeout_ms;  /* longest fetch, also cut short by the request's own
                      * deadline */
} preview_cfg;

/* GET /preview/:id with arg a preview_cfg: fetches the bookmark's URL and
 * answers {"status","content_type","title"}; 404 for an unknown id, 502
 * when the fetch fails. With a cache, a summary is kept per URL for
 * cache_ttl_s and the answer says "X-Cache: hit" or "miss"; a cache that
 * fails or is slow is skipped, never an error. */
int preview(gt_http_req *req, gt_http_res *res, void *arg);

#endif
