/* http/static.c -- a directory served as files: GET and HEAD, validators
 * and 304, one byte range (206/416), Content-Type by extension.
 *
 * Traversal. The path comes from the route's "*" (or the whole path),
 * percent-decoded, so "%2e%2e" is "..": every segment is checked after
 * decoding, and ".", ".." and hidden names (a leading '.', such as .git or
 * .env) are 404, so a URL can name only files below the root. Symlinks
 * below the root are followed, as nginx does by default: putting one
 * there is the operator's decision, not the client's.
 *
 * Not blocking the loop. A read from a file can wait for the disk, and
 * there is no readiness to poll for regular files, so something has to
 * run on another thread -- but libuv's thread pool (4 threads) is also
 * where SQLite's offload mode and PostgreSQL's connect steps run, and a
 * burst of downloads must not queue them behind itself. So:
 *   - a read is first tried on the loop with preadv2(RWF_NOWAIT), which
 *     copies what is in the page cache and refuses (EAGAIN) instead of
 *     waiting for the disk: a hot file -- the usual static asset -- never
 *     leaves the loop and costs no thread hop;
 *   - what is not cached is read on the pool in chunks of 64 KiB, one
 *     pread per job, so a job is short and the pool's FIFO queue keeps
 *     moving for everyone else; and a worker has at most 2 such jobs in
 *     flight (a per-worker semaphore), so one worker's downloads cannot
 *     take the whole pool;
 *   - open() and fstat() go to the pool too (a cold directory lookup is a
 *     disk read as well), as one job.
 * sendfile() was the other candidate: it saves the copy into user space,
 * but on a socket it blocks the calling thread on the file's cold pages
 * just the same, so it would still need the pool and its chunking, and it
 * bypasses the connection's output buffer (pipelining, the write
 * timeout). The copy costs little next to a syscall per 64 KiB.
 *
 * Files up to 64 KiB are read whole and sent as an ordinary body; larger
 * ones are streamed with a Content-Length (gt__http_res_stream_sized), one
 * chunk at a time, each write waiting for the client to take the last.
 * A file that shrinks while it is sent ends the response short and the
 * connection is closed, so the client cannot take it as complete. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http.h"

#define SMALL_FILE (64 * 1024)
#define CHUNK (64 * 1024)
#define JOBS_PER_WORKER 2

/* ---- the thread pool, politely ------------------------------------------- */

static _Thread_local gt_sem jobs;
static _Thread_local bool jobs_ready;

static int offload(int (*fn)(void *), void *arg, int64_t deadline)
{
    int rc;

    if (!jobs_ready) {
        gt_sem_init(&jobs, JOBS_PER_WORKER);
        jobs_ready = true;
    }
    rc = gt_sem_acquire(&jobs, deadline);
    if (rc < 0)
        return rc;
    rc = gt_run_blocking(fn, arg, deadline);
    gt_sem_release(&jobs);
    return rc;
}

typedef struct open_job {
    const char *path;
    int fd;
    struct stat st;
} open_job;

static int open_fn(void *arg)
{
    open_job *j = arg;
    int rc;

    j->fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (j->fd < 0)
        return -errno;
    if (fstat(j->fd, &j->st) == 0)
        return 0;
    rc = -errno;
    close(j->fd);
    j->fd = -1;
    return rc;
}

typedef struct read_job {
    int fd;
    char *buf;
    size_t n;
    off_t off;
} read_job;

static int read_fn(void *arg)
{
    read_job *j = arg;
    ssize_t n;

    do
        n = pread(j->fd, j->buf, j->n, j->off);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : (int)n;
}

/* Up to n (<= CHUNK) bytes at 'off', from the page cache if they are
 * there, else from the pool. Returns the count (0: end of file) or a
 * negative code. */
static int read_chunk(int fd, char *buf, size_t n, off_t off, int64_t dl)
{
    struct iovec iov = {buf, n};
    read_job j = {fd, buf, n, off};
    ssize_t got = preadv2(fd, &iov, 1, off, RWF_NOWAIT);

    /* 0 is end of file, or (on some kernels) "would block": ask the pool,
     * which tells the two apart. */
    if (got > 0)
        return (int)got;
    if (got < 0 && errno != EAGAIN && errno != EOPNOTSUPP && errno != ENOSYS &&
        errno != EINVAL)
        return -errno;
    return offload(read_fn, &j, dl);
}

/* Exactly len bytes at 'off' into buf. Returns 0, -EIO (the file is
 * shorter now) or a negative code. */
static int read_all(int fd, char *buf, uint64_t len, uint64_t off, int64_t dl)
{
    while (len > 0) {
        size_t n = len < CHUNK ? (size_t)len : CHUNK;
        int rc = read_chunk(fd, buf, n, (off_t)off, dl);

        if (rc <= 0)
            return rc < 0 ? rc : -EIO;
        buf += rc;
        off += (uint64_t)rc;
        len -= (uint64_t)rc;
    }
    return 0;
}

/* ---- which file ---------------------------------------------------------- */

/* Is the relative path one a client may name? No ".", "..", nor hidden
 * segments. */
static bool safe(const char *rel)
{
    for (const char *p = rel; *p;) {
        size_t n = strcspn(p, "/");

        if (n > 0 && p[0] == '.')
            return false;
        p += n;
        p += *p == '/';
    }
    return true;
}

static int not_found(gt_http_req *req)
{
    return gt__http_reject(req, -ENOENT, 404, "Not Found");
}

/* The file's path under the root in *out; *dir when the URL names a
 * directory (empty, or ending in '/'). */
static int file_path(gt_http_req *req, const gt_http_static *st,
                     const char **out, bool *dir)
{
    const char *rel, *index = st->index ? st->index : "index.html";
    size_t rl, need;
    char *p;
    int rc = gt_http_req_rest(req, &rel);

    if (rc == -ENOENT) { /* a route without "*": the whole path */
        rel = gt_http_req_path(req);
        if (!rel)
            return gt__http_reject(req, -EINVAL, 400, "the path is malformed");
        rel += *rel == '/';
        rc = 0;
    }
    if (rc < 0)
        return rc;
    if (!safe(rel))
        return not_found(req);
    rl = strlen(rel);
    *dir = rl == 0 || rel[rl - 1] == '/';
    if (*dir && !*index)
        return not_found(req);
    need = strlen(st->root) + rl + strlen(index) + 2;
    p = gt__http_alloc(req, need);
    if (!p)
        return -ENOMEM;
    snprintf(p, need, "%s/%s%s", st->root, rel, *dir ? index : "");
    *out = p;
    return 0;
}

/* ---- answering ----------------------------------------------------------- */

static void close_fd(void *arg)
{
    close(*(int *)arg);
}

/* A directory named without its '/': send the client to it. */
static int redirect_dir(gt_http_req *req, gt_http_res *res)
{
    size_t n;
    const char *path = gt_http_req_path_raw(req, &n);
    char *loc = gt__http_alloc(req, n + 2);

    if (!loc)
        return -ENOMEM;
    memcpy(loc, path, n);
    memcpy(loc + n, "/", 2);
    gt_http_res_status(res, 301);
    return gt_http_res_header(res, "Location", loc);
}

/* The fields every answer about the file has. */
static int validators(gt_http_res *res, const gt_http_static *st,
                      const struct stat *sb, const char *etag)
{
    char date[32], cc[48];
    int rc;

    gt__http_file_date(sb->st_mtim.tv_sec, date);
    if (st->max_age > 0)
        snprintf(cc, sizeof(cc), "public, max-age=%d", st->max_age);
    else
        snprintf(cc, sizeof(cc), "no-cache");
    rc = gt_http_res_header(res, "ETag", etag);
    if (rc == 0)
        rc = gt_http_res_header(res, "Last-Modified", date);
    if (rc == 0 && st->max_age >= 0)
        rc = gt_http_res_header(res, "Cache-Control", cc);
    if (rc == 0)
        rc = gt_http_res_header(res, "Accept-Ranges", "bytes");
    return rc;
}

/* 206 with its Content-Range, or 416. Returns 1 to send the part, 0 when
 * the 416 is built, or a negative code. */
static int range(gt_http_req *req, gt_http_res *res, const struct stat *sb,
                 const char *etag, uint64_t *from, uint64_t *len)
{
    char cr[80];
    int r = gt__http_file_range(req, sb, etag, from, len);

    if (r == 0)
        return 1;
    if (r < 0) {
        snprintf(cr, sizeof(cr), "bytes */%llu",
                 (unsigned long long)sb->st_size);
        gt_http_res_status(res, 416);
        gt_http_res_body_static(res, "Range Not Satisfiable", 21);
        return gt_http_res_header(res, "Content-Range", cr);
    }
    snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)*from,
             (unsigned long long)(*from + *len - 1),
             (unsigned long long)sb->st_size);
    gt_http_res_status(res, 206);
    r = gt_http_res_header(res, "Content-Range", cr);
    return r < 0 ? r : 1;
}

/* The body: len bytes at 'from'. */
static int send_bytes(gt_http_req *req, gt_http_res *res, int fd, uint64_t from,
                      uint64_t len)
{
    int64_t dl = gt_co_deadline(gt_co_self());
    char *buf;
    int rc;

    if (len <= SMALL_FILE && !res->no_body) {
        buf = gt__http_alloc(req, (size_t)len);
        if (!buf)
            return -ENOMEM;
        rc = read_all(fd, buf, len, from, dl);
        if (rc == 0)
            gt_http_res_body_static(res, buf, (size_t)len);
        return rc;
    }
    gt__http_res_stream_sized(res, len);
    if (res->no_body) /* HEAD: the head with the length, no reads */
        return gt_http_res_write(res, "", 0);
    buf = gt_co_alloc(CHUNK);
    if (!buf)
        return -ENOMEM;
    for (rc = 0; rc == 0 && len > 0;) {
        size_t n = len < CHUNK ? (size_t)len : CHUNK;

        rc = read_all(fd, buf, n, from, dl);
        if (rc == 0)
            rc = gt_http_res_write(res, buf, n);
        from += n;
        len -= n;
    }
    return rc;
}

/* The open file 'fd' (with 'sb') as the answer. */
static int answer(gt_http_req *req, gt_http_res *res, const gt_http_static *st,
                  int fd, const struct stat *sb, const char *path)
{
    char etag[48];
    uint64_t from = 0, len = (uint64_t)sb->st_size;
    int rc;

    gt__http_file_etag(sb, etag);
    rc = validators(res, st, sb, etag);
    if (rc < 0)
        return rc;
    if (gt__http_file_fresh(req, sb, etag)) {
        gt_http_res_status(res, 304);
        return 0;
    }
    rc = gt_http_res_header(res, "Content-Type", gt__http_file_type(path));
    if (rc == 0)
        rc = range(req, res, sb, etag, &from, &len);
    if (rc <= 0)
        return rc;
    return send_bytes(req, res, fd, from, len);
}

/* What open()'s error means for the client. */
static int open_failed(gt_http_req *req, int rc)
{
    if (rc == -ENOENT || rc == -ENOTDIR || rc == -ENAMETOOLONG || rc == -ELOOP)
        return not_found(req);
    if (rc == -EACCES || rc == -EPERM)
        return gt__http_reject(req, -EACCES, 403, "Forbidden");
    return rc;
}

int gt_http_static_serve(gt_http_req *req, gt_http_res *res, void *arg)
{
    const gt_http_static *st = arg;
    open_job j = {.fd = -1};
    bool dir = false;
    int *fdp, rc;

    if (req->head.method_id != GT__HTTP_GET &&
        req->head.method_id != GT__HTTP_HEAD) {
        req->allow = "GET, HEAD";
        return gt__http_reject(req, -EOPNOTSUPP, 405, "Method Not Allowed");
    }
    rc = file_path(req, st, &j.path, &dir);
    if (rc == 0)
        rc = offload(open_fn, &j, gt_co_deadline(gt_co_self()));
    if (rc < 0)
        return j.path ? open_failed(req, rc) : rc;
    fdp = gt__http_alloc(req, sizeof(int));
    if (!fdp) {
        close(j.fd);
        return -ENOMEM;
    }
    *fdp = j.fd;
    if (gt_co_defer(close_fd, fdp) < 0) /* then it closed the file */
        return -ENOMEM;
    if (S_ISDIR(j.st.st_mode))
        return dir ? not_found(req) : redirect_dir(req, res);
    if (!S_ISREG(j.st.st_mode))
        return not_found(req);
    return answer(req, res, st, j.fd, &j.st, j.path);
}
