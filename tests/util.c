/* tests/util.c -- helpers shared by the test suites. */
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

int run_main_cfg(const gt_rt_config *cfg, gt_co_fn fn, void *arg)
{
    return gt_rt_main(cfg, fn, arg);
}

int run_main(gt_co_fn fn, void *arg)
{
    gt_rt_config cfg = {.workers = 1};

    return gt_rt_main(&cfg, fn, arg);
}

int run_child(void (*fn)(void *), void *arg, char *err, size_t cap)
{
    int fds[2], status = -1;
    size_t n = 0;
    ssize_t got;
    pid_t pid;

    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    while (n + 1 < cap && (got = read(fds[0], err + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    err[n] = '\0';
    close(fds[0]);
    waitpid(pid, &status, 0);
    return status;
}

const char *test_db_url(const char *env)
{
    const char *u = getenv(env);

    ck_assert_msg(u && *u, "no %s: run `eval \"$(bash scripts/db.sh env)\"`",
                  env);
    return u;
}

int64_t query_int(gt_db *db, const char *sql)
{
    gt_rows *r;
    int64_t v;
    int n = gt_db_query(db, &r, sql, NULL, 0, GT_NEVER);

    ck_assert_msg(n == 1, "%s: %d %s", sql, n, gt_db_errmsg(db));
    v = gt_rows_int(r, 0, 0);
    gt_rows_free(r);
    return v;
}

int close_kept(gt_db **db, int n)
{
    int kept = 0;

    for (int i = 0; i < n; i++) {
        int64_t rc = gt_db_exec(db[i], "SELECT 1", NULL, 0, GT_NEVER);

        ck_assert_msg(rc >= 0 || rc == -ECONNRESET, "%lld %s", (long long)rc,
                      gt_db_errmsg(db[i]));
        kept += rc >= 0;
        gt_db_close(db[i]);
    }
    return kept;
}

void wait_none_left(gt_db *probe, int64_t (*count)(gt_db *))
{
    for (int i = 0; i < 1000 && count(probe) > 0; i++)
        ck_assert_int_eq(gt_sleep(10), 0);
    ck_assert_int_eq(count(probe), 0);
}

int64_t mysql_our_sessions(gt_db *probe)
{
    return query_int(probe, "SELECT COUNT(*) FROM information_schema."
                            "processlist WHERE user = 'greentor' AND id <> "
                            "CONNECTION_ID()");
}

/* The first number in the pid file 'rel' under scripts/db.sh's state
 * directory. */
static pid_t db_pid(const char *rel)
{
    const char *dir = getenv("GT_DB_DIR");
    char path[512];
    long pid = 0;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/tmp/greentor-db", rel);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s: is scripts/db.sh running?", path);
    ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    return (pid_t)pid;
}

pid_t pg_postmaster_pid(void)
{
    return db_pid("pg/postmaster.pid");
}

pid_t mysql_server_pid(void)
{
    return db_pid("mysql-run/mysql.pid");
}

pid_t resume_later(pid_t pid, int secs)
{
    pid_t w = fork();

    if (w == 0) {
        sleep((unsigned)secs);
        kill(pid, SIGCONT);
        _exit(0);
    }
    return w;
}

int test_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_msg(fd >= 0 && bind(fd, (struct sockaddr *)&sa, len) == 0 &&
                      getsockname(fd, (struct sockaddr *)&sa, &len) == 0,
                  "cannot pick a port: %s", strerror(errno));
    close(fd);
    return ntohs(sa.sin_port);
}
