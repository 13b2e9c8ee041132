/* http/parse.h -- internal interface of the HTTP/1.1 request parser, the
 * chunked-body decoder, the query-string helpers and the HTML escaper.
 *
 * Nothing here allocates except gt__http_escape_html_new(), and nothing
 * copies: the head parser returns spans (pointer + length) into the caller's
 * read buffer, and the chunked decoder works in place. That makes a request
 * cost no copies and bounds memory per connection by the read buffer.
 *
 * The head parser is stateless. It is re-entrant by being re-run from the
 * start of the buffer when more bytes arrive (as picohttpparser does), so a
 * connection needs no parser state besides its buffer. Its result on a
 * prefix of the input is always either GT__HTTP_AGAIN or exactly its result
 * on the whole input; the fuzz target checks this.
 *
 * Errors are negated HTTP status codes (-400, -413, -414, -431, -501,
 * -505), so the server can answer with -rc directly. GT__HTTP_AGAIN (-1)
 * means "need more bytes". Everything here is plain code: no yields, no
 * locks, safe from any thread on distinct buffers. */
#ifndef GT_HTTP_PARSE_H
#define GT_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GT__HTTP_AGAIN (-1) /* need more bytes */

/* ---- request head (parse.c) -------------------------------------------- */

/* One header field line. Both spans point into the parsed buffer. The name
 * is a non-empty token; the value has its leading and trailing optional
 * whitespace (SP/HT) removed, may be empty, and holds no control characters
 * other than HT. */
typedef struct gt__http_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} gt__http_header;

enum gt__http_method {
    GT__HTTP_GET,
    GT__HTTP_HEAD,
    GT__HTTP_POST,
    GT__HTTP_PUT,
    GT__HTTP_DELETE,
    GT__HTTP_PATCH,
    GT__HTTP_OPTIONS,
    GT__HTTP_TRACE,
    GT__HTTP_CONNECT,
    GT__HTTP_OTHER /* a valid token we don't know; methods are case-sensitive */
};

/* Per-server limits. max_head is clamped to INT_MAX so that the head length
 * fits the return value. */
typedef struct gt__http_limits {
    size_t max_head;    /* bytes of leading CRLFs + request line + headers +
                           the final empty line; beyond it: 431 */
    size_t max_target;  /* request-target bytes; beyond it: 414 */
    size_t max_headers; /* header lines; beyond it: 431. The caller's
                           headers array holds at least this many. */
} gt__http_limits;

/* clang-format off */
#define GT__HTTP_LIMITS_DEFAULT {8192, 4096, 64}
/* clang-format on */

/* A parsed request head. Every pointer points into the buffer given to
 * gt__http_parse_head() and is valid as long as those bytes are.
 * Fields are meaningful only after a positive return. */
typedef struct gt__http_head {
    const char *method; /* a non-empty token */
    size_t method_len;
    int method_id;      /* enum gt__http_method */
    const char *target; /* raw request-target: no CTL, SP or DEL */
    size_t target_len;  /* 1..max_target */
    const char *path;   /* target up to the first '?', not decoded */
    size_t path_len;
    const char *query; /* after the first '?', may be empty; NULL if no '?' */
    size_t query_len;
    int minor;                /* HTTP/1.<minor>: 0 or 1 */
    gt__http_header *headers; /* set by the caller: >= max_headers entries */
    size_t nheaders;          /* entries filled, in arrival order */
    int64_t content_length;   /* -1 if absent (always -1 when chunked) */
    unsigned chunked : 1;     /* body is chunked (implies has_te) */
    unsigned keep_alive : 1;  /* from version and Connection tokens */
    unsigned expect_continue : 1; /* HTTP/1.1 with "Expect: 100-continue" */
    unsigned has_te : 1;          /* a Transfer-Encoding field is present */
    size_t head_len; /* bytes consumed, including leading empty lines and
                        the final empty line; the body starts here */
} gt__http_head;

/* Parse one request head from buf[0..len). The caller sets h->headers to an
 * array of lim->max_headers entries; every other field is overwritten.
 * Never allocates, never copies, never reads past buf[len) or past
 * buf[max_head).
 *
 * Syntax (RFC 9112), strictly: the method is a token (unknown ones give
 * GT__HTTP_OTHER); single SPs separate the three parts of the request line;
 * the request-target has no CTL, SP or DEL (bytes >= 0x80 are allowed, as
 * nginx does); the version is exactly HTTP/1.0 or HTTP/1.1. Lines end in
 * CRLF; a bare LF is also accepted as a line end (the RFC's MAY, as nginx
 * does) but a CR not followed by LF is an error. Empty lines before the
 * request line are skipped. Field names are tokens directly followed by
 * ':'; obs-fold and whitespace before the first field are rejected; field
 * values allow HT, SP, VCHAR and obs-text only.
 *
 * Semantics, checked once the head is complete: Content-Length is 1*DIGIT
 * within int64_t and appears at most once (duplicates are rejected even if
 * equal). Transfer-Encoding is rejected with Content-Length, in HTTP/1.0
 * (RFC 9112 6.1 says its framing is faulty) and when its final coding is
 * not "chunked" (400, the RFC's MUST); when "chunked" is final but other
 * codings precede it, we don't implement those: 501. "chunked" twice: 400.
 * An HTTP/1.1 request needs exactly one Host field; more than one is always
 * rejected (RFC 9112 3.2). keep_alive is 1 for HTTP/1.1 unless Connection
 * lists "close", and for HTTP/1.0 only if Connection lists "keep-alive"
 * and not "close" (tokens compared case-insensitively, lists may span
 * several fields). expect_continue is set for HTTP/1.1 with an Expect value
 * of "100-continue" (case-insensitive); HTTP/1.0 ignores it (RFC 9110).
 *
 * Limits are enforced as soon as they are crossed, on incomplete input too,
 * so a slow client cannot make us buffer more: more than max_target target
 * bytes give -414; a head not complete within max_head bytes, or a
 * (max_headers+1)-th field line that has begun, give -431.
 *
 * Returns head_len (> 0) when complete; GT__HTTP_AGAIN when incomplete and
 * within the limits (call again from the start with more bytes); or -400,
 * -414, -431, -501, -505. */
int gt__http_parse_head(gt__http_head *h, const char *buf, size_t len,
                        const gt__http_limits *lim);

/* First header whose name equals 'name' (NUL-terminated), compared
 * case-insensitively. Returns a pointer into h->headers, or NULL. */
const gt__http_header *gt__http_find_header(const gt__http_head *h,
                                            const char *name);

/* ---- chunked body (chunked.c) ------------------------------------------- */

#define GT__HTTP_CHUNK_EXT_MAX 4096 /* chunk-extension bytes per body */
#define GT__HTTP_TRAILER_MAX 8192   /* trailer section bytes per body */

/* Decoder state for one chunked body. Zero-initialise it ({0}) before the
 * first call for each body; it carries everything between calls, so input
 * may be split anywhere. */
typedef struct gt__http_chunked {
    uint64_t size;          /* chunk-size being read, then data bytes left
                               in the current chunk */
    uint64_t total;         /* data bytes declared so far; <= max_body */
    uint32_t ext_bytes;     /* <= GT__HTTP_CHUNK_EXT_MAX */
    uint32_t trailer_bytes; /* <= GT__HTTP_TRAILER_MAX */
    uint8_t state;          /* private */
    uint8_t ndigits;        /* hex digits of 'size' read; <= 16 */
} gt__http_chunked;

/* Decode chunked body bytes in place. On entry buf[0..*len) holds raw
 * bytes that follow those given to earlier calls.
 *
 * Convention: every input byte is consumed except those after the end of
 * the body. On return buf[0..*len) holds the data bytes decoded by this
 * call (append them to the body), and when the body ended, the r bytes that
 * followed it (the start of the next pipelined request) are moved to
 * buf[*len .. *len + r), directly after the data. So a server decoding in
 * its read buffer at offset 'off' finds the body at buf[off .. off+*len)
 * and the next request at buf[off+*len .. off+*len+r), with no gap.
 *
 * Strictness: chunk-size is 1 to 16 hex digits; chunk extensions follow
 * the RFC 9112 grammar (tokens and quoted strings) and total at most
 * GT__HTTP_CHUNK_EXT_MAX bytes; every line ends in CRLF (no bare LF here:
 * chunk framing is where request smuggling lives); chunk data is followed
 * by CRLF; trailer fields are "token: value" lines without obs-fold or
 * control characters, total at most GT__HTTP_TRAILER_MAX bytes, and are
 * discarded. A chunk-size that would bring the body over max_body is
 * rejected as soon as its digits are read. Calling again after the end
 * returns all input as tail (*len = 0).
 *
 * Returns r >= 0 (bytes after the body, see above) when the body is
 * complete; GT__HTTP_AGAIN when more input is needed; -400 on a malformed
 * size, extension, CRLF or trailer, or an oversized extension/trailer
 * section; -413 when the data would exceed max_body. After an error *len
 * and buf are unspecified; answer and close the connection. */
ssize_t gt__http_chunked_decode(gt__http_chunked *c, char *buf, size_t *len,
                                uint64_t max_body);

/* ---- character classes (parse.c), shared with query.c -------------------- */

#define GT__HTTP_C_TOKEN 0x01  /* tchar */
#define GT__HTTP_C_TARGET 0x02 /* VCHAR / obs-text: no CTL, SP or DEL */
#define GT__HTTP_C_VALUE 0x04  /* HT / SP / VCHAR / obs-text */
#define GT__HTTP_C_HEX 0x08    /* HEXDIG, either case */
#define GT__HTTP_IS(c, cls)                                                    \
    (gt__http_ctype[(unsigned char)(c)] & GT__HTTP_C_##cls)

extern const unsigned char gt__http_ctype[256];

/* Value of a byte that has GT__HTTP_C_HEX. */
#define GT__HTTP_HEXVAL(c) (((c)&0xF) + ((c) >> 6) * 9)

/* ---- query strings (query.c) --------------------------------------------- */

/* Percent-decode src[0..n) into dst (capacity cap); '+' becomes ' ' when
 * plus_is_space. dst may equal src (in place). dst is not NUL-terminated,
 * and "%00" decodes to a NUL byte: use the returned length.
 * Returns the decoded length (<= n), or -1 on a malformed %-escape or when
 * cap is too small (dst then holds a partial result). */
ssize_t gt__http_percent_decode(char *dst, size_t cap, const char *src,
                                size_t n, int plus_is_space);

/* Find parameter 'name' (NUL-terminated, compared to the percent-decoded
 * key) in the query q[0..n) ("a=1&b=2", '+' is a space); the first match
 * wins, and a parameter without '=' has an empty value. Its decoded value
 * is copied into dst and NUL-terminated, so cap must exceed its length.
 * Returns the value length, -1 if absent, -2 if the value is malformed or
 * does not fit. */
ssize_t gt__http_query_get(const char *q, size_t n, const char *name, char *dst,
                           size_t cap);

/* Find the next parameter named 'name' (as gt__http_query_get compares
 * it) in q[*pos..n), starting at *pos = 0. Stores its raw (still encoded)
 * value span in *v and *vlen and moves *pos past it, so calling again
 * finds the next one. Returns 1 when found, 0 when there is no more. */
int gt__http_query_find(const char *q, size_t n, size_t *pos, const char *name,
                        const char **v, size_t *vlen);

/* ---- HTML escaping (escape.c) -------------------------------------------- */

/* Length of src[0..n) once & < > " ' are replaced by &amp; &lt; &gt; &quot;
 * &#39; (without a NUL). Returns SIZE_MAX if that length (plus a NUL) would
 * overflow size_t. */
size_t gt__http_escape_html_len(const char *src, size_t n);

/* Escape src[0..n) into dst (capacity cap), without a NUL terminator.
 * Returns the escaped length, or -1 if it exceeds cap (dst unspecified). */
ssize_t gt__http_escape_html(char *dst, size_t cap, const char *src, size_t n);

/* Escape src[0..n) into a new NUL-terminated string; free it with free().
 * Stores its length in *out_len unless out_len is NULL.
 * Returns the string, or NULL when out of memory. */
char *gt__http_escape_html_new(const char *src, size_t n, size_t *out_len);

#endif
