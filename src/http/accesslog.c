/* http/accesslog.c -- one line per request, and per request the server
 * refused before it had one, written by a thread of its own.
 *
 * A line is logfmt, so that both people and log shippers read it:
 *
 *   ts=2026-12-03T08:19:30.123Z peer=192.0.2.7 id=5f0c... method=GET
 *   target="/x?y=1" status=200 bytes=12 us=345
 *
 * (one line). peer is the client's address as gt_http_req_client_addr()
 * sees it (trusted proxies honoured); id the request id; bytes the body
 * bytes sent; us the time from the complete head to the response being
 * put out. A request the parser rejected, a head that timed out (408) and
 * a request the server had no memory for have method=- target=- id=- us=-
 * and a 'refused' field naming why; a client that left before its answer
 * has status=-.
 *
 * Writing must not block a loop: stderr may be a pipe to a slow reader or
 * a terminal. So a worker only appends the line to a buffer under a mutex
 * (a memcpy: the lock is held for well under a microsecond, and only when
 * the access log is on), and one writer thread for the process writes the
 * buffer out. Past 1 MiB waiting, lines are dropped and counted, and the
 * count is logged when the writer catches up: a log must not grow a
 * server's memory without bound. A stopping server waits (on the thread
 * pool, not the loop) for what it logged to be written. If the thread
 * cannot be started, lines are written directly. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

#define PENDING_MAX (1u << 20)
#define LINE_MAX_BYTES 1400
#define TARGET_MAX 1024

static struct {
    pthread_mutex_t mu;
    pthread_cond_t more, drained;
    char *buf; /* lines not yet taken by the writer */
    size_t len, cap;
    bool writing;               /* the writer has a batch out */
    unsigned long long dropped; /* lines dropped since last said */
    int state;                  /* 0: not started, 1: running, -1: failed */
} lg = {.mu = PTHREAD_MUTEX_INITIALIZER,
        .more = PTHREAD_COND_INITIALIZER,
        .drained = PTHREAD_COND_INITIALIZER};

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to log to: nothing better to do */
        p += w;
        n -= (size_t)w;
    }
}

static void *writer_main(void *arg)
{
    char *spare = NULL, *batch, note[96];
    size_t spare_cap = 0, batch_cap, n;

    (void)arg;
    pthread_mutex_lock(&lg.mu);
    for (;;) {
        lg.writing = false;
        while (lg.len == 0 && lg.dropped == 0) {
            pthread_cond_broadcast(&lg.drained);
            pthread_cond_wait(&lg.more, &lg.mu);
        }
        batch = lg.buf; /* take the buffer, leave the spare */
        batch_cap = lg.cap;
        n = lg.len;
        lg.buf = spare;
        lg.cap = spare_cap;
        spare = batch;
        spare_cap = batch_cap;
        lg.len = 0;
        note[0] = '\0';
        if (lg.dropped)
            snprintf(note, sizeof(note),
                     "greentor http: access log: %llu lines dropped\n",
                     lg.dropped);
        lg.dropped = 0;
        lg.writing = true;
        pthread_mutex_unlock(&lg.mu);
        write_all(batch, n);
        write_all(note, strlen(note));
        pthread_mutex_lock(&lg.mu);
    }
    return NULL;
}

static void start_writer(void)
{
    pthread_t t;
    pthread_attr_t a;

    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    lg.state = pthread_create(&t, &a, writer_main, NULL) == 0 ? 1 : -1;
    pthread_attr_destroy(&a);
}

/* Hand a finished line to the writer. */
static void emit(const char *line, size_t n)
{
    pthread_mutex_lock(&lg.mu);
    if (lg.state == 0)
        start_writer();
    if (lg.state < 0) {
        pthread_mutex_unlock(&lg.mu);
        write_all(line, n);
        return;
    }
    if (lg.len + n > PENDING_MAX) {
        lg.dropped++;
    } else {
        if (lg.cap - lg.len < n) {
            size_t cap = lg.cap ? lg.cap * 2 : 16384;
            char *p;

            while (cap - lg.len < n)
                cap *= 2;
            p = realloc(lg.buf, cap);
            if (!p) {
                lg.dropped++;
                pthread_mutex_unlock(&lg.mu);
                return;
            }
            lg.buf = p;
            lg.cap = cap;
        }
        memcpy(lg.buf + lg.len, line, n);
        lg.len += n;
        pthread_cond_signal(&lg.more);
    }
    pthread_mutex_unlock(&lg.mu);
}

static int drain_fn(void *arg)
{
    struct timespec until;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&lg.mu);
    while (lg.state > 0 && (lg.len > 0 || lg.writing || lg.dropped))
        if (pthread_cond_timedwait(&lg.drained, &lg.mu, &until) != 0)
            break;
    pthread_mutex_unlock(&lg.mu);
    return 0;
}

/* Shielded: a runtime that stops cancels the worker's coroutine, and the
 * lines its last requests logged must still reach stderr before the
 * server says it has stopped (drain_fn is bounded by its own 2 s). */
void gt__http_log_drain(void)
{
    int was = gt_co_shield(1);

    gt_run_blocking(drain_fn, NULL, gt_deadline_in(3000));
    gt_co_shield(was);
}

/* ---- formatting ---------------------------------------------------------- */

static size_t put_ts(char *p, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(p, cap, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    return n +
           (size_t)snprintf(p + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* The target quoted, '"', '\' and bytes outside printable ASCII escaped,
 * at most TARGET_MAX bytes of it. */
static size_t put_target(char *p, const char *t)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    p[n++] = '"';
    for (size_t i = 0; t[i] && i < TARGET_MAX; i++) {
        unsigned char c = (unsigned char)t[i];

        if (c == '"' || c == '\\') {
            p[n++] = '\\';
            p[n++] = (char)c;
        } else if (c < 0x21 || c > 0x7e) {
            p[n++] = '\\';
            p[n++] = 'x';
            p[n++] = hex[c >> 4];
            p[n++] = hex[c & 15];
        } else {
            p[n++] = (char)c;
        }
    }
    p[n++] = '"';
    return n;
}

void gt__http_log_access(gt_http_req *req)
{
    char line[LINE_MAX_BYTES + 4 * TARGET_MAX];
    const char *peer = "-", *id = gt_http_req_id(req);
    char status[16] = "-";
    size_t n;

    gt_http_req_client_addr(req, &peer);
    if (req->res.sent_status)
        snprintf(status, sizeof(status), "%d", req->res.sent_status);
    n = put_ts(line, 64);
    n += (size_t)snprintf(line + n, sizeof(line) - n,
                          " peer=%s id=%s method=%.32s target=",
                          peer ? peer : "-", id ? id : "-", req->head.method);
    n += put_target(line + n, req->head.target);
    n += (size_t)snprintf(line + n, sizeof(line) - n,
                          " status=%s bytes=%llu us=%llu\n", status,
                          (unsigned long long)req->res.bytes,
                          (unsigned long long)gt_http_req_elapsed_us(req));
    emit(line, n);
}

void gt__http_log_refused(gt__http_conn *c, int status, size_t bytes,
                          const char *why)
{
    char line[LINE_MAX_BYTES], peer[64] = "-";
    struct sockaddr_storage ss;
    size_t n;

    if (gt__http_conn_peer(c, &ss) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, peer, sizeof(peer));
        else if (ss.ss_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)&ss, peer, sizeof(peer));
    }
    n = put_ts(line, 64);
    n += (size_t)snprintf(line + n, sizeof(line) - n,
                          " peer=%s id=- method=- target=- status=%d "
                          "bytes=%zu us=- refused=%s\n",
                          peer, status, bytes, why);
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    emit(line, n);
}
