/* client/fetch.c -- gt_http_fetch(): one request as a curl easy handle on
 * the worker's multi, and the caller parked until it is done.
 *
 * The call owns everything it makes (the easy handle, the header list,
 * the transfer's buffers) and frees it on its one exit path, so a
 * transfer never outlives its call: a deadline or a cancel takes the easy
 * handle out of the multi before returning, which is how libcurl aborts a
 * transfer (it closes an HTTP/1.1 connection left mid-response instead of
 * returning it to the cache). A fresh easy handle per call is cheap next
 * to a request; what is worth keeping -- connections, DNS answers, TLS
 * sessions -- lives in the multi.
 *
 * curl's error codes are mapped onto greentor's rule in one table
 * (map_code); the text of the failure goes to the caller's errbuf. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "greentor/version.h"

/* The earlier of 'deadline' and the calling coroutine's own; GT_NEVER
 * when neither is set. (A shielded caller's own deadline does not bound
 * its waits, but it still bounds curl's timeout here: a fetch is not
 * cleanup I/O, and shielding one is not a use we support.) */
static int64_t effective_deadline(int64_t deadline)
{
    int64_t own = gt_co_deadline(gt_co_self());

    if (own == GT_NEVER || own < 0)
        return deadline;
    if (deadline == GT_NEVER || deadline < 0)
        return own;
    return own < deadline ? own : deadline;
}

/* Add "name: value" (or "name;" for an empty value, "name:" to remove a
 * header curl adds) to the list. 0, -EINVAL or -ENOMEM. */
static int add_header(struct curl_slist **list, const char *name,
                      const char *value)
{
    struct curl_slist *l;
    char *line;
    int n;

    if (!name || !*name || strpbrk(name, ":\r\n") ||
        (value && strpbrk(value, "\r\n")))
        return -EINVAL;
    if (!value)
        n = asprintf(&line, "%s:", name);
    else if (!*value)
        n = asprintf(&line, "%s;", name);
    else
        n = asprintf(&line, "%s: %s", name, value);
    if (n < 0)
        return -ENOMEM;
    l = curl_slist_append(*list, line); /* copies */
    free(line);
    if (!l)
        return -ENOMEM;
    *list = l;
    return 0;
}

/* The headers to send. Unless the caller sets Expect, none is sent: curl
 * would otherwise ask large bodies for "100 Continue" and stall a second
 * on a server that does not answer it. */
static int set_headers(gt__transfer *t, const gt_http_request *rq)
{
    int expect = 0, rc;

    for (size_t i = 0; i < rq->nheaders; i++) {
        const gt_http_header *h = &rq->headers[i];

        if (h->name && strcasecmp(h->name, "Expect") == 0)
            expect = 1;
        if ((rc = add_header(&t->send_headers, h->name, h->value)) < 0)
            return rc;
    }
    if (!expect && (rc = add_header(&t->send_headers, "Expect", NULL)) < 0)
        return rc;
    if (curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->send_headers))
        return -ENOMEM;
    return 0;
}

static void set_method(CURL *e, const gt_http_request *rq)
{
    const char *m = rq->method ? rq->method : rq->body ? "POST" : "GET";

    if (strcmp(m, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcmp(m, "GET") == 0 && !rq->body)
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    else if (strcmp(m, "POST") != 0)
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    if (rq->body || strcmp(m, "POST") == 0) {
        /* Borrowed, not copied: the request outlives the transfer. */
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)rq->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
    }
}

/* Configure the easy handle. 'timeout_ms' 0 means none. */
static int setup(gt__transfer *t, const gt_http_request *rq, long timeout_ms)
{
    CURL *e = t->easy;
    int rc;

    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* A header of the caller's replaces it. */
    curl_easy_setopt(e, CURLOPT_USERAGENT, "greentor/" GT_VERSION_STRING);
    /* Option strings are copied: they fail only for want of memory. */
    if (curl_easy_setopt(e, CURLOPT_URL, rq->url) != CURLE_OK)
        return -ENOMEM;
    if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
        return -EINVAL;
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (rq->max_redirects > 0) {
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)rq->max_redirects);
    }
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    /* Refuse a body announced too large before reading any of it. */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, gt__client_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, gt__client_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    if (rq->ca_file &&
        curl_easy_setopt(e, CURLOPT_CAINFO, rq->ca_file) != CURLE_OK)
        return -ENOMEM;
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                     rq->http_version == GT_HTTP_VERSION_1_1
                         ? (long)CURL_HTTP_VERSION_1_1
                         : (long)CURL_HTTP_VERSION_2TLS);
    set_method(e, rq);
    if ((rc = set_headers(t, rq)) < 0)
        return rc;
    return 0;
}

/* A connect or I/O failure: the socket's errno when curl kept one. */
static int os_error(gt__transfer *t, int fallback)
{
    long err = 0;

    curl_easy_getinfo(t->easy, CURLINFO_OS_ERRNO, &err);
    return err > 0 ? -(int)err : fallback;
}

static int map_code(gt__transfer *t)
{
    switch (t->code) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_OUT_OF_MEMORY:
        return -ENOMEM;
    case CURLE_WRITE_ERROR: /* our callbacks refused */
        return t->oom ? -ENOMEM : t->too_big ? -EFBIG : -EIO;
    case CURLE_FILESIZE_EXCEEDED:
        return -EFBIG;
    case CURLE_TOO_MANY_REDIRECTS:
        return -ELOOP;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return -EINVAL;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return UV_EAI_NONAME;
    case CURLE_COULDNT_CONNECT:
        return os_error(t, -ECONNREFUSED);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        return os_error(t, -ECONNRESET);
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return -ECONNRESET;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
        return GT_EPROTO;
    default:
        return -EIO;
    }
}

/* Wait for 't' to finish. 0 when curl finished it (its result is in
 * t->code), else -ETIMEDOUT, -ECANCELED or the loop's t->error, and 't'
 * is out of the multi. */
static int wait_done(gt__transfer *t, int64_t deadline)
{
    int rc = 0;

    while (!t->done && !t->error && rc == 0)
        rc = gt_waitq_wait(&t->wq, deadline);
    if (t->done)
        return 0; /* finished as the wait ended: the result counts */
    gt__client_remove(t);
    return t->error ? t->error : rc;
}

static void report(const gt_http_request *rq, gt__transfer *t, int rc)
{
    if (!rq->errbuf)
        return;
    if (rc == 0)
        rq->errbuf[0] = '\0';
    else if (t && t->too_big)
        snprintf(rq->errbuf, GT_HTTP_ERRBUF_SIZE, "response over its cap");
    else if (t && t->err[0])
        snprintf(rq->errbuf, GT_HTTP_ERRBUF_SIZE, "%s", t->err);
    else if (t && t->done && t->code != CURLE_OK)
        snprintf(rq->errbuf, GT_HTTP_ERRBUF_SIZE, "%s",
                 curl_easy_strerror(t->code));
    else
        snprintf(rq->errbuf, GT_HTTP_ERRBUF_SIZE, "%s", gt_strerror(rc));
}

static void transfer_free(gt__transfer *t)
{
    if (!t)
        return;
    gt__client_remove(t);
    curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->send_headers);
    free(t->body);
    free(t->head);
    free(t);
}

int gt_http_fetch(const gt_http_request *rq, gt_http_response **out,
                  int64_t deadline)
{
    gt__transfer *t = NULL;
    int64_t until, left = 0;
    int rc;

    if (out)
        *out = NULL;
    if (!rq || !rq->url || !out || !gt_co_self() ||
        (!rq->body && rq->body_len) || (!rq->headers && rq->nheaders)) {
        rc = -EINVAL;
        goto done;
    }
    if (gt_co_cancelled(gt_co_self())) {
        rc = -ECANCELED;
        goto done;
    }
    until = effective_deadline(deadline);
    if (until != GT_NEVER && (left = until - gt_now()) <= 0) {
        rc = -ETIMEDOUT;
        goto done;
    }
    rc = -ENOMEM;
    if (!(t = gt_calloc(1, sizeof(*t))) || !(t->easy = curl_easy_init()))
        goto done;
    t->max_body = rq->max_response ? rq->max_response : GT_HTTP_MAX_RESPONSE;
    if ((rc = setup(t, rq, (long)left)) < 0 || (rc = gt__client_add(t)) < 0)
        goto done;
    if ((rc = wait_done(t, until)) == 0 && (rc = map_code(t)) == 0)
        rc = gt__response_new(out, t);
done:
    report(rq, t, rc);
    transfer_free(t);
    return rc;
}
