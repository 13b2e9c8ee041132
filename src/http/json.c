/* http/json.c -- the JSON request body: Content-Type, size and depth
 * checks in front of jansson.
 *
 * jansson's parser recurses once per level of nesting, up to its built-in
 * limit of 2048 levels. On a thread's 8 MiB stack that is harmless; on a
 * request coroutine's stack (64 KiB by default, see runtime.h) a body of
 * a few thousand '[' is a crash of the whole worker, and jansson has no
 * run-time knob for its limit. So the bytes are scanned first: a linear
 * pass that tracks strings and escapes and counts open brackets, and
 * refuses the body as soon as it nests deeper than the caller's limit,
 * before jansson sees it. The scan does not validate anything else; it
 * only has to be right about what is inside a string, because a bracket
 * there does not nest.
 *
 * Each failure is recorded as a rejection (reject.c), so the handler can
 * return the code and the client gets 400, 413 or 415 with a message that
 * says what was wrong and where. Out of memory is not the client's fault
 * and is not recorded, but jansson cannot always tell: a failed allocation
 * for a string token comes back as a syntax error ("string or '}'
 * expected"), and so as a 400; most others come back without an error
 * text, which is how -ENOMEM is told apart. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define DEFAULT_DEPTH 64
#define JANSSON_DEPTH 2048 /* JSON_PARSER_MAX_DEPTH, not exported */

/* A line/column position, counted from 1 as jansson counts: columns are
 * characters, so UTF-8 continuation bytes do not advance them. */
typedef struct where {
    int line, col;
} where;

static void advance(where *w, unsigned char c)
{
    if (c == '\n') {
        w->line++;
        w->col = 0;
    } else if (c < 0x80 || c > 0xBF) {
        w->col++;
    }
}

/* Does s[0..n) nest arrays and objects deeper than 'max'? If so, *w is
 * the position of the first bracket too many. */
static bool too_deep(const char *s, size_t n, int max, where *w)
{
    bool in_str = false, esc = false;
    int depth = 0;

    w->line = 1;
    w->col = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        advance(w, c);
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return false;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* application/json or application/<x>+json, with any parameters. */
static bool is_json_type(const char *v)
{
    static const char app[] = "application/";
    size_t n, al = sizeof(app) - 1;

    if (!v)
        return false;
    n = strcspn(v, ";");
    while (n > 0 && is_space(v[n - 1]))
        n--;
    if (n <= al || strncasecmp(v, app, al) != 0)
        return false;
    v += al;
    n -= al;
    for (size_t i = 0; i < n; i++)
        if (!(gt__http_ctype[(unsigned char)v[i]] & GT__HTTP_C_TOKEN))
            return false;
    return (n == 4 && strncasecmp(v, "json", 4) == 0) ||
           (n > 5 && strncasecmp(v + n - 5, "+json", 5) == 0);
}

static size_t max_size(const gt_http_req *req, const gt_http_json_opts *o)
{
    size_t max = req->conn->w->srv->cfg.max_body;

    return o->max_size && o->max_size < max ? o->max_size : max;
}

static int max_depth(const gt_http_json_opts *o)
{
    if (o->max_depth <= 0)
        return DEFAULT_DEPTH;
    return o->max_depth < JANSSON_DEPTH ? o->max_depth : JANSSON_DEPTH;
}

static int too_large(gt_http_req *req, size_t max)
{
    return gt__http_reject(req, -EMSGSIZE, 413,
                           "the JSON body is larger than %zu bytes", max);
}

static int parse(gt_http_req *req, const char *data, size_t len, size_t flags,
                 json_t **out)
{
    json_error_t err;
    json_t *j;

    /* jansson leaves the error untouched (its code byte uninitialised)
     * when some allocations fail, so no text means out of memory too. */
    memset(&err, 0, sizeof(err));
    j = json_loadb(data, len, flags, &err);
    if (j) {
        *out = j;
        return 0;
    }
    if (json_error_code(&err) == json_error_out_of_memory || !err.text[0])
        return -ENOMEM;
    return gt__http_reject(req, -EBADMSG, 400,
                           "invalid JSON at line %d, column %d: %s", err.line,
                           err.column, err.text);
}

int gt_http_req_json(gt_http_req *req, json_t **out,
                     const gt_http_json_opts *opts)
{
    static const gt_http_json_opts none;
    const gt_http_json_opts *o = opts ? opts : &none;
    size_t max = max_size(req, o), len;
    int depth = max_depth(o), rc;
    const char *data;
    where w;

    if (o->require_type &&
        !is_json_type(gt_http_req_header(req, "Content-Type")))
        return gt__http_reject(req, -EMEDIUMTYPE, 415,
                               "the body must be application/json");
    /* Refused unread: the server skips it if it is all here, else closes
     * the connection after the 413. */
    if (req->head.content_length > 0 &&
        (uint64_t)req->head.content_length > max)
        return too_large(req, max);
    rc = gt_http_req_body(req, &data, &len);
    if (rc < 0)
        return rc;
    if (len > max)
        return too_large(req, max);
    if (too_deep(data, len, depth, &w))
        return gt__http_reject(req, -EBADMSG, 400,
                               "JSON nested deeper than %d levels at line "
                               "%d, column %d",
                               depth, w.line, w.col);
    return parse(req, data, len, o->flags, out);
}
