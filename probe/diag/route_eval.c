/* Effective routes: the reader and next-hop selection (see route_eval.h). */
#include "probe/diag/route_eval.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOOKUP_MAX 1024     /* candidates taken from the index; more falls back to a linear walk */

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* ---- Names ---------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum route_hop hop;
} hop_names[] = {
    {"VnetLocal", ROUTE_HOP_VNET_LOCAL},
    {"VirtualNetwork", ROUTE_HOP_VNET_LOCAL}, /* next hop API's spelling */
    {"Internet", ROUTE_HOP_INTERNET},
    {"VirtualAppliance", ROUTE_HOP_VIRTUAL_APPLIANCE},
    {"VirtualNetworkGateway", ROUTE_HOP_VNET_GATEWAY},
    {"None", ROUTE_HOP_NONE},
    {"VNetPeering", ROUTE_HOP_VNET_PEERING},
    {"VirtualNetworkPeering", ROUTE_HOP_VNET_PEERING},
    {"VNetGlobalPeering", ROUTE_HOP_VNET_GLOBAL_PEERING},
    {"VirtualNetworkServiceEndpoint", ROUTE_HOP_SERVICE_ENDPOINT},
    {"InterfaceEndpoint", ROUTE_HOP_INTERFACE_ENDPOINT},
};

const char *route_hop_name(enum route_hop h)
{
    for (size_t i = 0; i < sizeof hop_names / sizeof hop_names[0]; i++)
        if (hop_names[i].hop == h)
            return hop_names[i].name;
    return "Other";
}

static enum route_hop parse_hop(const char *s)
{
    for (size_t i = 0; i < sizeof hop_names / sizeof hop_names[0]; i++)
        if (strcasecmp(s, hop_names[i].name) == 0)
            return hop_names[i].hop;
    return ROUTE_HOP_OTHER; /* modelAsString: new values appear without notice */
}

const char *route_source_name(enum route_source s)
{
    static const char *const n[] = {"Unknown", "Default", "VirtualNetworkGateway", "User"};
    return (unsigned)s < 4 ? n[s] : "?";
}

static bool parse_source(const char *s, enum route_source *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, route_source_name((enum route_source)i)) == 0) {
            *out = (enum route_source)i;
            return true;
        }
    }
    return false;
}

/* ---- Building ----------------------------------------------------------------------------------- */

static void unprepare(struct eroute_table *t)
{
    prefix_index_free(t->ix);
    t->ix = NULL;
}

struct eroute *routes_add(struct eroute_table *t, const char *name, enum route_source source, enum route_hop hop,
                          const char *hop_ip, bool active)
{
    unprepare(t);
    if (t->n >= ROUTES_MAX + 16 || !azj_grow((void **)&t->r, t->n, &t->cap, sizeof *t->r))
        return NULL;
    struct eroute *r = &t->r[t->n];
    memset(r, 0, sizeof *r);
    azj_copy(r->name, sizeof r->name, name ? name : "", name ? strlen(name) : 0);
    r->source = source;
    snprintf(r->source_text, sizeof r->source_text, "%s", route_source_name(source));
    r->hop = hop;
    snprintf(r->hop_text, sizeof r->hop_text, "%s", route_hop_name(hop));
    r->active = active;
    if (hop_ip && ip4_parse(hop_ip, &r->hop_ip))
        r->has_hop_ip = true;
    t->n++;
    return r;
}

static int push_prefix(struct eroute *r, const struct prefix4 *p)
{
    size_t cap = azj_cap_of(r->npfx);
    if (!azj_grow((void **)&r->pfx, r->npfx, &cap, sizeof *r->pfx))
        return -1;
    r->pfx[r->npfx++] = *p;
    return 0;
}

static int push_tag(struct eroute *r, const char *tag)
{
    size_t cap = azj_cap_of(r->ntags);
    if (!azj_grow((void **)&r->tags, r->ntags, &cap, sizeof *r->tags))
        return -1;
    azj_copy(r->tags[r->ntags++], NSG_TAG_MAX, tag, strlen(tag));
    return 0;
}

static bool looks_like_tag(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= NSG_TAG_MAX || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

int routes_add_prefix(struct eroute *r, const char *text)
{
    struct prefix4 p;
    switch (prefix_parse(text, &p, NULL)) {
    case PREFIX_V4:
        return push_prefix(r, &p);
    case PREFIX_V6:
        return 0;
    default:
        return looks_like_tag(text) ? push_tag(r, text) : -1;
    }
}

static void route_free(struct eroute *r)
{
    free(r->pfx);
    free(r->tags);
}

void routes_free(struct eroute_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        route_free(&t->r[i]);
    free(t->r);
    prefix_index_free(t->ix);
    memset(t, 0, sizeof *t);
}

int routes_prepare(struct eroute_table *t)
{
    if (t->ix)
        return 0;
    t->ix = prefix_index_new();
    if (!t->ix)
        return AZJ_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        for (size_t k = 0; t->r[i].active && k < t->r[i].npfx; k++)
            if (prefix_index_add(t->ix, &t->r[i].pfx[k], (uint32_t)i) != 0)
                goto fail;
    if (prefix_index_build(t->ix) == 0)
        return 0;
fail:
    unprepare(t);
    return AZJ_ENOMEM;
}

/* The platform's routes for every subnet (virtual-networks-udr-overview.md), for a UDR-only table. */
static int add_system_routes(struct eroute_table *t)
{
    static const char *const reserved[] = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"};
    struct eroute *r = routes_add(t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_INTERNET, NULL, true);
    if (!r || routes_add_prefix(r, "0.0.0.0/0") != 0)
        return -1;
    r->synthesized = true;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        r = routes_add(t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_NONE, NULL, true);
        if (!r || routes_add_prefix(r, reserved[i]) != 0)
            return -1;
        r->synthesized = true;
    }
    return 0;
}

static bool overlaps(const struct prefix4 *a, const struct prefix4 *b)
{
    return prefix4_covers(a, b) || prefix4_covers(b, a);
}

int routes_add_vnet(struct eroute_table *t, const struct prefix4 *space, size_t n)
{
    /* Drop synthesized reserved routes the VNet overlaps: Azure replaces them with VnetLocal. */
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct eroute *r = &t->r[i];
        bool drop = false;
        for (size_t j = 0; r->synthesized && r->hop == ROUTE_HOP_NONE && r->npfx == 1 && j < n; j++)
            drop |= overlaps(&r->pfx[0], &space[j]);
        if (drop)
            route_free(r);
        else
            t->r[k++] = *r;
    }
    t->n = k;
    unprepare(t);
    for (size_t j = 0; j < n; j++) {
        struct eroute *r = routes_add(t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_VNET_LOCAL, NULL, true);
        if (!r || push_prefix(r, &space[j]) != 0)
            return AZJ_ENOMEM;
        r->synthesized = true;
    }
    return routes_prepare(t);
}

/* ---- Reading ----------------------------------------------------------------------------------- */

struct rreader {
    struct azj_ctx c;
    struct eroute_table *t;
    size_t total;
};

static const char *type_name(struct json_object *v)
{
    return v ? json_type_to_name(json_object_get_type(v)) : "nothing";
}

static int oom(struct rreader *r, const char *path)
{
    return azj_fail(&r->c, path, AZJ_ENOMEM, "out of memory");
}

typedef int (*str_fn)(struct rreader *r, struct eroute *e, const char *path, const char *text);

struct each_call {
    struct rreader *r;
    struct eroute *e;
    str_fn fn;
};

/* Empty strings are nothing here: an export may list "" for an absent next hop. */
static int each_call(void *a, const char *path, const char *text)
{
    struct each_call *x = a;
    return text[0] ? x->fn(x->r, x->e, path, text) : 0;
}

/* fn for a string or each string of an array; null / absent is nothing. */
static int each_string(struct rreader *r, struct eroute *e, struct json_object *v, const char *path, size_t limit,
                       str_fn fn)
{
    struct each_call x = {r, e, fn};
    return azj_each_string(&r->c, v, path, limit, each_call, &x);
}

static int prefix_entry(struct rreader *r, struct eroute *e, const char *path, const char *text)
{
    struct prefix4 p;
    switch (prefix_parse(text, &p, NULL)) {
    case PREFIX_V4:
        if (++r->total > ROUTES_MAX_TOTAL)
            return azj_fail(&r->c, path, AZJ_ELIMIT, "more than %d prefixes in the table", ROUTES_MAX_TOTAL);
        r->c.in->prefixes++;
        return push_prefix(e, &p) == 0 ? 0 : oom(r, path);
    case PREFIX_V6:
        r->c.in->ipv6_skipped++;
        return 0;
    default:
        if (!looks_like_tag(text))
            return azj_fail(&r->c, path, AZJ_EVALUE, "%.64s is not an IPv4 prefix or service tag", text);
        return push_tag(e, text) == 0 ? 0 : oom(r, path);
    }
}

static int tag_entry(struct rreader *r, struct eroute *e, const char *path, const char *text)
{
    if (!looks_like_tag(text))
        return azj_fail(&r->c, path, AZJ_EVALUE, "%.64s is not a service tag name", text);
    return push_tag(e, text) == 0 ? 0 : oom(r, path);
}

static int hop_ip_entry(struct rreader *r, struct eroute *e, const char *path, const char *text)
{
    struct prefix4 p;
    unsigned flags;
    enum prefix_kind k = prefix_parse(text, &p, &flags);
    if (k == PREFIX_V6 && (flags & PREFIX_F_NOLEN))
        return 0;
    if (k != PREFIX_V4 || !(flags & PREFIX_F_NOLEN))
        return azj_fail(&r->c, path, AZJ_EVALUE, "%.64s is not an IP address", text);
    if (!e->has_hop_ip) {
        e->has_hop_ip = true;
        e->hop_ip = p.net;
    }
    return 0;
}

static int read_bool(struct rreader *r, struct json_object *o, const char *key, const char *path, bool *out)
{
    char p[256];
    struct json_object *v = azj_get(o, key);
    if (!v || json_object_is_type(v, json_type_null))
        return 0;
    azj_path_key(p, sizeof p, path, key);
    if (!json_object_is_type(v, json_type_boolean))
        return azj_fail(&r->c, p, AZJ_EVALUE, "expected true or false, got %s", type_name(v));
    *out = json_object_get_boolean(v);
    return 0;
}

/* source / state of an effective route; a UDR from a route table is User and Active. */
static int read_source_state(struct rreader *r, struct json_object *o, const char *path, struct eroute *e,
                             bool effective)
{
    char v[48], p[256];
    int rc;
    e->source = ROUTE_SRC_USER;
    e->active = true;
    if (!effective)
        return 0;
    if ((rc = azj_string(&r->c, o, "source", path, v, sizeof v)) < 0)
        return rc;
    azj_path_key(p, sizeof p, path, "source");
    azj_copy(e->source_text, sizeof e->source_text, rc ? v : "Unknown", strlen(rc ? v : "Unknown"));
    if (!rc || !parse_source(v, &e->source)) {
        e->source = ROUTE_SRC_UNKNOWN;
        if (rc)
            azj_warn(&r->c, p, "unknown route source %s, ranked lowest", v);
    }
    if ((rc = azj_string(&r->c, o, "state", path, v, sizeof v)) < 0)
        return rc;
    azj_path_key(p, sizeof p, path, "state");
    if (rc && strcasecmp(v, "Active") != 0 && strcasecmp(v, "Invalid") != 0)
        return azj_fail(&r->c, p, AZJ_EVALUE, "%s is not Active or Invalid", v);
    e->active = !rc || strcasecmp(v, "Active") == 0;
    return 0;
}

static int read_hop(struct rreader *r, struct json_object *o, const char *path, struct eroute *e)
{
    char v[48], p[256];
    int rc = azj_string(&r->c, o, "nextHopType", path, v, sizeof v);
    azj_path_key(p, sizeof p, path, "nextHopType");
    if (rc < 0)
        return rc;
    if (rc == 0)
        return azj_fail(&r->c, p, AZJ_EVALUE, "missing");
    snprintf(e->hop_text, sizeof e->hop_text, "%s", v);
    e->hop = parse_hop(v);
    if (e->hop == ROUTE_HOP_OTHER)
        azj_warn(&r->c, p, "next hop type %s is not known to this version", v);
    azj_path_key(p, sizeof p, path, "nextHopIpAddress");
    if ((rc = each_string(r, e, azj_get(o, "nextHopIpAddress"), p, 64, hop_ip_entry)) != 0)
        return rc;
    if (e->hop == ROUTE_HOP_VIRTUAL_APPLIANCE && !e->has_hop_ip)
        azj_warn(&r->c, p, "VirtualAppliance route without a next hop address");
    return 0;
}

static int read_route(struct rreader *r, struct json_object *elem, const char *path, bool effective)
{
    char pp[256], p[256], name[NSG_NAME_MAX];
    if (!elem || !json_object_is_type(elem, json_type_object))
        return azj_fail(&r->c, path, AZJ_EVALUE, "expected a route object, got %s", type_name(elem));
    struct json_object *props = azj_get(elem, "properties"), *o = elem;
    snprintf(pp, sizeof pp, "%s", path);
    if (props && json_object_is_type(props, json_type_object)) {
        o = props;
        azj_path_key(pp, sizeof pp, path, "properties");
    }
    int rc = azj_string(&r->c, elem, "name", path, name, sizeof name);
    if (rc < 0)
        return rc;
    struct eroute *e = routes_add(r->t, name, ROUTE_SRC_USER, ROUTE_HOP_OTHER, NULL, true);
    if (!e)
        return oom(r, path);
    if ((rc = read_source_state(r, o, pp, e, effective)) != 0 || (rc = read_hop(r, o, pp, e)) != 0 ||
        (rc = read_bool(r, o, "disableBgpRoutePropagation", pp, &e->disable_bgp)) != 0)
        return rc;
    azj_path_key(p, sizeof p, pp, "destinationServiceTags");
    if ((rc = each_string(r, e, azj_get(o, "destinationServiceTags"), p, 64, tag_entry)) != 0)
        return rc;
    e->tag_derived = e->ntags > 0;
    azj_path_key(p, sizeof p, pp, "addressPrefix");
    struct json_object *ap = azj_get(o, "addressPrefix");
    if (azj_empty(ap) && !e->ntags)
        return azj_fail(&r->c, p, AZJ_EVALUE, "missing");
    if ((rc = each_string(r, e, ap, p, ROUTES_MAX_PREFIX, prefix_entry)) != 0)
        return rc;
    r->c.in->routes++;
    return 0;
}

static bool is_effective_route(struct json_object *o)
{
    struct json_object *ap = azj_get(o, "addressPrefix");
    return azj_get(o, "source") || azj_get(o, "state") || (ap && json_object_is_type(ap, json_type_array));
}

static int read_routes(struct rreader *r, struct json_object *arr, const char *path, bool effective)
{
    char p[256];
    size_t n = json_object_array_length(arr);
    if (n > ROUTES_MAX)
        return azj_fail(&r->c, path, AZJ_ELIMIT, "%zu routes; the limit is %d", n, ROUTES_MAX);
    for (size_t i = 0; i < n; i++) {
        azj_path_index(p, sizeof p, path, i);
        int rc = read_route(r, json_object_array_get_idx(arr, i), p, effective);
        if (rc != 0)
            return rc;
    }
    if (!effective) {
        r->t->partial = true;
        if (add_system_routes(r->t) != 0)
            return oom(r, path);
    }
    return 0;
}

/* A list: effective routes, or the routes of a route table. */
static int read_list(struct rreader *r, struct json_object *arr, const char *path)
{
    struct json_object *first = json_object_array_get_idx(arr, 0);
    r->c.in->list = true;
    if (json_object_array_length(arr) == 0) {
        r->c.in->shape = "effective routes (empty)";
        azj_warn(&r->c, path, "no routes");
        return 0;
    }
    bool eff = !first || !json_object_is_type(first, json_type_object) || is_effective_route(first);
    r->c.in->shape = eff ? "effective routes (show-effective-route-table)" : "route list (UDRs only)";
    return read_routes(r, arr, path, eff);
}

/* A route table resource, flat or ARM. */
static int read_route_table(struct rreader *r, struct json_object *root)
{
    struct json_object *props = azj_get(root, "properties");
    bool arm = props && json_object_is_type(props, json_type_object) && azj_get(props, "routes");
    struct json_object *body = arm ? props : root, *routes = azj_get(body, "routes");
    const char *path = arm ? "properties.routes" : "routes";
    r->c.in->shape =
        arm ? "route table, ARM (nested; UDRs only)" : "route table (az network route-table show; UDRs only)";
    if (azj_empty(routes)) {
        r->t->partial = true;
        return add_system_routes(r->t) == 0 ? 0 : oom(r, path);
    }
    if (!json_object_is_type(routes, json_type_array))
        return azj_fail(&r->c, path, AZJ_EVALUE, "expected an array of routes, got %s", type_name(routes));
    return read_routes(r, routes, path, false);
}

static int read_root(struct rreader *r, struct json_object *root)
{
    if (json_object_is_type(root, json_type_array))
        return read_list(r, root, "");
    if (!json_object_is_type(root, json_type_object))
        return azj_fail(&r->c, "", AZJ_ESHAPE, "not a route export: the document is a %s", type_name(root));
    struct json_object *value = azj_get(root, "value");
    if (value && json_object_is_type(value, json_type_array))
        return read_list(r, value, "value");
    struct json_object *props = azj_get(root, "properties");
    if (azj_get(root, "routes") || (props && json_object_is_type(props, json_type_object) && azj_get(props, "routes")))
        return read_route_table(r, root);
    return azj_fail(&r->c, "", AZJ_ESHAPE, "not a route export (expected value[], routes[] or properties.routes[])");
}

int routes_load_buffer(struct eroute_table *t, const char *buf, size_t len, const char *label, struct azj_error *err)
{
    struct rreader r = {.t = t};
    struct azj_error local;
    if (!t)
        return AZJ_EVALUE;
    memset(t, 0, sizeof *t);
    azj_begin(&r.c, err ? err : &local, &t->input, label);
    struct json_object *root = azj_parse(&r.c, buf ? buf : "", buf ? len : 0);
    if (!root)
        return r.c.err->status;
    int rc = read_root(&r, root);
    json_object_put(root);
    if (rc == 0 && routes_prepare(t) != 0)
        rc = azj_fail(&r.c, "", AZJ_ENOMEM, "out of memory");
    if (rc != 0) { /* all or nothing; the input record stays for the report */
        struct azj_input keep = t->input;
        routes_free(t);
        t->input = keep;
    }
    return rc;
}

static int load_routes(void *dst, const char *buf, size_t len, const char *label, struct azj_error *err)
{
    return routes_load_buffer(dst, buf, len, label, err);
}

int routes_load(struct eroute_table *t, const char *path, struct azj_error *err)
{
    if (t)
        memset(t, 0, sizeof *t);
    return azj_load_file(path, err, load_routes, t);
}

/* ---- Selection ------------------------------------------------------------------------------------ */

/* Service tags as UDR prefixes: regional > global > AzureCloud.<region> > AzureCloud; explicit 0. */
static int tag_rank(const char *tag)
{
    bool cloud = strncasecmp(tag, "AzureCloud", 10) == 0;
    bool regional = strchr(tag, '.') != NULL;
    return cloud ? (regional ? 3 : 4) : (regional ? 1 : 2);
}

struct cand {
    size_t idx;
    struct prefix4 prefix;
    int tag_rank;               /* 0 = explicit prefix */
    const char *tag;
};

/* a beats b? Longest prefix, then source, then explicit over tags, then file order. */
static bool better(const struct eroute_table *t, const struct cand *a, const struct cand *b)
{
    if (a->prefix.len != b->prefix.len)
        return a->prefix.len > b->prefix.len;
    enum route_source sa = t->r[a->idx].source, sb = t->r[b->idx].source;
    if (sa != sb)
        return sa > sb;
    if (a->tag_rank != b->tag_rank)
        return a->tag_rank < b->tag_rank;
    /* Equal system routes: the VNet's own range replaces a reserved None range (udr-overview). */
    bool la = t->r[a->idx].hop == ROUTE_HOP_VNET_LOCAL, lb = t->r[b->idx].hop == ROUTE_HOP_VNET_LOCAL;
    if (la != lb)
        return la;
    return a->idx < b->idx;
}

/* System routes that win even over more specific BGP routes. */
static bool exempt_hop(const struct eroute *r)
{
    return r->source == ROUTE_SRC_DEFAULT &&
           (r->hop == ROUTE_HOP_VNET_LOCAL || r->hop == ROUTE_HOP_VNET_PEERING ||
            r->hop == ROUTE_HOP_VNET_GLOBAL_PEERING || r->hop == ROUTE_HOP_SERVICE_ENDPOINT);
}

struct pick {
    bool have, have_exempt;
    struct cand best, exempt;
};

static void offer(const struct eroute_table *t, struct pick *pk, const struct cand *c)
{
    if (!pk->have || better(t, c, &pk->best)) {
        pk->best = *c;
        pk->have = true;
    }
    if (exempt_hop(&t->r[c->idx]) && (!pk->have_exempt || better(t, c, &pk->exempt))) {
        pk->exempt = *c;
        pk->have_exempt = true;
    }
}

static int rank_of(const struct eroute *r)
{
    return r->tag_derived && r->ntags ? tag_rank(r->tags[0]) : 0;
}

static void offer_explicit(const struct eroute_table *t, struct pick *pk, uint32_t dst)
{
    uint32_t ids[LOOKUP_MAX];
    struct prefix4 pfx[LOOKUP_MAX];
    size_t n = t->ix ? prefix_index_lookup_ex(t->ix, dst, ids, pfx, LOOKUP_MAX) : LOOKUP_MAX;
    if (n < LOOKUP_MAX) {
        for (size_t i = 0; i < n; i++) {
            const struct eroute *r = &t->r[ids[i]];
            struct cand c = {ids[i], pfx[i], rank_of(r), r->tag_derived && r->ntags ? r->tags[0] : NULL};
            offer(t, pk, &c);
        }
        return;
    }
    for (size_t i = 0; i < t->n; i++) { /* no index, or too many candidates for the buffer */
        const struct eroute *r = &t->r[i];
        for (size_t k = 0; r->active && k < r->npfx; k++) {
            if (!prefix4_contains(&r->pfx[k], dst))
                continue;
            struct cand c = {i, r->pfx[k], rank_of(r), r->tag_derived && r->ntags ? r->tags[0] : NULL};
            offer(t, pk, &c);
        }
    }
}

/* Routes whose addressPrefix is a service tag, resolved through the caller's tag data. */
static void offer_tags(const struct eroute_table *t, struct pick *pk, uint32_t dst, const struct tag_resolver *tags,
                       struct route_choice *c)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct eroute *r = &t->r[i];
        if (!r->active || r->tag_derived)
            continue; /* tag_derived routes carry the expansion in pfx[] already */
        for (size_t k = 0; k < r->ntags; k++) {
            struct prefix4 p;
            int rc = tags && tags->lookup ? tags->lookup(tags->ctx, r->tags[k], dst, &p) : -1;
            if (rc > 0) {
                struct cand cd = {i, p, tag_rank(r->tags[k]), r->tags[k]};
                offer(t, pk, &cd);
            } else if (rc < 0 && !c->unresolved) {
                c->unresolved = r;
            }
        }
    }
}

static const struct eroute *find_overridden(const struct eroute_table *t, const struct cand *best, uint32_t dst)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct eroute *r = &t->r[i];
        for (size_t k = 0; !r->active && k < r->npfx; k++)
            if (r->pfx[k].len == best->prefix.len && prefix4_contains(&r->pfx[k], dst))
                return r;
    }
    return NULL;
}

int route_select(const struct eroute_table *t, uint32_t dst, const struct tag_resolver *tags, struct route_choice *c)
{
    if (!c)
        return -1;
    memset(c, 0, sizeof *c);
    if (!t)
        return -1;
    c->partial = t->partial;
    if (dst == IP4(168, 63, 129, 16) || dst == IP4(169, 254, 169, 254)) {
        c->platform = true; /* the host answers these; UDRs do not apply */
        return 0;
    }
    struct pick pk = {0};
    offer_explicit(t, &pk, dst);
    offer_tags(t, &pk, dst, tags, c);
    if (!pk.have)
        return 0;
    struct cand *win = &pk.best;
    if (t->r[win->idx].source == ROUTE_SRC_BGP && pk.have_exempt) {
        win = &pk.exempt;
        c->exempt_system = true;
    }
    const struct eroute *r = &t->r[win->idx];
    c->found = true;
    c->route = r;
    c->prefix = win->prefix;
    snprintf(c->tag, sizeof c->tag, "%s", win->tag ? win->tag : "");
    c->hop = r->hop;
    c->has_hop_ip = r->has_hop_ip;
    c->hop_ip = r->hop_ip;
    c->drop = r->hop == ROUTE_HOP_NONE;
    c->appliance = r->hop == ROUTE_HOP_VIRTUAL_APPLIANCE;
    c->gateway = r->hop == ROUTE_HOP_VNET_GATEWAY;
    c->overridden = find_overridden(t, win, dst);
    return 0;
}

static const char *source_label(const struct eroute *r)
{
    switch (r->source) {
    case ROUTE_SRC_USER:
        return "User route";
    case ROUTE_SRC_BGP:
        return "BGP route";
    case ROUTE_SRC_DEFAULT:
        return "system route";
    default:
        return "route";
    }
}

void route_describe(const struct route_choice *c, char *buf, size_t size)
{
    char p[PREFIX4_STRLEN], ip[IP4_STRLEN], extra[200] = "";
    if (!buf || size == 0)
        return;
    if (c->platform) {
        snprintf(buf, size, "platform address: answered by the host, not routed by UDRs");
        return;
    }
    if (!c->found) {
        snprintf(buf, size, "no active route contains the address: Azure drops the traffic");
        return;
    }
    const struct eroute *r = c->route;
    prefix4_format(&c->prefix, p, sizeof p);
    snprintf(buf, size, "%s%s%s %s%s%s%s -> %s%s%s", source_label(r), r->name[0] ? " " : "", r->name, p,
             c->tag[0] ? " (service tag " : "", c->tag, c->tag[0] ? ")" : "", r->hop_text, c->has_hop_ip ? " " : "",
             c->has_hop_ip ? ip4_format(c->hop_ip, ip, sizeof ip) : "");
    if (c->drop)
        snprintf(extra, sizeof extra, ": Azure drops the traffic");
    else if (c->appliance)
        snprintf(extra, sizeof extra, ": the appliance decides (invisible to NSG analysis)");
    else if (c->gateway)
        snprintf(extra, sizeof extra, ": tunnelled to the gateway");
    size_t n = strlen(buf);
    snprintf(buf + n, size - n, "%s", extra);
    if (c->overridden) {
        char q[PREFIX4_STRLEN];
        n = strlen(buf);
        snprintf(buf + n, size - n, " (replaces the %s %s -> %s, now Invalid)", source_label(c->overridden),
                 prefix4_format(&c->prefix, q, sizeof q), c->overridden->hop_text);
    }
    if (c->exempt_system) {
        n = strlen(buf);
        snprintf(buf + n, size - n, " (VNet/peering/endpoint system routes beat more specific BGP routes)");
    }
    if (c->partial) {
        n = strlen(buf);
        snprintf(buf + n, size - n, "; caveat: UDR table only, VNet/peering/BGP/endpoint routes unknown");
    }
    if (c->unresolved) {
        n = strlen(buf);
        snprintf(buf + n, size - n, "; caveat: route %s uses a service tag that could not be expanded",
                 c->unresolved->name[0] ? c->unresolved->name : "(unnamed)");
    }
}

/* ---- What the routes say about the VirtualNetwork tag ------------------------------------------ */

static bool vnet_route(const struct eroute *r)
{
    if (!r->active)
        return false;
    return r->hop == ROUTE_HOP_VNET_LOCAL || r->hop == ROUTE_HOP_VNET_PEERING ||
           r->hop == ROUTE_HOP_VNET_GLOBAL_PEERING || r->source == ROUTE_SRC_BGP || r->source == ROUTE_SRC_USER;
}

size_t routes_vnet_prefixes(const struct eroute_table *t, struct prefix4 *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; t && i < t->n; i++) {
        for (size_t k = 0; vnet_route(&t->r[i]) && k < t->r[i].npfx; k++) {
            if (n < max)
                out[n] = t->r[i].pfx[k];
            n++;
        }
    }
    if (n < max)
        out[n] = (struct prefix4){IP4(168, 63, 129, 16), 32};
    return n + 1;
}

bool routes_forced_tunnel(const struct eroute_table *t)
{
    struct route_choice c;
    /* What a public address (one outside every private range) takes: 0/0's winner. */
    if (!t || route_select(t, IP4(13, 107, 21, 200), NULL, &c) != 0 || !c.found)
        return false;
    return c.prefix.len == 0 && (c.appliance || c.gateway);
}
