/* base/buf.h -- growing a byte buffer, for the modules that keep one
 * (a stream's HTTP/1.1 bytes in http/h2_stream.c, a fetched response's
 * head and body in client/response.c).
 *
 * Capacities double from 1 KiB, so appending n bytes in pieces costs
 * O(n) copies; the callers bound what they let in (max_body, the
 * response size cap), so the doubling cannot run away. */
#ifndef GT_BASE_BUF_H
#define GT_BASE_BUF_H

#include <errno.h>
#include <stddef.h>

#include "greentor/runtime.h"

/* Grow '*buf' (capacity '*cap') to hold 'need' bytes, moving it with
 * gt_realloc(). 0, or -ENOMEM with the buffer untouched. */
static inline int gt__buf_reserve(char **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 1024;
    char *p;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    if (!(p = gt_realloc(*buf, n)))
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

#endif
