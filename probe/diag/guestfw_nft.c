/* `nft -j list ruleset` (libnftables-json(5)) into the guestfw model. The JSON is a flat array:
 * {"metainfo"}, {"table"}, {"chain"}, {"set"}, {"rule": {family, table, chain, handle, expr: [...]}}.
 * Only what decides an IPv4 output flow is understood (ip daddr, l4 protocol, dport, skuid, ct state,
 * oif lo); everything else marks the rule uncertain rather than failing the load: a ruleset is
 * never wrong, only beyond what azbprobe evaluates. Shape errors (not an object, a rule naming a
 * chain that was not listed) fail the load with the JSON path. */
#include "probe/diag/guestfw_internal.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/diag/prefix.h"

struct nctx {
    struct guestfw *fw;
    size_t first_table;     /* tables before this index belong to earlier loads */
    struct json_object *items;
    const char *label;
    char *err;
    size_t errlen;
};

static const char *jstr(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static bool jnum(struct json_object *v, int64_t *out)
{
    if (!v || (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)))
        return false;
    *out = json_object_get_int64(v);
    return true;
}

/* The single "key": value of an expression object such as {"drop": null}. */
static const char *only_key(struct json_object *o, struct json_object **val)
{
    if (!json_object_is_type(o, json_type_object))
        return NULL;
    json_object_object_foreach(o, k, v) {
        *val = v;
        return k;
    }
    return NULL;
}

static bool family_ipv4(const char *family)
{
    return strcmp(family, "ip") == 0 || strcmp(family, "inet") == 0;
}

static bool find_table(const struct nctx *x, const char *family, const char *name, size_t *idx)
{
    for (size_t i = x->first_table; i < x->fw->ntables; i++)
        if (strcmp(x->fw->tables[i].family, family) == 0 && strcmp(x->fw->tables[i].name, name) == 0) {
            *idx = i;
            return true;
        }
    return false;
}

/* ---- Values ------------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    uint32_t value;
} value_names[] = {
    { "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "sctp", 132 }, { "udplite", 136 }, { "dccp", 33 },
    { "gre", 47 }, { "esp", 50 }, { "ah", 51 }, { "icmpv6", 58 }, { "http", 80 }, { "https", 443 },
    { "domain", 53 }, { "ssh", 22 },
    { "invalid", GUESTFW_CT_INVALID }, { "established", GUESTFW_CT_ESTABLISHED },
    { "related", GUESTFW_CT_RELATED }, { "new", GUESTFW_CT_NEW }, { "untracked", GUESTFW_CT_UNTRACKED },
};

static bool scalar_value(struct json_object *v, enum guestfw_key key, uint32_t *out)
{
    int64_t n;
    if (jnum(v, &n)) {
        if (n < 0 || n > UINT32_MAX)
            return false;
        *out = (uint32_t)n;
        return true;
    }
    if (!json_object_is_type(v, json_type_string))
        return false;
    const char *s = json_object_get_string(v);
    if (key == GUESTFW_K_DADDR)
        return ip4_parse(s, out);
    for (size_t i = 0; i < sizeof value_names / sizeof value_names[0]; i++)
        if (strcmp(s, value_names[i].name) == 0) {
            *out = value_names[i].value;
            return true;
        }
    char *end;
    unsigned long long u = strtoull(s, &end, 0);
    if (*s == '\0' || *end != '\0' || u > UINT32_MAX || *s == '-')
        return false;
    *out = (uint32_t)u;
    return true;
}

static struct json_object *named_set(const struct nctx *x, const char *family, const char *table,
                                     const char *name)
{
    size_t n = json_object_array_length(x->items);
    for (size_t i = 0; i < n; i++) {
        struct json_object *set;
        if (!json_object_object_get_ex(json_object_array_get_idx(x->items, i), "set", &set) ||
            !json_object_is_type(set, json_type_object))
            continue;
        const char *f = jstr(set, "family"), *t = jstr(set, "table"), *nm = jstr(set, "name");
        if (f && t && nm && strcmp(f, family) == 0 && strcmp(t, table) == 0 && strcmp(nm, name) == 0) {
            struct json_object *elem;
            return json_object_object_get_ex(set, "elem", &elem) ? elem : NULL;
        }
    }
    return NULL;
}

struct valctx {
    const struct nctx *x;
    const char *family, *table;
    int depth;
};

static int add_values(struct valctx *vc, struct guestfw_match *m, struct json_object *v, bool *unknown);

static int add_compound(struct valctx *vc, struct guestfw_match *m, const char *k, struct json_object *val,
                        bool *unknown)
{
    uint32_t lo, hi;
    if (strcmp(k, "prefix") == 0 && m->key == GUESTFW_K_DADDR) {
        int64_t len;
        struct json_object *l;
        struct prefix4 p;
        if (!jstr(val, "addr") || !json_object_object_get_ex(val, "len", &l) || !jnum(l, &len) || len < 0 ||
            len > 32 || !ip4_parse(jstr(val, "addr"), &p.net)) {
            *unknown = true;
            return 0;
        }
        p.len = (uint8_t)len;
        p.net &= prefix4_mask(p.len);
        return guestfw_add_range(m, p.net, prefix4_last(&p));
    }
    if (strcmp(k, "range") == 0 && json_object_is_type(val, json_type_array) &&
        json_object_array_length(val) == 2 && scalar_value(json_object_array_get_idx(val, 0), m->key, &lo) &&
        scalar_value(json_object_array_get_idx(val, 1), m->key, &hi))
        return guestfw_add_range(m, lo, hi);
    if (strcmp(k, "set") == 0)
        return add_values(vc, m, val, unknown);
    if (strcmp(k, "elem") == 0) {
        struct json_object *inner;
        if (json_object_object_get_ex(val, "val", &inner))
            return add_values(vc, m, inner, unknown);
    }
    *unknown = true; /* a map, a concatenation, a symbolic expression... */
    return 0;
}

/* Adds the value(s) v stands for to m; anything not understood sets *unknown instead. */
static int add_values(struct valctx *vc, struct guestfw_match *m, struct json_object *v, bool *unknown)
{
    if (++vc->depth > 16) {
        *unknown = true;
        return 0;
    }
    int rc = 0;
    uint32_t one;
    struct json_object *val;
    const char *k;
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v) && rc == 0; i++)
            rc = add_values(vc, m, json_object_array_get_idx(v, i), unknown);
    } else if (json_object_is_type(v, json_type_string) && json_object_get_string(v)[0] == '@') {
        struct json_object *elems = named_set(vc->x, vc->family, vc->table, json_object_get_string(v) + 1);
        if (elems)
            rc = add_values(vc, m, elems, unknown);
        else
            *unknown = true; /* an empty or unlisted set: nothing to decide with */
    } else if (scalar_value(v, m->key, &one)) {
        rc = guestfw_add_range(m, one, one);
    } else if ((k = only_key(v, &val)) != NULL) {
        rc = add_compound(vc, m, k, val, unknown);
    } else {
        *unknown = true;
    }
    vc->depth--;
    return rc;
}

/* ---- Text -------------------------------------------------------------------------------------- */

static void value_text(struct guestfw_sb *b, struct json_object *v, int depth)
{
    struct json_object *val;
    const char *k;
    if (depth > 8) {
        guestfw_sb_add(b, "...");
    } else if (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int)) {
        guestfw_sb_add(b, "%s", json_object_get_string(v));
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            guestfw_sb_add(b, "%s", i ? "," : "");
            value_text(b, json_object_array_get_idx(v, i), depth + 1);
        }
    } else if ((k = only_key(v, &val)) != NULL && strcmp(k, "prefix") == 0) {
        guestfw_sb_add(b, "%s/%s", jstr(val, "addr") ? jstr(val, "addr") : "?",
                       json_object_object_get_ex(val, "len", &v) ? json_object_get_string(v) : "?");
    } else if (k && strcmp(k, "range") == 0 && json_object_is_type(val, json_type_array) &&
               json_object_array_length(val) == 2) {
        value_text(b, json_object_array_get_idx(val, 0), depth + 1);
        guestfw_sb_add(b, "-");
        value_text(b, json_object_array_get_idx(val, 1), depth + 1);
    } else if (k && strcmp(k, "set") == 0 && json_object_is_type(val, json_type_array)) {
        guestfw_sb_add(b, "{ ");
        for (size_t i = 0; i < json_object_array_length(val); i++) {
            guestfw_sb_add(b, "%s", i ? ", " : "");
            value_text(b, json_object_array_get_idx(val, i), depth + 1);
        }
        guestfw_sb_add(b, " }");
    } else {
        guestfw_sb_add(b, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    }
}

/* ---- Matches ----------------------------------------------------------------------------------- */

/* nft prints these meta keys without the "meta" keyword. */
static bool meta_bare(const char *key)
{
    static const char *const bare[] = { "mark", "iif", "oif", "iifname", "oifname", "skuid", "skgid",
                                        "iiftype", "oiftype", "pkttype", "cpu", "cgroup", "priority" };
    for (size_t i = 0; i < sizeof bare / sizeof bare[0]; i++)
        if (strcmp(key, bare[i]) == 0)
            return true;
    return false;
}

struct left {
    bool known;
    enum guestfw_key key;
    uint32_t implied_proto; /* tcp dport implies tcp; 0 = none */
};

static struct left payload_left(struct json_object *val, struct guestfw_sb *b)
{
    struct left l = { false, GUESTFW_K_DADDR, 0 };
    const char *proto = jstr(val, "protocol"), *field = jstr(val, "field");
    if (!proto || !field) {
        guestfw_sb_add(b, "@payload");
        return l;
    }
    guestfw_sb_add(b, "%s %s", proto, field);
    if (strcmp(proto, "ip6") == 0 || strcmp(proto, "icmpv6") == 0) {
        l.known = true;
        l.key = GUESTFW_K_NEVER;
    } else if (strcmp(proto, "ip") == 0) {
        l.known = strcmp(field, "daddr") == 0 || strcmp(field, "protocol") == 0;
        l.key = strcmp(field, "daddr") == 0 ? GUESTFW_K_DADDR : GUESTFW_K_PROTO;
    } else if (strcmp(field, "dport") == 0 &&
               (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0 || strcmp(proto, "th") == 0)) {
        l.known = true;
        l.key = GUESTFW_K_DPORT;
        l.implied_proto = proto[0] == 't' && proto[1] == 'c' ? 6 : proto[0] == 'u' ? 17 : 0;
    } else if (strcmp(proto, "tcp") == 0 || strcmp(proto, "udp") == 0) {
        l.implied_proto = proto[0] == 't' ? 6 : 17; /* tcp flags etc.: unknown, but still tcp only */
    }
    return l;
}

static struct left meta_left(struct json_object *val, struct guestfw_sb *b, struct json_object *right)
{
    struct left l = { false, GUESTFW_K_PROTO, 0 };
    const char *key = jstr(val, "key");
    if (!key) {
        guestfw_sb_add(b, "meta");
        return l;
    }
    guestfw_sb_add(b, meta_bare(key) ? "%s" : "meta %s", key);
    const char *rs = json_object_is_type(right, json_type_string) ? json_object_get_string(right) : NULL;
    if (strcmp(key, "l4proto") == 0) {
        l.known = true;
    } else if (strcmp(key, "skuid") == 0) {
        l.known = true;
        l.key = GUESTFW_K_SKUID;
    } else if ((strcmp(key, "oifname") == 0 || strcmp(key, "oif") == 0) && rs && strcmp(rs, "lo") == 0) {
        l.known = true;
        l.key = GUESTFW_K_OIF_LO; /* any other interface name depends on routing: unknown */
    } else if ((strcmp(key, "nfproto") == 0 || strcmp(key, "protocol") == 0) && rs &&
               (strcmp(rs, "ipv6") == 0 || strcmp(rs, "ip6") == 0)) {
        l.known = true;
        l.key = GUESTFW_K_NEVER;
    }
    return l;
}

static struct left parse_left(struct json_object *left, struct guestfw_sb *b, struct json_object *right)
{
    struct json_object *val = NULL;
    const char *k = only_key(left, &val);
    struct left l = { false, GUESTFW_K_DADDR, 0 };
    if (k && strcmp(k, "payload") == 0)
        return payload_left(val, b);
    if (k && strcmp(k, "meta") == 0)
        return meta_left(val, b, right);
    if (k && strcmp(k, "ct") == 0 && jstr(val, "key")) {
        guestfw_sb_add(b, "ct %s", jstr(val, "key"));
        l.known = strcmp(jstr(val, "key"), "state") == 0 && !jstr(val, "dir");
        l.key = GUESTFW_K_CTSTATE;
        return l;
    }
    value_text(b, left, 0);
    return l;
}

/* "<" and friends become ranges; "&" (bit tests) and the rest are unknown. */
static int add_compare(struct guestfw_match *m, const char *op, struct json_object *right, bool *unknown)
{
    uint32_t v;
    if (!scalar_value(right, m->key, &v)) {
        *unknown = true;
        return 0;
    }
    if (strcmp(op, "<") == 0)
        return v ? guestfw_add_range(m, 0, v - 1) : 0;
    if (strcmp(op, "<=") == 0)
        return guestfw_add_range(m, 0, v);
    if (strcmp(op, ">") == 0)
        return v < UINT32_MAX ? guestfw_add_range(m, v + 1, UINT32_MAX) : 0;
    return guestfw_add_range(m, v, UINT32_MAX);
}

static int parse_match(struct valctx *vc, struct guestfw_rule *r, struct json_object *val, struct guestfw_sb *b)
{
    struct json_object *left, *right;
    const char *op = jstr(val, "op");
    if (!op || !json_object_object_get_ex(val, "left", &left) || !json_object_object_get_ex(val, "right", &right)) {
        r->unknown = true;
        guestfw_sb_add(b, "match?");
        return 0;
    }
    struct left l = parse_left(left, b, right);
    bool neg = strcmp(op, "!=") == 0;
    bool eq = neg || strcmp(op, "==") == 0 || strcmp(op, "in") == 0;
    bool cmp = strcmp(op, "<") == 0 || strcmp(op, ">") == 0 || strcmp(op, "<=") == 0 || strcmp(op, ">=") == 0;
    guestfw_sb_add(b, "%s%s ", eq && !neg ? "" : " ", eq && !neg ? "" : op);
    value_text(b, right, 0);
    if (l.implied_proto) {
        struct guestfw_match *p = guestfw_add_match(r, GUESTFW_K_PROTO, false);
        if (!p || guestfw_add_range(p, l.implied_proto, l.implied_proto) != 0)
            return -1;
    }
    if (!l.known || (!eq && !cmp) || (cmp && l.key != GUESTFW_K_DPORT && l.key != GUESTFW_K_SKUID)) {
        r->unknown = true;
        return 0;
    }
    struct guestfw_match *m = guestfw_add_match(r, l.key, neg);
    if (!m)
        return -1;
    if (l.key == GUESTFW_K_NEVER || l.key == GUESTFW_K_OIF_LO)
        return 0; /* decided by the key alone */
    bool unknown = false;
    int rc = cmp ? add_compare(m, op, right, &unknown) : add_values(vc, m, right, &unknown);
    if (unknown) {
        r->unknown = true;
        r->nm--; /* a half-understood value list must not decide "no" */
        free(m->r);
    }
    return rc;
}

/* ---- Statements and verdicts ------------------------------------------------------------------- */

static int set_target(struct guestfw_rule *r, enum guestfw_act act, struct json_object *val, struct guestfw_sb *b)
{
    const char *t = json_object_is_type(val, json_type_object) ? jstr(val, "target") : NULL;
    guestfw_sb_add(b, "%s %s", act == GUESTFW_A_JUMP ? "jump" : "goto", t ? t : "?");
    r->act = act;
    r->target = strdup(t ? t : "");
    return r->target ? 0 : -1;
}

static void reject_text(struct json_object *val, struct guestfw_sb *b)
{
    const char *type = json_object_is_type(val, json_type_object) ? jstr(val, "type") : NULL;
    const char *expr = json_object_is_type(val, json_type_object) ? jstr(val, "expr") : NULL;
    if (type && strcmp(type, "tcp reset") == 0)
        guestfw_sb_add(b, "reject with tcp reset");
    else if (type && expr)
        guestfw_sb_add(b, "reject with %s %s", type, expr);
    else
        guestfw_sb_add(b, "reject");
}

static bool in_list(const char *k, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k, list[i]) == 0)
            return true;
    return false;
}

static int unknown_action(struct guestfw_rule *r, const char *k)
{
    r->act = GUESTFW_A_UNKNOWN;
    free(r->act_name);
    r->act_name = strdup(k);
    return r->act_name ? 0 : -1;
}

static int parse_xt(struct guestfw_rule *r, struct json_object *val, struct guestfw_sb *b)
{
    const char *type = jstr(val, "type"), *name = jstr(val, "name");
    guestfw_sb_add(b, "xt %s \"%s\"", type ? type : "?", name ? name : "?");
    if (!type || strcmp(type, "target") != 0) {
        r->unknown = true; /* an iptables match nft cannot show (owner, multiport, ...) */
        return 0;
    }
    if (name && strcmp(name, "REJECT") == 0) {
        r->act = GUESTFW_A_REJECT;
        return 0;
    }
    return unknown_action(r, name ? name : "xt");
}

static int parse_stmt(struct valctx *vc, struct guestfw_rule *r, const char *k, struct json_object *val,
                      struct guestfw_sb *b)
{
    static const char *const passive[] = { "counter", "log", "mangle", "notrack", "continue", "set", "dup" };
    static const char *const conditional[] = { "limit", "quota", "connlimit", "meter" };
    if (strcmp(k, "match") == 0)
        return parse_match(vc, r, val, b);
    if (strcmp(k, "jump") == 0 || strcmp(k, "goto") == 0)
        return set_target(r, k[0] == 'j' ? GUESTFW_A_JUMP : GUESTFW_A_GOTO, val, b);
    if (strcmp(k, "xt") == 0)
        return parse_xt(r, val, b);
    if (strcmp(k, "reject") == 0)
        reject_text(val, b);
    else
        guestfw_sb_add(b, "%s", k);
    if (strcmp(k, "accept") == 0)
        r->act = GUESTFW_A_ACCEPT;
    else if (strcmp(k, "drop") == 0)
        r->act = GUESTFW_A_DROP;
    else if (strcmp(k, "reject") == 0)
        r->act = GUESTFW_A_REJECT;
    else if (strcmp(k, "return") == 0)
        r->act = GUESTFW_A_RETURN;
    else if (in_list(k, conditional, sizeof conditional / sizeof conditional[0]))
        r->unknown = true; /* matches only some packets: which ones is not knowable here */
    else if (!in_list(k, passive, sizeof passive / sizeof passive[0]))
        return unknown_action(r, k); /* queue, nat statements, vmap...: may end the chain */
    return 0;
}

/* ---- Objects ----------------------------------------------------------------------------------- */

static int fail(struct nctx *x, const char *path, const char *what)
{
    guestfw_errf(x->err, x->errlen, x->label, "%s: %s", path, what);
    return -1;
}

static int parse_table(struct nctx *x, struct json_object *o, const char *path)
{
    const char *family = jstr(o, "family"), *name = jstr(o, "name");
    if (!family || !name)
        return fail(x, path, "a table needs \"family\" and \"name\"");
    if (!family_ipv4(family))
        return 0;
    bool ok;
    size_t t = guestfw_add_table(x->fw, GUESTFW_SRC_NFT, family, name, &ok);
    if (!ok)
        return fail(x, path, "out of memory");
    struct json_object *flags;
    if (json_object_object_get_ex(o, "flags", &flags) &&
        strstr(json_object_to_json_string_ext(flags, JSON_C_TO_STRING_PLAIN), "dormant"))
        x->fw->tables[t].skip = true; /* a dormant table filters nothing */
    return 0;
}

static int chain_prio(struct json_object *o)
{
    static const struct {
        const char *name;
        int prio;
    } named[] = { { "raw", -300 }, { "mangle", -150 }, { "dstnat", -100 }, { "filter", 0 },
                  { "security", 50 }, { "srcnat", 100 } };
    struct json_object *p;
    int64_t n;
    if (!json_object_object_get_ex(o, "prio", &p))
        return 0;
    if (jnum(p, &n))
        return n < INT_MIN ? INT_MIN : n > INT_MAX ? INT_MAX : (int)n;
    const char *s = json_object_is_type(p, json_type_string) ? json_object_get_string(p) : "";
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strncmp(s, named[i].name, strlen(named[i].name)) == 0)
            return named[i].prio;
    return 0;
}

static int parse_chain(struct nctx *x, struct json_object *o, const char *path)
{
    const char *family = jstr(o, "family"), *table = jstr(o, "table"), *name = jstr(o, "name");
    size_t t;
    if (!family || !table || !name)
        return fail(x, path, "a chain needs \"family\", \"table\" and \"name\"");
    if (!family_ipv4(family))
        return 0;
    if (!find_table(x, family, table, &t))
        return fail(x, path, "the chain's table was not listed before it");
    struct guestfw_chain *c = guestfw_add_chain(x->fw, t, name);
    if (!c)
        return fail(x, path, "out of memory");
    const char *hook = jstr(o, "hook"), *policy = jstr(o, "policy");
    c->base = hook && strcmp(hook, "output") == 0;
    c->prio = chain_prio(o);
    c->policy_drop = policy && strcmp(policy, "drop") == 0;
    return 0;
}

static int parse_exprs(struct nctx *x, struct valctx *vc, struct guestfw_rule *r, struct json_object *expr,
                       const char *path)
{
    struct guestfw_sb b = { 0 };
    int rc = 0;
    for (size_t i = 0; i < json_object_array_length(expr) && rc == 0; i++) {
        struct json_object *val = NULL;
        const char *k = only_key(json_object_array_get_idx(expr, i), &val);
        char where[160];
        snprintf(where, sizeof where, "%s.expr[%zu]", path, i);
        if (!k) {
            rc = fail(x, where, "an expression must be an object with one key");
            break;
        }
        guestfw_sb_add(&b, "%s", b.len ? " " : "");
        rc = parse_stmt(vc, r, k, val, &b) == 0 ? 0 : fail(x, where, "out of memory");
    }
    if (rc == 0 && b.oom)
        rc = fail(x, path, "out of memory");
    r->text = b.s ? b.s : strdup("");
    if (!r->text && rc == 0)
        rc = fail(x, path, "out of memory");
    return rc;
}

static int parse_rule(struct nctx *x, struct json_object *o, const char *path)
{
    const char *family = jstr(o, "family"), *table = jstr(o, "table"), *chain = jstr(o, "chain");
    struct json_object *expr;
    size_t t;
    if (!family || !table || !chain || !json_object_object_get_ex(o, "expr", &expr) ||
        !json_object_is_type(expr, json_type_array))
        return fail(x, path, "a rule needs \"family\", \"table\", \"chain\" and an \"expr\" array");
    if (!family_ipv4(family))
        return 0;
    struct guestfw_chain *c = find_table(x, family, table, &t) ? guestfw_find_chain(x->fw, t, chain) : NULL;
    if (!c)
        return fail(x, path, "the rule's chain was not listed before it");
    struct guestfw_rule *r = guestfw_add_rule(c);
    if (!r)
        return fail(x, path, "out of memory");
    r->agent = strcmp(table, "walinuxagent") == 0;
    struct valctx vc = { x, family, table, 0 };
    return parse_exprs(x, &vc, r, expr, path);
}

/* Pass 0 reads tables and chains, pass 1 rules, so a rule may come before its chain in the array. */
static int parse_items(struct nctx *x, int pass)
{
    size_t n = json_object_array_length(x->items);
    for (size_t i = 0; i < n; i++) {
        struct json_object *item = json_object_array_get_idx(x->items, i), *val = NULL;
        char path[64];
        snprintf(path, sizeof path, "nftables[%zu]", i);
        if (!json_object_is_type(item, json_type_object))
            return fail(x, path, "expected an object");
        const char *k = only_key(item, &val);
        if (!k)
            continue;
        char where[96];
        snprintf(where, sizeof where, "%s.%s", path, k);
        bool obj = json_object_is_type(val, json_type_object);
        int rc = 0;
        if (pass == 0 && strcmp(k, "table") == 0)
            rc = obj ? parse_table(x, val, where) : fail(x, where, "expected an object");
        else if (pass == 0 && strcmp(k, "chain") == 0)
            rc = obj ? parse_chain(x, val, where) : fail(x, where, "expected an object");
        else if (pass == 1 && strcmp(k, "rule") == 0)
            rc = obj ? parse_rule(x, val, where) : fail(x, where, "expected an object");
        if (rc)
            return rc;
    }
    return 0;
}

static struct json_object *parse_json(const char *buf, size_t len, const char *label, char *err, size_t errlen)
{
    if (len > GUESTFW_MAX_OUTPUT || len > INT_MAX) {
        guestfw_errf(err, errlen, label, "larger than %u bytes", GUESTFW_MAX_OUTPUT);
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        guestfw_errf(err, errlen, label, "out of memory");
        return NULL;
    }
    struct json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!root && jerr == json_tokener_continue && len > 0) {
        root = json_tokener_parse_ex(tok, "", 1); /* a bare number at the end needs a terminator */
        jerr = root ? json_tokener_success : json_tokener_get_error(tok);
    }
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        guestfw_errf(err, errlen, label, "JSON error at byte %zu: %s", end,
                     json_tokener_error_desc(jerr == json_tokener_continue ? json_tokener_error_parse_eof : jerr));
        return NULL;
    }
    return root;
}

int guestfw_load_nft_json(struct guestfw *fw, const char *buf, size_t len, const char *label, char *err,
                          size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    struct json_object *root = parse_json(buf ? buf : "", buf ? len : 0, label, err, errlen);
    if (!root)
        return -1;
    struct nctx x = { fw, fw->ntables, NULL, label, err, errlen };
    int rc;
    if (!json_object_object_get_ex(root, "nftables", &x.items) || !json_object_is_type(x.items, json_type_array))
        rc = fail(&x, "$", "expected {\"nftables\": [...]}");
    else
        rc = parse_items(&x, 0) ? -1 : parse_items(&x, 1);
    json_object_put(root);
    if (rc) {
        guestfw_truncate(fw, x.first_table);
        return -1;
    }
    fw->sources |= GUESTFW_SRC_NFT;
    guestfw_finish(fw);
    return 0;
}
