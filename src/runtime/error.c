/* runtime/error.c -- messages for error codes: ours, then libuv's. */
#include "runtime.h"

const char *gt_strerror(int rc)
{
    switch (rc) {
    case GT_EDB:
        return "the database rejected the request";
    case GT_EPOOL:
        return "no database connection available in time";
    case GT_ECLOSED:
        return "closed";
    case GT_EPROTO:
        return "protocol error";
    default:
        return rc < 0 ? uv_strerror(rc) : "success";
    }
}
