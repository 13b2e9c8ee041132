/* tests/test_e2e.c -- the showcase server end to end, on SQLite,
 * PostgreSQL and MariaDB.
 *
 * Each test runs the real binary (build/examples/showcase, or $GT_SHOWCASE)
 * as a child process on a free port with two workers, talks to it over
 * loopback with the coroutine client of httpc.c, and stops it with SIGTERM,
 * asserting a graceful exit 0. Its stdout and stderr go to a log file in
 * /tmp whose tail is quoted in every failure message (and which is kept
 * when a test fails). PostgreSQL and MariaDB are the servers of
 * scripts/db.sh, reseeded by scripts/seed_db.sh before each test; SQLite
 * gets a fresh working directory, so the showcase creates and seeds its
 * default database file there. A missing GT_TEST_*_URL fails the test.
 *
 * The tests, per backend: every endpoint's status, Content-Type and body
 * rules (TechEmpower's clamping, the fortunes page against a reference
 * copy of the 12 fortunes); /updates read back from the database; three
 * seconds of mixed load over 64 keep-alive connections with no error and
 * no non-2xx; an unreachable database ending in exit code 2. SQLite also
 * runs --help and bad settings. PostgreSQL and MariaDB run the seed's
 * scenario: 5,000 requests at concurrency 200 with max_connections
 * lowered to 20 and the pool capped at 10. PostgreSQL runs clients hanging
 * up mid-request, made deterministic by a table lock: their queries stay
 * blocked, so the pool can only empty if the server cancels them. Both
 * also serve every endpoint from the other spelling of TechEmpower's
 * table names (quoted "World" on PostgreSQL, lower-case world on MariaDB,
 * as today's TechEmpower script makes them), and refuse to start, naming
 * the table, when there is none.
 *
 * Cleanup when a test fails: Check ends a failed test's process with
 * _exit() and then kills its process group, which the showcase belongs to,
 * so no server outlives its test. Lowering the database's max_connections
 * (the seed scenario) leaves a marker file; the unchecked teardown, which
 * runs in the runner process after the test case whatever happened,
 * restores the default when it finds one (and the checked teardown does
 * the same under CK_FORK=no, where it runs after a failure too).
 *
 * No timing thresholds: every wait is bounded generously, only to turn a
 * hang into a failure with a message. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "e2e_fixture.h"

void add_e2e_tests(Suite *s, const char *backend);

/* ---- the endpoints ------------------------------------------------------- */

static void check_hello(void)
{
    static const char json[] = "{\"message\":\"Hello, World!\"}";
    const char *targets[] = {"/plaintext", "/json"};
    const char *types[] = {"text/plain", "application/json"};
    const char *bodies[] = {"Hello, World!", json};
    char v[128];
    httpc_res res;

    for (int i = 0; i < 2; i++) {
        e2e_get_ok(targets[i], types[i], &res);
        ck_assert_msg(strcmp(res.body, bodies[i]) == 0 &&
                          res.body_len == strlen(bodies[i]),
                      "GET %s: body '%s', expected '%s'", targets[i], res.body,
                      bodies[i]);
        ck_assert_msg(httpc_header(&res, "Server", v, sizeof(v)) &&
                          httpc_header(&res, "Date", v, sizeof(v)),
                      "GET %s: no Server or Date header", targets[i]);
        httpc_res_free(&res);
    }
}

static void check_index(void)
{
    static const char *const links[] = {
        "/plaintext", "/json",           "/db",     "/queries", "/fortunes",
        "/updates",   "/cached-queries", "/metrics"};
    char href[64];
    httpc_res res;

    e2e_get_ok("/", "text/html", &res);
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        snprintf(href, sizeof(href), "href=\"%s", links[i]);
        ck_assert_msg(strstr(res.body, href), "GET /: no link to %s:\n%.2000s",
                      links[i], res.body);
    }
    httpc_res_free(&res);
}

void check_db(void)
{
    json_t *o = e2e_get_json("/db");
    int id, rn;

    e2e_check_world(o, "/db", &id, &rn);
    json_decref(o);
}

/* TechEmpower's clamping: missing, empty, 0, negative or not a number -> 1;
 * above 500 -> 500. */
static void check_counts(const char *path, const char *param)
{
    static const struct {
        const char *value; /* NULL: parameter missing */
        size_t rows;
    } cases[] = {{"0", 1}, {"foo", 1}, {"501", 500}, {"20", 20}, {NULL, 1},
                 {"", 1},  {"-3", 1},  {"500", 500}, {"1", 1}};
    char target[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].value)
            snprintf(target, sizeof(target), "%s?%s=%s", path, param,
                     cases[i].value);
        else
            snprintf(target, sizeof(target), "%s", path);
        json_decref(e2e_get_worlds(target, cases[i].rows));
    }
}

static void check_errors(void)
{
    char allow[128];
    httpc_res res;

    e2e_request("GET", "/no/such/path", &res);
    e2e_expect(&res, "GET /no/such/path", 404, NULL);
    httpc_res_free(&res);
    e2e_request("POST", "/db", &res);
    e2e_expect(&res, "POST /db", 405, NULL);
    ck_assert_msg(httpc_header(&res, "Allow", allow, sizeof(allow)) &&
                      strstr(allow, "GET"),
                  "POST /db: 405 without 'Allow: GET' ('%s')", allow);
    httpc_res_free(&res);
}

static void check_metrics(void)
{
    static const char *const envs[] = {"GT_TEST_PG_URL", "GT_TEST_MYSQL_URL"};
    pool_metrics m;
    httpc_res res;
    char ui[256];

    e2e_get_ok("/metrics", "text/plain", &res);
    for (size_t i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
        const char *u = getenv(envs[i]);

        ck_assert_msg(!u || !e2e_userinfo(u, ui, sizeof(ui))[0] ||
                          !strstr(res.body, ui),
                      "/metrics shows a database password (%s)", ui);
    }
    httpc_res_free(&res);
    get_pool_metrics(&m);
    ck_assert_msg(m.open >= 0 && m.in_use >= 0 && m.max_open_ever >= 1,
                  "/metrics: implausible pool figures (open %g, in use %g, "
                  "max ever %g)",
                  m.open, m.in_use, m.max_open_ever);
}

/* ---- /fortunes ----------------------------------------------------------- */

/* The reference model: the 12 TechEmpower fortunes by id, and the one the
 * server adds (id 0). */
static const char *const fortunes[13] = {
    "Additional fortune added at request time.",
    "fortune: No such file or directory",
    "A computer scientist is someone who fixes things that aren't broken.",
    "After enough decimal places, nobody gives a damn.",
    "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    "A computer program does what you tell it to do, not what you want it "
    "to do.",
    "Emacs is a nice operating system, but I prefer UNIX. \xe2\x80\x94 Tom "
    "Christaensen",
    "Any program that runs right is obsolete.",
    "A list is only as strong as its weakest link. \xe2\x80\x94 Donald Knuth",
    "Feature: A bug with seniority.",
    "Computers make very fast, very accurate mistakes.",
    "<script>alert(\"This should not be displayed in a browser alert "
    "box.\");</script>",
    "フレームワークのベンチマーク",
};

/* Undo HTML escaping of a text node; -1 on a raw '<' or '>' or an
 * unknown entity. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&lt;", '<'},   {"&gt;", '>'},    {"&amp;", '&'},
                {"&quot;", '"'}, {"&#34;", '"'},   {"&#x22;", '"'},
                {"&#39;", '\''}, {"&#x27;", '\''}, {"&apos;", '\''}};
    size_t o = 0, i = 0, k;

    while (i < n) {
        char c = s[i];
        size_t adv = 1;

        if (c == '<' || c == '>')
            return -1;
        for (k = 0; c == '&' && k < sizeof(ents) / sizeof(ents[0]); k++)
            if (n - i >= strlen(ents[k].ent) &&
                memcmp(s + i, ents[k].ent, strlen(ents[k].ent)) == 0)
                break;
        if (c == '&' && k == sizeof(ents) / sizeof(ents[0]))
            return -1;
        if (c == '&')
            c = ents[k].c, adv = strlen(ents[k].ent);
        if (o + 1 >= cap)
            return -1;
        out[o++] = c;
        i += adv;
    }
    out[o] = '\0';
    return 0;
}

static const char *skip(const char *p, const char *lit, const char *what)
{
    ck_assert_msg(strncmp(p, lit, strlen(lit)) == 0,
                  "/fortunes: expected %s '%s' at: %.120s", what, lit, p);
    return p + strlen(lit);
}

/* One "<tr><td>id</td><td>message</td></tr>"; returns what follows. */
static const char *fortune_row(const char *p, int *id, char *msg, size_t cap)
{
    const char *end;
    char *q;

    p = skip(p, "<tr><td>", "row start");
    *id = (int)strtol(p, &q, 10);
    ck_assert_msg(q > p && *id >= 0 && *id <= 12,
                  "/fortunes: bad id at: "
                  "%.80s",
                  p);
    p = skip(q, "</td><td>", "cell separator");
    end = strstr(p, "</td></tr>");
    ck_assert_msg(end, "/fortunes: unterminated row at: %.80s", p);
    ck_assert_msg(unescape(p, (size_t)(end - p), msg, cap) == 0,
                  "/fortunes: message not properly escaped: %.*s",
                  (int)(end - p), p);
    return end + strlen("</td></tr>");
}

static void check_fortune_rows(const char *p, const char *end)
{
    char msg[512], prev[512] = "";
    int seen[13] = {0}, rows = 0, id;

    while (p < end) {
        p = fortune_row(p, &id, msg, sizeof(msg));
        ck_assert_msg(!seen[id], "/fortunes: id %d twice", id);
        seen[id] = 1;
        ck_assert_msg(strcmp(msg, fortunes[id]) == 0,
                      "/fortunes: id %d is '%s', expected '%s'", id, msg,
                      fortunes[id]);
        ck_assert_msg(strcmp(prev, msg) <= 0,
                      "/fortunes: not sorted by "
                      "message: '%s' before '%s'",
                      prev, msg);
        snprintf(prev, sizeof(prev), "%s", msg);
        rows++;
    }
    ck_assert_msg(p == end, "/fortunes: rows overrun the table");
    ck_assert_msg(rows == 13, "/fortunes: %d rows, expected 13", rows);
}

static void check_fortunes(void)
{
    static const char head[] =
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body>"
        "<table><tr><th>id</th><th>message</th></tr>";
    static const char tail[] = "</table></body></html>";
    const size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1;
    httpc_res res;

    e2e_get_ok("/fortunes", "text/html; charset=utf-8", &res);
    ck_assert_msg(res.body_len > hl + tl && memcmp(res.body, head, hl) == 0 &&
                      memcmp(res.body + res.body_len - tl, tail, tl) == 0,
                  "/fortunes: not the standard page:\n%.3000s", res.body);
    check_fortune_rows(res.body + hl, res.body + res.body_len - tl);
    ck_assert_msg(strstr(res.body, "&lt;script&gt;") &&
                      !strstr(res.body, "<script"),
                  "/fortunes: the <script> fortune is not escaped");
    ck_assert_msg(strstr(res.body, fortunes[12]),
                  "/fortunes: the Japanese fortune is not intact");
    httpc_res_free(&res);
}

/* Issue 16: the start-up line printed the database password. The log
 * names the database with the password as "***", and nowhere has it. */
static void assert_no_password(const char *url)
{
    char ui[256];
    char *log = log_read();

    ck_assert_msg(e2e_userinfo(url, ui, sizeof(ui))[0], "%s has no password",
                  url);
    ck_assert_msg(!strstr(log, ui), "the log shows the password (%s):\n%s", ui,
                  log_tail());
    ck_assert_msg(strstr(log, ":***@"),
                  "the start-up line does not name "
                  "the database as user:***@host:\n%s",
                  log_tail());
    free(log);
}

int t_endpoints(void *arg)
{
    (void)arg;
    check_hello();
    check_index();
    check_db();
    check_counts("/queries", "queries");
    check_counts("/cached-queries", "count");
    check_counts("/updates", "queries");
    check_fortunes();
    check_errors();
    check_metrics();
    assert_pool_idle("after the endpoint checks");
    httpc_close(&e2e_conn, 0);
    return 0;
}

START_TEST(e2e_endpoints)
{
    const backend *b = &e2e_backends[_i];
    char db[128];

    start_showcase(b, "max_open=8");
    if (e2e_sc.dir[0]) {
        snprintf(db, sizeof(db), "%s/greentor-showcase.db", e2e_sc.dir);
        ck_assert_msg(access(db, F_OK) == 0,
                      "no %s: the default SQLite "
                      "database was not created in the working directory",
                      db);
    }
    ck_assert_int_eq(e2e_run_client(t_endpoints, NULL), 0);
    stop_showcase();
    if (b->env)
        assert_no_password(backend_url(b));
    remove_files();
}
END_TEST

/* ---- /updates persists --------------------------------------------------- */

static int worlds_before[WORLD_ROWS + 1], worlds_after[WORLD_ROWS + 1];

gt_db *open_db(const backend *b)
{
    char url[600];
    gt_db *db = NULL;
    int rc;

    if (b->env)
        snprintf(url, sizeof(url), "%s", backend_url(b));
    else
        snprintf(url, sizeof(url), "sqlite://%s/greentor-showcase.db",
                 e2e_sc.dir);
    rc = gt_db_open(&db, url, gt_deadline_in(REQ_TIMEOUT_MS));
    ck_assert_msg(rc == 0, "gt_db_open(%s): %s: %s", url, gt_strerror(rc),
                  db ? gt_db_errmsg(db) : "");
    return db;
}

static void read_worlds(gt_db *db, const backend *b, int *out)
{
    gt_rows *r = NULL;
    int n = gt_db_query(db, &r, b->all_worlds, NULL, 0, GT_NEVER);

    ck_assert_msg(n == WORLD_ROWS, "%s: %d rows (%s)", b->all_worlds, n,
                  n < 0 ? gt_db_errmsg(db) : "");
    memset(out, 0, sizeof(int) * (WORLD_ROWS + 1));
    for (int i = 0; i < n; i++) {
        int64_t id = gt_rows_int(r, i, 0);

        ck_assert(id >= 1 && id <= WORLD_ROWS);
        out[id] = (int)gt_rows_int(r, i, 1);
    }
    gt_rows_free(r);
}

/* Is 'rn' one of the numbers the response gave id 'id'? (The rules allow
 * an id twice in one request; then either write may be the last.) */
static int returned(json_t *a, int id, int rn)
{
    int i2, r2;

    for (size_t j = 0; j < json_array_size(a); j++) {
        e2e_check_world(json_array_get(a, j), "/updates", &i2, &r2);
        if (i2 == id && r2 == rn)
            return 1;
    }
    return 0;
}

static void check_persisted(json_t *a)
{
    static char touched[WORLD_ROWS + 1];
    int id, rn, changed = 0;

    memset(touched, 0, sizeof(touched));
    for (size_t i = 0; i < json_array_size(a); i++) {
        e2e_check_world(json_array_get(a, i), "/updates", &id, &rn);
        touched[id] = 1;
        ck_assert_msg(returned(a, id, worlds_after[id]),
                      "/updates: id %d returned randomNumber %d but the "
                      "database holds %d (was %d)",
                      id, rn, worlds_after[id], worlds_before[id]);
        changed += worlds_after[id] != worlds_before[id];
    }
    ck_assert_msg(changed > 0, "/updates: no row changed in the database");
    for (id = 1; id <= WORLD_ROWS; id++)
        ck_assert_msg(touched[id] || worlds_after[id] == worlds_before[id],
                      "/updates: id %d changed but was not returned", id);
}

static int t_updates(void *arg)
{
    const backend *b = arg;
    gt_db *db = open_db(b);
    json_t *a;

    read_worlds(db, b, worlds_before);
    a = e2e_get_worlds("/updates?queries=20", 20);
    read_worlds(db, b, worlds_after);
    check_persisted(a);
    json_decref(a);
    gt_db_close(db);
    httpc_close(&e2e_conn, 0);
    return 0;
}

START_TEST(e2e_updates_persisted)
{
    const backend *b = &e2e_backends[_i];

    start_showcase(b, "max_open=8");
    ck_assert_int_eq(e2e_run_client(t_updates, (void *)b), 0);
    stop_showcase();
    remove_files();
}
END_TEST

/* ---- concurrent load ----------------------------------------------------- */

int verbose(void)
{
    return getenv("GT_TEST_VERBOSE") != NULL;
}

static int t_load(void *arg)
{
    static const char *const mix[] = {"/plaintext",
                                      "/json",
                                      "/db",
                                      "/queries?queries=10",
                                      "/fortunes",
                                      "/updates?queries=5",
                                      "/cached-queries?count=10",
                                      "/"};
    httpc_load l = {.port = e2e_sc.port,
                    .conns = 64,
                    .targets = mix,
                    .ntargets = sizeof(mix) / sizeof(mix[0]),
                    .duration_ms = 3000,
                    .request_timeout_ms = REQ_TIMEOUT_MS};

    (void)arg;
    ck_assert_int_eq(httpc_load_run(&l), 0);
    if (verbose())
        fprintf(stderr, "e2e load: %ld requests, %ld errors, %ld non-2xx\n",
                l.requests, l.errors, l.non2xx);
    ck_assert_msg(l.requests > 0, "load: no request completed");
    ck_assert_msg(l.errors == 0 && l.non2xx == 0,
                  "load: %ld requests, %ld socket errors, %ld non-2xx; "
                  "first: %s\n%s",
                  l.requests, l.errors, l.non2xx, l.first_error, log_tail());
    assert_pool_idle("after the load");
    httpc_close(&e2e_conn, 0);
    return 0;
}

START_TEST(e2e_concurrent_load)
{
    start_showcase(&e2e_backends[_i], "max_open=8");
    ck_assert_int_eq(e2e_run_client(t_load, NULL), 0);
    stop_showcase();
    remove_files();
}
END_TEST

/* ---- registration -------------------------------------------------------- */

/* One test case per backend. The tests are loop tests over the single
 * index of the backend in e2e_backends[], so one body serves all three and
 * the test process learns its backend without a global. */
void add_e2e_tests(Suite *s, const char *name)
{
    const backend *b = backend_named(name);
    int i;
    TCase *tc;

    if (!b) {
        fprintf(stderr, "add_e2e_tests: unknown backend '%s'\n", name);
        abort();
    }
    i = (int)(b - e2e_backends);
    runner_pid = getpid();
    tc = tcase_create(b->tcase);
    tcase_set_timeout(tc, 600);
    tcase_add_checked_fixture(tc, NULL, e2e_teardown);
    tcase_add_unchecked_fixture(tc, NULL, restore_servers);
    tcase_add_loop_test(tc, e2e_endpoints, i, i + 1);
    tcase_add_loop_test(tc, e2e_updates_persisted, i, i + 1);
    tcase_add_loop_test(tc, e2e_concurrent_load, i, i + 1);
    add_e2e_fault_tests(tc, b, i);
    suite_add_tcase(s, tc);
}
