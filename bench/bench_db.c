/* bench/bench_db.c -- the database drivers and the pool under load on one
 * worker, per backend, in one run:
 *
 *   own connection   N coroutines, each with its own gt_db, each looping
 *                    over one SELECT of a random World row by primary key
 *                    (N = 1, 8, 64). On PostgreSQL this is the figure to
 *                    put beside `pgbench -n -M prepared` with the same
 *                    number of connections, which bench/run.sh runs.
 *   pool             the same query from N client coroutines, but each
 *                    iteration is a fresh "request" coroutine that takes
 *                    its connection with gt_pool_db() and gives it back by
 *                    ending; max_open = N (N = 8, 64).
 *   20 sequential    a request of 20 such SELECTs one after the other, and
 *   20 batched       the same 20 as one gt_db_batch(): pipelined on
 *                    PostgreSQL, run in order (a reference) elsewhere.
 *
 * Backends: PostgreSQL if GT_TEST_PG_URL is set, MariaDB if
 * GT_TEST_MYSQL_URL is set (both seeded with scripts/seed_db.sh when their
 * world table is missing), SQLite always, on a temporary file seeded here
 * with 10,000 World rows. Each figure is BENCH_SECONDS (default 5) of
 * steady state, after every client has had one result (connections open,
 * statements prepared) and a short settling pause.
 *
 * Why it is shaped this way: each figure runs in a runtime of its own
 * (gt_rt_main, workers = 1), so that a pool's connections are closed
 * before the next figure opens its own and the server never holds more
 * than 64 of ours (PostgreSQL's default cap is 100). Clients run
 * continuously and the window is read off a shared counter, so connecting
 * and stopping are outside it. Every wait carries a deadline and a client
 * stops at its first error, so a dead server costs seconds, not a hang.
 *
 *   GT_TEST_PG_URL=... GT_TEST_MYSQL_URL=... BENCH_SECONDS=5 \
 *       taskset -c 0 ./build/bench/bench_db */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "greentor.h"
#include "greentor/pool.h"

#define WORLD_ROWS 10000
#define BATCH 20
#define MAX_CLIENTS 64
#define QUERY_TIMEOUT_MS 10000 /* per query, and per connect */
#define WARM_CAP_MS 15000      /* every client must have a result by then */
#define SETTLE_MS 250          /* after warm-up, before the window opens */

enum kind { OWN, POOL, SEQ, BATCHED, KINDS };

static const char *const kind_name[KINDS] = {
    "select by id, own connection",
    "select by id, pool (max_open = conc)",
    "20 selects, sequential",
    "20 selects, gt_db_batch",
};

/* One backend: where it is and how its World table is spelled. */
typedef struct backend {
    const char *name; /* as gt_db_backend() says it */
    const char *url;
    const char *select; /* the one statement every figure runs */
    double rate[KINDS][MAX_CLIENTS + 1]; /* results, 0 = not measured */
} backend;

/* One figure in progress. Only worker 0 touches it: no atomics. */
typedef struct bench {
    backend *be;
    enum kind kind;
    int n;         /* client coroutines */
    gt_pool *pool; /* POOL only; freed after its runtime has stopped */
    int stop;      /* set by the main coroutine: clients leave */
    uint64_t ops;  /* completed queries (OWN, POOL) or requests */
    int warmed;    /* clients with at least one completed op */
    int errors;    /* clients that stopped on an error */
    char err[256]; /* the first error's message */
    double rate;   /* the result, ops per second */
} bench;

typedef struct client {
    bench *b;
    gt_db *db;    /* own connection (OWN, SEQ, BATCHED) */
    uint64_t rng; /* xorshift64 state, never 0 */
} client;

static int seconds = 5;

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A row id uniform in 1..WORLD_ROWS, like pgbench's random(1, 10000). */
static int64_t random_id(client *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return (int64_t)(c->rng % WORLD_ROWS) + 1;
}

/* Keep the first error only: later ones are usually its echoes. */
static int fail(bench *b, int rc, const char *what, const char *msg)
{
    if (b->err[0] == '\0')
        snprintf(b->err, sizeof(b->err), "%s: %s", what,
                 msg && *msg ? msg : gt_strerror(rc));
    return rc < 0 ? rc : -EPROTO;
}

/* ---- one operation per kind ---------------------------------------------- */

static int select_one(bench *b, gt_db *db, client *c)
{
    gt_db_value id = gt_db_int(random_id(c));
    gt_rows *r = NULL;
    int rc = gt_db_query(db, &r, b->be->select, &id, 1,
                         gt_deadline_in(QUERY_TIMEOUT_MS));

    gt_rows_free(r);
    if (rc < 0)
        return fail(b, rc, "query", gt_db_errmsg(db));
    return rc == 1 ? 0 : fail(b, rc, "query", "id not found (seeded?)");
}

/* The body of one pooled "request": the connection goes back when the
 * coroutine ends, which is the path the benchmark is about. */
static int pooled_request(void *arg)
{
    client *c = arg;
    gt_db *db;
    int rc = gt_pool_db(c->b->pool, &db);

    if (rc < 0)
        return fail(c->b, rc, "pool", gt_pool_errmsg(c->b->pool));
    return select_one(c->b, db, c);
}

static int pooled(client *c)
{
    gt_co *co;
    int rc = gt_co_spawn(&co, pooled_request, c), result = 0;

    if (rc < 0)
        return fail(c->b, rc, "spawn", NULL);
    rc = gt_co_join(co, &result, GT_NEVER);
    return rc < 0 ? rc : result;
}

static int sequential(client *c)
{
    for (int i = 0; i < BATCH; i++) {
        int rc = select_one(c->b, c->db, c);

        if (rc < 0)
            return rc;
    }
    return 0;
}

static int batched(client *c)
{
    gt_db_value ids[BATCH];
    gt_db_stmt s[BATCH];
    gt_rows *out[BATCH];
    int rc, bad = 0;

    for (int i = 0; i < BATCH; i++) {
        ids[i] = gt_db_int(random_id(c));
        s[i] = (gt_db_stmt){c->b->be->select, &ids[i], 1};
    }
    rc = gt_db_batch(c->db, out, s, BATCH, gt_deadline_in(QUERY_TIMEOUT_MS));
    for (int i = 0; i < BATCH; i++) {
        bad += rc == 0 && gt_rows_count(out[i]) != 1;
        gt_rows_free(out[i]);
    }
    if (rc < 0)
        return fail(c->b, rc, "batch", gt_db_errmsg(c->db));
    return bad ? fail(c->b, 0, "batch", "id not found (seeded?)") : 0;
}

static int run_op(client *c)
{
    switch (c->b->kind) {
    case OWN:
        return select_one(c->b, c->db, c);
    case POOL:
        return pooled(c);
    case SEQ:
        return sequential(c);
    default:
        return batched(c);
    }
}

/* ---- clients and the measuring window ------------------------------------ */

static int client_main(void *arg)
{
    client *c = arg;
    bench *b = c->b;
    int rc = 0, warm = 0;

    if (b->kind != POOL) {
        rc = gt_db_open(&c->db, b->be->url, gt_deadline_in(QUERY_TIMEOUT_MS));
        if (rc < 0)
            fail(b, rc, "connect", c->db ? gt_db_errmsg(c->db) : NULL);
    }
    /* The gt_yield() stands for the socket wait a server's request
     * coroutine would park on between queries. Without it an SQLite
     * client (inline mode: a point query never parks) would hold the
     * worker for good: the main coroutine would never close the window,
     * and the loop clock, hence every gt_deadline_in(), would go stale. */
    while (rc == 0 && !b->stop && (rc = run_op(c)) == 0) {
        b->ops++;
        if (!warm) {
            warm = 1;
            b->warmed++;
        }
        if (gt_yield() < 0)
            break;
    }
    b->errors += rc < 0;
    gt_db_close(c->db);
    c->db = NULL;
    return 0;
}

/* Wait until every client has had a result (or one failed), then settle. */
static int warm_up(bench *b)
{
    int64_t cap = gt_deadline_in(WARM_CAP_MS);

    while (b->warmed + b->errors < b->n && gt_now() < cap)
        gt_sleep(10);
    if (b->errors == 0 && b->warmed < b->n)
        snprintf(b->err, sizeof(b->err),
                 "warm-up: %d of %d clients had a "
                 "result in %d ms",
                 b->warmed, b->n, WARM_CAP_MS);
    if (b->errors || b->warmed < b->n)
        return -1;
    gt_sleep(SETTLE_MS);
    return 0;
}

static int measure_main(void *arg)
{
    bench *b = arg;
    client c[MAX_CLIENTS];
    gt_co *co[MAX_CLIENTS];
    gt_pool_config cfg = {.max_open = b->n};
    int spawned = 0;

    if (b->kind == POOL && gt_pool_new(&b->pool, gt_rt_self(), b->be->url, &cfg,
                                       b->err, sizeof(b->err)) < 0)
        return -1;
    for (; spawned < b->n; spawned++) {
        c[spawned] = (client){b, NULL, 0x9e3779b97f4a7c15ull * (spawned + 1)};
        if (gt_co_spawn(&co[spawned], client_main, &c[spawned]) < 0)
            break;
    }
    if (spawned == b->n && warm_up(b) == 0) {
        uint64_t o0 = b->ops;
        double t0 = now_ns();

        gt_sleep((int64_t)seconds * 1000);
        b->rate = (double)(b->ops - o0) / ((now_ns() - t0) / 1e9);
    } else if (spawned < b->n) {
        snprintf(b->err, sizeof(b->err), "spawn: out of memory");
    }
    b->stop = 1;
    for (int i = 0; i < spawned; i++)
        gt_co_join(co[i], NULL, GT_NEVER);
    return 0;
}

/* ---- the report ---------------------------------------------------------- */

static void row(backend *be, enum kind k, int n, const bench *b)
{
    const char *unit = k == SEQ || k == BATCHED ? "requests/s" : "queries/s";
    char note[160] = "";
    double ref = 0;

    printf("%-9s %-38s %4d ", be->name, kind_name[k], n);
    if (b->errors || b->rate <= 0) {
        printf("%12s  failed: %s\n", "-", b->err[0] ? b->err : "no result");
        fflush(stdout);
        return;
    }
    if (k == OWN && strcmp(be->name, "postgres") == 0)
        snprintf(note, sizeof(note), "beside pgbench -c %d -M prepared", n);
    else if (k == POOL && (ref = be->rate[OWN][n]) > 0)
        snprintf(note, sizeof(note), "%.2fx own connection", b->rate / ref);
    else if (k == BATCHED && (ref = be->rate[SEQ][n]) > 0)
        snprintf(note, sizeof(note), "%.2fx sequential%s", b->rate / ref,
                 strcmp(be->name, "postgres") ? " (runs in order)" : "");
    if (k == SEQ || k == BATCHED)
        snprintf(note + strlen(note), sizeof(note) - strlen(note),
                 "%s= %.0f queries/s", note[0] ? "; " : "", b->rate * BATCH);
    printf("%12.0f  %s%*s%s\n", b->rate, unit,
           note[0] ? 11 - (int)strlen(unit) : 0, "", note);
    fflush(stdout);
}

static void figure(backend *be, enum kind k, int n)
{
    bench b = {.be = be, .kind = k, .n = n};
    gt_rt_config one = {.workers = 1};
    int rc = gt_rt_main(&one, measure_main, &b);

    gt_pool_free(b.pool); /* after its runtime closed its connections */
    if (rc < 0 && b.err[0] == '\0')
        snprintf(b.err, sizeof(b.err), "%s", gt_strerror(rc));
    if (rc < 0)
        b.errors++;
    be->rate[k][n] = b.errors ? 0 : b.rate;
    row(be, k, n, &b);
}

static void run_backend(backend *be)
{
    static const int own[] = {1, 8, 64}, pooled_n[] = {8, 64}, req[] = {1, 8};

    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        figure(be, OWN, own[i]);
    for (size_t i = 0; i < sizeof(pooled_n) / sizeof(pooled_n[0]); i++)
        figure(be, POOL, pooled_n[i]);
    for (size_t i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
        figure(be, SEQ, req[i]);
        figure(be, BATCHED, req[i]);
    }
}

/* ---- preparing the data -------------------------------------------------- */

/* Setup context: runs as a coroutine, reports through 'err'. */
typedef struct setup {
    backend *be;
    const char *path; /* SQLite file */
    char err[256];
} setup;

static int seed_script(void *arg)
{
    setup *s = arg;
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "bash scripts/seed_db.sh '%s' >&2", s->be->url);
    return system(cmd) == 0 ? 0 : -EIO;
}

/* PostgreSQL and MariaDB: seed with scripts/seed_db.sh (which drops and
 * recreates the tables) only when World is missing, so that a run never
 * rewrites data someone else is using. system() runs on the thread pool:
 * the worker's loop keeps turning while the script does. */
static int check_server(void *arg)
{
    setup *s = arg;
    gt_db *db = NULL;
    gt_rows *r = NULL;
    int rc = gt_db_open(&db, s->be->url, gt_deadline_in(QUERY_TIMEOUT_MS));

    if (rc == 0)
        rc = gt_db_query(db, &r, "SELECT COUNT(*) FROM World", NULL, 0,
                         gt_deadline_in(QUERY_TIMEOUT_MS));
    gt_rows_free(r);
    if (rc == GT_EDB && (strcmp(gt_db_sqlstate(db), "42P01") == 0 ||
                         strcmp(gt_db_sqlstate(db), "42S02") == 0)) {
        /* The URL goes to the shell inside single quotes. */
        rc = strchr(s->be->url, '\'') || access("scripts/seed_db.sh", R_OK)
                 ? -ENOENT
                 : gt_run_blocking(seed_script, s, GT_NEVER);
        if (rc < 0)
            snprintf(s->err, sizeof(s->err),
                     "no World table, and seeding "
                     "with scripts/seed_db.sh failed: %s",
                     gt_strerror(rc));
    } else if (rc < 0) {
        snprintf(s->err, sizeof(s->err), "%s",
                 db && *gt_db_errmsg(db) ? gt_db_errmsg(db) : gt_strerror(rc));
    }
    gt_db_close(db);
    return rc < 0 ? rc : 0;
}

/* SQLite: World with ids 1..WORLD_ROWS, in one transaction. */
static int seed_sqlite(void *arg)
{
    setup *s = arg;
    gt_db *db = NULL;
    int64_t rc = gt_db_open(&db, s->be->url, GT_NEVER);

    if (rc == 0)
        rc = gt_db_exec(db,
                        "CREATE TABLE World (id INTEGER PRIMARY KEY, "
                        "randomNumber INTEGER NOT NULL)",
                        NULL, 0, GT_NEVER);
    if (rc >= 0)
        rc = gt_db_begin(db, GT_NEVER);
    srand(1);
    for (int id = 1; rc >= 0 && id <= WORLD_ROWS; id++) {
        gt_db_value p[2] = {gt_db_int(id), gt_db_int(rand() % WORLD_ROWS + 1)};

        rc = gt_db_exec(db,
                        "INSERT INTO World (id, randomNumber) "
                        "VALUES (?, ?)",
                        p, 2, GT_NEVER);
    }
    if (rc >= 0)
        rc = gt_db_commit(db, GT_NEVER);
    if (rc < 0)
        snprintf(s->err, sizeof(s->err), "%s",
                 db && *gt_db_errmsg(db) ? gt_db_errmsg(db)
                                         : gt_strerror((int)rc));
    gt_db_close(db);
    return rc < 0 ? (int)rc : 0;
}

/* ---- main ---------------------------------------------------------------- */

/* The URL with its password replaced by "***", for the report. */
static const char *masked(const char *url, char *buf, size_t len)
{
    const char *user = strstr(url, "://"), *at, *colon;

    if (!user || !(at = strchr(user += 3, '@')) ||
        !(colon = memchr(user, ':', (size_t)(at - user))))
        return url;
    snprintf(buf, len, "%.*s***%s", (int)(colon + 1 - url), url, at);
    return buf;
}

static void header(backend *be, int nbe)
{
    time_t t = time(NULL);
    char date[64], buf[512];

    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    printf("greentor database benchmark, %s\n", date);
    printf("1 worker (gt_rt_main, workers = 1); %d s per figure after every "
           "client's first result + %d ms; ids uniform in 1..%d;\n"
           "one connection per client (own/sequential/batch) or pool "
           "max_open = conc; %d queries per request; per-query deadline "
           "%d ms\n",
           seconds, SETTLE_MS, WORLD_ROWS, BATCH, QUERY_TIMEOUT_MS);
    for (int i = 0; i < nbe; i++)
        printf("%-9s %s\n%9s %s\n", be[i].name,
               masked(be[i].url, buf, sizeof(buf)), "", be[i].select);
    printf("\n%-9s %-38s %4s %12s  %-10s %s\n", "backend", "test", "conc",
           "rate", "unit", "note");
}

static int prepare(backend *be, setup *s)
{
    gt_rt_config one = {.workers = 1};
    int rc;

    s->be = be;
    s->err[0] = '\0';
    rc = gt_rt_main(&one, s->path ? seed_sqlite : check_server, s);
    if (rc < 0)
        printf("%-9s skipped: %s\n", be->name,
               s->err[0] ? s->err : gt_strerror(rc));
    return rc;
}

int main(void)
{
    static char path[] = "/tmp/greentor-bench-XXXXXX.db";
    static char sqlite_url[64], side[sizeof(path) + 8];
    const char *pg = getenv("GT_TEST_PG_URL");
    const char *my = getenv("GT_TEST_MYSQL_URL");
    const char *secs = getenv("BENCH_SECONDS");
    backend be[3];
    int nbe = 0, fd = mkstemps(path, 3);

    if (secs && (seconds = atoi(secs)) < 1)
        seconds = 1;
    if (pg && *pg)
        be[nbe++] = (backend){"postgres",
                              pg,
                              "SELECT id, randomnumber FROM "
                              "world WHERE id = ?",
                              {{0}}};
    if (my && *my)
        be[nbe++] = (backend){"mysql",
                              my,
                              "SELECT id, randomNumber FROM "
                              "World WHERE id = ?",
                              {{0}}};
    if (fd >= 0) {
        close(fd);
        snprintf(sqlite_url, sizeof(sqlite_url), "sqlite://%s", path);
        be[nbe++] = (backend){"sqlite",
                              sqlite_url,
                              "SELECT id, randomNumber "
                              "FROM World WHERE id = ?",
                              {{0}}};
    }
    header(be, nbe);
    for (int i = 0; i < nbe; i++) {
        setup s = {.path = be[i].url == sqlite_url ? path : NULL};

        if (prepare(&be[i], &s) == 0)
            run_backend(&be[i]);
    }
    if (fd < 0)
        printf("sqlite    skipped: cannot create %s\n", path);
    for (int i = 0; fd >= 0 && i < 3; i++) {
        snprintf(side, sizeof(side), "%s%s", path,
                 (const char *[]){"", "-wal", "-shm"}[i]);
        unlink(side);
    }
    return 0;
}
