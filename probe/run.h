/* The state of one run: configuration, what discovery learned (facts), the checks, and the
 * engine with its library adapters. Probes get a pointer to it; renderers only read it. */
#ifndef AZB_RUN_H
#define AZB_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "probe/check.h"
#include "probe/config.h"
#include "probe/diag/guestfw.h"
#include "probe/exports.h"
#include "probe/imds.h"
#include "probe/proxy.h"

struct engine;
struct http_client;
struct dns_resolver;

struct facts {
    char region[64], region_source[32];
    char cloud[32], cloud_source[32];
    char wireserver[64], wireserver_source[32];
    char resolvers[256], resolvers_source[300];
    char first_resolver[64];   /* address of the first system resolver */
    bool resolv_stub;
    bool imds_ok;
    struct imds_info imds;
    long clock_skew_s;     /* Azure's Date minus ours */
    bool have_clock;
    char clock_from[64];
};

/* Which network path one consumer takes to one storage endpoint, and whether it works. */
struct consumer_path {
    char target[256];
    int port;
    enum consumer consumer;
    char path[300];        /* "direct" or "proxy http://host:port" (no password) */
    char decided_by[256];
    size_t first_check;    /* the path's net.tcp check; net.tls and net.https follow */
    enum status status;    /* set by grading */
    char summary[256];
};

struct run {
    const struct config *cfg;
    struct facts facts;
    struct check_list checks;
    struct engine *engine;
    struct http_client *http;
    struct dns_resolver *dns_system, *dns_azure;
    char dns_system_error[256];
    size_t imds_job;       /* (size_t)-1 when IMDS is not probed */
    int64_t started_ms;
    long duration_ms;
    char started_utc[32];
    char hostname[128];
    struct proxy_config proxy;
    struct exports exports;   /* --nsg, --routes, --nic, --service-tags */
    struct guestfw guestfw;   /* the guest's own output rules, read when a network check failed */
    bool guestfw_read;
    char guestfw_note[256];
    struct consumer_path *consumers;
    size_t nconsumers, capconsumers;
    void **owned;          /* probe contexts, freed at the end */
    size_t nowned, capowned;
};

/* Remember a probe context to free at the end of the run. */
void run_own(struct run *r, void *p);
/* Append a consumer path; returns it, or NULL when out of memory. */
struct consumer_path *run_add_consumer(struct run *r);
/* With --verbose, one line on stderr as a check gets its result. */
void run_progress(const struct run *r, const struct check *c);

#endif
