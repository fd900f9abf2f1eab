/* CIDR parsing, containment and the prefix index (see prefix.h for the design). */
#include "probe/diag/prefix.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Parsing ---------------------------------------------------------------------------------- */

/* Decimal number of 1..maxdigits digits without a leading zero (except "0" itself) and at most
 * maxval; advances *s past it. Strict, because "010" means 8 to inet_aton and 10 to a human. */
static bool parse_dec(const char **s, unsigned maxdigits, unsigned maxval, unsigned *out)
{
    const char *p = *s;
    unsigned v = 0, n = 0;
    while (*p >= '0' && *p <= '9' && n < maxdigits + 1) {
        v = v * 10 + (unsigned)(*p - '0');
        p++;
        n++;
    }
    if (n == 0 || n > maxdigits || (n > 1 && **s == '0') || v > maxval)
        return false;
    *s = p;
    *out = v;
    return true;
}

/* Four dot-separated octets; *end points just past the last one. */
static bool parse_quad(const char *s, uint32_t *ip, const char **end)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned octet;
        if (i > 0 && *s++ != '.')
            return false;
        if (!parse_dec(&s, 3, 255, &octet))
            return false;
        v = v << 8 | octet;
    }
    *ip = v;
    *end = s;
    return true;
}

bool ip4_parse(const char *s, uint32_t *ip)
{
    const char *end;
    uint32_t v;
    if (!s || !parse_quad(s, &v, &end) || *end != '\0')
        return false;
    *ip = v;
    return true;
}

/* "addr" or "addr/len" for IPv6, checked with inet_pton so only real IPv6 text counts as V6 (a
 * loader then skips it silently instead of reporting junk). */
static bool is_v6(const char *s, unsigned *flags)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    char addr[INET6_ADDRSTRLEN + 8];
    unsigned char bin[16];
    if (alen == 0 || alen >= sizeof addr || !memchr(s, ':', alen))
        return false;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    if (inet_pton(AF_INET6, addr, bin) != 1)
        return false;
    if (slash) {
        const char *p = slash + 1;
        unsigned len;
        if (!parse_dec(&p, 3, 128, &len) || *p != '\0')
            return false;
    } else if (flags) {
        *flags |= PREFIX_F_NOLEN;
    }
    return true;
}

enum prefix_kind prefix_parse(const char *s, struct prefix4 *out, unsigned *flags)
{
    unsigned f = 0;
    const char *p;
    uint32_t ip;
    unsigned len = 32;
    if (flags)
        *flags = 0;
    if (!s)
        return PREFIX_INVALID;
    if (!parse_quad(s, &ip, &p))
        return is_v6(s, flags) ? PREFIX_V6 : PREFIX_INVALID;
    if (*p == '/') {
        p++;
        if (!parse_dec(&p, 2, 32, &len))
            return PREFIX_INVALID;
    } else {
        f |= PREFIX_F_NOLEN;
    }
    if (*p != '\0')
        return PREFIX_INVALID;
    uint32_t mask = prefix4_mask((uint8_t)len);
    if (ip & ~mask)
        f |= PREFIX_F_HOSTBITS;
    if (out) {
        out->net = ip & mask;
        out->len = (uint8_t)len;
    }
    if (flags)
        *flags = f;
    return PREFIX_V4;
}

bool prefix4_parse(const char *s, struct prefix4 *out)
{
    struct prefix4 tmp;
    if (prefix_parse(s, &tmp, NULL) != PREFIX_V4)
        return false;
    *out = tmp;
    return true;
}

/* ---- Arithmetic ------------------------------------------------------------------------------- */

uint32_t prefix4_mask(uint8_t len)
{
    /* Shifting a 32-bit value by 32 is undefined, hence the special case. */
    return len == 0 ? 0 : len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
}

bool prefix4_contains(const struct prefix4 *p, uint32_t ip)
{
    return (ip & prefix4_mask(p->len)) == p->net;
}

bool prefix4_covers(const struct prefix4 *outer, const struct prefix4 *inner)
{
    return outer->len <= inner->len && prefix4_contains(outer, inner->net);
}

uint32_t prefix4_last(const struct prefix4 *p)
{
    return p->net | ~prefix4_mask(p->len);
}

char *ip4_format(uint32_t ip, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", ip >> 24, ip >> 16 & 0xff, ip >> 8 & 0xff, ip & 0xff);
    return buf;
}

char *prefix4_format(const struct prefix4 *p, char *buf, size_t size)
{
    char ip[IP4_STRLEN];
    snprintf(buf, size, "%s/%u", ip4_format(p->net, ip, sizeof ip), (unsigned)p->len);
    return buf;
}

/* ---- The index -------------------------------------------------------------------------------- */

struct pfx_entry {
    uint32_t net;
    uint32_t id;
    uint8_t len;
};

/* One unique prefix of the laminar forest; its payload ids are ids[ids_off .. ids_off+ids_n). */
struct pfx_node {
    uint32_t net;
    uint32_t ids_off;
    uint32_t ids_n;
    int32_t parent; /* nearest enclosing prefix, -1 at a root */
    uint8_t len;
};

struct prefix_index {
    struct pfx_entry *ent;  /* input, freed by build */
    size_t nent, cap;
    size_t nadded;          /* entries ever added, for prefix_index_entries() */
    struct pfx_node *node;
    size_t nnode;
    uint32_t *ids;
    size_t nids;
    /* Elementary intervals: iv_start sorted ascending; interval k is [iv_start[k], iv_start[k+1])
     * and its deepest covering prefix is iv_node[k] (-1: none). Two arrays, so the binary search
     * touches only the starts. */
    uint32_t *iv_start;
    int32_t *iv_node;
    size_t niv;
    bool built;
};

struct prefix_index *prefix_index_new(void)
{
    return calloc(1, sizeof(struct prefix_index));
}

int prefix_index_add(struct prefix_index *ix, const struct prefix4 *p, uint32_t id)
{
    if (!ix || ix->built || p->len > 32 || ix->nent >= UINT32_MAX - 1)
        return -1;
    if (ix->nent == ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 256;
        struct pfx_entry *e = realloc(ix->ent, cap * sizeof *e);
        if (!e)
            return -1;
        ix->ent = e;
        ix->cap = cap;
    }
    /* Normalise here too: the index relies on host bits being zero. */
    ix->ent[ix->nent++] = (struct pfx_entry){p->net & prefix4_mask(p->len), id, p->len};
    ix->nadded++;
    return 0;
}

/* Address order, enclosing prefixes before the prefixes they contain, then payload id. */
static int entry_cmp(const void *a, const void *b)
{
    const struct pfx_entry *x = a, *y = b;
    if (x->net != y->net)
        return x->net < y->net ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Sorted entries -> unique nodes with their id lists (duplicate (prefix, id) pairs dropped). */
static int build_nodes(struct prefix_index *ix)
{
    ix->node = malloc((ix->nent ? ix->nent : 1) * sizeof *ix->node);
    ix->ids = malloc((ix->nent ? ix->nent : 1) * sizeof *ix->ids);
    if (!ix->node || !ix->ids)
        return -1;
    for (size_t i = 0; i < ix->nent; i++) {
        const struct pfx_entry *e = &ix->ent[i];
        struct pfx_node *last = ix->nnode ? &ix->node[ix->nnode - 1] : NULL;
        if (!last || last->net != e->net || last->len != e->len) {
            last = &ix->node[ix->nnode++];
            *last = (struct pfx_node){e->net, (uint32_t)ix->nids, 0, -1, e->len};
        } else if (ix->ids[ix->nids - 1] == e->id) {
            continue;
        }
        ix->ids[ix->nids++] = e->id;
        last->ids_n++;
    }
    return 0;
}

static uint64_t node_end(const struct pfx_node *n)
{
    return (uint64_t)n->net + ((uint64_t)1 << (32 - n->len)); /* one past the last address */
}

/* Append an interval start; a later start at the same address overrides (a prefix beginning
 * exactly where another ends, or a child starting at its parent's first address). */
static void emit(struct prefix_index *ix, uint64_t pos, int32_t node)
{
    if (pos > UINT32_MAX)
        return;
    if (ix->niv && ix->iv_start[ix->niv - 1] == (uint32_t)pos) {
        ix->iv_node[ix->niv - 1] = node;
        return;
    }
    ix->iv_start[ix->niv] = (uint32_t)pos;
    ix->iv_node[ix->niv++] = node;
}

/* Sweep the nodes (already in address order, parents first) with a stack of open prefixes: each
 * node opens an interval at its start; closing it reopens its parent (or nothing) after its end. */
static int build_intervals(struct prefix_index *ix)
{
    size_t cap = 2 * ix->nnode + 1;
    int32_t *stack = malloc((ix->nnode ? ix->nnode : 1) * sizeof *stack); /* depth <= 33 really */
    ix->iv_start = malloc(cap * sizeof *ix->iv_start);
    ix->iv_node = malloc(cap * sizeof *ix->iv_node);
    if (!stack || !ix->iv_start || !ix->iv_node) {
        free(stack);
        return -1;
    }
    size_t sp = 0;
    for (size_t i = 0; i <= ix->nnode; i++) {
        uint64_t start = i < ix->nnode ? ix->node[i].net : (uint64_t)UINT32_MAX + 1;
        while (sp && node_end(&ix->node[stack[sp - 1]]) <= start) {
            uint64_t end = node_end(&ix->node[stack[--sp]]);
            emit(ix, end, sp ? stack[sp - 1] : -1);
        }
        if (i == ix->nnode)
            break;
        ix->node[i].parent = sp ? stack[sp - 1] : -1;
        stack[sp++] = (int32_t)i;
        emit(ix, start, (int32_t)i);
    }
    free(stack);
    return 0;
}

/* The node and id arrays were sized for the worst case (no duplicates); give back the rest. */
static void shrink(struct prefix_index *ix)
{
    struct pfx_node *n = realloc(ix->node, (ix->nnode ? ix->nnode : 1) * sizeof *n);
    uint32_t *ids = realloc(ix->ids, (ix->nids ? ix->nids : 1) * sizeof *ids);
    if (n)
        ix->node = n;
    if (ids)
        ix->ids = ids;
}

int prefix_index_build(struct prefix_index *ix)
{
    if (!ix)
        return -1;
    if (ix->built)
        return 0;
    if (ix->nent > INT32_MAX)
        return -1;
    if (ix->nent) /* ent is NULL when nothing was added; qsort's pointer must not be */
        qsort(ix->ent, ix->nent, sizeof *ix->ent, entry_cmp);
    if (build_nodes(ix) != 0 || build_intervals(ix) != 0)
        return -1;
    free(ix->ent);
    ix->ent = NULL;
    ix->cap = 0;
    shrink(ix);
    ix->built = true;
    return 0;
}

/* Index of the last interval starting at or before ip, or -1. */
static ptrdiff_t find_interval(const struct prefix_index *ix, uint32_t ip)
{
    size_t lo = 0, hi = ix->niv; /* answer in [lo-1, hi-1] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->iv_start[mid] <= ip)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

static bool seen(const uint32_t *ids, size_t n, uint32_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

size_t prefix_index_lookup_ex(const struct prefix_index *ix, uint32_t ip, uint32_t *out_ids,
                              struct prefix4 *out_pfx, size_t max)
{
    if (!ix || !ix->built || max == 0 || !out_ids)
        return 0;
    ptrdiff_t k = find_interval(ix, ip);
    size_t n = 0;
    for (int32_t v = k < 0 ? -1 : ix->iv_node[k]; v >= 0 && n < max; v = ix->node[v].parent) {
        const struct pfx_node *node = &ix->node[v];
        for (uint32_t j = 0; j < node->ids_n && n < max; j++) {
            uint32_t id = ix->ids[node->ids_off + j];
            if (seen(out_ids, n, id)) /* already reported at a more specific prefix */
                continue;
            if (out_pfx)
                out_pfx[n] = (struct prefix4){node->net, node->len};
            out_ids[n++] = id;
        }
    }
    return n;
}

size_t prefix_index_lookup(const struct prefix_index *ix, uint32_t ip, uint32_t *out_ids, size_t max)
{
    return prefix_index_lookup_ex(ix, ip, out_ids, NULL, max);
}

size_t prefix_index_entries(const struct prefix_index *ix)
{
    return ix ? ix->nadded : 0;
}

size_t prefix_index_prefixes(const struct prefix_index *ix)
{
    return ix ? ix->nnode : 0;
}

size_t prefix_index_memory(const struct prefix_index *ix)
{
    if (!ix)
        return 0;
    return sizeof *ix + ix->cap * sizeof *ix->ent + ix->nnode * sizeof *ix->node +
           ix->nids * sizeof *ix->ids + ix->niv * (sizeof *ix->iv_start + sizeof *ix->iv_node);
}

void prefix_index_free(struct prefix_index *ix)
{
    if (!ix)
        return;
    free(ix->ent);
    free(ix->node);
    free(ix->ids);
    free(ix->iv_start);
    free(ix->iv_node);
    free(ix);
}
