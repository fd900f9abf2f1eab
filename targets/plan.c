#include "targets/plan.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "probe/probes.h"
#include "targets/catalog.h"
#include "targets/goalstate.h"

#define GOALSTATE_TARGETS 3 /* the status blob and two manifest hosts are enough */

static void set_fact(char *dst, size_t size, char *src_dst, size_t src_size, const char *value,
                     const char *source)
{
    snprintf(dst, size, "%s", value);
    snprintf(src_dst, src_size, "%s", source);
}
#define SET_FACT(f, v, s) set_fact(f, sizeof f, f##_source, sizeof f##_source, v, s)

void plan_resolve_location(struct run *r)
{
    const struct config *cfg = r->cfg;
    struct facts *f = &r->facts;
    if (cfg->region[0]) {
        SET_FACT(f->region, cfg->region, "--region");
        if (!cfg->cloud[0])
            SET_FACT(f->cloud, catalog_region(cfg->region)->cloud, "region catalog");
    }
    if (cfg->cloud[0])
        SET_FACT(f->cloud, cfg->cloud, "--cloud");
}

/* The same proxy with the same credentials (the agent drops them where curl sends them). */
static bool same_proxy(const struct proxy_path *a, const struct proxy_path *b)
{
    const struct proxy_url *x = &a->proxy, *y = &b->proxy;
    return !a->direct && !b->direct && strcmp(x->scheme, y->scheme) == 0 && strcasecmp(x->host, y->host) == 0 &&
           x->port == y->port && x->has_credentials == y->has_credentials &&
           (!x->has_credentials || (strcmp(x->user, y->user) == 0 && strcmp(x->password, y->password) == 0));
}

/* One endpoint on one port: the direct path always, then the path of each consumer, each
 * distinct path probed once. */
static void plan_paths(struct run *r, const char *host, int port, size_t sys, size_t az, const char *source)
{
    size_t direct = probe_net_add(r, host, port, sys, az, source, NULL);
    struct proxy_path paths[CONSUMER_COUNT];
    size_t first[CONSUMER_COUNT];
    for (int c = 0; c < CONSUMER_COUNT; c++) {
        proxy_decide(&r->proxy, (enum consumer)c, host, true, &paths[c]);
        char label[300];
        probe_path_label(&paths[c], label, sizeof label);
        first[c] = direct;
        for (int k = 0; k < c && !paths[c].direct; k++) /* the same proxy, as another consumer uses it */
            if (first[k] != direct && same_proxy(&paths[k], &paths[c]))
                first[c] = first[k];
        if (!paths[c].direct && first[c] == direct)
            first[c] = probe_net_add(r, host, port, sys, az, source, &paths[c]);
        struct consumer_path *cp = run_add_consumer(r);
        if (!cp || first[c] == (size_t)-1)
            continue;
        snprintf(cp->target, sizeof cp->target, "%s", host);
        cp->port = port;
        cp->consumer = (enum consumer)c;
        snprintf(cp->path, sizeof cp->path, "%s", label);
        snprintf(cp->decided_by, sizeof cp->decided_by, "%s", paths[c].why);
        cp->first_check = first[c];
    }
}

static void plan_storage(struct run *r, const char *host, const char *source)
{
    if (checks_find(&r->checks, "dns.system", host, -1))
        return;
    size_t sys = probe_dns_add(r, host, false);
    size_t az = probe_dns_add(r, host, true);
    if (sys == (size_t)-1 || az == (size_t)-1)
        return;
    for (size_t i = 0; i < r->cfg->nports; i++)
        plan_paths(r, host, r->cfg->ports[i], sys, az, source);
}

/* Targets that need the cloud's storage suffix: --storage-account names, and the blob hosts in
 * the guest agent's goal state (the status blob this VM writes, extension manifests). */
static void plan_cloud_targets(struct run *r)
{
    const struct cloud *c = catalog_cloud(r->facts.cloud);
    if (!c)
        return;
    for (size_t i = 0; i < r->cfg->naccounts; i++) {
        char host[256];
        snprintf(host, sizeof host, "%s.blob.%s", r->cfg->accounts[i], c->storage_suffix);
        plan_storage(r, host, "--storage-account");
    }
    struct goalstate_hosts gs;
    goalstate_find(r->cfg->root, c->storage_suffix, &gs, GOALSTATE_TARGETS);
    for (size_t i = 0; i < gs.count; i++) {
        char source[600];
        snprintf(source, sizeof source, "agent goal state, %s (%s)", gs.purpose[i], gs.file);
        plan_storage(r, gs.host[i], source);
    }
}

void plan_build(struct run *r)
{
    probe_host_add(r, HOST_WIRESERVER);
    probe_host_add(r, HOST_HOSTGAPLUGIN);
    r->imds_job = probe_host_add(r, HOST_IMDS);
    probe_dhcp_live(r);
    char imds_host[256];
    snprintf(imds_host, sizeof imds_host, "%.*s", (int)strcspn(r->cfg->imds + 7, ":/"), r->cfg->imds + 7);
    probe_routes(r, imds_host);
    probe_proxy_config(r);
    probe_proxy_platform(r, r->facts.wireserver, imds_host);
    for (size_t i = 0; i < r->cfg->ntargets; i++)
        plan_storage(r, r->cfg->targets[i], "--target");
    if (r->facts.cloud[0])
        plan_cloud_targets(r);
}

void plan_after_imds(struct run *r)
{
    struct facts *f = &r->facts;
    bool cloud_was_unknown = !f->cloud[0];
    if (f->imds_ok) {
        const struct region *reg = catalog_region(f->imds.location);
        const struct cloud *c = catalog_cloud(f->imds.az_environment);
        if (!f->region[0] && reg)
            SET_FACT(f->region, reg->name, "IMDS compute.location");
        if (!f->cloud[0] && c)
            SET_FACT(f->cloud, c->name, "IMDS compute.azEnvironment");
        if (!f->cloud[0] && reg)
            SET_FACT(f->cloud, reg->cloud, "region catalog");
    }
    if (!f->cloud[0])
        SET_FACT(f->cloud, "AzureCloud", "default");
    if (cloud_was_unknown)
        plan_cloud_targets(r);
    for (size_t i = 0; f->imds_ok && i < f->imds.nvhd_hosts; i++)
        plan_storage(r, f->imds.vhd_hosts[i], "IMDS storageProfile (unmanaged disk)");
}
