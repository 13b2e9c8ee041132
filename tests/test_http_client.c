/* tests/test_http_client.c -- who is asking: the TCP peer, the client's
 * address behind trusted proxies (Forwarded, X-Forwarded-For) and the
 * request id, through the real server.
 *
 * The test client always connects from 127.0.0.1, so whether that peer is
 * a trusted proxy is decided by the configuration each test starts the
 * server with; the forwarding headers are what a client (or proxy) would
 * send. The handlers print what they got. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "http_fixture.h"

/* ---- handlers ------------------------------------------------------------ */

static int h_who(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *a = "-";
    int rc = gt_http_req_client_addr(req, &a);
    const char *again = "-";

    (void)arg;
    /* Computed once: the same string again. */
    ck_assert_int_eq(gt_http_req_client_addr(req, &again), rc);
    ck_assert(rc < 0 || a == again);
    return gt_http_res_printf(res, "%d:%s", rc, a);
}

static int h_peer(gt_http_req *req, gt_http_res *res, void *arg)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    char text[INET_ADDRSTRLEN] = "";
    int rc = gt_http_req_peer(req, &ss);

    (void)arg;
    if (rc == 0 && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return gt_http_res_printf(res, "%d:%s:%d", rc, text,
                              rc == 0 && ntohs(in->sin_port) > 0);
}

static int h_id(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *id = gt_http_req_id(req);

    (void)arg;
    ck_assert_ptr_eq(gt_http_req_id(req), id);
    return gt_http_res_printf(res, "%s", id ? id : "(null)");
}

static int h_fail(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)res, (void)arg;
    return -EIO;
}

static int h_stream(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_write(res, "part", 4);
}

/* Out of memory: the arena is full and malloc fails. */
static int h_oom(gt_http_req *req, gt_http_res *res, void *arg)
{
    static const char fill[16];
    const char *a = "-", *id;
    int rc;

    (void)arg;
    for (int k = 0; k < 200; k++)
        if (gt_http_res_body(res, fill, sizeof(fill)) < 0)
            return -ENOMEM;
    gt_alloc_fail(1, 1);
    rc = gt_http_req_client_addr(req, &a);
    id = gt_http_req_id(req);
    gt_alloc_fail(0, 0);
    return gt_http_res_printf(res, "%d:%s %s", rc, a, id ? id : "(null)");
}

static const fx_route routes[] = {
    {"GET", "/who", h_who},       {"GET", "/peer", h_peer},
    {"GET", "/id", h_id},         {"GET", "/fail", h_fail},
    {"GET", "/stream", h_stream}, {"GET", "/oom", h_oom},
};

static gt_http_router *router(void)
{
    return fx_router(routes, sizeof(routes) / sizeof(routes[0]));
}

/* GET 'target' with extra header lines 'hdrs' ("" for none). */
static void get_with(httpc *c, const char *target, const char *hdrs,
                     httpc_res *res)
{
    char raw[4096];
    int n = snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n",
                     target, hdrs);

    ck_assert_int_lt(n, (int)sizeof(raw));
    fx_send(c, raw, (size_t)n, res);
}

/* Each case: header lines, expected body of /who. */
static void check_who(httpc *c, const char *const (*cases)[2], size_t n)
{
    httpc_res r;

    for (size_t i = 0; i < n; i++) {
        get_with(c, "/who", cases[i][0], &r);
        ck_assert_msg(r.status == 200 && strcmp(r.body, cases[i][1]) == 0,
                      "headers '%s': %d '%s', expected '%s'", cases[i][0],
                      r.status, r.body, cases[i][1]);
        httpc_res_free(&r);
    }
}

#define CHECK_WHO(c, cases)                                                    \
    check_who(c, cases, sizeof(cases) / sizeof(cases[0]))

/* ---- tests --------------------------------------------------------------- */

static void c_untrusted(httpc *c, void *arg)
{
    static const char *const cases[][2] = {
        {"", "0:127.0.0.1"},
        {"X-Forwarded-For: 203.0.113.7\r\n", "0:127.0.0.1"},
        {"Forwarded: for=203.0.113.7\r\n", "0:127.0.0.1"},
    };
    httpc_res r;

    (void)arg;
    CHECK_WHO(c, cases);
    fx_get(c, "/peer", &r);
    fx_expect(&r, 200, "0:127.0.0.1:1");
}

START_TEST(client_addr_is_the_peer_without_trusted_proxies)
{
    fx_run(router(), NULL, c_untrusted, NULL);
}
END_TEST

START_TEST(client_addr_ignores_headers_from_an_untrusted_peer)
{
    /* Entries that do not parse, or ranges without the peer, trust no
     * one; 127.0.0.2/31 is .2 and .3. */
    gt_http_config cfg = {.trusted_proxies = "10.0.0.0/8 bogus 127.0.0.1/33,"
                                             "127.0.0.2/31,::1, 127.0.0.1/x,"
                                             "127.0.0.1/"};

    fx_run(router(), &cfg, c_untrusted, NULL);
}
END_TEST

static void c_trusted(httpc *c, void *arg)
{
    static const char *const cases[][2] = {
        {"", "0:127.0.0.1"},
        {"X-Forwarded-For: 203.0.113.7\r\n", "0:203.0.113.7"},
        /* What the client wrote on the left is never reached. */
        {"X-Forwarded-For: 198.51.100.1, 203.0.113.7, 10.1.2.3\r\n",
         "0:203.0.113.7"},
        /* All trusted: the leftmost. */
        {"X-Forwarded-For: 10.0.0.1,10.0.0.2\r\n", "0:10.0.0.1"},
        /* A hop that is not an address ends the walk before it. */
        {"X-Forwarded-For: garbage, 203.0.113.7\r\n", "0:203.0.113.7"},
        {"X-Forwarded-For: 203.0.113.7, garbage\r\n", "0:127.0.0.1"},
        {"X-Forwarded-For: 203.0.113.7, 10.0.0.1, \r\n", "0:127.0.0.1"},
        {"X-Forwarded-For: 203.0.113.7, unknown, 10.0.0.1\r\n", "0:10.0.0.1"},
        {"X-Forwarded-For:\r\n", "0:127.0.0.1"},
        /* Ports and brackets are dropped; IPv4-mapped reads as IPv4. */
        {"X-Forwarded-For: 203.0.113.7:4711\r\n", "0:203.0.113.7"},
        {"X-Forwarded-For: 198.51.100.2, [2001:db8::5]:80\r\n",
         "0:198.51.100.2"},
        {"X-Forwarded-For: 2001:db9::1, 2001:db8::5\r\n", "0:2001:db9::1"},
        {"X-Forwarded-For: [2001:db9::1]\r\n", "0:2001:db9::1"},
        {"X-Forwarded-For: [203.0.113.7]\r\n", "0:127.0.0.1"},
        {"X-Forwarded-For: [2001:db9::1]x\r\n", "0:127.0.0.1"},
        {"X-Forwarded-For: 198.51.100.3, ::ffff:10.0.0.9\r\n",
         "0:198.51.100.3"},
        {"X-Forwarded-For: ::ffff:203.0.113.9\r\n", "0:203.0.113.9"},
        /* Several fields: the last is the nearest. */
        {"X-Forwarded-For: 198.51.100.9\r\nX-Forwarded-For: 10.0.0.3\r\n",
         "0:198.51.100.9"},
        {"X-Forwarded-For: 10.0.0.4\r\nX-Forwarded-For: 203.0.113.8\r\n",
         "0:203.0.113.8"},
        /* RFC 7239, with quotes, case and parameters. */
        {"Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43, "
         "for=\"[2001:db8:cafe::17]:4711\"\r\n",
         "0:192.0.2.60"},
        {"Forwarded: proto=https; For=192.0.2.3\r\n", "0:192.0.2.3"},
        {"Forwarded: for=unknown\r\n", "0:127.0.0.1"},
        {"Forwarded: for=_hidden, for=10.0.0.5\r\n", "0:10.0.0.5"},
        {"Forwarded: proto=https\r\n", "0:127.0.0.1"},
        /* Forwarded, when present, wins over X-Forwarded-For. */
        {"X-Forwarded-For: 198.51.100.1\r\nForwarded: for=192.0.2.1\r\n",
         "0:192.0.2.1"},
    };

    (void)arg;
    CHECK_WHO(c, cases);
}

START_TEST(client_addr_walks_the_hops_of_trusted_proxies)
{
    gt_http_config cfg = {.trusted_proxies = " 10.0.0.0/8,,"
                                             "::ffff:127.0.0.0/104\t"
                                             "2001:db8::/32 "};

    fx_run(router(), &cfg, c_trusted, NULL);
}
END_TEST

static void c_exact(httpc *c, void *arg)
{
    static const char *const cases[][2] = {
        {"X-Forwarded-For: 203.0.113.7\r\n", "0:203.0.113.7"},
        {"X-Forwarded-For: 203.0.113.7, 127.0.0.2\r\n", "0:127.0.0.2"},
    };

    (void)arg;
    CHECK_WHO(c, cases);
}

START_TEST(client_addr_trusts_single_addresses)
{
    gt_http_config cfg = {.trusted_proxies = "127.0.0.1"};

    fx_run(router(), &cfg, c_exact, NULL);
}
END_TEST

static int is_hex_id(const char *s)
{
    if (strlen(s) != 16)
        return 0;
    for (; *s; s++)
        if (!strchr("0123456789abcdef", *s))
            return 0;
    return 1;
}

static void c_id(httpc *c, void *arg)
{
    char id128[129], hdr[200], first[32], v[200];
    httpc_res r;

    (void)arg;
    fx_get(c, "/id", &r);
    ck_assert_msg(is_hex_id(r.body), "%s", r.body);
    ck_assert(!httpc_header(&r, "X-Request-Id", v, sizeof(v)));
    snprintf(first, sizeof(first), "%s", r.body);
    httpc_res_free(&r);
    fx_get(c, "/id", &r);
    ck_assert(is_hex_id(r.body) && strcmp(r.body, first) != 0);
    httpc_res_free(&r);
    get_with(c, "/id", "X-Request-Id: Ab-1_2.3:4/5+6=7@8\r\n", &r);
    fx_expect(&r, 200, "Ab-1_2.3:4/5+6=7@8");
    memset(id128, 'x', 128);
    id128[128] = '\0';
    snprintf(hdr, sizeof(hdr), "X-Request-Id: %s\r\n", id128);
    get_with(c, "/id", hdr, &r);
    fx_expect(&r, 200, id128);
    /* Not a valid id: a new one instead, never the client's bytes. */
    snprintf(hdr, sizeof(hdr), "X-Request-Id: %sx\r\n", id128);
    get_with(c, "/id", hdr, &r);
    ck_assert(is_hex_id(r.body));
    httpc_res_free(&r);
    get_with(c, "/id", "X-Request-Id: a b\r\n", &r);
    ck_assert(is_hex_id(r.body));
    httpc_res_free(&r);
    get_with(c, "/id", "X-Request-Id: <script>\r\n", &r);
    ck_assert(is_hex_id(r.body));
    httpc_res_free(&r);
    get_with(c, "/id", "X-Request-Id:\r\n", &r);
    ck_assert(is_hex_id(r.body));
    httpc_res_free(&r);
}

START_TEST(request_id_is_taken_or_generated)
{
    fx_run(router(), NULL, c_id, NULL);
}
END_TEST

static void c_id_sent(httpc *c, void *arg)
{
    char v[200];
    httpc_res r;

    (void)arg;
    fx_get(c, "/id", &r);
    ck_assert(httpc_header(&r, "X-Request-Id", v, sizeof(v)));
    ck_assert_str_eq(v, r.body);
    httpc_res_free(&r);
    get_with(c, "/who", "X-Request-Id: given-1\r\n", &r);
    ck_assert(httpc_header(&r, "X-Request-Id", v, sizeof(v)));
    ck_assert_str_eq(v, "given-1");
    httpc_res_free(&r);
    /* Error responses and streamed ones carry it too. */
    get_with(c, "/fail", "X-Request-Id: given-2\r\n", &r);
    ck_assert_int_eq(r.status, 500);
    ck_assert(httpc_header(&r, "X-Request-Id", v, sizeof(v)));
    ck_assert_str_eq(v, "given-2");
    httpc_res_free(&r);
    get_with(c, "/stream", "X-Request-Id: given-3\r\n", &r);
    ck_assert(httpc_header(&r, "X-Request-Id", v, sizeof(v)));
    ck_assert_str_eq(v, "given-3");
    fx_expect(&r, 200, "part");
    /* And so do the router's own answers. */
    get_with(c, "/nowhere", "X-Request-Id: given-4\r\n", &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert(httpc_header(&r, "X-Request-Id", v, sizeof(v)));
    ck_assert_str_eq(v, "given-4");
    httpc_res_free(&r);
}

START_TEST(request_id_is_sent_when_configured)
{
    gt_http_config cfg = {.request_id = 1};

    fx_run(router(), &cfg, c_id_sent, NULL);
}
END_TEST

static void c_oom(httpc *c, void *arg)
{
    char want[64];
    httpc_res r;

    (void)arg;
    snprintf(want, sizeof(want), "%d:- (null)", -ENOMEM);
    fx_get(c, "/oom", &r);
    fx_expect(&r, 200, want);
}

START_TEST(client_addr_and_id_out_of_memory)
{
    gt_http_config cfg = {.trusted_proxies = "127.0.0.1"};

    fx_run(router(), &cfg, c_oom, NULL);
}
END_TEST

void add_http_client_tests(Suite *s)
{
    TCase *tc = tcase_create("client");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, client_addr_is_the_peer_without_trusted_proxies);
    tcase_add_test(tc, client_addr_ignores_headers_from_an_untrusted_peer);
    tcase_add_test(tc, client_addr_walks_the_hops_of_trusted_proxies);
    tcase_add_test(tc, client_addr_trusts_single_addresses);
    tcase_add_test(tc, request_id_is_taken_or_generated);
    tcase_add_test(tc, request_id_is_sent_when_configured);
    tcase_add_test(tc, client_addr_and_id_out_of_memory);
    suite_add_tcase(s, tc);
}
