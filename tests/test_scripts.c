/* tests/test_scripts.c -- the shell scripts' own tests, run from the Check
 * binary so that `make check` runs them and its summary counts them.
 *
 * Each is a bash script under tests/ that prints one line and exits 0 on
 * success; its output is shown when it fails. The tests run from the
 * repository root, as the other suites do. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static void run_script(const char *path)
{
    char cmd[256], out[4096];
    size_t n = 0;
    FILE *p;
    int st;

    ck_assert_msg(access(path, R_OK) == 0,
                  "%s not found: run the tests "
                  "from the repository root",
                  path);
    snprintf(cmd, sizeof(cmd), "bash %s 2>&1 </dev/null", path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
                  "%s failed "
                  "(status 0x%x):\n%s",
                  path, st, out);
}

/* Issue 16: db.sh started the servers with its caller's descriptors, so a
 * server started under `flock FILE ...` kept FILE locked. */
START_TEST(db_sh_servers_inherit_no_descriptors)
{
    run_script("tests/db_fds.sh");
}
END_TEST

/* Issue 10: greentor.pc left jansson out of Libs, so an application that
 * calls json_* (as http.h's API makes it) failed to link. */
START_TEST(app_builds_out_of_tree)
{
    run_script("tests/out_of_tree.sh");
}
END_TEST

void add_scripts_tests(Suite *s)
{
    TCase *tc = tcase_create("scripts");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, db_sh_servers_inherit_no_descriptors);
    tcase_add_test(tc, app_builds_out_of_tree);
    suite_add_tcase(s, tc);
}
