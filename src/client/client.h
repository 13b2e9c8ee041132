/* client/client.h -- the client module's internal interface: one transfer
 * in flight, the worker's multi handle it runs on, and the response it
 * becomes.
 *
 * fetch.c fills a transfer from the request and parks on it; multi.c runs
 * the worker's CURLM on the loop and marks transfers done; response.c
 * turns a finished transfer's buffers into a gt_http_response without
 * copying them. */
#ifndef GT_CLIENT_INTERNAL_H
#define GT_CLIENT_INTERNAL_H

#include <curl/curl.h>

#include "greentor/client.h"

/* One request in flight; heap memory owned by the gt_http_fetch() call
 * that made it. Curl's callbacks write into it from the loop while its
 * coroutine is parked on 'wq'. */
typedef struct gt__transfer {
    CURL *easy;
    CURLM *multi; /* the multi it is added to; NULL when not added */
    gt_waitq wq;  /* its coroutine, while it waits */
    int done;     /* curl reported it finished; then 'code' is set and
                   * it has been removed from 'multi' */
    CURLcode code;
    int error;   /* the loop could not serve it (no memory for a
                  * socket's watch): a negative code, and its
                  * coroutine has been woken to remove it */
    int too_big; /* the write or header callback refused: over cap */
    int oom;     /* ... or out of memory */
    size_t max_body;
    char *body; /* NUL-terminated when not NULL */
    size_t body_len, body_cap;
    char *head; /* "name\0value\0" per header line, of the last
                 * response head only */
    size_t head_len, head_cap, nheaders;
    struct curl_slist *send_headers;
    char err[CURL_ERROR_SIZE];
} gt__transfer;

/* Add 't' to the calling worker's multi handle (made on first use; its
 * cleanup is registered with gt_rt_on_stop). Does not yield: the transfer
 * starts when the loop next runs. Returns 0, -EINVAL outside a worker,
 * -ENOMEM, or GT_EPROTO when curl refuses it. */
int gt__client_add(gt__transfer *t);

/* Take 't' out of its multi handle before it is done. No-op when it is not
 * in one. */
void gt__client_remove(gt__transfer *t);

/* The curl write and header callbacks that fill 't' (response.c). */
size_t gt__client_on_body(char *p, size_t size, size_t n, void *t);
size_t gt__client_on_header(char *p, size_t size, size_t n, void *t);

/* Make the response of the finished transfer 't', taking its buffers, and
 * register it with the calling coroutine. Returns 0 or -ENOMEM. */
int gt__response_new(gt_http_response **out, gt__transfer *t);

#endif
