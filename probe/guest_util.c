/* Small bounded helpers for the guest checks: files under the root, directory listings, lines,
 * printable excerpts, shell-style KEY=VALUE assignments, and secret redaction. Inputs are
 * untrusted bytes with explicit lengths. */
#include "probe/guest_internal.h"
#include "probe/sysfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct check *guest_new(struct check_list *out, const char *id, const char *target)
{
    size_t i = checks_add(out, id, target, 0);
    return i == (size_t)-1 ? NULL : &out->items[i];
}

void guest_set(struct check *c, enum outcome o, bool required)
{
    c->outcome = o;
    c->required = required && o != OUT_SKIPPED; /* as grade.c: a skipped check fails nothing */
    if (o == OUT_OK)
        c->status = STATUS_PASS;
    else if (o == OUT_SKIPPED)
        c->status = STATUS_SKIP;
    else
        c->status = c->required ? STATUS_FAIL : STATUS_WARN;
}

void guest_finish(struct check *c)
{
    const char *pre = c->status == STATUS_SKIP ? "not checked: "
                      : c->required            ? "required: "
                      : c->status == STATUS_WARN ? "warning only: "
                                                 : "informational: ";
    size_t pl = strlen(pre), wl = strnlen(c->why, sizeof c->why - 1);
    if (pl + wl >= sizeof c->why)
        wl = sizeof c->why - 1 - pl;
    memmove(c->why + pl, c->why, wl);
    memcpy(c->why, pre, pl);
    c->why[pl + wl] = '\0';
}

void guest_ev_add(struct check *c, const char *key, const char *fmt, ...)
{
    char item[GUEST_EV_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item, sizeof item, fmt, ap);
    va_end(ap);
    const char *old = check_ev_get(c, key);
    if (!old) {
        check_ev(c, key, "%s", item);
        return;
    }
    size_t used = strlen(old);
    if (used >= GUEST_EV_MAX - 4) /* full: the value already ends the list */
        return;
    check_ev(c, key, "%s; %.*s", old, (int)(GUEST_EV_MAX - 3 - used), item);
}

char *guest_read(const struct guest_ctx *g, const char *path, size_t max, size_t *len, int *err)
{
    errno = 0;
    char *text = sysfile_read(g->root, path, max, len);
    *err = text ? 0 : (errno ? errno : EIO);
    return text;
}

bool guest_is_dir(const char *root, const char *path)
{
    char full[4096 + 512];
    struct stat st;
    sysfile_path(root, path, full, sizeof full);
    return stat(full, &st) == 0 && S_ISDIR(st.st_mode);
}

bool guest_exists(const char *root, const char *path)
{
    char full[4096 + 512];
    struct stat st;
    sysfile_path(root, path, full, sizeof full);
    return stat(full, &st) == 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static bool name_fits(const char *n, const char *prefix, const char *suffix)
{
    size_t len = strlen(n), pl = strlen(prefix), sl = strlen(suffix);
    return n[0] != '.' && len < 256 && len >= pl + sl && strncmp(n, prefix, pl) == 0 &&
           strcmp(n + len - sl, suffix) == 0;
}

int guest_list_dir(const char *root, const char *dir, const char *prefix, const char *suffix,
                   char (*names)[256], size_t max, int *err)
{
    char full[4096 + 512];
    sysfile_path(root, dir, full, sizeof full);
    DIR *d = opendir(full);
    if (!d) {
        *err = errno;
        return -1;
    }
    *err = 0;
    size_t n = 0;
    for (struct dirent *de; n < max && (de = readdir(d)) != NULL;)
        if (name_fits(de->d_name, prefix, suffix))
            snprintf(names[n++], 256, "%s", de->d_name);
    closedir(d);
    qsort(names, n, 256, name_cmp);
    return (int)n;
}

void guest_lines_init(struct guest_lines *l, const char *text, size_t len)
{
    l->p = text ? text : "";
    l->end = l->p + (text ? len : 0);
    l->no = 0;
}

bool guest_lines_next(struct guest_lines *l, const char **ls, const char **le)
{
    if (l->p >= l->end)
        return false;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    const char *e = nl ? nl : l->end;
    *ls = l->p;
    *le = e > l->p && e[-1] == '\r' ? e - 1 : e;
    l->p = e + 1;
    if (l->no < 0x7fffffff)
        l->no++;
    return true;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

void guest_trim(const char **p, const char **e)
{
    while (*p < *e && blank(**p))
        (*p)++;
    while (*e > *p && blank((*e)[-1]))
        (*e)--;
}

bool guest_eq(const char *p, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - p) == n && memcmp(p, word, n) == 0;
}

bool guest_ieq(const char *p, const char *e, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(e - p) == n && strncasecmp(p, word, n) == 0 && !memchr(p, '\0', n);
}

void guest_printable(const char *p, const char *e, char *out, size_t size)
{
    if (size == 0)
        return;
    size_t n = (size_t)(e - p), room = size - 1;
    bool cut = n > room;
    if (cut)
        n = room >= 3 ? room - 3 : room;
    for (size_t i = 0; i < n; i++)
        out[i] = ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) ? '?' : p[i];
    out[n] = '\0';
    if (cut && room >= 3)
        memcpy(out + n, "...", 4);
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number 0-255 of 1-3 digits at *p; advances past it. */
static bool octet(const char **p, const char *e)
{
    int v = 0, nd = 0;
    while (*p < e && digit(**p) && nd < 4) {
        v = v * 10 + (**p - '0');
        (*p)++;
        nd++;
    }
    return nd >= 1 && nd <= 3 && v <= 255;
}

static bool ipv4_at(const char *p, const char *e)
{
    for (int i = 0; i < 4; i++) {
        if (!octet(&p, e))
            return false;
        if (i < 3 && (p >= e || *p++ != '.'))
            return false;
    }
    return p == e || !(digit(*p) || *p == '.' || *p == ':' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'));
}

bool guest_has_ipv4(const char *p, const char *e)
{
    for (const char *q = p; q < e; q++) {
        bool start = digit(*q) && (q == p || !(digit(q[-1]) || q[-1] == '.' || q[-1] == ':'));
        if (start && ipv4_at(q, e))
            return true;
    }
    return false;
}

static bool key_char(char c)
{
    return c == '_' || digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The value of a shell assignment at [p, e) into val, quotes removed. */
static void kv_value(const char *p, const char *e, char *val, size_t vsize)
{
    const char *ve;
    if (p < e && (*p == '"' || *p == '\'')) {
        const char *close = memchr(p + 1, *p, (size_t)(e - p - 1));
        ve = close ? close : e;
        p++;
    } else {
        ve = p;
        while (ve < e && !blank(*ve))
            ve++;
    }
    guest_printable(p, ve, val, vsize);
}

bool guest_kv_next(struct guest_lines *l, char *key, size_t ksize, char *val, size_t vsize, int *line)
{
    const char *p, *e;
    while (guest_lines_next(l, &p, &e)) {
        guest_trim(&p, &e);
        if (e - p > 7 && memcmp(p, "export", 6) == 0 && blank(p[6]))
            for (p += 6; p < e && blank(*p); p++)
                ;
        const char *k = p;
        while (p < e && key_char(*p))
            p++;
        if (p == k || p >= e || *p != '=' || digit(*k) || (size_t)(p - k) >= ksize)
            continue;
        memcpy(key, k, (size_t)(p - k));
        key[p - k] = '\0';
        kv_value(p + 1, e, val, vsize);
        *line = l->no;
        return true;
    }
    return false;
}

/* ---- redaction ----------------------------------------------------------------------------- */

static const char *const sas_params[] = {"sig", "se", "st", "sp", "sv", "sr", "spr", "skoid", "sktid", "skt",
                                         "ske", "sks", "skv", "ss", "srt", "sdd", "ses"};

static bool url_char(char c)
{
    return (unsigned char)c > 0x20 && c != 0x7f && c != '"' && c != '\'' && c != '<' && c != '>' && c != '`';
}

/* Length of a SAS parameter name followed by '=' at p (0 when none). */
static size_t sas_param_at(const char *p)
{
    for (size_t i = 0; i < sizeof sas_params / sizeof sas_params[0]; i++) {
        size_t n = strlen(sas_params[i]);
        if (strncasecmp(p, sas_params[i], n) == 0 && p[n] == '=')
            return n + 1;
    }
    return 0;
}

struct outbuf {
    char *p;
    size_t used, size;
};

static void put(struct outbuf *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o->used + 1 < o->size; i++) {
        char c = s[i];
        o->p[o->used++] = ((unsigned char)c < 0x20 || c == 0x7f) ? '?' : c;
    }
    o->p[o->used] = '\0';
}

void guest_redact(const char *in, char *out, size_t size)
{
    if (size == 0)
        return;
    struct outbuf o = {out, 0, size};
    out[0] = '\0';
    bool in_url = false;
    for (const char *p = in; *p;) {
        if (!in_url && strncmp(p, "://", 3) == 0)
            in_url = true;
        else if (in_url && !url_char(*p))
            in_url = false;
        if (in_url && *p == '?') { /* a URL's whole query string: SAS tokens live there */
            put(&o, "?<redacted>", 11);
            while (*p && url_char(*p))
                p++;
            in_url = false;
            continue;
        }
        bool boundary = p == in || !key_char(p[-1]);
        size_t n = boundary ? sas_param_at(p) : 0;
        if (n) { /* a bare "sv=...&sig=..." outside a URL */
            put(&o, p, n);
            put(&o, "***", 3);
            for (p += n; *p && url_char(*p) && *p != '&' && *p != ';' && *p != ','; p++)
                ;
            continue;
        }
        put(&o, p, 1);
        p++;
    }
}
