/* tests/blocking_client.h -- a blocking HTTP/1.1 test client, for tests
 * that talk to a server from outside its runtime (its own thread).
 *
 * tests/httpc.h is the client that runs inside a runtime, in coroutines;
 * this one is plain blocking sockets on the test's thread, with 5 s
 * SO_RCVTIMEO/SO_SNDTIMEO so that a server that stops answering fails the
 * test instead of hanging it, byte-exact control of what is sent (split
 * requests, pipelining, bad framing) and a runtime-free view of a server
 * that is stopping. It parses responses itself -- status, Content-Length,
 * chunked, close-delimited -- so every framing rule is checked from the
 * outside. Failures of the socket calls fail the test (Check asserts). */
#ifndef GT_TESTS_BLOCKING_CLIENT_H
#define GT_TESTS_BLOCKING_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct client {
    int fd;
    size_t len; /* bytes buffered in buf */
    char buf[1 << 18];
} client;

typedef struct resp {
    int status;
    char head[8192]; /* the head, NUL-terminated */
    char *body;      /* malloc'd, NUL-terminated */
    size_t body_len;
} resp;

/* A TCP connection to the loopback address of 'family' (AF_INET or
 * AF_INET6) and 'port', with the timeouts above and TCP_NODELAY: the fd,
 * or -errno. */
int sock_connect(int family, int port);
/* A client on a new connection (fails the test if it cannot connect). */
client *cli_open_family(int family, int port);
void cli_close(client *c);
/* Send all of p[0..n) / the string s. */
void cli_send_n(client *c, const char *p, size_t n);
void cli_send(client *c, const char *s);
/* Read more into the buffer: > 0 bytes, 0 at EOF, < 0 on error/timeout. */
ssize_t cli_fill(client *c);
/* Wait for EOF (or a reset): true if the server closed the connection. */
bool cli_eof(client *c);
/* Drop the first n buffered bytes. */
void cli_consume(client *c, size_t n);
/* Read one response; 'head_only' for a HEAD request. False on EOF or
 * timeout before a whole response arrived. Free it with resp_free(). */
bool cli_read(client *c, resp *r, bool head_only);
void resp_free(resp *r);
/* The value of header 'name' in a NUL-terminated head, copied to out. */
bool head_value(const char *head, const char *name, char *out, size_t cap);
bool resp_header_is(const resp *r, const char *name, const char *want);
bool resp_has_header(const resp *r, const char *name);
/* Send a request on c and check status and body (body NULL: any). */
void roundtrip(client *c, const char *req, int status, const char *body);
/* Poll *v every 2 ms until it equals 'want' or 'ms' passed: whether it
 * did. */
bool wait_for(atomic_int *v, int want, int ms);
/* The same until *v no longer equals 'was'. */
bool wait_change(atomic_int *v, int was, int ms);

#endif
