/* tests/test_http_stopping.c -- gt_http_server_stopping(), what a
 * readiness endpoint reports: 0 while serving, nonzero from the moment a
 * graceful stop begins (before the drain has ended). */
#include "util.h"

static int h_ok(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    return gt_http_res_printf(res, "ok");
}

static int t_stopping(void *arg)
{
    gt_http_config cfg = {.port = 0};
    gt_http_server *srv;

    (void)arg;
    ck_assert_int_eq(gt_http_server_stopping(NULL), 0);
    ck_assert_int_eq(gt_http_server_open(&srv, gt_rt_self(), &cfg, h_ok, NULL),
                     0);
    ck_assert_int_eq(gt_http_server_stopping(srv), 0);
    gt_http_server_stop(srv);
    ck_assert_int_ne(gt_http_server_stopping(srv), 0);
    ck_assert_int_eq(gt_http_server_join(srv, gt_deadline_in(10000)), 0);
    ck_assert_int_ne(gt_http_server_stopping(srv), 0);
    gt_http_server_close(srv);
    return 0;
}

START_TEST(stopping_is_reported_from_the_start_of_a_stop)
{
    ck_assert_int_eq(run_main(t_stopping, NULL), 0);
}
END_TEST

void add_http_stopping_tests(Suite *s)
{
    TCase *tc = tcase_create("http_stopping");

    tcase_add_test(tc, stopping_is_reported_from_the_start_of_a_stop);
    suite_add_tcase(s, tc);
}
