/* Network security groups for the blame feature: readers for the JSON Azure exports, and an
 * offline IP-flow-verify that names the NSG rule deciding a flow.
 *
 * Readers (nsg_read.c) accept, detecting the shape themselves:
 *  - `az network nsg show` (flat: rule fields at the top level of each rule),
 *  - the ARM GET form (per-NSG and per-rule `properties`), also inside a {"value":[...]} list,
 *  - `az network nsg rule list` (a bare array of rules),
 *  - `az network nic list-effective-nsg` / POST effectiveNetworkSecurityGroups (several NSGs, each
 *    with its association to the NIC or the subnet, `expanded*AddressPrefix` and `tagMap`),
 *  - `az network nic show` (flat or ARM) for the NIC's NSG, subnet, private IP and ASGs.
 * Keys are matched case-insensitively (PowerShell exports use PascalCase). A bad value is an error
 * naming the file and the JSON path ("x.json: securityRules[3].destinationPortRange: 10-5 is not a
 * port range"); a loader never crashes and leaves the set usable for what loaded before.
 *
 * Evaluation (nsg_eval.c) follows network-security-group-how-it-works.md: outbound = NIC NSG then
 * subnet NSG (inbound the reverse), both must allow, per NSG the lowest priority number that matches
 * decides, a level without an NSG allows. Rules whose match cannot be decided offline (ASG
 * membership unknown, a tag nobody can expand) are "unknown": they make the verdict indeterminate
 * only when they could change it (an unknown Deny before the deciding Allow, or the reverse).
 *
 * Addresses are host byte order (probe/diag/prefix.h). Nothing here does I/O except the *_file
 * loaders, which read the file into a buffer through probe/sysfile.h. */
#ifndef AZB_DIAG_NSG_H
#define AZB_DIAG_NSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/diag/prefix.h"
#include "probe/diag/servicetags.h"

/* ---- Limits (Azure's own, from azure-subscription-service-limits, plus headroom) --------------- */
#define NSG_NAME_MAX       96       /* rule and NSG names are <= 80 characters */
#define NSG_ID_MAX         384      /* ARM resource ids */
#define NSG_TAG_MAX        96
#define NSG_MAX_USER_RULES 1000     /* custom rules per NSG */
#define NSG_MAX_RULE_ARRAY 1100     /* any one rules array (the effective one holds defaults too) */
#define NSG_MAX_ADDRS      4000     /* address entries per rule side */
#define NSG_MAX_EXPANDED   200000   /* expanded*AddressPrefix entries (AzureCloud has ~13k) */
#define NSG_MAX_PORTS      4000     /* port ranges per rule side */
#define NSG_MAX_ASGS       100      /* ASGs per rule side (Azure: 10) and per NIC */
#define NSG_MAX_TAGS       16       /* tags per rule side (Azure: 1) */
#define NSG_SET_MAX        16       /* NSGs in one set */
#define NSG_MAX_FILE       (64u << 20)

/* ---- Loader results, shared with the route reader (route_eval.h) ------------------------------ */
enum azj_status {
    AZJ_OK = 0,
    AZJ_EIO = -1,       /* the file could not be read */
    AZJ_ESYNTAX = -2,   /* not JSON */
    AZJ_ESHAPE = -3,    /* JSON, but none of the accepted shapes */
    AZJ_EVALUE = -4,    /* a field is missing, of the wrong type, or out of range */
    AZJ_ELIMIT = -5,    /* an array or the file is larger than the limits above */
    AZJ_ENOMEM = -6,
};

struct azj_error {
    int status;         /* enum azj_status */
    char file[128];     /* the file's name, or the label given with a buffer */
    char path[256];     /* JSON path of the offending value, "" for the document */
    char msg[768];      /* "<file>: <path>: <problem>", ready to print */
};

/* What one input file turned out to be, for the report's inputs section. */
struct azj_input {
    char file[128];
    const char *shape;      /* static text: "az network nsg show (flat)", "ARM GET (nested)", ... */
    bool list;              /* wrapped in {"value": [...]} or a bare array */
    size_t nsgs;            /* NSGs read */
    size_t rules;           /* rules read (custom + default, as listed in the file) */
    size_t default_rules;   /* of which default rules */
    size_t defaults_added;  /* default rules the file lacked, added by the loader */
    size_t prefixes;        /* IPv4 address entries in rules (or routes) */
    size_t expanded;        /* IPv4 entries of expanded*AddressPrefix */
    size_t ipv6_skipped;    /* IPv6 entries, ignored: azbprobe's flows are IPv4 */
    size_t routes;          /* routes read (route reader) */
    size_t warnings;        /* oddities that did not stop the load */
    char warning[256];      /* the first of them */
};

/* ---- The rule model ---------------------------------------------------------------------------- */
enum nsg_dir { NSG_OUTBOUND = 0, NSG_INBOUND = 1 };
enum nsg_access { NSG_ALLOW = 0, NSG_DENY = 1 };
enum nsg_proto { NSG_PROTO_ANY = 0, NSG_PROTO_TCP, NSG_PROTO_UDP, NSG_PROTO_ICMP, NSG_PROTO_ESP, NSG_PROTO_AH };
enum nsg_kind { NSG_RULE_USER = 0, NSG_RULE_DEFAULT = 1 };
enum nsg_shape { NSG_SHAPE_FLAT = 0, NSG_SHAPE_ARM, NSG_SHAPE_EFFECTIVE, NSG_SHAPE_BUILT };

/* Where an NSG is applied. Bits: an NSG can be on the NIC and on a subnet at once. */
#define NSG_ASSOC_NIC    0x1u
#define NSG_ASSOC_SUBNET 0x2u

struct nsg_ports {
    uint16_t lo, hi;        /* inclusive */
};

/* One side (source or destination) of a rule: the union of everything listed. */
struct nsg_side {
    bool any;                       /* "*", "Any", "0.0.0.0/0" */
    struct prefix4 *pfx;            /* explicit IPv4 prefixes, in file order */
    size_t npfx;
    char (*tags)[NSG_TAG_MAX];      /* service tags and VirtualNetwork / Internet / AzureLoadBalancer */
    size_t ntags;
    char (*asgs)[NSG_ID_MAX];       /* application security group ids */
    size_t nasgs;
    bool has_expanded;              /* the effective export expanded this side (then tags and ASGs
                                     * are already inside exp[] and are not resolved again) */
    struct prefix4 *exp;
    size_t nexp;
    size_t ipv6;                    /* IPv6 entries skipped */
    struct prefix_index *ix;        /* over pfx + exp when large; built by nsg_prepare */
    unsigned char *tag_kind;        /* per tag: what kind of tag (nsg_prepare fills it) */
};

struct nsg_rule {
    char name[NSG_NAME_MAX];        /* normalised: "DenyInternetOutbound", "AllowVnetOutBound" */
    char display[NSG_NAME_MAX];     /* as the file spells it: "securityRules/DenyInternetOutbound" */
    enum nsg_kind kind;
    bool synthesized;               /* a default rule the export lacked, added by the loader */
    int priority;
    enum nsg_dir dir;
    enum nsg_access access;
    enum nsg_proto proto;
    struct nsg_side src, dst;
    struct nsg_ports *sports, *dports;  /* sorted, merged; any == one range 0-65535 */
    size_t nsports, ndports;
    bool platform_tag;              /* a side names AzurePlatformDNS / IMDS / LKM */
    unsigned seq;                   /* order of appearance, the tie-break for equal priorities */
};

struct nsg_tagmap {                 /* one entry of an effective export's tagMap */
    char tag[NSG_TAG_MAX];
    struct prefix4 *pfx;
    size_t n;
};

struct nsg_prep;                    /* evaluation index, private to nsg_eval.c */

struct nsg {
    char name[NSG_NAME_MAX];
    char id[NSG_ID_MAX];
    enum nsg_shape shape;
    unsigned assoc;                 /* NSG_ASSOC_* as the file states or implies */
    char (*nic_ids)[NSG_ID_MAX];    /* networkInterfaces[].id / association.networkInterface.id */
    size_t nnic;
    char (*subnet_ids)[NSG_ID_MAX]; /* subnets[].id / association.subnet.id */
    size_t nsubnet;
    struct nsg_rule *rules;
    size_t nrules, cap;
    struct nsg_tagmap *tagmap;
    size_t ntagmap;
    struct nsg_prep *prep;          /* NULL until nsg_prepare */
};

/* The NIC whose flows are judged: from nic_load, or filled by hand. */
struct nic_info {
    char name[NSG_NAME_MAX];
    char id[NSG_ID_MAX];
    char mac[13];                   /* upper-case hex without separators, as IMDS prints it */
    bool nsg_known;                 /* the export has networkSecurityGroup (null = no NIC NSG) */
    char nsg_id[NSG_ID_MAX];        /* "" = none */
    char ipconfig[NSG_NAME_MAX];    /* the primary ip configuration's name */
    char subnet_id[NSG_ID_MAX];
    bool ip_known;
    uint32_t private_ip;
    bool asg_known;                 /* applicationSecurityGroups present (null or [] = member of none) */
    size_t nasgs;
    char asgs[NSG_MAX_ASGS][NSG_ID_MAX];
    bool ip_forwarding;
    struct azj_input input;
};

/* Which NSG applies at one level (NIC or subnet). */
enum nsg_slot_state {
    NSG_SLOT_UNKNOWN = 0,   /* nothing says whether this level has an NSG: treated as none, flagged */
    NSG_SLOT_NONE,          /* known to have no NSG (NIC export, or an effective export omits it) */
    NSG_SLOT_SET,           /* nsg is set */
    NSG_SLOT_MISSING,       /* the NIC names an NSG that was not loaded: indeterminate */
};

struct nsg_slot {
    enum nsg_slot_state state;
    int nsg;                        /* index into nsg_set.nsg when SET */
    char wanted_id[NSG_ID_MAX];     /* MISSING: the NSG the NIC names */
};

struct nsg_set {
    struct nsg *nsg[NSG_SET_MAX];
    size_t count;
    struct nsg_slot nic_slot, subnet_slot;
    bool nic_attached;              /* nsg_set_attach_nic was called */
    struct nic_info nic;            /* its copy: IP and ASG membership for rule matching */
    struct azj_input inputs[NSG_SET_MAX];
    size_t ninputs;
};

/* ---- Loading ------------------------------------------------------------------------------------ */
struct nsg_set *nsg_set_new(void);
void nsg_set_free(struct nsg_set *set);

/* Read one export (any NSG shape above) into set: AZJ_OK or a negative enum azj_status with err
 * filled (err may be NULL). The buffer need not be NUL-terminated; label names it in messages. On
 * error nothing from this input stays in the set. */
int nsg_load(struct nsg_set *set, const char *path, struct azj_error *err);
int nsg_load_buffer(struct nsg_set *set, const char *buf, size_t len, const char *label,
                    struct azj_error *err);

/* The NIC export: its NSG, primary ip configuration, subnet and ASG membership. */
int nic_load(struct nic_info *nic, const char *path, struct azj_error *err);
int nic_load_buffer(struct nic_info *nic, const char *buf, size_t len, const char *label,
                    struct azj_error *err);

/* Use nic for the slots (NIC NSG = the one whose id the NIC names; subnet NSG = the one listing the
 * NIC's subnet) and for ASG membership. An effective export's associations win over both. */
void nsg_set_attach_nic(struct nsg_set *set, const struct nic_info *nic);

/* Recompute nic_slot / subnet_slot from what is loaded (the loaders and attach call it). */
void nsg_set_resolve(struct nsg_set *set);

/* ---- Building by hand (tests, the benchmark) ---------------------------------------------------
 * Pointers returned stay valid until the next nsg_add_rule on the same NSG. Call nsg_set_prepare
 * (or nsg_prepare) after the last rule; evaluation refuses an unprepared NSG. */
struct nsg *nsg_set_add(struct nsg_set *set, const char *name, unsigned assoc);
struct nsg_rule *nsg_add_rule(struct nsg *nsg, const char *name, enum nsg_kind kind, int priority,
                              enum nsg_dir dir, enum nsg_access access, enum nsg_proto proto);
/* One address entry as a file would give it: "*", "Any", a CIDR, an address, a tag name;
 * "asg:<id>" adds an ASG. 0, or -1 when the text is none of those. */
int nsg_side_add(struct nsg_side *side, const char *entry);
int nsg_side_add_prefix(struct nsg_side *side, const struct prefix4 *p);
/* Port text ("*", "443", "8000-8999") for the source (dst=false) or destination side. */
int nsg_rule_add_ports(struct nsg_rule *rule, bool dst, const char *text);
/* Add the default rules an NSG lacks, sort by priority and build the index. 0 or AZJ_ENOMEM. */
int nsg_prepare(struct nsg *nsg);
int nsg_set_prepare(struct nsg_set *set);
/* Drop the index (adding a rule does it); nsg_free frees everything, nsg_set_free the set. */
void nsg_unprepare(struct nsg *nsg);
void nsg_free(struct nsg *nsg);

/* ---- Small parsers, also used by the route reader --------------------------------------------- */
/* "*" or "N" or "N-M" with N <= M <= 65535. */
bool nsg_parse_ports(const char *text, struct nsg_ports *out);
/* Tcp, Udp, Icmp, Esp, Ah, *, Any, All (case-insensitive). */
bool nsg_parse_proto(const char *text, enum nsg_proto *out);
/* Rule-name normalisation (nsg-routes-tags.md section 5): securityRules/X, UserRule_X -> user X;
 * defaultSecurityRules/X, DefaultRule_X, DefaultOutboundDenyAll, a default's name in any case ->
 * default X in ARM spelling (AllowVnetOutBound, DenyAllInBound). in_default_list: the rule came
 * from a defaultSecurityRules array. Returns the kind; out gets the bare name. */
enum nsg_kind nsg_normalise_rule_name(const char *seen, bool in_default_list, char *out, size_t size);
/* "securityRules/X" or "defaultSecurityRules/X", the form azbprobe prints. */
char *nsg_rule_ref(const struct nsg_rule *rule, char *buf, size_t size);

/* ---- Evaluation --------------------------------------------------------------------------------- */
struct flow {
    enum nsg_dir dir;               /* NSG_OUTBOUND for everything azbprobe probes */
    enum nsg_proto proto;           /* TCP, UDP or ICMP */
    uint32_t src, dst;              /* outbound: src is the NIC's private IP (before SNAT) */
    int src_port;                   /* -1: unknown, and a rule limiting source ports is then unknown */
    int dst_port;
};

/* Service tags by callback, the convention of servicetags_tag_contains: 1 = tag contains ip (its
 * most specific containing prefix in *matched when not NULL), 0 = it does not, -1 = tag unknown. */
typedef int (*tag_lookup_fn)(void *ctx, const char *tag, uint32_t ip, struct prefix4 *matched);

struct tag_resolver {
    tag_lookup_fn lookup;           /* NULL: every service tag unknown */
    void *ctx;
    /* The VirtualNetwork tag's extent when no effective export gives it: VNet space, peerings,
     * gateway prefixes, UDR prefixes (routes_vnet_prefixes derives it from the effective routes;
     * with a 0.0.0.0/0 UDR it is everything). Ignored unless vnet_known. */
    const struct prefix4 *vnet;
    size_t nvnet;
    bool vnet_known;
};

/* Adapter for a loaded service tag set: resolver.lookup = tag_resolver_servicetags, ctx = st. */
static inline int tag_resolver_servicetags(void *ctx, const char *tag, uint32_t ip, struct prefix4 *m)
{
    return servicetags_tag_contains((const struct servicetags *)ctx, tag, ip, m);
}

enum nsg_result {
    NSG_ALLOWED = 0,
    NSG_DENIED,
    NSG_INDETERMINATE,      /* an NSG is missing, or an unknown rule could change the outcome */
    NSG_EXEMPT,             /* 168.63.129.16 / 169.254.169.254: platform traffic, not subject to NSGs */
};

enum nsg_step_outcome {
    NSG_STEP_ALLOW = 0,
    NSG_STEP_DENY,
    NSG_STEP_INDETERMINATE,
    NSG_STEP_NO_NSG,        /* the level has no NSG (or nothing says it has one: NSG_CAVEAT_LEVEL_UNKNOWN) */
    NSG_STEP_MISSING,       /* the NIC names an NSG that was not loaded */
    NSG_STEP_SKIPPED,       /* an earlier NSG denied, or the flow is exempt */
};

/* How a rule side matched, for the explanation. */
enum nsg_how {
    NSG_HOW_NONE = 0,
    NSG_HOW_ANY,            /* "*" */
    NSG_HOW_PREFIX,         /* an explicit prefix: prefix */
    NSG_HOW_EXPANDED,       /* the effective export's expansion of tag: prefix */
    NSG_HOW_TAGMAP,         /* the effective export's tagMap entry for tag: prefix */
    NSG_HOW_BUILTIN,        /* AzureLoadBalancer / AzurePlatform*: fixed addresses */
    NSG_HOW_VNET,           /* VirtualNetwork via the resolver's extent (prefix) */
    NSG_HOW_LOCAL,          /* VirtualNetwork contains the NIC's own address */
    NSG_HOW_HEURISTIC,      /* Internet: a public address assumed outside the VNet */
    NSG_HOW_RESOLVER,       /* a service tag via the resolver: prefix */
    NSG_HOW_ASG,            /* the NIC is a member of ASG tag */
};

struct nsg_match {
    enum nsg_how how;
    bool has_prefix;
    struct prefix4 prefix;
    char tag[NSG_TAG_MAX];          /* tag or ASG name, "" for plain prefixes */
};

/* Why a rule's match is unknown. */
enum nsg_why { NSG_WHY_NONE = 0, NSG_WHY_ASG, NSG_WHY_TAG, NSG_WHY_SOURCE_PORT, NSG_WHY_VNET_SPACE };

#define NSG_CAVEAT_INTERNET_HEURISTIC 0x01u /* Internet decided as "public, outside the VNet" */
#define NSG_CAVEAT_FORCED_TUNNEL      0x02u /* VirtualNetwork matched through 0.0.0.0/0 */
#define NSG_CAVEAT_LEVEL_UNKNOWN      0x04u /* a level with no data was treated as having no NSG */
#define NSG_CAVEAT_ASG_PUBLIC         0x08u /* a public destination assumed outside every ASG */
#define NSG_CAVEAT_SYNTHESIZED        0x10u /* the deciding rule is a default the export lacked */
#define NSG_CAVEAT_SAME_ACCESS        0x20u /* an earlier unknown rule may be the one that matches,
                                             * with the same access: outcome holds, name may not */

struct nsg_step {
    unsigned assoc;                 /* NSG_ASSOC_NIC or NSG_ASSOC_SUBNET */
    enum nsg_step_outcome outcome;
    const struct nsg *nsg;          /* NULL without an NSG at this level */
    const struct nsg_rule *rule;    /* the first rule that definitely matches (ALLOW/DENY) */
    struct nsg_match remote;        /* how its remote side matched (destination when outbound) */
    struct nsg_match local;         /* and its local side (source when outbound) */
    const struct nsg_rule *uncertain;   /* the earliest unknown rule before `rule` with the other
                                         * access (INDETERMINATE), else one with the same access */
    enum nsg_why why;
    char why_what[NSG_TAG_MAX];     /* the tag or ASG (its name) that made it unknown */
    unsigned caveats;
};

struct nsg_verdict {
    enum nsg_result result;
    struct nsg_step step[2];        /* in evaluation order */
    int decider;                    /* the step that denied, or -1 */
    unsigned caveats;               /* union over the steps */
};

/* Judge one flow. 0, or -1 if an NSG in the set is not prepared (then v says INDETERMINATE). */
int nsg_evaluate(const struct nsg_set *set, const struct flow *f, const struct tag_resolver *tags,
                 struct nsg_verdict *v);

#define NSG_EVAL_LINEAR 0x1u        /* walk every rule in order, no index: the reference for tests */
int nsg_evaluate_ex(const struct nsg_set *set, const struct flow *f, const struct tag_resolver *tags,
                    unsigned flags, struct nsg_verdict *v);

/* The Deny rule that blocks the flow: only for NSG_DENIED, never an Allow rule. */
const struct nsg_rule *nsg_verdict_blocker(const struct nsg_verdict *v, const struct nsg **nsg,
                                           unsigned *assoc);
/* For NSG_INDETERMINATE: a Deny rule that may block it (the unknown one or the definite one), else NULL. */
const struct nsg_rule *nsg_verdict_suspect(const struct nsg_verdict *v, const struct nsg **nsg,
                                           unsigned *assoc);

/* One line: "denied by NSG nsg-app (NIC) rule securityRules/DenyInternetOutbound, priority 4000
 * (destination Internet via 12.0.0.0/6)". */
void nsg_verdict_describe(const struct nsg_verdict *v, char *buf, size_t size);

const char *nsg_result_name(enum nsg_result r);
const char *nsg_step_name(enum nsg_step_outcome o);
const char *nsg_assoc_name(unsigned assoc);
const char *nsg_access_name(enum nsg_access a);
const char *nsg_dir_name(enum nsg_dir d);
const char *nsg_proto_name(enum nsg_proto p);

/* ---- JSON helpers shared by the readers (nsg_read.c, route_eval.c); not for other callers ------ */
struct json_object;
struct azj_ctx {
    const char *file;
    struct azj_error *err;
    struct azj_input *in;
};
int azj_fail(struct azj_ctx *c, const char *path, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void azj_warn(struct azj_ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Grow *arr (element size elem) to hold one more than n; false when out of memory. Arrays whose
 * capacity is not stored use azj_cap_of(n): the power of two (from 4) at or above n. */
bool azj_grow(void **arr, size_t n, size_t *cap, size_t elem);
size_t azj_cap_of(size_t n);
/* fn for v when it is one string, or for each string of an array (null entries and a null or absent
 * v are nothing); an array longer than limit, a non-string or a string of NSG_ID_MAX or more
 * characters is an error at its JSON path. */
typedef int (*azj_string_fn)(void *arg, const char *path, const char *text);
int azj_each_string(struct azj_ctx *c, struct json_object *v, const char *path, size_t limit, azj_string_fn fn,
                    void *arg);
/* Child paths: "a.b", "a[3]". */
void azj_path_key(char *out, size_t size, const char *parent, const char *key);
void azj_path_index(char *out, size_t size, const char *parent, size_t i);
/* Member by name, exact first, then case-insensitively. NULL when absent. */
struct json_object *azj_get(struct json_object *obj, const char *key);
/* The member exists (also when it is null, which azj_get cannot tell from absence). */
bool azj_has(struct json_object *obj, const char *key);
/* Absent for our purposes: missing, null, "" or []. */
bool azj_empty(struct json_object *v);
/* A string member into out (control bytes replaced by '?'): 1 read, 0 absent/null (out = ""),
 * negative azj_status after reporting. */
int azj_string(struct azj_ctx *c, struct json_object *obj, const char *key, const char *path,
               char *out, size_t size);
/* Parse buf (len bytes) into a DOM; NULL after reporting. The caller json_object_put()s it. */
struct json_object *azj_parse(struct azj_ctx *c, const char *buf, size_t len);
/* Prepare err / label for a load (label may be a path: its last component is used). */
void azj_begin(struct azj_ctx *c, struct azj_error *err, struct azj_input *in, const char *label);
/* A *_load_buffer function, and the one file-reading wrapper all *_load functions share: read path
 * (AZJ_EIO / AZJ_ELIMIT reported in err) and hand the bytes to load with the path as the label. */
typedef int (*azj_buffer_loader)(void *dst, const char *buf, size_t len, const char *label, struct azj_error *err);
int azj_load_file(const char *path, struct azj_error *err, azj_buffer_loader load, void *dst);
/* Read a whole file for a loader; NULL after reporting AZJ_EIO / AZJ_ELIMIT. */
char *azj_read_file(struct azj_ctx *c, const char *path, size_t *len);
/* Sanitised copy: at most size-1 bytes, control and non-ASCII bytes as '?'. */
void azj_copy(char *out, size_t size, const char *in, size_t inlen);

#endif
