/* The guest firewall model: builders, the output-path evaluator and the one-line description. The
 * loaders are guestfw_nft.c and guestfw_ipt.c; running the commands is guestfw_collect.c. */
#include "probe/diag/guestfw_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/diag/prefix.h"

/* ---- Builders ---------------------------------------------------------------------------------- */

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

size_t guestfw_add_table(struct guestfw *fw, unsigned source, const char *family, const char *name, bool *ok)
{
    struct guestfw_table *t = realloc(fw->tables, (fw->ntables + 1) * sizeof *t);
    *ok = t != NULL;
    if (!t)
        return 0;
    fw->tables = t;
    t += fw->ntables;
    memset(t, 0, sizeof *t);
    snprintf(t->family, sizeof t->family, "%s", family);
    t->source = source;
    t->name = dup_str(name);
    *ok = t->name != NULL;
    return fw->ntables++;
}

struct guestfw_chain *guestfw_find_chain(const struct guestfw *fw, size_t table, const char *name)
{
    for (size_t i = 0; i < fw->nchains; i++)
        if (fw->chains[i].table == table && strcmp(fw->chains[i].name, name) == 0)
            return &fw->chains[i];
    return NULL;
}

struct guestfw_chain *guestfw_add_chain(struct guestfw *fw, size_t table, const char *name)
{
    struct guestfw_chain *c = realloc(fw->chains, (fw->nchains + 1) * sizeof *c);
    if (!c)
        return NULL;
    fw->chains = c;
    c += fw->nchains;
    memset(c, 0, sizeof *c);
    c->table = table;
    c->name = dup_str(name);
    if (!c->name)
        return NULL;
    fw->nchains++;
    return c;
}

struct guestfw_rule *guestfw_add_rule(struct guestfw_chain *c)
{
    struct guestfw_rule *r = realloc(c->rules, (c->nrules + 1) * sizeof *r);
    if (!r)
        return NULL;
    c->rules = r;
    r += c->nrules++;
    memset(r, 0, sizeof *r);
    return r;
}

struct guestfw_match *guestfw_add_match(struct guestfw_rule *r, enum guestfw_key key, bool neg)
{
    struct guestfw_match *m = realloc(r->m, (r->nm + 1) * sizeof *m);
    if (!m)
        return NULL;
    r->m = m;
    m += r->nm++;
    memset(m, 0, sizeof *m);
    m->key = key;
    m->neg = neg;
    return m;
}

int guestfw_add_range(struct guestfw_match *m, uint32_t lo, uint32_t hi)
{
    struct guestfw_range *r = realloc(m->r, (m->n + 1) * sizeof *r);
    if (!r)
        return -1;
    m->r = r;
    r[m->n].lo = lo < hi ? lo : hi;
    r[m->n].hi = lo < hi ? hi : lo;
    m->n++;
    return 0;
}

static void free_rule(struct guestfw_rule *r)
{
    for (size_t i = 0; i < r->nm; i++)
        free(r->m[i].r);
    free(r->m);
    free(r->target);
    free(r->act_name);
    free(r->text);
}

static void free_chain(struct guestfw_chain *c)
{
    for (size_t i = 0; i < c->nrules; i++)
        free_rule(&c->rules[i]);
    free(c->rules);
    free(c->name);
}

void guestfw_truncate(struct guestfw *fw, size_t ntables)
{
    size_t keep = 0;
    for (size_t i = 0; i < fw->nchains; i++) {
        if (fw->chains[i].table >= ntables)
            free_chain(&fw->chains[i]);
        else
            fw->chains[keep++] = fw->chains[i];
    }
    fw->nchains = keep;
    for (size_t i = ntables; i < fw->ntables; i++)
        free(fw->tables[i].name);
    if (fw->ntables > ntables)
        fw->ntables = ntables;
}

void guestfw_free(struct guestfw *fw)
{
    if (!fw)
        return;
    guestfw_truncate(fw, 0);
    free(fw->chains);
    free(fw->tables);
    memset(fw, 0, sizeof *fw);
}

static void link_targets(struct guestfw *fw)
{
    for (size_t i = 0; i < fw->nchains; i++)
        for (size_t j = 0; j < fw->chains[i].nrules; j++) {
            struct guestfw_rule *r = &fw->chains[i].rules[j];
            const struct guestfw_chain *c =
                r->target ? guestfw_find_chain(fw, fw->chains[i].table, r->target) : NULL;
            r->target_chain = c ? (size_t)(c - fw->chains) : SIZE_MAX;
        }
}

void guestfw_finish(struct guestfw *fw)
{
    link_targets(fw);
    static const char *const xtables[] = { "raw", "mangle", "filter", "security" };
    for (size_t i = 0; i < fw->ntables; i++) {
        struct guestfw_table *t = &fw->tables[i];
        if (t->source != GUESTFW_SRC_NFT || strcmp(t->family, "ip") != 0)
            continue;
        for (size_t j = 0; j < fw->ntables; j++)
            for (size_t k = 0; k < sizeof xtables / sizeof xtables[0]; k++)
                if (fw->tables[j].source == GUESTFW_SRC_IPTABLES && strcmp(t->name, xtables[k]) == 0 &&
                    strcmp(fw->tables[j].name, t->name) == 0)
                    t->skip = true;
    }
}

/* Rule texts and JSON keys end up in terminal and markdown reports: no control bytes in them. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
            *s = '?';
}

void guestfw_errf(char *err, size_t errlen, const char *label, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    int n = snprintf(err, errlen, "%s: ", label && *label ? label : "<input>");
    if (n < 0 || (size_t)n >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    printable(err);
}

void guestfw_sb_add(struct guestfw_sb *b, const char *fmt, ...)
{
    if (b->oom || b->len >= GUESTFW_TEXT_MAX)
        return;
    char piece[GUESTFW_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(piece, sizeof piece, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t want = (size_t)n < sizeof piece ? (size_t)n : sizeof piece - 1;
    if (b->len + want > GUESTFW_TEXT_MAX)
        want = GUESTFW_TEXT_MAX - b->len; /* a huge set is cut: the text only has to name the rule */
    if (b->len + want + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 128;
        while (cap < b->len + want + 1)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, piece, want);
    b->len += want;
    b->s[b->len] = '\0';
}

/* ---- Evaluation -------------------------------------------------------------------------------- */

enum tri { TRI_NO, TRI_YES, TRI_MAYBE };

static bool ranges_hold(const struct guestfw_match *m, uint32_t v)
{
    for (size_t i = 0; i < m->n; i++)
        if (v >= m->r[i].lo && v <= m->r[i].hi)
            return true;
    return false;
}

/* The prober's uid is only known to be 0 or "not 0": a set holding some but not all other uids
 * cannot be decided for a non-root prober. */
static enum tri uid_match(const struct guestfw_match *m, bool as_root)
{
    if (as_root)
        return ranges_hold(m, 0) ? TRI_YES : TRI_NO;
    uint64_t covered = 0;
    bool any = false;
    for (size_t i = 0; i < m->n; i++) {
        uint32_t lo = m->r[i].lo ? m->r[i].lo : 1;
        if (m->r[i].hi == 0)
            continue;
        any = true;
        covered += (uint64_t)m->r[i].hi - lo + 1; /* ranges from one rule do not overlap in practice */
    }
    if (!any)
        return TRI_NO;
    return covered >= UINT32_MAX ? TRI_YES : TRI_MAYBE;
}

static enum tri match_eval(const struct guestfw_match *m, const struct guestfw_flow *f)
{
    enum tri t;
    switch (m->key) {
    case GUESTFW_K_DADDR: t = ranges_hold(m, f->dst) ? TRI_YES : TRI_NO; break;
    case GUESTFW_K_PROTO: t = ranges_hold(m, f->tcp ? 6 : 17) ? TRI_YES : TRI_NO; break;
    case GUESTFW_K_DPORT: t = ranges_hold(m, f->dport) ? TRI_YES : TRI_NO; break;
    case GUESTFW_K_SKUID: t = uid_match(m, f->as_root); break;
    case GUESTFW_K_CTSTATE: t = ranges_hold(m, GUESTFW_CT_NEW) ? TRI_YES : TRI_NO; break;
    case GUESTFW_K_OIF_LO: t = (f->dst >> 24) == 127 ? TRI_YES : TRI_NO; break;
    default: return TRI_NO; /* GUESTFW_K_NEVER: negation is meaningless here */
    }
    if (m->neg && t != TRI_MAYBE)
        t = t == TRI_YES ? TRI_NO : TRI_YES;
    return t;
}

/* A definite "no" from any known match wins over an unknown one: the rule cannot apply. */
static enum tri rule_eval(const struct guestfw_rule *r, const struct guestfw_flow *f)
{
    enum tri res = r->unknown ? TRI_MAYBE : TRI_YES;
    for (size_t i = 0; i < r->nm; i++) {
        enum tri t = match_eval(&r->m[i], f);
        if (t == TRI_NO)
            return TRI_NO;
        if (t == TRI_MAYBE)
            res = TRI_MAYBE;
    }
    return res;
}

struct walk {
    const struct guestfw *fw;
    const struct guestfw_flow *f;
    struct guestfw_verdict *v;
    size_t steps;       /* rules visited: jumps can fan out exponentially (a chain jumping to itself) */
};

#define WALK_STEPS 200000

enum outcome { OUT_CONTINUE, OUT_ACCEPT, OUT_DROP };

#define WALK_DEPTH 16

static const char *act_word(const struct guestfw_rule *r)
{
    switch (r->act) {
    case GUESTFW_A_DROP: return "drop";
    case GUESTFW_A_REJECT: return "reject";
    case GUESTFW_A_JUMP: return "jump";
    case GUESTFW_A_GOTO: return "goto";
    default: return r->act_name ? r->act_name : "unknown";
    }
}

static void fill_hit(const struct walk *w, struct guestfw_hit *h, const struct guestfw_chain *c,
                     const struct guestfw_rule *r)
{
    const struct guestfw_table *t = &w->fw->tables[c->table];
    memset(h, 0, sizeof *h);
    snprintf(h->source, sizeof h->source, "%s", t->source == GUESTFW_SRC_NFT ? "nftables" : "iptables");
    snprintf(h->family, sizeof h->family, "%s", t->family);
    snprintf(h->table, sizeof h->table, "%s", t->name);
    snprintf(h->chain, sizeof h->chain, "%s", c->name);
    printable(h->table);
    printable(h->chain);
    if (!r) {
        h->policy = true;
        snprintf(h->rule, sizeof h->rule, "policy drop");
        snprintf(h->verdict, sizeof h->verdict, "drop");
        h->agent = strcmp(t->name, "walinuxagent") == 0 && t->source == GUESTFW_SRC_NFT;
        return;
    }
    snprintf(h->rule, sizeof h->rule, "%s", r->text ? r->text : "");
    snprintf(h->verdict, sizeof h->verdict, "%s", act_word(r));
    printable(h->rule);
    printable(h->verdict);
    h->agent = r->agent;
}

static void note_possible(struct walk *w, const struct guestfw_chain *c, const struct guestfw_rule *r)
{
    if (w->v->has_possible)
        return;
    w->v->has_possible = true;
    fill_hit(w, &w->v->possible, c, r);
}

static enum outcome walk_chain(struct walk *w, const struct guestfw_chain *c, bool *sure, int depth);

/* jump / goto: both resume the caller when the callee falls off its end or returns; a goto also
 * skips the rest of the calling chain, which the caller handles. */
static enum outcome walk_call(struct walk *w, const struct guestfw_chain *c, const struct guestfw_rule *r,
                              bool *sure, int depth)
{
    const struct guestfw_chain *sub = r->target_chain < w->fw->nchains ? &w->fw->chains[r->target_chain] : NULL;
    if (!sub || depth >= WALK_DEPTH || w->steps > WALK_STEPS) {
        note_possible(w, c, r);
        *sure = false;
        return OUT_CONTINUE;
    }
    return walk_chain(w, sub, sure, depth + 1);
}

static enum outcome walk_rule(struct walk *w, const struct guestfw_chain *c, const struct guestfw_rule *r,
                              bool *sure, int depth, bool *stop)
{
    w->steps++;
    enum tri t = rule_eval(r, w->f);
    if (t == TRI_NO || r->act == GUESTFW_A_NONE)
        return OUT_CONTINUE;
    bool certain = *sure && t == TRI_YES;
    switch (r->act) {
    case GUESTFW_A_ACCEPT:
        if (certain)
            return OUT_ACCEPT;
        *sure = false; /* it may have been accepted here: later drops are only possible */
        return OUT_CONTINUE;
    case GUESTFW_A_DROP:
    case GUESTFW_A_REJECT:
        if (certain) {
            fill_hit(w, &w->v->blocker, c, r);
            return OUT_DROP;
        }
        note_possible(w, c, r);
        return OUT_CONTINUE;
    case GUESTFW_A_RETURN:
        *stop = certain;
        if (!certain)
            *sure = false;
        return OUT_CONTINUE;
    case GUESTFW_A_JUMP:
    case GUESTFW_A_GOTO: {
        bool inner = certain;
        enum outcome o = walk_call(w, c, r, &inner, depth);
        if (!inner)
            *sure = false;
        if (certain && o != OUT_CONTINUE)
            return o;
        *stop = certain && r->act == GUESTFW_A_GOTO;
        return OUT_CONTINUE;
    }
    default:
        note_possible(w, c, r);
        *sure = false;
        return OUT_CONTINUE;
    }
}

/* With *sure false nothing is decided any more: rules are still walked to find possible blockers. */
static enum outcome walk_chain(struct walk *w, const struct guestfw_chain *c, bool *sure, int depth)
{
    for (size_t i = 0; i < c->nrules; i++) {
        bool stop = false;
        enum outcome o = walk_rule(w, c, &c->rules[i], sure, depth, &stop);
        if (o != OUT_CONTINUE)
            return o;
        if (stop)
            break;
    }
    return OUT_CONTINUE;
}

static enum outcome walk_base(struct walk *w, const struct guestfw_chain *c)
{
    bool sure = true;
    enum outcome o = walk_chain(w, c, &sure, 0);
    if (o != OUT_CONTINUE || !c->policy_drop)
        return o;
    if (sure) {
        fill_hit(w, &w->v->blocker, c, NULL);
        return OUT_DROP;
    }
    note_possible(w, c, NULL);
    return OUT_CONTINUE;
}

static int cmp_prio(const void *a, const void *b)
{
    const struct guestfw_chain *x = *(const struct guestfw_chain *const *)a;
    const struct guestfw_chain *y = *(const struct guestfw_chain *const *)b;
    if (x->prio != y->prio)
        return x->prio < y->prio ? -1 : 1;
    return x < y ? -1 : x > y; /* load order breaks ties, as the kernel's registration order does */
}

bool guestfw_evaluate(const struct guestfw *fw, const struct guestfw_flow *f, struct guestfw_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->loaded = fw && fw->sources != 0;
    if (!fw || !fw->nchains)
        return false;
    const struct guestfw_chain **order = calloc(fw->nchains, sizeof *order);
    if (!order)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < fw->nchains; i++)
        if (fw->chains[i].base && !fw->tables[fw->chains[i].table].skip)
            order[n++] = &fw->chains[i];
    qsort(order, n, sizeof *order, cmp_prio);
    struct walk w = { fw, f, v, 0 };
    v->base_chains = n;
    for (size_t i = 0; i < n && !v->blocked; i++)
        v->blocked = walk_base(&w, order[i]) == OUT_DROP;
    free(order);
    v->uncertain = !v->blocked && v->has_possible;
    return v->blocked;
}

/* ---- Description ------------------------------------------------------------------------------- */

static void describe_where(const struct guestfw_hit *h, char *buf, size_t size)
{
    char what[GUESTFW_RULE_MAX + 16];
    if (h->policy)
        snprintf(what, sizeof what, "policy %s", h->verdict);
    else
        snprintf(what, sizeof what, "rule \"%s\"", h->rule);
    if (strcmp(h->source, "iptables") == 0)
        snprintf(buf, size, "iptables table %s chain %s %s", h->table, h->chain, what);
    else
        snprintf(buf, size, "table %s %s chain %s %s", h->family, h->table, h->chain, what);
}

char *guestfw_describe(const struct guestfw_verdict *v, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    char where[GUESTFW_RULE_MAX + 256];
    if (v->blocked) {
        describe_where(&v->blocker, where, sizeof where);
        snprintf(buf, size, "guest firewall: %s %s it%s", where,
                 strcmp(v->blocker.verdict, "reject") == 0 ? "rejects" : "drops",
                 v->blocker.agent ? " (the Azure guest agent's own rule, OS.EnableFirewall: it drops TCP to "
                                    "168.63.129.16 from non-root users except port 53; run azbprobe as root)"
                                  : "");
    } else if (v->uncertain) {
        describe_where(&v->possible, where, sizeof where);
        snprintf(buf, size, "guest firewall: %s may %s it (azbprobe cannot evaluate every match of it)", where,
                 v->possible.verdict);
    } else if (v->loaded) {
        snprintf(buf, size, "guest firewall: no output rule drops it (%zu output chains checked)", v->base_chains);
    } else {
        snprintf(buf, size, "guest firewall: no rules could be read");
    }
    return buf;
}

bool guestfw_check(const char *root, const struct guestfw_flow *f, struct guestfw_verdict *v, char *line,
                   size_t linesize)
{
    struct guestfw fw = { 0 };
    char note[512];
    guestfw_collect(&fw, root, note, sizeof note);
    bool blocked = guestfw_evaluate(&fw, f, v);
    guestfw_free(&fw);
    guestfw_describe(v, line, linesize);
    return blocked;
}
