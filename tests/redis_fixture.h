/* tests/redis_fixture.h -- Debian's redis-server, started by the tests on
 * a free loopback port without persistence, and what the Redis test files
 * share. */
#ifndef GT_TESTS_REDIS_FIXTURE_H
#define GT_TESTS_REDIS_FIXTURE_H

#include <sys/types.h>

#include "greentor/pool.h"
#include "greentor/redis.h"

/* The port of the test case's server (redis_fixture_start()). */
extern int redis_port;

/* An unchecked fixture: start a server for the test case on a free port
 * (fails the case if redis-server cannot start), and stop it. */
void redis_fixture_start(void);
void redis_fixture_stop(void);

/* Start redis-server on 'port' with the arguments 'extra' (NULL-ended, or
 * NULL) after the usual ones, and wait until it accepts connections
 * (bounded). The server dies with the thread that started it, so a failed
 * test leaves none behind. Returns its pid, or -1. */
pid_t redis_spawn(int port, const char *const *extra);
/* SIGTERM 'pid' and wait for it. */
void redis_kill(pid_t pid);

/* "redis://<auth>127.0.0.1:<port><rest>" in a static buffer. */
const char *redis_url_at(int port, const char *auth, const char *rest);
/* A pool of the calling runtime for redis_url_at(port, "", rest), freed
 * by run_pool_test() (pool_fixture.h); the test case's server for
 * redis_pool_new(). Fail the test when refused. */
gt_pool *redis_pool_at(int port, const char *rest);
gt_pool *redis_pool_new(const char *rest);
/* A connection of the test's own to the test case's server. */
gt_redis *redis_admin(void);
/* The pool's statistics, by value. */
gt_pool_stats redis_pool_stats(gt_pool *p);

/* Run a command given as words on 'r' (NUL-terminated arguments, no
 * deadline): fetch's code, the reply in *out. */
int redis_cmd_v(gt_redis *r, gt_redis_reply **out, int argc,
                const char *const *argv);
#define REDIS_CMD(r, out, ...)                                                 \
    redis_cmd_v((r), (out),                                                    \
                (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)), \
                (const char *[]){__VA_ARGS__})

/* The reply's text of a command expected to succeed (fails the test
 * otherwise), copied into a static buffer; "" for non-string replies,
 * the number for an INTEGER. */
const char *redis_say(gt_redis *r, int argc, const char *const *argv);
#define REDIS_SAY(r, ...)                                                      \
    redis_say((r),                                                             \
              (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(char *)),   \
              (const char *[]){__VA_ARGS__})

#endif
