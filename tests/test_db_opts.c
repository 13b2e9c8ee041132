/* tests/test_db_opts.c -- strict URL options and redacted URLs (issue 16).
 *
 * A typo in an option used to be ignored (?max_opn=4 started a pool of the
 * default size) and a number too large was truncated (max_open=4294967297
 * became 1). Now gt_db_check_url(), gt_db_open() and gt_pool_new() refuse
 * both, with a message that names the option and, for an unknown one,
 * lists what the URL's scheme accepts. And no message, log line or label
 * may show a password: gt_db_url_redact() is what they print instead. None
 * of this needs a server. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "greentor.h"
#include "util.h"

/* ---- strict options ---------------------------------------------------- */

typedef struct opt_case {
    const char *url;
    const char *says; /* in the message; NULL: the URL is good */
    const char *also; /* a second string the message must hold, or NULL */
} opt_case;

static const opt_case opt_cases[] = {
    /* Unknown names, with the accepted list and a suggestion. */
    {"sqlite::memory:?foo=1", "unknown option 'foo'", "busy_timeout_ms"},
    {"postgres://h/d?max_opn=4", "did you mean max_open?", "max_idle"},
    {"postgres://h/d?foo=1", "a postgres URL accepts:", "application_name"},
    {"mysql://h/d?application_name=x", "unknown option 'application_name'",
     "reset_on_release"},
    {"postgres://h/d?mode=offload", "unknown option 'mode'", NULL},
    {"sqlite::memory:?sslmode=require", "unknown option 'sslmode'", NULL},
    {"sqlite::memory:?max_open=2&&flag", "unknown option 'flag'", NULL},
    /* Numbers out of range or not numbers. */
    {"sqlite::memory:?max_open=4294967297",
     "max_open must be a whole number from 1 to 1000000", "4294967297"},
    {"sqlite::memory:?max_open=0", "max_open must be a whole number", NULL},
    {"sqlite::memory:?max_open=abc", "max_open must be", "'abc'"},
    {"sqlite::memory:?max_open=", "max_open must be", NULL},
    {"sqlite::memory:?max_open=4x", "max_open must be", NULL},
    {"sqlite::memory:?min_idle=-1", "min_idle must be", NULL},
    {"sqlite::memory:?acquire_timeout_ms=99999999999999999999",
     "acquire_timeout_ms must be", NULL},
    {"sqlite::memory:?busy_timeout_ms=2147483648", "busy_timeout_ms must be",
     "2147483647"},
    {"mysql://h/d?connect_timeout_ms=1.5", "connect_timeout_ms must be", NULL},
    {"postgres://h/d?stmt_cache=-3", "stmt_cache must be", NULL},
    /* Choices. */
    {"sqlite::memory:?mode=fast", "mode must be one of inline|offload", NULL},
    {"sqlite::memory:?synchronous=sometimes", "synchronous must be one of",
     NULL},
    {"postgres://h/d?reset_on_release=maybe", "reset_on_release must be", NULL},
    /* TLS: libpq's modes; MariaDB's the same names without the downgrades. */
    {"postgres://h/d?sslmode=verify_full", "sslmode must be one of",
     "verify-full"},
    {"mysql://h/d?sslmode=prefer", "sslmode must be one of",
     "disable|require|verify-ca|verify-full"},
    {"mysql://h/d?ssl_ca=x", "unknown option 'ssl_ca'", "sslrootcert"},
    {"mysql://h/d?sslrootcert=/ca.crt", "sslrootcert needs sslmode=require",
     NULL},
    {"mysql://h/d?sslmode=disable&sslkey=/k", "sslkey needs sslmode", NULL},
    {"mysql://h/d?sslmode=verify-ca", "sslmode=verify-ca needs sslrootcert",
     NULL},
    {"mysql://h/d?sslmode=verify-full&sslrootcert=",
     "sslmode=verify-full needs sslrootcert", NULL},
    {"mysql://h/d?sslmode=require", NULL, NULL},
    {"mysql://u:p@h/d?sslmode=verify-full&sslrootcert=/ca.crt&sslcert=/c"
     "&sslkey=/k&sslpassword=s",
     NULL, NULL},
    {"postgres://u:p@h/d?sslmode=verify-ca&sslrootcert=/ca.crt"
     "&sslpassword=s",
     NULL, NULL},
    /* redis:// (redis.h, and a Redis pool): the pool's options and
     * connect_timeout_ms, nothing of SQL's. */
    {"redis://h/0?max_opn=4", "did you mean max_open?", "connect_timeout_ms"},
    {"redis://h/0?init=SET", "unknown option 'init'", NULL},
    {"redis://h/0?stmt_cache=4", "unknown option 'stmt_cache'", NULL},
    {"redis://:pw@h:6380/2?max_open=4&connect_timeout_ms=500", NULL, NULL},
    /* The last occurrence is the one that counts (gt__db_url_opt). */
    {"sqlite::memory:?max_open=x&max_open=3", NULL, NULL},
    {"sqlite::memory:?max_open=3&max_open=x", "max_open must be", NULL},
    /* Good ones, every kind. */
    {"sqlite::memory:?max_open=1000000&min_idle=0&max_idle=3"
     "&max_lifetime_ms=2147483647&idle_timeout_ms=1&acquire_timeout_ms=0"
     "&validate_idle_ms=5&leak_threshold_ms=0&backoff_max_ms=100"
     "&reset_on_release=never&busy_timeout_ms=10&mode=offload"
     "&synchronous=NORMAL&stmt_cache=0&connect_timeout_ms=0&init=",
     NULL, NULL},
    {"postgres://u:p@h/d?application_name=a&sslmode=disable&sslrootcert=x"
     "&sslcert=y&sslkey=z&gssencmode=disable&options=-c%20a%3Db"
     "&init=SET%20x%3D1&init=SET%20y%3D2&stmt_cache=8",
     NULL, NULL},
    {"mysql://u:p@h/d?max_open=+4&reset_on_release=auto&stmt_cache=64", NULL,
     NULL},
    /* A host list makes a port= option (libpq's list); '@' in the query. */
    {"postgres://u:p@h1:5432,h2:5433/d?target_session_attrs=read-write"
     "&leak_reclaim_ms=100",
     NULL, NULL},
    {"postgres://h1:1,h2:2/d?application_name=a@b&port=7,8", NULL, NULL},
};

static void assert_case(const opt_case *c, int rc, const char *err,
                        const char *by)
{
    if (!c->says) {
        ck_assert_msg(rc == 0, "%s: %s refused it (%d): %s", c->url, by, rc,
                      err);
        return;
    }
    ck_assert_msg(rc == -EINVAL, "%s: %s returned %d, want -EINVAL", c->url, by,
                  rc);
    ck_assert_msg(strstr(err, c->says), "%s: %s says '%s', which lacks '%s'",
                  c->url, by, err, c->says);
    ck_assert_msg(!c->also || strstr(err, c->also),
                  "%s: %s says '%s', which lacks '%s'", c->url, by, err,
                  c->also);
}

START_TEST(check_url_refuses_unknown_and_out_of_range_options)
{
    char err[1024];

    for (size_t i = 0; i < sizeof(opt_cases) / sizeof(opt_cases[0]); i++) {
        int rc = gt_db_check_url(opt_cases[i].url, err, sizeof(err));

        assert_case(&opt_cases[i], rc, err, "gt_db_check_url");
    }
    /* NULL err is allowed; short buffers are cut, still strings. */
    ck_assert_int_eq(gt_db_check_url("sqlite::memory:?foo=1", NULL, 0),
                     -EINVAL);
    ck_assert_int_eq(gt_db_check_url("sqlite::memory:?foo=1", err, 10),
                     -EINVAL);
    ck_assert_int_eq(strlen(err), 9);
}
END_TEST

START_TEST(pool_new_refuses_what_check_url_refuses)
{
    enum { N = sizeof(opt_cases) / sizeof(opt_cases[0]) };
    gt_rt_config cfg = {.workers = 1};
    gt_pool *pools[N] = {NULL};
    char err[1024];
    gt_rt *rt;

    ck_assert_int_eq(gt_rt_new(&rt, &cfg), 0);
    for (size_t i = 0; i < N; i++) {
        int rc = gt_pool_new(&pools[i], rt, opt_cases[i].url, NULL, err,
                             sizeof(err));

        assert_case(&opt_cases[i], rc, err, "gt_pool_new");
    }
    /* A pool made has tasks posted to the runtime: it goes after it. */
    gt_rt_free(rt);
    for (size_t i = 0; i < N; i++)
        gt_pool_free(pools[i]);
}
END_TEST

/* The config struct cannot smuggle in what the URL may not. */
START_TEST(pool_new_refuses_out_of_range_config)
{
    gt_rt_config rcfg = {.workers = 1};
    gt_pool_config cfg = {.max_open = 2000000};
    gt_pool *pool = NULL;
    char err[256];
    gt_rt *rt;

    ck_assert_int_eq(gt_rt_new(&rt, &rcfg), 0);
    ck_assert_int_eq(
        gt_pool_new(&pool, rt, "sqlite::memory:", &cfg, err, sizeof(err)),
        -EINVAL);
    ck_assert_msg(strstr(err, "max_open"), "message: %s", err);
    cfg.max_open = 4;
    ck_assert_int_eq(
        gt_pool_new(&pool, rt, "sqlite::memory:", &cfg, err, sizeof(err)), 0);
    gt_rt_free(rt);
    gt_pool_free(pool);
}
END_TEST

static int open_with_typo(void *arg)
{
    gt_db *db = (gt_db *)1;

    (void)arg;
    ck_assert_int_eq(
        gt_db_open(&db, "sqlite::memory:?busy_timeout=5", GT_NEVER), -EINVAL);
    ck_assert_ptr_null(db);
    ck_assert_int_eq(gt_db_open(&db,
                                "sqlite::memory:?busy_timeout_ms=5"
                                "&max_open=3",
                                GT_NEVER),
                     0);
    gt_db_close(db);
    return 0;
}

START_TEST(db_open_refuses_unknown_options)
{
    ck_assert_int_eq(run_main(open_with_typo, NULL), 0);
}
END_TEST

/* ---- no secrets in output ----------------------------------------------- */

static const struct {
    const char *in, *out;
} redactions[] = {
    {"postgres://greentor:greentor@127.0.0.1:5432/db?max_open=4",
     "postgres://greentor:***@127.0.0.1:5432/db?max_open=4"},
    {"mysql://u:p%40ss@[::1]/d", "mysql://u:***@[::1]/d"},
    {"postgres://u:pa@ss@host/db", "postgres://u:***@host/db"},
    {"postgres://u:pa:ss@host", "postgres://u:***@host"},
    {"postgres://u:@host/db", "postgres://u:***@host/db"},
    /* A '/' in the password: more is hidden, never less. */
    {"postgres://u:pa/ss@host/db", "postgres://u:***@host/db"},
    {"postgres://u@host/db", "postgres://u@host/db"},
    {"postgres://host/db?x=1", "postgres://host/db?x=1"},
    {"postgres://h/d?password=hunter2&max_open=2",
     "postgres://h/d?password=***&max_open=2"},
    {"postgres://h/d?max_open=2&sslpassword=x",
     "postgres://h/d?max_open=2&sslpassword=***"},
    {"mysql://u:p@h/d?sslmode=verify-ca&sslrootcert=/ca.crt&sslpassword=k"
     "&sslkey=/k.pem",
     "mysql://u:***@h/d?sslmode=verify-ca&sslrootcert=/ca.crt&sslpassword=***"
     "&sslkey=/k.pem"},
    {"postgres://h/d?a@b=1", "postgres://h/d?a@b=1"},
    {"sqlite::memory:", "sqlite::memory:"},
    {"sqlite:///tmp/x.db?mode=offload", "sqlite:///tmp/x.db?mode=offload"},
    {"", ""},
    {"not a url at all: x@y", "not a url at all: x@y"},
};

START_TEST(redact_hides_passwords)
{
    char out[256];

    for (size_t i = 0; i < sizeof(redactions) / sizeof(redactions[0]); i++) {
        size_t n = gt_db_url_redact(redactions[i].in, out, sizeof(out));

        ck_assert_str_eq(out, redactions[i].out);
        ck_assert_uint_eq(n, strlen(redactions[i].out));
    }
    /* Cut short: still a string, the length as snprintf reports it, and
     * never a piece of the password. */
    ck_assert_uint_eq(gt_db_url_redact("postgres://u:secret@h/d", out, 14),
                      strlen("postgres://u:***@h/d"));
    ck_assert_str_eq(out, "postgres://u:");
    ck_assert_uint_eq(gt_db_url_redact("postgres://u:secret@h/d", NULL, 0),
                      strlen("postgres://u:***@h/d"));
    ck_assert_uint_eq(gt_db_url_redact(NULL, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

/* The parser's own messages quote the part that is wrong -- never when
 * that part is the password. */
START_TEST(url_errors_never_quote_the_password)
{
    static const char *const urls[] = {
        "postgres://u:s3cret%zz@h/d",
        "postgres://u:s3cret/x@h/d",
        "postgres://u:s3cret?x@h/d",
        "mysql://u:s3cret/x@127.0.0.1:99999/d",
    };
    char err[512];

    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        int rc = gt_db_check_url(urls[i], err, sizeof(err));

        ck_assert_msg(rc == -EINVAL, "%s: %d", urls[i], rc);
        ck_assert_msg(!strstr(err, "s3cret") && !strstr(err, "cret"),
                      "%s: the message quotes the password: %s", urls[i], err);
    }
}
END_TEST

/* What the pool reads its options with: the value that counts (the
 * last), decoded, and every way of not having one. */
START_TEST(url_option_reads_one_option)
{
    const char *url = "postgres://u:p@h/db?max_open=4&reset_on_release=a%20b"
                      "&max_open=16";
    char v[8];

    ck_assert_int_eq(gt_db_url_option(url, "max_open", v, sizeof(v)), 2);
    ck_assert_str_eq(v, "16");
    ck_assert_int_eq(gt_db_url_option(url, "reset_on_release", v, sizeof(v)),
                     3);
    ck_assert_str_eq(v, "a b");
    ck_assert_int_eq(gt_db_url_option(url, "min_idle", v, sizeof(v)), -ENOENT);
    ck_assert_int_eq(gt_db_url_option(url, "reset_on_release", v, 3), -ENOSPC);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(
        gt_db_url_option("postgres://h:99999/db?a=1", "a", v, sizeof(v)),
        -EINVAL);
    ck_assert_int_eq(gt_db_url_option("nosuch://h/db?a=1", "a", v, sizeof(v)),
                     -EPROTONOSUPPORT);
    ck_assert_int_eq(gt_db_url_option(url, NULL, v, sizeof(v)), -EINVAL);
    ck_assert_int_eq(gt_db_url_option(url, "max_open", v, 0), -EINVAL);
}
END_TEST

/* The parts the redis module opens a redis:// URL by. */
START_TEST(url_part_reads_the_parts)
{
    const char *url = "redis://us%3Aer:p%40ss:w@[::1]:6380/3?max_open=2";
    char v[16];

    ck_assert_int_eq(gt_db_url_part(url, "host", v, sizeof(v)), 3);
    ck_assert_str_eq(v, "::1");
    ck_assert_int_eq(gt_db_url_part(url, "port", v, sizeof(v)), 4);
    ck_assert_str_eq(v, "6380");
    ck_assert_int_eq(gt_db_url_part(url, "user", v, sizeof(v)), 5);
    ck_assert_str_eq(v, "us:er");
    ck_assert_int_eq(gt_db_url_part(url, "password", v, sizeof(v)), 6);
    ck_assert_str_eq(v, "p@ss:w");
    ck_assert_int_eq(gt_db_url_part(url, "dbname", v, sizeof(v)), 1);
    ck_assert_str_eq(v, "3");
    ck_assert_int_eq(gt_db_url_part("redis://h", "port", v, sizeof(v)),
                     -ENOENT);
    ck_assert_int_eq(gt_db_url_part("redis://h", "dbname", v, sizeof(v)),
                     -ENOENT);
    ck_assert_int_eq(gt_db_url_part(url, "password", v, 4), -ENOSPC);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(gt_db_url_part(url, "query", v, sizeof(v)), -EINVAL);
    ck_assert_int_eq(gt_db_url_part("sqlite:/tmp/x.db", "path", v, sizeof(v)),
                     9);
    ck_assert_str_eq(v, "/tmp/x.db");
    ck_assert_int_eq(gt_db_url_part("redis://h:0", "host", v, sizeof(v)),
                     -EINVAL);
}
END_TEST

void add_db_opts_tests(Suite *s)
{
    TCase *tc = tcase_create("options");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, check_url_refuses_unknown_and_out_of_range_options);
    tcase_add_test(tc, pool_new_refuses_what_check_url_refuses);
    tcase_add_test(tc, pool_new_refuses_out_of_range_config);
    tcase_add_test(tc, db_open_refuses_unknown_options);
    tcase_add_test(tc, redact_hides_passwords);
    tcase_add_test(tc, url_errors_never_quote_the_password);
    tcase_add_test(tc, url_option_reads_one_option);
    tcase_add_test(tc, url_part_reads_the_parts);
    suite_add_tcase(s, tc);
}
