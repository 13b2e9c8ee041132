/* examples/showcase -- the greentor showcase server: the TechEmpower-style
 * endpoints, one handler each, served by every worker.
 *
 *   GET /           a short HTML page linking the others
 *   GET /plaintext  "Hello, World!" as text/plain
 *   GET /json       {"message":"Hello, World!"}, serialized per request
 *                   (tfb_json.c)
 *   GET /db /queries /fortunes /updates /cached-queries /metrics
 *                   the database test types (world.c)
 *
 * Configuration comes from the environment and from flags, flags winning:
 *
 *   PORT=8080 WORKERS=<cpus> DATABASE_URL=<url> ./showcase [--port N]
 *       [--workers N] [--database-url URL] [--access-log] [--help]
 *
 * With TLS_CERT (a PEM certificate chain) and TLS_KEY (its key) set, the
 * port serves HTTPS instead, and SIGHUP reloads the two files.
 *
 * The database is checked (and an SQLite one created and seeded) before
 * the server accepts anything; a database it cannot open is a message and
 * exit code 2. SIGINT or SIGTERM stops it gracefully (in-flight requests
 * finish) and it exits 0. Bad values print a message and exit 2. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greentor.h"
#include "health.h"
#include "tfb_json.h"
#include "world.h"

/* ---- handlers ------------------------------------------------------------ */

static const char hello[] = "Hello, World!";

static int handle_plaintext(gt_http_req *req, gt_http_res *res, void *arg)
{
    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", "text/plain");
    gt_http_res_body_static(res, hello, sizeof(hello) - 1);
    return 0;
}

/* Serialized per request, as the test type requires, but by the small
 * writer of tfb_json.c instead of a jansson tree (issue 15). */
static int handle_json(gt_http_req *req, gt_http_res *res, void *arg)
{
    char buf[64];

    (void)req, (void)arg;
    return tfb_json_send(res, buf, tfb_json_message(buf, sizeof(buf), hello));
}

static int handle_index(gt_http_req *req, gt_http_res *res, void *arg)
{
    static const char page[] =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        "<title>greentor</title></head>\n<body><h1>greentor showcase</h1>\n"
        "<p>A C runtime: every request in its own coroutine, database "
        "calls that yield, a connection per request from the pool.</p>\n"
        "<ul>\n<li><a href=\"/plaintext\">/plaintext</a></li>\n"
        "<li><a href=\"/json\">/json</a></li>\n"
        "<li><a href=\"/db\">/db</a></li>\n"
        "<li><a href=\"/queries?queries=20\">/queries?queries=20</a></li>\n"
        "<li><a href=\"/fortunes\">/fortunes</a></li>\n"
        "<li><a href=\"/updates?queries=20\">/updates?queries=20</a></li>\n"
        "<li><a href=\"/cached-queries?count=20\">/cached-queries?count=20"
        "</a></li>\n<li><a href=\"/metrics\">/metrics</a> (pool "
        "statistics)</li>\n</ul>\n</body></html>\n";

    (void)req, (void)arg;
    gt_http_res_header(res, "Content-Type", "text/html; charset=utf-8");
    gt_http_res_body_static(res, page, sizeof(page) - 1);
    return 0;
}

static const struct route {
    const char *method;
    const char *pattern;
    gt_http_handler fn;
} routes[] = {
    {"GET", "/", handle_index},
    {"GET", "/plaintext", handle_plaintext},
    {"GET", "/json", handle_json},
};

/* ---- configuration ------------------------------------------------------- */

typedef struct options {
    int port;
    int workers; /* 0: one per CPU */
    int access_log;
    int handler_timeout_ms; /* 0: the server's default */
    const char *database_url;
    const char *tls_cert, *tls_key; /* NULL: plaintext HTTP */
} options;

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--port N] [--workers N] [--database-url URL]\n"
            "          [--handler-timeout-ms N] [--access-log] [--help]\n"
            "  --port N      TCP port, 1-65535 (env PORT; default 8080)\n"
            "  --workers N   worker threads, 1-1024 (env WORKERS; default: "
            "one per CPU)\n"
            "  --database-url URL  (env DATABASE_URL; default %s)\n"
            "                postgres://user:pass@host:port/db?opts,\n"
            "                mysql://..., sqlite:path or sqlite::memory:;\n"
            "                pool options in the query string: max_open,\n"
            "                min_idle, max_idle, acquire_timeout_ms,\n"
            "                max_lifetime_ms, idle_timeout_ms,\n"
            "                validate_idle_ms, leak_threshold_ms,\n"
            "                reset_on_release, backoff_max_ms; and\n"
            "                init=<SQL, percent-encoded> (repeatable),\n"
            "                run on every new connection\n"
            "  --handler-timeout-ms N  a request's deadline, 1-3600000 ms\n"
            "                (env HANDLER_TIMEOUT_MS; default 30000): past\n"
            "                it the request is answered 504\n"
            "  --access-log  log a line per request to stderr\n"
            "  env TLS_CERT, TLS_KEY  PEM certificate chain and key files:\n"
            "                serve HTTPS (SIGHUP reloads them)\n"
            "  --help        show this and exit\n",
            prog, WORLD_DEFAULT_URL);
}

/* Parse a whole decimal number in [lo, hi]; -1 if it is not one. */
static long parse_num(const char *s, long lo, long hi)
{
    char *end;
    long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    return v;
}

static int set_num(int *dst, const char *what, const char *s, long lo, long hi)
{
    long v = parse_num(s, lo, hi);

    if (v < 0) {
        fprintf(stderr, "showcase: bad %s '%s' (expected %ld-%ld)\n", what,
                s ? s : "", lo, hi);
        return -1;
    }
    *dst = (int)v;
    return 0;
}

/* The value of option argv[*i], which must follow it: advances *i past
 * it, or says what is missing and returns NULL. */
static const char *value_of(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "showcase: %s needs a value\n", argv[*i]);
        usage(stderr, argv[0]);
        return NULL;
    }
    return argv[++*i];
}

/* Returns 0 to run, 1 to exit 0 (--help), -1 to exit 2. */
static int parse_options(options *o, int argc, char **argv)
{
    const char *env, *v;

    *o = (options){.port = 8080, .database_url = WORLD_DEFAULT_URL};
    if ((env = getenv("DATABASE_URL")) && *env)
        o->database_url = env;
    if ((env = getenv("TLS_CERT")) && *env)
        o->tls_cert = env;
    if ((env = getenv("TLS_KEY")) && *env)
        o->tls_key = env;
    if ((env = getenv("PORT")) && set_num(&o->port, "PORT", env, 1, 65535))
        return -1;
    if ((env = getenv("WORKERS")) &&
        set_num(&o->workers, "WORKERS", env, 1, 1024))
        return -1;
    if ((env = getenv("HANDLER_TIMEOUT_MS")) &&
        set_num(&o->handler_timeout_ms, "HANDLER_TIMEOUT_MS", env, 1, 3600000))
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout, argv[0]);
            return 1;
        } else if (strcmp(a, "--access-log") == 0) {
            o->access_log = 1;
        } else if (strcmp(a, "--port") == 0) {
            if (!(v = value_of(argc, argv, &i)) ||
                set_num(&o->port, "--port", v, 1, 65535))
                return -1;
        } else if (strcmp(a, "--database-url") == 0) {
            if (!(v = value_of(argc, argv, &i)))
                return -1;
            o->database_url = v;
        } else if (strcmp(a, "--handler-timeout-ms") == 0) {
            if (!(v = value_of(argc, argv, &i)) ||
                set_num(&o->handler_timeout_ms, "--handler-timeout-ms", v, 1,
                        3600000))
                return -1;
        } else if (strcmp(a, "--workers") == 0) {
            if (!(v = value_of(argc, argv, &i)) ||
                set_num(&o->workers, "--workers", v, 1, 1024))
                return -1;
        } else {
            fprintf(stderr, "showcase: unknown argument '%s'\n", a);
            usage(stderr, argv[0]);
            return -1;
        }
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------- */

static int add_routes(gt_http_router *r)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof(routes) / sizeof(routes[0]); i++)
        rc = gt_http_router_add(r, routes[i].method, routes[i].pattern,
                                routes[i].fn, NULL);
    return rc < 0 ? rc : health_setup(r);
}

/* What the start-up coroutine needs, and what it reports back. */
typedef struct startup {
    const options *o;
    gt_http_router *router;
    gt_http_server *srv;
    int exit_code;
} startup;

/* Runs on worker 0 before anything is served: the database must answer
 * (and an SQLite one is created and seeded) before the port opens. */
static int start(void *arg)
{
    startup *st = arg;
    gt_http_config hcfg = {.port = st->o->port,
                           .access_log = st->o->access_log,
                           .handler_timeout_ms = st->o->handler_timeout_ms,
                           .tls_cert_file = st->o->tls_cert,
                           .tls_key_file = st->o->tls_key};
    char err[512], shown[512];
    int rc = world_start(err, sizeof(err));

    if (rc < 0) {
        fprintf(stderr, "showcase: %s\n", err);
        st->exit_code = 2;
        gt_rt_stop(gt_rt_self());
        return rc;
    }
    rc = gt_http_server_open(&st->srv, gt_rt_self(), &hcfg,
                             gt_http_router_dispatch, st->router);
    if (rc == 0)
        rc = gt_http_server_stop_on_signals(st->srv);
    if (rc == 0)
        health_serve(st->srv);
    if (rc < 0) {
        fprintf(stderr, "showcase: cannot serve on port %d: %s\n", st->o->port,
                gt_strerror(rc));
        st->exit_code = 1;
        gt_rt_stop(gt_rt_self());
        return rc;
    }
    /* Never the password: start-up lines end up in logs. */
    gt_db_url_redact(st->o->database_url, shown, sizeof(shown));
    printf("showcase: listening on port %d%s with %d workers, database %s\n",
           gt_http_server_port(st->srv), st->o->tls_cert ? " (https)" : "",
           gt_rt_workers(gt_rt_self()), shown);
    fflush(stdout);
    return 0;
}

static int serve(const options *o, gt_http_router *router)
{
    gt_rt_config rcfg = {.workers = o->workers};
    startup st = {o, router, NULL, 0};
    char err[512];
    gt_rt *rt;
    int rc = gt_rt_new(&rt, &rcfg);

    if (rc < 0)
        return 1;
    rc = world_setup(rt, router, o->database_url, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "showcase: bad DATABASE_URL: %s\n", err);
        st.exit_code = 2;
    } else if (gt_rt_post(rt, 0, start, &st) == 0) {
        gt_rt_run(rt);
    }
    gt_http_server_close(st.srv);
    gt_rt_free(rt);
    world_teardown();
    return st.exit_code;
}

int main(int argc, char **argv)
{
    gt_http_router *router;
    options o;
    int rc = parse_options(&o, argc, argv);

    if (rc != 0)
        return rc > 0 ? 0 : 2;
    rc = gt_http_router_new(&router);
    if (rc == 0)
        rc = add_routes(router);
    if (rc < 0) {
        fprintf(stderr, "showcase: %s\n", gt_strerror(rc));
        gt_http_router_free(router);
        return 1;
    }
    rc = serve(&o, router);
    gt_http_router_free(router);
    return rc;
}
