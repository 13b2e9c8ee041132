/* pool/log.c -- connect failures in the log, once per change of state.
 *
 * The pool counted failed connects but never said why, so an operator saw
 * 503s and a counter and had to guess. Logging every failure is no better:
 * during an outage every probe fails, on every worker. So the log follows
 * the database's state as the pool sees it: the first failure after a
 * success (or after start) is one line with the database's own message,
 * and the first success after failures is one line saying how long it was
 * down and how many attempts failed. A connect abandoned because its
 * request was cancelled (-ECANCELED: the client left) or for want of
 * memory says nothing about the database and changes nothing here.
 *
 * The state is two atomics in the pool; any worker may report, and an
 * exchange picks the one that logs. The URL is shown redacted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "greentor/db.h"
#include "pool.h"

/* The message without libpq's trailing newline, cut to fit. */
static void one_line(char *out, size_t cap, const char *msg)
{
    size_t n;

    snprintf(out, cap, "%s", msg);
    n = strlen(out);
    while (n > 0 &&
           (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    for (char *s = out; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

void gt__pool_log_connect(gt_pool *p, int rc, const char *msg)
{
    char url[256], line[512];
    int64_t now = gt_now();

    if (rc == -ECANCELED || rc == -ENOMEM)
        return;
    if (rc == 0) {
        if (!atomic_exchange(&p->log_down, false))
            return;
        gt_db_url_redact(p->url, url, sizeof(url));
        fprintf(stderr,
                "greentor: pool: connected to %s again, after %d "
                "failed attempts in %lld ms\n",
                url, atomic_exchange(&p->log_failures, 0),
                (long long)(now - atomic_load(&p->log_down_since)));
        return;
    }
    atomic_fetch_add(&p->log_failures, 1);
    if (atomic_exchange(&p->log_down, true))
        return;
    atomic_store(&p->log_down_since, now);
    one_line(line, sizeof(line), msg && msg[0] ? msg : gt_strerror(rc));
    gt_db_url_redact(p->url, url, sizeof(url));
    fprintf(stderr,
            "greentor: pool: cannot connect to %s: %s (retrying "
            "with back-off; logged again once connected)\n",
            url, line);
}
