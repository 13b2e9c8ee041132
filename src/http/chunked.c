/* http/chunked.c -- the chunked-body decoder (RFC 9112 7.1), in place.
 *
 * The opposite shape of the head parser (parse.c): a byte-at-a-time state
 * machine for the framing, which is small, plus memmove() for the data,
 * because a body arrives in many reads and must not be re-scanned. The
 * chunk-extension grammar is a transition table rather than nested ifs.
 * Chunk framing is where request smuggling lives, so every deviation from
 * the grammar is a 400 (parse.h has the whole contract). */
#include <string.h>

#include "parse.h"

#define IS(c, cls) GT__HTTP_IS(c, cls)
#define IS_WS(c) ((c) == ' ' || (c) == '\t')

/* ---- chunked body ---------------------------------------------------------
 * chunked-body = *chunk last-chunk trailer-section CRLF (RFC 9112 7.1)
 * chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 * chunk-ext    = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted ) ] ) */

enum {
    CK_SIZE, /* zero, so that a zeroed struct starts here */
    CK_BWS,  /* chunk-ext states: the rows of ext_next[], in order */
    CK_NPRE,
    CK_NAME,
    CK_NBWS,
    CK_VPRE,
    CK_VAL,
    CK_QUOT,
    CK_QESC,
    CK_VEND,
    CK_SIZE_LF,
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TRAILER, /* trailer states, in order */
    CK_TNAME,
    CK_TVALUE,
    CK_TLF,
    CK_END_LF,
    CK_DONE,
    CK_BAD = 0xFF
};

/* Byte classes of the chunk-ext grammar, the columns of ext_next[]. */
enum { X_TOK, X_WS, X_SEMI, X_EQ, X_DQ, X_BS, X_CR, X_QD, X_BAD, X_NCLASS };

/* Next state for each chunk-ext state and byte class. b: BWS before ';',
 * n: BWS before a name, N: name, w: BWS before '=', v: BWS before a value,
 * V: token value, q: quoted string, e: after a backslash in it, z: after
 * its closing quote, L: expect the LF, E: error. A CR is accepted only
 * after a complete element, so "5 \r\n" and "5;a=\r\n" are errors. */
#define b CK_BWS
#define n CK_NPRE
#define N CK_NAME
#define w CK_NBWS
#define v CK_VPRE
#define V CK_VAL
#define q CK_QUOT
#define e CK_QESC
#define z CK_VEND
#define L CK_SIZE_LF
#define E CK_BAD
static const unsigned char ext_next[CK_VEND - CK_BWS + 1][X_NCLASS] = {
    /*         tok ws  ;  =  "  \  CR qd bad */
    /* BWS  */ {E, b, n, E, E, E, E, E, E},
    /* NPRE */ {N, n, E, E, E, E, E, E, E},
    /* NAME */ {N, w, n, v, E, E, L, E, E},
    /* NBWS */ {E, w, n, v, E, E, E, E, E},
    /* VPRE */ {V, v, E, E, q, E, E, E, E},
    /* VAL  */ {V, b, n, E, E, E, L, E, E},
    /* QUOT */ {q, q, q, q, z, e, E, q, E},
    /* QESC */ {q, q, q, q, q, q, E, q, E},
    /* VEND */ {E, b, n, E, E, E, L, E, E},
};
#undef b
#undef n
#undef N
#undef w
#undef v
#undef V
#undef q
#undef e
#undef z
#undef L
#undef E

static int ext_class(unsigned char c)
{
    if (IS(c, TOKEN))
        return X_TOK;
    switch (c) {
    case ' ':
    case '\t':
        return X_WS;
    case ';':
        return X_SEMI;
    case '=':
        return X_EQ;
    case '"':
        return X_DQ;
    case '\\':
        return X_BS;
    case '\r':
        return X_CR;
    }
    return IS(c, VALUE) ? X_QD : X_BAD; /* other VCHAR, obs-text: qdtext */
}

static int size_step(gt__http_chunked *c, unsigned char ch, uint64_t max)
{
    if (IS(ch, HEX)) {
        if (++c->ndigits > 16)
            return -400;
        c->size = c->size << 4 | (uint64_t)GT__HTTP_HEXVAL(ch);
        return c->size > max - c->total ? -413 : 0; /* total <= max */
    }
    if (c->ndigits == 0)
        return -400;
    if (ch == '\r')
        c->state = CK_SIZE_LF;
    else if (ch == ';')
        c->state = CK_NPRE;
    else if (IS_WS(ch))
        c->state = CK_BWS;
    else
        return -400;
    return 0;
}

static int ext_step(gt__http_chunked *c, unsigned char ch)
{
    if (++c->ext_bytes > GT__HTTP_CHUNK_EXT_MAX)
        return -400;
    c->state = ext_next[c->state - CK_BWS][ext_class(ch)];
    return c->state == CK_BAD ? -400 : 0;
}

/* The CRLF ending a size line, and the one after chunk data. */
static int crlf_step(gt__http_chunked *c, unsigned char ch)
{
    switch (c->state) {
    case CK_SIZE_LF:
        if (ch != '\n')
            return -400;
        c->total += c->size;
        c->ndigits = 0;
        c->state = c->size ? CK_DATA : CK_TRAILER;
        return 0;
    case CK_DATA_CR:
        c->state = CK_DATA_LF;
        return ch == '\r' ? 0 : -400;
    case CK_DATA_LF:
        c->state = CK_SIZE;
        return ch == '\n' ? 0 : -400;
    }
    return -400;
}

/* Trailer field lines and the final CRLF; the fields are discarded. */
static int trailer_step(gt__http_chunked *c, unsigned char ch)
{
    int ok;

    if (++c->trailer_bytes > GT__HTTP_TRAILER_MAX)
        return -400;
    switch (c->state) {
    case CK_TRAILER: /* a line start: SP/HT here would be obs-fold */
        ok = ch == '\r' || IS(ch, TOKEN);
        c->state = ch == '\r' ? CK_END_LF : CK_TNAME;
        return ok ? 0 : -400;
    case CK_TNAME:
        if (ch == ':')
            c->state = CK_TVALUE;
        return ch == ':' || IS(ch, TOKEN) ? 0 : -400;
    case CK_TVALUE:
        if (ch == '\r')
            c->state = CK_TLF;
        return ch == '\r' || IS(ch, VALUE) ? 0 : -400;
    case CK_TLF:
    case CK_END_LF:
        c->state = c->state == CK_TLF ? CK_TRAILER : CK_DONE;
        return ch == '\n' ? 0 : -400;
    }
    return -400; /* CK_BAD: called again after an error */
}

static int chunk_step(gt__http_chunked *c, unsigned char ch, uint64_t max)
{
    if (c->state == CK_SIZE)
        return size_step(c, ch, max);
    if (c->state <= CK_VEND)
        return ext_step(c, ch);
    if (c->state <= CK_DATA_LF)
        return crlf_step(c, ch);
    return trailer_step(c, ch);
}

ssize_t gt__http_chunked_decode(gt__http_chunked *c, char *buf, size_t *len,
                                uint64_t max_body)
{
    size_t in = 0, out = 0, n = *len;
    int rc;

    if (c->state == CK_DONE) {
        *len = 0;
        return (ssize_t)n;
    }
    while (in < n) {
        if (c->state == CK_DATA) {
            size_t take = n - in < c->size ? n - in : (size_t)c->size;
            if (out != in)
                memmove(buf + out, buf + in, take);
            in += take;
            out += take;
            c->size -= take;
            if (c->size == 0)
                c->state = CK_DATA_CR;
            continue;
        }
        rc = chunk_step(c, (unsigned char)buf[in++], max_body);
        if (rc != 0) {
            c->state = CK_BAD; /* every later call fails too */
            return rc;
        }
        if (c->state == CK_DONE) {
            memmove(buf + out, buf + in, n - in);
            *len = out;
            return (ssize_t)(n - in);
        }
    }
    *len = out;
    return GT__HTTP_AGAIN;
}
