/* http/client.c -- who is asking: the TCP peer, the client's address
 * behind trusted proxies, and the request id.
 *
 * The client's address is worked out only when a handler asks, since most
 * requests never need it. Forwarded and X-Forwarded-For are believed only
 * as far as the proxies that wrote them are trusted: each proxy appends
 * the address it received the request from, so the list is read from the
 * right, and the walk stops at the first hop that is not a trusted proxy
 * (nginx's real_ip_recursive). Whatever a client puts on the left of the
 * list itself is never reached unless every proxy to its right is
 * trusted. The trusted list is parsed on each walk: it is a handful of
 * entries, and a walk happens only when the peer may be a proxy.
 *
 * The peer comes from gt__http_conn_peer() (tcp.c): the connection's
 * uv_tcp_t, which the TCP and TLS transports initialise, or for an HTTP/2
 * stream its TLS connection's peer; other transports (the connection
 * fuzzer) leave the uv_tcp_t zeroed, which reads as "no TCP peer".
 *
 * A generated request id is 64 bits from a per-thread splitmix64 seeded
 * from the kernel once, in hex: unique enough to find one request in the
 * logs, cheap enough to make for every request. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "http.h"

#define ID_MAX 128

/* An address in IPv6 form; IPv4 as IPv4-mapped (::ffff:a.b.c.d). */
typedef struct ip {
    unsigned char b[16];
} ip;

static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                         0, 0, 0, 0, 0xff, 0xff};

/* ---- addresses ----------------------------------------------------------- */

/* A bare IPv4 or IPv6 address in s[0..n). */
static bool parse_ip(const char *s, size_t n, ip *out)
{
    char tmp[INET6_ADDRSTRLEN + 1];

    if (n == 0 || n >= sizeof(tmp))
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET, tmp, out->b + 12) == 1) {
        memcpy(out->b, mapped, 12);
        return true;
    }
    return inet_pton(AF_INET6, tmp, out->b) == 1;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* A hop as proxies write it: OWS, optional quotes, then "1.2.3.4",
 * "1.2.3.4:80", "[2001:db8::1]", "[2001:db8::1]:80" or "2001:db8::1". */
static bool parse_hop(const char *s, size_t n, ip *out)
{
    const char *e;

    while (n > 0 && is_ows(*s))
        s++, n--;
    while (n > 0 && is_ows(s[n - 1]))
        n--;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
        s++, n -= 2;
    if (n > 0 && s[0] == '[') {
        e = memchr(s, ']', n);
        if (!e || (e + 1 < s + n && e[1] != ':'))
            return false;
        return memchr(s, ':', (size_t)(e - s)) && /* IPv6 text only */
               parse_ip(s + 1, (size_t)(e - s - 1), out);
    }
    e = memchr(s, ':', n);
    if (e && !memchr(e + 1, ':', (size_t)(s + n - e - 1)))
        n = (size_t)(e - s); /* IPv4 with a port */
    return parse_ip(s, n, out);
}

/* "addr" or "addr/bits" in s[0..n) contains a? */
static bool entry_matches(const char *s, size_t n, const ip *a)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    unsigned bits = 128, full, rest;
    ip net;

    if (!parse_ip(s, alen, &net))
        return false;
    if (slash) {
        const char *p = slash + 1, *end = s + n;

        if (p == end || end - p > 3)
            return false;
        for (bits = 0; p < end; p++) {
            if (*p < '0' || *p > '9')
                return false;
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        if (memcmp(net.b, mapped, 12) == 0 && !memchr(s, ':', alen))
            bits += 96; /* an IPv4 prefix */
        if (bits > 128)
            return false;
    }
    full = bits / 8;
    rest = bits % 8;
    if (memcmp(net.b, a->b, full) != 0)
        return false;
    return rest == 0 ||
           ((net.b[full] ^ a->b[full]) & (0xff00u >> rest) & 0xff) == 0;
}

static bool trusted(const char *list, const ip *a)
{
    const char *p = list;

    while (p && *p) {
        size_t n;

        p += strspn(p, ", \t");
        n = strcspn(p, ", \t");
        if (n > 0 && entry_matches(p, n, a))
            return true;
        p += n;
    }
    return false;
}

/* ---- the peer ------------------------------------------------------------ */

int gt_http_req_peer(const gt_http_req *req, struct sockaddr_storage *out)
{
    return req->conn ? gt__http_conn_peer(req->conn, out) : -ENOTCONN;
}

static int peer_ip(const gt_http_req *req, ip *out)
{
    struct sockaddr_storage ss;
    int rc = gt_http_req_peer(req, &ss);

    if (rc < 0)
        return rc;
    if (ss.ss_family == AF_INET) {
        memcpy(out->b, mapped, 12);
        memcpy(out->b + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (ss.ss_family == AF_INET6) {
        memcpy(out->b, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    } else {
        return -ENOTCONN;
    }
    return 0;
}

/* ---- walking the hops ---------------------------------------------------- */

/* The walk: 'client' is the address so far; 'going' stays true while it
 * is a trusted proxy, so the next hop to the left may be believed. */
typedef struct walk {
    const char *list;
    ip client;
    bool going;
} walk;

static void step(walk *w, const char *s, size_t n)
{
    ip hop;

    if (!w->going)
        return;
    if (!parse_hop(s, n, &hop)) {
        w->going = false;
        return;
    }
    w->client = hop;
    w->going = trusted(w->list, &hop);
}

/* X-Forwarded-For: "client, proxy1, proxy2". */
static void walk_xff(walk *w, const char *v)
{
    size_t end = strlen(v);

    while (w->going) {
        size_t start = end;

        while (start > 0 && v[start - 1] != ',')
            start--;
        step(w, v + start, end - start);
        if (start == 0)
            return;
        end = start - 1;
    }
}

/* Forwarded: "for=a;proto=https, for=b;by=c". An element without "for="
 * says nothing about its hop, which ends the walk. */
static void walk_forwarded(walk *w, const char *v)
{
    size_t end = strlen(v);

    while (w->going) {
        size_t start = end, i;
        const char *hop = NULL;
        size_t hlen = 0;

        while (start > 0 && v[start - 1] != ',')
            start--;
        for (i = start; i < end;) {
            size_t j = i, k;

            while (j < end && v[j] != ';')
                j++;
            k = i;
            while (k < j && is_ows(v[k]))
                k++;
            if (j - k > 4 && strncasecmp(v + k, "for=", 4) == 0) {
                hop = v + k + 4;
                hlen = j - k - 4;
            }
            i = j + 1;
        }
        step(w, hop ? hop : "", hop ? hlen : 0);
        if (start == 0)
            return;
        end = start - 1;
    }
}

/* Walk every field named 'name', the last one first. */
static bool walk_fields(walk *w, const gt__http_head *h, const char *name,
                        void (*fn)(walk *, const char *))
{
    bool found = false;

    for (size_t i = h->nheaders; i-- > 0 && w->going;)
        if (strcasecmp(h->headers[i].name, name) == 0) {
            fn(w, h->headers[i].value);
            found = true;
        }
    return found;
}

int gt_http_req_client_addr(gt_http_req *req, const char **out)
{
    const char *list =
        req->conn ? req->conn->w->srv->cfg.trusted_proxies : NULL;
    walk w = {list, {{0}}, false};
    char *text;
    int rc;

    if (req->client) {
        *out = req->client;
        return 0;
    }
    rc = peer_ip(req, &w.client);
    if (rc < 0)
        return rc;
    w.going = list && trusted(list, &w.client);
    if (w.going && !gt__http_find_header(&req->head, "Forwarded"))
        walk_fields(&w, &req->head, "X-Forwarded-For", walk_xff);
    else if (w.going)
        walk_fields(&w, &req->head, "Forwarded", walk_forwarded);
    text = gt__http_alloc(req, INET6_ADDRSTRLEN);
    if (!text)
        return -ENOMEM;
    if (memcmp(w.client.b, mapped, 12) == 0)
        inet_ntop(AF_INET, w.client.b + 12, text, INET6_ADDRSTRLEN);
    else
        inet_ntop(AF_INET6, w.client.b, text, INET6_ADDRSTRLEN);
    req->client = text;
    *out = text;
    return 0;
}

/* ---- the request id ------------------------------------------------------ */

static bool id_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || (c && strchr("-_.:/+=@", c));
}

static bool valid_id(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (n >= ID_MAX || !id_char((unsigned char)s[n]))
            return false;
    return n > 0;
}

static _Thread_local uint64_t id_state;
static _Thread_local bool id_seeded;

static uint64_t next_random(void)
{
    uint64_t z;

    if (!id_seeded) {
        struct timespec ts;

        if (getrandom(&id_state, sizeof(id_state), GRND_NONBLOCK) !=
            (ssize_t)sizeof(id_state)) {
            clock_gettime(CLOCK_REALTIME, &ts);
            id_state ^= (uint64_t)ts.tv_nsec << 32 ^ (uint64_t)ts.tv_sec ^
                        (uint64_t)(uintptr_t)&id_state;
        }
        id_seeded = true;
    }
    z = (id_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

const char *gt_http_req_id(gt_http_req *req)
{
    static const char hex[] = "0123456789abcdef";
    const char *in;
    char *id;
    uint64_t v;

    if (req->id)
        return req->id;
    in = gt_http_req_header(req, "X-Request-Id");
    if (in && valid_id(in)) {
        req->id = in;
        return in;
    }
    id = gt__http_alloc(req, 17);
    if (!id)
        return NULL;
    v = next_random();
    for (int i = 15; i >= 0; i--, v >>= 4)
        id[i] = hex[v & 15];
    id[16] = '\0';
    req->id = id;
    return id;
}
