/* http/fileinfo.c -- what a static file's response says about the file:
 * its Content-Type by extension, its validators (ETag, Last-Modified),
 * whether a conditional request's copy is still fresh, and which bytes a
 * Range asks for.
 *
 * Pure functions over strings and a struct stat, apart from the file
 * server (static.c) so that they can be read, and tested, on their own
 * terms. Only what browsers and caches send is understood: one byte range
 * (a multi-range request is answered with the whole file, which RFC 9110
 * allows), IMF-fixdate dates (the obsolete formats are ignored, which
 * makes the request unconditional: a full answer, never a wrong 304). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"wasm", "application/wasm"},
    {"pdf", "application/pdf"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
};

const char *gt__http_file_type(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* The modification time in ns, for the ETag. */
static unsigned long long mtime_ns(const struct stat *st)
{
    return (unsigned long long)st->st_mtim.tv_sec * 1000000000ull +
           (unsigned long long)st->st_mtim.tv_nsec;
}

void gt__http_file_etag(const struct stat *st, char out[48])
{
    snprintf(out, 48, "\"%llx-%llx\"", (unsigned long long)st->st_size,
             mtime_ns(st));
}

void gt__http_file_date(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* An IMF-fixdate as seconds since the epoch, or -1. strptime's %a and %b
 * follow the locale, which is "C" in a server unless the program changed
 * it. */
static time_t parse_date(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    return timegm(&tm);
}

/* Does the If-None-Match list name 'etag' (weak comparison: a W/ prefix
 * is ignored), or is it "*"? */
static bool etag_listed(const char *list, const char *etag)
{
    size_t n = strlen(etag);

    for (const char *p = list; *p;) {
        size_t len;

        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        len = strcspn(p, ", \t");
        if (len == n && memcmp(p, etag, n) == 0)
            return true;
        p += len;
    }
    return false;
}

bool gt__http_file_fresh(const gt_http_req *req, const struct stat *st,
                         const char *etag)
{
    const char *inm = gt_http_req_header(req, "If-None-Match");
    const char *ims;
    time_t t;

    if (inm) /* it wins over If-Modified-Since (RFC 9110 13.1.3) */
        return etag_listed(inm, etag);
    ims = gt_http_req_header(req, "If-Modified-Since");
    if (!ims || (t = parse_date(ims)) < 0)
        return false;
    return st->st_mtim.tv_sec <= t;
}

/* Digits in s up to a non-digit: the value in *v (saturating) and the
 * end. */
static const char *number(const char *s, unsigned long long *v)
{
    *v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        *v = *v > (~0ull - 9) / 10 ? ~0ull : *v * 10 + (unsigned)(*s - '0');
    return s;
}

/* If-Range: the Range applies only to the copy the client has. */
static bool range_applies(const gt_http_req *req, const struct stat *st,
                          const char *etag)
{
    const char *ir = gt_http_req_header(req, "If-Range");

    if (!ir)
        return true;
    if (ir[0] == '"')
        return strcmp(ir, etag) == 0; /* strong comparison */
    return parse_date(ir) == st->st_mtim.tv_sec;
}

int gt__http_file_range(const gt_http_req *req, const struct stat *st,
                        const char *etag, uint64_t *from, uint64_t *len)
{
    const char *r = gt_http_req_header(req, "Range"), *p;
    unsigned long long a, b, size = (unsigned long long)st->st_size;

    if (!r || strncmp(r, "bytes=", 6) != 0 || strchr(r, ',') ||
        !range_applies(req, st, etag))
        return 0; /* none, another unit, several ranges: the whole file */
    p = r + 6;
    if (*p == '-') { /* the last b bytes */
        p = number(p + 1, &b);
        if (p == r + 7 || *p)
            return 0;
        if (b == 0 || size == 0)
            return -1;
        a = b > size ? 0 : size - b;
        b = size - 1;
    } else {
        const char *q = number(p, &a);

        if (q == p || *q != '-')
            return 0;
        p = number(q + 1, &b);
        if (*p || (p > q + 1 && b < a))
            return 0; /* invalid: ignored */
        if (a >= size)
            return -1;
        if (p == q + 1 || b >= size)
            b = size - 1;
    }
    *from = a;
    *len = b - a + 1;
    return 1;
}
