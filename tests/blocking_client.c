/* tests/blocking_client.c -- see blocking_client.h. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "blocking_client.h"
#include "greentor.h"

int sock_connect(int family, int port)
{
    struct sockaddr_storage ss = {0};
    struct timeval tv = {5, 0};
    socklen_t len;
    int fd = socket(family, SOCK_STREAM, 0), one = 1;

    ck_assert_int_ge(fd, 0);
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof(*a);
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        close(fd);
        return -errno;
    }
    return fd;
}

client *cli_open_family(int family, int port)
{
    client *c = calloc(1, sizeof(*c));

    ck_assert_ptr_nonnull(c);
    c->fd = sock_connect(family, port);
    ck_assert_int_ge(c->fd, 0);
    return c;
}

void cli_close(client *c)
{
    close(c->fd);
    free(c);
}

void cli_send_n(client *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(c->fd, p, n, MSG_NOSIGNAL);

        ck_assert_msg(k > 0, "send: %s", strerror(errno));
        p += k;
        n -= (size_t)k;
    }
}

void cli_send(client *c, const char *s)
{
    cli_send_n(c, s, strlen(s));
}

/* Read more into the buffer: > 0 bytes, 0 at EOF, < 0 on error/timeout. */
ssize_t cli_fill(client *c)
{
    ssize_t k;

    ck_assert_uint_lt(c->len, sizeof(c->buf));
    k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (k > 0)
        c->len += (size_t)k;
    return k;
}

/* Wait for EOF (or a reset): true if the server closed the connection. */
bool cli_eof(client *c)
{
    ssize_t k;

    while ((k = cli_fill(c)) > 0)
        ;
    return k == 0 || errno == ECONNRESET;
}

void cli_consume(client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* The value of header 'name' in a NUL-terminated head, copied to out. */
bool head_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *e;
            while (*v == ' ')
                v++;
            e = strstr(v, "\r\n");
            if (!e || (size_t)(e - v) >= cap)
                return false;
            memcpy(out, v, (size_t)(e - v));
            out[e - v] = '\0';
            return true;
        }
    }
    return false;
}

bool resp_header_is(const resp *r, const char *name, const char *want)
{
    char v[512];

    return head_value(r->head, name, v, sizeof(v)) && strcmp(v, want) == 0;
}

bool resp_has_header(const resp *r, const char *name)
{
    char v[512];

    return head_value(r->head, name, v, sizeof(v));
}

/* Need n bytes buffered at offset 'at'. */
static bool cli_need(client *c, size_t at, size_t n)
{
    while (c->len < at + n)
        if (cli_fill(c) <= 0)
            return false;
    return true;
}

static void body_add(resp *r, const char *p, size_t n)
{
    r->body = realloc(r->body, r->body_len + n + 1);
    ck_assert_ptr_nonnull(r->body);
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
}

static bool read_chunked(client *c, resp *r)
{
    for (;;) {
        char *end;
        unsigned long n;

        while (!memmem(c->buf, c->len, "\r\n", 2))
            if (cli_fill(c) <= 0)
                return false;
        n = strtoul(c->buf, &end, 16);
        cli_consume(
            c,
            (size_t)((char *)memmem(c->buf, c->len, "\r\n", 2) - c->buf) + 2);
        if (n == 0)
            return cli_need(c, 0, 2) && (cli_consume(c, 2), true);
        if (!cli_need(c, 0, n + 2))
            return false;
        body_add(r, c->buf, n);
        cli_consume(c, n + 2);
    }
}

/* Read one response; 'head_only' for a HEAD request. Returns false on EOF
 * or timeout before a whole response arrived. */
bool cli_read(client *c, resp *r, bool head_only)
{
    char v[64];
    char *end;
    size_t hl;

    memset(r, 0, sizeof(*r));
    body_add(r, "", 0);
    r->body_len = 0;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (cli_fill(c) <= 0)
            return false;
    hl = (size_t)(end - c->buf) + 4;
    ck_assert_uint_lt(hl, sizeof(r->head));
    memcpy(r->head, c->buf, hl);
    r->head[hl] = '\0';
    cli_consume(c, hl);
    ck_assert_msg(strncmp(r->head, "HTTP/1.1 ", 9) == 0, "bad head: %s",
                  r->head);
    r->status = atoi(r->head + 9);
    if (head_only || r->status < 200 || r->status == 204 || r->status == 304)
        return true;
    if (head_value(r->head, "Transfer-Encoding", v, sizeof(v)))
        return strcmp(v, "chunked") == 0 && read_chunked(c, r);
    if (head_value(r->head, "Content-Length", v, sizeof(v))) {
        size_t n = strtoul(v, NULL, 10);
        if (!cli_need(c, 0, n))
            return false;
        body_add(r, c->buf, n);
        cli_consume(c, n);
        return true;
    }
    while (cli_fill(c) > 0) /* delimited by the close */
        ;
    body_add(r, c->buf, c->len);
    cli_consume(c, c->len);
    return true;
}

void resp_free(resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Send a request on c and check status and body (body NULL: any). */
void roundtrip(client *c, const char *req, int status, const char *body)
{
    resp r;

    cli_send(c, req);
    ck_assert_msg(cli_read(c, &r, false), "no response to %s", req);
    ck_assert_int_eq(r.status, status);
    if (body)
        ck_assert_str_eq(r.body, body);
    resp_free(&r);
}

bool wait_for(atomic_int *v, int want, int ms)
{
    int64_t until = gt_now() + ms;

    while (atomic_load(v) != want && gt_now() < until)
        usleep(2000);
    return atomic_load(v) == want;
}

bool wait_change(atomic_int *v, int was, int ms)
{
    int64_t until = gt_now() + ms;

    while (atomic_load(v) == was && gt_now() < until)
        usleep(2000);
    return atomic_load(v) != was;
}
