/* http/escape.c -- HTML escaping of text put into a response body.
 *
 * The five characters that can end a text node or an attribute value
 * (& < > " ') become entities; every other byte, including UTF-8, passes
 * through. One table gives each byte's escaped width (0 meaning "itself"),
 * so measuring is one pass and writing is another with no branches beyond
 * the lookup. Callers that build a response in a buffer use the bounded
 * form; the _new form exists for templates that want a C string. */
#include "parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "greentor/runtime.h"

/* Escaped width of the bytes that need escaping; 0 for the rest. */
static const unsigned char width[256] = {
    ['&'] = 5, ['<'] = 4, ['>'] = 4, ['"'] = 6, ['\''] = 5,
};

static const char *const entity[256] = {
    ['&'] = "&amp;",  ['<'] = "&lt;",   ['>'] = "&gt;",
    ['"'] = "&quot;", ['\''] = "&#39;",
};

size_t gt__http_escape_html_len(const char *src, size_t n)
{
    size_t len = n;

    if (n > (SIZE_MAX - 1) / 6) /* 6 = widest entity; 1 for a NUL */
        return SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char w = width[(unsigned char)src[i]];
        if (w)
            len += w - 1u;
    }
    return len;
}

/* Writes exactly gt__http_escape_html_len(src, n) bytes, which must fit. */
static void escape_into(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (width[c]) {
            memcpy(dst, entity[c], width[c]);
            dst += width[c];
        } else {
            *dst++ = (char)c;
        }
    }
}

ssize_t gt__http_escape_html(char *dst, size_t cap, const char *src, size_t n)
{
    size_t len = gt__http_escape_html_len(src, n);

    if (len > cap || len > SIZE_MAX / 2) /* also rules out SIZE_MAX */
        return -1;
    escape_into(dst, src, n);
    return (ssize_t)len;
}

char *gt__http_escape_html_new(const char *src, size_t n, size_t *out_len)
{
    size_t len = gt__http_escape_html_len(src, n);
    char *s;

    if (len == SIZE_MAX || (s = gt_malloc(len + 1)) == NULL)
        return NULL;
    escape_into(s, src, n);
    s[len] = '\0';
    if (out_len)
        *out_len = len;
    return s;
}
