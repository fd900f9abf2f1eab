/* Service tags: JSON loader (json-c), built-in snapshot, ranking and lookups (see servicetags.h). */
#include "probe/diag/servicetags.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "probe/sysfile.h"

#define ST_NAME_MAX 128  /* real names are < 64 characters */
#define ST_TEXT_MAX 128  /* region, systemService, cloud */

/* A tag while loading: prefixes are kept as a slice [first, first+n) of the set's shared array
 * (which moves while it grows), turned into a pointer when loading ends. */
struct tag_rec {
    struct servicetag t;
    size_t first;
    int cls;             /* ranking class, see tag_class() */
};

struct name_ref {
    const char *name;
    uint32_t pos;        /* in tags[] */
};

struct servicetags {
    struct tag_rec *tags;       /* in match-rank order once finished; id in the index = position */
    size_t ntags, captags;
    struct prefix4 *pfx;
    size_t npfx, cappfx;
    struct name_ref *by_name;   /* sorted case-insensitively by name */
    struct prefix_index *ix;
    struct servicetags_meta meta;
};

struct load_ctx {
    char *err;
    size_t errsize;
    const char *source;
};

__attribute__((format(printf, 3, 4)))
static int fail(const struct load_ctx *c, const char *path, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->err && c->errsize)
        snprintf(c->err, c->errsize, "%s: %s%s%s", c->source, path, *path ? ": " : "", msg);
    return -1;
}

/* A value quoted for a message: printable ASCII only, cut at 40 characters (input is hostile). */
static const char *quoted(const char *s, size_t len, char *buf, size_t size)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < len && o + 6 < size; i++) {
        if (i == 40) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char ch = (unsigned char)s[i];
        buf[o++] = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' ? (char)ch : '?';
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* ---- The set ---------------------------------------------------------------------------------- */

static struct servicetags *st_new(const char *source)
{
    struct servicetags *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->meta.change_number = -1;
    snprintf(st->meta.source, sizeof st->meta.source, "%s", source);
    return st;
}

void servicetags_free(struct servicetags *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->ntags; i++) {
        free((char *)st->tags[i].t.name);
        free((char *)st->tags[i].t.region);
        free((char *)st->tags[i].t.system_service);
    }
    free(st->tags);
    free(st->pfx);
    free(st->by_name);
    prefix_index_free(st->ix);
    free(st);
}

static struct tag_rec *add_tag(struct servicetags *st, const char *name, const char *region,
                               const char *service, long change)
{
    if (st->ntags == st->captags) {
        size_t cap = st->captags ? st->captags * 2 : 64;
        struct tag_rec *t = realloc(st->tags, cap * sizeof *t);
        if (!t)
            return NULL;
        st->tags = t;
        st->captags = cap;
    }
    struct tag_rec *r = &st->tags[st->ntags];
    *r = (struct tag_rec){.first = st->npfx};
    r->t.name = strdup(name);
    r->t.region = strdup(region ? region : "");
    r->t.system_service = strdup(service ? service : "");
    r->t.change_number = change;
    st->ntags++; /* counted before the check so servicetags_free() releases partial strings */
    return r->t.name && r->t.region && r->t.system_service ? r : NULL;
}

static int add_prefix(struct servicetags *st, struct tag_rec *r, const struct prefix4 *p)
{
    if (st->npfx == st->cappfx) {
        size_t cap = st->cappfx ? st->cappfx * 2 : 1024;
        struct prefix4 *n = realloc(st->pfx, cap * sizeof *n);
        if (!n)
            return -1;
        st->pfx = n;
        st->cappfx = cap;
    }
    st->pfx[st->npfx++] = *p;
    r->t.nprefixes++;
    return 0;
}

/* ---- Finishing: sort, rank, name index, prefix index ------------------------------------------ */

static int pfx_cmp(const void *a, const void *b)
{
    const struct prefix4 *x = a, *y = b;
    if (x->net != y->net)
        return x->net < y->net ? -1 : 1;
    return (x->len > y->len) - (x->len < y->len);
}

/* Sort a tag's prefixes, drop duplicates, count the addresses covered (a nested prefix adds none). */
static void tidy_tag(struct servicetags *st, struct tag_rec *r)
{
    size_t n = r->t.nprefixes, k = 0;
    uint64_t end = 0, total = 0; /* end: one past the last address counted so far */
    if (n == 0)
        return; /* st->pfx may still be NULL */
    struct prefix4 *p = st->pfx + r->first;
    qsort(p, n, sizeof *p, pfx_cmp);
    for (size_t i = 0; i < n; i++) {
        if (k && p[k - 1].net == p[i].net && p[k - 1].len == p[i].len)
            continue;
        p[k++] = p[i];
        uint64_t lo = p[i].net, hi = (uint64_t)prefix4_last(&p[i]) + 1;
        if (hi > end) {
            total += hi - (lo > end ? lo : end);
            end = hi;
        }
    }
    r->t.nprefixes = k;
    r->t.addresses = total;
}

/* Lower ranks first for equal prefixes: regional service tag, global service tag,
 * AzureCloud.<region>, AzureCloud (the order of nsg-routes-tags.md section 9). */
static int tag_class(const struct servicetag *t)
{
    if (strcmp(t->name, "AzureCloud") == 0)
        return 3;
    if (strncmp(t->name, "AzureCloud.", 11) == 0)
        return 2;
    return t->region[0] ? 0 : 1;
}

static int rank_cmp(const void *a, const void *b)
{
    const struct tag_rec *x = a, *y = b;
    if (x->cls != y->cls)
        return x->cls < y->cls ? -1 : 1;
    if (x->t.addresses != y->t.addresses)
        return x->t.addresses < y->t.addresses ? -1 : 1;
    return strcmp(x->t.name, y->t.name);
}

static int name_cmp(const void *a, const void *b)
{
    return strcasecmp(((const struct name_ref *)a)->name, ((const struct name_ref *)b)->name);
}

static int build_name_index(const struct load_ctx *c, struct servicetags *st)
{
    st->by_name = malloc((st->ntags ? st->ntags : 1) * sizeof *st->by_name);
    if (!st->by_name)
        return fail(c, "", "out of memory");
    for (size_t i = 0; i < st->ntags; i++)
        st->by_name[i] = (struct name_ref){st->tags[i].t.name, (uint32_t)i};
    qsort(st->by_name, st->ntags, sizeof *st->by_name, name_cmp); /* by_name is never NULL here */
    for (size_t i = 1; i < st->ntags; i++)
        if (strcasecmp(st->by_name[i - 1].name, st->by_name[i].name) == 0)
            return fail(c, "values", "duplicate tag name \"%s\"", st->by_name[i].name);
    return 0;
}

static int build_prefix_index(const struct load_ctx *c, struct servicetags *st)
{
    st->ix = prefix_index_new();
    if (!st->ix)
        return fail(c, "", "out of memory");
    for (size_t i = 0; i < st->ntags; i++) {
        const struct servicetag *t = &st->tags[i].t;
        for (size_t j = 0; j < t->nprefixes; j++)
            if (prefix_index_add(st->ix, &t->prefixes[j], (uint32_t)i) != 0)
                return fail(c, "", "out of memory");
    }
    if (prefix_index_build(st->ix) != 0)
        return fail(c, "", "out of memory");
    return 0;
}

static int st_finish(const struct load_ctx *c, struct servicetags *st)
{
    for (size_t i = 0; i < st->ntags; i++) {
        tidy_tag(st, &st->tags[i]);
        st->tags[i].cls = tag_class(&st->tags[i].t);
        st->meta.prefixes4 += st->tags[i].t.nprefixes;
    }
    if (st->ntags) /* qsort's pointer must not be NULL, even for no elements */
        qsort(st->tags, st->ntags, sizeof *st->tags, rank_cmp);
    for (size_t i = 0; i < st->ntags; i++) /* the shared array no longer moves */
        st->tags[i].t.prefixes = st->pfx ? st->pfx + st->tags[i].first : NULL;
    st->meta.tags = st->ntags;
    if (build_name_index(c, st) != 0)
        return -1;
    return build_prefix_index(c, st);
}

/* ---- JSON ------------------------------------------------------------------------------------- */

/* Line and column (1-based) of a byte offset, for syntax errors. */
static void position(const char *buf, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (buf[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static struct json_object *parse_json(const struct load_ctx *c, const char *buf, size_t len)
{
    if (len == 0)
        return fail(c, "", "empty file"), NULL;
    if (len > SERVICETAGS_MAX_FILE || len > INT_MAX)
        return fail(c, "", "larger than %u MB", SERVICETAGS_MAX_FILE >> 20), NULL;
    struct json_tokener *tok = json_tokener_new_ex(SERVICETAGS_JSON_DEPTH);
    if (!tok)
        return fail(c, "", "out of memory"), NULL;
    int flags = JSON_TOKENER_STRICT;
#ifdef JSON_TOKENER_VALIDATE_UTF8
    flags |= JSON_TOKENER_VALIDATE_UTF8;
#endif
    json_tokener_set_flags(tok, flags);
    struct json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok), line, col;
    json_tokener_free(tok);
    if (root && end < len && memchr(buf + end, '\0', len - end)) {
        /* json-c stops at a NUL byte and calls the document complete; the input was not JSON. */
        json_object_put(root);
        root = NULL;
        jerr = json_tokener_error_parse_unexpected;
        end += strnlen(buf + end, len - end);
    }
    if (root)
        return root;
    position(buf, len, end, &line, &col);
    if (jerr == json_tokener_continue || jerr == json_tokener_success)
        fail(c, "", "truncated JSON: the document ends at line %zu, column %zu before it is complete",
             line, col);
    else
        fail(c, "", "JSON syntax error at line %zu, column %zu: %s", line, col,
             json_tokener_error_desc(jerr));
    return NULL;
}

/* "values[3].properties" + "region" -> "values[3].properties.region"; the root's members bare. */
static const char *member(char *buf, size_t size, const char *path, const char *key)
{
    snprintf(buf, size, "%s%s%s", path, *path ? "." : "", key);
    return buf;
}

/* changeNumber: an integer in the files, a string of digits in the Discovery API; absent = -1. */
static int get_change(const struct load_ctx *c, const char *path, struct json_object *obj, long *out)
{
    struct json_object *v;
    char where[128];
    *out = -1;
    if (!json_object_object_get_ex(obj, "changeNumber", &v) || !v)
        return 0;
    member(where, sizeof where, path, "changeNumber");
    if (json_object_is_type(v, json_type_int)) {
        int64_t n = json_object_get_int64(v);
        if (n < 0 || n > LONG_MAX)
            return fail(c, where, "out of range");
        *out = (long)n;
        return 0;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *e;
        errno = 0;
        long n = strtol(s, &e, 10);
        if (*s >= '0' && *s <= '9' && *e == '\0' && errno == 0 &&
            (size_t)json_object_get_string_len(v) == strlen(s)) {
            *out = n;
            return 0;
        }
    }
    return fail(c, where, "not a number");
}

/* Printable ASCII (space excluded when is_name) of 0..max characters, so names are safe to print. */
static bool clean_text(const char *s, size_t len, size_t max, bool is_name)
{
    if (len > max || (is_name && len == 0))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < (is_name ? 0x21 : 0x20) || ch > 0x7e)
            return false;
    }
    return true;
}

/* An optional string member: absent or null -> "", anything else but clean text is an error. */
static int get_text(const struct load_ctx *c, const char *path, struct json_object *obj,
                    const char *key, size_t max, const char **out)
{
    struct json_object *v;
    char where[128];
    *out = "";
    if (!json_object_object_get_ex(obj, key, &v) || !v)
        return 0;
    member(where, sizeof where, path, key);
    if (!json_object_is_type(v, json_type_string))
        return fail(c, where, "not a string");
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (!clean_text(s, len, max, false)) {
        char q[64];
        return fail(c, where, "unexpected characters or too long: %s", quoted(s, len, q, sizeof q));
    }
    *out = s;
    return 0;
}

/* The path of addressPrefixes[i] is formatted only on failure: 100k snprintf calls per load
 * would cost more than the prefixes' parsing. */
__attribute__((format(printf, 4, 5)))
static int prefix_fail(const struct load_ctx *c, const char *path, size_t i, const char *fmt, ...)
{
    char where[128], msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(where, sizeof where, "%s.properties.addressPrefixes[%zu]", path, i);
    return fail(c, where, "%s", msg);
}

/* One addressPrefixes element: 0 (stored or skipped as IPv6), or -1 with a message naming it. */
static int walk_prefix(const struct load_ctx *c, struct servicetags *st, struct tag_rec *r,
                       const char *path, size_t i, struct json_object *v)
{
    char q[64];
    if (st->npfx >= SERVICETAGS_MAX_PREFIXES)
        return prefix_fail(c, path, i, "more than %u prefixes in the file", SERVICETAGS_MAX_PREFIXES);
    if (!json_object_is_type(v, json_type_string))
        return prefix_fail(c, path, i, "not a string");
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    struct prefix4 p;
    unsigned flags;
    /* strlen() == len rejects an embedded \u0000, which would hide the rest of the string. */
    enum prefix_kind kind = strlen(s) == len ? prefix_parse(s, &p, &flags) : PREFIX_INVALID;
    if (kind == PREFIX_INVALID)
        return prefix_fail(c, path, i, "not a prefix: %s", quoted(s, len, q, sizeof q));
    if (kind == PREFIX_V6) {
        r->t.skipped_v6++;
        st->meta.prefixes6_skipped++;
        return 0;
    }
    if (flags & PREFIX_F_HOSTBITS)
        st->meta.hostbits_fixed++;
    return add_prefix(st, r, &p) == 0 ? 0 : prefix_fail(c, path, i, "out of memory");
}

static int walk_prefixes(const struct load_ctx *c, struct servicetags *st, struct tag_rec *r,
                         const char *path, struct json_object *arr)
{
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++)
        if (walk_prefix(c, st, r, path, i, json_object_array_get_idx(arr, i)) != 0)
            return -1;
    return 0;
}

/* values[i].name: printable, no spaces, bounded, so every later message and report can print it. */
static const char *tag_name(const struct load_ctx *c, const char *path, struct json_object *tag)
{
    struct json_object *name;
    char where[128], q[64];
    member(where, sizeof where, path, "name");
    if (!json_object_object_get_ex(tag, "name", &name) || !json_object_is_type(name, json_type_string))
        return fail(c, where, "missing or not a string"), NULL;
    const char *s = json_object_get_string(name);
    size_t len = (size_t)json_object_get_string_len(name);
    if (!clean_text(s, len, ST_NAME_MAX, true))
        return fail(c, where, "not a tag name: %s", quoted(s, len, q, sizeof q)), NULL;
    return s;
}

static int walk_tag(const struct load_ctx *c, struct servicetags *st, size_t i, struct json_object *tag)
{
    char path[48], where[128];
    struct json_object *props, *arr;
    const char *name, *region, *service;
    long change;
    snprintf(path, sizeof path, "values[%zu]", i);
    if (!json_object_is_type(tag, json_type_object))
        return fail(c, path, "not an object");
    if (!(name = tag_name(c, path, tag)))
        return -1;
    member(where, sizeof where, path, "properties");
    if (!json_object_object_get_ex(tag, "properties", &props) ||
        !json_object_is_type(props, json_type_object))
        return fail(c, where, "missing or not an object");
    if (get_change(c, where, props, &change) != 0 ||
        get_text(c, where, props, "region", ST_TEXT_MAX, &region) != 0 ||
        get_text(c, where, props, "systemService", ST_TEXT_MAX, &service) != 0)
        return -1;
    if (!json_object_object_get_ex(props, "addressPrefixes", &arr) ||
        !json_object_is_type(arr, json_type_array))
        return fail(c, member(where, sizeof where, path, "properties.addressPrefixes"),
                    "missing or not an array");
    struct tag_rec *r = add_tag(st, name, region, service, change);
    if (!r)
        return fail(c, path, "out of memory");
    return walk_prefixes(c, st, r, path, arr);
}

static int walk_root(const struct load_ctx *c, struct servicetags *st, struct json_object *root)
{
    struct json_object *values;
    const char *cloud;
    if (!json_object_is_type(root, json_type_object))
        return fail(c, "", "not a JSON object (expected {\"changeNumber\", \"cloud\", \"values\"})");
    if (get_change(c, "", root, &st->meta.change_number) != 0 ||
        get_text(c, "", root, "cloud", sizeof st->meta.cloud - 1, &cloud) != 0)
        return -1;
    snprintf(st->meta.cloud, sizeof st->meta.cloud, "%s", cloud);
    if (!json_object_object_get_ex(root, "values", &values))
        return fail(c, "values", "missing");
    if (!json_object_is_type(values, json_type_array))
        return fail(c, "values", "not an array");
    size_t n = json_object_array_length(values);
    if (n > SERVICETAGS_MAX_TAGS)
        return fail(c, "values", "%zu tags, more than the limit of %u", n, SERVICETAGS_MAX_TAGS);
    for (size_t i = 0; i < n; i++)
        if (walk_tag(c, st, i, json_object_array_get_idx(values, i)) != 0)
            return -1;
    return 0;
}

/* YYYYMMDD from ".../ServiceTags_Public_20251109.json" (Microsoft's download names). */
static void date_from_name(const char *name, char date[9])
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *u = strrchr(base, '_');
    date[0] = '\0';
    if (!u || strlen(u) != 1 + 8 + 5 || strcmp(u + 9, ".json") != 0)
        return;
    for (int i = 1; i <= 8; i++)
        if (u[i] < '0' || u[i] > '9')
            return;
    memcpy(date, u + 1, 8);
    date[8] = '\0';
}

struct servicetags *servicetags_load_buffer(const char *buf, size_t len, const char *name, char *err,
                                            size_t errsize)
{
    struct load_ctx c = {err, errsize, name ? name : "(buffer)"};
    if (err && errsize)
        err[0] = '\0';
    struct json_object *root = buf ? parse_json(&c, buf, len) : NULL;
    if (!root) {
        if (!buf)
            fail(&c, "", "no data");
        return NULL;
    }
    struct servicetags *st = st_new(c.source);
    int rc = st ? walk_root(&c, st, root) : fail(&c, "", "out of memory");
    json_object_put(root); /* free the DOM before indexing: lowers the peak */
    if (rc == 0)
        rc = st_finish(&c, st);
    if (rc != 0) {
        servicetags_free(st);
        return NULL;
    }
    date_from_name(c.source, st->meta.date);
    return st;
}

struct servicetags *servicetags_load_file(const char *path, char *err, size_t errsize)
{
    struct load_ctx c = {err, errsize, path};
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fail(&c, "", "%s", strerror(errno));
        return NULL;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)SERVICETAGS_MAX_FILE) {
        fail(&c, "", S_ISREG(sb.st_mode) ? "larger than %u MB" : "not a regular file (limit %u MB)",
             SERVICETAGS_MAX_FILE >> 20);
        return NULL;
    }
    size_t len;
    /* One byte more than stat said, so a file growing under us shows up as too long. */
    char *buf = sysfile_read_abs(path, (size_t)sb.st_size + 1, &len);
    if (!buf) {
        fail(&c, "", "%s", strerror(errno));
        return NULL;
    }
    struct servicetags *st = servicetags_load_buffer(buf, len, path, err, errsize);
    free(buf);
    return st;
}

/* ---- The built-in snapshot -------------------------------------------------------------------- */

/* IMDS azEnvironment and region-catalog spellings of each cloud the snapshot knows. */
static const char *canonical_cloud(const char *name)
{
    static const char *const alias[][2] = {
        {"public", "Public"},          {"azurecloud", "Public"},      {"azurepubliccloud", "Public"},
        {"azuregovernment", "AzureGovernment"}, {"azureusgovernment", "AzureGovernment"},
        {"azureusgovernmentcloud", "AzureGovernment"}, {"china", "China"}, {"azurechinacloud", "China"},
    };
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (strcasecmp(name, alias[i][0]) == 0)
            return alias[i][1];
    return name;
}

static int load_builtin_tags(const struct load_ctx *c, struct servicetags *st,
                             const struct servicetags_builtin_cloud *bc)
{
    for (uint32_t i = 0; i < bc->ntags; i++) {
        const struct servicetags_builtin_tag *bt = &bc->tags[i];
        struct tag_rec *r = add_tag(st, bt->name, bt->region, bt->system_service, bt->change_number);
        if (!r)
            return fail(c, "", "out of memory");
        for (uint32_t j = 0; j < bt->count; j++) {
            struct prefix4 p = {bc->net[bt->first + j], bc->len[bt->first + j]};
            if (add_prefix(st, r, &p) != 0)
                return fail(c, "", "out of memory");
        }
    }
    return 0;
}

struct servicetags *servicetags_load_builtin(const char *cloud, char *err, size_t errsize)
{
    const char *want = canonical_cloud(cloud ? cloud : "Public");
    const struct servicetags_builtin_cloud *bc = NULL;
    struct load_ctx c = {err, errsize, "built-in snapshot"};
    for (size_t i = 0; i < servicetags_builtin_cloud_count; i++)
        if (strcmp(servicetags_builtin_clouds[i].cloud, want) == 0)
            bc = &servicetags_builtin_clouds[i];
    if (!bc) {
        fail(&c, "", "no snapshot for cloud \"%s\" (have Public, AzureGovernment, China)", want);
        return NULL;
    }
    char source[200];
    snprintf(source, sizeof source, "built-in snapshot of %s", bc->file);
    struct servicetags *st = st_new(source);
    if (!st || load_builtin_tags(&c, st, bc) != 0 || st_finish(&c, st) != 0) {
        if (!st)
            fail(&c, "", "out of memory");
        servicetags_free(st);
        return NULL;
    }
    st->meta.builtin = true;
    st->meta.change_number = bc->change_number;
    snprintf(st->meta.cloud, sizeof st->meta.cloud, "%s", bc->cloud);
    snprintf(st->meta.date, sizeof st->meta.date, "%s", bc->date);
    return st;
}

/* ---- Queries ---------------------------------------------------------------------------------- */

size_t servicetags_lookup_ex(const struct servicetags *st, uint32_t ip, struct servicetag_match *out,
                             size_t max)
{
    uint32_t ids[SERVICETAGS_MAX_MATCHES];
    struct prefix4 pfx[SERVICETAGS_MAX_MATCHES];
    if (!st || !out)
        return 0;
    size_t n = prefix_index_lookup_ex(st->ix, ip, ids, pfx, max < SERVICETAGS_MAX_MATCHES ? max : SERVICETAGS_MAX_MATCHES);
    for (size_t i = 0; i < n; i++)
        out[i] = (struct servicetag_match){&st->tags[ids[i]].t, pfx[i]};
    return n;
}

size_t servicetags_lookup(const struct servicetags *st, uint32_t ip, const char **names_out, size_t max)
{
    uint32_t ids[SERVICETAGS_MAX_MATCHES];
    if (!st || !names_out)
        return 0;
    size_t n = prefix_index_lookup(st->ix, ip, ids, max < SERVICETAGS_MAX_MATCHES ? max : SERVICETAGS_MAX_MATCHES);
    for (size_t i = 0; i < n; i++)
        names_out[i] = st->tags[ids[i]].t.name;
    return n;
}

const struct servicetag *servicetags_find(const struct servicetags *st, const char *name)
{
    if (!st || !name)
        return NULL;
    size_t lo = 0, hi = st->ntags;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcasecmp(name, st->by_name[mid].name);
        if (cmp == 0)
            return &st->tags[st->by_name[mid].pos].t;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int servicetags_tag_contains(const struct servicetags *st, const char *name, uint32_t ip,
                             struct prefix4 *matched)
{
    const struct servicetag *t = servicetags_find(st, name);
    if (!t)
        return -1;
    /* Through the index (O(log n)): t is the first member of its tag_rec, so its rank id is its
     * position in st->tags. */
    uint32_t id = (uint32_t)((const struct tag_rec *)(const void *)t - st->tags);
    uint32_t ids[SERVICETAGS_MAX_MATCHES];
    struct prefix4 pfx[SERVICETAGS_MAX_MATCHES];
    size_t n = prefix_index_lookup_ex(st->ix, ip, ids, pfx, SERVICETAGS_MAX_MATCHES);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == id) {
            if (matched)
                *matched = pfx[i];
            return 1;
        }
    }
    if (n < SERVICETAGS_MAX_MATCHES)
        return 0;
    /* More tags contain ip than one lookup reports: fall back to the tag's own list. */
    const struct prefix4 *best = NULL;
    for (size_t i = 0; i < t->nprefixes; i++)
        if (prefix4_contains(&t->prefixes[i], ip) && (!best || t->prefixes[i].len > best->len))
            best = &t->prefixes[i];
    if (best && matched)
        *matched = *best;
    return best != NULL;
}

const struct servicetags_meta *servicetags_meta(const struct servicetags *st)
{
    return st ? &st->meta : NULL;
}

size_t servicetags_count(const struct servicetags *st)
{
    return st ? st->ntags : 0;
}

const struct servicetag *servicetags_at(const struct servicetags *st, size_t i)
{
    return st && i < st->ntags ? &st->tags[i].t : NULL;
}

size_t servicetags_memory(const struct servicetags *st)
{
    if (!st)
        return 0;
    size_t n = sizeof *st + st->captags * sizeof *st->tags + st->cappfx * sizeof *st->pfx +
               st->ntags * sizeof *st->by_name + prefix_index_memory(st->ix);
    for (size_t i = 0; i < st->ntags; i++)
        n += strlen(st->tags[i].t.name) + strlen(st->tags[i].t.region) +
             strlen(st->tags[i].t.system_service) + 3;
    return n;
}
