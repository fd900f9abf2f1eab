/* Offline IP flow verify (nsg-routes-tags.md section 4) over the rule model of nsg.h.
 *
 * Speed: an NSG can hold 1,000 rules of 4,000 prefixes each, and a linear walk would test millions
 * of prefixes per flow. So nsg_prepare builds, per direction, a first-match index (struct rix) over
 * the remote side (destination when outbound) of every rule whose remote side is plain prefixes.
 * CIDR blocks are nested or disjoint, so the prefixes form a forest; each node lists the rules that
 * name it, by position in priority order. A flow finds its deepest node (a 64K-entry table on the
 * top bits, then a binary search inside one bucket of elementary intervals); the nodes from there to
 * the root are exactly the prefixes containing the address. Each interval also carries the lowest
 * few positions of that whole chain, so usually one 32-byte entry is read: its positions and the
 * list of rules the index cannot answer for ("*", unexpanded tags, ASGs) are merged in ascending
 * order, and the walk stops at the first rule that matches on protocol, ports and local side - the
 * first match in priority order. Only when none of those few matches is the chain walked. A lookup
 * is memory-bound (about three cache misses), which is why the layout is what it is.
 *
 * Why not prefix_index (prefix.h) here: it reports candidates most specific first, so a first match
 * would need all of them, and its lookup deduplicates in O(candidates^2); at 4M prefixes a dense
 * address has ~200 candidates (17 us a lookup). It still indexes large rule sides and the routes. */
#include "probe/diag/nsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

enum tri { T_NO = 0, T_YES = 1, T_UNK = 2 };

#define POS_NONE UINT32_MAX
#define SIDE_INDEX_MIN 16   /* sides with more entries get their own prefix index */

/* ---- The first-match index (struct rix) -------------------------------------------------------- */

#define RIX_FIRST 7 /* 32-byte entries: line-aligned; K=7 measured ~28% faster than K=3 on dense data */
#define RIX_END UINT32_MAX  /* an unused first[] slot */
#define RIX_COMPLETE 0x80000000u /* in rix_fast.node: first[] holds the whole chain */
#define RIX_TOP_MIN 8       /* top table bits: sized so a bucket spans about a cache line */
#define RIX_TOP_MAX 19

/* One unique prefix of the forest (the slow path walks these). */
struct rix_node {
    int32_t parent;         /* nearest enclosing prefix, -1 at a root */
    uint32_t ids_off;       /* its own ids: ids[ids_off .. ids_off + ids_n), ascending */
    uint16_t ids_n;
    uint8_t len;
};

/* An id: the rule's position in priority order, the length of the prefix it names here, and whether
 * that prefix came from the expansion. Ids sort by position; every prefix on a chain contains the
 * address looked up, so (address, length) is the prefix that matched - no second lookup to report. */
#define ID_MAKE(pos, len, exp) ((uint32_t)(pos) << 7 | (uint32_t)(len) << 1 | (uint32_t)(exp))
#define ID_POS(id) ((id) >> 7)
#define ID_LEN(id) ((uint8_t)((id) >> 1 & 0x3f))
#define ID_EXP(id) ((id) & 1)
#define POS_MAX (UINT32_MAX >> 8)

/* What the common lookup needs about one elementary interval, in one 32-byte entry. */
struct rix_fast {
    uint32_t node;              /* deepest prefix + 1 (0: none), | RIX_COMPLETE */
    uint32_t first[RIX_FIRST];  /* the lowest ids of its chain, ascending, RIX_END-padded */
};

struct rix {
    struct rix_node *node;
    uint32_t *ids;              /* ID_MAKE(...) */
    size_t n, nids;
    uint32_t *start;            /* elementary intervals' first addresses, ascending: the search array */
    struct rix_fast *fast;      /* per interval */
    size_t niv;
    uint32_t *top;              /* top[h]: the first interval starting at or after h << (32 - top_bits) */
    unsigned top_bits;
};

struct dirprep {
    uint32_t *order;        /* position -> rule index, in priority order */
    size_t n;
    struct rix *ix;         /* remote prefixes of indexable rules */
    uint32_t *always;       /* ID_MAKE(position, 0, 0) of rules the index cannot answer for, ascending */
    size_t nalways;
    uint32_t first_remote_asg; /* lowest position of a rule with a remote ASG side, or POS_NONE */
};

struct nsg_prep {
    struct dirprep d[2];
};

/* What a tag is, decided once in nsg_prepare so matching compares no strings. */
enum tag_kind { TK_SERVICE = 0, TK_VNET, TK_INTERNET, TK_LB, TK_WIRESERVER, TK_IMDS };

/* ---- Names ----------------------------------------------------------------------------------- */

const char *nsg_result_name(enum nsg_result r)
{
    static const char *const n[] = {"allowed", "denied", "indeterminate", "exempt"};
    return (unsigned)r < 4 ? n[r] : "?";
}

const char *nsg_step_name(enum nsg_step_outcome o)
{
    static const char *const n[] = {"allow", "deny", "indeterminate", "no NSG", "NSG not loaded", "not evaluated"};
    return (unsigned)o < 6 ? n[o] : "?";
}

const char *nsg_assoc_name(unsigned assoc)
{
    if (assoc == NSG_ASSOC_NIC || assoc == NSG_ASSOC_SUBNET)
        return assoc == NSG_ASSOC_NIC ? "NIC" : "subnet";
    return assoc ? "NIC and subnet" : "unattached";
}

const char *nsg_access_name(enum nsg_access a)
{
    return a == NSG_DENY ? "Deny" : "Allow";
}

const char *nsg_dir_name(enum nsg_dir d)
{
    return d == NSG_INBOUND ? "Inbound" : "Outbound";
}

const char *nsg_proto_name(enum nsg_proto p)
{
    static const char *const n[] = {"*", "Tcp", "Udp", "Icmp", "Esp", "Ah"};
    return (unsigned)p < 6 ? n[p] : "?";
}

/* ---- Preparation ------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    enum nsg_dir dir;
    int priority;
    const char *src, *dst;
    enum nsg_access access;
} default_rules[] = {
    {"AllowVnetInBound", NSG_INBOUND, 65000, "VirtualNetwork", "VirtualNetwork", NSG_ALLOW},
    {"AllowAzureLoadBalancerInBound", NSG_INBOUND, 65001, "AzureLoadBalancer", "*", NSG_ALLOW},
    {"DenyAllInBound", NSG_INBOUND, 65500, "*", "*", NSG_DENY},
    {"AllowVnetOutBound", NSG_OUTBOUND, 65000, "VirtualNetwork", "VirtualNetwork", NSG_ALLOW},
    {"AllowInternetOutBound", NSG_OUTBOUND, 65001, "*", "Internet", NSG_ALLOW},
    {"DenyAllOutBound", NSG_OUTBOUND, 65500, "*", "*", NSG_DENY},
};

static bool has_default(const struct nsg *nsg, const char *name, enum nsg_dir dir)
{
    for (size_t i = 0; i < nsg->nrules; i++)
        if (nsg->rules[i].kind == NSG_RULE_DEFAULT && nsg->rules[i].dir == dir &&
            strcasecmp(nsg->rules[i].name, name) == 0)
            return true;
    return false;
}

/* Azure applies the six defaults to every NSG; exports made with --query or by hand may lack them. */
static int add_missing_defaults(struct nsg *nsg)
{
    for (size_t i = 0; i < sizeof default_rules / sizeof default_rules[0]; i++) {
        if (has_default(nsg, default_rules[i].name, default_rules[i].dir))
            continue;
        struct nsg_rule *r = nsg_add_rule(nsg, default_rules[i].name, NSG_RULE_DEFAULT, default_rules[i].priority,
                                          default_rules[i].dir, default_rules[i].access, NSG_PROTO_ANY);
        if (!r || nsg_side_add(&r->src, default_rules[i].src) != 0 || nsg_side_add(&r->dst, default_rules[i].dst) != 0)
            return -1;
        snprintf(r->display, sizeof r->display, "defaultSecurityRules/%.64s", r->name);
        r->synthesized = true;
    }
    return 0;
}

static int port_cmp(const void *a, const void *b)
{
    const struct nsg_ports *x = a, *y = b;
    return x->lo != y->lo ? (x->lo < y->lo ? -1 : 1) : (x->hi < y->hi ? -1 : x->hi > y->hi);
}

/* Sorted, overlapping and adjacent ranges merged; none at all means every port. */
static int normalise_ports(struct nsg_ports **arr, size_t *n)
{
    if (*n == 0) {
        *arr = malloc(sizeof **arr);
        if (!*arr)
            return -1;
        (*arr)[0] = (struct nsg_ports){0, 65535};
        *n = 1;
        return 0;
    }
    qsort(*arr, *n, sizeof **arr, port_cmp);
    size_t k = 0;
    for (size_t i = 1; i < *n; i++) {
        if ((uint32_t)(*arr)[i].lo <= (uint32_t)(*arr)[k].hi + 1) {
            if ((*arr)[i].hi > (*arr)[k].hi)
                (*arr)[k].hi = (*arr)[i].hi;
        } else {
            (*arr)[++k] = (*arr)[i];
        }
    }
    *n = k + 1;
    return 0;
}

static bool side_never(const struct nsg_side *s)
{
    return !s->any && !s->npfx && !s->nexp && (s->has_expanded || (!s->ntags && !s->nasgs));
}

static bool side_indexable(const struct nsg_side *s)
{
    return !s->any && (s->has_expanded || (!s->ntags && !s->nasgs));
}

static unsigned char classify_tag(const char *t)
{
    if (strcasecmp(t, "VirtualNetwork") == 0)
        return TK_VNET;
    if (strcasecmp(t, "Internet") == 0)
        return TK_INTERNET;
    if (strcasecmp(t, "AzureLoadBalancer") == 0)
        return TK_LB;
    if (strcasecmp(t, "AzurePlatformDNS") == 0 || strcasecmp(t, "AzurePlatformLKM") == 0)
        return TK_WIRESERVER;
    if (strcasecmp(t, "AzurePlatformIMDS") == 0)
        return TK_IMDS;
    return TK_SERVICE;
}

static int classify_tags(struct nsg_side *s)
{
    free(s->tag_kind);
    s->tag_kind = NULL;
    if (!s->ntags)
        return 0;
    s->tag_kind = malloc(s->ntags);
    if (!s->tag_kind)
        return -1;
    for (size_t i = 0; i < s->ntags; i++)
        s->tag_kind[i] = classify_tag(s->tags[i]);
    return 0;
}

/* AzurePlatformDNS / IMDS / LKM: the only rules platform traffic is subject to. */
static bool side_platform(const struct nsg_side *s)
{
    for (size_t i = 0; i < s->ntags; i++)
        if (s->tag_kind[i] == TK_WIRESERVER || s->tag_kind[i] == TK_IMDS)
            return true;
    return false;
}

/* A side's own index, for sides the NSG-wide index does not cover. */
static int index_side(struct nsg_side *s)
{
    if (s->ix || s->npfx + s->nexp <= SIDE_INDEX_MIN)
        return 0;
    s->ix = prefix_index_new();
    if (!s->ix)
        return -1;
    for (size_t i = 0; i < s->npfx; i++)
        if (prefix_index_add(s->ix, &s->pfx[i], 0) != 0)
            return -1;
    for (size_t i = 0; i < s->nexp; i++)
        if (prefix_index_add(s->ix, &s->exp[i], 1) != 0)
            return -1;
    return prefix_index_build(s->ix);
}

static bool side_empty(const struct nsg_side *s)
{
    return !s->any && !s->npfx && !s->ntags && !s->nasgs && !s->has_expanded && !s->ipv6;
}

static int finish_rule(struct nsg_rule *r)
{
    /* Hand-built rules may leave a side empty: that means "*" (files cannot, the reader refuses). */
    if (side_empty(&r->src))
        r->src.any = true;
    if (side_empty(&r->dst))
        r->dst.any = true;
    if (classify_tags(&r->src) != 0 || classify_tags(&r->dst) != 0)
        return -1;
    r->platform_tag = side_platform(&r->src) || side_platform(&r->dst);
    if (normalise_ports(&r->sports, &r->nsports) != 0 || normalise_ports(&r->dports, &r->ndports) != 0)
        return -1;
    struct nsg_side *remote = r->dir == NSG_OUTBOUND ? &r->dst : &r->src;
    struct nsg_side *local = r->dir == NSG_OUTBOUND ? &r->src : &r->dst;
    if (index_side(local) != 0 || (!side_indexable(remote) && index_side(remote) != 0))
        return -1;
    return 0;
}

struct order_key {
    int priority;
    unsigned seq;
    uint32_t idx;
};

static int order_cmp(const void *a, const void *b)
{
    const struct order_key *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int sort_direction(const struct nsg *nsg, enum nsg_dir dir, struct dirprep *d)
{
    size_t cap = nsg->nrules ? nsg->nrules : 1;
    struct order_key *keys = malloc(cap * sizeof *keys);
    d->order = malloc(cap * sizeof *d->order);
    d->always = malloc(cap * sizeof *d->always);
    if (!keys || !d->order || !d->always) {
        free(keys);
        return -1;
    }
    for (size_t i = 0; i < nsg->nrules; i++)
        if (nsg->rules[i].dir == dir)
            keys[d->n++] = (struct order_key){nsg->rules[i].priority, nsg->rules[i].seq, (uint32_t)i};
    qsort(keys, d->n, sizeof *keys, order_cmp);
    for (size_t i = 0; i < d->n; i++)
        d->order[i] = keys[i].idx;
    free(keys);
    return 0;
}

struct rix_entry {
    uint32_t net;
    uint32_t id;
    uint8_t len;
};

/* Address order, enclosing prefixes before those they contain, then id: the forest's order. */
static int rix_entry_cmp(const void *a, const void *b)
{
    const struct rix_entry *x = a, *y = b;
    if (x->net != y->net)
        return x->net < y->net ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void rix_free(struct rix *x)
{
    if (!x)
        return;
    free(x->node);
    free(x->ids);
    free(x->start);
    free(x->fast);
    free(x->top);
    free(x);
}

/* Sorted entries -> unique nodes with their id lists and parents. A node's ancestors are on the
 * stack when it is reached (sorted order visits a prefix before everything inside it); the stack
 * never holds more than 33 prefixes, each strictly longer than the one below it. */
static void rix_nodes(struct rix *x, const struct rix_entry *e, size_t n, uint32_t *net, uint32_t *lastaddr)
{
    int32_t stack[33];
    int sp = 0;
    for (size_t i = 0; i < n; i++) {
        struct rix_node *last = x->n ? &x->node[x->n - 1] : NULL;
        if (last && net[x->n - 1] == e[i].net && last->len == e[i].len) {
            /* A rule naming the same prefix twice counts once (explicitly, if it does so at all). */
            if (ID_POS(x->ids[x->nids - 1]) != ID_POS(e[i].id) && last->ids_n < UINT16_MAX) {
                x->ids[x->nids++] = e[i].id;
                last->ids_n++;
            }
            continue;
        }
        struct prefix4 p = {e[i].net, e[i].len};
        while (sp > 0 && lastaddr[stack[sp - 1]] < p.net)
            sp--;
        net[x->n] = p.net;
        lastaddr[x->n] = prefix4_last(&p);
        x->node[x->n] = (struct rix_node){sp ? stack[sp - 1] : -1, (uint32_t)x->nids, 1, p.len};
        x->ids[x->nids++] = e[i].id;
        if (sp < 33)
            stack[sp++] = (int32_t)x->n;
        x->n++;
    }
}

/* An open prefix during the interval sweep, with its chain's lowest ids. */
struct rix_open {
    int32_t node;
    bool complete;
    uint32_t first[RIX_FIRST];
};

/* first[] of node v from its own ids and its parent's first[] (NULL at a root). */
static void rix_first(const struct rix *x, int32_t v, const struct rix_open *parent, struct rix_open *out)
{
    const uint32_t *a = &x->ids[x->node[v].ids_off], *b = parent ? parent->first : NULL;
    size_t na = x->node[v].ids_n, nb = 0, i = 0, j = 0, k = 0;
    while (parent && nb < RIX_FIRST && parent->first[nb] != RIX_END)
        nb++;
    while (k < RIX_FIRST && (i < na || j < nb)) {
        /* On the same position the node's own id wins: it is the more specific prefix. */
        bool take_a = j >= nb || (i < na && ID_POS(a[i]) <= ID_POS(b[j]));
        uint32_t id = take_a ? a[i] : b[j];
        if (i < na && ID_POS(a[i]) == ID_POS(id))
            i++;
        if (j < nb && ID_POS(b[j]) == ID_POS(id))
            j++;
        out->first[k++] = id;
    }
    while (k < RIX_FIRST)
        out->first[k++] = RIX_END;
    out->node = v;
    out->complete = (!parent || parent->complete) && i == na && j == nb;
}

/* Append an interval; a later one starting at the same address replaces it (a prefix opening where
 * another closes, or a child starting at its parent's first address). */
static void rix_emit(struct rix *x, uint64_t start, const struct rix_open *o)
{
    if (start > UINT32_MAX)
        return;
    if (!x->niv || x->start[x->niv - 1] != (uint32_t)start)
        x->start[x->niv++] = (uint32_t)start;
    struct rix_fast *f = &x->fast[x->niv - 1];
    if (!o) {
        f->node = RIX_COMPLETE;
        for (int k = 0; k < RIX_FIRST; k++)
            f->first[k] = RIX_END;
        return;
    }
    f->node = (uint32_t)(o->node + 1) | (o->complete ? RIX_COMPLETE : 0u);
    memcpy(f->first, o->first, sizeof f->first);
}

/* Sweep the nodes in address order with a stack of open prefixes: each opens an interval at its
 * start; closing one reopens the prefix around it (or nothing) just after its end. */
static void rix_intervals(struct rix *x, const uint32_t *net, const uint32_t *lastaddr)
{
    struct rix_open stack[33];
    int sp = 0;
    for (size_t i = 0; i <= x->n; i++) {
        uint64_t start = i < x->n ? net[i] : (uint64_t)UINT32_MAX + 1;
        while (sp > 0 && lastaddr[stack[sp - 1].node] < start) {
            uint64_t end = (uint64_t)lastaddr[stack[--sp].node] + 1;
            rix_emit(x, end, sp ? &stack[sp - 1] : NULL);
        }
        if (i == x->n || sp >= 33)
            break;
        rix_first(x, (int32_t)i, sp ? &stack[sp - 1] : NULL, &stack[sp]);
        rix_emit(x, start, &stack[sp++]);
    }
}

/* The index's large arrays, on transparent huge pages where the kernel offers them: lookups are a
 * few random reads into hundreds of MB, and with 4 KB pages each also misses the TLB (worse in a
 * VM, where a page walk is two-dimensional); 2 MB pages took ~15% off a lookup in bench-nsg. A hint
 * only: without it, or where it fails, the memory is ordinary. Freed with free(). */
static void *big_alloc(size_t n)
{
#ifdef MADV_HUGEPAGE
    void *p = NULL;
    if (n >= (4u << 20) && posix_memalign(&p, 2u << 20, n) == 0) {
        madvise(p, n, MADV_HUGEPAGE);
        return p;
    }
#endif
    return malloc(n);
}

static int rix_top(struct rix *x)
{
    x->top_bits = RIX_TOP_MIN;
    while (x->top_bits < RIX_TOP_MAX && (x->niv >> x->top_bits) > 12)
        x->top_bits++;
    size_t buckets = (size_t)1 << x->top_bits, j = 0;
    unsigned shift = 32 - x->top_bits;
    x->top = big_alloc((buckets + 1) * sizeof *x->top);
    if (!x->top)
        return -1;
    for (uint64_t h = 0; h <= buckets; h++) {
        while (j < x->niv && x->start[j] < (h << shift))
            j++;
        x->top[h] = (uint32_t)j;
    }
    return 0;
}

/* Takes ownership of e (sorted, then freed). */
static struct rix *rix_build(struct rix_entry *e, size_t n)
{
    struct rix *x = calloc(1, sizeof *x);
    size_t cap = n ? n : 1;
    uint32_t *net = malloc(cap * sizeof *net), *lastaddr = malloc(cap * sizeof *lastaddr);
    if (x && n <= INT32_MAX && net && lastaddr) {
        qsort(e, n, sizeof *e, rix_entry_cmp);
        x->node = big_alloc(cap * sizeof *x->node);
        x->ids = big_alloc(cap * sizeof *x->ids);
        x->start = big_alloc((2 * cap + 1) * sizeof *x->start);
        x->fast = big_alloc((2 * cap + 1) * sizeof *x->fast);
    }
    bool ok = x && x->node && x->ids && x->start && x->fast;
    if (ok) {
        rix_nodes(x, e, n, net, lastaddr);
        free(e);
        e = NULL;
        rix_intervals(x, net, lastaddr);
        ok = rix_top(x) == 0;
    }
    free(e);
    free(net);
    free(lastaddr);
    if (!ok) {
        rix_free(x);
        return NULL;
    }
    return x;
}

/* The elementary interval holding ip, or NULL before the first one. */
static const struct rix_fast *rix_find(const struct rix *x, uint32_t ip)
{
    unsigned shift = 32 - x->top_bits;
    size_t lo = x->top[ip >> shift], hi = x->top[(ip >> shift) + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x->start[mid] <= ip)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &x->fast[lo - 1] : NULL;
}

static size_t count_entries(const struct nsg *nsg, const struct dirprep *d, enum nsg_dir dir)
{
    size_t n = 0;
    for (size_t pos = 0; pos < d->n; pos++) {
        const struct nsg_rule *r = &nsg->rules[d->order[pos]];
        const struct nsg_side *s = dir == NSG_OUTBOUND ? &r->dst : &r->src;
        if (side_indexable(s))
            n += s->npfx + s->nexp;
    }
    return n;
}

static int build_direction(const struct nsg *nsg, enum nsg_dir dir, struct dirprep *d)
{
    if (sort_direction(nsg, dir, d) != 0 || d->n > POS_MAX)
        return -1;
    size_t total = count_entries(nsg, d, dir), k = 0;
    struct rix_entry *e = malloc((total ? total : 1) * sizeof *e);
    if (!e)
        return -1;
    d->first_remote_asg = POS_NONE;
    for (uint32_t pos = 0; pos < d->n; pos++) {
        const struct nsg_rule *r = &nsg->rules[d->order[pos]];
        const struct nsg_side *s = dir == NSG_OUTBOUND ? &r->dst : &r->src;
        if (s->nasgs && !s->has_expanded && d->first_remote_asg == POS_NONE)
            d->first_remote_asg = pos;
        if (side_never(s))
            continue; /* IPv6 only, or a tag expanding to nothing: matches no IPv4 flow */
        if (!side_indexable(s)) {
            d->always[d->nalways++] = ID_MAKE(pos, 0, 0);
            continue;
        }
        for (size_t i = 0; i < s->npfx; i++)
            e[k++] = (struct rix_entry){s->pfx[i].net & prefix4_mask(s->pfx[i].len), ID_MAKE(pos, s->pfx[i].len, 0),
                                        s->pfx[i].len};
        for (size_t i = 0; i < s->nexp; i++)
            e[k++] = (struct rix_entry){s->exp[i].net & prefix4_mask(s->exp[i].len), ID_MAKE(pos, s->exp[i].len, 1),
                                        s->exp[i].len};
    }
    d->ix = rix_build(e, k);
    return d->ix ? 0 : -1;
}

void nsg_unprepare(struct nsg *nsg)
{
    if (!nsg || !nsg->prep)
        return;
    for (int k = 0; k < 2; k++) {
        free(nsg->prep->d[k].order);
        free(nsg->prep->d[k].always);
        rix_free(nsg->prep->d[k].ix);
    }
    free(nsg->prep);
    nsg->prep = NULL;
}

int nsg_prepare(struct nsg *nsg)
{
    if (!nsg)
        return AZJ_EVALUE;
    if (nsg->prep)
        return 0;
    if (add_missing_defaults(nsg) != 0)
        return AZJ_ENOMEM;
    for (size_t i = 0; i < nsg->nrules; i++)
        if (finish_rule(&nsg->rules[i]) != 0)
            return AZJ_ENOMEM;
    struct nsg_prep *p = calloc(1, sizeof *p);
    if (!p)
        return AZJ_ENOMEM;
    nsg->prep = p;
    if (build_direction(nsg, NSG_OUTBOUND, &p->d[0]) != 0 || build_direction(nsg, NSG_INBOUND, &p->d[1]) != 0) {
        nsg_unprepare(nsg);
        return AZJ_ENOMEM;
    }
    return 0;
}

/* ---- Matching ----------------------------------------------------------------------------------- */

struct ectx {
    const struct nsg_set *set;
    const struct flow *f;
    const struct tag_resolver *tags;
    bool platform;          /* the remote address is 168.63.129.16 or 169.254.169.254 */
};

/* The explanation of one rule's match; only computed for the rules a verdict names. */
struct detail {
    struct nsg_match local, remote;
    unsigned caveats;
    enum nsg_why why;
    char what[NSG_TAG_MAX];
};

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define WIRESERVER IP4(168, 63, 129, 16)
#define IMDS_IP IP4(169, 254, 169, 254)

/* Not part of the Internet tag: the ranges the effective export's Internet expansion leaves out. */
static bool ip_not_internet(uint32_t ip)
{
    static const struct prefix4 special[] = {
        {IP4(0, 0, 0, 0), 8},      {IP4(10, 0, 0, 0), 8},    {IP4(100, 64, 0, 0), 10},  {IP4(127, 0, 0, 0), 8},
        {IP4(169, 254, 0, 0), 16}, {IP4(172, 16, 0, 0), 12}, {IP4(192, 168, 0, 0), 16}, {IP4(224, 0, 0, 0), 3},
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (prefix4_contains(&special[i], ip))
            return true;
    return false;
}

/* The longest prefix of list containing ip. */
static bool list_lookup(const struct prefix4 *list, size_t n, uint32_t ip, struct prefix4 *best)
{
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (prefix4_contains(&list[i], ip) && (!found || list[i].len > best->len)) {
            *best = list[i];
            found = true;
        }
    }
    return found;
}

/* Inside the VNet's own address space (the resolver's extent without catch-all routes). */
static bool in_vnet_space(const struct tag_resolver *t, uint32_t ip)
{
    for (size_t i = 0; t->vnet_known && i < t->nvnet; i++)
        if (t->vnet[i].len > 0 && prefix4_contains(&t->vnet[i], ip))
            return true;
    return false;
}

static void copy_name(char *out, const char *in)
{
    size_t n = in ? strlen(in) : 0;
    if (n >= NSG_TAG_MAX)
        n = NSG_TAG_MAX - 1;
    if (n)
        memcpy(out, in, n);
    out[n] = '\0';
}

static void set_match(struct nsg_match *m, enum nsg_how how, const struct prefix4 *p, const char *tag)
{
    if (!m)
        return;
    m->how = how;
    m->has_prefix = p != NULL;
    if (p)
        m->prefix = *p;
    copy_name(m->tag, tag);
}

static enum tri unknown(struct detail *d, enum nsg_why why, const char *what)
{
    if (d && d->why == NSG_WHY_NONE) {
        d->why = why;
        copy_name(d->what, what);
    }
    return T_UNK;
}

static enum tri vnet_tag(const struct ectx *e, uint32_t ip, bool local, struct nsg_match *m, struct detail *d)
{
    struct prefix4 p;
    if (local) { /* the NIC's own address is in its VNet by definition */
        set_match(m, NSG_HOW_LOCAL, NULL, "VirtualNetwork");
        return T_YES;
    }
    if (!e->tags->vnet_known)
        return unknown(d, NSG_WHY_TAG, "VirtualNetwork");
    if (!list_lookup(e->tags->vnet, e->tags->nvnet, ip, &p))
        return T_NO;
    set_match(m, NSG_HOW_VNET, &p, "VirtualNetwork");
    if (d && p.len == 0)
        d->caveats |= NSG_CAVEAT_FORCED_TUNNEL;
    return T_YES;
}

static enum tri internet_tag(const struct ectx *e, uint32_t ip, bool local, struct nsg_match *m, struct detail *d)
{
    if (local || ip_not_internet(ip))
        return T_NO;
    /* A VNet may use public address space; such addresses can be both (azure-docs #81801). */
    if (in_vnet_space(e->tags, ip))
        return unknown(d, NSG_WHY_VNET_SPACE, "Internet");
    set_match(m, NSG_HOW_HEURISTIC, NULL, "Internet");
    if (d)
        d->caveats |= NSG_CAVEAT_INTERNET_HEURISTIC;
    return T_YES;
}

static enum tri tagmap_match(const struct nsg *nsg, const char *tag, uint32_t ip, struct nsg_match *m,
                             struct detail *d, bool *known)
{
    struct prefix4 p;
    for (size_t i = 0; i < nsg->ntagmap; i++) {
        if (strcasecmp(nsg->tagmap[i].tag, tag) != 0)
            continue;
        *known = true;
        if (!list_lookup(nsg->tagmap[i].pfx, nsg->tagmap[i].n, ip, &p))
            return T_NO;
        set_match(m, NSG_HOW_TAGMAP, &p, tag);
        if (d && p.len == 0 && strcasecmp(tag, "VirtualNetwork") == 0)
            d->caveats |= NSG_CAVEAT_FORCED_TUNNEL;
        return T_YES;
    }
    *known = false;
    return T_NO;
}

/* One tag: the export's tagMap, the fixed-address tags, the caller's service tags, then what can be
 * said about VirtualNetwork and Internet without data. */
static enum tri tag_match(const struct ectx *e, const struct nsg *nsg, const char *tag, unsigned char kind,
                          uint32_t ip, bool local, struct nsg_match *m, struct detail *d)
{
    struct prefix4 p;
    bool known;
    enum tri t = nsg->ntagmap ? tagmap_match(nsg, tag, ip, m, d, &known) : T_NO;
    if (nsg->ntagmap && known)
        return t;
    if (kind == TK_LB || kind == TK_WIRESERVER || kind == TK_IMDS) {
        bool in = ip == (kind == TK_IMDS ? IMDS_IP : WIRESERVER);
        if (in)
            set_match(m, NSG_HOW_BUILTIN, NULL, tag);
        return in ? T_YES : T_NO;
    }
    int rc = e->tags->lookup ? e->tags->lookup(e->tags->ctx, tag, ip, &p) : -1;
    if (rc >= 0) {
        if (rc > 0)
            set_match(m, NSG_HOW_RESOLVER, &p, tag);
        return rc > 0 ? T_YES : T_NO;
    }
    if (kind == TK_VNET)
        return vnet_tag(e, ip, local, m, d);
    if (kind == TK_INTERNET)
        return internet_tag(e, ip, local, m, d);
    return unknown(d, NSG_WHY_TAG, tag);
}

static const char *id_leaf(const char *id)
{
    const char *s = strrchr(id, '/');
    return s ? s + 1 : id;
}

/* ASG ids compare whole when both are ids, by name when one side only has a name. */
static bool same_asg(const char *a, const char *b)
{
    if (strchr(a, '/') && strchr(b, '/'))
        return strcasecmp(a, b) == 0;
    return strcasecmp(id_leaf(a), id_leaf(b)) == 0;
}

static enum tri asg_match(const struct ectx *e, const char *asg, uint32_t ip, bool local, struct nsg_match *m,
                          struct detail *d)
{
    const struct nic_info *nic = &e->set->nic;
    if (local) {
        if (!e->set->nic_attached || !nic->asg_known)
            return unknown(d, NSG_WHY_ASG, id_leaf(asg));
        for (size_t i = 0; i < nic->nasgs; i++) {
            if (same_asg(nic->asgs[i], asg)) {
                set_match(m, NSG_HOW_ASG, NULL, id_leaf(asg));
                return T_YES;
            }
        }
        return T_NO;
    }
    /* Remote ASG members are NICs of the VNet: an address outside the VNet is in none of them. */
    if (e->tags->vnet_known)
        return in_vnet_space(e->tags, ip) ? unknown(d, NSG_WHY_ASG, id_leaf(asg)) : T_NO;
    if (!ip_not_internet(ip)) {
        if (d)
            d->caveats |= NSG_CAVEAT_ASG_PUBLIC;
        return T_NO;
    }
    return unknown(d, NSG_WHY_ASG, id_leaf(asg));
}

/* Explicit or expanded prefix containing ip; *expanded says which list. */
static bool side_prefix(const struct nsg_side *s, uint32_t ip, struct prefix4 *p, bool *expanded)
{
    if (s->ix) {
        uint32_t ids[2];
        struct prefix4 pf[2];
        size_t n = prefix_index_lookup_ex(s->ix, ip, ids, pf, 2);
        if (n == 0)
            return false;
        *p = pf[0];
        *expanded = ids[0] == 1;
        return true;
    }
    struct prefix4 a = {0, 0}, b = {0, 0};
    bool in_a = list_lookup(s->pfx, s->npfx, ip, &a), in_b = list_lookup(s->exp, s->nexp, ip, &b);
    if (!in_a && !in_b)
        return false;
    *expanded = !in_a || (in_b && b.len > a.len);
    *p = *expanded ? b : a;
    return true;
}

static enum tri side_match(const struct ectx *e, const struct nsg *nsg, const struct nsg_side *s, uint32_t ip,
                           bool local, struct detail *d)
{
    struct nsg_match *m = d ? (local ? &d->local : &d->remote) : NULL;
    struct prefix4 p;
    bool expanded;
    if (s->any) {
        set_match(m, NSG_HOW_ANY, NULL, NULL);
        return T_YES;
    }
    if (side_prefix(s, ip, &p, &expanded)) {
        set_match(m, expanded ? NSG_HOW_EXPANDED : NSG_HOW_PREFIX, &p, expanded && s->ntags ? s->tags[0] : NULL);
        if (d && expanded && p.len == 0 && s->ntags && s->tag_kind[0] == TK_VNET)
            d->caveats |= NSG_CAVEAT_FORCED_TUNNEL;
        return T_YES;
    }
    if (s->has_expanded) /* the expansion already stands for the tags and ASGs */
        return T_NO;
    enum tri r = T_NO;
    for (size_t i = 0; i < s->ntags; i++) {
        enum tri t = tag_match(e, nsg, s->tags[i], s->tag_kind[i], ip, local, m, d);
        if (t == T_YES)
            return T_YES;
        if (t == T_UNK)
            r = T_UNK;
    }
    for (size_t i = 0; i < s->nasgs; i++) {
        enum tri t = asg_match(e, s->asgs[i], ip, local, m, d);
        if (t == T_YES)
            return T_YES;
        if (t == T_UNK)
            r = T_UNK;
    }
    return r;
}

static bool port_in(const struct nsg_ports *r, size_t n, int port)
{
    for (size_t i = 0; i < n; i++) {
        if (port < r[i].lo)
            return false; /* sorted */
        if (port <= r[i].hi)
            return true;
    }
    return false;
}

static bool all_ports(const struct nsg_ports *r, size_t n)
{
    return n == 1 && r[0].lo == 0 && r[0].hi == 65535;
}

/* Protocol and ports. ICMP has no ports: only rules for every port apply to it. */
static enum tri l4_match(const struct nsg_rule *r, const struct flow *f, struct detail *d)
{
    if (r->proto != NSG_PROTO_ANY && r->proto != f->proto)
        return T_NO;
    bool sall = all_ports(r->sports, r->nsports), dall = all_ports(r->dports, r->ndports);
    if (f->proto == NSG_PROTO_ICMP)
        return sall && dall ? T_YES : T_NO;
    if (!dall && !port_in(r->dports, r->ndports, f->dst_port))
        return T_NO;
    if (sall)
        return T_YES;
    if (f->src_port < 0)
        return unknown(d, NSG_WHY_SOURCE_PORT, "source port");
    return port_in(r->sports, r->nsports, f->src_port) ? T_YES : T_NO;
}

static enum tri combine(enum tri a, enum tri b)
{
    return a == T_NO || b == T_NO ? T_NO : a == T_UNK || b == T_UNK ? T_UNK : T_YES;
}

/* Everything but (when skip_remote) the remote side, which the index has already matched. */
static enum tri rule_match(const struct ectx *e, const struct nsg *nsg, const struct nsg_rule *r, bool skip_remote,
                           struct detail *d)
{
    const struct flow *f = e->f;
    bool out = f->dir == NSG_OUTBOUND;
    enum tri t = l4_match(r, f, d);
    if (t == T_NO)
        return T_NO;
    t = combine(t, side_match(e, nsg, out ? &r->src : &r->dst, out ? f->src : f->dst, true, d));
    if (t == T_NO || skip_remote)
        return t;
    return combine(t, side_match(e, nsg, out ? &r->dst : &r->src, out ? f->dst : f->src, false, d));
}

/* ---- One NSG ------------------------------------------------------------------------------------ */

struct scan {
    uint32_t best;              /* position of the first definite match */
    bool best_indexed;          /* its remote side matched through the index, */
    uint32_t best_id;           /* with this id (prefix length, expansion) */
    uint32_t unk[2];            /* lowest position of an unknown match, per access */
};

static void consider(const struct ectx *e, const struct nsg *nsg, const struct dirprep *dp, struct scan *sc,
                     uint32_t id, bool indexed)
{
    uint32_t pos = ID_POS(id);
    const struct nsg_rule *r = &nsg->rules[dp->order[pos]];
    enum tri t = rule_match(e, nsg, r, indexed, NULL);
    if (t == T_YES) {
        sc->best = pos;
        sc->best_indexed = indexed;
        sc->best_id = id;
    } else if (t == T_UNK && pos < sc->unk[r->access]) {
        sc->unk[r->access] = pos;
    }
}

static void scan_linear(const struct ectx *e, const struct nsg *nsg, const struct dirprep *dp, struct scan *sc)
{
    for (uint32_t pos = 0; pos < dp->n && sc->best == POS_NONE; pos++) {
        /* Platform traffic is subject only to rules naming the AzurePlatform* tags. */
        if (e->platform && !nsg->rules[dp->order[pos]].platform_tag)
            continue;
        consider(e, nsg, dp, sc, ID_MAKE(pos, 0, 0), false);
    }
}

/* The common case: the deepest node's first[] merged with the always list. false when that cannot
 * decide (first[] used up, the chain holds more, no definite match yet). */
static bool scan_first(const struct ectx *e, const struct nsg *nsg, const struct dirprep *dp, struct scan *sc,
                       const struct rix_fast *nd)
{
    size_t i = 0, j = 0;
    bool complete = !nd || (nd->node & RIX_COMPLETE);
    while (sc->best == POS_NONE) {
        uint32_t a = nd && i < RIX_FIRST && nd->first[i] != RIX_END ? ID_POS(nd->first[i]) : POS_NONE;
        uint32_t b = j < dp->nalways ? ID_POS(dp->always[j]) : POS_NONE;
        if (a == POS_NONE && !complete)
            return false;
        if (a == POS_NONE && b == POS_NONE)
            return true;
        if (a < b)
            consider(e, nsg, dp, sc, nd->first[i++], true);
        else
            consider(e, nsg, dp, sc, dp->always[j++], false);
    }
    return true;
}

/* The slow case: every list on the chain, merged in ascending order. */
struct chain {
    int n;
    const uint32_t *ids[35];
    uint32_t left[35];
    bool indexed[35];
};

static void chain_init(const struct dirprep *dp, int32_t v, struct chain *c)
{
    c->n = 0;
    for (; v >= 0 && c->n < 34; v = dp->ix->node[v].parent) {
        c->ids[c->n] = &dp->ix->ids[dp->ix->node[v].ids_off];
        c->left[c->n] = dp->ix->node[v].ids_n;
        c->indexed[c->n++] = true;
    }
    if (dp->nalways) {
        c->ids[c->n] = dp->always;
        c->left[c->n] = (uint32_t)dp->nalways;
        c->indexed[c->n++] = false;
    }
}

/* The list whose head has the lowest position, or -1 when all are empty. On a tie (one rule naming
 * two nested prefixes) the longer prefix, so the explanation names the most specific one. */
static int chain_min(const struct chain *c)
{
    int best = -1;
    for (int j = 0; j < c->n; j++) {
        if (!c->left[j])
            continue;
        uint32_t a = c->ids[j][0], b = best < 0 ? 0 : c->ids[best][0];
        if (best < 0 || ID_POS(a) < ID_POS(b) || (ID_POS(a) == ID_POS(b) && ID_LEN(a) > ID_LEN(b)))
            best = j;
    }
    return best;
}

static void scan_chain(const struct ectx *e, const struct nsg *nsg, const struct dirprep *dp, struct scan *sc,
                       int32_t v)
{
    struct chain c;
    chain_init(dp, v, &c);
    for (int j; (j = chain_min(&c)) >= 0;) {
        uint32_t id = *c.ids[j]++;
        c.left[j]--;
        if (ID_POS(id) >= sc->best)
            break;
        consider(e, nsg, dp, sc, id, c.indexed[j]); /* seen already by scan_first: same answer */
    }
}

static void scan_index(const struct ectx *e, const struct nsg *nsg, const struct dirprep *dp, struct scan *sc)
{
    const struct rix_fast *f = rix_find(dp->ix, e->f->dir == NSG_OUTBOUND ? e->f->dst : e->f->src);
    if (!scan_first(e, nsg, dp, sc, f))
        scan_chain(e, nsg, dp, sc, (int32_t)(f->node & ~RIX_COMPLETE) - 1);
}

/* A detail to fill: only the fields read back are cleared (a full memset costs more than the rest). */
static void detail_init(struct detail *d)
{
    d->local.how = d->remote.how = NSG_HOW_NONE;
    d->local.has_prefix = d->remote.has_prefix = false;
    d->local.prefix = d->remote.prefix = (struct prefix4){0, 0};
    d->local.tag[0] = d->remote.tag[0] = d->what[0] = '\0';
    d->caveats = 0;
    d->why = NSG_WHY_NONE;
}

static void explain_rule(const struct ectx *e, const struct nsg *nsg, const struct nsg_rule *r,
                         const struct scan *sc, struct nsg_step *st)
{
    struct detail d;
    detail_init(&d);
    rule_match(e, nsg, r, sc->best_indexed, &d);
    if (sc->best_indexed) {
        const struct nsg_side *s = e->f->dir == NSG_OUTBOUND ? &r->dst : &r->src;
        uint32_t remote = e->f->dir == NSG_OUTBOUND ? e->f->dst : e->f->src;
        struct prefix4 p = {remote & prefix4_mask(ID_LEN(sc->best_id)), ID_LEN(sc->best_id)};
        bool expanded = ID_EXP(sc->best_id);
        set_match(&d.remote, expanded ? NSG_HOW_EXPANDED : NSG_HOW_PREFIX, &p,
                  expanded && s->ntags ? s->tags[0] : NULL);
        if (expanded && p.len == 0 && s->ntags && s->tag_kind[0] == TK_VNET)
            d.caveats |= NSG_CAVEAT_FORCED_TUNNEL;
    }
    st->local = d.local;
    st->remote = d.remote;
    st->caveats |= d.caveats | (r->synthesized ? NSG_CAVEAT_SYNTHESIZED : 0u);
}

static void explain_unknown(const struct ectx *e, const struct nsg *nsg, const struct nsg_rule *r, struct nsg_step *st)
{
    struct detail d;
    detail_init(&d);
    rule_match(e, nsg, r, false, &d);
    st->uncertain = r;
    st->why = d.why;
    copy_name(st->why_what, d.what);
}

static void finish_step(const struct ectx *e, const struct nsg *nsg, const struct dirprep *dp,
                        const struct scan *sc, struct nsg_step *st)
{
    uint32_t first_unk = sc->unk[0] < sc->unk[1] ? sc->unk[0] : sc->unk[1];
    if (sc->best == POS_NONE) {
        /* Only reachable for platform traffic (no AzurePlatform* rule matched: exempt) or when every
         * candidate was unknown; a prepared NSG always ends in a DenyAll default. */
        st->outcome = e->platform && first_unk == POS_NONE ? NSG_STEP_SKIPPED : NSG_STEP_INDETERMINATE;
        if (first_unk != POS_NONE)
            explain_unknown(e, nsg, &nsg->rules[dp->order[first_unk]], st);
        return;
    }
    const struct nsg_rule *r = &nsg->rules[dp->order[sc->best]];
    uint32_t remote = e->f->dir == NSG_OUTBOUND ? e->f->dst : e->f->src;
    st->rule = r;
    explain_rule(e, nsg, r, sc, st);
    /* An earlier rule naming a remote ASG was passed over on the assumption asg_match documents. */
    if (dp->first_remote_asg < sc->best && !e->tags->vnet_known && !ip_not_internet(remote))
        st->caveats |= NSG_CAVEAT_ASG_PUBLIC;
    uint32_t other = sc->unk[r->access == NSG_ALLOW ? NSG_DENY : NSG_ALLOW], same = sc->unk[r->access];
    if (other < sc->best) {
        st->outcome = NSG_STEP_INDETERMINATE;
        explain_unknown(e, nsg, &nsg->rules[dp->order[other]], st);
        return;
    }
    st->outcome = r->access == NSG_DENY ? NSG_STEP_DENY : NSG_STEP_ALLOW;
    if (same < sc->best) {
        st->caveats |= NSG_CAVEAT_SAME_ACCESS;
        explain_unknown(e, nsg, &nsg->rules[dp->order[same]], st);
    }
}

static void eval_nsg(const struct ectx *e, const struct nsg *nsg, bool linear, struct nsg_step *st)
{
    const struct dirprep *dp = &nsg->prep->d[e->f->dir == NSG_INBOUND];
    struct scan sc = {.best = POS_NONE, .best_indexed = false, .unk = {POS_NONE, POS_NONE}};
    st->nsg = nsg;
    if (linear || e->platform)
        scan_linear(e, nsg, dp, &sc);
    else
        scan_index(e, nsg, dp, &sc);
    finish_step(e, nsg, dp, &sc, st);
}

/* ---- The flow ------------------------------------------------------------------------------------ */

static const struct nsg *slot_nsg(const struct nsg_set *set, const struct nsg_slot *s)
{
    return s->state == NSG_SLOT_SET && s->nsg >= 0 && (size_t)s->nsg < set->count ? set->nsg[s->nsg] : NULL;
}

static bool any_platform_rule(const struct nsg *nsg, enum nsg_dir dir)
{
    for (size_t i = 0; nsg && i < nsg->nrules; i++)
        if (nsg->rules[i].dir == dir && nsg->rules[i].platform_tag)
            return true;
    return false;
}

static void run_step(const struct ectx *e, const struct nsg_slot *slot, bool linear, struct nsg_step *st)
{
    const struct nsg *nsg = slot_nsg(e->set, slot);
    switch (slot->state) {
    case NSG_SLOT_SET:
        if (nsg) {
            eval_nsg(e, nsg, linear, st);
            return;
        }
        st->outcome = NSG_STEP_MISSING;
        return;
    case NSG_SLOT_MISSING:
        st->outcome = NSG_STEP_MISSING;
        return;
    case NSG_SLOT_NONE:
        st->outcome = NSG_STEP_NO_NSG;
        return;
    default:
        st->outcome = NSG_STEP_NO_NSG;
        st->caveats |= NSG_CAVEAT_LEVEL_UNKNOWN;
        return;
    }
}

static bool set_prepared(const struct nsg_set *set)
{
    const struct nsg *a = slot_nsg(set, &set->nic_slot), *b = slot_nsg(set, &set->subnet_slot);
    return (!a || a->prep) && (!b || b->prep);
}

static void match_init(struct nsg_match *m)
{
    m->how = NSG_HOW_NONE;
    m->has_prefix = false;
    m->prefix = (struct prefix4){0, 0};
    m->tag[0] = '\0';
}

/* Every field set, the character arrays by their first byte: cheaper than clearing 700 bytes. */
static void verdict_init(struct nsg_verdict *v)
{
    v->result = NSG_INDETERMINATE;
    v->decider = -1;
    v->caveats = 0;
    for (int i = 0; i < 2; i++) {
        struct nsg_step *st = &v->step[i];
        st->assoc = 0;
        st->outcome = NSG_STEP_SKIPPED;
        st->nsg = NULL;
        st->rule = st->uncertain = NULL;
        match_init(&st->remote);
        match_init(&st->local);
        st->why = NSG_WHY_NONE;
        st->why_what[0] = '\0';
        st->caveats = 0;
    }
}

int nsg_evaluate_ex(const struct nsg_set *set, const struct flow *f, const struct tag_resolver *tags,
                    unsigned flags, struct nsg_verdict *v)
{
    static const struct tag_resolver no_tags;
    verdict_init(v);
    v->decider = -1;
    v->result = NSG_INDETERMINATE;
    if (!set || !f || !set_prepared(set))
        return -1;
    struct ectx e = {set, f, tags ? tags : &no_tags, false};
    bool out = f->dir != NSG_INBOUND;
    const struct nsg_slot *slots[2] = {out ? &set->nic_slot : &set->subnet_slot,
                                       out ? &set->subnet_slot : &set->nic_slot};
    uint32_t remote = out ? f->dst : f->src;
    e.platform = remote == WIRESERVER || remote == IMDS_IP;
    bool platform_rules = false, denied = false, indet = false;
    for (int i = 0; i < 2; i++) {
        v->step[i].assoc = slots[i] == &set->nic_slot ? NSG_ASSOC_NIC : NSG_ASSOC_SUBNET;
        v->step[i].nsg = slot_nsg(set, slots[i]);
        platform_rules |= e.platform && any_platform_rule(v->step[i].nsg, f->dir);
    }
    for (int i = 0; i < 2; i++) {
        struct nsg_step *st = &v->step[i];
        if (denied || (e.platform && !platform_rules)) {
            st->outcome = NSG_STEP_SKIPPED;
            continue;
        }
        run_step(&e, slots[i], flags & NSG_EVAL_LINEAR, st);
        if (st->outcome == NSG_STEP_DENY) {
            denied = true;
            v->decider = i;
        }
        indet |= st->outcome == NSG_STEP_INDETERMINATE || st->outcome == NSG_STEP_MISSING;
        v->caveats |= st->caveats;
    }
    v->result = denied ? NSG_DENIED : indet ? NSG_INDETERMINATE : e.platform ? NSG_EXEMPT : NSG_ALLOWED;
    return 0;
}

int nsg_evaluate(const struct nsg_set *set, const struct flow *f, const struct tag_resolver *tags,
                 struct nsg_verdict *v)
{
    return nsg_evaluate_ex(set, f, tags, 0, v);
}

const struct nsg_rule *nsg_verdict_blocker(const struct nsg_verdict *v, const struct nsg **nsg, unsigned *assoc)
{
    if (!v || v->result != NSG_DENIED || v->decider < 0 || v->decider > 1)
        return NULL;
    const struct nsg_step *st = &v->step[v->decider];
    if (!st->rule || st->rule->access != NSG_DENY) /* an Allow rule never blocks */
        return NULL;
    if (nsg)
        *nsg = st->nsg;
    if (assoc)
        *assoc = st->assoc;
    return st->rule;
}

const struct nsg_rule *nsg_verdict_suspect(const struct nsg_verdict *v, const struct nsg **nsg, unsigned *assoc)
{
    if (!v || v->result != NSG_INDETERMINATE)
        return NULL;
    for (int i = 0; i < 2; i++) {
        const struct nsg_step *st = &v->step[i];
        if (st->outcome != NSG_STEP_INDETERMINATE)
            continue;
        const struct nsg_rule *r = st->uncertain && st->uncertain->access == NSG_DENY ? st->uncertain
                                   : st->rule && st->rule->access == NSG_DENY     ? st->rule
                                                                                   : NULL;
        if (!r)
            continue;
        if (nsg)
            *nsg = st->nsg;
        if (assoc)
            *assoc = st->assoc;
        return r;
    }
    return NULL;
}

/* ---- Text ---------------------------------------------------------------------------------------- */

static void describe_match(const struct nsg_match *m, const char *side, char *buf, size_t size)
{
    char p[PREFIX4_STRLEN] = "";
    if (m->has_prefix)
        prefix4_format(&m->prefix, p, sizeof p);
    switch (m->how) {
    case NSG_HOW_ANY:
        snprintf(buf, size, "any %s", side);
        break;
    case NSG_HOW_PREFIX:
        snprintf(buf, size, "%s %s", side, p);
        break;
    case NSG_HOW_EXPANDED:
    case NSG_HOW_TAGMAP:
    case NSG_HOW_VNET:
    case NSG_HOW_RESOLVER:
        snprintf(buf, size, "%s %s via %s", side, m->tag[0] ? m->tag : "tag", p);
        break;
    case NSG_HOW_BUILTIN:
        snprintf(buf, size, "%s %s", side, m->tag);
        break;
    case NSG_HOW_LOCAL:
        snprintf(buf, size, "%s VirtualNetwork (the NIC's own address)", side);
        break;
    case NSG_HOW_HEURISTIC:
        snprintf(buf, size, "%s Internet (a public address, assumed outside the VNet)", side);
        break;
    case NSG_HOW_ASG:
        snprintf(buf, size, "%s in ASG %s", side, m->tag);
        break;
    default:
        snprintf(buf, size, "%s", side);
        break;
    }
}

static const char *why_text(enum nsg_why w)
{
    switch (w) {
    case NSG_WHY_ASG:
        return "ASG membership unknown";
    case NSG_WHY_TAG:
        return "tag not expandable offline";
    case NSG_WHY_SOURCE_PORT:
        return "source port unknown";
    case NSG_WHY_VNET_SPACE:
        return "public address inside the VNet space";
    default:
        return "unknown";
    }
}

static void describe_rule(const struct nsg_step *st, char *buf, size_t size)
{
    char ref[NSG_NAME_MAX + 24], m[160];
    describe_match(&st->remote, "destination", m, sizeof m);
    snprintf(buf, size, "NSG %s (%s) rule %s, priority %d (%s)", st->nsg ? st->nsg->name : "?",
             nsg_assoc_name(st->assoc), nsg_rule_ref(st->rule, ref, sizeof ref), st->rule->priority, m);
}

static void append(char *buf, size_t size, const char *text)
{
    size_t n = strlen(buf);
    if (n + 1 < size)
        snprintf(buf + n, size - n, "%s", text);
}

static void describe_indeterminate(const struct nsg_step *st, char *buf, size_t size)
{
    char ref[NSG_NAME_MAX + 24], rule[400];
    snprintf(buf, size, "NSG %s (%s) rule %s, priority %d, may match first (%s: %s)", st->nsg ? st->nsg->name : "?",
             nsg_assoc_name(st->assoc), st->uncertain ? nsg_rule_ref(st->uncertain, ref, sizeof ref) : "?",
             st->uncertain ? st->uncertain->priority : 0, why_text(st->why), st->why_what);
    if (st->rule) {
        describe_rule(st, rule, sizeof rule);
        append(buf, size, "; otherwise ");
        append(buf, size, nsg_access_name(st->rule->access));
        append(buf, size, " by ");
        append(buf, size, rule);
    }
}

static void describe_step(const struct nsg_step *st, char *buf, size_t size)
{
    switch (st->outcome) {
    case NSG_STEP_ALLOW:
    case NSG_STEP_DENY:
        describe_rule(st, buf, size);
        break;
    case NSG_STEP_INDETERMINATE:
        describe_indeterminate(st, buf, size);
        break;
    case NSG_STEP_MISSING:
        snprintf(buf, size, "the %s's NSG was not loaded", nsg_assoc_name(st->assoc));
        break;
    case NSG_STEP_NO_NSG:
        snprintf(buf, size, "no NSG on the %s%s", nsg_assoc_name(st->assoc),
                 st->caveats & NSG_CAVEAT_LEVEL_UNKNOWN ? " (assumed: no data)" : "");
        break;
    default:
        snprintf(buf, size, "%s: not evaluated", nsg_assoc_name(st->assoc));
        break;
    }
}

static void describe_caveats(unsigned c, char *buf, size_t size)
{
    if (c & NSG_CAVEAT_INTERNET_HEURISTIC)
        append(buf, size, "; caveat: Internet decided as \"public address outside the VNet\" (no effective export)");
    if (c & NSG_CAVEAT_FORCED_TUNNEL)
        append(buf, size, "; VirtualNetwork contains 0.0.0.0/0 (forced tunnelling)");
    if (c & NSG_CAVEAT_LEVEL_UNKNOWN)
        append(buf, size, "; caveat: a level without data was assumed to have no NSG");
    if (c & NSG_CAVEAT_ASG_PUBLIC)
        append(buf, size, "; caveat: a public address was assumed to be in no ASG");
    if (c & NSG_CAVEAT_SYNTHESIZED)
        append(buf, size, "; the default rule was not in the export (added)");
    if (c & NSG_CAVEAT_SAME_ACCESS)
        append(buf, size, "; an earlier rule with the same access may be the one that matches");
}

void nsg_verdict_describe(const struct nsg_verdict *v, char *buf, size_t size)
{
    char part[800];
    if (!buf || size == 0)
        return;
    buf[0] = '\0';
    switch (v->result) {
    case NSG_DENIED:
        describe_step(&v->step[v->decider], part, sizeof part);
        snprintf(buf, size, "denied by %s", part);
        break;
    case NSG_EXEMPT:
        snprintf(buf, size, "not subject to NSGs (platform address 168.63.129.16 / 169.254.169.254)");
        break;
    default:
        snprintf(buf, size, "%s: ", nsg_result_name(v->result));
        for (int i = 0; i < 2; i++) {
            describe_step(&v->step[i], part, sizeof part);
            append(buf, size, i ? "; then " : "");
            append(buf, size, part);
        }
        break;
    }
    describe_caveats(v->caveats, buf, size);
}
