/* The guest's own OUTPUT firewall, for blame: before azbprobe blames an NSG or a route for a failed
 * flow (and always for 168.63.129.16 and 169.254.169.254, which NSGs and UDRs never filter), it
 * asks whether a netfilter rule inside the VM drops or rejects the flow, and names that rule.
 *
 * Sources: `nft -j list ruleset` (libnftables JSON) and `iptables-save` text (which lists every
 * loaded table, the security table included). Only IPv4 output-hook chains are evaluated: nft base
 * chains with "hook output" in tables of family ip or inet, and the OUTPUT chains of the iptables
 * raw, mangle, filter and security tables, each followed through jump / goto / -j USERCHAIN.
 *
 * Rules azbprobe cannot fully evaluate (an interface other than lo, a mark, a rate limit, an xt
 * match, a map, ...) are never named as the blocker: they make the answer "uncertain" and are
 * reported as a possible blocker instead.
 *
 * One-shot use (what blame.c needs):
 *
 *   struct guestfw_flow f = { .dst = ip, .dport = 80, .tcp = true, .as_root = geteuid() == 0 };
 *   struct guestfw_verdict v;
 *   char line[GUESTFW_DESCRIBE_MAX];
 *   if (guestfw_check(root, &f, &v, line, sizeof line)) ... the guest firewall blocks it: print line
 *   else if (v.uncertain) ... print line as a hint, keep looking at NSGs / routes
 *
 * or, for several flows, load once: guestfw_collect(), guestfw_evaluate() per flow, guestfw_free(). */
#ifndef AZB_DIAG_GUESTFW_H
#define AZB_DIAG_GUESTFW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guestfw_table;
struct guestfw_chain;

/* Everything read from both sources. Zero-initialise ({0}) before the first load; loads add to it. */
struct guestfw {
    struct guestfw_table *tables;
    size_t ntables;
    struct guestfw_chain *chains;
    size_t nchains;
    unsigned sources;   /* GUESTFW_SRC_* bits of what was loaded successfully */
};

#define GUESTFW_SRC_NFT 0x1u
#define GUESTFW_SRC_IPTABLES 0x2u

/* Bounds of the live commands (guestfw_collect) and of what the loaders accept. */
#define GUESTFW_MAX_OUTPUT (4u << 20)
#define GUESTFW_TIMEOUT_MS 2000

/* A flow leaving the VM. dst in host byte order (prefix.h). as_root: the prober's effective uid is 0
 * (the guest agent's rule lets uid 0 through). Conntrack state is taken as NEW. */
struct guestfw_flow {
    uint32_t dst;
    uint16_t dport;
    bool tcp;       /* false: UDP */
    bool as_root;
};

#define GUESTFW_RULE_MAX 512

/* The rule (or chain policy) that drops, rejects or may drop a flow. */
struct guestfw_hit {
    char source[16];    /* "nftables" or "iptables" */
    char family[8];     /* "ip", "inet" */
    char table[64];
    char chain[64];
    char rule[GUESTFW_RULE_MAX]; /* nft: rebuilt text; iptables: the -A line; policy: "policy drop" */
    char verdict[16];   /* "drop", "reject", or for a rule azbprobe cannot read: the action's name */
    bool policy;        /* the chain's default policy decided, no rule matched */
    bool agent;         /* the Azure guest agent's own rule (azure-platform.md section 8) */
};

struct guestfw_verdict {
    bool loaded;            /* at least one source held rules */
    bool blocked;           /* a rule that azbprobe fully evaluated drops or rejects the flow */
    bool uncertain;         /* not blocked, but a rule it cannot evaluate might: see possible */
    struct guestfw_hit blocker;  /* valid when blocked */
    struct guestfw_hit possible; /* valid when uncertain (also kept when blocked, if seen first) */
    bool has_possible;
    size_t base_chains;     /* output-hook base chains evaluated */
};

/* Loaders: 0, or -1 with err = "<label>: <JSON path or line N>: <problem>". On error nothing of that
 * input is kept (fw stays as it was). label names the input in messages (a file name, a command). */
int guestfw_load_nft_json(struct guestfw *fw, const char *buf, size_t len, const char *label, char *err,
                          size_t errlen);
int guestfw_load_iptables_save(struct guestfw *fw, const char *text, size_t len, const char *label, char *err,
                               size_t errlen);
void guestfw_free(struct guestfw *fw);

/* Fill fw from the live system (root "" or NULL) or from a collected bundle (root = a directory).
 * Live: runs `nft -j list ruleset` and `iptables-save` from /usr/sbin or /sbin, read-only, without a
 * shell, stderr discarded, GUESTFW_TIMEOUT_MS each and at most GUESTFW_MAX_OUTPUT bytes; a missing
 * binary is skipped. Bundle layout (relative to root):
 *     nft-ruleset.json    output of `nft -j list ruleset`
 *     iptables-save.txt   output of `iptables-save`
 * either may be absent. note says what was read and what failed (never empty afterwards). */
void guestfw_collect(struct guestfw *fw, const char *root, char *note, size_t notesize);

/* Evaluate f against every output-hook chain in priority order. Returns v->blocked. */
bool guestfw_evaluate(const struct guestfw *fw, const struct guestfw_flow *f, struct guestfw_verdict *v);

#define GUESTFW_DESCRIBE_MAX 1024

/* One line, e.g. `guest firewall: table inet azbp_guest chain output rule "ip daddr 203.0.113.10 tcp
 * dport 443 drop" drops it`. Returns buf. */
char *guestfw_describe(const struct guestfw_verdict *v, char *buf, size_t size);

/* collect + evaluate + describe + free, for one flow. Returns v->blocked; line always filled. */
bool guestfw_check(const char *root, const struct guestfw_flow *f, struct guestfw_verdict *v, char *line,
                   size_t linesize);

#endif
