/* Blame: for each failed network check, what blocks it and the one fix a network team can apply
 * without a second round-trip. Pure over the graded run (no sockets, no clocks, no files).
 * The platform addresses (WireServer, IMDS) are exempt from NSGs and UDRs, so their failures are
 * always put on the guest: its firewall, a proxy, or its route and source NIC. Without exports
 * the blame is an inference from the failure's signature, and says so. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    snprintf(b->fix, sizeof b->fix,
             "list the guest's output rules (nft list ruleset; iptables -S OUTPUT; iptables -t security -S OUTPUT) "
             "and allow TCP 80 and 32526 to %.64s for root; keep the route to it on the primary NIC (see route.*)",
             c->target);
}

/* The exports that would name the rule or route, for the VM IMDS described. */
static void commands(const struct run *r, struct blame *b)
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
static void allowlist(const struct run *r, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < r->checks.count; i++) {
        const struct check *c = &r->checks.items[i];
        if (strcmp(c->id, "dns.system") != 0)
            continue;
        const struct check *tcp = checks_find(&r->checks, "net.tcp", c->target, -1);
        const char *from = tcp ? check_ev_get(tcp, "target_from") : NULL;
        bool required = from && strstr(from, "status blob");
        size_t used = strlen(out);
        if (used < size)
            snprintf(out + used, size - used, "%s%s:443 (%s, %s)", used ? "; " : "", c->target,
                     from ? from : "storage", required ? "required" : "recommended");
    }
}

static void infer(const struct run *r, struct check *c)
{
    struct blame *b = new_blame(c, "inference (no NSG or route export given)");
    if (!b)
        return;
    const char *to = check_ev_get(c, "remote_address") ? check_ev_get(c, "remote_address") : c->target;
    char hosts[400];
    switch (c->outcome) {
    case OUT_TIMEOUT:
        snprintf(b->verdict, sizeof b->verdict, "silent drop on the way to %.64s:%d: an NSG deny rule, a UDR to an "
                 "appliance that drops it, or a guest firewall", to, c->port);
        snprintf(b->fix, sizeof b->fix, "allow outbound TCP %d to %s (service tag Storage.<Region> for Azure "
                 "Storage) in the NIC and subnet NSGs and any firewall on the route", c->port, to);
        commands(r, b);
        break;
    case OUT_REFUSED:
    case OUT_RESET:
        snprintf(b->verdict, sizeof b->verdict, "reset on the way to %.64s:%d: a firewall or appliance rejects it "
                 "(NSGs drop silently, they never reset)", to, c->port);
        snprintf(b->fix, sizeof b->fix, "find the firewall or appliance on the route (see the route export) and "
                 "allow TCP %d to %s", c->port, to);
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
                 "*.blob.core.windows.net: %.230s", hosts);
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

void blame_run(struct run *r)
{
    for (size_t i = 0; i < r->checks.count; i++) {
        struct check *c = &r->checks.items[i];
        if ((c->status != STATUS_FAIL && c->status != STATUS_WARN) || !grade_is_network(c) || c->outcome == OUT_OK)
            continue;
        if (platform(c))
            blame_platform(c);
        else if (strncmp(c->id, "dns.", 4) == 0)
            blame_dns(c);
        else if (strncmp(c->path, "proxy ", 6) == 0 && strcmp(c->id, "net.tcp") == 0)
            blame_proxy(c);
        else if (strncmp(c->id, "net.", 4) == 0)
            infer(r, c);
    }
}
