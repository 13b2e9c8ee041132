/* tests/test_db_sqlite.c -- SQLite only: a database file in WAL mode,
 * lock waits between two connections (and giving up on them), the stack
 * an inline statement takes, and big statements compiled off the stack.
 * Run as part of the "sqlite" case of test_db_shared.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/driver.h"
#include "db_shared_fixture.h"
#include "greentor/db.h"
#include "util.h"

/* ---- SQLite only: a file, WAL, lock waits, stack use --------------------- */

typedef struct sqlite_file {
    char dir[64];
    char url[160];
} sqlite_file;

static void make_file(sqlite_file *f, const char *opts)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/gt-sqlite-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    snprintf(f->url, sizeof(f->url), "sqlite://%s/t.db%s%s", f->dir,
             *opts ? "?" : "", opts);
}

static void remove_file(sqlite_file *f)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    char path[128];

    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/t.db%s", f->dir, suffix[i]);
        unlink(path);
    }
    ck_assert_int_eq(rmdir(f->dir), 0);
}

typedef struct lock_wait {
    gt_db *db;
    int64_t deadline;
    int rc;
} lock_wait;

static int begin_immediate(void *arg)
{
    lock_wait *w = arg;

    w->rc = (int)gt_db_exec(w->db, "BEGIN IMMEDIATE", NULL, 0, w->deadline);
    return 0;
}

/* b waits for a's write lock without blocking the worker, and gets it
 * when a commits. */
static void wait_for_commit(gt_db *a, gt_db *b)
{
    ticker t = {0, false};
    lock_wait w = {b, GT_NEVER, 1};
    gt_co *tk, *co;

    ck_assert_int_eq(gt_co_spawn(&tk, tick, &t), 0);
    ck_assert_int_eq(gt_co_spawn(&co, begin_immediate, &w), 0);
    ck_assert_int_eq(gt_sleep(300), 0);
    ck_assert_int_eq(w.rc, 1); /* still waiting */
    exec_n_ok(a, "COMMIT", NULL, 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_msg(w.rc == 0, "%d %s", w.rc, gt_db_errmsg(b));
    t.stop = true;
    ck_assert_int_eq(gt_co_join(tk, NULL, GT_NEVER), 0);
    ck_assert_msg(t.ticks >= 10, "only %d ticks", t.ticks);
    exec_n_ok(b, "ROLLBACK", NULL, 0);
}

/* Giving up: busy_timeout_ms, the deadline, a cancel. */
static void give_up_waiting(gt_db *a, gt_db *b, const char *url)
{
    gt_db *c = open_ok(url_and(url, "busy_timeout_ms=50"));
    lock_wait w = {b, GT_NEVER, 1};
    gt_co *co;

    exec_n_ok(a, "BEGIN IMMEDIATE", NULL, 0);
    ck_assert_int_eq(gt_db_exec(c, "BEGIN IMMEDIATE", NULL, 0, GT_NEVER),
                     GT_EDB);
    ck_assert_int_eq(gt_db_errcode(c), 5); /* SQLITE_BUSY */
    ck_assert_int_eq(
        gt_db_exec(b, "BEGIN IMMEDIATE", NULL, 0, gt_deadline_in(100)),
        -ETIMEDOUT);
    ck_assert_int_eq(gt_co_spawn(&co, begin_immediate, &w), 0);
    ck_assert_int_eq(gt_co_spawn(NULL, cancel_after, co), 0);
    ck_assert_int_eq(gt_co_join(co, NULL, GT_NEVER), 0);
    ck_assert_int_eq(w.rc, -ECANCELED);
    exec_n_ok(a, "ROLLBACK", NULL, 0);
    ck_assert_int_eq(gt_db_tx_depth(b), 0);
    ck_assert_int_eq(gt_db_tx_depth(c), 0);
    gt_db_close(c);
}

static int t_wal(void *arg)
{
    sqlite_file f;
    gt_db *a, *b;
    gt_rows *r;
    const char *tb;
    char count[128];

    make_file(&f, arg);
    a = open_ok(f.url);
    b = open_ok(f.url);
    r = query_ok(a, "PRAGMA journal_mode", NULL, 0);
    ck_assert_str_eq(gt_rows_text(r, 0, 0, NULL), "wal");
    gt_rows_free(r);
    tb = fresh_table(a, "wal", "(k INTEGER)");
    snprintf(count, sizeof(count), "SELECT count(*) FROM %s", tb);
    exec_n_ok(a, "BEGIN IMMEDIATE", NULL, 0);
    put_k(a, tb, 1);
    /* WAL: a reader is not blocked by the writer, and sees the past. */
    ck_assert_int_eq(scalar(b, count), 0);
    wait_for_commit(a, b);
    ck_assert_int_eq(scalar(b, count), 1);
    give_up_waiting(a, b, f.url);
    gt_db_close(a);
    gt_db_close(b);
    remove_file(&f);
    return 0;
}

START_TEST(sqlite_file_uses_wal_and_waits_for_locks)
{
    ck_assert_int_eq(run_main(t_wal, ""), 0);
    ck_assert_int_eq(run_main(t_wal, "mode=offload"), 0);
}
END_TEST

static int t_stack(void *arg)
{
    gt_db *db = open_ok("sqlite::memory:");
    const char *tb = fresh_table(db, "stack",
                                 "(id INTEGER PRIMARY KEY, "
                                 "g INTEGER, t TEXT)");
    char sql[256];
    gt_rows *r;

    (void)arg;
    for (int i = 0; i < 50; i++) {
        snprintf(sql, sizeof(sql), "INSERT INTO %s (g, t) VALUES (?, ?)", tb);
        exec_n_ok(db, sql, (gt_db_value[]){gt_db_int(i % 5), gt_db_text("x")},
                  2);
    }
    snprintf(sql, sizeof(sql),
             "SELECT a.g, count(*), max(b.t) FROM %s a "
             "JOIN %s b ON a.g = b.g WHERE a.id > ? GROUP BY a.g ORDER BY 2",
             tb, tb);
    r = query_ok(db, sql, (gt_db_value[]){gt_db_int(3)}, 1);
    ck_assert_int_eq(gt_rows_count(r), 5);
    gt_rows_free(r);
    gt_db_close(db);
    if (getenv("GT_TEST_VERBOSE"))
        fprintf(stderr, "sqlite inline: %zd bytes of coroutine stack\n",
                gt_co_stack_used());
    ck_assert_int_gt(gt_co_stack_used(), 0);
    return 0;
}

/* Inline mode runs SQLite on the coroutine's stack: a plain query must
 * fit the default stack with room to spare. */
START_TEST(sqlite_inline_fits_the_default_coroutine_stack)
{
    gt_rt_config cfg = {.workers = 1, .stack_check = 1};

    ck_assert_int_eq(run_main_cfg(&cfg, t_stack, NULL), 0);
}
END_TEST

/* Statements whose compilation recurses deeply: 400 OR terms, a 300-term
 * UNION ALL. Compiled on a coroutine's stack they would overflow it. */
static int t_big_statements(void *arg)
{
    gt_db *db = open_ok(arg);
    size_t cap = 16384;
    char *sql = malloc(cap);
    gt_rows *r;

    snprintf(sql, cap, "SELECT 1 FROM (SELECT 399 AS id) WHERE id = 0");
    for (int i = 1; i < 400; i++)
        snprintf(sql + strlen(sql), cap - strlen(sql), " OR id = %d", i);
    ck_assert_int_eq(scalar(db, sql), 1);
    snprintf(sql, cap, "SELECT count(*) FROM (SELECT 0");
    for (int i = 1; i < 300; i++)
        snprintf(sql + strlen(sql), cap - strlen(sql), " UNION ALL SELECT %d",
                 i);
    snprintf(sql + strlen(sql), cap - strlen(sql), ")");
    r = query_ok(db, sql, NULL, 0);
    ck_assert_int_eq(gt_rows_int(r, 0, 0), 300);
    gt_rows_free(r);
    free(sql);
    gt_db_close(db);
    return 0;
}

START_TEST(sqlite_compiles_big_statements_off_stack)
{
    /* The production default, also under ASan (which would give 256). */
    gt_rt_config cfg = {.workers = 1, .stack_size = 64 * 1024};

    run_each_cfg(t_big_statements, &cfg);
}
END_TEST

void add_db_sqlite_only_tests(TCase *tc)
{
    tcase_add_test(tc, sqlite_file_uses_wal_and_waits_for_locks);
    tcase_add_test(tc, sqlite_inline_fits_the_default_coroutine_stack);
    tcase_add_test(tc, sqlite_compiles_big_statements_off_stack);
}
