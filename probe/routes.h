/* The kernel's IPv4 routes as /proc/net/route shows them (main table), and the route a
 * destination takes (longest prefix match, then the lowest metric). Pure parsing. */
#ifndef AZB_ROUTES_H
#define AZB_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KERNEL_ROUTES_MAX 256
#define RTF_REJECT_FLAG 0x0200 /* blackhole, unreachable and prohibit routes */
#define RTF_GATEWAY_FLAG 0x0002

struct route_entry {
    char iface[32];
    uint32_t dest, gateway, mask; /* network byte order, as the kernel prints them */
    unsigned flags;
    unsigned metric;
    int line;
};

struct route_table {
    struct route_entry e[KERNEL_ROUTES_MAX];
    size_t count;
    int bad_lines;
};

/* Columns: Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT; addresses are
 * 8 hex digits in the kernel's (little-endian) byte order. Malformed lines are counted, skipped. */
void routes_parse(const char *text, size_t len, struct route_table *out);

/* The entry a destination (network byte order) takes, or NULL. */
const struct route_entry *routes_lookup(const struct route_table *t, uint32_t dest);

/* "168.63.129.16/32 via 10.0.0.1 dev eth0 metric 100" (or "blackhole 168.63.129.16/32"). */
void routes_describe(const struct route_entry *e, char *out, size_t size);

/* The interface of the lowest-metric default route, or false. */
bool routes_default_iface(const struct route_table *t, char *iface, size_t size);

#endif
