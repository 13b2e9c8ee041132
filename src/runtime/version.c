/* runtime/version.c -- gt_version(): the library's own version.
 *
 * It lives in the library, not in the header, so that a program can
 * compare the GT_VERSION_STRING it was compiled with against the
 * libgreentor it was linked or loaded with. */
#include "greentor/version.h"

const char *gt_version(void)
{
    return GT_VERSION_STRING;
}
