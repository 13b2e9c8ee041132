/* client/response.c -- receiving a response, and the response object.
 *
 * The body grows by doubling into one buffer that always has room for a
 * NUL, so it is handed out as a C string. Header lines go into one arena
 * as "name\0value\0"; a new status line (the next hop of a redirect, or a
 * final status after "100 Continue") empties it, so the arena holds the
 * head of the response the caller gets. The finished response takes both
 * buffers as they are, plus one array of pointers into the arena, so a
 * response is four allocations however many headers it has.
 *
 * Forgotten responses. As with gt_rows (db/rows.c), each coroutine that
 * fetches keeps its live responses in a list under one coroutine-local
 * key, whose destructor frees what is left when the coroutine ends. Each
 * response points at the link that points at it, so freeing unlinks in
 * O(1) from any coroutine of the worker. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "client.h"

struct gt_http_response {
    int status;
    int version; /* 10, 11, 20 or 30; 0 if curl did not say */
    char *body;  /* NUL-terminated, never NULL */
    size_t body_len;
    char *head;           /* the arena the pointers below point into */
    const char **headers; /* name, value, name, value... */
    size_t nheaders;
    char *url;
    gt_http_response *next;   /* in the owning coroutine's list */
    gt_http_response **pprev; /* the link that points at us; NULL if not
                               * tracked */
};

typedef struct tracker {
    gt_http_response *head;
} tracker;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static gt_local_key key;
static int have_key;

size_t gt__client_on_body(char *p, size_t size, size_t n, void *arg)
{
    gt__transfer *t = arg;

    n *= size; /* curl documents size as always 1 */
    if (n > t->max_body - t->body_len) {
        t->too_big = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (gt__buf_reserve(&t->body, &t->body_cap, t->body_len + n + 1) < 0) {
        t->oom = 1;
        return 0;
    }
    memcpy(t->body + t->body_len, p, n);
    t->body_len += n;
    t->body[t->body_len] = '\0';
    return n;
}

/* Append 'n' bytes of 'p' and a NUL to the head arena. */
static int head_put(gt__transfer *t, const char *p, size_t n)
{
    if (t->head_len + n + 1 > GT_HTTP_MAX_HEAD) {
        t->too_big = 1;
        return -EFBIG;
    }
    if (gt__buf_reserve(&t->head, &t->head_cap, t->head_len + n + 1) < 0) {
        t->oom = 1;
        return -ENOMEM;
    }
    memcpy(t->head + t->head_len, p, n);
    t->head_len += n;
    t->head[t->head_len++] = '\0';
    return 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One header line, as curl delivers them: the status line, "name: value",
 * a continuation (obsolete folding) or the empty line ending the head. */
static int header_line(gt__transfer *t, const char *p, size_t n)
{
    const char *colon;

    while (n && blank(p[n - 1]))
        n--;
    if (n == 0)
        return 0;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        t->head_len = t->nheaders = 0; /* a new response head */
        return 0;
    }
    if (blank(p[0])) { /* folded: continues the last value */
        if (!t->nheaders)
            return 0;
        while (blank(p[0]))
            p++, n--;
        t->head[--t->head_len] = ' '; /* its NUL becomes the blank */
        return head_put(t, p, n);
    }
    if (!(colon = memchr(p, ':', n)))
        return 0; /* curl would not pass such a line; ignore it */
    size_t name_len = (size_t)(colon - p), rest = n - name_len - 1;
    const char *v = colon + 1;

    while (rest && blank(*v))
        v++, rest--;
    if (head_put(t, p, name_len) < 0 || head_put(t, v, rest) < 0)
        return -1;
    t->nheaders++;
    return 0;
}

size_t gt__client_on_header(char *p, size_t size, size_t n, void *arg)
{
    n *= size;
    return header_line(arg, p, n) < 0 ? 0 : n;
}

static void free_all(void *value)
{
    tracker *tr = value;

    while (tr->head)
        gt_http_response_free(tr->head);
    free(tr);
}

static void init_once(void)
{
    have_key = gt_local_key_new(&key, free_all) == 0;
}

/* Link 'r' into the calling coroutine's list. 0, or -ENOMEM. */
static int track(gt_http_response *r)
{
    tracker *tr;

    pthread_once(&once, init_once);
    if (!have_key || !gt_co_self())
        return 0;
    if (!(tr = gt_local_get(key))) {
        tr = gt_calloc(1, sizeof(*tr));
        if (!tr || gt_local_set(key, tr) < 0) {
            free(tr);
            return -ENOMEM;
        }
    }
    r->next = tr->head;
    if (tr->head)
        tr->head->pprev = &r->next;
    tr->head = r;
    r->pprev = &tr->head;
    return 0;
}

/* Point r->headers at the arena's strings. */
static int index_headers(gt_http_response *r, size_t nheaders)
{
    const char *p = r->head;

    if (!nheaders)
        return 0;
    if (!(r->headers = gt_calloc(2 * nheaders, sizeof(*r->headers))))
        return -ENOMEM;
    for (size_t i = 0; i < 2 * nheaders; i++) {
        r->headers[i] = p;
        p += strlen(p) + 1;
    }
    r->nheaders = nheaders;
    return 0;
}

/* The HTTP version the response came in, as gt_http_response_version()
 * gives it. */
static int version_of(CURL *easy)
{
    long v = 0;

    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &v);
    switch (v) {
    case CURL_HTTP_VERSION_1_0:
        return 10;
    case CURL_HTTP_VERSION_1_1:
        return 11;
    case CURL_HTTP_VERSION_2_0:
        return 20;
    case CURL_HTTP_VERSION_3:
        return 30;
    default:
        return 0;
    }
}

int gt__response_new(gt_http_response **out, gt__transfer *t)
{
    gt_http_response *r = gt_calloc(1, sizeof(*r));
    const char *url = NULL;
    long status = 0;

    if (!r)
        return -ENOMEM;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &url);
    r->status = (int)status;
    r->version = version_of(t->easy);
    if (!t->body && gt__buf_reserve(&t->body, &t->body_cap, 1) == 0)
        t->body[0] = '\0';
    r->url = gt_strdup(url ? url : "");
    r->body = t->body;
    r->head = t->head;
    if (!r->body || !r->url || index_headers(r, t->nheaders) < 0 ||
        track(r) < 0) {
        free(r->headers);
        free(r->url);
        free(r);
        return -ENOMEM; /* the buffers are still the transfer's */
    }
    r->body_len = t->body_len;
    t->body = t->head = NULL;
    *out = r;
    return 0;
}

int gt_http_response_status(const gt_http_response *r)
{
    return r->status;
}

int gt_http_response_version(const gt_http_response *r)
{
    return r->version;
}

const char *gt_http_response_header(const gt_http_response *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[2 * i], name) == 0)
            return r->headers[2 * i + 1];
    return NULL;
}

size_t gt_http_response_header_count(const gt_http_response *r)
{
    return r->nheaders;
}

int gt_http_response_header_at(const gt_http_response *r, size_t i,
                               const char **name, const char **value)
{
    if (i >= r->nheaders)
        return -ERANGE;
    *name = r->headers[2 * i];
    *value = r->headers[2 * i + 1];
    return 0;
}

const char *gt_http_response_body(const gt_http_response *r, size_t *len)
{
    if (len)
        *len = r->body_len;
    return r->body;
}

const char *gt_http_response_url(const gt_http_response *r)
{
    return r->url;
}

void gt_http_response_free(gt_http_response *r)
{
    if (!r)
        return;
    if (r->pprev) {
        if (r->next)
            r->next->pprev = r->pprev;
        *r->pprev = r->next;
    }
    free(r->body);
    free(r->head);
    free(r->headers);
    free(r->url);
    free(r);
}
