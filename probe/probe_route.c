/* route.wireserver and route.imds: which route the kernel gives the platform addresses, and
 * the source address it would pick (a connected UDP socket: no packet leaves). A missing or
 * blackhole route is the guest's own doing; NSGs and UDRs do not apply to these addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/netinfo.h"
#include "probe/probes.h"
#include "probe/routes.h"
#include "probe/sysfile.h"

/* What the kernel says when asked to route to dst: 0, or the errno (EINVAL for a blackhole,
 * ENETUNREACH without a route, EHOSTUNREACH unreachable, EACCES prohibit). */
static int kernel_route(const char *dst, char *src, size_t size)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    if (inet_pton(AF_INET, dst, &to.sin_addr) != 1)
        return EINVAL;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int err = 0;
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0 || getsockname(fd, (struct sockaddr *)&me, &len) != 0)
        err = errno;
    else
        inet_ntop(AF_INET, &me.sin_addr, src, (socklen_t)size);
    close(fd);
    return err;
}

static void route_check(struct run *r, const char *id, const char *dst, const struct route_table *t, bool live)
{
    size_t i = checks_add(&r->checks, id, dst, 0);
    if (i == (size_t)-1)
        return;
    struct check *c = &r->checks.items[i];
    c->required = true;
    struct in_addr a;
    if (inet_pton(AF_INET, dst, &a) != 1) {
        c->outcome = OUT_SKIPPED;
        check_summary(c, "%s is not an IPv4 address: no route to look up", dst);
        return;
    }
    const struct route_entry *e = routes_lookup(t, a.s_addr);
    char desc[160] = "", src[64] = "", ifname[64] = "";
    if (e) {
        routes_describe(e, desc, sizeof desc);
        check_ev(c, "route", "%s", desc);
        check_ev(c, "route_line", "/proc/net/route line %d", e->line);
        if (e->flags & RTF_GATEWAY_FLAG) {
            char gw[16];
            inet_ntop(AF_INET, &(struct in_addr){e->gateway}, gw, sizeof gw);
            check_ev(c, "gateway", "%s", gw);
        }
    }
    int err = live ? kernel_route(dst, src, sizeof src) : 0;
    if (src[0]) {
        check_ev(c, "source", "%s", src);
        if (netinfo_ifname(src, ifname, sizeof ifname))
            check_ev(c, "interface", "%s", ifname);
    }
    if (!live)
        check_ev(c, "note", "from the route table under --root only: the kernel was not asked");
    if ((e && (e->flags & RTF_REJECT_FLAG)) || err == EINVAL) {
        c->outcome = OUT_BLACKHOLE;
        check_summary(c, "%s is routed into a blackhole%s%s: nothing can reach it from this VM", dst,
                      desc[0] ? ": " : "", desc);
    } else if (err || (!e && !live)) {
        c->outcome = OUT_NO_ROUTE;
        check_summary(c, "no route to %s%s%s", dst, err ? ": " : "", err ? strerror(err) : "");
    } else {
        c->outcome = OUT_OK;
        check_summary(c, "%s: %s%s%s", dst, desc[0] ? desc : "routed", src[0] ? ", source " : "", src);
    }
    if (c->outcome == OUT_OK)
        check_why(c, "%s must be reached through the primary NIC from its primary IP; NSGs and UDRs do not "
                     "apply to it, so only the guest's own routes can send it elsewhere", dst);
    else
        check_why(c, "the platform addresses are not subject to NSGs or UDRs: this route is the guest's own; "
                     "Azure's DHCP installs %s/32 via the subnet gateway (option 121): restore it or keep DHCP "
                     "in charge of routes (ExtensionSnapshotFailedNoNetwork)", dst);
}

void probe_routes(struct run *r, const char *imds_host)
{
    size_t len;
    struct route_table *t = calloc(1, sizeof *t);
    if (!t)
        return;
    char *text = sysfile_read(r->cfg->root, "/proc/net/route", 1 << 20, &len);
    if (text)
        routes_parse(text, len, t);
    free(text);
    bool live = !r->cfg->root[0];
    route_check(r, "route.wireserver", r->facts.wireserver, t, live);
    route_check(r, "route.imds", imds_host, t, live);
    free(t);
}
