/* http/reject.c -- the record of rejected input.
 *
 * The request accessors that read what the client sent (the JSON body,
 * typed parameters) tell its mistakes apart from the caller's and from
 * failures. A mistake is recorded on the request as (code, status,
 * message), and the response code (response.c, outcome()) maps a
 * handler's result equal to the recorded code to that status with the
 * message as the body, so the common handler just returns what the
 * accessor returned. Only the latest is kept: two rejections in a row are
 * still one client mistake to report. The message lives in the request's
 * arena; when it cannot be allocated the reason phrase stands in, so a
 * rejection never fails. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

int gt__http_reject(gt_http_req *req, int rc, int status, const char *fmt, ...)
{
    char tmp[256], *msg;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(tmp))
        n = sizeof(tmp) - 1; /* truncated: a long name is still named */
    msg = gt__http_alloc(req, (size_t)n + 1);
    if (msg) {
        memcpy(msg, tmp, (size_t)n);
        msg[n] = '\0';
    }
    req->reject_rc = rc;
    req->reject_status = status;
    req->reject_msg = msg;
    return rc;
}

int gt_http_req_rejected(const gt_http_req *req, const char **msg)
{
    if (msg)
        *msg = !req->reject_status ? NULL
               : req->reject_msg   ? req->reject_msg
                                   : gt_http_reason(req->reject_status);
    return req->reject_status;
}
