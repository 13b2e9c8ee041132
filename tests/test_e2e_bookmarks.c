/* tests/test_e2e_bookmarks.c -- examples/bookmarks end to end, on SQLite
 * and PostgreSQL: every route and every error path it documents.
 *
 * The test runs the real binary (build/examples/bookmarks, or
 * $GT_BOOKMARKS) in a fresh working directory on a free port, so SQLite
 * gets a new bookmarks.db there; PostgreSQL ($GT_TEST_PG_URL, the server of
 * scripts/db.sh) has the example's tables dropped first. The client is the
 * coroutine client of httpc.c; the test also opens the database itself to
 * count audit rows and to drop the audit table, which must make an update
 * fail and roll back; on PostgreSQL it stops the postmaster to see
 * /healthz answer 503. SIGTERM must end the example with exit code 0. For
 * /preview the test serves the pages itself: a greentor server on
 * loopback in the same runtime as its client, so the example's outbound
 * fetches come back to this process while it waits for the example's
 * answer. No timing thresholds: waits are bounded only to turn a hang
 * into a failure (the example's fetch timeout is set to 1 s so that the
 * page that never answers costs one second). The PostgreSQL run also
 * gives the example a Redis (REDIS_URL, a redis-server of the test's own)
 * to cache previews in. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "http_fixture.h"
#include "httpc.h"
#include "redis_fixture.h"
#include "util.h"

#define WAIT_MS 30000
#define ORIGIN "https://app.example"

static struct {
    pid_t pid;
    int port;
    char dir[64];  /* working directory */
    char log[160]; /* stdout and stderr */
    char db[PATH_MAX + 16];
    bool pg;
    pid_t redis; /* the cache's server (PostgreSQL run only), or 0 */
    int redis_port;
} bm;

#define APP_NAME "gt_bookmarks_e2e" /* the example's sessions on PostgreSQL */

static httpc conn;

/* ---- the process --------------------------------------------------------- */

static const char *log_tail(void)
{
    static char tail[2100];
    int fd = open(bm.log, O_RDONLY | O_CLOEXEC);
    off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
    ssize_t n =
        fd >= 0 ? pread(fd, tail, 2048, size > 2048 ? size - 2048 : 0) : -1;

    if (fd >= 0)
        close(fd);
    tail[n > 0 ? n : 0] = '\0';
    return tail;
}

static int drop_tables(void *arg)
{
    gt_db *db;

    (void)arg;
    ck_assert_int_eq(gt_db_open(&db, bm.db, gt_deadline_in(WAIT_MS)), 0);
    gt_db_exec(db, "DROP TABLE IF EXISTS bookmarks, audit", NULL, 0,
               gt_deadline_in(WAIT_MS));
    gt_db_close(db);
    return 0;
}

static bool port_accepts(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

static void start(const char *backend)
{
    char bin[PATH_MAX], stat_dir[PATH_MAX], url_opts[PATH_MAX + 64];
    const char *b = getenv("GT_BOOKMARKS"), *url = NULL;
    int status;

    ck_assert_msg(realpath(b ? b : "build/examples/bookmarks", bin) &&
                      realpath("examples/bookmarks/static", stat_dir),
                  "run from the repository root after `make "
                  "build/examples/bookmarks`");
    snprintf(bm.dir, sizeof(bm.dir), "/tmp/greentor-bm-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(bm.dir));
    snprintf(bm.log, sizeof(bm.log), "%s.log", bm.dir);
    if (strcmp(backend, "postgres") == 0) {
        url = getenv("GT_TEST_PG_URL");
        ck_assert_msg(url && *url, "GT_TEST_PG_URL is not set: run `eval "
                                   "\"$(bash scripts/db.sh start)\"` first");
        snprintf(bm.db, sizeof(bm.db), "%s", url);
        ck_assert_int_eq(run_main(drop_tables, NULL), 0);
        /* Named, to find its sessions; a short acquire timeout for
         * /healthz's 503. */
        snprintf(url_opts, sizeof(url_opts),
                 "%s%sapplication_name=" APP_NAME "&acquire_timeout_ms=500",
                 url, strchr(url, '?') ? "&" : "?");
        url = url_opts;
        bm.pg = true;
        bm.redis_port = test_free_port();
        bm.redis = redis_spawn(bm.redis_port, NULL);
        ck_assert_msg(bm.redis > 0, "redis-server did not start");
    } else {
        snprintf(bm.db, sizeof(bm.db), "sqlite:%s/bookmarks.db", bm.dir);
    }
    bm.port = test_free_port();
    bm.pid = fork();
    ck_assert_int_ge(bm.pid, 0);
    if (bm.pid == 0) {
        char port[16];
        int out = open(bm.log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        snprintf(port, sizeof(port), "%d", bm.port);
        if (out < 0 || chdir(bm.dir) != 0)
            _exit(126);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        setenv("PORT", port, 1);
        setenv("STATIC_DIR", stat_dir, 1);
        setenv("CORS_ORIGINS", ORIGIN, 1);
        setenv("PREVIEW_TIMEOUT_MS", "1000", 1);
        if (url)
            setenv("DATABASE_URL", url, 1);
        else
            unsetenv("DATABASE_URL");
        if (bm.redis > 0) {
            char redis_url[64];

            snprintf(redis_url, sizeof(redis_url),
                     "redis://127.0.0.1:%d/0?max_open=4", bm.redis_port);
            setenv("REDIS_URL", redis_url, 1);
        } else {
            unsetenv("REDIS_URL");
        }
        execl(bin, bin, (char *)NULL);
        _exit(127);
    }
    for (int waited = 0; !port_accepts(bm.port); waited += 20) {
        ck_assert_msg(waitpid(bm.pid, &status, WNOHANG) == 0,
                      "the example exited at start:\n%s", log_tail());
        ck_assert_msg(waited < WAIT_MS, "no answer on port %d:\n%s", bm.port,
                      log_tail());
        usleep(20000);
    }
}

static void stop(void)
{
    int status = 0, waited = 0;

    kill(bm.pid, SIGTERM);
    while (waitpid(bm.pid, &status, WNOHANG) == 0 && waited < WAIT_MS) {
        usleep(20000);
        waited += 20;
    }
    if (waited >= WAIT_MS)
        kill(bm.pid, SIGKILL);
    redis_kill(bm.redis);
    bm.redis = 0;
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "no clean exit after SIGTERM (0x%x):\n%s", status,
                  log_tail());
}

/* After a passing test: the log and the working directory go. */
static void remove_files(void)
{
    static const char *const names[] = {"bookmarks.db", "bookmarks.db-wal",
                                        "bookmarks.db-shm"};
    char path[128];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", bm.dir, names[i]);
        unlink(path);
    }
    rmdir(bm.dir);
    unlink(bm.log);
}

/* ---- requests ------------------------------------------------------------ */

/* METHOD target with extra header lines and a JSON body (NULL: none). */
static void call(const char *method, const char *target, const char *hdrs,
                 const char *body, httpc_res *r)
{
    static char raw[80 * 1024];
    int64_t dl = gt_deadline_in(WAIT_MS);
    int n = snprintf(raw, sizeof(raw),
                     "%s %s HTTP/1.1\r\nHost: t\r\n%s%s%zu\r\n\r\n%s", method,
                     target, hdrs ? hdrs : "",
                     body ? "Content-Type: application/json\r\n"
                            "Content-Length: "
                          : "Content-Length: ",
                     body ? strlen(body) : 0, body ? body : "");
    int rc = conn.fd < 0 ? httpc_connect(&conn, dl) : 0;

    ck_assert_int_lt(n, (int)sizeof(raw));
    if (rc == 0)
        rc = httpc_send(&conn, raw, (size_t)n, dl);
    if (rc == 0)
        rc = httpc_read(&conn, r, dl);
    ck_assert_msg(rc == 0, "%s %s: %s\n%s", method, target, conn.err,
                  log_tail());
    if (r->close)
        httpc_close(&conn, 0);
}

static const char *field(const httpc_res *r, const char *name)
{
    static char v[256];

    httpc_header(r, name, v, sizeof(v));
    return v;
}

/* The JSON body of a response of 'status' (which must have a request id,
 * and the CORS fields since every request sends an Origin). */
static json_t *expect_json(httpc_res *r, int status, const char *what)
{
    json_error_t e;
    json_t *j;

    ck_assert_msg(r->status == status, "%s: %d, expected %d: %s", what,
                  r->status, status, r->body);
    ck_assert_msg(strlen(field(r, "X-Request-Id")) == 16, "%s: no id", what);
    ck_assert_str_eq(field(r, "Access-Control-Allow-Origin"), ORIGIN);
    j = json_loads(r->body, 0, &e);
    ck_assert_msg(j != NULL, "%s: not JSON: %s", what, r->body);
    httpc_res_free(r);
    return j;
}

/* An error: JSON with the status and a message containing 'msg'. */
static void expect_error(const char *method, const char *target,
                         const char *body, int status, const char *msg)
{
    char what[160];
    httpc_res r;
    json_t *j;

    snprintf(what, sizeof(what), "%s %s", method, target);
    call(method, target, "Origin: " ORIGIN "\r\n", body, &r);
    j = expect_json(&r, status, what);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
    ck_assert_msg(strstr(json_string_value(json_object_get(j, "error")), msg),
                  "%s: error '%s' lacks '%s'", what,
                  json_string_value(json_object_get(j, "error")), msg);
    ck_assert_ptr_nonnull(json_object_get(j, "request_id"));
    json_decref(j);
}

static json_t *ok(const char *method, const char *target, const char *body,
                  int status)
{
    httpc_res r;

    call(method, target, "Origin: " ORIGIN "\r\n", body, &r);
    return expect_json(&r, status, target);
}

static int64_t db_count(const char *sql)
{
    gt_db *db;
    gt_rows *rows;
    int64_t n;

    ck_assert_int_eq(gt_db_open(&db, bm.db, gt_deadline_in(WAIT_MS)), 0);
    ck_assert_int_eq(gt_db_query(db, &rows, sql, NULL, 0, GT_NEVER), 1);
    n = gt_rows_int(rows, 0, 0);
    gt_rows_free(rows);
    gt_db_close(db);
    return n;
}

static void db_exec(const char *sql)
{
    gt_db *db;

    ck_assert_int_eq(gt_db_open(&db, bm.db, gt_deadline_in(WAIT_MS)), 0);
    ck_assert_int_ge(gt_db_exec(db, sql, NULL, 0, GT_NEVER), 0);
    gt_db_close(db);
}

/* ---- the routes ---------------------------------------------------------- */

static void check_create(void)
{
    char big[70 * 1024];
    httpc_res r;
    json_t *j;

    call("POST", "/bookmarks", "Origin: " ORIGIN "\r\n",
         "{\"url\":\"https://"
         "a.example\",\"title\":\"A\",\"tags\":[\"x\",\"y\"]}",
         &r);
    ck_assert_str_eq(field(&r, "Location"), "/bookmarks/1");
    j = expect_json(&r, 201, "create");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(j, "url")),
                     "https://a.example");
    ck_assert_int_eq(json_array_size(json_object_get(j, "tags")), 2);
    json_decref(j);
    json_decref(ok("POST", "/bookmarks",
                   "{\"url\":\"http://b.example\",\"tags\":[\"y\"]}", 201));
    json_decref(
        ok("POST", "/bookmarks", "{\"url\":\"https://c.example\"}", 201));

    expect_error("POST", "/bookmarks", "{\"url\":", 400, "line 1, column");
    expect_error("POST", "/bookmarks", "[1]", 400, "url must be");
    expect_error("POST", "/bookmarks", "{\"title\":\"no url\"}", 400,
                 "url must be");
    expect_error("POST", "/bookmarks", "{\"url\":\"ftp://x\"}", 400,
                 "url must be");
    expect_error("POST", "/bookmarks", "{\"url\":\"http://x\",\"title\":5}",
                 400, "title must be");
    expect_error("POST", "/bookmarks", "{\"url\":\"http://x\",\"tags\":\"x\"}",
                 400, "tags must be");
    expect_error("POST", "/bookmarks",
                 "{\"url\":\"http://x\",\"tags\":[\"Bad Tag\"]}", 400,
                 "tag 0 must be");
    /* Not JSON: 415. */
    call("POST", "/bookmarks", "Content-Type: text/plain\r\n", NULL, &r);
    ck_assert_int_eq(r.status, 415);
    httpc_res_free(&r);
    /* Over 64 KiB: 413, as JSON with CORS. */
    memset(big, ' ', sizeof(big) - 1);
    big[0] = '{';
    big[sizeof(big) - 2] = '}';
    big[sizeof(big) - 1] = '\0';
    expect_error("POST", "/bookmarks", big, 413, "");
}

static void check_list(void)
{
    json_t *j = ok("GET", "/bookmarks", NULL, 200);
    int64_t next;

    ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 3);
    ck_assert(json_is_null(json_object_get(j, "next_after")));
    json_decref(j);
    j = ok("GET", "/bookmarks?tag=y", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
    j = ok("GET", "/bookmarks?tag=x", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    j = ok("GET", "/bookmarks?limit=2", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 2);
    next = json_integer_value(json_object_get(j, "next_after"));
    ck_assert_int_eq(next, 2);
    json_decref(j);
    j = ok("GET", "/bookmarks?limit=2&after=2", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(json_object_get(j, "items"), 0), "id")),
                     3);
    json_decref(j);
    expect_error("GET", "/bookmarks?limit=abc", NULL, 400, "'limit'");
    expect_error("GET", "/bookmarks?limit=0", NULL, 400, "limit must be");
    expect_error("GET", "/bookmarks?limit=101", NULL, 400, "limit must be");
    expect_error("GET", "/bookmarks?after=-1", NULL, 400, "after must be");
    expect_error("GET", "/bookmarks?tag=%zz", NULL, 400, "'tag'");
    expect_error("GET", "/bookmarks?tag=UPPER", NULL, 400, "tag must be");
}

static void check_one(void)
{
    json_t *j = ok("GET", "/bookmarks/2", NULL, 200);

    ck_assert_str_eq(json_string_value(json_object_get(j, "url")),
                     "http://b.example");
    json_decref(j);
    expect_error("GET", "/bookmarks/99", NULL, 404, "no bookmark 99");
    expect_error("GET", "/bookmarks/abc", NULL, 404, "'id'");
    expect_error("POST", "/bookmarks/1", "{}", 405, "Method Not Allowed");
    expect_error("GET", "/nope", NULL, 404, "Not Found");
}

static void check_update(void)
{
    json_t *j = ok("PUT", "/bookmarks/1",
                   "{\"url\":\"https://a2.example\",\"title\":\"A2\"}", 200);

    ck_assert_str_eq(json_string_value(json_object_get(j, "title")), "A2");
    ck_assert_int_eq(json_array_size(json_object_get(j, "tags")), 0);
    json_decref(j);
    ck_assert_int_eq(db_count("SELECT count(*) FROM audit"), 1);
    expect_error("PUT", "/bookmarks/99", "{\"url\":\"https://z.example\"}", 404,
                 "no bookmark 99");
    expect_error("PUT", "/bookmarks/1", "{\"url\":1}", 400, "url must be");
    ck_assert_int_eq(db_count("SELECT count(*) FROM audit"), 1);
    /* No audit table: the update fails and is rolled back with it. */
    db_exec("DROP TABLE audit");
    expect_error("PUT", "/bookmarks/1", "{\"url\":\"https://a3.example\"}", 500,
                 "Internal Server Error");
    j = ok("GET", "/bookmarks/1", NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "url")),
                     "https://a2.example");
    json_decref(j);
}

static void check_delete(void)
{
    httpc_res r;

    call("DELETE", "/bookmarks/3", "Origin: " ORIGIN "\r\n", NULL, &r);
    ck_assert_int_eq(r.status, 204);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"), ORIGIN);
    httpc_res_free(&r);
    expect_error("DELETE", "/bookmarks/3", NULL, 404, "no bookmark 3");
    expect_error("DELETE", "/bookmarks/x", NULL, 404, "'id'");
}

static void check_rest(void)
{
    httpc_res r;
    json_t *j = ok("GET", "/healthz", NULL, 200);

    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    call("GET", "/", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(field(&r, "Content-Type"), "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(r.body, "<h1>Bookmarks</h1>"));
    httpc_res_free(&r);
    call("GET", "/static/app.js", NULL, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(field(&r, "Content-Type"),
                     "text/javascript; charset=utf-8");
    httpc_res_free(&r);
    expect_error("GET", "/static/../main.c", NULL, 404, "Not Found");
    expect_error("GET", "/static/nope.js", NULL, 404, "Not Found");
    /* A preflight, answered by the server. */
    call("OPTIONS", "/bookmarks",
         "Origin: " ORIGIN "\r\nAccess-Control-Request-Method: PUT\r\n", NULL,
         &r);
    ck_assert_int_eq(r.status, 204);
    ck_assert_str_eq(field(&r, "Access-Control-Allow-Origin"), ORIGIN);
    httpc_res_free(&r);
}

/* PostgreSQL: /healthz is 503 while the database does not answer (its
 * postmaster stopped, the example's sessions ended), and 200 again once it
 * does. */
static void check_health_down(void)
{
    pid_t pm = pg_postmaster_pid(), guard;
    httpc_res r;
    int status = 0;

    db_count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE application_name = '" APP_NAME "'");
    guard = resume_later(pm, 30); /* never leave it stopped */
    ck_assert_int_eq(kill(pm, SIGSTOP), 0);
    call("GET", "/healthz", "Origin: " ORIGIN "\r\n", NULL, &r);
    status = r.status;
    httpc_res_free(&r);
    kill(pm, SIGCONT);
    kill(guard, SIGKILL);
    waitpid(guard, NULL, 0);
    ck_assert_msg(status == 503, "/healthz with the database stopped: %d",
                  status);
    /* Back: 200 once the pool's back-off lets it try again. */
    for (int waited = 0;; waited += 100) {
        call("GET", "/healthz", NULL, NULL, &r);
        status = r.status;
        httpc_res_free(&r);
        if (status == 200)
            break;
        ck_assert_msg(waited < WAIT_MS, "/healthz stays %d:\n%s", status,
                      log_tail());
        gt_sleep(100);
    }
}

/* ---- /preview: pages served by the test ---------------------------------- */

#define HTML "text/html; charset=utf-8"

static int page_titled(gt_http_req *req, gt_http_res *res, void *arg)
{
    static const char page[] =
        "<!doctype html><html><head><!-- <title>not this</title> -->\n"
        "<TITLE lang=\"en\">\n  Tom &amp; Jerry &lt;3&gt;\t&quot;q&quot; "
        "&apos;a&apos; &#233;&#x263a; &copy;  </Title>"
        "<title>second</title></head><body>hi</body></html>";

    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", HTML);
    return gt_http_res_body(res, page, sizeof(page) - 1);
}

static int page_untitled(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", HTML);
    return gt_http_res_printf(res, "<html><head><titles>no</titles></head>"
                                   "<body><p>no title</p></body></html>");
}

static int page_plain(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_printf(res, "<title>text, not HTML</title>");
}

static int page_gone(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_status(res, 404);
    gt_http_res_header(res, "Content-Type", HTML);
    return gt_http_res_printf(res, "<title>Gone</title>");
}

static int page_moved(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_status(res, 302);
    return gt_http_res_header(res, "Location", "/titled");
}

static int page_big(gt_http_req *req, gt_http_res *res, void *arg)
{
    static char page[300 * 1024];

    (void)req, (void)arg;
    memset(page, 'a', sizeof(page));
    memcpy(page, "<title>big</title>", 18);
    gt_http_res_header(res, "Content-Type", HTML);
    return gt_http_res_body(res, page, sizeof(page));
}

/* Answers after the example's 1 s fetch timeout (or when the page server
 * stops and cancels it). */
static int page_slow(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_sleep(5000);
    return gt_http_res_printf(res, "<title>late</title>");
}

/* Its title counts the fetches: a cached summary shows an old count. */
static int page_counter(gt_http_req *req, gt_http_res *res, void *arg)
{
    static int fetches;

    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", HTML);
    return gt_http_res_printf(res, "<title>n=%d</title>", ++fetches);
}

static int page_port;

/* A bookmark of the test's page at 'path' (or a full URL); its id. */
static int64_t bookmark_of(const char *path)
{
    char body[256];
    json_t *j;
    int64_t id;

    if (strncmp(path, "http", 4) == 0)
        snprintf(body, sizeof(body), "{\"url\":\"%s\"}", path);
    else
        snprintf(body, sizeof(body), "{\"url\":\"http://127.0.0.1:%d%s\"}",
                 page_port, path);
    j = ok("POST", "/bookmarks", body, 201);
    id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    return id;
}

/* GET /preview of a bookmark of 'path': 200 and exactly {status,
 * content_type, title}, 'type' and 'title' NULL for null. */
static void expect_preview(const char *path, int status, const char *type,
                           const char *title)
{
    char target[64];
    json_t *j, *t;

    snprintf(target, sizeof(target), "/preview/%lld",
             (long long)bookmark_of(path));
    j = ok("GET", target, NULL, 200);
    ck_assert_msg(json_object_size(j) == 3, "%s: %zu fields", path,
                  json_object_size(j));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
    t = json_object_get(j, "content_type");
    if (type)
        ck_assert_str_eq(json_string_value(t), type);
    else
        ck_assert_msg(json_is_null(t), "%s: content_type not null", path);
    t = json_object_get(j, "title");
    if (title)
        ck_assert_msg(json_is_string(t) &&
                          strcmp(json_string_value(t), title) == 0,
                      "%s: title '%s', expected '%s'", path,
                      json_is_string(t) ? json_string_value(t)
                                        : "(not a "
                                          "string)",
                      title);
    else
        ck_assert_msg(json_is_null(t), "%s: title not null", path);
    json_decref(j);
}

/* Two previews of one bookmark: with the cache (REDIS_URL, on the
 * PostgreSQL run) the second is the first's summary, "X-Cache: hit";
 * without, the page is fetched again and no X-Cache is sent. */
static void expect_cached_preview(void)
{
    char target[64], cache[256], want[16];
    httpc_res r;
    json_t *j;

    snprintf(target, sizeof(target), "/preview/%lld",
             (long long)bookmark_of("/counter"));
    for (int i = 1; i <= 2; i++) {
        call("GET", target, "Origin: " ORIGIN "\r\n", NULL, &r);
        snprintf(cache, sizeof(cache), "%s", field(&r, "X-Cache"));
        j = expect_json(&r, 200, target);
        snprintf(want, sizeof(want), "n=%d", bm.redis > 0 ? 1 : i);
        ck_assert_str_eq(json_string_value(json_object_get(j, "title")), want);
        ck_assert_str_eq(cache, bm.redis == 0 ? "" : i == 1 ? "miss" : "hit");
        json_decref(j);
    }
}

/* GET /preview of a bookmark of 'path' (or URL) fails with 502. */
static void expect_bad_gateway(const char *path, const char *msg)
{
    char target[64];

    snprintf(target, sizeof(target), "/preview/%lld",
             (long long)bookmark_of(path));
    expect_error("GET", target, NULL, 502, msg);
}

static void check_preview(void)
{
    static const fx_route pages[] = {
        {"GET", "/titled", page_titled}, {"GET", "/untitled", page_untitled},
        {"GET", "/plain", page_plain},   {"GET", "/moved", page_moved},
        {"GET", "/big", page_big},       {"GET", "/slow", page_slow},
        {"GET", "/gone", page_gone},     {"GET", "/counter", page_counter},
    };
    gt_http_config cfg = {.host = "127.0.0.1", .drain_timeout_ms = 100};
    gt_http_router *router;
    gt_http_server *srv;
    char closed[64];

    ck_assert_int_eq(gt_http_router_new(&router), 0);
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        ck_assert_int_eq(gt_http_router_add(router, pages[i].method,
                                            pages[i].pattern, pages[i].fn,
                                            NULL),
                         0);
    ck_assert_int_eq(gt_http_server_open(&srv, gt_rt_self(), &cfg,
                                         gt_http_router_dispatch, router),
                     0);
    page_port = gt_http_server_port(srv);

    expect_preview("/titled", 200, HTML,
                   "Tom & Jerry <3> \"q\" 'a' \xc3\xa9\xe2\x98\xba &copy;");
    expect_preview("/untitled", 200, HTML, NULL);
    expect_preview("/plain", 200, "text/plain; charset=utf-8", NULL);
    expect_preview("/moved", 200, HTML,
                   "Tom & Jerry <3> \"q\" 'a' \xc3\xa9\xe2\x98\xba &copy;");
    /* The page's own status is reported, not passed on. */
    expect_preview("/gone", 404, HTML, "Gone");
    snprintf(closed, sizeof(closed), "http://127.0.0.1:%d/", test_free_port());
    expect_bad_gateway(closed, "connection refused");
    expect_bad_gateway("/big", "too large");
    expect_bad_gateway("/slow", "timed out");
    expect_cached_preview();
    expect_error("GET", "/preview/99", NULL, 404, "no bookmark 99");
    expect_error("GET", "/preview/abc", NULL, 404, "'id'");

    gt_http_server_stop(srv);
    ck_assert_int_eq(gt_http_server_join(srv, gt_deadline_in(WAIT_MS)), 0);
    gt_http_server_close(srv);
    gt_http_router_free(router);
}

static int client(void *arg)
{
    (void)arg;
    httpc_init(&conn, bm.port);
    check_create();
    check_list();
    check_one();
    check_update();
    check_delete();
    check_rest();
    check_preview();
    if (bm.pg)
        check_health_down();
    httpc_close(&conn, 0);
    return 0;
}

static const char *const backends[] = {"sqlite", "postgres"};

START_TEST(bookmarks_every_route)
{
    start(backends[_i]);
    ck_assert_int_eq(run_main(client, NULL), 0);
    stop();
    remove_files();
}
END_TEST

void add_e2e_bookmarks_tests(Suite *s, const char *backend)
{
    int i = strcmp(backend, "postgres") == 0;
    TCase *tc =
        tcase_create(i ? "e2e_bookmarks_postgres" : "e2e_bookmarks_sqlite");

    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, bookmarks_every_route, i, i + 1);
    suite_add_tcase(s, tc);
}
