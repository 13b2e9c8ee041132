/* examples/bookmarks/preview.c -- GET /preview/:id: the bookmark's page,
 * fetched now with gt_http_fetch() and summed up as
 * {"status","content_type","title"}.
 *
 * The handler gives its database connection back before the fetch, so a
 * slow page holds no connection of the pool. The fetch follows redirects,
 * stops at PAGE_MAX bytes and ends before the request's own deadline (by
 * DEADLINE_MARGIN_MS), so a page that never answers is our 502, not the
 * server's 504. The title is found by a scan, not a parser: the first
 * <title> start tag outside comments, its text up to </title>, whitespace
 * runs as one space, trimmed (what a browser shows as document.title),
 * with the five XML entities, &nbsp; and numeric references decoded;
 * other entities are left as written.
 *
 * With REDIS_URL set, summaries are cached in Redis per URL (a bookmark
 * whose URL changes gets a new key): a handler that calls PostgreSQL or
 * SQLite, Redis and an HTTPS page, each with its own connection from a
 * pool given back before the next slow step, in straight-line code. The
 * cache only ever saves a fetch: a Redis that fails or takes longer than
 * CACHE_MS is skipped.
 *
 * This fetches whatever URL a user stored, loopback and private addresses
 * included (the tests rely on it); a public service would refuse those
 * before fetching. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, strcasestr (the Makefile defines it too) */
#endif
#include "preview.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PAGE_MAX ((size_t)256 << 10)
#define MAX_REDIRECTS 5
#define DEADLINE_MARGIN_MS 500
#define TITLE_OUT 1024 /* bytes of title kept, NUL included */
#define CACHE_MS 200   /* longest Redis call before going without */

/* ---- the title ----------------------------------------------------------- */

static bool starts(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);

    return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

static bool starts_ci(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);

    return (size_t)(end - p) >= n && strncasecmp(p, s, n) == 0;
}

static bool html_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* The text of the first <title> element of [p, end) as [*from, *to).
 * Returns false when there is none, or its end tag is missing. */
static bool find_title(const char *p, const char *end, const char **from,
                       const char **to)
{
    while ((p = memchr(p, '<', (size_t)(end - p)))) {
        if (starts(p, end, "<!--")) {
            p = memmem(p + 4, (size_t)(end - p - 4), "-->", 3);
            if (!p)
                return false;
        } else if (starts_ci(p, end, "<title") && p + 6 < end &&
                   (html_space(p[6]) || p[6] == '>' || p[6] == '/')) {
            if (!(p = memchr(p + 6, '>', (size_t)(end - p - 6))))
                return false;
            *from = ++p;
            for (; (p = memchr(p, '<', (size_t)(end - p))); p++)
                if (starts_ci(p, end, "</title")) {
                    *to = p;
                    return true;
                }
            return false;
        }
        p++;
    }
    return false;
}

/* The character reference at p in *cp, and its length; 0 if p starts
 * none this decodes. */
static size_t entity(const char *p, const char *end, unsigned long *cp)
{
    static const struct {
        const char *name;
        unsigned long cp;
    } named[] = {{"&amp;", '&'},  {"&lt;", '<'},    {"&gt;", '>'},
                 {"&quot;", '"'}, {"&apos;", '\''}, {"&nbsp;", 0xA0}};
    const char *q = p + 2, *digits;
    int base = 10;

    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (starts(p, end, named[i].name)) {
            *cp = named[i].cp;
            return strlen(named[i].name);
        }
    if (!starts(p, end, "&#"))
        return 0;
    if (q < end && (*q == 'x' || *q == 'X'))
        base = 16, q++;
    for (*cp = 0, digits = q; q < end && q - digits < 7; q++) {
        int c = *q | 0x20, d = *q >= '0' && *q <= '9' ? *q - '0'
                               : base == 16 && c >= 'a' && c <= 'f'
                                   ? c - 'a' + 10
                                   : -1;

        if (d < 0)
            break;
        *cp = *cp * (unsigned long)base + (unsigned long)d;
    }
    if (q == digits || q >= end || *q != ';' || *cp == 0 || *cp > 0x10FFFF ||
        (*cp >= 0xD800 && *cp <= 0xDFFF))
        return 0;
    return (size_t)(q + 1 - p);
}

/* Code point cp as UTF-8 at out; returns the bytes written (1 to 4). */
static size_t utf8(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The text [p, end) into out[cap] as described at the top, NUL-terminated.
 * A title cut at cap loses a trailing partial UTF-8 sequence. */
static void decode(const char *p, const char *end, char *out, size_t cap)
{
    size_t n = 0, used;
    bool space = false;
    unsigned long cp;

    while (p < end && n + 6 <= cap) { /* a space and 4 bytes, and the NUL */
        if (html_space(*p)) {
            space = n > 0;
            p++;
            continue;
        }
        if (space)
            out[n++] = ' ', space = false;
        if (*p == '&' && (used = entity(p, end, &cp)) > 0) {
            n += utf8(cp, out + n);
            p += used;
        } else {
            out[n++] = *p++;
        }
    }
    if (p < end) {
        while (n > 0 && (out[n - 1] & 0xC0) == 0x80)
            n--;
        if (n > 0 && (out[n - 1] & 0xC0) == 0xC0)
            n--;
    }
    out[n] = '\0';
}

/* A title as a JSON string. A page in another charset than UTF-8 has
 * bytes jansson refuses: those become '?'. */
static json_t *title_json(char *t)
{
    json_t *j = json_string(t);

    for (char *p = t; !j && *p; p++)
        if (*p & 0x80)
            *p = '?';
    return j ? j : json_string(t);
}

/* ---- the handler --------------------------------------------------------- */

/* The URL of the route's :id into *url (valid until the request ends);
 * 1 when it answered 404 itself. The connection goes back at once. */
static int bookmark_url(gt_http_req *req, gt_http_res *res, gt_pool *pool,
                        const char **url)
{
    int64_t id;
    gt_rows *rows;
    gt_db *db;
    int rc = gt_http_req_param_int64(req, "id", &id);

    if (rc < 0 || (rc = gt_pool_db(pool, &db)) < 0)
        return rc; /* not an integer: recorded as 404 */
    rc = gt_db_query(db, &rows, "SELECT url FROM bookmarks WHERE id = ?",
                     (gt_db_value[]){gt_db_int(id)}, 1, GT_NEVER);
    gt_pool_db_release(pool);
    if (rc == 0) {
        rc = gt_http_res_error(res, 404, "no bookmark %lld", (long long)id);
        return rc < 0 ? rc : 1;
    }
    if (rc > 0)
        *url = gt_rows_text(rows, 0, 0, NULL);
    return rc < 0 ? rc : 0;
}

/* The configured timeout, ending DEADLINE_MARGIN_MS before the request's
 * own deadline if that comes first. */
static int64_t fetch_deadline(const preview_cfg *cfg)
{
    int64_t dl = gt_deadline_in(cfg->timeout_ms);
    int64_t end = gt_co_deadline(gt_co_self());

    if (end != GT_NEVER && end - DEADLINE_MARGIN_MS < dl)
        dl = end - DEADLINE_MARGIN_MS > 0 ? end - DEADLINE_MARGIN_MS : 0;
    return dl;
}

static json_t *summary(const gt_http_response *page)
{
    size_t len;
    const char *body = gt_http_response_body(page, &len);
    const char *type = gt_http_response_header(page, "Content-Type");
    const char *from, *to;
    char title[TITLE_OUT];
    json_t *t = NULL;

    if ((!type || strcasestr(type, "html")) &&
        find_title(body, body + len, &from, &to)) {
        decode(from, to, title, sizeof(title));
        t = title_json(title);
    }
    return json_pack("{s:i,s:s?,s:o?}", "status", gt_http_response_status(page),
                     "content_type", type, "title", t);
}

/* ---- the cache ----------------------------------------------------------- */

static const char *cache_key(const char *url, char *key, size_t cap)
{
    snprintf(key, cap, "bookmarks:preview:%s", url);
    return key;
}

/* Answer from the cache: 1 when it did, 0 when there is no cache entry
 * (or no cache, or it failed), or an error of the response. */
static int from_cache(const preview_cfg *cfg, gt_http_res *res, const char *key)
{
    gt_redis_reply *rp = NULL;
    gt_redis *r;
    size_t len;
    const char *json;
    int rc = gt_pool_redis(*cfg->cache, &r);

    if (rc == 0)
        rc = gt_redis_command(r, &rp, 2, (const char *[]){"GET", key}, NULL,
                              gt_deadline_in(CACHE_MS));
    gt_pool_db_release(*cfg->cache); /* not held during the fetch */
    if (rc < 0 || gt_redis_reply_type(rp) != GT_REDIS_STRING) {
        gt_redis_reply_free(rp);
        return 0;
    }
    json = gt_redis_reply_str(rp, &len);
    rc = gt_http_res_header(res, "Content-Type", "application/json");
    if (rc == 0)
        rc = gt_http_res_header(res, "X-Cache", "hit");
    if (rc == 0)
        rc = gt_http_res_body(res, json, len);
    gt_redis_reply_free(rp);
    return rc < 0 ? rc : 1;
}

/* Keep 'summary' under 'key' for cache_ttl_s; failures are ignored. */
static void to_cache(const preview_cfg *cfg, const char *key,
                     const json_t *summary)
{
    char ttl[16], *json = json_dumps(summary, JSON_COMPACT);
    gt_redis_reply *rp = NULL;
    gt_redis *r;

    snprintf(ttl, sizeof(ttl), "%d", cfg->cache_ttl_s);
    if (json && gt_pool_redis(*cfg->cache, &r) == 0)
        gt_redis_command(r, &rp, 5,
                         (const char *[]){"SET", key, json, "EX", ttl}, NULL,
                         gt_deadline_in(CACHE_MS));
    gt_redis_reply_free(rp);
    free(json);
}

/* The fetched page's summary, cached when there is a cache. */
static int answer(const preview_cfg *cfg, gt_http_res *res,
                  const gt_http_response *page, const char *key)
{
    json_t *j = summary(page);

    if (j && *cfg->cache) {
        to_cache(cfg, key, j);
        gt_http_res_header(res, "X-Cache", "miss");
    }
    return gt_http_res_json(res, j);
}

int preview(gt_http_req *req, gt_http_res *res, void *arg)
{
    const preview_cfg *cfg = arg;
    char err[GT_HTTP_ERRBUF_SIZE] = "";
    gt_http_request rq = {.max_redirects = MAX_REDIRECTS,
                          .max_response = PAGE_MAX,
                          .errbuf = err};
    gt_http_response *page;
    char key[2048];
    int rc = bookmark_url(req, res, *cfg->pool, &rq.url);

    if (rc != 0)
        return rc > 0 ? 0 : rc;
    cache_key(rq.url, key, sizeof(key));
    if (*cfg->cache && (rc = from_cache(cfg, res, key)) != 0)
        return rc > 0 ? 0 : rc;
    rc = gt_http_fetch(&rq, &page, fetch_deadline(cfg));
    if (rc == -ECANCELED || rc == -ENOMEM)
        return rc; /* the client left; out of memory: 503 */
    if (rc < 0) {  /* curl's words too, when they add something */
        const char *why = gt_strerror(rc);
        bool more = *err && strcmp(err, why) != 0;

        return gt_http_res_error(res, 502, "cannot fetch %s: %s%s%s%s", rq.url,
                                 why, more ? " (" : "", more ? err : "",
                                 more ? ")" : "");
    }
    rc = answer(cfg, res, page, key);
    gt_http_response_free(page);
    return rc;
}
