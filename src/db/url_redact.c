/* db/url_redact.c -- a database URL fit for a log line: its password
 * shown as "***". */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "driver.h"

/* Append s[0..n) to out[*len..cap), keeping it a string; *len counts what
 * would have been written, as snprintf does. */
static void put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len + 1 < cap) {
        size_t room = cap - 1 - *len;

        memcpy(out + *len, s, n < room ? n : room);
    }
    *len += n;
    if (cap > 0)
        out[*len < cap ? *len : cap - 1] = '\0';
}

static bool secret_key(const char *k, size_t n)
{
    return (n == 8 && strncasecmp(k, "password", 8) == 0) ||
           (n == 11 && strncasecmp(k, "sslpassword", 11) == 0);
}

/* Textual, not through the parser, so that a URL too broken to parse is
 * redacted too. The user part is everything before the LAST '@' before
 * the query (as the parser reads it, and more when the password holds an
 * unescaped '/': then too much is hidden, never too little). */
size_t gt_db_url_redact(const char *url, char *out, size_t cap)
{
    const char *auth = url ? strstr(url, "://") : NULL;
    const char *q, *at = NULL, *colon, *s;
    size_t len = 0;

    if (cap > 0)
        out[0] = '\0';
    if (!url)
        return 0;
    q = url + strcspn(url, "?");
    if (auth && auth < q) {
        auth += 3;
        for (s = auth; s < q; s++)
            if (*s == '@')
                at = s;
    }
    colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon) {
        put(out, cap, &len, url, (size_t)(colon + 1 - url));
        put(out, cap, &len, "***", 3);
        put(out, cap, &len, at, (size_t)(q - at));
    } else {
        put(out, cap, &len, url, (size_t)(q - url));
    }
    for (s = q; *s;) { /* "?k=v&k=v": hide the values of secret keys */
        size_t n = strcspn(s + 1, "&") + 1, kn = strcspn(s + 1, "=&");

        if (kn < n - 1 && secret_key(s + 1, kn)) {
            put(out, cap, &len, s, kn + 2);
            put(out, cap, &len, "***", 3);
        } else {
            put(out, cap, &len, s, n);
        }
        s += n;
    }
    return len;
}
