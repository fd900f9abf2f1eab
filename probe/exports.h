/* The Azure exports blame reads (--nsg, --routes, --nic, --service-tags), loaded once before the
 * probes run so that an unusable file stops the run at once (exit 2) with the file and JSON path. */
#ifndef AZB_EXPORTS_H
#define AZB_EXPORTS_H

#include <stdbool.h>
#include <stddef.h>

#include "probe/config.h"
#include "probe/diag/nsg.h"
#include "probe/diag/route_eval.h"
#include "probe/diag/servicetags.h"

struct exports {
    struct nsg_set *nsg;          /* NULL without --nsg */
    struct eroute_table routes;
    bool have_routes;
    struct nic_info nic;
    bool have_nic;
    struct servicetags *tags;     /* --service-tags, else the built-in snapshot of the run's cloud */
    bool live_arm;                /* --arm: the NSGs and routes came from ARM, not from files */
    char inputs[1024];            /* "file: shape (counts); ..." for the report */
};

/* Load every export the command line names. Returns 0, or 2 with a message naming the file and
 * JSON path in err. */
int exports_load(const struct config *cfg, struct exports *x, char *err, size_t errlen);
/* The service tags to use for cloud (loads the built-in snapshot on first use). NULL if none. */
const struct servicetags *exports_tags(struct exports *x, const char *cloud);
void exports_free(struct exports *x);

#endif
