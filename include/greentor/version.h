/* greentor/version.h -- the version of greentor, in one place.
 *
 * These three numbers are the only place the version is written: the
 * Makefile reads them for greentor.pc, and GT_VERSION_STRING and
 * GT_VERSION_NUMBER are derived from them here. The macros give the version
 * of the headers a program was compiled against; gt_version() gives the
 * version of the library it runs with, so a program linked against a
 * shared libgreentor can tell the two apart. */
#ifndef GREENTOR_VERSION_H
#define GREENTOR_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GT_API
#define GT_API __attribute__((visibility("default")))
#endif

#define GT_VERSION_MAJOR 0
#define GT_VERSION_MINOR 1
#define GT_VERSION_PATCH 0

/* Expanded twice, so that the numbers are stringified, not the names. */
#define GT__VERSION_JOIN(a, b, c) #a "." #b "." #c
#define GT__VERSION_STR(a, b, c) GT__VERSION_JOIN(a, b, c)
/* "MAJOR.MINOR.PATCH", e.g. "0.1.0". */
#define GT_VERSION_STRING                                                      \
    GT__VERSION_STR(GT_VERSION_MAJOR, GT_VERSION_MINOR, GT_VERSION_PATCH)
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons (0.1.0 is
 * 100), as SQLITE_VERSION_NUMBER. */
#define GT_VERSION_NUMBER                                                      \
    (GT_VERSION_MAJOR * 10000 + GT_VERSION_MINOR * 100 + GT_VERSION_PATCH)

/* The version of the library itself, GT_VERSION_STRING as it was when
 * libgreentor was built: "MAJOR.MINOR.PATCH". Any thread; does not yield.
 * The string is static: never free it. */
GT_API const char *gt_version(void);

#ifdef __cplusplus
}
#endif
#endif
