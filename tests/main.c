/* tests/main.c -- the one test binary: one Check suite per module.
 *
 * Check forks a child per test (unless CK_FORK=no, as under valgrind), so a
 * smashed coroutine stack fails one test and not the run. CK_RUN_SUITE and
 * CK_RUN_CASE select what runs. */
#include <stdlib.h>

#include "util.h"

static Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");

    add_runtime_co_tests(s);
    add_runtime_sync_tests(s);
    add_runtime_wait_tests(s);
    add_runtime_local_tests(s);
    add_runtime_rt_tests(s);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(runtime_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
