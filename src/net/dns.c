/* net/dns.c -- gt_net_resolve(): getaddrinfo() on the runtime's DNS pool.
 *
 * Why a pool of its own and a detached call: getaddrinfo() cannot be
 * interrupted, and when a name server does not answer it blocks for the
 * resolver's timeout times its attempts (10 s with glibc's defaults). On
 * a shared pool a handful of such lookups would stall every other
 * blocking call; waiting for them would hold the caller past its
 * deadline. So lookups run on the DNS pool (gt_run_detached(), runtime.h), and
 * a caller whose deadline passes leaves; the lookup, its host name and its
 * answer live on the heap and are freed by the pool thread when it returns. See
 * net.h for why getaddrinfo() and not c-ares. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

typedef struct lookup {
    char *host;
    char port[8];
    struct addrinfo *res;
    int gai;       /* getaddrinfo()'s result */
    int sys_errno; /* errno when gai is EAI_SYSTEM */
} lookup;

static const struct addrinfo tcp_hints = {.ai_family = AF_UNSPEC,
                                          .ai_socktype = SOCK_STREAM,
                                          .ai_protocol = IPPROTO_TCP};

/* On a pool thread: the blocking part. */
static int lookup_run(void *p)
{
    lookup *l = p;

    l->gai = getaddrinfo(l->host, l->port, &tcp_hints, &l->res);
    l->sys_errno = l->gai == EAI_SYSTEM ? errno : 0;
    return 0;
}

static void lookup_free(void *p)
{
    lookup *l = p;

    if (l->res)
        freeaddrinfo(l->res);
    free(l->host);
    free(l);
}

/* getaddrinfo()'s codes as libuv spells them (what the HTTP client
 * reports), or -errno where one fits. */
static int map_gai(int gai, int sys_errno)
{
    switch (gai) {
    case 0:
        return 0;
    case EAI_NONAME:
        return UV_EAI_NONAME;
    case EAI_NODATA:
    case EAI_ADDRFAMILY:
        return UV_EAI_NODATA;
    case EAI_AGAIN:
        return UV_EAI_AGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_SYSTEM:
        return sys_errno ? -sys_errno : UV_EAI_FAIL;
    default:
        return UV_EAI_FAIL;
    }
}

/* An address literal, converted without a lookup: 0, or UV_EAI_NONAME
 * when 'host' is not one. */
static int literal(const char *host, const char *port, struct addrinfo **out)
{
    struct addrinfo hints = tcp_hints;

    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    return map_gai(getaddrinfo(host, port, &hints, out), 0);
}

int gt_net_resolve(const char *host, int port, struct addrinfo **out,
                   int64_t deadline)
{
    char serv[8];
    lookup *l;
    int rc, ignored;

    *out = NULL;
    if (!host || !*host || port < 0 || port > 65535 || !gt_co_self())
        return -EINVAL;
    snprintf(serv, sizeof(serv), "%d", port);
    rc = literal(host, serv, out);
    if (rc != UV_EAI_NONAME)
        return rc;
    l = gt_calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->host = gt_strdup(host);
    if (!l->host) {
        free(l);
        return -ENOMEM;
    }
    memcpy(l->port, serv, sizeof(serv));
    rc = gt_run_detached(GT_THREADS_DNS, lookup_run, l, lookup_free, deadline,
                         &ignored);
    if (rc < 0)
        return rc; /* l is the pool's (or freed) */
    rc = map_gai(l->gai, l->sys_errno);
    if (rc == 0) {
        *out = l->res;
        l->res = NULL;
    }
    lookup_free(l);
    return rc;
}
