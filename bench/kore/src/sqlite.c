/* bench/kore/src/sqlite.c -- kore's SQLite peer for bench/run.sh: GET
 * /sqlite/db and /sqlite/queries?queries=N on the showcase's own SQLite
 * file, so that the SQLite rows of the results have a peer in the same
 * run (the issue named Lwan, which Debian does not package).
 *
 * Written the way a kore user would: SQLite is a library call, so the
 * handler calls it directly in kore's worker (nothing to wait for but
 * the page cache), one connection and one prepared statement per worker,
 * the N selects of /queries in one read transaction -- the same work the
 * showcase's batch does. The file comes from BENCH_KORE_SQLITE (a path),
 * opened at the first request: the showcase makes and seeds it. */
#include <kore/kore.h>
#include <kore/http.h>

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define MAX_QUERIES 500

int page_sqlite_db(struct http_request *);
int page_sqlite_queries(struct http_request *);

static sqlite3 *db;
static sqlite3_stmt *select_world;

/* The worker's connection and statement, made once; NULL if it fails. */
static sqlite3_stmt *world_stmt(void)
{
    const char *path = getenv("BENCH_KORE_SQLITE");

    if (select_world || !path || !*path)
        return select_world;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(db,
                           "SELECT id, randomNumber FROM World WHERE id = ?",
                           -1, SQLITE_PREPARE_PERSISTENT, &select_world,
                           NULL) != SQLITE_OK) {
        kore_log(LOG_ERR, "sqlite %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        db = NULL;
    }
    return select_world;
}

/* One random World row as {"id":..,"randomNumber":..}; 0, or -1. */
static int append_world(struct kore_buf *out, sqlite3_stmt *st)
{
    int ok;

    sqlite3_bind_int(st, 1, 1 + rand() % 10000);
    ok = sqlite3_step(st) == SQLITE_ROW;
    if (ok)
        kore_buf_appendf(out, "{\"id\":%d,\"randomNumber\":%d}",
                         sqlite3_column_int(st, 0), sqlite3_column_int(st, 1));
    sqlite3_reset(st);
    return ok ? 0 : -1;
}

/* queries=N clamped to 1..500 as TechEmpower asks; 1 if absent or bad. */
static int query_count(const struct http_request *req)
{
    const char *q = req->query_string, *v;
    long n;

    v = q ? strstr(q, "queries=") : NULL;
    n = v ? strtol(v + strlen("queries="), NULL, 10) : 1;
    return n < 1 ? 1 : n > MAX_QUERIES ? MAX_QUERIES : (int)n;
}

static int respond(struct http_request *req, struct kore_buf *out, int rc)
{
    if (rc == 0) {
        http_response_header(req, "content-type", "application/json");
        http_response(req, 200, out->data, out->offset);
    } else {
        http_response(req, 500, NULL, 0);
    }
    kore_buf_free(out);
    return KORE_RESULT_OK;
}

int page_sqlite_db(struct http_request *req)
{
    sqlite3_stmt *st = world_stmt();
    struct kore_buf *out = kore_buf_alloc(64);

    return respond(req, out, st ? append_world(out, st) : -1);
}

int page_sqlite_queries(struct http_request *req)
{
    sqlite3_stmt *st = world_stmt();
    int n = query_count(req), rc = st ? 0 : -1;
    struct kore_buf *out = kore_buf_alloc((size_t)n * 40 + 2);

    /* One read transaction for the batch: one lock, not N. */
    if (rc == 0 && sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = -1;
    kore_buf_append(out, "[", 1);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (i > 0)
            kore_buf_append(out, ",", 1);
        rc = append_world(out, st);
    }
    kore_buf_append(out, "]", 1);
    if (st)
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return respond(req, out, rc);
}
