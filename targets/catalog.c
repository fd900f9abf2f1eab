/* Region catalog: the clouds table, region and cloud look-ups, "did you mean" suggestions and
 * the --list-regions table. The region rows themselves are generated (build/regions_gen.c). */
#include "targets/catalog.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const struct cloud clouds[] = {
    {"AzureCloud", "AzurePublicCloud", "core.windows.net", "login.microsoftonline.com",
     "management.azure.com", "backup.windowsazure.com"},
    {"AzureUSGovernment", "AzureUSGovernmentCloud", "core.usgovcloudapi.net", "login.microsoftonline.us",
     "management.usgovcloudapi.net", "backup.windowsazure.us"},
    {"AzureChinaCloud", "AzureChinaCloud", "core.chinacloudapi.cn", "login.partner.microsoftonline.cn",
     "management.chinacloudapi.cn", "backup.windowsazure.cn"},
};

/* ---- ASCII helpers (locale-independent on purpose) ---- */

static int ascii_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static bool ascii_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool equal_nocase(const char *a, const char *b)
{
    while (*a != '\0' && ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

/* ---- look-ups ---- */

size_t catalog_cloud_count(void)
{
    return sizeof clouds / sizeof clouds[0];
}

const struct cloud *catalog_cloud_at(size_t i)
{
    return i < catalog_cloud_count() ? &clouds[i] : NULL;
}

const struct region *catalog_region(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < catalog_region_count; i++)
        if (equal_nocase(catalog_regions[i].name, name))
            return &catalog_regions[i];
    return NULL;
}

const struct cloud *catalog_cloud(const char *name_or_env)
{
    if (name_or_env == NULL)
        return NULL;
    for (size_t i = 0; i < catalog_cloud_count(); i++)
        if (equal_nocase(clouds[i].name, name_or_env) || equal_nocase(clouds[i].imds_env, name_or_env))
            return &clouds[i];
    return NULL;
}

/* ---- suggestions ---- */

#define KEY_MAX 64 /* far longer than any region name; longer input has no close region */

/* A comparison key: the ASCII letters and digits of a string, lower-cased ("North Europe",
 * "north-europe" and "NorthEurope" all give "northeurope"). */
struct key {
    char s[KEY_MAX + 1];
    size_t len;
};

static bool make_key(const char *text, struct key *k)
{
    k->len = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (!ascii_alnum(*p))
            continue;
        if (k->len == KEY_MAX)
            return false;
        k->s[k->len++] = (char)ascii_lower(*p);
    }
    k->s[k->len] = '\0';
    return true;
}

static bool key_equal(const struct key *a, const struct key *b)
{
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Levenshtein distance, two rows. */
static size_t edit_distance(const struct key *a, const struct key *b)
{
    size_t prev[KEY_MAX + 1], cur[KEY_MAX + 1];

    for (size_t j = 0; j <= b->len; j++)
        prev[j] = j;
    for (size_t i = 1; i <= a->len; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= b->len; j++) {
            size_t subst = prev[j - 1] + (a->s[i - 1] != b->s[j - 1]);
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, subst);
        }
        memcpy(prev, cur, (b->len + 1) * sizeof prev[0]);
    }
    return prev[b->len];
}

static size_t common_prefix(const struct key *a, const struct key *b)
{
    size_t n = 0;
    while (n < a->len && n < b->len && a->s[n] == b->s[n])
        n++;
    return n;
}

enum tier {
    TIER_SAME,   /* the input is the name, display name or geo code, spelled differently */
    TIER_PREFIX, /* the input starts the name: "northeurop", "westus" */
    TIER_CLOSE,  /* within the edit-distance limit */
};

struct candidate {
    const char *name;
    enum tier tier;
    size_t distance;
    size_t prefix;
};

/* Largest edit distance still worth suggesting: a third of the longer string, at least 2. */
static size_t distance_limit(size_t len_a, size_t len_b)
{
    size_t longer = len_a > len_b ? len_a : len_b;
    return longer / 3 > 2 ? longer / 3 : 2;
}

static bool same_region(const struct key *in, const struct region *r, const struct key *name)
{
    struct key other;

    if (key_equal(in, name))
        return true;
    if (make_key(r->display, &other) && other.len > 0 && key_equal(in, &other))
        return true;
    return make_key(r->geo_code, &other) && other.len > 0 && key_equal(in, &other);
}

/* Rate one region against the input key; false when it is not worth suggesting. */
static bool rate(const struct key *in, const struct region *r, struct candidate *c)
{
    struct key name;

    if (!make_key(r->name, &name))
        return false;
    c->name = r->name;
    c->distance = edit_distance(in, &name);
    c->prefix = common_prefix(in, &name);
    if (same_region(in, r, &name))
        c->tier = TIER_SAME;
    else if (c->prefix == in->len)
        c->tier = TIER_PREFIX;
    else if (c->distance <= distance_limit(in->len, name.len))
        c->tier = TIER_CLOSE;
    else
        return false;
    return true;
}

static int compare_candidates(const void *pa, const void *pb)
{
    const struct candidate *a = pa, *b = pb;

    if (a->tier != b->tier)
        return a->tier < b->tier ? -1 : 1;
    if (a->distance != b->distance)
        return a->distance < b->distance ? -1 : 1;
    if (a->prefix != b->prefix)
        return a->prefix > b->prefix ? -1 : 1;
    return strcmp(a->name, b->name);
}

size_t catalog_suggest(const char *name, const char **out, size_t max)
{
    struct key in;
    struct candidate *cands;
    size_t n = 0;

    if (name == NULL || out == NULL || max == 0 || !make_key(name, &in) || in.len == 0)
        return 0;
    cands = malloc(catalog_region_count * sizeof *cands);
    if (cands == NULL)
        return 0;
    for (size_t i = 0; i < catalog_region_count; i++)
        if (rate(&in, &catalog_regions[i], &cands[n]))
            n++;
    qsort(cands, n, sizeof *cands, compare_candidates);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = cands[i].name;
    free(cands);
    return n;
}

/* ---- the region table ---- */

#define LIST_WIDTH 100
#define DISPLAY_MIN 8

/* Column widths, measured from the data. The display name takes what is left of LIST_WIDTH
 * and is the only column that may be cut: it is the tag suffix with spaces, so nothing is lost. */
struct layout {
    size_t cloud, name, display, geo, storage, backup;
};

static const char *const list_header[] = {
    "CLOUD", "NAME", "DISPLAY", "GEO", "STORAGE TAG", "AZUREBACKUP TAG",
};

/* Short cloud labels keep the table inside LIST_WIDTH; other clouds print in full. */
static const char *cloud_label(const char *cloud)
{
    static const char *const labels[][2] = {
        {"AzureCloud", "Public"},
        {"AzureUSGovernment", "USGov"},
        {"AzureChinaCloud", "China"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (strcmp(cloud, labels[i][0]) == 0)
            return labels[i][1];
    return cloud;
}

static const char *or_dash(const char *s)
{
    return s[0] != '\0' ? s : "-";
}

/* Terminal columns of UTF-8 text: one per code point. */
static size_t text_cols(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* Print s in exactly width columns (cut with '~' if longer) followed by one space; width 0
 * means the last column: s in full, no padding. */
static void put_cell(FILE *out, const char *s, size_t width)
{
    size_t cols = text_cols(s);

    if (width == 0) {
        fputs(s, out);
        fputc('\n', out);
        return;
    }
    if (cols > width) {
        size_t keep = width - 1, seen = 0;
        for (; *s != '\0'; s++) {
            bool starts = ((unsigned char)*s & 0xC0) != 0x80;
            if (starts && seen++ == keep)
                break;
            fputc(*s, out);
        }
        fputc('~', out);
        cols = width;
    } else {
        fputs(s, out);
    }
    for (; cols < width; cols++)
        fputc(' ', out);
    fputc(' ', out);
}

static void measure(struct layout *w)
{
    w->cloud = text_cols(list_header[0]);
    w->name = text_cols(list_header[1]);
    w->display = text_cols(list_header[2]);
    w->geo = text_cols(list_header[3]);
    w->storage = text_cols(list_header[4]);
    w->backup = text_cols(list_header[5]);
    for (size_t i = 0; i < catalog_region_count; i++) {
        const struct region *r = &catalog_regions[i];
        w->cloud = max_size(w->cloud, text_cols(cloud_label(r->cloud)));
        w->name = max_size(w->name, text_cols(r->name));
        w->display = max_size(w->display, text_cols(r->display));
        w->geo = max_size(w->geo, text_cols(r->geo_code));
        w->storage = max_size(w->storage, text_cols(r->tag_storage));
        w->backup = max_size(w->backup, text_cols(r->tag_backup));
    }
}

/* Give the display name whatever the other columns (and their separators) leave. */
static void fit(struct layout *w)
{
    size_t fixed = w->cloud + w->name + w->geo + w->storage + w->backup + 5;
    size_t room = fixed < LIST_WIDTH ? LIST_WIDTH - fixed : 0;

    if (room < DISPLAY_MIN)
        room = DISPLAY_MIN;
    if (w->display > room)
        w->display = room;
}

static void put_row(FILE *out, const struct layout *w, const char *const cells[6])
{
    put_cell(out, cells[0], w->cloud);
    put_cell(out, cells[1], w->name);
    put_cell(out, cells[2], w->display);
    put_cell(out, cells[3], w->geo);
    put_cell(out, cells[4], w->storage);
    put_cell(out, cells[5], 0);
}

void catalog_list(FILE *out)
{
    struct layout w;

    measure(&w);
    fit(&w);
    put_row(out, &w, list_header);
    for (size_t i = 0; i < catalog_region_count; i++) {
        const struct region *r = &catalog_regions[i];
        const char *const cells[6] = {
            cloud_label(r->cloud), r->name,          or_dash(r->display),
            or_dash(r->geo_code),  or_dash(r->tag_storage), or_dash(r->tag_backup),
        };
        put_row(out, &w, cells);
    }
    /* The clouds' endpoint suffixes, three lines each to stay within 100 columns. */
    fputs("\nCLOUD  NAME (IMDS azEnvironment) AND ENDPOINT SUFFIXES\n", out);
    for (size_t i = 0; i < catalog_cloud_count(); i++) {
        const struct cloud *c = catalog_cloud_at(i);
        fprintf(out, "%-6s %s (%s)\n", cloud_label(c->name), c->name, c->imds_env);
        fprintf(out, "       storage %s, backup %s\n", c->storage_suffix, c->backup_suffix);
        fprintf(out, "       login %s, management %s\n", c->login, c->management);
    }
}
