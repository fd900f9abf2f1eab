/* Readers for the NSG and NIC exports (shapes in nsg.h and docs/nsg-routes-tags.md sections 6-7),
 * the shared JSON helpers, and the rule model's constructors. */
#include "probe/diag/nsg.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe/sysfile.h"

/* ---- JSON helpers ------------------------------------------------------------------------------ */

void azj_copy(char *out, size_t size, const char *in, size_t inlen)
{
    if (size == 0)
        return;
    size_t n = inlen < size - 1 ? inlen : size - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        /* Names end up in terminal and markdown reports: no control bytes, no escape sequences. */
        out[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[n] = '\0';
}

static const char *base_name(const char *label)
{
    const char *slash = label ? strrchr(label, '/') : NULL;
    return slash ? slash + 1 : label ? label : "<buffer>";
}

void azj_begin(struct azj_ctx *c, struct azj_error *err, struct azj_input *in, const char *label)
{
    c->file = base_name(label);
    c->err = err;
    c->in = in;
    if (err) {
        memset(err, 0, sizeof *err);
        azj_copy(err->file, sizeof err->file, c->file, strlen(c->file));
    }
    if (in) {
        memset(in, 0, sizeof *in);
        azj_copy(in->file, sizeof in->file, c->file, strlen(c->file));
        in->shape = "unknown";
    }
}

int azj_fail(struct azj_ctx *c, const char *path, int status, const char *fmt, ...)
{
    /* The first problem is the one to report: later ones are usually its consequences. */
    if (!c->err || c->err->status != AZJ_OK)
        return status;
    char problem[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    c->err->status = status;
    snprintf(c->err->path, sizeof c->err->path, "%s", path ? path : "");
    if (path && *path)
        snprintf(c->err->msg, sizeof c->err->msg, "%s: %s: %s", c->err->file, path, problem);
    else
        snprintf(c->err->msg, sizeof c->err->msg, "%s: %s", c->err->file, problem);
    return status;
}

void azj_warn(struct azj_ctx *c, const char *path, const char *fmt, ...)
{
    if (!c->in)
        return;
    if (c->in->warnings++ > 0)
        return;
    char problem[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(c->in->warning, sizeof c->in->warning, "%.30s: %s", path, problem);
    else
        snprintf(c->in->warning, sizeof c->in->warning, "%s", problem);
}

/* Append text at *n, truncating (paths are for messages; a cut path is still a useful one). */
static void put(char *out, size_t size, size_t *n, const char *text)
{
    size_t len = strlen(text);
    if (*n + 1 >= size)
        return;
    if (len > size - 1 - *n)
        len = size - 1 - *n;
    memcpy(out + *n, text, len);
    *n += len;
    out[*n] = '\0';
}

void azj_path_key(char *out, size_t size, const char *parent, const char *key)
{
    size_t n = 0;
    if (size == 0)
        return;
    out[0] = '\0';
    if (parent && *parent) {
        put(out, size, &n, parent);
        put(out, size, &n, ".");
    }
    put(out, size, &n, key);
}

void azj_path_index(char *out, size_t size, const char *parent, size_t i)
{
    char num[32];
    size_t n = 0;
    if (size == 0)
        return;
    out[0] = '\0';
    snprintf(num, sizeof num, "[%zu]", i);
    put(out, size, &n, parent ? parent : "");
    put(out, size, &n, num);
}

struct json_object *azj_get(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return NULL;
    if (json_object_object_get_ex(obj, key, &v))
        return v;
    /* PowerShell's ConvertTo-Json writes PascalCase keys. */
    struct json_object_iterator it = json_object_iter_begin(obj), end = json_object_iter_end(obj);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
        if (strcasecmp(json_object_iter_peek_name(&it), key) == 0)
            return json_object_iter_peek_value(&it);
    return NULL;
}

bool azj_has(struct json_object *obj, const char *key)
{
    struct json_object *v;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return false;
    /* json-c keeps a JSON null member as a NULL value: presence needs its own test. */
    if (json_object_object_get_ex(obj, key, &v))
        return true;
    struct json_object_iterator it = json_object_iter_begin(obj), end = json_object_iter_end(obj);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
        if (strcasecmp(json_object_iter_peek_name(&it), key) == 0)
            return true;
    return false;
}

bool azj_empty(struct json_object *v)
{
    if (!v || json_object_is_type(v, json_type_null))
        return true;
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string_len(v) == 0;
    if (json_object_is_type(v, json_type_array))
        return json_object_array_length(v) == 0;
    return false;
}

static const char *type_name(struct json_object *v)
{
    return v ? json_type_to_name(json_object_get_type(v)) : "nothing";
}

int azj_string(struct azj_ctx *c, struct json_object *obj, const char *key, const char *path, char *out,
               size_t size)
{
    char p[256];
    azj_path_key(p, sizeof p, path, key);
    struct json_object *v = azj_get(obj, key);
    out[0] = '\0';
    if (!v || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return azj_fail(c, p, AZJ_EVALUE, "expected a string, got %s", type_name(v));
    size_t len = (size_t)json_object_get_string_len(v);
    if (len >= size)
        return azj_fail(c, p, AZJ_EVALUE, "longer than %zu characters", size - 1);
    azj_copy(out, size, json_object_get_string(v), len);
    return len ? 1 : 0;
}

struct json_object *azj_parse(struct azj_ctx *c, const char *buf, size_t len)
{
    if (len >= 2 && (((unsigned char)buf[0] == 0xff && (unsigned char)buf[1] == 0xfe) ||
                     ((unsigned char)buf[0] == 0xfe && (unsigned char)buf[1] == 0xff))) {
        azj_fail(c, "", AZJ_ESYNTAX, "UTF-16 text (PowerShell Out-File?): save it as UTF-8");
        return NULL;
    }
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) { /* a UTF-8 byte order mark */
        buf += 3;
        len -= 3;
    }
    if (len > NSG_MAX_FILE) {
        azj_fail(c, "", AZJ_ELIMIT, "%zu bytes; the limit is %u", len, NSG_MAX_FILE);
        return NULL;
    }
    struct json_tokener *tok = json_tokener_new_ex(32);
    if (!tok) {
        azj_fail(c, "", AZJ_ENOMEM, "out of memory");
        return NULL;
    }
    struct json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!root && jerr == json_tokener_continue && end == len && len > 0) {
        /* A document ending in a bare number ("42") waits for a delimiter: give it the NUL. */
        root = json_tokener_parse_ex(tok, "", 1);
        jerr = root ? json_tokener_success : json_tokener_get_error(tok);
    }
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        azj_fail(c, "", AZJ_ESYNTAX, "not JSON: %s near byte %zu",
                 json_tokener_error_desc(jerr == json_tokener_continue ? json_tokener_error_parse_eof : jerr), end);
        return NULL;
    }
    for (size_t i = end; i < len; i++) {
        if (!isspace((unsigned char)buf[i])) {
            json_object_put(root);
            azj_fail(c, "", AZJ_ESYNTAX, "not JSON: text after the document at byte %zu", i);
            return NULL;
        }
    }
    return root;
}

char *azj_read_file(struct azj_ctx *c, const char *path, size_t *len)
{
    /* One byte over the limit, so an oversized file is refused rather than silently cut. */
    char *buf = sysfile_read_abs(path, (size_t)NSG_MAX_FILE + 1, len);
    if (!buf) {
        azj_fail(c, "", AZJ_EIO, "cannot read %s", path);
        return NULL;
    }
    if (*len > NSG_MAX_FILE) {
        free(buf);
        azj_fail(c, "", AZJ_ELIMIT, "larger than %u bytes", NSG_MAX_FILE);
        return NULL;
    }
    return buf;
}

/* ---- Small parsers ----------------------------------------------------------------------------- */

/* A port 0..65535 in plain decimal; advances *s. */
static bool parse_port(const char **s, unsigned *out)
{
    const char *p = *s;
    unsigned v = 0;
    int n = 0;
    while (*p >= '0' && *p <= '9' && n < 6) {
        v = v * 10 + (unsigned)(*p++ - '0');
        n++;
    }
    if (n == 0 || n > 5 || v > 65535)
        return false;
    *s = p;
    *out = v;
    return true;
}

bool nsg_parse_ports(const char *text, struct nsg_ports *out)
{
    unsigned lo, hi;
    const char *p = text;
    if (!text)
        return false;
    if (strcmp(text, "*") == 0 || strcasecmp(text, "any") == 0) {
        *out = (struct nsg_ports){0, 65535};
        return true;
    }
    if (!parse_port(&p, &lo))
        return false;
    hi = lo;
    if (*p == '-') {
        p++;
        if (!parse_port(&p, &hi))
            return false;
    }
    if (*p != '\0' || hi < lo)
        return false;
    *out = (struct nsg_ports){(uint16_t)lo, (uint16_t)hi};
    return true;
}

bool nsg_parse_proto(const char *text, enum nsg_proto *out)
{
    static const struct {
        const char *name;
        enum nsg_proto proto;
    } map[] = {{"*", NSG_PROTO_ANY},    {"Any", NSG_PROTO_ANY}, {"All", NSG_PROTO_ANY},
               {"Tcp", NSG_PROTO_TCP},  {"Udp", NSG_PROTO_UDP}, {"Icmp", NSG_PROTO_ICMP},
               {"Esp", NSG_PROTO_ESP},  {"Ah", NSG_PROTO_AH}};
    for (size_t i = 0; text && i < sizeof map / sizeof map[0]; i++) {
        if (strcasecmp(text, map[i].name) == 0) {
            *out = map[i].proto;
            return true;
        }
    }
    return false;
}

/* The six default rules in ARM spelling; the docs' spellings differ in case only. */
static const char *const default_names[] = {"AllowVnetInBound",     "AllowAzureLoadBalancerInBound",
                                            "DenyAllInBound",       "AllowVnetOutBound",
                                            "AllowInternetOutBound", "DenyAllOutBound"};

static const char *default_canonical(const char *name)
{
    for (size_t i = 0; i < sizeof default_names / sizeof default_names[0]; i++)
        if (strcasecmp(name, default_names[i]) == 0)
            return default_names[i];
    if (strcasecmp(name, "DefaultOutboundDenyAll") == 0) /* IP flow verify's name */
        return "DenyAllOutBound";
    if (strcasecmp(name, "DefaultInboundDenyAll") == 0)
        return "DenyAllInBound";
    return NULL;
}

static bool strip_prefix(const char **s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncasecmp(*s, prefix, n) != 0)
        return false;
    *s += n;
    return true;
}

enum nsg_kind nsg_normalise_rule_name(const char *seen, bool in_default_list, char *out, size_t size)
{
    const char *s = seen ? seen : "";
    enum nsg_kind kind = in_default_list ? NSG_RULE_DEFAULT : NSG_RULE_USER;
    bool explicit_kind = true;
    if (strip_prefix(&s, "defaultSecurityRules/") || strip_prefix(&s, "DefaultRule_"))
        kind = NSG_RULE_DEFAULT;
    else if (strip_prefix(&s, "securityRules/") || strip_prefix(&s, "UserRule_"))
        kind = NSG_RULE_USER;
    else
        explicit_kind = in_default_list;
    const char *canon = default_canonical(s);
    /* A bare default name only means the default rule when nothing says otherwise: a custom rule
     * may legally be called DenyAllOutBound. DefaultOutboundDenyAll is unambiguous. */
    if (canon && (kind == NSG_RULE_DEFAULT || (!explicit_kind && strncasecmp(s, "Default", 7) == 0)))
        kind = NSG_RULE_DEFAULT;
    if (kind == NSG_RULE_DEFAULT && canon)
        s = canon;
    azj_copy(out, size, s, strlen(s));
    return kind;
}

char *nsg_rule_ref(const struct nsg_rule *rule, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", rule->kind == NSG_RULE_DEFAULT ? "defaultSecurityRules" : "securityRules",
             rule->name);
    return buf;
}

/* ---- The model's constructors ------------------------------------------------------------------ */

bool azj_grow(void **arr, size_t n, size_t *cap, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

size_t azj_cap_of(size_t n)
{
    size_t cap = 0;
    while (cap < n)
        cap = cap ? cap * 2 : 4;
    return cap;
}

static int push_prefix(struct prefix4 **arr, size_t *n, const struct prefix4 *p)
{
    size_t cap = azj_cap_of(*n);
    if (!azj_grow((void **)arr, *n, &cap, sizeof **arr))
        return -1;
    (*arr)[(*n)++] = *p;
    return 0;
}

int nsg_side_add_prefix(struct nsg_side *side, const struct prefix4 *p)
{
    if (p->len == 0) {
        side->any = true;
        return 0;
    }
    return push_prefix(&side->pfx, &side->npfx, p);
}

static int push_name(char (**arr)[NSG_TAG_MAX], size_t *n, const char *name)
{
    size_t cap = azj_cap_of(*n);
    if (!azj_grow((void **)arr, *n, &cap, sizeof **arr))
        return -1;
    snprintf((*arr)[(*n)++], NSG_TAG_MAX, "%s", name);
    return 0;
}

static int push_id(char (**arr)[NSG_ID_MAX], size_t *n, const char *id)
{
    size_t cap = azj_cap_of(*n);
    if (!azj_grow((void **)arr, *n, &cap, sizeof **arr))
        return -1;
    snprintf((*arr)[(*n)++], NSG_ID_MAX, "%s", id);
    return 0;
}

/* Service tag names: letters first, then letters, digits, '.', '-', '_' (Storage.NorthEurope,
 * AzureCloud.centralfrance, MicrosoftContainerRegistry.EastUS2EUAP). */
static bool looks_like_tag(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= NSG_TAG_MAX || !isalpha((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/* What an address entry is; the caller decides what to do with errors. */
enum entry_kind { ENTRY_BAD, ENTRY_ANY, ENTRY_V4, ENTRY_V6, ENTRY_TAG, ENTRY_EMPTY };

static enum entry_kind classify_entry(const char *s, struct prefix4 *p)
{
    if (*s == '\0')
        return ENTRY_EMPTY;
    if (strcmp(s, "*") == 0 || strcasecmp(s, "Any") == 0)
        return ENTRY_ANY;
    switch (prefix_parse(s, p, NULL)) {
    case PREFIX_V4:
        return p->len == 0 ? ENTRY_ANY : ENTRY_V4;
    case PREFIX_V6:
        return ENTRY_V6;
    default:
        return looks_like_tag(s) ? ENTRY_TAG : ENTRY_BAD;
    }
}

int nsg_side_add(struct nsg_side *side, const char *entry)
{
    struct prefix4 p;
    if (strncmp(entry, "asg:", 4) == 0)
        return entry[4] ? push_id(&side->asgs, &side->nasgs, entry + 4) : -1;
    switch (classify_entry(entry, &p)) {
    case ENTRY_ANY:
        side->any = true;
        return 0;
    case ENTRY_V4:
        return nsg_side_add_prefix(side, &p);
    case ENTRY_V6:
        side->ipv6++;
        return 0;
    case ENTRY_TAG:
        return push_name(&side->tags, &side->ntags, entry);
    default:
        return -1;
    }
}

static int push_ports(struct nsg_ports **arr, size_t *n, const struct nsg_ports *r)
{
    size_t cap = azj_cap_of(*n);
    if (!azj_grow((void **)arr, *n, &cap, sizeof **arr))
        return -1;
    (*arr)[(*n)++] = *r;
    return 0;
}

int nsg_rule_add_ports(struct nsg_rule *rule, bool dst, const char *text)
{
    struct nsg_ports r;
    if (!nsg_parse_ports(text, &r))
        return -1;
    return dst ? push_ports(&rule->dports, &rule->ndports, &r) : push_ports(&rule->sports, &rule->nsports, &r);
}

struct nsg_set *nsg_set_new(void)
{
    return calloc(1, sizeof(struct nsg_set));
}

struct nsg *nsg_set_add(struct nsg_set *set, const char *name, unsigned assoc)
{
    if (!set || set->count >= NSG_SET_MAX)
        return NULL;
    struct nsg *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    azj_copy(n->name, sizeof n->name, name ? name : "", name ? strlen(name) : 0);
    n->shape = NSG_SHAPE_BUILT;
    n->assoc = assoc;
    set->nsg[set->count++] = n;
    return n;
}

struct nsg_rule *nsg_add_rule(struct nsg *nsg, const char *name, enum nsg_kind kind, int priority,
                              enum nsg_dir dir, enum nsg_access access, enum nsg_proto proto)
{
    nsg_unprepare(nsg); /* the index no longer describes the rules */
    if (nsg->nrules >= 2 * NSG_MAX_RULE_ARRAY + 16) /* both directions' arrays and the defaults */
        return NULL;
    if (!azj_grow((void **)&nsg->rules, nsg->nrules, &nsg->cap, sizeof *nsg->rules))
        return NULL;
    struct nsg_rule *r = &nsg->rules[nsg->nrules];
    memset(r, 0, sizeof *r);
    azj_copy(r->name, sizeof r->name, name, strlen(name));
    azj_copy(r->display, sizeof r->display, name, strlen(name));
    r->kind = kind;
    r->priority = priority;
    r->dir = dir;
    r->access = access;
    r->proto = proto;
    r->seq = (unsigned)nsg->nrules++;
    return r;
}

static void side_free(struct nsg_side *s)
{
    free(s->pfx);
    free(s->tags);
    free(s->asgs);
    free(s->exp);
    free(s->tag_kind);
    prefix_index_free(s->ix);
    memset(s, 0, sizeof *s);
}

void nsg_free(struct nsg *nsg)
{
    if (!nsg)
        return;
    nsg_unprepare(nsg);
    for (size_t i = 0; i < nsg->nrules; i++) {
        side_free(&nsg->rules[i].src);
        side_free(&nsg->rules[i].dst);
        free(nsg->rules[i].sports);
        free(nsg->rules[i].dports);
    }
    for (size_t i = 0; i < nsg->ntagmap; i++)
        free(nsg->tagmap[i].pfx);
    free(nsg->tagmap);
    free(nsg->rules);
    free(nsg->nic_ids);
    free(nsg->subnet_ids);
    free(nsg);
}

void nsg_set_free(struct nsg_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        nsg_free(set->nsg[i]);
    free(set);
}

int nsg_set_prepare(struct nsg_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        if (nsg_prepare(set->nsg[i]) != 0)
            return AZJ_ENOMEM;
    nsg_set_resolve(set);
    return 0;
}

/* ---- Reading rules ------------------------------------------------------------------------------ */

struct reader {
    struct azj_ctx c;
    struct nsg *nsg;        /* the NSG being read */
};

typedef int (*entry_fn)(struct reader *r, const char *path, const char *text, void *arg);

int azj_each_string(struct azj_ctx *c, struct json_object *v, const char *path, size_t limit, azj_string_fn fn,
                    void *arg)
{
    char buf[NSG_ID_MAX], p[256];
    if (!v || json_object_is_type(v, json_type_null))
        return 0;
    if (json_object_is_type(v, json_type_string)) {
        if ((size_t)json_object_get_string_len(v) >= sizeof buf)
            return azj_fail(c, path, AZJ_EVALUE, "longer than %zu characters", sizeof buf - 1);
        azj_copy(buf, sizeof buf, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        return fn(arg, path, buf);
    }
    if (!json_object_is_type(v, json_type_array))
        return azj_fail(c, path, AZJ_EVALUE, "expected a string or an array of strings, got %s", type_name(v));
    size_t n = json_object_array_length(v);
    if (n > limit)
        return azj_fail(c, path, AZJ_ELIMIT, "%zu entries; the limit is %zu", n, limit);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        azj_path_index(p, sizeof p, path, i);
        if (!e || json_object_is_type(e, json_type_null))
            continue;
        if (!json_object_is_type(e, json_type_string))
            return azj_fail(c, p, AZJ_EVALUE, "expected a string, got %s", type_name(e));
        int rc = azj_each_string(c, e, p, 0, fn, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

struct each_call {
    struct reader *r;
    entry_fn fn;
    void *arg;
};

static int each_call(void *a, const char *path, const char *text)
{
    struct each_call *x = a;
    return x->fn(x->r, path, text, x->arg);
}

/* Calls fn for each string of v: one string, an array of strings, or nothing (null / absent). */
static int each_string(struct reader *r, struct json_object *v, const char *path, size_t limit, entry_fn fn,
                       void *arg)
{
    struct each_call x = {r, fn, arg};
    return azj_each_string(&r->c, v, path, limit, each_call, &x);
}

static int oom(struct reader *r, const char *path)
{
    return azj_fail(&r->c, path, AZJ_ENOMEM, "out of memory");
}

static int address_entry(struct reader *r, const char *path, const char *text, void *arg)
{
    struct nsg_side *side = arg;
    struct prefix4 p;
    switch (classify_entry(text, &p)) {
    case ENTRY_EMPTY:
        return 0;
    case ENTRY_ANY:
        side->any = true;
        return 0;
    case ENTRY_V4:
        r->c.in->prefixes++;
        return push_prefix(&side->pfx, &side->npfx, &p) == 0 ? 0 : oom(r, path);
    case ENTRY_V6:
        side->ipv6++;
        r->c.in->ipv6_skipped++;
        return 0;
    case ENTRY_TAG:
        if (side->ntags >= NSG_MAX_TAGS)
            return azj_fail(&r->c, path, AZJ_ELIMIT, "more than %d tags", NSG_MAX_TAGS);
        return push_name(&side->tags, &side->ntags, text) == 0 ? 0 : oom(r, path);
    default:
        return azj_fail(&r->c, path, AZJ_EVALUE, "%.64s is not an IPv4 address, prefix or service tag", text);
    }
}

static int expanded_entry(struct reader *r, const char *path, const char *text, void *arg)
{
    struct nsg_side *side = arg;
    struct prefix4 p;
    switch (prefix_parse(text, &p, NULL)) {
    case PREFIX_V4:
        r->c.in->expanded++;
        return push_prefix(&side->exp, &side->nexp, &p) == 0 ? 0 : oom(r, path);
    case PREFIX_V6:
        side->ipv6++;
        r->c.in->ipv6_skipped++;
        return 0;
    default:
        return azj_fail(&r->c, path, AZJ_EVALUE, "%.64s is not an IPv4 or IPv6 prefix", text);
    }
}

struct port_arg {
    struct nsg_rule *rule;
    bool dst;
};

static int port_entry(struct reader *r, const char *path, const char *text, void *arg)
{
    const struct port_arg *pa = arg;
    if (*text == '\0')
        return 0;
    if (nsg_rule_add_ports(pa->rule, pa->dst, text) == 0)
        return 0;
    struct nsg_ports tmp;
    if (nsg_parse_ports(text, &tmp))
        return oom(r, path);
    return azj_fail(&r->c, path, AZJ_EVALUE, "%.64s is not a port range", text);
}

/* sourceApplicationSecurityGroups: [{id}] (null or [] when unused). */
static int read_asgs(struct reader *r, struct json_object *v, const char *path, struct nsg_side *side)
{
    char p[256], id[NSG_ID_MAX];
    if (azj_empty(v))
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return azj_fail(&r->c, path, AZJ_EVALUE, "expected an array of {id}, got %s", type_name(v));
    size_t n = json_object_array_length(v);
    if (n > NSG_MAX_ASGS)
        return azj_fail(&r->c, path, AZJ_ELIMIT, "%zu application security groups; the limit is %d", n,
                        NSG_MAX_ASGS);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        azj_path_index(p, sizeof p, path, i);
        if (!e || !json_object_is_type(e, json_type_object))
            return azj_fail(&r->c, p, AZJ_EVALUE, "expected an object with an id, got %s", type_name(e));
        int rc = azj_string(&r->c, e, "id", p, id, sizeof id);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return azj_fail(&r->c, p, AZJ_EVALUE, "application security group without an id");
        if (push_id(&side->asgs, &side->nasgs, id) != 0)
            return oom(r, p);
    }
    return 0;
}

static bool side_empty(const struct nsg_side *s)
{
    return !s->any && !s->npfx && !s->ntags && !s->nasgs && !s->has_expanded && !s->ipv6;
}

/* One side: <x>AddressPrefix (string, or an array in PowerShell exports), <x>AddressPrefixes,
 * <x>ApplicationSecurityGroups and, in effective exports, expanded<X>AddressPrefix. */
static int read_side(struct reader *r, struct json_object *o, const char *path, bool source, struct nsg_side *side)
{
    const char *x = source ? "source" : "destination";
    char key[64], p[256];
    int rc;
    snprintf(key, sizeof key, "%sAddressPrefix", x);
    azj_path_key(p, sizeof p, path, key);
    if ((rc = each_string(r, azj_get(o, key), p, NSG_MAX_ADDRS, address_entry, side)) != 0)
        return rc;
    snprintf(key, sizeof key, "%sAddressPrefixes", x);
    azj_path_key(p, sizeof p, path, key);
    if ((rc = each_string(r, azj_get(o, key), p, NSG_MAX_ADDRS, address_entry, side)) != 0)
        return rc;
    if (side->npfx + side->ntags > NSG_MAX_ADDRS)
        return azj_fail(&r->c, p, AZJ_ELIMIT, "%zu address entries; the limit is %d", side->npfx + side->ntags,
                        NSG_MAX_ADDRS);
    snprintf(key, sizeof key, "%sApplicationSecurityGroups", x);
    azj_path_key(p, sizeof p, path, key);
    if ((rc = read_asgs(r, azj_get(o, key), p, side)) != 0)
        return rc;
    snprintf(key, sizeof key, "expanded%sAddressPrefix", source ? "Source" : "Destination");
    azj_path_key(p, sizeof p, path, key);
    struct json_object *exp = azj_get(o, key);
    if (exp && json_object_is_type(exp, json_type_array)) {
        side->has_expanded = true; /* [] too: the tag expands to nothing */
        if ((rc = each_string(r, exp, p, NSG_MAX_EXPANDED, expanded_entry, side)) != 0)
            return rc;
    } else if (exp && !json_object_is_type(exp, json_type_null)) {
        return azj_fail(&r->c, p, AZJ_EVALUE, "expected an array of prefixes, got %s", type_name(exp));
    }
    if (side_empty(side)) {
        snprintf(key, sizeof key, "%sAddressPrefix", x);
        azj_path_key(p, sizeof p, path, key);
        return azj_fail(&r->c, p, AZJ_EVALUE,
                        "missing (no %s address prefix, prefixes or application security group)", x);
    }
    return 0;
}

static int read_ports(struct reader *r, struct json_object *o, const char *path, bool source, struct nsg_rule *rule)
{
    const char *x = source ? "source" : "destination";
    char key[64], p[256], first[256];
    struct port_arg arg = {rule, !source};
    int rc;
    snprintf(key, sizeof key, "%sPortRange", x);
    azj_path_key(first, sizeof first, path, key);
    if ((rc = each_string(r, azj_get(o, key), first, NSG_MAX_PORTS, port_entry, &arg)) != 0)
        return rc;
    snprintf(key, sizeof key, "%sPortRanges", x);
    azj_path_key(p, sizeof p, path, key);
    if ((rc = each_string(r, azj_get(o, key), p, NSG_MAX_PORTS, port_entry, &arg)) != 0)
        return rc;
    size_t n = source ? rule->nsports : rule->ndports;
    if (n == 0)
        return azj_fail(&r->c, first, AZJ_EVALUE, "missing (neither %sPortRange nor %sPortRanges)", x, x);
    if (n > NSG_MAX_PORTS)
        return azj_fail(&r->c, p, AZJ_ELIMIT, "%zu port ranges; the limit is %d", n, NSG_MAX_PORTS);
    return 0;
}

/* A required string member, matched against choices (case-insensitive); returns the index. */
static int read_choice(struct reader *r, struct json_object *o, const char *path, const char *key,
                       const char *const *choices, size_t n, int *out)
{
    char v[64], p[256];
    azj_path_key(p, sizeof p, path, key);
    int rc = azj_string(&r->c, o, key, path, v, sizeof v);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return azj_fail(&r->c, p, AZJ_EVALUE, "missing");
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(v, choices[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return azj_fail(&r->c, p, AZJ_EVALUE, "%s is not one of %s%s%s", v, choices[0], n > 1 ? ", " : "",
                    n > 1 ? choices[1] : "");
}

static int read_priority(struct reader *r, struct json_object *o, const char *path, enum nsg_kind kind, int *out)
{
    char p[256];
    azj_path_key(p, sizeof p, path, "priority");
    struct json_object *v = azj_get(o, "priority");
    if (!v || json_object_is_type(v, json_type_null))
        return azj_fail(&r->c, p, AZJ_EVALUE, "missing");
    if (!json_object_is_type(v, json_type_int))
        return azj_fail(&r->c, p, AZJ_EVALUE, "expected an integer, got %s", type_name(v));
    int64_t pr = json_object_get_int64(v);
    if (kind == NSG_RULE_USER && (pr < 100 || pr > 4096))
        return azj_fail(&r->c, p, AZJ_EVALUE, "%lld is outside 100-4096 (custom rule)", (long long)pr);
    if (kind == NSG_RULE_DEFAULT && (pr < 65000 || pr > 65535))
        return azj_fail(&r->c, p, AZJ_EVALUE, "%lld is outside 65000-65535 (default rule)", (long long)pr);
    *out = (int)pr;
    return 0;
}

static int read_protocol(struct reader *r, struct json_object *o, const char *path, enum nsg_proto *out)
{
    char v[64], p[256];
    azj_path_key(p, sizeof p, path, "protocol");
    int rc = azj_string(&r->c, o, "protocol", path, v, sizeof v);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return azj_fail(&r->c, p, AZJ_EVALUE, "missing");
    if (!nsg_parse_proto(v, out))
        return azj_fail(&r->c, p, AZJ_EVALUE, "%s is not a protocol (Tcp, Udp, Icmp, Esp, Ah, *)", v);
    return 0;
}

/* The rule's kind: the name's prefix, else the list it came from, else its ARM type. */
static enum nsg_kind rule_kind(struct reader *r, struct json_object *elem, const char *seen, bool in_default,
                               char *name, size_t size)
{
    char type[160] = "";
    if (!in_default && strchr(seen, '/') == NULL && strncasecmp(seen, "UserRule_", 9) != 0) {
        struct azj_error *saved = r->c.err;
        r->c.err = NULL; /* the type is a hint: a malformed one is not worth failing over */
        azj_string(&r->c, elem, "type", "", type, sizeof type);
        r->c.err = saved;
        size_t tl = strlen(type);
        in_default = tl >= 21 && strcasecmp(type + tl - 21, "/defaultSecurityRules") == 0;
    }
    return nsg_normalise_rule_name(seen, in_default, name, size);
}

static void warn_duplicates(struct reader *r, const char *path, const struct nsg_rule *rule)
{
    for (size_t i = 0; i + 1 < r->nsg->nrules; i++) {
        const struct nsg_rule *o = &r->nsg->rules[i];
        if (o->kind == NSG_RULE_USER && rule->kind == NSG_RULE_USER && o->dir == rule->dir &&
            o->priority == rule->priority) {
            azj_warn(&r->c, path, "priority %d is used by %s and %s (%s): file order decides", rule->priority,
                     o->name, rule->name, nsg_dir_name(rule->dir));
            return;
        }
    }
}

static int read_rule_fields(struct reader *r, struct json_object *o, const char *path, struct nsg_rule *rule)
{
    static const char *const dirs[] = {"Outbound", "Inbound"};
    static const char *const access[] = {"Allow", "Deny"};
    int d = 0, a = 0, rc;
    enum nsg_proto proto = NSG_PROTO_ANY;
    if ((rc = read_choice(r, o, path, "direction", dirs, 2, &d)) != 0 ||
        (rc = read_choice(r, o, path, "access", access, 2, &a)) != 0 || (rc = read_protocol(r, o, path, &proto)) != 0)
        return rc;
    rule->dir = (enum nsg_dir)d;
    rule->access = (enum nsg_access)a;
    rule->proto = proto;
    if ((rc = read_side(r, o, path, true, &rule->src)) != 0 || (rc = read_side(r, o, path, false, &rule->dst)) != 0)
        return rc;
    if ((rc = read_ports(r, o, path, true, rule)) != 0 || (rc = read_ports(r, o, path, false, rule)) != 0)
        return rc;
    return 0;
}

/* One rule, flat (fields at the top) or nested (fields under properties). */
static int read_rule(struct reader *r, struct json_object *elem, const char *path, bool in_default)
{
    char seen[NSG_NAME_MAX], name[NSG_NAME_MAX], props_path[256];
    int rc, prio = 0;
    if (!elem || !json_object_is_type(elem, json_type_object))
        return azj_fail(&r->c, path, AZJ_EVALUE, "expected a rule object, got %s", type_name(elem));
    struct json_object *o = elem, *props = azj_get(elem, "properties");
    const char *opath = path;
    if (props && json_object_is_type(props, json_type_object)) {
        o = props;
        azj_path_key(props_path, sizeof props_path, path, "properties");
        opath = props_path;
    }
    rc = azj_string(&r->c, elem, "name", path, seen, sizeof seen);
    if (rc == 0 && o != elem)
        rc = azj_string(&r->c, o, "name", opath, seen, sizeof seen);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        azj_path_key(name, sizeof name, path, "name");
        return azj_fail(&r->c, name, AZJ_EVALUE, "missing");
    }
    enum nsg_kind kind = rule_kind(r, elem, seen, in_default, name, sizeof name);
    if ((rc = read_priority(r, o, opath, kind, &prio)) != 0)
        return rc;
    struct nsg_rule *rule = nsg_add_rule(r->nsg, name, kind, prio, NSG_OUTBOUND, NSG_DENY, NSG_PROTO_ANY);
    if (!rule)
        return oom(r, path);
    azj_copy(rule->display, sizeof rule->display, seen, strlen(seen));
    if ((rc = read_rule_fields(r, o, opath, rule)) != 0)
        return rc;
    r->c.in->rules++;
    if (kind == NSG_RULE_DEFAULT)
        r->c.in->default_rules++;
    warn_duplicates(r, path, rule);
    return 0;
}

static int read_rules(struct reader *r, struct json_object *o, const char *path, const char *key, bool in_default,
                      size_t *user_count)
{
    char p[256], ep[256];
    azj_path_key(p, sizeof p, path, key);
    struct json_object *v = azj_get(o, key);
    if (!v || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return azj_fail(&r->c, p, AZJ_EVALUE, "expected an array of rules, got %s", type_name(v));
    size_t n = json_object_array_length(v);
    if (n > NSG_MAX_RULE_ARRAY)
        return azj_fail(&r->c, p, AZJ_ELIMIT, "%zu rules; the limit is %d", n, NSG_MAX_RULE_ARRAY);
    for (size_t i = 0; i < n; i++) {
        azj_path_index(ep, sizeof ep, p, i);
        int rc = read_rule(r, json_object_array_get_idx(v, i), ep, in_default);
        if (rc != 0)
            return rc;
        if (r->nsg->rules[r->nsg->nrules - 1].kind == NSG_RULE_USER && ++*user_count > NSG_MAX_USER_RULES)
            return azj_fail(&r->c, p, AZJ_ELIMIT, "more than %d custom rules", NSG_MAX_USER_RULES);
    }
    return 0;
}

/* ---- Reading NSGs ---------------------------------------------------------------------------- */

/* The last path component of an ARM id (".../networkSecurityGroups/nsg-app" -> "nsg-app"). */
static void id_leaf(const char *id, char *out, size_t size)
{
    const char *slash = strrchr(id, '/');
    const char *leaf = slash ? slash + 1 : id;
    azj_copy(out, size, leaf, strlen(leaf));
}

/* [{id}] lists (networkInterfaces, subnets). */
static int read_id_list(struct reader *r, struct json_object *o, const char *path, const char *key,
                        char (**ids)[NSG_ID_MAX], size_t *n)
{
    char p[256], ep[256], id[NSG_ID_MAX];
    azj_path_key(p, sizeof p, path, key);
    struct json_object *v = azj_get(o, key);
    if (azj_empty(v))
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return azj_fail(&r->c, p, AZJ_EVALUE, "expected an array of {id}, got %s", type_name(v));
    size_t len = json_object_array_length(v);
    if (len > 100000)
        return azj_fail(&r->c, p, AZJ_ELIMIT, "%zu entries", len);
    for (size_t i = 0; i < len; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        azj_path_index(ep, sizeof ep, p, i);
        if (!e || !json_object_is_type(e, json_type_object))
            return azj_fail(&r->c, ep, AZJ_EVALUE, "expected an object with an id, got %s", type_name(e));
        int rc = azj_string(&r->c, e, "id", ep, id, sizeof id);
        if (rc < 0)
            return rc;
        if (rc > 0 && push_id(ids, n, id) != 0)
            return oom(r, ep);
    }
    return 0;
}

static struct nsg *new_nsg(struct reader *r, struct nsg_set *set, const char *path, enum nsg_shape shape)
{
    if (set->count >= NSG_SET_MAX) {
        azj_fail(&r->c, path, AZJ_ELIMIT, "more than %d NSGs in one set", NSG_SET_MAX);
        return NULL;
    }
    struct nsg *n = nsg_set_add(set, "", 0);
    if (!n) {
        oom(r, path);
        return NULL;
    }
    n->shape = shape;
    r->nsg = n;
    r->c.in->nsgs++;
    return n;
}

/* Name and id: the name member, else the id's leaf, else the file's name. */
static int read_identity(struct reader *r, struct json_object *o, const char *path)
{
    int rc = azj_string(&r->c, o, "id", path, r->nsg->id, sizeof r->nsg->id);
    if (rc < 0)
        return rc;
    rc = azj_string(&r->c, o, "name", path, r->nsg->name, sizeof r->nsg->name);
    if (rc < 0)
        return rc;
    if (!r->nsg->name[0])
        id_leaf(r->nsg->id[0] ? r->nsg->id : r->c.file, r->nsg->name, sizeof r->nsg->name);
    return 0;
}

static bool has_rules_key(struct json_object *o)
{
    return azj_get(o, "securityRules") || azj_get(o, "defaultSecurityRules");
}

/* `az network nsg show` (flat) or ARM GET (nested under properties). */
static int read_nsg_object(struct reader *r, struct nsg_set *set, struct json_object *o, const char *path)
{
    struct json_object *props = azj_get(o, "properties");
    bool arm = props && json_object_is_type(props, json_type_object) && has_rules_key(props);
    char pp[256];
    if (!json_object_is_type(o, json_type_object) || (!arm && !has_rules_key(o)))
        return azj_fail(&r->c, path, AZJ_ESHAPE,
                        "not an NSG (no securityRules, properties.securityRules or effectiveSecurityRules)");
    if (!new_nsg(r, set, path, arm ? NSG_SHAPE_ARM : NSG_SHAPE_FLAT))
        return r->c.err ? r->c.err->status : AZJ_ENOMEM;
    struct json_object *body = arm ? props : o;
    if (arm)
        azj_path_key(pp, sizeof pp, path, "properties");
    else
        snprintf(pp, sizeof pp, "%s", path);
    size_t users = 0;
    int rc;
    if ((rc = read_identity(r, o, path)) != 0 || (rc = read_rules(r, body, pp, "securityRules", false, &users)) != 0 ||
        (rc = read_rules(r, body, pp, "defaultSecurityRules", true, &users)) != 0 ||
        (rc = read_id_list(r, body, pp, "networkInterfaces", &r->nsg->nic_ids, &r->nsg->nnic)) != 0 ||
        (rc = read_id_list(r, body, pp, "subnets", &r->nsg->subnet_ids, &r->nsg->nsubnet)) != 0)
        return rc;
    r->nsg->assoc = (r->nsg->nnic ? NSG_ASSOC_NIC : 0u) | (r->nsg->nsubnet ? NSG_ASSOC_SUBNET : 0u);
    if (!r->nsg->assoc)
        azj_warn(&r->c, path, "NSG %s lists no NIC or subnet: attach a NIC export to place it", r->nsg->name);
    return 0;
}

/* tagMap: declared a string in swagger (JSON inside a string), seen as an object too. Best effort: a
 * tagMap we cannot read is ignored with a warning, never an error (nsg-routes-tags.md section 7). */
static void read_tagmap_object(struct reader *r, struct json_object *m)
{
    struct json_object_iterator it = json_object_iter_begin(m), end = json_object_iter_end(m);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        struct json_object *v = json_object_iter_peek_value(&it);
        const char *tag = json_object_iter_peek_name(&it);
        if (!v || !json_object_is_type(v, json_type_array) || !looks_like_tag(tag) || r->nsg->ntagmap >= 64)
            continue;
        size_t cap = azj_cap_of(r->nsg->ntagmap);
        if (!azj_grow((void **)&r->nsg->tagmap, r->nsg->ntagmap, &cap, sizeof *r->nsg->tagmap))
            return;
        struct nsg_tagmap *t = &r->nsg->tagmap[r->nsg->ntagmap++];
        memset(t, 0, sizeof *t);
        snprintf(t->tag, sizeof t->tag, "%s", tag);
        size_t n = json_object_array_length(v);
        for (size_t i = 0; i < n && i < NSG_MAX_EXPANDED; i++) {
            struct json_object *e = json_object_array_get_idx(v, i);
            struct prefix4 p;
            if (e && json_object_is_type(e, json_type_string) &&
                prefix_parse(json_object_get_string(e), &p, NULL) == PREFIX_V4 && push_prefix(&t->pfx, &t->n, &p) != 0)
                return;
        }
    }
}

static void read_tagmap(struct reader *r, struct json_object *o, const char *path)
{
    char p[256];
    azj_path_key(p, sizeof p, path, "tagMap");
    struct json_object *v = azj_get(o, "tagMap");
    if (azj_empty(v))
        return;
    if (json_object_is_type(v, json_type_object)) {
        read_tagmap_object(r, v);
        return;
    }
    if (!json_object_is_type(v, json_type_string)) {
        azj_warn(&r->c, p, "ignored (a %s)", type_name(v));
        return;
    }
    struct json_tokener *tok = json_tokener_new_ex(8);
    struct json_object *m =
        tok ? json_tokener_parse_ex(tok, json_object_get_string(v), json_object_get_string_len(v)) : NULL;
    if (m && json_object_is_type(m, json_type_object))
        read_tagmap_object(r, m);
    else
        azj_warn(&r->c, p, "ignored (not a JSON object in a string)");
    json_object_put(m);
    json_tokener_free(tok);
}

/* association: {networkInterface: {id} | null, subnet: {id} | null, networkManager?: {id}}. */
static int read_association(struct reader *r, struct json_object *o, const char *path, bool *skip)
{
    char p[256], pp[256], id[NSG_ID_MAX];
    azj_path_key(p, sizeof p, path, "association");
    struct json_object *a = azj_get(o, "association");
    *skip = false;
    if (!a || !json_object_is_type(a, json_type_object))
        return azj_fail(&r->c, p, AZJ_EVALUE, "missing (expected {networkInterface} or {subnet})");
    static const char *const keys[] = {"networkInterface", "subnet"};
    for (int k = 0; k < 2; k++) {
        struct json_object *v = azj_get(a, keys[k]);
        azj_path_key(pp, sizeof pp, p, keys[k]);
        if (azj_empty(v))
            continue;
        if (!json_object_is_type(v, json_type_object))
            return azj_fail(&r->c, pp, AZJ_EVALUE, "expected an object with an id, got %s", type_name(v));
        int rc = azj_string(&r->c, v, "id", pp, id, sizeof id);
        if (rc < 0)
            return rc;
        r->nsg->assoc |= k == 0 ? NSG_ASSOC_NIC : NSG_ASSOC_SUBNET;
        bool nic = k == 0;
        if (rc > 0 && push_id(nic ? &r->nsg->nic_ids : &r->nsg->subnet_ids, nic ? &r->nsg->nnic : &r->nsg->nsubnet, id) != 0)
            return oom(r, pp);
    }
    if (!r->nsg->assoc) {
        /* AVNM security admin rules come with association.networkManager; they run before NSGs and
         * this evaluator does not model them. */
        *skip = !azj_empty(azj_get(a, "networkManager"));
        azj_warn(&r->c, p, *skip ? "network manager (AVNM) admin rules are not evaluated"
                                 : "neither networkInterface nor subnet: not evaluated");
    }
    return 0;
}

/* One value[] entry of an effective export. */
static int read_effective(struct reader *r, struct nsg_set *set, struct json_object *o, const char *path)
{
    char p[256], id[NSG_ID_MAX];
    bool skip;
    if (!o || !json_object_is_type(o, json_type_object))
        return azj_fail(&r->c, path, AZJ_EVALUE, "expected an object, got %s", type_name(o));
    if (!new_nsg(r, set, path, NSG_SHAPE_EFFECTIVE))
        return r->c.err ? r->c.err->status : AZJ_ENOMEM;
    azj_path_key(p, sizeof p, path, "networkSecurityGroup");
    struct json_object *g = azj_get(o, "networkSecurityGroup");
    if (g && json_object_is_type(g, json_type_object)) {
        int rc = azj_string(&r->c, g, "id", p, id, sizeof id);
        if (rc < 0)
            return rc;
        snprintf(r->nsg->id, sizeof r->nsg->id, "%s", id);
        id_leaf(id, r->nsg->name, sizeof r->nsg->name);
    }
    if (!r->nsg->name[0])
        snprintf(r->nsg->name, sizeof r->nsg->name, "effective NSG %zu", r->c.in->nsgs);
    int rc = read_association(r, o, path, &skip);
    if (rc != 0)
        return rc;
    azj_path_key(p, sizeof p, path, "effectiveSecurityRules");
    struct json_object *rules = azj_get(o, "effectiveSecurityRules");
    if (!rules || !json_object_is_type(rules, json_type_array))
        return azj_fail(&r->c, p, AZJ_EVALUE, "expected an array of rules, got %s", type_name(rules));
    size_t users = 0;
    if ((rc = read_rules(r, o, path, "effectiveSecurityRules", false, &users)) != 0)
        return rc;
    read_tagmap(r, o, path);
    if (skip) { /* an AVNM entry: read (so its errors show) but not kept */
        nsg_free(set->nsg[--set->count]);
        r->c.in->nsgs--;
    }
    return 0;
}

/* `az network nsg rule list`: a bare array of rules of one NSG, named after the rules' ids. */
static int read_rule_list(struct reader *r, struct nsg_set *set, struct json_object *arr, const char *path)
{
    char id[NSG_ID_MAX] = "", p[256];
    size_t n = json_object_array_length(arr), users = 0;
    if (n > NSG_MAX_RULE_ARRAY)
        return azj_fail(&r->c, path, AZJ_ELIMIT, "%zu rules; the limit is %d", n, NSG_MAX_RULE_ARRAY);
    if (!new_nsg(r, set, path, NSG_SHAPE_FLAT))
        return r->c.err ? r->c.err->status : AZJ_ENOMEM;
    struct json_object *first = json_object_array_get_idx(arr, 0);
    if (azj_string(&r->c, first, "id", "[0]", id, sizeof id) > 0) {
        char *cut = strstr(id, "/securityRules/");
        if (!cut)
            cut = strstr(id, "/defaultSecurityRules/");
        if (cut)
            *cut = '\0';
        snprintf(r->nsg->id, sizeof r->nsg->id, "%s", cut ? id : "");
    }
    id_leaf(r->nsg->id[0] ? r->nsg->id : r->c.file, r->nsg->name, sizeof r->nsg->name);
    for (size_t i = 0; i < n; i++) {
        azj_path_index(p, sizeof p, path, i);
        int rc = read_rule(r, json_object_array_get_idx(arr, i), p, false);
        if (rc != 0)
            return rc;
        if (r->nsg->rules[r->nsg->nrules - 1].kind == NSG_RULE_USER && ++users > NSG_MAX_USER_RULES)
            return azj_fail(&r->c, path, AZJ_ELIMIT, "more than %d custom rules", NSG_MAX_USER_RULES);
    }
    azj_warn(&r->c, "", "a rule list names no NIC or subnet: attach a NIC export to place it");
    return 0;
}

static bool is_rule_object(struct json_object *o)
{
    return o && json_object_is_type(o, json_type_object) && azj_get(o, "priority") && azj_get(o, "access") &&
           !has_rules_key(o);
}

static bool is_effective(struct json_object *o)
{
    return o && json_object_is_type(o, json_type_object) && azj_get(o, "effectiveSecurityRules");
}

/* A list ({"value": [...]} or a bare array) of effective entries, NSGs or rules. */
static int read_list(struct reader *r, struct nsg_set *set, struct json_object *arr, const char *path)
{
    char p[256];
    size_t n = json_object_array_length(arr);
    r->c.in->list = true;
    if (n == 0) {
        r->c.in->shape = "empty list";
        azj_warn(&r->c, path, "no NSGs in the list");
        return 0;
    }
    struct json_object *first = json_object_array_get_idx(arr, 0);
    if (is_rule_object(first)) {
        r->c.in->shape = "az network nsg rule list";
        return read_rule_list(r, set, arr, path);
    }
    if (n > NSG_SET_MAX)
        return azj_fail(&r->c, path, AZJ_ELIMIT, "%zu entries; the limit is %d NSGs", n, NSG_SET_MAX);
    bool eff = is_effective(first);
    r->c.in->shape = eff ? "effective NSGs (list-effective-nsg)" : "NSG list";
    for (size_t i = 0; i < n; i++) {
        azj_path_index(p, sizeof p, path, i);
        struct json_object *e = json_object_array_get_idx(arr, i);
        int rc = eff ? read_effective(r, set, e, p) : read_nsg_object(r, set, e, p);
        if (rc != 0)
            return rc;
    }
    if (!eff && set->count)
        r->c.in->shape = set->nsg[set->count - 1]->shape == NSG_SHAPE_ARM ? "NSG list, ARM (nested)"
                                                                          : "NSG list, az network nsg show (flat)";
    return 0;
}

static int read_root(struct reader *r, struct nsg_set *set, struct json_object *root)
{
    if (json_object_is_type(root, json_type_array))
        return read_list(r, set, root, "");
    if (!json_object_is_type(root, json_type_object))
        return azj_fail(&r->c, "", AZJ_ESHAPE, "not an NSG export: the document is a %s", type_name(root));
    struct json_object *value = azj_get(root, "value");
    if (value && json_object_is_type(value, json_type_array) && !has_rules_key(root))
        return read_list(r, set, value, "value");
    if (is_effective(root)) {
        r->c.in->shape = "effective NSGs (list-effective-nsg)";
        return read_effective(r, set, root, "");
    }
    struct json_object *props = azj_get(root, "properties");
    bool arm = props && json_object_is_type(props, json_type_object) && has_rules_key(props);
    r->c.in->shape = arm ? "ARM GET (nested)" : "az network nsg show (flat)";
    return read_nsg_object(r, set, root, "");
}

/* Prepare the new NSGs (defaults, index) and remember the input; AZJ_ENOMEM when that fails. */
static int record_input(struct nsg_set *set, size_t first, const struct azj_input *in)
{
    size_t added = 0;
    for (size_t i = first; i < set->count; i++) {
        if (nsg_prepare(set->nsg[i]) != 0)
            return AZJ_ENOMEM;
        for (size_t k = 0; k < set->nsg[i]->nrules; k++)
            added += set->nsg[i]->rules[k].synthesized;
    }
    if (set->ninputs < NSG_SET_MAX) {
        set->inputs[set->ninputs] = *in;
        set->inputs[set->ninputs].defaults_added = added;
        set->ninputs++;
    }
    return 0;
}

int nsg_load_buffer(struct nsg_set *set, const char *buf, size_t len, const char *label, struct azj_error *err)
{
    struct reader r = {0};
    struct azj_error local;
    struct azj_input in;
    azj_begin(&r.c, err ? err : &local, &in, label);
    if (!set || (!buf && len))
        return azj_fail(&r.c, "", AZJ_EVALUE, "no set or no buffer");
    size_t first = set->count;
    struct json_object *root = azj_parse(&r.c, buf ? buf : "", len);
    int rc = root ? read_root(&r, set, root) : r.c.err->status;
    json_object_put(root);
    if (rc == 0 && record_input(set, first, &in) != 0)
        rc = azj_fail(&r.c, "", AZJ_ENOMEM, "out of memory");
    if (rc != 0) {
        while (set->count > first) /* all or nothing */
            nsg_free(set->nsg[--set->count]);
        return rc;
    }
    nsg_set_resolve(set);
    return AZJ_OK;
}

int azj_load_file(const char *path, struct azj_error *err, azj_buffer_loader load, void *dst)
{
    struct azj_ctx c;
    struct azj_error local;
    size_t len;
    azj_begin(&c, err ? err : &local, NULL, path);
    char *buf = azj_read_file(&c, path, &len);
    if (!buf)
        return c.err->status;
    int rc = load(dst, buf, len, path, err);
    free(buf);
    return rc;
}

static int load_nsg(void *dst, const char *buf, size_t len, const char *label, struct azj_error *err)
{
    return nsg_load_buffer(dst, buf, len, label, err);
}

int nsg_load(struct nsg_set *set, const char *path, struct azj_error *err)
{
    return azj_load_file(path, err, load_nsg, set);
}

/* ---- Placing NSGs on the NIC and the subnet ---------------------------------------------------- */

static bool id_in(const char (*ids)[NSG_ID_MAX], size_t n, const char *id)
{
    for (size_t i = 0; id[0] && i < n; i++)
        if (strcasecmp(ids[i], id) == 0) /* ARM ids are case-insensitive */
            return true;
    return false;
}

static void slot_set(struct nsg_slot *s, size_t idx)
{
    s->state = NSG_SLOT_SET;
    s->nsg = (int)idx;
}

/* Associations stated outright (effective exports, NSGs built by hand) fill the slots first. */
static void resolve_stated(struct nsg_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        const struct nsg *n = set->nsg[i];
        if (n->shape != NSG_SHAPE_EFFECTIVE && n->shape != NSG_SHAPE_BUILT)
            continue;
        if ((n->assoc & NSG_ASSOC_NIC) && set->nic_slot.state != NSG_SLOT_SET)
            slot_set(&set->nic_slot, i);
        if ((n->assoc & NSG_ASSOC_SUBNET) && set->subnet_slot.state != NSG_SLOT_SET)
            slot_set(&set->subnet_slot, i);
    }
}

static void resolve_effective(struct nsg_set *set)
{
    /* The effective export lists every NSG applied to the NIC: a level it omits has none. */
    if (set->nic_slot.state != NSG_SLOT_SET)
        set->nic_slot.state = NSG_SLOT_NONE;
    if (set->subnet_slot.state != NSG_SLOT_SET)
        set->subnet_slot.state = NSG_SLOT_NONE;
}

static void resolve_with_nic(struct nsg_set *set)
{
    const struct nic_info *nic = &set->nic;
    for (size_t i = 0; i < set->count; i++) {
        const struct nsg *n = set->nsg[i];
        bool named = nic->nsg_known ? (nic->nsg_id[0] && strcasecmp(n->id, nic->nsg_id) == 0)
                                    : id_in((const char(*)[NSG_ID_MAX])n->nic_ids, n->nnic, nic->id);
        if (named && set->nic_slot.state != NSG_SLOT_SET)
            slot_set(&set->nic_slot, i);
        if (id_in((const char(*)[NSG_ID_MAX])n->subnet_ids, n->nsubnet, nic->subnet_id) &&
            set->subnet_slot.state != NSG_SLOT_SET)
            slot_set(&set->subnet_slot, i);
    }
    if (set->nic_slot.state != NSG_SLOT_SET && nic->nsg_known) {
        set->nic_slot.state = nic->nsg_id[0] ? NSG_SLOT_MISSING : NSG_SLOT_NONE;
        snprintf(set->nic_slot.wanted_id, sizeof set->nic_slot.wanted_id, "%s", nic->nsg_id);
    }
}

void nsg_set_resolve(struct nsg_set *set)
{
    if (!set)
        return;
    memset(&set->nic_slot, 0, sizeof set->nic_slot);
    memset(&set->subnet_slot, 0, sizeof set->subnet_slot);
    resolve_stated(set);
    for (size_t i = 0; i < set->count; i++) {
        if (set->nsg[i]->shape == NSG_SHAPE_EFFECTIVE) {
            resolve_effective(set);
            return;
        }
    }
    if (set->nic_attached) {
        resolve_with_nic(set);
        return;
    }
    for (size_t i = 0; i < set->count; i++) {
        if ((set->nsg[i]->assoc & NSG_ASSOC_NIC) && set->nic_slot.state != NSG_SLOT_SET)
            slot_set(&set->nic_slot, i);
        if ((set->nsg[i]->assoc & NSG_ASSOC_SUBNET) && set->subnet_slot.state != NSG_SLOT_SET)
            slot_set(&set->subnet_slot, i);
    }
}

void nsg_set_attach_nic(struct nsg_set *set, const struct nic_info *nic)
{
    if (!set || !nic)
        return;
    set->nic = *nic;
    set->nic_attached = true;
    nsg_set_resolve(set);
}

/* ---- The NIC reader ---------------------------------------------------------------------------- */

static void normalise_mac(const char *in, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < size; p++)
        if (*p != '-' && *p != ':')
            out[n++] = (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static int read_bool(struct azj_ctx *c, struct json_object *o, const char *key, const char *path, bool *out)
{
    char p[256];
    struct json_object *v = azj_get(o, key);
    *out = false;
    if (!v || json_object_is_type(v, json_type_null))
        return 0;
    azj_path_key(p, sizeof p, path, key);
    if (!json_object_is_type(v, json_type_boolean))
        return azj_fail(c, p, AZJ_EVALUE, "expected true or false, got %s", type_name(v));
    *out = json_object_get_boolean(v);
    return 1;
}

/* The ip configuration to use: the primary IPv4 one, else the first IPv4 one. */
static int pick_ipconfig(struct azj_ctx *c, struct json_object *arr, const char *path, size_t *out)
{
    size_t n = json_object_array_length(arr), first_v4 = SIZE_MAX;
    char p[256], ver[16];
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(arr, i), *props;
        azj_path_index(p, sizeof p, path, i);
        if (!e || !json_object_is_type(e, json_type_object))
            return azj_fail(c, p, AZJ_EVALUE, "expected an ip configuration object, got %s", type_name(e));
        props = azj_get(e, "properties");
        struct json_object *body = props && json_object_is_type(props, json_type_object) ? props : e;
        bool primary;
        int rc = azj_string(c, body, "privateIPAddressVersion", p, ver, sizeof ver);
        if (rc < 0 || (rc = read_bool(c, body, "primary", p, &primary)) < 0)
            return rc;
        if (strcasecmp(ver, "IPv6") == 0)
            continue;
        if (first_v4 == SIZE_MAX)
            first_v4 = i;
        if (primary) {
            *out = i;
            return 0;
        }
    }
    if (first_v4 == SIZE_MAX)
        return azj_fail(c, path, AZJ_EVALUE, "no IPv4 ip configuration");
    *out = first_v4;
    return 0;
}

static int read_nic_asgs(struct azj_ctx *c, struct json_object *body, const char *path, struct nic_info *nic)
{
    char p[256], ep[256];
    struct json_object *v = azj_get(body, "applicationSecurityGroups");
    azj_path_key(p, sizeof p, path, "applicationSecurityGroups");
    nic->asg_known = azj_has(body, "applicationSecurityGroups"); /* null or [] = none; absent = not exported */
    if (azj_empty(v))
        return 0;
    if (!json_object_is_type(v, json_type_array))
        return azj_fail(c, p, AZJ_EVALUE, "expected an array of {id}, got %s", type_name(v));
    size_t n = json_object_array_length(v);
    if (n > NSG_MAX_ASGS)
        return azj_fail(c, p, AZJ_ELIMIT, "%zu application security groups; the limit is %d", n, NSG_MAX_ASGS);
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(v, i);
        azj_path_index(ep, sizeof ep, p, i);
        if (!e || !json_object_is_type(e, json_type_object))
            return azj_fail(c, ep, AZJ_EVALUE, "expected an object with an id, got %s", type_name(e));
        int rc = azj_string(c, e, "id", ep, nic->asgs[nic->nasgs], sizeof nic->asgs[0]);
        if (rc < 0)
            return rc;
        if (rc > 0)
            nic->nasgs++;
    }
    return 0;
}

/* {id} member into out ("" when null). */
static int read_ref(struct azj_ctx *c, struct json_object *o, const char *key, const char *path, char *out,
                    size_t size, bool *present)
{
    char p[256];
    struct json_object *v = azj_get(o, key);
    azj_path_key(p, sizeof p, path, key);
    out[0] = '\0';
    if (present)
        *present = azj_has(o, key);
    if (!v || json_object_is_type(v, json_type_null))
        return 0;
    if (!json_object_is_type(v, json_type_object))
        return azj_fail(c, p, AZJ_EVALUE, "expected an object with an id, got %s", type_name(v));
    return azj_string(c, v, "id", p, out, size) < 0 ? c->err->status : 0;
}

static int read_ipconfig(struct azj_ctx *c, struct json_object *e, const char *path, struct nic_info *nic)
{
    char pp[256], ip[64], p[256];
    struct json_object *props = azj_get(e, "properties");
    bool nested = props && json_object_is_type(props, json_type_object);
    struct json_object *body = nested ? props : e;
    if (nested)
        azj_path_key(pp, sizeof pp, path, "properties");
    else
        snprintf(pp, sizeof pp, "%s", path);
    int rc = azj_string(c, e, "name", path, nic->ipconfig, sizeof nic->ipconfig);
    if (rc < 0 || (rc = azj_string(c, body, "privateIPAddress", pp, ip, sizeof ip)) < 0)
        return rc;
    azj_path_key(p, sizeof p, pp, "privateIPAddress");
    if (rc > 0 && !ip4_parse(ip, &nic->private_ip))
        return azj_fail(c, p, AZJ_EVALUE, "%s is not an IPv4 address", ip);
    nic->ip_known = rc > 0;
    if ((rc = read_ref(c, body, "subnet", pp, nic->subnet_id, sizeof nic->subnet_id, NULL)) != 0)
        return rc;
    return read_nic_asgs(c, body, pp, nic);
}

static int read_nic(struct azj_ctx *c, struct json_object *o, const char *path, struct nic_info *nic)
{
    char pp[256], p[256], mac[64];
    struct json_object *props = azj_get(o, "properties");
    bool arm = props && json_object_is_type(props, json_type_object) && azj_get(props, "ipConfigurations");
    struct json_object *body = arm ? props : o;
    if (arm)
        azj_path_key(pp, sizeof pp, path, "properties");
    else
        snprintf(pp, sizeof pp, "%s", path);
    struct json_object *cfgs = azj_get(body, "ipConfigurations");
    azj_path_key(p, sizeof p, pp, "ipConfigurations");
    if (!cfgs || !json_object_is_type(cfgs, json_type_array) || json_object_array_length(cfgs) == 0)
        return azj_fail(c, p, cfgs ? AZJ_EVALUE : AZJ_ESHAPE, "not a NIC export (no ipConfigurations array)");
    if (json_object_array_length(cfgs) > 1000)
        return azj_fail(c, p, AZJ_ELIMIT, "%zu ip configurations", json_object_array_length(cfgs));
    c->in->shape = arm ? "NIC, ARM (nested)" : "az network nic show (flat)";
    size_t pick = 0;
    int rc;
    if ((rc = azj_string(c, o, "id", path, nic->id, sizeof nic->id)) < 0 ||
        (rc = azj_string(c, o, "name", path, nic->name, sizeof nic->name)) < 0 ||
        (rc = azj_string(c, body, "macAddress", pp, mac, sizeof mac)) < 0 ||
        (rc = read_bool(c, body, "enableIPForwarding", pp, &nic->ip_forwarding)) < 0 ||
        (rc = read_ref(c, body, "networkSecurityGroup", pp, nic->nsg_id, sizeof nic->nsg_id, &nic->nsg_known)) != 0 ||
        (rc = pick_ipconfig(c, cfgs, p, &pick)) != 0)
        return rc;
    normalise_mac(mac, nic->mac, sizeof nic->mac);
    char ep[256];
    azj_path_index(ep, sizeof ep, p, pick);
    return read_ipconfig(c, json_object_array_get_idx(cfgs, pick), ep, nic);
}

int nic_load_buffer(struct nic_info *nic, const char *buf, size_t len, const char *label, struct azj_error *err)
{
    struct azj_ctx c;
    struct azj_error local;
    if (!nic)
        return AZJ_EVALUE;
    memset(nic, 0, sizeof *nic);
    azj_begin(&c, err ? err : &local, &nic->input, label);
    struct json_object *root = azj_parse(&c, buf ? buf : "", buf ? len : 0);
    if (!root)
        return c.err->status;
    struct json_object *o = root;
    const char *path = "";
    struct json_object *value = azj_get(root, "value");
    if (json_object_is_type(root, json_type_array) || (value && json_object_is_type(value, json_type_array))) {
        /* A list call: the primary NIC, else the first. */
        struct json_object *arr = json_object_is_type(root, json_type_array) ? root : value;
        path = arr == root ? "[0]" : "value[0]";
        o = json_object_array_get_idx(arr, 0);
        nic->input.list = true;
    }
    int rc = o && json_object_is_type(o, json_type_object)
                 ? read_nic(&c, o, path, nic)
                 : azj_fail(&c, path, AZJ_ESHAPE, "not a NIC export (the document is a %s)", type_name(o));
    json_object_put(root);
    if (rc != 0) {
        struct azj_input keep = nic->input;
        memset(nic, 0, sizeof *nic);
        nic->input = keep;
    }
    return rc;
}

static int load_nic(void *dst, const char *buf, size_t len, const char *label, struct azj_error *err)
{
    return nic_load_buffer(dst, buf, len, label, err);
}

int nic_load(struct nic_info *nic, const char *path, struct azj_error *err)
{
    return azj_load_file(path, err, load_nic, nic);
}
