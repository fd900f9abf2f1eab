/* DNS lookups through c-ares, driven by the engine's loop. One resolver = one c-ares channel
 * bound to an explicit server list (never /etc/hosts, no search domains, no cache), so the answer
 * is what those servers said. */
#ifndef AZB_DNS_H
#define AZB_DNS_H

#include <stddef.h>

#include "probe/check.h"

struct engine;
struct dns_resolver;

struct dns_answer {
    enum outcome outcome; /* OUT_OK, OUT_NXDOMAIN, OUT_SERVFAIL, OUT_REFUSED_DNS, OUT_NODATA,
                             OUT_TIMEOUT, OUT_REFUSED (no DNS server listening), OUT_ERROR */
    int ares_status;
    char addrs[512];       /* "a, b, c" */
    char first_addr[64];   /* the address later probes connect to */
    char chain[1024];      /* "alias -> name (ttl 300s) -> ..." */
    char canonical[256];
    int ttl;               /* of the first address, -1 unknown */
    size_t naddrs;
    char error[128];       /* c-ares' own words, when not OK */
};

typedef void (*dns_done_cb)(void *arg, const struct dns_answer *answer);

/* servers: "ip:port,[ip6]:port". Returns NULL with a message in err on failure. */
struct dns_resolver *dns_resolver_new(struct engine *e, const char *servers_csv, long timeout_ms,
                                      char *err, size_t errlen);
void dns_resolver_free(struct dns_resolver *r);

/* Start an IPv4 lookup; cb runs exactly once (from the loop, or with ARES_EDESTRUCTION when the
 * resolver is freed first). Returns 0, or -1 on a local error. */
int dns_lookup(struct dns_resolver *r, const char *host, dns_done_cb cb, void *arg);

/* c-ares status -> outcome (pure). */
enum outcome dns_outcome(int ares_status);

#endif
