/* azbprobe: init, configuration, plan, engine, grading, report, exit code. Nothing else. */
#include <sys/select.h>
#include <sys/time.h>

#include <ares.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#include "probe/arm.h"
#include "probe/blame.h"
#include "probe/cli.h"
#include "probe/engine.h"
#include "probe/grade.h"
#include "probe/guest.h"
#include "probe/http.h"
#include "probe/probes.h"
#include "probe/render/render.h"
#include "probe/run.h"
#include "probe/sysfile.h"
#include "resolvers/dns.h"
#include "targets/catalog.h"
#include "targets/plan.h"

enum { EXIT_USAGE = 2, EXIT_INTERNAL = 3 };

static void on_sigint(int sig)
{
    (void)sig;
    engine_stop();
}

/* The VM's resolvers: --dns-server, else resolv.conf under --root. */
static void system_resolvers(struct run *r, char *csv, size_t size)
{
    const struct config *cfg = r->cfg;
    struct facts *f = &r->facts;
    struct resolv_conf rc;
    memset(&rc, 0, sizeof rc);
    if (cfg->ndns) {
        memcpy(rc.servers, cfg->dns, sizeof rc.servers);
        rc.count = cfg->ndns;
        snprintf(f->resolvers_source, sizeof f->resolvers_source, "--dns-server");
    } else {
        char path[4200];
        size_t len = 0;
        sysfile_path(cfg->root, "/etc/resolv.conf", path, sizeof path);
        char *text = sysfile_read_abs(path, 1 << 20, &len);
        if (!text) {
            snprintf(r->dns_system_error, sizeof r->dns_system_error, "cannot read %.200s: %s", path, strerror(errno));
            snprintf(f->resolvers_source, sizeof f->resolvers_source, "%.200s (unreadable)", path);
            return;
        }
        resolv_conf_parse(text, len, &rc);
        free(text);
        f->resolv_stub = rc.stub;
        snprintf(f->resolvers_source, sizeof f->resolvers_source, "%.200s%s", path,
                 rc.stub ? " (local stub resolver)" : "");
        if (rc.count == 0) {
            snprintf(r->dns_system_error, sizeof r->dns_system_error, "no nameserver line in %.200s", path);
            return;
        }
    }
    dns_servers_csv(rc.servers, rc.count, csv, size);
    snprintf(f->first_resolver, sizeof f->first_resolver, "%s", rc.servers[0].addr);
    snprintf(f->resolvers, sizeof f->resolvers, "%s", csv);
}

static int setup(struct run *r, char *err, size_t errlen)
{
    const struct config *cfg = r->cfg;
    struct facts *f = &r->facts;
    snprintf(f->wireserver, sizeof f->wireserver, "%s", cfg->wireserver[0] ? cfg->wireserver : DEFAULT_WIRESERVER);
    snprintf(f->wireserver_source, sizeof f->wireserver_source, "%s", cfg->wireserver[0] ? "--wireserver" : "default");
    r->engine = engine_new(cfg->timeout_ms, cfg->parallel);
    if (!r->engine) {
        snprintf(err, errlen, "out of memory");
        return EXIT_INTERNAL;
    }
    r->http = http_client_new(r->engine, cfg->cacert, cfg->verbose, err, errlen);
    if (!r->http)
        return cfg->cacert[0] ? EXIT_USAGE : EXIT_INTERNAL;
    int rc = exports_load(cfg, &r->exports, err, errlen);
    if (rc)
        return rc;
    probe_dhcp_lease(r); /* a lease's option 245 is the WireServer (and Azure DNS) address to start with */
    char csv[600] = "", azure[80];
    system_resolvers(r, csv, sizeof csv);
    if (csv[0]) {
        r->dns_system = dns_resolver_new(r->engine, csv, cfg->timeout_ms, r->dns_system_error,
                                         sizeof r->dns_system_error);
    }
    snprintf(azure, sizeof azure, "%s:53", f->wireserver);
    char azerr[256];
    r->dns_azure = dns_resolver_new(r->engine, azure, cfg->timeout_ms, azerr, sizeof azerr);
    if (!r->dns_azure) {
        snprintf(err, errlen, "Azure DNS resolver: %s", azerr);
        return EXIT_INTERNAL;
    }
    return 0;
}

/* Every proxy the consumers would use (all under --root), plus --proxy for the generic client. */
static void discover_proxies(struct run *r)
{
    proxy_discover(r->cfg->root, environ, &r->proxy);
    if (r->cfg->proxy[0]) {
        char err[160];
        r->proxy.cli_set = proxy_url_parse(r->cfg->proxy, &r->proxy.cli, err, sizeof err);
        snprintf(r->proxy.cli_no_proxy, sizeof r->proxy.cli_no_proxy, "%s", r->cfg->no_proxy);
    }
}

/* Before blaming Azure, the guest's own output rules: read (nft, iptables-save, or the --root
 * bundle) only when a network check failed. */
static void read_guest_firewall(struct run *r)
{
    for (size_t i = 0; i < r->checks.count; i++) {
        const struct check *c = &r->checks.items[i];
        if (grade_is_network(c) && (c->status == STATUS_FAIL || c->status == STATUS_WARN) && c->outcome != OUT_OK) {
            guestfw_collect(&r->guestfw, r->cfg->root, r->guestfw_note, sizeof r->guestfw_note);
            r->guestfw_read = true;
            return;
        }
    }
}

static void stamp(struct run *r)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(r->started_utc, sizeof r->started_utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (gethostname(r->hostname, sizeof r->hostname) != 0)
        r->hostname[0] = '\0';
    r->hostname[sizeof r->hostname - 1] = '\0';
    r->started_ms = engine_now_ms();
}

/* Checks whose job never started (the run's deadline, or Ctrl-C) say so. */
static void mark_unrun(struct run *r)
{
    for (size_t i = 0; i < r->checks.count; i++) {
        struct check *c = &r->checks.items[i];
        if (c->outcome == OUT_SKIPPED && !c->summary[0])
            check_summary(c, "not run: the run ended first (deadline or interrupt)");
    }
}

static void teardown(struct run *r)
{
    /* Resolvers first: c-ares calls back into probe contexts as it destroys pending queries. */
    dns_resolver_free(r->dns_system);
    dns_resolver_free(r->dns_azure);
    http_client_free(r->http);
    engine_free(r->engine);
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    free(r->owned);
    free(r->consumers);
    exports_free(&r->exports);
    guestfw_free(&r->guestfw);
    checks_free(&r->checks);
}

static void inputs_note(struct exports *x, const char *text)
{
    size_t used = strlen(x->inputs);
    if (used < sizeof x->inputs - 1)
        snprintf(x->inputs + used, sizeof x->inputs - used, "%s%s", used ? "; " : "", text);
}

/* --arm: ARM's effective NSGs and routes feed the same evaluator as --nsg/--routes files; any
 * failure (no identity, 401/403, throttling, timeouts) is a skipped blame source, noted in inputs. */
static void arm_load(struct exports *x, const struct arm_result *res)
{
    char note[900];
    struct azj_error e;
    memset(&e, 0, sizeof e);
    if (res->status != ARM_OK) {
        snprintf(note, sizeof note, "live ARM skipped: %s", res->reason);
        inputs_note(x, note);
        return;
    }
    if (x->nsg) {
        inputs_note(x, "live ARM skipped: --nsg was given");
        return;
    }
    if (!(x->nsg = nsg_set_new()) || nsg_load_buffer(x->nsg, res->nsg_json, res->nsg_len, "live ARM", &e) != AZJ_OK) {
        snprintf(note, sizeof note, "live ARM skipped: %s", x->nsg ? e.msg : "out of memory");
        nsg_set_free(x->nsg);
        x->nsg = NULL;
        inputs_note(x, note);
        return;
    }
    memset(&e, 0, sizeof e);
    if (!x->have_nic && res->nic_json && nic_load_buffer(&x->nic, res->nic_json, res->nic_len, "live ARM NIC", &e) == AZJ_OK) {
        x->have_nic = true;
        nsg_set_attach_nic(x->nsg, &x->nic);
    }
    memset(&e, 0, sizeof e);
    if (!x->have_routes && routes_load_buffer(&x->routes, res->routes_json, res->routes_len, "live ARM", &e) == AZJ_OK)
        x->have_routes = true;
    x->live_arm = true;
    snprintf(note, sizeof note, "live ARM: NIC %.200s (%s): %zu NSGs, %zu routes, %ld ms", res->nic_id, res->match,
             x->nsg->count, x->have_routes ? x->routes.input.routes : (size_t)0, res->duration_ms);
    inputs_note(x, note);
}

static void arm_source(struct run *r)
{
    const struct config *cfg = r->cfg;
    const struct imds_info *m = &r->facts.imds;
    const struct cloud *cl = catalog_cloud(r->facts.cloud);
    struct arm_request q;
    struct arm_result res;
    memset(&q, 0, sizeof q);
    if (cfg->arm_endpoint[0])
        snprintf(q.endpoint, sizeof q.endpoint, "%s", cfg->arm_endpoint);
    else if (cl && cl->management)
        snprintf(q.endpoint, sizeof q.endpoint, "https://%s", cl->management);
    snprintf(q.imds_base, sizeof q.imds_base, "%s", cfg->imds[0] ? cfg->imds : DEFAULT_IMDS);
    snprintf(q.subscription, sizeof q.subscription, "%s", m->subscription);
    snprintf(q.resource_group, sizeof q.resource_group, "%s", m->resource_group);
    snprintf(q.vm_name, sizeof q.vm_name, "%s", m->name);
    snprintf(q.mac, sizeof q.mac, "%s", m->mac);
    snprintf(q.private_ip, sizeof q.private_ip, "%s", m->private_ip);
    q.ca_blob = http_client_ca(r->http, &q.ca_len);
    q.timeout_ms = cfg->timeout_ms;
    q.total_ms = 3 * cfg->timeout_ms + 1000; /* the same bound as the probes' run */
    if (!cfg->quiet)
        fprintf(stderr, "azbprobe: --arm: reading the effective NSGs and routes from %s...\n", q.endpoint);
    arm_fetch(&q, &res);
    for (int i = 0; cfg->verbose && i < ARM_STEPS; i++)
        fprintf(stderr, "azbprobe: --arm: %s: %s (HTTP %ld, %ld ms, %d polls)%s%s\n", arm_step_name(i),
                arm_status_name(res.step[i].status), res.step[i].http_status, res.step[i].ms, res.step[i].polls,
                res.step[i].detail[0] ? ": " : "", res.step[i].detail);
    arm_load(&r->exports, &res);
    arm_result_free(&res);
}

static int report(struct run *r, FILE **out)
{
    const struct config *cfg = r->cfg;
    bool color = false;
    if (!cfg->output[0]) {
        *out = stdout;
        color = cfg->format == FORMAT_TEXT && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    }
    if (render_report(r, cfg->format, *out, color) != 0 || fflush(*out) != 0) {
        fprintf(stderr, "azbprobe: writing the report failed: %s\n", strerror(errno));
        return EXIT_INTERNAL;
    }
    return grade_exit_code(&r->checks);
}

static int run_probe(const struct config *cfg)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.imds_job = (size_t)-1;
    char err[512] = "";
    FILE *out = NULL;
    if (cfg->output[0] && !(out = fopen(cfg->output, "w"))) {
        fprintf(stderr, "azbprobe: --output: cannot write '%s': %s\n", cfg->output, strerror(errno));
        return EXIT_USAGE;
    }
    stamp(&r);
    int rc = setup(&r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "azbprobe: %s\n", err);
        teardown(&r);
        if (out)
            fclose(out);
        return rc;
    }
    discover_proxies(&r);
    plan_resolve_location(&r);
    plan_build(&r);
    if (!cfg->quiet)
        fprintf(stderr, "azbprobe: probing %zu checks (timeout %.1f s)...\n", r.checks.count, cfg->timeout_ms / 1000.0);
    /* Dependency chains are at most IMDS -> DNS -> connect: three timeouts bound any run. */
    size_t cut = engine_run(r.engine, r.started_ms + 3 * cfg->timeout_ms + 1000);
    if (cut && !cfg->quiet)
        fprintf(stderr, "azbprobe: %zu probes stopped at the run's deadline\n", cut);
    mark_unrun(&r);
    guest_checks(cfg->root, geteuid() == 0, &r.checks); /* files only: the agent, its config, the guest */
    if (cfg->arm)
        arm_source(&r);
    r.duration_ms = (long)(engine_now_ms() - r.started_ms);
    grade_run(&r);
    read_guest_firewall(&r);
    blame_run(&r);
    rc = report(&r, &out);
    if (!cfg->quiet)
        fprintf(stderr, "azbprobe: done in %ld ms\n", r.duration_ms);
    if (out && out != stdout && fclose(out) != 0 && rc < EXIT_USAGE) {
        fprintf(stderr, "azbprobe: --output: writing '%s' failed: %s\n", cfg->output, strerror(errno));
        rc = EXIT_INTERNAL;
    }
    teardown(&r);
    return rc;
}

int main(int argc, char **argv)
{
    struct config cfg;
    char err[512] = "";
    int rc = cli_parse(argc, argv, &cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "azbprobe: %s\n", err);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    if (cfg.help) {
        cli_usage(stdout);
    } else if (cfg.version) {
        printf("azbprobe %s (%s, c-ares %s)\n", AZB_VERSION, curl_version(), ares_version(NULL));
    } else if (cfg.list_regions) {
        catalog_list(stdout);
    } else {
        signal(SIGPIPE, SIG_IGN);
        signal(SIGINT, on_sigint);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
            fprintf(stderr, "azbprobe: library initialisation failed\n");
            config_free(&cfg);
            return EXIT_INTERNAL;
        }
        rc = run_probe(&cfg);
        ares_library_cleanup();
        curl_global_cleanup();
    }
    config_free(&cfg);
    return rc;
}
