/* examples/bookmarks -- a JSON API for bookmarks, the service of issue 10
 * written on greentor's web layer, on SQLite by default or PostgreSQL.
 *
 *   POST   /bookmarks       {"url","title","tags":[...]} -> 201 + Location
 *   GET    /bookmarks       ?tag=&limit=&after= -> {"items","next_after"}
 *   GET    /bookmarks/:id   -> 200 or 404
 *   PUT    /bookmarks/:id   -> 200 or 404; the update and its audit row in
 *                              one transaction
 *   DELETE /bookmarks/:id   -> 204 or 404
 *   GET    /preview/:id     -> {"status","content_type","title"} of the
 *                              bookmark's page, fetched now (preview.c);
 *                              404, or 502 when the fetch fails
 *   GET    /healthz         -> 200 when the database answers, else 503
 *   GET    /, /static/...   -> files from STATIC_DIR
 *
 * Every error is JSON ({"error","status","request_id"}), the router's 404
 * and 405 and the server's 413 included, with the request id and the CORS
 * fields on every response. Environment: PORT [8081], WORKERS [1],
 * DATABASE_URL [sqlite:bookmarks.db], STATIC_DIR
 * [examples/bookmarks/static], CORS_ORIGINS [*], ACCESS_LOG [unset],
 * PREVIEW_TIMEOUT_MS [10000], REDIS_URL [unset: no cache; e.g.
 * redis://127.0.0.1:6379/0?max_open=8] and PREVIEW_CACHE_S [300], how long
 * /preview keeps a page's summary in Redis. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greentor.h"
#include "preview.h"

#define BODY_MAX (64 * 1024)
#define URL_MAX 2048
#define TITLE_MAX 200
#define TAG_MAX 32
#define TAGS_MAX 10
#define COLUMNS "id, url, title, tags"

static gt_pool *pool;
static gt_pool *cache; /* REDIS_URL's, or NULL */

/* ---- bookmarks as JSON --------------------------------------------------- */

/* The fields of a request body. Tags are stored as ",a,b," so that one
 * LIKE finds a tag on every database. */
typedef struct bookmark {
    const char *url, *title;
    char tags[TAGS_MAX * (TAG_MAX + 1) + 2];
} bookmark;

static bool valid_tag(const char *t)
{
    size_t n = strlen(t);

    if (n == 0 || n > TAG_MAX)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || (*t >= '0' && *t <= '9') ||
              *t == '-'))
            return false;
    return true;
}

static void unref(void *json)
{
    json_decref(json);
}

/* A JSON error reply; 1 once built (the handler then returns 0). */
static int reply(gt_http_res *res, int status, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = gt_http_res_verror(res, status, fmt, ap);
    va_end(ap);
    return rc < 0 ? rc : 1;
}

/* Read and check the body into *b. Returns 0, 1 when it answered 400
 * itself, or a rejection's code (400, 413, 415, answered as JSON). */
static int parse(gt_http_req *req, gt_http_res *res, bookmark *b)
{
    gt_http_json_opts opts = {.max_size = BODY_MAX, .require_type = 1};
    json_t *body, *title, *tags, *t;
    size_t i, n = 1;
    int rc = gt_http_req_json(req, &body, &opts);

    if (rc < 0 || (rc = gt_co_defer(unref, body)) < 0)
        return rc;
    b->url = json_string_value(json_object_get(body, "url"));
    title = json_object_get(body, "title");
    b->title = title ? json_string_value(title) : "";
    tags = json_object_get(body, "tags");
    if (!b->url || strlen(b->url) > URL_MAX ||
        (strncmp(b->url, "http://", 7) && strncmp(b->url, "https://", 8)))
        return reply(res, 400,
                     "url must be an http or https URL of at most "
                     "%d bytes",
                     URL_MAX);
    if (!b->title || strlen(b->title) > TITLE_MAX)
        return reply(res, 400, "title must be a string of at most %d bytes",
                     TITLE_MAX);
    if (tags && (!json_is_array(tags) || json_array_size(tags) > TAGS_MAX))
        return reply(res, 400, "tags must be an array of at most %d tags",
                     TAGS_MAX);
    strcpy(b->tags, ",");
    json_array_foreach(tags, i, t)
    {
        if (!json_is_string(t) || !valid_tag(json_string_value(t)))
            return reply(res, 400, "tag %zu must be 1 to %d of a-z, 0-9 and -",
                         i, TAG_MAX);
        n += (size_t)sprintf(b->tags + n, "%s,", json_string_value(t));
    }
    return 0;
}

/* Row i of "SELECT COLUMNS" as a JSON object; NULL when out of memory. */
static json_t *row_json(const gt_rows *r, int i)
{
    json_t *tags = json_array();
    const char *p = gt_rows_text(r, i, 3, NULL);

    for (size_t n; tags && *p; p += n + (p[n] == ',')) {
        n = strcspn(p, ",");
        if (n > 0)
            json_array_append_new(tags, json_stringn(p, n));
    }
    return json_pack("{s:I,s:s,s:s,s:o}", "id",
                     (json_int_t)gt_rows_int(r, i, 0), "url",
                     gt_rows_text(r, i, 1, NULL), "title",
                     gt_rows_text(r, i, 2, NULL), "tags", tags);
}

/* ---- handlers ------------------------------------------------------------ */

static int create(gt_http_req *req, gt_http_res *res, void *arg)
{
    bookmark b;
    gt_db *db;
    gt_rows *rows;
    char location[48];
    int rc = parse(req, res, &b);

    (void)arg;
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    if ((rc = gt_pool_db(pool, &db)) < 0)
        return rc;
    rc =
        gt_db_query(db, &rows,
                    "INSERT INTO bookmarks (url, title, tags) VALUES (?, ?, ?) "
                    "RETURNING " COLUMNS,
                    (gt_db_value[]){gt_db_text(b.url), gt_db_text(b.title),
                                    gt_db_text(b.tags)},
                    3, GT_NEVER);
    if (rc < 0)
        return rc;
    snprintf(location, sizeof(location), "/bookmarks/%lld",
             (long long)gt_rows_int(rows, 0, 0));
    gt_http_res_status(res, 201);
    gt_http_res_header(res, "Location", location);
    return gt_http_res_json(res, row_json(rows, 0));
}

/* An optional integer query parameter within [min, max]. */
static int int_param(gt_http_req *req, gt_http_res *res, const char *name,
                     int64_t min, int64_t max, int64_t *v)
{
    int rc = gt_http_req_query_int64(req, name, v);

    if (rc < 0 && rc != -ENOENT)
        return rc;
    if (*v < min || *v > max)
        return reply(res, 400, "%s must be %lld to %lld", name, (long long)min,
                     (long long)max);
    return 0;
}

static int list(gt_http_req *req, gt_http_res *res, void *arg)
{
    const char *tag = "";
    int64_t limit = 20, after = 0;
    char like[TAG_MAX + 3];
    json_t *items;
    gt_rows *rows;
    gt_db *db;
    int rc = gt_http_req_query_str(req, "tag", &tag), n;

    (void)arg;
    if (rc == 0 && !valid_tag(tag))
        return gt_http_res_error(res, 400,
                                 "tag must be 1 to %d of a-z, 0-9 "
                                 "and -",
                                 TAG_MAX);
    if ((rc < 0 && rc != -ENOENT) ||
        (rc = int_param(req, res, "limit", 1, 100, &limit)) != 0 ||
        (rc = int_param(req, res, "after", 0, INT64_MAX, &after)) != 0)
        return rc > 0 ? 0 : rc;
    if ((rc = gt_pool_db(pool, &db)) < 0)
        return rc;
    snprintf(like, sizeof(like), "%%,%s,%%", tag);
    n = gt_db_query(db, &rows,
                    "SELECT " COLUMNS " FROM bookmarks WHERE id > ? AND "
                    "(? = '' OR tags LIKE ?) ORDER BY id LIMIT ?",
                    (gt_db_value[]){gt_db_int(after), gt_db_text(tag),
                                    gt_db_text(like), gt_db_int(limit + 1)},
                    4, GT_NEVER);
    if (n < 0)
        return n;
    items = json_array();
    for (int i = 0; items && i < n && i < limit; i++)
        json_array_append_new(items, row_json(rows, i));
    return gt_http_res_json(
        res, json_pack("{s:o,s:o}", "items", items, "next_after",
                       n > limit ? json_integer(gt_rows_int(rows, limit - 1, 0))
                                 : json_null()));
}

/* The bookmark of the route's :id into *rows; 1 when it answered 404. */
static int fetch(gt_http_req *req, gt_http_res *res, int64_t *id,
                 gt_rows **rows)
{
    gt_db *db;
    int rc = gt_http_req_param_int64(req, "id", id);

    if (rc < 0 || (rc = gt_pool_db(pool, &db)) < 0)
        return rc; /* not an integer: recorded as 404 */
    rc = gt_db_query(db, rows, "SELECT " COLUMNS " FROM bookmarks WHERE id = ?",
                     (gt_db_value[]){gt_db_int(*id)}, 1, GT_NEVER);
    if (rc == 0)
        return reply(res, 404, "no bookmark %lld", (long long)*id);
    return rc < 0 ? rc : 0;
}

static int get_one(gt_http_req *req, gt_http_res *res, void *arg)
{
    int64_t id;
    gt_rows *rows;
    int rc = fetch(req, res, &id, &rows);

    (void)arg;
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    return gt_http_res_json(res, row_json(rows, 0));
}

/* The update and its audit row commit together. Every early return leaves
 * the transaction open, and the pool rolls it back when the request ends:
 * an audit row that cannot be written undoes the update. */
static int update(gt_http_req *req, gt_http_res *res, void *arg)
{
    bookmark b;
    int64_t id, n;
    gt_db *db;
    int rc = parse(req, res, &b);

    (void)arg;
    if (rc != 0 || (rc = gt_http_req_param_int64(req, "id", &id)) < 0 ||
        (rc = gt_pool_db(pool, &db)) < 0 ||
        (rc = gt_db_begin(db, GT_NEVER)) < 0)
        return rc > 0 ? 0 : rc;
    n = gt_db_exec(db,
                   "UPDATE bookmarks SET url = ?, title = ?, tags = ? "
                   "WHERE id = ?",
                   (gt_db_value[]){gt_db_text(b.url), gt_db_text(b.title),
                                   gt_db_text(b.tags), gt_db_int(id)},
                   4, GT_NEVER);
    if (n == 0)
        return gt_http_res_error(res, 404, "no bookmark %lld", (long long)id);
    if (n < 0 ||
        (n = gt_db_exec(db,
                        "INSERT INTO audit (bookmark_id, action) "
                        "VALUES (?, 'update')",
                        (gt_db_value[]){gt_db_int(id)}, 1, GT_NEVER)) < 0 ||
        (n = gt_db_commit(db, GT_NEVER)) < 0)
        return (int)n;
    return get_one(req, res, NULL);
}

static int delete_one(gt_http_req *req, gt_http_res *res, void *arg)
{
    int64_t id, n;
    gt_db *db;
    int rc = gt_http_req_param_int64(req, "id", &id);

    (void)arg;
    if (rc < 0 || (rc = gt_pool_db(pool, &db)) < 0)
        return rc;
    n = gt_db_exec(db, "DELETE FROM bookmarks WHERE id = ?",
                   (gt_db_value[]){gt_db_int(id)}, 1, GT_NEVER);
    if (n == 0)
        return gt_http_res_error(res, 404, "no bookmark %lld", (long long)id);
    if (n < 0)
        return (int)n;
    return gt_http_res_status(res, 204);
}

static int healthz(gt_http_req *req, gt_http_res *res, void *arg)
{
    gt_db *db;
    int rc = gt_pool_db(pool, &db);

    (void)req, (void)arg;
    if (rc == 0)
        rc = gt_db_ping(db, gt_deadline_in(1000));
    if (rc < 0)
        return gt_http_res_error(res, 503, "database: %s", gt_strerror(rc));
    return gt_http_res_json(res, json_pack("{s:s}", "status", "ok"));
}

/* ---- start-up ------------------------------------------------------------ */

static const char *env(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v && *v ? v : dflt;
}

/* The tables, in each database's words for an auto-increment key. */
static int create_schema(const char *url)
{
    const char *key = strncmp(url, "postgres", 8) == 0 ? "BIGSERIAL PRIMARY KEY"
                      : strncmp(url, "mysql", 5) == 0
                          ? "BIGINT AUTO_INCREMENT PRIMARY KEY"
                          : "INTEGER PRIMARY KEY";
    char sql[2][256];
    gt_db *db;
    int rc = gt_pool_db(pool, &db);

    snprintf(sql[0], sizeof(sql[0]),
             "CREATE TABLE IF NOT EXISTS bookmarks (id %s, url TEXT NOT "
             "NULL, title TEXT NOT NULL, tags TEXT NOT NULL)",
             key);
    snprintf(sql[1], sizeof(sql[1]),
             "CREATE TABLE IF NOT EXISTS audit (id %s, bookmark_id BIGINT "
             "NOT NULL, action TEXT NOT NULL, at TIMESTAMP NOT NULL "
             "DEFAULT CURRENT_TIMESTAMP)",
             key);
    for (int i = 0; rc == 0 && i < 2; i++)
        rc = (int)gt_db_exec(db, sql[i], NULL, 0, gt_deadline_in(10000));
    if (rc < 0)
        fprintf(stderr, "bookmarks: cannot create the tables: %s\n",
                rc == GT_EDB ? gt_db_errmsg(db) : gt_strerror(rc));
    gt_pool_db_release(pool);
    return rc < 0 ? rc : 0;
}

typedef struct app {
    const char *url;
    gt_http_router *router;
    gt_http_server *srv;
    int exit_code;
} app;

static int start(void *arg)
{
    static gt_http_cors cors = {.expose = "Location, X-Request-Id"};
    static const gt_http_hooks hooks = {.error = gt_http_error_json};
    app *a = arg;
    gt_http_config cfg = {.port = atoi(env("PORT", "8081")),
                          .request_id = 1,
                          .access_log = getenv("ACCESS_LOG") != NULL,
                          .hooks = &hooks,
                          .cors = &cors};
    int rc = create_schema(a->url);

    cors.origins = env("CORS_ORIGINS", "*");
    if (rc == 0)
        rc = gt_http_server_open(&a->srv, gt_rt_self(), &cfg,
                                 gt_http_router_dispatch, a->router);
    if (rc == 0)
        rc = gt_http_server_stop_on_signals(a->srv);
    if (rc < 0) {
        a->exit_code = 1;
        gt_rt_stop(gt_rt_self());
        return rc;
    }
    printf("bookmarks: listening on port %d\n", gt_http_server_port(a->srv));
    fflush(stdout);
    return 0;
}

int main(void)
{
    static gt_http_static files;
    static preview_cfg pv = {.pool = &pool, .cache = &cache};
    static const struct {
        const char *method, *pattern;
        gt_http_handler fn;
        void *arg;
    } routes[] = {
        {"POST", "/bookmarks", create, NULL},
        {"GET", "/bookmarks", list, NULL},
        {"GET", "/bookmarks/:id", get_one, NULL},
        {"PUT", "/bookmarks/:id", update, NULL},
        {"DELETE", "/bookmarks/:id", delete_one, NULL},
        {"GET", "/preview/:id", preview, &pv},
        {"GET", "/healthz", healthz, NULL},
        {"GET", "/", gt_http_static_serve, &files},
        {"GET", "/static/*", gt_http_static_serve, &files},
    };
    gt_rt_config rcfg = {.workers = atoi(env("WORKERS", "1"))};
    app a = {.url = env("DATABASE_URL", "sqlite:bookmarks.db")};
    char err[512];
    gt_rt *rt;
    int rc = gt_http_router_new(&a.router);

    files.root = env("STATIC_DIR", "examples/bookmarks/static");
    pv.timeout_ms = atoi(env("PREVIEW_TIMEOUT_MS", "10000"));
    pv.cache_ttl_s = atoi(env("PREVIEW_CACHE_S", "300"));
    for (size_t i = 0; rc == 0 && i < sizeof(routes) / sizeof(routes[0]); i++)
        rc = gt_http_router_add(a.router, routes[i].method, routes[i].pattern,
                                routes[i].fn, routes[i].arg);
    if (rc == 0)
        rc = gt_rt_new(&rt, &rcfg);
    if (rc < 0)
        return 1;
    rc = gt_pool_new(&pool, rt, a.url, NULL, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "bookmarks: DATABASE_URL: %s\n", err);
    else if (getenv("REDIS_URL") &&
             (rc = gt_pool_new(&cache, rt, getenv("REDIS_URL"), NULL, err,
                               sizeof(err))) < 0)
        fprintf(stderr, "bookmarks: REDIS_URL: %s\n", err);
    else if (gt_rt_post(rt, 0, start, &a) == 0)
        gt_rt_run(rt);
    gt_http_server_close(a.srv);
    gt_rt_free(rt);
    gt_pool_free(pool);
    gt_pool_free(cache);
    gt_http_router_free(a.router);
    return rc < 0 ? 2 : a.exit_code;
}
