/* bench/idle_conns.c -- holds many idle keep-alive connections open against
 * one HTTP server on 127.0.0.1, so that bench/run.sh can read the server's
 * memory per idle connection off /proc:
 *
 *   idle_conns <port> [<path>]      commands on stdin, one a line:
 *   open <n>                        open n more connections, then print
 *                                   "ready <held> <failed>" (totals)
 *   end of file                     print "closed_by_server <n>" (held
 *                                   connections the server dropped), close
 *                                   them all and exit: 0 if any was held
 *
 * Each connection sends one `GET <path>` (default /plaintext) and reads the
 * whole answer (head and Content-Length body), so the server has seen a
 * request on it and holds whatever it keeps for a keep-alive connection.
 * Then it stays open and silent. A batch ends when each of its connections
 * is held or failed, or after 30 s (the rest count as failed).
 *
 * Why batches: opening connections costs a server transient memory (a read
 * buffer per request in flight, kept on free lists for a while), which the
 * first batch pays. The second batch reuses it, so the RSS it adds over
 * the connections it adds is what one more idle connection costs.
 *
 * libc only (epoll, non-blocking connect), so that the client costs the
 * server nothing it would not pay for a real one. At most IN_FLIGHT
 * connections are being opened at once: a SYN flood of thousands would
 * overflow the listen backlog of servers that keep the default.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { IN_FLIGHT = 256, ANSWER_MAX = 4096, DEADLINE_MS = 30000 };

enum state { ST_CONNECTING, ST_READING, ST_HELD, ST_FAILED };

struct conn {
    int fd;
    enum state state;
    size_t len;   /* bytes of the answer read so far */
    char *answer; /* only while reading: freed once answered */
};

struct idle {
    struct conn *conns;
    size_t cap, count; /* conns[0, count) are opened or failed */
    size_t target;     /* this batch ends at conns[target] */
    size_t busy, held, failed;
    int ep;
    struct sockaddr_in addr;
    char request[256];
    size_t request_len;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Enough descriptors for every connection, up to the hard limit. */
static void raise_fd_limit(size_t count)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)count + 64;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &rl);
}

static void conn_fail(struct idle *id, struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->answer);
    c->answer = NULL;
    c->state = ST_FAILED;
    id->failed++;
    id->busy--;
}

/* Answered: the descriptor leaves epoll and stays open, silent. */
static void conn_hold(struct idle *id, struct conn *c)
{
    epoll_ctl(id->ep, EPOLL_CTL_DEL, c->fd, NULL);
    free(c->answer);
    c->answer = NULL;
    c->state = ST_HELD;
    id->held++;
    id->busy--;
}

static int conn_watch(struct idle *id, struct conn *c, int op, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    return epoll_ctl(id->ep, op, c->fd, &ev);
}

static void conn_start(struct idle *id, struct conn *c)
{
    id->busy++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(id, c);
        return;
    }
    c->state = ST_CONNECTING;
    int rc = connect(c->fd, (struct sockaddr *)&id->addr, sizeof id->addr);
    if ((rc != 0 && errno != EINPROGRESS) ||
        conn_watch(id, c, EPOLL_CTL_ADD, EPOLLOUT) != 0)
        conn_fail(id, c);
}

static void conn_connected(struct idle *id, struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        conn_fail(id, c);
        return;
    }
    /* A request this small goes out whole on a fresh socket. */
    ssize_t n = send(c->fd, id->request, id->request_len, MSG_NOSIGNAL);
    c->answer = malloc(ANSWER_MAX);
    if (n != (ssize_t)id->request_len || !c->answer ||
        conn_watch(id, c, EPOLL_CTL_MOD, EPOLLIN) != 0) {
        conn_fail(id, c);
        return;
    }
    c->state = ST_READING;
}

/* 1 once the answer is whole (a 200 with all of its Content-Length body),
 * 0 while more is to come, -1 if it is not one we can hold. */
static int answer_complete(const char *a, size_t len)
{
    const char *end = memmem(a, len, "\r\n\r\n", 4);
    if (!end)
        return len >= ANSWER_MAX - 1 ? -1 : 0;
    if (strncmp(a, "HTTP/1.1 200", 12) != 0)
        return -1;
    size_t head = (size_t)(end - a) + 4;
    for (const char *p = a; p < end; p++) {
        if (strncasecmp(p, "\r\ncontent-length:", 17) == 0) {
            size_t body = strtoul(p + 17, NULL, 10);
            return len >= head + body ? 1 : 0;
        }
    }
    return -1; /* no length: nothing says where the answer ends */
}

static void conn_readable(struct idle *id, struct conn *c)
{
    ssize_t n = recv(c->fd, c->answer + c->len, ANSWER_MAX - 1 - c->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        conn_fail(id, c);
        return;
    }
    c->len += (size_t)n;
    c->answer[c->len] = '\0';
    int done = answer_complete(c->answer, c->len);
    if (done > 0)
        conn_hold(id, c);
    else if (done < 0)
        conn_fail(id, c);
}

static void on_event(struct idle *id, struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;
    if (c->state == ST_CONNECTING)
        conn_connected(id, c);
    else if (c->state == ST_READING)
        conn_readable(id, c);
}

/* Open conns[count, target): the array does not move meanwhile (epoll
 * holds pointers into it only during a batch). */
static void open_batch(struct idle *id)
{
    struct epoll_event evs[64];
    long deadline = now_ms() + DEADLINE_MS;
    size_t started = id->count;
    while (id->held + id->failed < id->target) {
        while (started < id->target && id->busy < IN_FLIGHT)
            conn_start(id, &id->conns[started++]);
        long left = deadline - now_ms();
        if (left <= 0)
            break;
        int n = epoll_wait(id->ep, evs, 64, (int)left);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++)
            on_event(id, &evs[i]);
    }
    /* The deadline passed: whatever is not answered counts as failed. */
    for (size_t i = id->count; i < id->target; i++) {
        struct conn *c = &id->conns[i];
        if (i >= started) {
            id->busy++;
            c->fd = -1;
            conn_fail(id, c);
        } else if (c->state == ST_CONNECTING || c->state == ST_READING) {
            conn_fail(id, c);
        }
    }
    id->count = id->target;
}

static int open_more(struct idle *id, size_t n)
{
    if (id->count + n > id->cap) {
        size_t cap = id->count + n;
        struct conn *grown = realloc(id->conns, cap * sizeof *grown);
        if (!grown)
            return -1;
        memset(grown + id->cap, 0, (cap - id->cap) * sizeof *grown);
        id->conns = grown;
        id->cap = cap;
    }
    raise_fd_limit(id->count + n);
    id->target = id->count + n;
    open_batch(id);
    return 0;
}

/* Held connections the server has closed meanwhile (EOF or an error). */
static size_t count_closed(const struct idle *id)
{
    size_t closed = 0;
    char byte;
    for (size_t i = 0; i < id->count; i++) {
        const struct conn *c = &id->conns[i];
        if (c->state != ST_HELD)
            continue;
        ssize_t n = recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN))
            closed++;
    }
    return closed;
}

/* One command a line until end of file. */
static int serve_commands(struct idle *id)
{
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        char *end;
        unsigned long n;
        if (strncmp(line, "open ", 5) != 0 ||
            (n = strtoul(line + 5, &end, 10)) == 0 || n > 1000000 ||
            (*end != '\n' && *end != '\0')) {
            fprintf(stderr, "idle_conns: not a command: %s", line);
            return -1;
        }
        if (open_more(id, n) != 0) {
            perror("idle_conns");
            return -1;
        }
        printf("ready %zu %zu\n", id->held, id->failed);
        fflush(stdout);
    }
    return 0;
}

static int parse_args(struct idle *id, int argc, char **argv)
{
    if (argc < 2 || argc > 3)
        return -1;
    char *end;
    unsigned long port = strtoul(argv[1], &end, 10);
    if (*end || port == 0 || port > 65535)
        return -1;
    const char *path = argc == 3 ? argv[2] : "/plaintext";
    int n = snprintf(id->request, sizeof id->request,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof id->request)
        return -1;
    id->request_len = (size_t)n;
    id->addr.sin_family = AF_INET;
    id->addr.sin_port = htons((uint16_t)port);
    id->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return 0;
}

int main(int argc, char **argv)
{
    struct idle id = {0};
    if (parse_args(&id, argc, argv) != 0) {
        fprintf(stderr, "usage: idle_conns <port> [<path>] "
                        "(stdin: \"open <n>\" lines)\n");
        return 2;
    }
    id.ep = epoll_create1(EPOLL_CLOEXEC);
    if (id.ep < 0) {
        perror("idle_conns");
        return 2;
    }
    int rc = serve_commands(&id);
    close(id.ep);
    printf("closed_by_server %zu\n", count_closed(&id));
    for (size_t i = 0; i < id.count; i++)
        if (id.conns[i].state == ST_HELD)
            close(id.conns[i].fd);
    free(id.conns);
    return rc == 0 && id.held > 0 ? 0 : 1;
}
