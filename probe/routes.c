#include "probe/routes.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One 8-hex-digit field; the kernel prints the address's bytes as a host-order integer. */
static bool hex32(const char *s, uint32_t *out)
{
    char *end;
    if (strlen(s) != 8)
        return false;
    unsigned long v = strtoul(s, &end, 16);
    if (*end)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_line(const char *line, struct route_entry *e)
{
    char iface[32], dst[16], gw[16], mask[16];
    unsigned flags, refcnt, use, metric;
    if (sscanf(line, "%31s %15s %15s %x %u %u %u %15s", iface, dst, gw, &flags, &refcnt, &use, &metric, mask) != 8)
        return false;
    if (!hex32(dst, &e->dest) || !hex32(gw, &e->gateway) || !hex32(mask, &e->mask))
        return false;
    snprintf(e->iface, sizeof e->iface, "%s", iface);
    e->flags = flags;
    e->metric = metric;
    return true;
}

void routes_parse(const char *text, size_t len, struct route_table *out)
{
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        size_t n = 0;
        while (pos + n < len && text[pos + n] != '\n')
            n++;
        lineno++;
        char line[256];
        if (lineno > 1 && n > 0) { /* line 1 is the header */
            snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), text + pos);
            struct route_entry e = {.line = lineno};
            if (n < sizeof line && memchr(text + pos, '\0', n) == NULL && parse_line(line, &e)) {
                if (out->count < KERNEL_ROUTES_MAX)
                    out->e[out->count++] = e;
            } else {
                out->bad_lines++;
            }
        }
        pos += n + 1;
    }
}

static int prefix_len(uint32_t mask)
{
    return __builtin_popcount(mask);
}

const struct route_entry *routes_lookup(const struct route_table *t, uint32_t dest)
{
    const struct route_entry *best = NULL;
    for (size_t i = 0; i < t->count; i++) {
        const struct route_entry *e = &t->e[i];
        if ((dest & e->mask) != (e->dest & e->mask) || !(e->flags & 0x1))
            continue;
        if (!best || prefix_len(e->mask) > prefix_len(best->mask) ||
            (prefix_len(e->mask) == prefix_len(best->mask) && e->metric < best->metric))
            best = e;
    }
    return best;
}

void routes_describe(const struct route_entry *e, char *out, size_t size)
{
    char dst[16], gw[16];
    struct in_addr a = {e->dest}, g = {e->gateway};
    inet_ntop(AF_INET, &a, dst, sizeof dst);
    inet_ntop(AF_INET, &g, gw, sizeof gw);
    if (e->flags & RTF_REJECT_FLAG)
        snprintf(out, size, "blackhole %s/%d (a reject route)", dst, prefix_len(e->mask));
    else if (e->flags & RTF_GATEWAY_FLAG)
        snprintf(out, size, "%s/%d via %s dev %s metric %u", dst, prefix_len(e->mask), gw, e->iface, e->metric);
    else
        snprintf(out, size, "%s/%d dev %s metric %u (on-link)", dst, prefix_len(e->mask), e->iface, e->metric);
}

bool routes_default_iface(const struct route_table *t, char *iface, size_t size)
{
    const struct route_entry *best = NULL;
    for (size_t i = 0; i < t->count; i++)
        if (t->e[i].mask == 0 && !(t->e[i].flags & RTF_REJECT_FLAG) && (!best || t->e[i].metric < best->metric))
            best = &t->e[i];
    if (best)
        snprintf(iface, size, "%s", best->iface);
    return best != NULL;
}
