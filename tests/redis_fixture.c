/* tests/redis_fixture.c -- redis-server for the Redis tests. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "greentor/db.h"
#include "pool_fixture.h"
#include "redis_fixture.h"
#include "util.h"

int redis_port;
static pid_t fixture_pid;

/* Wait until something accepts on 127.0.0.1:port (bounded). */
static int wait_accepting(int port)
{
    char cmd[160];

    snprintf(cmd, sizeof(cmd),
             "bash -c 'for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/%d)"
             " 2>/dev/null && exit 0; sleep 0.05; done; exit 1'",
             port);
    return system(cmd) == 0 ? 0 : -1;
}

static void exec_server(int port, const char *const *extra)
{
    const char *argv[40] = {
        "redis-server", "--port", NULL,    "--bind", "127.0.0.1",  "--save", "",
        "--appendonly", "no",     "--dir", "/tmp",   "--loglevel", "warning"};
    char portstr[16];
    int n = 13, null = open("/dev/null", O_RDWR);

    snprintf(portstr, sizeof(portstr), "%d", port);
    argv[2] = portstr;
    for (int i = 0; extra && extra[i] && n < 39; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    /* Not the runner's pipes: a server left behind must not hold them. */
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    execvp("redis-server", (char *const *)argv);
    _exit(127);
}

pid_t redis_spawn(int port, const char *const *extra)
{
    pid_t pid = fork();

    if (pid == 0)
        exec_server(port, extra);
    if (pid < 0)
        return -1;
    if (wait_accepting(port) != 0) {
        redis_kill(pid);
        return -1;
    }
    return pid;
}

void redis_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* The port of db.sh's server (GT_TEST_REDIS_URL), or 0 when unset. */
static int shared_port(void)
{
    const char *url = getenv("GT_TEST_REDIS_URL");
    char port[16];

    if (!url || !*url)
        return 0;
    ck_assert_msg(gt_db_url_part(url, "port", port, sizeof(port)) > 0,
                  "GT_TEST_REDIS_URL=%s names no port", url);
    return atoi(port);
}

/* db.sh's redis-server when it runs one (make check does), otherwise one
 * of our own, so that the suite also runs alone. The cases that stop or
 * reconfigure a server spawn their own either way. */
void redis_fixture_start(void)
{
    redis_port = shared_port();
    if (redis_port > 0) {
        ck_assert_msg(wait_accepting(redis_port) == 0,
                      "no redis-server on port %d (GT_TEST_REDIS_URL; "
                      "scripts/db.sh start redis)",
                      redis_port);
        return;
    }
    redis_port = test_free_port();
    fixture_pid = redis_spawn(redis_port, NULL);
    ck_assert_msg(fixture_pid > 0,
                  "redis-server did not start on port %d (scripts/deps.sh "
                  "test installs it)",
                  redis_port);
}

void redis_fixture_stop(void)
{
    redis_kill(fixture_pid);
    fixture_pid = 0;
}

int redis_cmd_v(gt_redis *r, gt_redis_reply **out, int argc,
                const char *const *argv)
{
    return gt_redis_command(r, out, argc, argv, NULL, GT_NEVER);
}

const char *redis_say(gt_redis *r, int argc, const char *const *argv)
{
    static char said[256];
    gt_redis_reply *rp;
    int rc = redis_cmd_v(r, &rp, argc, argv);

    ck_assert_msg(rc == 0, "%s: %s (%s)", argv[0], gt_strerror(rc),
                  gt_redis_errmsg(r));
    if (gt_redis_reply_type(rp) == GT_REDIS_INTEGER)
        snprintf(said, sizeof(said), "%lld", gt_redis_reply_int(rp));
    else
        snprintf(said, sizeof(said), "%s", gt_redis_reply_str(rp, NULL));
    gt_redis_reply_free(rp);
    return said;
}

const char *redis_url_at(int port, const char *auth, const char *rest)
{
    static char buf[512];

    snprintf(buf, sizeof(buf), "redis://%s127.0.0.1:%d%s", auth, port, rest);
    return buf;
}

gt_pool *redis_pool_at(int port, const char *rest)
{
    char err[512];
    gt_pool *p = NULL;
    int rc = gt_pool_new(&p, gt_rt_self(), redis_url_at(port, "", rest), NULL,
                         err, sizeof(err));

    ck_assert_msg(rc == 0, "gt_pool_new: %s", err);
    keep_pool(p);
    return p;
}

gt_pool *redis_pool_new(const char *rest)
{
    return redis_pool_at(redis_port, rest);
}

gt_redis *redis_admin(void)
{
    gt_redis *r;
    int rc = gt_redis_open_url(&r, redis_url_at(redis_port, "", ""), GT_NEVER);

    ck_assert_msg(rc == 0, "admin: %s", gt_redis_errmsg(r));
    return r;
}

gt_pool_stats redis_pool_stats(gt_pool *p)
{
    gt_pool_stats st;

    gt_pool_get_stats(p, &st);
    return st;
}
