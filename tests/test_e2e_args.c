/* tests/test_e2e_args.c -- the showcase's command line: an option given
 * without its value, a bad value and an unknown argument each end the
 * program with exit status 2 and a message naming the problem.
 *
 * Issue 14: "--database-url" as the last argument said "unknown argument",
 * and "--port" or "--workers" without a value said "bad --port ''". The
 * binary is build/examples/showcase (or $GT_SHOWCASE), run with stderr on
 * a pipe; none of these runs gets as far as opening a database. In case
 * one does start serving, it gets a free port and an in-memory database,
 * and is killed after a while. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

#define EXIT_WAIT_MS 10000

/* The child: the showcase with argv[1..] = args, stderr on 'err_fd'. */
static void exec_showcase(const char *bin, const char *const *args, int nargs,
                          int err_fd, int port)
{
    char *argv[8], env_port[32];

    snprintf(env_port, sizeof(env_port), "%d", port);
    setenv("PORT", env_port, 1);
    setenv("DATABASE_URL", "sqlite::memory:", 1);
    unsetenv("WORKERS");
    argv[0] = (char *)bin;
    for (int i = 0; i < nargs; i++)
        argv[i + 1] = (char *)args[i];
    argv[nargs + 1] = NULL;
    dup2(err_fd, STDERR_FILENO);
    dup2(err_fd, STDOUT_FILENO);
    execv(bin, argv);
    dprintf(err_fd, "cannot run %s: %s\n", bin, strerror(errno));
    _exit(127);
}

/* Run the showcase with 'args' until it exits (killed after EXIT_WAIT_MS);
 * its output goes to out[0..cap). Returns its wait status. */
static int run_showcase(const char *const *args, int nargs, char *out,
                        size_t cap)
{
    const char *bin = getenv("GT_SHOWCASE");
    int fds[2], status = 0, waited = 0;
    size_t n = 0;
    ssize_t got;
    pid_t pid;

    bin = bin && *bin ? bin : "build/examples/showcase";
    ck_assert_msg(access(bin, X_OK) == 0,
                  "no showcase binary at %s: run "
                  "`make build/examples/showcase` or set GT_SHOWCASE",
                  bin);
    ck_assert_int_lt(nargs, 7);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        exec_showcase(bin, args, nargs, fds[1], test_free_port());
    }
    close(fds[1]);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (waited >= EXIT_WAIT_MS)
            kill(pid, SIGKILL);
        usleep(10000);
        waited += 10;
    }
    while (n + 1 < cap && (got = read(fds[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    close(fds[0]);
    return status;
}

static const struct bad_args {
    const char *args[3];
    int nargs;
    const char *says;
} bad_args[] = {
    {{"--port"}, 1, "showcase: --port needs a value"},
    {{"--workers"}, 1, "showcase: --workers needs a value"},
    {{"--database-url"}, 1, "showcase: --database-url needs a value"},
    {{"--access-log", "--port"}, 2, "showcase: --port needs a value"},
    {{"--port", "http"}, 2, "showcase: bad --port 'http'"},
    {{"--workers", ""}, 2, "showcase: bad --workers ''"},
    {{"--bogus"}, 1, "showcase: unknown argument '--bogus'"},
    {{"--handler-timeout-ms"},
     1,
     "showcase: --handler-timeout-ms needs a value"},
    {{"--handler-timeout-ms", "0"},
     2,
     "showcase: bad --handler-timeout-ms '0'"},
};

START_TEST(bad_arguments_exit_2_and_say_why)
{
    const struct bad_args *b = &bad_args[_i];
    char out[4096];
    int st = run_showcase(b->args, b->nargs, out, sizeof(out));

    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2,
                  "%s ...: expected exit status 2, got 0x%x:\n%s", b->args[0],
                  st, out);
    ck_assert_msg(strstr(out, b->says), "expected \"%s\" in:\n%s", b->says,
                  out);
    ck_assert_msg(strstr(out, "usage:") || strstr(b->says, "bad "),
                  "no usage after \"%s\":\n%s", b->says, out);
}
END_TEST

void add_e2e_args_tests(Suite *s)
{
    TCase *tc = tcase_create("args");
    int n = (int)(sizeof(bad_args) / sizeof(bad_args[0]));

    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, bad_arguments_exit_2_and_say_why, 0, n);
    suite_add_tcase(s, tc);
}
