/* Blame: for each failed network check, what blocks it and the one fix a network team can apply
 * without a second round-trip. Pure over the graded run (no sockets, no clocks, no files).
 * The platform addresses (WireServer, IMDS) are exempt from NSGs and UDRs, so their failures are
 * always put on the guest: its firewall, a proxy, or its route and source NIC. Without exports
 * the blame is an inference from the failure's signature, and says so. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "probe/diag/guestfw.h"
#include "probe/diag/nsg.h"
#include "probe/diag/route_eval.h"

#include "probe/blame.h"
#include "probe/grade.h"

static struct blame *new_blame(struct check *c, const char *source)
{
    if (!c->blame)
        c->blame = calloc(1, sizeof *c->blame);
    if (c->blame)
        snprintf(c->blame->source, sizeof c->blame->source, "%s", source);
    return c->blame;
}

static bool platform(const struct check *c)
{
    return strncmp(c->id, "wireserver.", 11) == 0 || strcmp(c->id, "imds.instance") == 0 ||
           strncmp(c->id, "route.", 6) == 0;
}

static void blame_platform(struct check *c)
{
    struct blame *b = new_blame(c, "guest (the platform addresses are exempt from NSGs and UDRs)");
    if (!b)
        return;
    snprintf(b->verdict, sizeof b->verdict,
             "not an NSG or UDR: %.64s is blocked inside this VM (a guest firewall rule, a proxy, or the guest's "
             "route and source NIC)", c->target);
    if (c->port)
        snprintf(b->fix, sizeof b->fix,
                 "list the guest's output rules (nft list ruleset; iptables -S OUTPUT; iptables -t security -S OUTPUT) "
                 "and allow TCP %d to %.64s for root; keep the route to it on the primary NIC (see route.*)",
                 c->port, c->target);
    else
        snprintf(b->fix, sizeof b->fix, "route %.64s/32 through the primary NIC from its primary IP (as Azure's DHCP "
                 "option 121 does), and remove blackhole or policy routes for it", c->target);
}

/* The exports that would name the rule or route, for the VM IMDS described. */
static void commands(struct run *r, struct blame *b)
{
    const struct imds_info *m = &r->facts.imds;
    const char *rg = m->resource_group[0] ? m->resource_group : "<resource-group>";
    const char *vm = m->name[0] ? m->name : "<vm-name>";
    snprintf(b->commands, sizeof b->commands,
             "NIC=$(az vm nic list -g %s --vm-name %s --query [0].id -o tsv); "
             "az network nic list-effective-nsg --ids $NIC > nsg.json; "
             "az network nic show-effective-route-table --ids $NIC > routes.json; "
             "then rerun azbprobe with --nsg nsg.json --routes routes.json", rg, vm);
}

/* The storage hosts to allow by name on an FQDN-filtering firewall: every storage target probed,
 * with its purpose. */
static void allowlist(struct run *r, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < r->checks.count; i++) {
        const struct check *c = &r->checks.items[i];
        if (strcmp(c->id, "dns.system") != 0)
            continue;
        const struct check *tcp = checks_find(&r->checks, "net.tcp", c->target, -1);
        const char *from = tcp ? check_ev_get(tcp, "target_from") : NULL;
        bool required = from && strstr(from, "status blob");
        /* the purpose without the file it came from: "agent goal state, status blob" */
        int purpose = from ? (int)strcspn(from, "(") : 7;
        while (purpose > 0 && from && from[purpose - 1] == ' ')
            purpose--;
        size_t used = strlen(out);
        if (used < size)
            snprintf(out + used, size - used, "%s%s:443 (%.*s, %s)", used ? "; " : "", c->target, purpose,
                     from ? from : "storage", required ? "required" : "recommended");
    }
}

static const char *dest_tags(struct run *r, uint32_t dst, struct blame *b);

/* Port 8443 is historical: a fix for it is optional, and says so. */
static const char *optional_port(const struct check *c)
{
    return c->port && c->port != 443 ? "optional (only 443 is needed today): " : "";
}
static bool ip_of(const char *s, uint32_t *out);

static void infer(struct run *r, struct check *c)
{
    struct blame *b = new_blame(c, "inference (no NSG or route export given)");
    if (!b)
        return;
    const char *to = check_ev_get(c, "remote_address");
    if (!to) { /* TLS and HTTPS checks: the address their transport reached */
        const struct check *tcp = checks_find(&r->checks, "net.tcp", c->target, c->port);
        to = tcp && check_ev_get(tcp, "remote_address") ? check_ev_get(tcp, "remote_address") : c->target;
    }
    uint32_t dst;
    const char *tag = ip_of(to, &dst) ? dest_tags(r, dst, b) : NULL;
    char hosts[600];
    switch (c->outcome) {
    case OUT_TIMEOUT:
        snprintf(b->verdict, sizeof b->verdict, "silent drop on the way to %.64s:%d: an NSG deny rule, a UDR to an "
                 "appliance that drops it, or a guest firewall", to, c->port);
        snprintf(b->fix, sizeof b->fix, "%sallow outbound TCP %d to %s in the NIC and subnet NSGs and any firewall "
                 "on the route", optional_port(c), c->port, tag ? tag : to);
        commands(r, b);
        break;
    case OUT_REFUSED:
    case OUT_RESET:
        snprintf(b->verdict, sizeof b->verdict, "reset on the way to %.64s:%d: a firewall or appliance rejects it "
                 "(NSGs drop silently, they never reset)", to, c->port);
        snprintf(b->fix, sizeof b->fix, "%sfind the firewall or appliance between this VM and %s (an NVA behind a "
                 "UDR, Azure Firewall, or the guest's own rules) and allow TCP %d", optional_port(c), tag ? tag : to,
                 c->port);
        commands(r, b);
        break;
    case OUT_UNREACHABLE:
        snprintf(b->verdict, sizeof b->verdict, "ICMP unreachable on the way to %.64s:%d: a route or an appliance "
                 "answers for it", to, c->port);
        snprintf(b->fix, sizeof b->fix, "check the effective routes for %s (a UDR to an appliance or next hop "
                 "None) and the appliance's rules", to);
        commands(r, b);
        break;
    case OUT_RESET_AFTER_HELLO:
    case OUT_FIREWALL_DENY:
        allowlist(r, hosts, sizeof hosts);
        snprintf(b->verdict, sizeof b->verdict, "a host-name filtering firewall (Azure Firewall application rule "
                 "or an NVA) denies %.200s", c->target);
        snprintf(b->fix, sizeof b->fix, "allow these host names (FQDN:port, purpose, need) rather than "
                 "*.blob.core.windows.net: %.500s", hosts);
        break;
    case OUT_UNTRUSTED:
        snprintf(b->verdict, sizeof b->verdict, "a TLS-inspecting device re-signs %.100s (issuer %.150s)", c->target,
                 check_ev_get(c, "tls_issuer") ? check_ev_get(c, "tls_issuer") : "not named");
        snprintf(b->fix, sizeof b->fix, "exempt Azure Storage host names from TLS inspection: the guest agent and "
                 "the snapshot extension trust only public CAs");
        break;
    case OUT_STORAGE_FIREWALL:
        snprintf(b->verdict, sizeof b->verdict, "the storage account's own firewall rejects this VM");
        snprintf(b->fix, sizeof b->fix, "add the VM's VNet/subnet to the storage account's network rules, or allow "
                 "trusted Microsoft services");
        break;
    default:
        free(c->blame);
        c->blame = NULL;
        return;
    }
}

static void blame_dns(struct check *c)
{
    struct blame *b = new_blame(c, "DNS");
    if (!b)
        return;
    snprintf(b->verdict, sizeof b->verdict, "%s", c->summary);
    snprintf(b->fix, sizeof b->fix, "make the VM's DNS servers forward the storage zones (core.windows.net, "
             "privatelink.blob.core.windows.net, storage.azure.net) to 168.63.129.16, or use Azure DNS");
}

static void blame_proxy(struct check *c)
{
    struct blame *b = new_blame(c, "proxy");
    if (!b)
        return;
    snprintf(b->verdict, sizeof b->verdict, "%s", c->summary);
    if (c->outcome == OUT_PROXY_AUTH)
        snprintf(b->fix, sizeof b->fix, "use a proxy that does not require authentication for Azure Storage, or "
                 "let the VM reach Storage.<Region> directly on 443");
    else
        snprintf(b->fix, sizeof b->fix, "allow CONNECT to %s:%d on the proxy, or let the VM reach it directly",
                 c->target, c->port);
}

/* ---- with exports ---- */

static bool ip_of(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (!s || inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

/* The flow as Azure sees it: the NIC's private IP (NIC export, IMDS, else the socket's) to dst. */
static bool flow_of(const struct run *r, const struct check *c, struct flow *f)
{
    const struct exports *x = &r->exports;
    memset(f, 0, sizeof *f);
    f->dir = NSG_OUTBOUND;
    f->proto = NSG_PROTO_TCP;
    f->src_port = -1;
    f->dst_port = c->port;
    if (!ip_of(check_ev_get(c, "remote_address"), &f->dst))
        return false;
    if (x->have_nic && x->nic.ip_known)
        f->src = x->nic.private_ip;
    else if (!ip_of(r->facts.imds.private_ip, &f->src) && !ip_of(check_ev_get(c, "local_address"), &f->src))
        return false;
    return true;
}

/* The destination's service tags, most specific first; the best one to name in a fix. */
static const char *dest_tags(struct run *r, uint32_t dst, struct blame *b)
{
    const struct servicetags *st = exports_tags(&r->exports, r->facts.cloud);
    const char *names[8];
    size_t n = st ? servicetags_lookup(st, dst, names, 8) : 0;
    const char *best = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(b->tags);
        if (used < sizeof b->tags)
            snprintf(b->tags + used, sizeof b->tags - used, "%s%s", i ? ", " : "", names[i]);
        if (!best && strncmp(names[i], "Storage", 7) == 0)
            best = names[i];
    }
    return best ? best : n ? names[0] : NULL;
}

static void resolver_of(struct run *r, struct tag_resolver *t, struct prefix4 *vnet, size_t max)
{
    memset(t, 0, sizeof *t);
    t->lookup = tag_resolver_servicetags;
    t->ctx = (void *)exports_tags(&r->exports, r->facts.cloud);
    if (!t->ctx)
        t->lookup = NULL;
    if (r->exports.have_routes) {
        size_t n = routes_vnet_prefixes(&r->exports.routes, vnet, max);
        t->vnet = vnet;
        t->nvnet = n < max ? n : max;
        t->vnet_known = true;
    }
}

static bool blame_nsg(struct run *r, struct check *c, const struct flow *f, const struct tag_resolver *t,
                      struct blame *b, const char *tag)
{
    struct nsg_verdict v;
    nsg_evaluate(r->exports.nsg, f, t, &v);
    const struct nsg *nsg = NULL;
    unsigned assoc = 0;
    const struct nsg_rule *rule = v.result == NSG_DENIED ? nsg_verdict_blocker(&v, &nsg, &assoc)
                                  : v.result == NSG_INDETERMINATE ? nsg_verdict_suspect(&v, &nsg, &assoc) : NULL;
    if (!rule || !nsg)
        return false;
    bool effective = nsg->shape == NSG_SHAPE_EFFECTIVE;
    snprintf(b->source, sizeof b->source, "%s%s",
             r->exports.live_arm ? "live ARM (effective NSGs)" : effective ? "effective NSG export" : "NSG export",
             v.result == NSG_INDETERMINATE ? " (indeterminate: see verdict)" : "");
    nsg_verdict_describe(&v, b->verdict, sizeof b->verdict);
    snprintf(b->nsg, sizeof b->nsg, "%s", nsg->name);
    snprintf(b->association, sizeof b->association, "%s", nsg_assoc_name(assoc));
    nsg_rule_ref(rule, b->rule, sizeof b->rule);
    b->priority = rule->priority;
    snprintf(b->access, sizeof b->access, "%s", nsg_access_name(rule->access));
    const struct nsg_step *s = &v.step[v.decider >= 0 ? v.decider : 0];
    if (s->remote.tag[0] || s->remote.has_prefix) {
        char pfx[24] = "";
        if (s->remote.has_prefix)
            prefix4_format(&s->remote.prefix, pfx, sizeof pfx);
        snprintf(b->matched, sizeof b->matched, "%s%s%s", s->remote.tag, s->remote.tag[0] && pfx[0] ? " via " : "", pfx);
    }
    char dst[16];
    ip4_format(f->dst, dst, sizeof dst);
    snprintf(b->fix, sizeof b->fix, "%sallow outbound TCP %d to %s in NSG %s (%s) with a priority number lower "
             "than %d", optional_port(c), c->port, tag ? tag : dst, nsg->name, nsg_assoc_name(assoc), rule->priority);
    return true;
}

static bool blame_route(struct run *r, const struct flow *f, const struct tag_resolver *t, struct blame *b,
                        const char *tag)
{
    struct route_choice rc;
    if (route_select(&r->exports.routes, f->dst, t, &rc) != 0)
        return false;
    route_describe(&rc, b->route, sizeof b->route);
    if (!rc.found || rc.drop) {
        snprintf(b->source, sizeof b->source, "%s", r->exports.live_arm ? "live ARM (effective routes)" : "route export");
        snprintf(b->verdict, sizeof b->verdict, "the route drops it: %s", b->route);
        snprintf(b->fix, sizeof b->fix, "give %s a route with a next hop: a UDR for the service tag %s with next hop "
                 "Internet", tag ? tag : "the destination", tag ? tag : "Storage.<Region>");
        return true;
    }
    if (rc.appliance) {
        char hop[16] = "?";
        if (rc.has_hop_ip)
            ip4_format(rc.hop_ip, hop, sizeof hop);
        snprintf(b->source, sizeof b->source, "%s", r->exports.live_arm ? "live ARM (effective routes)" : "route export");
        char dst[16];
        ip4_format(f->dst, dst, sizeof dst);
        snprintf(b->verdict, sizeof b->verdict, "a route sends it to the virtual appliance %s, which does not pass "
                 "it (see Route)", hop);
        snprintf(b->fix, sizeof b->fix, "allow TCP %d to %s on the appliance %s, or add a UDR for %s with next "
                 "hop Internet", f->dst_port, tag ? tag : dst, hop, tag ? tag : "the Storage.<Region> service tag");
        return true;
    }
    return false;
}

/* With exports: the NSG rule or route that blocks a failed transport, or a contradiction. */
static bool blame_exports(struct run *r, struct check *c)
{
    struct exports *x = &r->exports;
    struct flow f;
    if ((!x->nsg && !x->have_routes) || strcmp(c->id, "net.tcp") != 0 || strcmp(c->path, "direct") != 0 ||
        !flow_of(r, c, &f))
        return false;
    struct blame *b = new_blame(c, "exports");
    if (!b)
        return false;
    struct prefix4 vnet[64];
    struct tag_resolver t;
    resolver_of(r, &t, vnet, 64);
    const char *tag = dest_tags(r, f.dst, b);
    /* the NIC's and subnet's NSGs judge a packet before any route carries it */
    if (x->nsg && blame_nsg(r, c, &f, &t, b, tag))
        return true;
    if (x->have_routes && blame_route(r, &f, &t, b, tag))
        return true;
    snprintf(b->source, sizeof b->source, "exports (contradiction)");
    snprintf(b->verdict, sizeof b->verdict, "the exports allow this flow, yet it failed: they are stale, or a "
             "firewall, NVA or the guest blocks it outside what NSGs and routes show");
    snprintf(b->fix, sizeof b->fix, "re-export the effective NSGs and routes, and check any firewall on the path");
    return true;
}

/* A flow that worked although the exports deny it: they are stale, or another path was used. */
static void contradiction(struct run *r, struct check *c)
{
    struct flow f;
    if (!r->exports.nsg || strcmp(c->id, "net.tcp") != 0 || strcmp(c->path, "direct") != 0 || !flow_of(r, c, &f))
        return;
    struct prefix4 vnet[64];
    struct tag_resolver t;
    resolver_of(r, &t, vnet, 64);
    struct nsg_verdict v;
    nsg_evaluate(r->exports.nsg, &f, &t, &v);
    if (v.result != NSG_DENIED)
        return;
    char why[320];
    nsg_verdict_describe(&v, why, sizeof why);
    check_ev(c, "contradiction", "the connection worked but the exports say %s: they are stale or another path "
             "was used", why);
    c->status = STATUS_WARN; /* worth a look: the evidence the ticket relies on is out of date */
    check_why(c, "contradiction: the exports deny a flow that worked; re-export them before naming any rule");
}

/* The guest's own firewall, before any NSG or route: the rule that drops or rejects the flow. */
static bool blame_guest_firewall(struct run *r, struct check *c)
{
    uint32_t dst;
    const char *to = check_ev_get(c, "remote_address");
    if (!r->guestfw_read || !c->port || !ip_of(to ? to : c->target, &dst))
        return false;
    struct guestfw_flow f = {.dst = dst, .dport = (uint16_t)c->port, .tcp = true, .as_root = geteuid() == 0};
    struct guestfw_verdict v;
    char line[GUESTFW_DESCRIBE_MAX];
    if (!guestfw_evaluate(&r->guestfw, &f, &v)) {
        if (v.uncertain)
            check_ev(c, "guest_firewall", "%s", guestfw_describe(&v, line, sizeof line));
        return false;
    }
    struct blame *b = new_blame(c, "guest firewall");
    if (!b)
        return false;
    guestfw_describe(&v, line, sizeof line);
    snprintf(b->verdict, sizeof b->verdict, "%.600s", line);
    snprintf(b->rule, sizeof b->rule, "%s", v.blocker.rule);
    snprintf(b->matched, sizeof b->matched, "%s %s %s chain %s", v.blocker.source, v.blocker.family,
             v.blocker.table, v.blocker.chain);
    if (v.blocker.agent)
        snprintf(b->fix, sizeof b->fix, "this is the guest agent's own rule: it drops non-root TCP to %.64s; "
                 "run azbprobe (and anything that must reach it) as root", c->target);
    else
        snprintf(b->fix, sizeof b->fix, "remove or narrow that rule in the guest (%s table %s, chain %s) so TCP %d "
                 "to %.64s is accepted", v.blocker.source, v.blocker.table, v.blocker.chain, c->port, to ? to : c->target);
    return true;
}

void blame_run(struct run *r)
{
    for (size_t i = 0; i < r->checks.count; i++) {
        struct check *c = &r->checks.items[i];
        if (c->outcome == OUT_OK)
            contradiction(r, c);
        if ((c->status != STATUS_FAIL && c->status != STATUS_WARN) || !grade_is_network(c) || c->outcome == OUT_OK)
            continue;
        if ((platform(c) || strcmp(c->id, "net.tcp") == 0) && strcmp(c->path[0] ? c->path : "direct", "direct") == 0 &&
            blame_guest_firewall(r, c))
            continue;
        if (platform(c))
            blame_platform(c);
        else if (strncmp(c->id, "dns.", 4) == 0)
            blame_dns(c);
        else if (strncmp(c->path, "proxy ", 6) == 0 && strcmp(c->id, "net.tcp") == 0)
            blame_proxy(c);
        else if (strncmp(c->id, "net.", 4) == 0 && !blame_exports(r, c))
            infer(r, c);
    }
}
