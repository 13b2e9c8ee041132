/* examples/showcase/world.c -- the TechEmpower database test types.
 *
 * Each handler reads like blocking code: gt_pool_db() hands the request
 * its own connection (the same one on every call within the request), the
 * queries yield to the loop while the database works, and the connection
 * goes back to the pool when the request's coroutine ends -- nothing here
 * releases it. The test types follow the TechEmpower rules: a random id in
 * 1..10000 per query, counts clamped to 1..500 (missing or not a number:
 * 1), fortunes sorted after adding one at request time, every message
 * HTML-escaped, updates written back (one pipelined round trip on
 * PostgreSQL, one transaction elsewhere; ids sorted so concurrent updates
 * cannot deadlock).
 *
 * Table names are found at start, because TechEmpower's own scripts spell
 * them differently per database and over time: PostgreSQL gets world and
 * fortune (unquoted, so folded to lower case) and also quoted "World" and
 * "Fortune"; MySQL used to get World/Fortune and now gets world/fortune,
 * and MySQL table names are case-sensitive on Linux. So each candidate is
 * tried in turn until one exists (SQLite ignores case, and seeds its own).
 * Column names need no such care: randomnumber is unquoted on PostgreSQL
 * in both of TechEmpower's tables, and MySQL column names ignore case. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "greentor/pool.h"
#include "tfb_json.h"
#include "world.h"

#define WORLD_ROWS 10000
#define MAX_QUERIES 500

typedef struct dialect {
    const char *const *worlds, *const *fortunes; /* candidate names */
    const char *number;                          /* the column */
    bool pipelined; /* updates as one batch, no explicit transaction */
} dialect;

static const char *const pg_worlds[] = {"world", "\"World\"", NULL};
static const char *const pg_fortunes[] = {"fortune", "\"Fortune\"", NULL};
static const char *const my_worlds[] = {"World", "world", NULL};
static const char *const my_fortunes[] = {"Fortune", "fortune", NULL};

static const dialect pg = {pg_worlds, pg_fortunes, "randomnumber", true};
static const dialect mysql_sqlite = {my_worlds, my_fortunes, "randomNumber",
                                     false};

/* The statements, written by world_start() once the names are known and
 * before the server accepts anything; read-only afterwards. */
static struct queries {
    char select_world[128], select_fortunes[128], update_world[128];
    char all_worlds[128];
} q;

static gt_pool *pool;
static const dialect *dia;
static bool is_sqlite;
static int cache[WORLD_ROWS + 1]; /* /cached-queries, filled at start */

/* ---- per-route accounting for /metrics -------------------------------------
 */

enum route { R_DB, R_QUERIES, R_FORTUNES, R_UPDATES, R_CACHED, NROUTES };
static const char *const route_names[NROUTES] = {"/db", "/queries", "/fortunes",
                                                 "/updates", "/cached-queries"};

typedef struct route_stats {
    atomic_ullong requests, errors, wait_us, held_us;
} route_stats;

static route_stats routes[NROUTES];

static void account(enum route r, int rc)
{
    int64_t wait_us, held_us;

    gt_pool_co_times(pool, &wait_us, &held_us);
    atomic_fetch_add(&routes[r].requests, 1);
    atomic_fetch_add(&routes[r].wait_us, (unsigned long long)wait_us);
    atomic_fetch_add(&routes[r].held_us, (unsigned long long)held_us);
    if (rc < 0)
        atomic_fetch_add(&routes[r].errors, 1);
}

/* ---- helpers
 * ------------------------------------------------------------------ */

static int random_id(void)
{
    static __thread uint64_t state;

    if (state == 0)
        state = (uint64_t)gt_now() * 2654435761u ^ (uint64_t)(uintptr_t)&state;
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (int)(state % WORLD_ROWS) + 1;
}

/* The TechEmpower rule: missing or not an integer -> 1, clamp to 1..500. */
static int query_count(gt_http_req *req, const char *name)
{
    const char *v = gt_http_req_query(req, name);
    char *end;
    long n;

    if (!v || !*v)
        return 1;
    n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1)
        return 1;
    return n > MAX_QUERIES ? MAX_QUERIES : (int)n;
}

/* Per-request working space for up to 500 queries: ~60 KiB, too much for
 * a coroutine's stack, so it comes from the heap (gt_co_alloc: freed when
 * the request's coroutine ends, whatever happens). */
typedef struct pair {
    int id, rn;
} pair;

typedef struct scratch {
    int ids[MAX_QUERIES], rns[MAX_QUERIES];
    pair sorted[MAX_QUERIES];
    gt_db_value params[2 * MAX_QUERIES];
    gt_db_stmt stmts[MAX_QUERIES];
    gt_rows *rows[MAX_QUERIES];
    char json[TFB_JSON_WORLDS_MAX(MAX_QUERIES)];
} scratch;

static void free_rows(scratch *w, int n)
{
    for (int i = 0; i < n; i++) {
        gt_rows_free(w->rows[i]);
        w->rows[i] = NULL;
    }
}

/* Read 'n' random World rows into w->ids/rns: one batch, pipelined on
 * PostgreSQL. */
static int read_worlds(gt_db *db, scratch *w, int n)
{
    int rc;

    for (int i = 0; i < n; i++) {
        w->ids[i] = random_id();
        w->params[i] = gt_db_int(w->ids[i]);
        w->stmts[i] = (gt_db_stmt){q.select_world, &w->params[i], 1};
        w->rows[i] = NULL;
    }
    rc = gt_db_batch(db, w->rows, w->stmts, n, GT_NEVER);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (gt_rows_count(w->rows[i]) != 1)
            rc = -ENOENT;
        else
            w->rns[i] = (int)gt_rows_int(w->rows[i], 0, 1);
    }
    free_rows(w, n);
    return rc;
}

/* The JSON array of w's n worlds, written into w->json (tfb_json.c). */
static int respond_worlds(gt_http_res *res, scratch *w, int n)
{
    return tfb_json_send(res, w->json,
                         tfb_json_worlds(w->json, n, w->ids, w->rns));
}

/* ---- the handlers
 * ----------------------------------------------------------------- */

static int do_db(gt_http_req *req, gt_http_res *res, void *arg)
{
    int id = random_id();
    gt_db_value param = gt_db_int(id);
    char buf[TFB_JSON_WORLD_MAX];
    gt_rows *r = NULL;
    gt_db *db;
    int rc = gt_pool_db(pool, &db);

    (void)req, (void)arg;
    if (rc == 0)
        rc = gt_db_query(db, &r, q.select_world, &param, 1, GT_NEVER);
    if (rc == 1)
        rc = tfb_json_send(res, buf,
                           tfb_json_world(buf, id, (int)gt_rows_int(r, 0, 1)));
    else if (rc >= 0)
        rc = -ENOENT;
    gt_rows_free(r);
    account(R_DB, rc);
    return rc;
}

static int do_queries(gt_http_req *req, gt_http_res *res, void *arg)
{
    int n = query_count(req, "queries");
    scratch *w = gt_co_alloc(sizeof(*w));
    gt_db *db;
    int rc = w ? gt_pool_db(pool, &db) : -ENOMEM;

    (void)arg;
    if (rc == 0)
        rc = read_worlds(db, w, n);
    if (rc == 0)
        rc = respond_worlds(res, w, n);
    account(R_QUERIES, rc);
    return rc;
}

static int do_cached(gt_http_req *req, gt_http_res *res, void *arg)
{
    int n = query_count(req, "count");
    scratch *w = gt_co_alloc(sizeof(*w));
    int rc = w ? 0 : -ENOMEM;

    (void)arg;
    for (int i = 0; rc == 0 && i < n; i++) {
        w->ids[i] = random_id();
        w->rns[i] = cache[w->ids[i]];
    }
    if (rc == 0)
        rc = respond_worlds(res, w, n);
    account(R_CACHED, rc);
    return rc;
}

static int by_id(const void *a, const void *b)
{
    return ((const pair *)a)->id - ((const pair *)b)->id;
}

/* Write the new numbers back, ids ascending so that two requests always
 * lock rows in the same order. */
static int write_worlds(gt_db *db, scratch *w, int n)
{
    int rc;

    for (int i = 0; i < n; i++)
        w->sorted[i] = (pair){w->ids[i], w->rns[i]};
    qsort(w->sorted, (size_t)n, sizeof(pair), by_id);
    for (int i = 0; i < n; i++) {
        w->params[2 * i] = gt_db_int(w->sorted[i].rn);
        w->params[2 * i + 1] = gt_db_int(w->sorted[i].id);
        w->stmts[i] = (gt_db_stmt){q.update_world, &w->params[2 * i], 2};
        w->rows[i] = NULL;
    }
    if (dia->pipelined) { /* one round trip, one implicit transaction */
        rc = gt_db_batch(db, w->rows, w->stmts, n, GT_NEVER);
        free_rows(w, n);
        return rc;
    }
    rc = gt_db_begin(db, GT_NEVER);
    for (int i = 0; rc == 0 && i < n; i++)
        if (gt_db_exec(db, w->stmts[i].sql, w->stmts[i].params, 2, GT_NEVER) <
            0)
            rc = GT_EDB;
    /* On error the pool rolls the open transaction back. */
    return rc == 0 ? gt_db_commit(db, GT_NEVER) : rc;
}

static int do_updates(gt_http_req *req, gt_http_res *res, void *arg)
{
    int n = query_count(req, "queries");
    scratch *w = gt_co_alloc(sizeof(*w));
    gt_db *db;
    int rc = w ? gt_pool_db(pool, &db) : -ENOMEM;

    (void)arg;
    if (rc == 0)
        rc = read_worlds(db, w, n);
    for (int i = 0; rc == 0 && i < n; i++)
        w->rns[i] = random_id();
    if (rc == 0)
        rc = write_worlds(db, w, n);
    if (rc == 0)
        rc = respond_worlds(res, w, n);
    account(R_UPDATES, rc);
    return rc;
}

/* ---- fortunes
 * ----------------------------------------------------------------------- */

typedef struct fortune {
    int id;
    const char *msg;
} fortune;

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        char *p;

        while (cap < b->n + n)
            cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put_str(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_escaped(sbuf *b, const char *s)
{
    size_t n;
    char *e = gt_http_escape_html_new(s, strlen(s), &n);

    if (!e)
        b->oom = true;
    else
        put(b, e, n);
    free(e);
}

static int by_message(const void *a, const void *b)
{
    return strcmp(((const fortune *)a)->msg, ((const fortune *)b)->msg);
}

static void render_fortunes(sbuf *b, fortune *f, int n)
{
    char id[16];

    qsort(f, (size_t)n, sizeof(*f), by_message);
    put_str(b, "<!DOCTYPE html><html><head><title>Fortunes</title></head>"
               "<body><table><tr><th>id</th><th>message</th></tr>");
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "%d", f[i].id);
        put_str(b, "<tr><td>");
        put_str(b, id);
        put_str(b, "</td><td>");
        put_escaped(b, f[i].msg);
        put_str(b, "</td></tr>");
    }
    put_str(b, "</table></body></html>");
}

static int fortunes_page(gt_http_res *res, gt_rows *r)
{
    int n = gt_rows_count(r);
    fortune *f = gt_co_alloc(((size_t)n + 1) * sizeof(*f));
    sbuf b = {0};
    int rc;

    if (!f)
        return -ENOMEM;
    for (int i = 0; i < n; i++)
        f[i] =
            (fortune){(int)gt_rows_int(r, i, 0), gt_rows_text(r, i, 1, NULL)};
    f[n] = (fortune){0, "Additional fortune added at request time."};
    render_fortunes(&b, f, n + 1);
    rc = b.oom ? -ENOMEM
               : gt_http_res_header(res, "Content-Type",
                                    "text/html; charset=utf-8");
    if (rc == 0)
        rc = gt_http_res_body(res, b.p, b.n);
    free(b.p);
    return rc;
}

static int do_fortunes(gt_http_req *req, gt_http_res *res, void *arg)
{
    gt_rows *r = NULL;
    gt_db *db;
    int rc = gt_pool_db(pool, &db);

    (void)req, (void)arg;
    if (rc == 0)
        rc = gt_db_query(db, &r, q.select_fortunes, NULL, 0, GT_NEVER);
    if (rc >= 0)
        rc = fortunes_page(res, r);
    gt_rows_free(r);
    account(R_FORTUNES, rc);
    return rc;
}

/* ---- /metrics
 * ------------------------------------------------------------------------ */

static void put_route_metrics(sbuf *b)
{
    static const char *const what[4] = {"requests_total", "errors_total",
                                        "pool_wait_seconds_total",
                                        "pool_held_seconds_total"};
    char line[256];

    for (int k = 0; k < 4; k++) {
        snprintf(line, sizeof(line), "# TYPE greentor_route_%s counter\n",
                 what[k]);
        put_str(b, line);
        for (int r = 0; r < NROUTES; r++) {
            route_stats *st = &routes[r];
            unsigned long long v[4] = {
                atomic_load(&st->requests), atomic_load(&st->errors),
                atomic_load(&st->wait_us), atomic_load(&st->held_us)};

            snprintf(line, sizeof(line),
                     "greentor_route_%s{route=\"%s\"} %.6f\n", what[k],
                     route_names[r], k < 2 ? (double)v[k] : v[k] / 1e6);
            put_str(b, line);
        }
    }
}

static int do_metrics(gt_http_req *req, gt_http_res *res, void *arg)
{
    char *pool_text = gt_pool_metrics_new(pool, "world");
    char *db_text = gt_db_metrics_new();
    sbuf b = {0};
    int rc;

    (void)req, (void)arg;
    if (!pool_text || !db_text) {
        free(pool_text);
        free(db_text);
        return -ENOMEM;
    }
    put_str(&b, pool_text);
    put_str(&b, db_text);
    free(pool_text);
    free(db_text);
    put_route_metrics(&b);
    rc = b.oom ? -ENOMEM
               : gt_http_res_header(res, "Content-Type",
                                    "text/plain; version=0.0.4");
    if (rc == 0)
        rc = gt_http_res_body(res, b.p, b.n);
    free(b.p);
    return rc;
}

/* ---- set-up
 * ------------------------------------------------------------------------------
 */

int world_setup(gt_rt *rt, gt_http_router *r, const char *url, char *err,
                size_t errlen)
{
    static const struct {
        const char *path;
        gt_http_handler fn;
    } table[] = {
        {"/db", do_db},
        {"/queries", do_queries},
        {"/fortunes", do_fortunes},
        {"/updates", do_updates},
        {"/cached-queries", do_cached},
        {"/metrics", do_metrics},
    };
    int rc = gt_pool_new(&pool, rt, url, NULL, err, errlen);

    if (rc < 0)
        return rc;
    is_sqlite = strncmp(url, "sqlite:", 7) == 0;
    dia = strncmp(url, "postgres", 8) == 0 ? &pg : &mysql_sqlite;
    for (size_t i = 0; rc == 0 && i < sizeof(table) / sizeof(table[0]); i++)
        rc = gt_http_router_add(r, "GET", table[i].path, table[i].fn, NULL);
    if (rc < 0)
        snprintf(err, errlen, "cannot add routes: %s", gt_strerror(rc));
    return rc;
}

/* Does the last error on 'db' say that the table does not exist?
 * PostgreSQL 42P01, MySQL ER_NO_SUCH_TABLE (1146), SQLite's message. */
static bool no_such_table(gt_db *db)
{
    return strcmp(gt_db_sqlstate(db), "42P01") == 0 ||
           gt_db_errcode(db) == 1146 ||
           strstr(gt_db_errmsg(db), "no such table") != NULL;
}

/* The first of 'names' that exists, in *found. Any error but a missing
 * table is reported as it is; when none exists, the message names the
 * table and every spelling tried. */
static int find_table(gt_db *db, const char *const *names, const char *what,
                      const char **found, char *err, size_t errlen)
{
    char probe[128], tried[128] = "";
    gt_rows *r = NULL;
    int n;

    for (int i = 0; names[i]; i++) {
        snprintf(probe, sizeof(probe), "SELECT 1 FROM %s LIMIT 1", names[i]);
        n = gt_db_query(db, &r, probe, NULL, 0, GT_NEVER);
        gt_rows_free(r);
        if (n >= 0) {
            *found = names[i];
            return 0;
        }
        if (!no_such_table(db)) {
            snprintf(err, errlen, "cannot read the %s table: %s", what,
                     gt_db_errmsg(db));
            return n;
        }
        snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%s%s",
                 i ? ", " : "", names[i]);
    }
    snprintf(err, errlen,
             "the database has no %s table (looked for %s): "
             "seed it with scripts/seed_db.sh or TechEmpower's scripts",
             what, tried);
    return -ENOENT;
}

/* Find the tables and write the statements that use them. */
static int write_queries(gt_db *db, char *err, size_t errlen)
{
    const char *w, *f, *rn = dia->number;
    int rc = find_table(db, dia->worlds, "world", &w, err, errlen);

    if (rc == 0)
        rc = find_table(db, dia->fortunes, "fortune", &f, err, errlen);
    if (rc < 0)
        return rc;
    snprintf(q.select_world, sizeof(q.select_world),
             "SELECT id, %s FROM %s WHERE id = ?", rn, w);
    snprintf(q.select_fortunes, sizeof(q.select_fortunes),
             "SELECT id, message FROM %s", f);
    snprintf(q.update_world, sizeof(q.update_world),
             "UPDATE %s SET %s = ? WHERE id = ?", w, rn);
    snprintf(q.all_worlds, sizeof(q.all_worlds), "SELECT id, %s FROM %s", rn,
             w);
    return 0;
}

static int load_cache(gt_db *db, char *err, size_t errlen)
{
    gt_rows *r = NULL;
    int n = gt_db_query(db, &r, q.all_worlds, NULL, 0, GT_NEVER);

    for (int i = 0; i < n; i++) {
        int64_t id = gt_rows_int(r, i, 0);

        if (id >= 1 && id <= WORLD_ROWS)
            cache[id] = (int)gt_rows_int(r, i, 1);
    }
    gt_rows_free(r);
    if (n < 0)
        snprintf(err, errlen, "%s: %s", q.all_worlds, gt_db_errmsg(db));
    else if (n != WORLD_ROWS)
        snprintf(err, errlen, "the world table has %d rows, not %d", n,
                 WORLD_ROWS);
    return n < 0 ? n : n != WORLD_ROWS ? -EINVAL : 0;
}

int world_start(char *err, size_t errlen)
{
    gt_db *db;
    int rc = gt_pool_db(pool, &db);

    if (rc < 0) {
        snprintf(err, errlen, "cannot open the database: %s",
                 gt_pool_errmsg(pool));
        return rc;
    }
    if (is_sqlite && (rc = world_seed_sqlite(db, err, errlen)) < 0)
        return rc;
    rc = write_queries(db, err, errlen);
    return rc < 0 ? rc : load_cache(db, err, errlen);
}

void world_teardown(void)
{
    gt_pool_free(pool);
    pool = NULL;
}
