#include "probe/grade.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool ok(const struct check *c) { return c && c->outcome == OUT_OK; }

static bool is_storage(const struct check *c)
{
    return strncmp(c->id, "net.", 4) == 0 || strncmp(c->id, "dns.", 4) == 0;
}

/* The VM's resolvers failed where Azure DNS answered: say so on the dns.system check. */
static void compare_resolvers(struct run *r)
{
    for (size_t i = 0; i < r->checks.count; i++) {
        struct check *sys = &r->checks.items[i];
        if (strcmp(sys->id, "dns.system") != 0 || ok(sys) || sys->outcome == OUT_SKIPPED)
            continue;
        const struct check *az = checks_find(&r->checks, "dns.azure", sys->target, -1);
        if (!ok(az))
            continue;
        char was[sizeof sys->summary];
        snprintf(was, sizeof was, "%s", sys->summary);
        check_summary(sys, "custom DNS does not resolve Azure names: %s, but Azure DNS resolves it to %s",
                      was, check_ev_get(az, "addresses") ? check_ev_get(az, "addresses") : "?");
    }
}

static void add_clock_check(struct run *r)
{
    size_t i = checks_add(&r->checks, "clock.skew", NULL, 0);
    if (i == (size_t)-1)
        return;
    struct check *c = &r->checks.items[i];
    if (!r->facts.have_clock) {
        c->outcome = OUT_SKIPPED;
        check_summary(c, "no Azure response carried a Date header to compare the clock with");
        return;
    }
    long s = r->facts.clock_skew_s;
    check_ev(c, "skew_seconds", "%ld", s);
    check_ev(c, "compared_with", "%s", r->facts.clock_from);
    if (labs(s) > CLOCK_SKEW_LIMIT_S) {
        c->outcome = OUT_CLOCK_SKEW;
        check_summary(c, "this VM's clock is %ld s %s Azure's (%s): snapshots fail and it looks like a network fault",
                      labs(s), s > 0 ? "behind" : "ahead of", r->facts.clock_from);
    } else {
        c->outcome = OUT_OK;
        check_summary(c, "clock within %ld s of Azure's (%s)", labs(s), r->facts.clock_from);
    }
}

static void add_targets_check(struct run *r)
{
    for (size_t i = 0; i < r->checks.count; i++)
        if (strcmp(r->checks.items[i].id, "dns.system") == 0)
            return;
    size_t i = checks_add(&r->checks, "storage.targets", NULL, 0);
    if (i == (size_t)-1)
        return;
    struct check *c = &r->checks.items[i];
    c->outcome = OUT_ERROR;
    check_summary(c, "no storage host was probed: none in the agent's goal state and no unmanaged disk; "
                     "pass --storage-account NAME or --target HOST");
}

/* WireServer traffic must leave from the primary NIC's primary IP (multi-NIC, secondary IPs). */
static void check_source(struct run *r, struct check *c)
{
    const char *src = check_ev_get(c, "local_address");
    const char *want = r->facts.imds.private_ip;
    if (!src || !want[0] || strcmp(src, want) == 0)
        return;
    check_ev(c, "expected_source", "%s (IMDS primary private IP)", want);
    if (c->status == STATUS_PASS) {
        c->status = STATUS_WARN;
        check_why(c, "it left from %s, not the primary IP %s: platform endpoints expect the primary NIC's "
                     "primary IP; check the route to %s and policy routing (multi-NIC, secondary IPs)",
                  src, want, c->target);
    }
}

/* The path the backup extension takes to target:port ("direct" when nothing says otherwise). */
static const char *backup_path(const struct run *r, const char *target, int port)
{
    for (size_t i = 0; i < r->nconsumers; i++) {
        const struct consumer_path *cp = &r->consumers[i];
        if (cp->consumer == CONSUMER_BACKUP && cp->port == port && strcmp(cp->target, target) == 0)
            return cp->path;
    }
    return "direct";
}

/* A storage check on a path the backup extension does not take informs; it never fails the run. */
static bool off_backup_path(const struct run *r, struct check *c)
{
    const char *bp = backup_path(r, c->target, c->port ? c->port : 443);
    bool dns = strncmp(c->id, "dns.", 4) == 0;
    if (strcmp(bp, dns || !c->path[0] ? "direct" : c->path) == 0)
        return false;
    c->required = false;
    c->status = ok(c) ? STATUS_PASS : STATUS_WARN;
    if (dns)
        check_why(c, "the backup extension reaches this host through %s, which resolves it itself", bp);
    else
        check_why(c, "the backup extension takes %s, not this path; other consumers may (see consumers)", bp);
    return true;
}

/* Checks of the guest itself (DHCP, routes, the agent) carry their own required flag and why. */
static bool is_guest(const struct check *c)
{
    static const char *const prefixes[] = {"dhcp.", "route.", "agent.", "guest."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(c->id, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/* As non-root, the agent's own firewall rule drops TCP to the WireServer: a timeout then proves
 * nothing about the network. */
static void nonroot_firewall(const struct run *r, struct check *c)
{
    const struct check *fw = checks_find(&r->checks, "agent.firewall", NULL, -1);
    if (!fw || fw->outcome != OUT_BLOCKED_NONROOT || c->outcome != OUT_TIMEOUT)
        return;
    c->status = STATUS_SKIP;
    c->required = false;
    check_why(c, "not conclusive: this run is not root and the guest agent's firewall (OS.EnableFirewall=y) "
                 "drops non-root TCP to %s; rerun with sudo", c->target);
}

/* A route whose source is not the primary NIC's primary IP: the classic multi-NIC failure. */
static void route_source(const struct run *r, struct check *c)
{
    const char *src = check_ev_get(c, "source");
    const char *want = r->facts.imds.private_ip;
    if (c->outcome != OUT_OK || !src || !want[0] || strcmp(src, want) == 0)
        return;
    c->outcome = OUT_WRONG_SOURCE;
    c->status = c->required ? STATUS_FAIL : STATUS_WARN;
    check_ev(c, "expected_source", "%s (IMDS primary private IP)", want);
    check_summary(c, "%s leaves from %s, not the primary IP %s (%s)", c->target, src, want,
                  check_ev_get(c, "route") ? check_ev_get(c, "route") : "no route line");
    check_why(c, "the platform answers the primary NIC's primary IP: route %s/32 through the primary NIC with "
                 "src %s, or fix policy routing (multi-NIC, secondary IPs)", c->target, want);
}

static void grade_one(const struct run *r, struct check *c, bool host_ok, bool unmanaged)
{
    bool good = ok(c);
    if (c->outcome == OUT_SKIPPED) {
        c->status = STATUS_SKIP;
        c->required = false;
        if (!c->why[0] || !is_guest(c))
            check_why(c, "not run: an earlier step failed");
        return;
    }
    if (is_guest(c)) {
        /* an OK with a caveat (SELinux enforcing) arrives as a warning already */
        if (!(good && c->status == STATUS_WARN))
            c->status = good ? STATUS_PASS : c->required ? STATUS_FAIL : STATUS_WARN;
        return;
    }
    if (strncmp(c->id, "wireserver.", 11) == 0) {
        c->required = true;
        c->status = good ? STATUS_PASS : STATUS_FAIL;
        bool plugin = strcmp(c->id, "wireserver.hostgaplugin") == 0;
        if (good)
            check_why(c, plugin ? "required: extension downloads and status uploads go through the HostGAPlugin when "
                                  "storage is not reachable directly"
                                : "required: the guest agent and the snapshot extension use it (goal state, host "
                                  "snapshot, extension status)");
        else
            check_why(c, plugin ? "required: without it extensions cannot be downloaded or report status when storage "
                                  "is not reachable directly (UserErrorVmProvisioningStateFailed, "
                                  "ExtensionOperationFailedForManagedDisks). 168.63.129.16 is not subject to NSGs or "
                                  "UDRs: look at the guest firewall, a proxy, or the guest's route and source NIC"
                                : "required: without it the agent reports Not Ready and backups fail "
                                  "(UserErrorGuestAgentStatusUnavailable). 168.63.129.16 is not subject to NSGs or "
                                  "UDRs: look at the guest firewall, a proxy, or the guest's route and source NIC");
        return;
    }
    if (!is_storage(c) || strcmp(c->id, "dns.azure") == 0) {
        c->required = false;
        c->status = good ? STATUS_PASS : STATUS_WARN;
        if (strcmp(c->id, "imds.instance") == 0)
            check_why(c, "informational: IMDS gives the region, cloud and primary IP; backups do not need it");
        else if (strcmp(c->id, "dns.azure") == 0)
            check_why(c, "informational: Azure DNS is asked only to compare with the VM's resolvers");
        else if (strcmp(c->id, "clock.skew") == 0)
            check_why(c, "a clock off by more than %d s breaks snapshot authentication", CLOCK_SKEW_LIMIT_S);
        else if (strcmp(c->id, "proxy.config") == 0)
            check_why(c, "the guest agent, the backup extension and other tools each read a different proxy "
                         "source; authenticated proxies are not supported by Azure Backup");
        else if (strcmp(c->id, "proxy.platform") == 0)
            check_why(c, "the WireServer and IMDS must be reached directly: a proxy reaches its own host's, "
                         "or nothing");
        else
            check_why(c, "informational");
        return;
    }
    if (c->port != 0 && c->port != 443) {
        c->required = false;
        c->status = good ? STATUS_PASS : STATUS_WARN;
        check_why(c, "port %d is reported for reference: 8443 was a 2018-2019 requirement for managed disks; "
                     "current agents and the snapshot extension use 443 only", c->port);
        return;
    }
    if (off_backup_path(r, c))
        return;
    if (c->outcome == OUT_STORAGE_FIREWALL) {
        c->required = false;
        c->status = STATUS_WARN;
        check_why(c, "the network works; the storage account's firewall (Selected networks) rejects this VM");
        return;
    }
    c->required = !host_ok || unmanaged;
    c->status = good ? STATUS_PASS : c->required ? STATUS_FAIL : STATUS_WARN;
    if (unmanaged)
        check_why(c, "required: this VM has unmanaged disks in a storage account, so backup needs storage on 443");
    else if (!host_ok)
        check_why(c, "required: the host path (WireServer 80/32526) fails too, so the agent and the snapshot "
                     "extension have no fallback to storage on 443");
    else
        check_why(c, "%s: the host path (WireServer 80 and 32526) works and current agents and the snapshot "
                     "extension use it first; direct storage 443 is the fallback (guest snapshot, old agents)",
                  good ? "recommended" : "warning only");
}

/* Each consumer's path works when all three layers did; the backup extension's failure carries
 * its path's grade, the others' are warnings. */
static void grade_consumers(struct run *r)
{
    for (size_t i = 0; i < r->nconsumers; i++) {
        struct consumer_path *cp = &r->consumers[i];
        const struct check *worst = NULL;
        for (size_t k = cp->first_check; k < cp->first_check + 3 && k < r->checks.count; k++) {
            const struct check *c = &r->checks.items[k];
            if (!ok(c) && c->outcome != OUT_SKIPPED && (!worst || c->status == STATUS_FAIL))
                worst = c;
        }
        if (!worst && !ok(&r->checks.items[cp->first_check])) {
            cp->status = STATUS_SKIP;
            snprintf(cp->summary, sizeof cp->summary, "not tried: %.230s", r->checks.items[cp->first_check].summary);
        } else if (!worst) {
            cp->status = STATUS_PASS;
            snprintf(cp->summary, sizeof cp->summary, "works: %.240s", r->checks.items[cp->first_check + 2].summary);
        } else {
            cp->status = cp->consumer == CONSUMER_BACKUP ? worst->status : STATUS_WARN;
            snprintf(cp->summary, sizeof cp->summary, "fails at %s: %.200s", worst->id, worst->summary);
        }
    }
}

void grade_run(struct run *r)
{
    compare_resolvers(r);
    add_targets_check(r);
    add_clock_check(r);
    bool host_ok = ok(checks_find(&r->checks, "wireserver.http", NULL, -1)) &&
                   ok(checks_find(&r->checks, "wireserver.hostgaplugin", NULL, -1));
    bool unmanaged = r->facts.imds_ok && r->facts.imds.unmanaged_disks;
    for (size_t i = 0; i < r->checks.count; i++) {
        struct check *c = &r->checks.items[i];
        grade_one(r, c, host_ok, unmanaged);
        if (strncmp(c->id, "wireserver.", 11) == 0 || strcmp(c->id, "imds.instance") == 0)
            check_source(r, c);
        if (strncmp(c->id, "route.", 6) == 0)
            route_source(r, c);
        if (strncmp(c->id, "wireserver.", 11) == 0)
            nonroot_firewall(r, c);
        c->graded = true;
    }
    grade_consumers(r);
}

enum status grade_verdict(const struct check_list *l)
{
    enum status v = STATUS_PASS;
    for (size_t i = 0; i < l->count; i++) {
        if (l->items[i].status == STATUS_FAIL)
            return STATUS_FAIL;
        if (l->items[i].status == STATUS_WARN)
            v = STATUS_WARN;
    }
    return v;
}

int grade_exit_code(const struct check_list *l)
{
    return grade_verdict(l) == STATUS_FAIL ? 1 : 0;
}

bool grade_is_network(const struct check *c)
{
    static const char *const prefixes[] = {"wireserver.", "imds.", "dns.", "net.", "proxy.", "route.", "dhcp."};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(c->id, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

bool grade_network_ok(const struct check_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        if (grade_is_network(&l->items[i]) && l->items[i].status == STATUS_FAIL)
            return false;
    return true;
}
