/* bench/bench_client.c -- outbound HTTP calls per second and CPU per call:
 * greentor's client against plain libcurl, in one process, one run.
 *
 *   greentor   one worker, N coroutines, each looping gt_http_fetch()
 *   libcurl    N threads, each with its own easy handle looping
 *              curl_easy_perform()
 *
 * Both make CALLS calls in all (a shared counter hands them out), keep
 * their connections alive (N of them: the multi handle's cache for
 * greentor, one per easy handle for libcurl), speak HTTP/1.1, and check
 * every answer is a 200. The two alternate within each round (greentor
 * first in odd rounds, libcurl first in even ones), after one unrecorded
 * warm-up of each, so that a machine busy in one part of the run weighs on
 * both. CPU per call is utime+stime of this process (/proc/self/stat, all
 * threads) over the run, divided by the calls; the same is read for the
 * server's processes when SERVER_PIDS names them ("pid pid..."), so the
 * table also shows what the server spent per call.
 *
 * Usage: bench_client URL [N [CALLS [ROUNDS]]]   (defaults 16 20000 5)
 * Environment: BENCH_CA, a CA file for https:// URLs. Prints one line per
 * run and a Markdown row of medians; exits 1 if any call failed. With
 * BENCH_ONLY=greentor or libcurl it makes one run of that client alone,
 * no warm-up (for counting instructions under callgrind: the difference
 * between two call counts is the cost of the extra calls alone). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "greentor.h"
#include "greentor/client.h"

#define MAX_N 1024
#define MAX_ROUNDS 64
#define CALL_TIMEOUT_MS 10000

typedef struct job {
    const char *url, *ca;
    int n;
    long calls;
    atomic_long next;               /* calls handed out */
    atomic_long errors;             /* failed calls or non-200 answers */
    atomic_long conn_min, conn_max; /* nginx's connection numbers seen */
    char first_error[256];
} job;

typedef struct result {
    double calls_per_s, cpu_us, server_us;
    long conns; /* connections the run opened, from nginx's numbers */
} result;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime+stime of process 'pid' ("self" when 0), in seconds; 0 if gone. */
static double cpu_of(long pid)
{
    char path[64], buf[1024];
    unsigned long long ut, st;
    const char *p;
    FILE *f;
    size_t n;

    if (pid)
        snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/stat");
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the ')' of the name: state is field 3, utime 14. */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double server_cpu(void)
{
    const char *pids = getenv("SERVER_PIDS");
    double sum = 0;
    char *end;

    for (const char *p = pids ? pids : ""; *p; p = end) {
        long pid = strtol(p, &end, 10);

        if (end == p)
            break;
        sum += cpu_of(pid);
    }
    return sum;
}

/* nginx answers "... conn=<its connection number>": the numbers a run
 * saw tell how many connections it opened (keep-alive: about N). */
static void saw(job *j, const char *body)
{
    const char *p = strstr(body, "conn=");
    long c = p ? atol(p + 5) : 0, v;

    if (c <= 0)
        return;
    v = atomic_load(&j->conn_min);
    while ((v == 0 || c < v) &&
           !atomic_compare_exchange_weak(&j->conn_min, &v, c))
        ;
    v = atomic_load(&j->conn_max);
    while (c > v && !atomic_compare_exchange_weak(&j->conn_max, &v, c))
        ;
}

static void failed(job *j, const char *what)
{
    if (atomic_fetch_add(&j->errors, 1) == 0)
        snprintf(j->first_error, sizeof(j->first_error), "%s", what);
}

/* ---- greentor ------------------------------------------------------------ */

static int gt_caller(void *arg)
{
    job *j = arg;
    char err[GT_HTTP_ERRBUF_SIZE];
    gt_http_request rq = {.url = j->url,
                          .ca_file = j->ca,
                          .http_version = GT_HTTP_VERSION_1_1,
                          .errbuf = err};

    while (atomic_fetch_add(&j->next, 1) < j->calls) {
        gt_http_response *r;
        int rc = gt_http_fetch(&rq, &r, gt_deadline_in(CALL_TIMEOUT_MS));

        if (rc < 0)
            failed(j, err);
        else if (gt_http_response_status(r) != 200)
            failed(j, "greentor: status not 200");
        else
            saw(j, gt_http_response_body(r, NULL));
        gt_http_response_free(r);
    }
    return 0;
}

static int gt_run(void *arg)
{
    job *j = arg;
    gt_co *co[MAX_N];
    int n = 0;

    for (; n < j->n; n++)
        if (gt_co_spawn(&co[n], gt_caller, j) < 0) {
            failed(j, "greentor: spawn failed");
            break;
        }
    for (int i = 0; i < n; i++)
        gt_co_join(co[i], NULL, GT_NEVER);
    return 0;
}

/* ---- libcurl on threads -------------------------------------------------- */

/* Keep the body, as gt_http_fetch() does, in a buffer reused per call. */
typedef struct sink {
    char *buf;
    size_t len, cap;
} sink;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    sink *s = arg;
    size_t add = size * n;

    if (s->len + add > s->cap) {
        size_t cap = (s->len + add) * 2;
        char *b = realloc(s->buf, cap);

        if (!b)
            return 0;
        s->buf = b, s->cap = cap;
    }
    memcpy(s->buf + s->len, p, add);
    s->len += add;
    return add;
}

static void *curl_caller(void *arg)
{
    job *j = arg;
    char err[CURL_ERROR_SIZE] = "";
    CURL *e = curl_easy_init();
    sink s = {0};
    long code;

    if (!e) {
        failed(j, "curl_easy_init failed");
        return NULL;
    }
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)CALL_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
    if (j->ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, j->ca);
    while (atomic_fetch_add(&j->next, 1) < j->calls) {
        s.len = 0;
        if (curl_easy_perform(e) != CURLE_OK)
            failed(j, err);
        else if (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code) !=
                     CURLE_OK ||
                 code != 200 || on_data("", 1, 1, &s) != 1)
            failed(j, "libcurl: status not 200");
        else
            saw(j, s.buf);
    }
    curl_easy_cleanup(e);
    free(s.buf);
    return NULL;
}

static void curl_run(job *j)
{
    pthread_t th[MAX_N];
    int n = 0;

    for (; n < j->n; n++)
        if (pthread_create(&th[n], NULL, curl_caller, j) != 0) {
            failed(j, "pthread_create failed");
            break;
        }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

/* ---- runs ---------------------------------------------------------------- */

/* One run of CALLS calls by greentor (which 0) or libcurl (1). */
static result run(int which, const char *url, int n, long calls, long *errs)
{
    const char *ca = getenv("BENCH_CA");
    job j = {.url = url, .ca = ca && *ca ? ca : NULL, .n = n, .calls = calls};
    gt_rt_config cfg = {.workers = 1};
    double t0 = now_s(), c0 = cpu_of(0), s0 = server_cpu(), t;
    result r;

    if (which == 0)
        gt_rt_main(&cfg, gt_run, &j);
    else
        curl_run(&j);
    t = now_s() - t0;
    r.calls_per_s = (double)calls / t;
    r.cpu_us = (cpu_of(0) - c0) * 1e6 / (double)calls;
    r.server_us = (server_cpu() - s0) * 1e6 / (double)calls;
    r.conns = j.conn_max ? j.conn_max - j.conn_min + 1 : 0;
    if (j.errors) {
        fprintf(stderr, "%s: %ld of %ld calls failed; first: %s\n",
                which ? "libcurl" : "greentor", (long)j.errors, calls,
                j.first_error);
        *errs += j.errors;
    }
    return r;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"greentor", "libcurl"};
    const char *url = argc > 1 ? argv[1] : NULL, *only = getenv("BENCH_ONLY");
    int n = argc > 2 ? atoi(argv[2]) : 16;
    long calls = argc > 3 ? atol(argv[3]) : 20000, errs = 0;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    double rate[2][MAX_ROUNDS], cpu[2][MAX_ROUNDS], srv[2][MAX_ROUNDS];
    double rr[MAX_ROUNDS], cr[MAX_ROUNDS];

    if (!url || n < 1 || n > MAX_N || calls < n || rounds < 1 ||
        rounds > MAX_ROUNDS) {
        fprintf(stderr,
                "usage: bench_client URL [N<=%d [CALLS [ROUNDS<=%d]]]\n", MAX_N,
                MAX_ROUNDS);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (only) {
        int w = strcmp(only, "libcurl") == 0;
        result r = run(w, url, n, calls, &errs);

        printf("%s alone: %ld calls, %.0f calls/s, %ld connections\n", names[w],
               calls, r.calls_per_s, r.conns);
        curl_global_cleanup();
        return errs ? 1 : 0;
    }
    printf("# %s, N=%d, %ld calls a run, %d rounds\n", url, n, calls, rounds);
    for (int w = 0; w < 2; w++) /* warm-up, not recorded */
        run(w, url, n, calls / 10 > n ? calls / 10 : n, &errs);
    for (int i = 0; i < rounds; i++) {
        for (int k = 0; k < 2; k++) {
            int w = (i + k) % 2;
            result r = run(w, url, n, calls, &errs);

            rate[w][i] = r.calls_per_s, cpu[w][i] = r.cpu_us;
            srv[w][i] = r.server_us;
            printf("round %d %-8s %9.0f calls/s %7.2f us CPU/call, "
                   "server %6.2f us/call, %ld connections\n",
                   i + 1, names[w], r.calls_per_s, r.cpu_us, r.server_us,
                   r.conns);
        }
        rr[i] = rate[0][i] / rate[1][i];
        cr[i] = cpu[0][i] / cpu[1][i];
    }
    printf("| url | N | greentor calls/s | libcurl calls/s | ratio | greentor "
           "µs CPU/call | libcurl µs CPU/call | ratio | server µs/call "
           "g / c |\n");
    printf("| %s | %d | %.0f | %.0f | %.2fx | %.2f | %.2f | %.2fx | %.2f / "
           "%.2f |\n",
           url, n, median(rate[0], rounds), median(rate[1], rounds),
           median(rr, rounds), median(cpu[0], rounds), median(cpu[1], rounds),
           median(cr, rounds), median(srv[0], rounds), median(srv[1], rounds));
    /* median() left rr and cr sorted. */
    printf("# per-round ratios: calls/s %.2f-%.2fx, CPU/call %.2f-%.2fx\n",
           rr[0], rr[rounds - 1], cr[0], cr[rounds - 1]);
    curl_global_cleanup();
    return errs ? 1 : 0;
}
