/* The rule model shared by the two loaders (guestfw_nft.c, guestfw_ipt.c) and the evaluator
 * (guestfw.c). Both sources are reduced to the same thing: tables of chains of rules, each rule a
 * conjunction of matches over value ranges plus one action. */
#ifndef AZB_DIAG_GUESTFW_INTERNAL_H
#define AZB_DIAG_GUESTFW_INTERNAL_H

#include "probe/diag/guestfw.h"

enum guestfw_key {
    GUESTFW_K_DADDR,    /* ranges of IPv4 addresses */
    GUESTFW_K_PROTO,    /* IP protocol numbers */
    GUESTFW_K_DPORT,
    GUESTFW_K_SKUID,    /* socket owner uid */
    GUESTFW_K_CTSTATE,  /* GUESTFW_CT_* bits, one range per state */
    GUESTFW_K_OIF_LO,   /* "output interface is lo": true only for 127.0.0.0/8 */
    GUESTFW_K_NEVER,    /* never true for an IPv4 flow (ip6 ...) */
};

#define GUESTFW_CT_INVALID 1u
#define GUESTFW_CT_ESTABLISHED 2u
#define GUESTFW_CT_RELATED 4u
#define GUESTFW_CT_NEW 8u
#define GUESTFW_CT_UNTRACKED 64u

struct guestfw_range {
    uint32_t lo, hi;
};

struct guestfw_match {
    enum guestfw_key key;
    bool neg;
    struct guestfw_range *r;
    size_t n;
};

enum guestfw_act {
    GUESTFW_A_NONE,     /* counter, log, ...: go on with the next rule */
    GUESTFW_A_ACCEPT,
    GUESTFW_A_DROP,
    GUESTFW_A_REJECT,
    GUESTFW_A_JUMP,
    GUESTFW_A_GOTO,
    GUESTFW_A_RETURN,
    GUESTFW_A_UNKNOWN,  /* an action that may end the chain either way (queue, xt target, nat) */
};

struct guestfw_rule {
    struct guestfw_match *m;
    size_t nm;
    bool unknown;           /* holds a match azbprobe cannot evaluate */
    enum guestfw_act act;
    char *target;           /* jump / goto / -j chain name */
    size_t target_chain;    /* its index in guestfw.chains, SIZE_MAX if absent (guestfw_finish) */
    char *act_name;         /* the action as written, for GUESTFW_A_UNKNOWN */
    char *text;
    bool agent;
};

struct guestfw_chain {
    size_t table;           /* index into guestfw.tables */
    char *name;
    bool base;              /* an output-hook base chain */
    int prio;
    bool policy_drop;
    struct guestfw_rule *rules;
    size_t nrules;
};

struct guestfw_table {
    char family[8];
    char *name;
    unsigned source;        /* GUESTFW_SRC_* */
    bool skip;              /* an nft view of a table iptables-save also listed (iptables-nft) */
};

/* Builders used by the loaders (guestfw.c). All return NULL / -1 on allocation failure. */
size_t guestfw_add_table(struct guestfw *fw, unsigned source, const char *family, const char *name, bool *ok);
struct guestfw_chain *guestfw_add_chain(struct guestfw *fw, size_t table, const char *name);
struct guestfw_chain *guestfw_find_chain(const struct guestfw *fw, size_t table, const char *name);
struct guestfw_rule *guestfw_add_rule(struct guestfw_chain *c);
struct guestfw_match *guestfw_add_match(struct guestfw_rule *r, enum guestfw_key key, bool neg);
int guestfw_add_range(struct guestfw_match *m, uint32_t lo, uint32_t hi);
/* Drop every table (and its chains) with index >= ntables: undoes a failed load. */
void guestfw_truncate(struct guestfw *fw, size_t ntables);
/* After each successful load: resolve jump targets to chain indices (so evaluation does no name
 * lookups), and skip nft views of iptables tables: iptables-nft keeps them as nft tables of family
 * ip, and when iptables-save listed a table, its text (with the xt matches nft cannot show) is the
 * one to evaluate, so no rule counts twice. */
void guestfw_finish(struct guestfw *fw);
void guestfw_errf(char *err, size_t errlen, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A growable text buffer for rule texts, cut at GUESTFW_TEXT_MAX. */
#define GUESTFW_TEXT_MAX 4096
struct guestfw_sb {
    char *s;
    size_t len, cap;
    bool oom;
};
void guestfw_sb_add(struct guestfw_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
