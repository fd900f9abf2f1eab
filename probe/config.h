/* The run's configuration, built once from argv by cli.c and read-only afterwards. */
#ifndef AZB_CONFIG_H
#define AZB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "resolvers/resolv_conf.h"

#define CFG_MAX_TARGETS 64
#define CFG_MAX_PORTS 16

enum report_format { FORMAT_TEXT, FORMAT_MARKDOWN, FORMAT_JSON };

struct config {
    char region[64];               /* empty: from IMDS */
    char cloud[32];                /* empty: from the region, IMDS, else AzureCloud */
    char *targets[CFG_MAX_TARGETS];  /* --target host names (owned) */
    size_t ntargets;
    char *accounts[CFG_MAX_TARGETS]; /* --storage-account names (owned) */
    size_t naccounts;
    struct dns_server dns[RESOLV_MAX_SERVERS];
    size_t ndns;
    char wireserver[64];           /* empty: default 168.63.129.16 */
    char imds[256];                /* base URL */
    char cacert[4096];
    long timeout_ms;
    int ports[CFG_MAX_PORTS];
    size_t nports;
    enum report_format format;
    char output[4096];
    char root[4096];               /* empty: / */
    char proxy[512];               /* --proxy URL (may hold credentials: never print it) */
    char no_proxy[512];            /* --no-proxy LIST */
    char interface[64];            /* --interface: for the live DHCP probe */
    char *nsg_files[16];           /* --nsg (owned) */
    size_t nnsg;
    char routes_file[4096];        /* --routes */
    char nic_file[4096];           /* --nic */
    char service_tags[4096];       /* --service-tags */
    bool arm;                      /* --arm: read the effective NSGs and routes from ARM */
    char arm_endpoint[256];        /* --arm-endpoint: "" = the cloud's management endpoint */
    bool no_dhcp;                  /* --no-dhcp */
    int verbose;
    bool quiet;
    bool list_regions;
    bool help;
    bool version;
    int parallel;                  /* concurrency cap */
};

#define DEFAULT_WIRESERVER "168.63.129.16"
#define DEFAULT_IMDS "http://169.254.169.254"

#endif
