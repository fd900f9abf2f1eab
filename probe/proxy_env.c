/* The proxy variables of one environment, from the three texts that define one: a process's
 * NUL-separated environ, an /etc/environment-style file (also systemd's EnvironmentFile=), and a
 * systemd unit's [Service] Environment= lines. Inputs are untrusted bytes with an explicit length:
 * nothing is copied beyond fixed bounds, and a value that does not fit is cut and reported. */
#include "probe/proxy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define UNIT_LINE_MAX 8192 /* a longer logical unit line is reported, not read */
#define QUOTE_MAX 400      /* a longer line is described, not quoted */


/* A line for a problem text: redacted while whole, then cut, so a cut never exposes a password. */
static void quote(const char *p, size_t n, char *out, size_t size)
{
    if (n > QUOTE_MAX) {
        snprintf(out, size, "(a %zu-byte line)", n);
        return;
    }
    char tmp[QUOTE_MAX + 1];
    for (size_t i = 0; i < n; i++)
        tmp[i] = ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) ? '?' : p[i];
    tmp[n] = '\0';
    proxy_redact(tmp, out, size);
}

/* Which source a problem belongs to: the slot e occupies in the config, else the default. */
static enum proxy_source source_of(const struct proxy_env *e, const struct proxy_config *c,
                                   enum proxy_source dflt)
{
    for (int s = 0; c && s < PSRC_COUNT; s++)
        if (e == &c->env[s])
            return (enum proxy_source)s;
    return dflt;
}

static int var_of(const char *name, size_t n)
{
    for (int v = 0; v < PV_COUNT; v++) {
        const char *s = proxy_var_name((enum proxy_var)v);
        if (strlen(s) == n && memcmp(s, name, n) == 0)
            return v;
    }
    return -1;
}

/* False when the value had to be cut. A no_proxy list is cut at an entry boundary so the entries
 * kept are whole; a NUL ends the value, as it does for every C program reading it. */
static bool store(struct proxy_env *e, int v, const char *val, size_t n, int line)
{
    const char *nul = memchr(val, '\0', n);
    if (nul)
        n = (size_t)(nul - val);
    bool whole = n < PROXY_VALUE_MAX;
    if (!whole) {
        n = PROXY_VALUE_MAX - 1;
        const char *comma = (v == PV_NO_LOWER || v == PV_NO_UPPER) ? memrchr(val, ',', n) : NULL;
        if (comma)
            n = (size_t)(comma - val);
    }
    memcpy(e->value[v], val, n);
    e->value[v][n] = '\0';
    e->line[v] = line;
    return whole;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* ---- environ ------------------------------------------------------------------------------ */

void proxy_env_from_environ(const char *buf, size_t len, struct proxy_env *e)
{
    if (!buf)
        return;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        const char *entry_end = z ? z : end;
        const char *eq = memchr(p, '=', (size_t)(entry_end - p));
        int v = eq ? var_of(p, (size_t)(eq - p)) : -1;
        if (v >= 0 && !e->value[v][0]) /* the first occurrence wins, as for getenv */
            store(e, v, eq + 1, (size_t)(entry_end - eq - 1), 0);
        p = entry_end + 1;
    }
}

/* ---- /etc/environment and EnvironmentFile= ----------------------------------------------- */

struct file_ctx {
    struct proxy_env *e;
    struct proxy_config *c;
    enum proxy_source src;
    int no;
    const char *line;
    size_t line_len;
};

static void file_problem(const struct file_ctx *f, const char *what)
{
    char q[128];
    quote(f->line, f->line_len, q, sizeof q);
    proxy_add_problem(f->c, f->src, f->e->where, f->no, "%s: \"%s\"", what, q);
}

/* A quoted value: the text up to the matching quote; only blanks or a comment may follow. */
static bool quoted_value(const struct file_ctx *f, const char *p, const char *end, const char **v,
                         size_t *n)
{
    const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
    if (!close) {
        file_problem(f, "unterminated quote, line ignored");
        return false;
    }
    *v = p + 1;
    *n = (size_t)(close - p - 1);
    const char *after = close + 1;
    while (after < end && blank(*after))
        after++;
    if (after < end && *after != '#')
        file_problem(f, "text after the closing quote is ignored");
    if (f->src == PSRC_ETC_ENVIRONMENT && memchr(*v, '#', *n))
        file_problem(f, "pam_env cuts lines at '#', so login sessions see only the text before it");
    return true;
}

/* pam_env ends an unquoted value at '#' (systemd's EnvironmentFile= does not); trailing blanks
 * are not part of it. */
static void plain_value(const char *p, const char *end, bool pam, const char **v, size_t *n)
{
    const char *hash = pam && p < end ? memchr(p, '#', (size_t)(end - p)) : NULL;
    const char *e = hash ? hash : end;
    while (e > p && blank(e[-1]))
        e--;
    *v = p;
    *n = (size_t)(e - p);
}

static void file_line(struct file_ctx *f)
{
    const char *p = f->line, *end = f->line + f->line_len;
    while (p < end && blank(*p))
        p++;
    if (p == end || *p == '#' || *p == ';')
        return;
    if (end - p > 7 && memcmp(p, "export", 6) == 0 && blank(p[6]))
        for (p += 6; p < end && blank(*p);)
            p++;
    const char *key = p;
    while (p < end && name_char(*p))
        p++;
    if (p == key || (*key >= '0' && *key <= '9') || p == end || *p != '=') {
        const char *q = p;
        while (q < end && blank(*q))
            q++;
        bool spaced = p > key && q > p && q < end && *q == '=';
        file_problem(f, spaced ? "spaces around '=' (the line is ignored)" : "not a KEY=VALUE line");
        return;
    }
    const char *val = p + 1, *v;
    size_t n;
    if (val < end && (*val == '"' || *val == '\'')) {
        if (!quoted_value(f, val, end, &v, &n))
            return;
    } else {
        plain_value(val, end, f->src == PSRC_ETC_ENVIRONMENT, &v, &n);
    }
    int var = var_of(key, (size_t)(p - key));
    if (var >= 0 && !store(f->e, var, v, n, f->no))
        proxy_add_problem(f->c, f->src, f->e->where, f->no, "%s is longer than %d bytes: cut",
                    proxy_var_name((enum proxy_var)var), PROXY_VALUE_MAX - 1);
}

void proxy_env_from_file(const char *text, size_t len, struct proxy_env *e, struct proxy_config *problems_to)
{
    struct file_ctx f = {e, problems_to, source_of(e, problems_to, PSRC_ETC_ENVIRONMENT), 0, NULL, 0};
    if (!text)
        return;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        f.no++;
        f.line = p;
        f.line_len = (size_t)(le > p && le[-1] == '\r' ? le - 1 - p : le - p);
        file_line(&f);
        p = le + 1;
    }
}

/* ---- systemd units -------------------------------------------------------------------------- */

struct unit_ctx {
    struct proxy_env *e;
    struct proxy_config *c;
    enum proxy_source src;
    int no;
    char (*files)[512];
    size_t max_files, nfiles;
};

/* systemd ends a line at "\n", "\r\n", "\r" or NUL. Returns the start of the next line. */
static const char *unit_physical_line(const char *p, const char *end, const char **le)
{
    const char *q = p;
    while (q < end && *q != '\n' && *q != '\r' && *q != '\0')
        q++;
    *le = q;
    if (q < end && *q == '\r' && q + 1 < end && q[1] == '\n')
        return q + 2;
    return q < end ? q + 1 : end;
}

static void trim(const char **p, const char **end)
{
    while (*p < *end && (blank(**p) || **p == '\n' || **p == '\r'))
        (*p)++;
    while (*end > *p && (blank((*end)[-1]) || (*end)[-1] == '\n' || (*end)[-1] == '\r'))
        (*end)--;
}

/* The specifiers systemd expands (systemd.unit(5)); any other "%x" makes it reject the setting. */
static bool known_specifier(char c)
{
    return c && strchr("aAbBCdEfgGhHiIjJlLmMnNopPqsStTuUvVwWyY", c) != NULL;
}

/* Expands "%%" to "%" into out. False (with a problem) when systemd would reject the setting. */
static bool specifiers(const struct unit_ctx *u, const char *key, const char *p, size_t n, char *out,
                       size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < size; i++) {
        if (p[i] == '%' && i + 1 < n && p[i + 1] == '%') {
            out[o++] = '%';
            i++;
        } else if (p[i] == '%' && !(i + 1 < n && known_specifier(p[i + 1]))) {
            proxy_add_problem(u->c, u->src, u->e->where, u->no, "%%%c is not a systemd specifier: systemd ignores "
                        "this %s= line (write %%%% for a literal %%, as in a percent-encoded password)",
                        i + 1 < n && p[i + 1] >= 0x21 && p[i + 1] < 0x7f ? p[i + 1] : '?', key);
            return false;
        } else {
            out[o++] = p[i];
        }
    }
    out[o] = '\0';
    return true;
}

static char unescape(char c)
{
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    default: return c;
    }
}

/* One word of an Environment= value, shell-like: quotes anywhere, backslash escapes. Returns the
 * rest of the text, or NULL when a quote is unbalanced (systemd then ignores the rest). */
static const char *next_word(const char *p, char *w, size_t size, size_t *wn)
{
    char quote_ch = 0;
    size_t o = 0;
    for (; *p && (quote_ch || !blank(*p)); p++) {
        char c = *p;
        if (c == '\\' && p[1]) {
            c = unescape(*++p);
        } else if (quote_ch && c == quote_ch) {
            quote_ch = 0;
            continue;
        } else if (!quote_ch && (c == '"' || c == '\'')) {
            quote_ch = c;
            continue;
        }
        if (o + 1 < size)
            w[o++] = c;
    }
    w[o] = '\0';
    *wn = o;
    return quote_ch ? NULL : p;
}

static void assignment(struct unit_ctx *u, const char *w, size_t n)
{
    const char *eq = memchr(w, '=', n);
    bool valid = eq && eq > w && !(*w >= '0' && *w <= '9');
    for (const char *k = w; valid && k < eq; k++)
        valid = name_char(*k);
    if (!valid) {
        char q[128];
        quote(w, n, q, sizeof q);
        proxy_add_problem(u->c, u->src, u->e->where, u->no, "systemd ignores \"%s\": not a NAME=VALUE assignment", q);
        return;
    }
    int v = var_of(w, (size_t)(eq - w));
    if (v >= 0 && !store(u->e, v, eq + 1, (size_t)(w + n - eq - 1), u->no))
        proxy_add_problem(u->c, u->src, u->e->where, u->no, "%s is longer than %d bytes: cut",
                    proxy_var_name((enum proxy_var)v), PROXY_VALUE_MAX - 1);
}

static void environment(struct unit_ctx *u, const char *val, size_t n)
{
    if (n == 0) { /* an empty assignment resets the list, as systemd does */
        for (int v = 0; v < PV_COUNT; v++) {
            u->e->value[v][0] = '\0';
            u->e->line[v] = 0;
        }
        return;
    }
    char text[UNIT_LINE_MAX], word[UNIT_LINE_MAX];
    if (!specifiers(u, "Environment", val, n, text, sizeof text))
        return;
    const char *p = text;
    for (;;) {
        while (blank(*p))
            p++;
        if (!*p)
            return;
        size_t wn;
        const char *next = next_word(p, word, sizeof word, &wn);
        if (!next) {
            proxy_add_problem(u->c, u->src, u->e->where, u->no,
                        "unbalanced quote: systemd ignores the rest of this Environment= line");
            return;
        }
        assignment(u, word, wn);
        p = next;
    }
}

static void environment_file(struct unit_ctx *u, const char *val, size_t n)
{
    if (n == 0) { /* reset: an empty entry tells the caller to forget files from earlier units */
        u->nfiles = 0;
        if (u->max_files > 0)
            u->files[u->nfiles++][0] = '\0';
        return;
    }
    char path[512];
    if (n >= sizeof path) {
        proxy_add_problem(u->c, u->src, u->e->where, u->no, "EnvironmentFile= path too long: not read");
        return;
    }
    if (!specifiers(u, "EnvironmentFile", val, n, path, sizeof path))
        return;
    if (path[path[0] == '-'] != '/') {
        proxy_add_problem(u->c, u->src, u->e->where, u->no, "EnvironmentFile= path is not absolute: systemd ignores it");
        return;
    }
    if (u->nfiles >= u->max_files) {
        proxy_add_problem(u->c, u->src, u->e->where, u->no, "too many EnvironmentFile= settings: this one is not read");
        return;
    }
    snprintf(u->files[u->nfiles++], 512, "%s", path);
}

/* One logical line: a section header or a Key=Value in [Service]. */
static void unit_line(struct unit_ctx *u, const char *p, const char *end, bool *in_service)
{
    trim(&p, &end);
    if (p == end || *p == '#' || *p == ';')
        return;
    if (*p == '[') {
        *in_service = end - p == 9 && memcmp(p, "[Service]", 9) == 0;
        return;
    }
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq || !*in_service)
        return;
    const char *k = p, *ke = eq, *v = eq + 1, *ve = end;
    trim(&k, &ke);
    trim(&v, &ve);
    size_t kn = (size_t)(ke - k);
    if (kn == 11 && memcmp(k, "Environment", 11) == 0)
        environment(u, v, (size_t)(ve - v));
    else if (kn == 15 && memcmp(k, "EnvironmentFile", 15) == 0)
        environment_file(u, v, (size_t)(ve - v));
}

static bool comment_line(const char *p, const char *end)
{
    while (p < end && blank(*p))
        p++;
    return p < end && (*p == '#' || *p == ';');
}

/* A logical line being built from physical ones that end in a backslash. */
struct logical {
    char text[UNIT_LINE_MAX];
    size_t len;
    bool overflow;
};

/* Appends one physical line; true when it continues on the next. systemd replaces the backslash
 * with a space. */
static bool append_physical(struct logical *l, const char *p, const char *le)
{
    bool continues = le > p && le[-1] == '\\';
    size_t n = (size_t)(le - p) - (continues ? 1 : 0);
    if (l->len + n + 1 >= sizeof l->text) {
        l->overflow = true;
        return continues;
    }
    memcpy(l->text + l->len, p, n);
    l->len += n;
    if (continues)
        l->text[l->len++] = ' ';
    return continues;
}

size_t proxy_env_from_unit(const char *text, size_t len, struct proxy_env *e, char files[][512],
                           size_t max_files, struct proxy_config *problems_to)
{
    struct unit_ctx u = {e, problems_to, source_of(e, problems_to, PSRC_AGENT_UNIT), 0, files, max_files, 0};
    struct logical l;
    bool in_service = false, continuing = false;
    const char *p = text, *end = text ? text + len : NULL;
    for (int no = 1; p && p < end; no++) {
        const char *le, *next = unit_physical_line(p, end, &le);
        if (!continuing) {
            u.no = no; /* a logical line is named by its first physical line */
            l.len = 0;
            l.overflow = false;
        } else if (comment_line(p, le)) { /* comments inside a continuation are skipped */
            p = next;
            continue;
        }
        continuing = append_physical(&l, p, le) && next < end;
        p = next;
        if (continuing)
            continue;
        if (l.overflow)
            proxy_add_problem(u.c, u.src, e->where, u.no, "line longer than %d bytes: not read by azbprobe", UNIT_LINE_MAX);
        else
            unit_line(&u, l.text, l.text + l.len, &in_service);
    }
    return u.nfiles;
}
