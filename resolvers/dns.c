#include "resolvers/dns.h"

/* c-ares 1.18's ares.h needs these first under -std=c11. */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/engine.h"

struct dns_resolver {
    struct engine *engine;
    ares_channel channel;
};

struct lookup {
    dns_done_cb cb;
    void *arg;
};

enum outcome dns_outcome(int status)
{
    switch (status) {
    case ARES_SUCCESS: return OUT_OK;
    case ARES_ENOTFOUND: return OUT_NXDOMAIN;
    case ARES_ENODATA: return OUT_NODATA;
    case ARES_ESERVFAIL: return OUT_SERVFAIL;
    case ARES_EREFUSED: return OUT_REFUSED_DNS;
    case ARES_ETIMEOUT: return OUT_TIMEOUT;
    case ARES_ECONNREFUSED: return OUT_REFUSED; /* ICMP port unreachable: nothing listens */
    default: return OUT_ERROR;
    }
}

static void on_fd(void *arg, int fd, short revents)
{
    struct dns_resolver *r = arg;
    ares_socket_t rfd = (revents & (POLLIN | POLLERR | POLLHUP)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t wfd = (revents & POLLOUT) ? fd : ARES_SOCKET_BAD;
    ares_process_fd(r->channel, rfd, wfd);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct dns_resolver *r = data;
    short ev = (short)((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
    engine_watch(r->engine, fd, ev, on_fd, r);
}

static long source_timeout(void *ctx)
{
    struct dns_resolver *r = ctx;
    struct timeval tv;
    if (!ares_timeout(r->channel, NULL, &tv))
        return -1;
    return tv.tv_sec * 1000L + (tv.tv_usec + 999) / 1000;
}

static void source_expire(void *ctx)
{
    struct dns_resolver *r = ctx;
    ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

struct dns_resolver *dns_resolver_new(struct engine *e, const char *servers_csv, long timeout_ms,
                                      char *err, size_t errlen)
{
    struct dns_resolver *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->engine = e;
    struct ares_options o;
    memset(&o, 0, sizeof o);
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS |
               ARES_OPT_FLAGS | ARES_OPT_DOMAINS;
    o.sock_state_cb = on_sock_state;
    o.sock_state_cb_data = r;
    /* c-ares 1.18 doubles the timeout each try: t + 2t fits in one probe timeout. The engine
     * enforces the real deadline anyway (newer c-ares treats the value as a hint). */
    o.timeout = (int)(timeout_ms / 3 > 100 ? timeout_ms / 3 : 100);
    o.tries = 2;
    o.lookups = (char *)"b";                       /* DNS only, never /etc/hosts */
    o.flags = ARES_FLAG_NOCHECKRESP | ARES_FLAG_NOSEARCH; /* SERVFAIL/REFUSED told apart */
    o.ndomains = 0;                                /* no search list (1.18 ignores NOSEARCH) */
#ifdef ARES_OPT_QUERY_CACHE
    mask |= ARES_OPT_QUERY_CACHE;
    o.qcache_max_ttl = 0;                          /* a diagnostic must ask every time */
#endif
    int rc = ares_init_options(&r->channel, &o, mask);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "c-ares init: %s", ares_strerror(rc));
        free(r);
        return NULL;
    }
    rc = ares_set_servers_ports_csv(r->channel, servers_csv);
    if (rc != ARES_SUCCESS) {
        snprintf(err, errlen, "DNS servers '%s': %s", servers_csv, ares_strerror(rc));
        ares_destroy(r->channel);
        free(r);
        return NULL;
    }
    engine_add_source(e, (struct loop_source){source_timeout, source_expire, r});
    return r;
}

void dns_resolver_free(struct dns_resolver *r)
{
    if (!r)
        return;
    ares_destroy(r->channel);
    free(r);
}

static void append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    if (used < size)
        vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

static void fill_answer(struct dns_answer *a, const struct ares_addrinfo *res)
{
    /* 1.18 puts the queried name in res->name: the canonical name is the last CNAME target. */
    for (const struct ares_addrinfo_cname *c = res->cnames; c; c = c->next) {
        if (!a->chain[0])
            append(a->chain, sizeof a->chain, "%s", c->alias);
        append(a->chain, sizeof a->chain, " -> %s (ttl %ds)", c->name, c->ttl);
        snprintf(a->canonical, sizeof a->canonical, "%s", c->name);
    }
    for (const struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
        char ip[INET6_ADDRSTRLEN] = "";
        if (n->ai_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)n->ai_addr)->sin_addr, ip, sizeof ip);
        else if (n->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)n->ai_addr)->sin6_addr, ip, sizeof ip);
        if (!ip[0])
            continue;
        if (a->naddrs == 0) {
            snprintf(a->first_addr, sizeof a->first_addr, "%s", ip);
            a->ttl = n->ai_ttl;
        }
        append(a->addrs, sizeof a->addrs, a->naddrs ? ", %s" : "%s", ip);
        a->naddrs++;
    }
}

static void on_result(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct lookup *l = arg;
    struct dns_answer a;
    memset(&a, 0, sizeof a);
    a.ttl = -1;
    a.ares_status = status;
    a.outcome = dns_outcome(status);
    if (status == ARES_SUCCESS && res)
        fill_answer(&a, res);
    if (status == ARES_SUCCESS && a.naddrs == 0)
        a.outcome = OUT_NODATA;
    if (a.outcome != OUT_OK)
        snprintf(a.error, sizeof a.error, "%s", ares_strerror(status));
    if (res)
        ares_freeaddrinfo(res);
    l->cb(l->arg, &a);
    free(l);
}

int dns_lookup(struct dns_resolver *r, const char *host, dns_done_cb cb, void *arg)
{
    struct lookup *l = malloc(sizeof *l);
    if (!l)
        return -1;
    l->cb = cb;
    l->arg = arg;
    struct ares_addrinfo_hints hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_flags = ARES_AI_NOSORT | ARES_AI_CANONNAME;
    ares_getaddrinfo(r->channel, host, NULL, &hints, on_result, l);
    return 0;
}
