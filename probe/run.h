/* The state of one run: configuration, what discovery learned (facts), the checks, and the
 * engine with its library adapters. Probes get a pointer to it; renderers only read it. */
#ifndef AZB_RUN_H
#define AZB_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "probe/check.h"
#include "probe/config.h"
#include "probe/imds.h"

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
    void **owned;          /* probe contexts, freed at the end */
    size_t nowned, capowned;
};

/* Remember a probe context to free at the end of the run. */
void run_own(struct run *r, void *p);
/* With --verbose, one line on stderr as a check gets its result. */
void run_progress(const struct run *r, const struct check *c);

#endif
