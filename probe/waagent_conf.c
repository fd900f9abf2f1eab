/* waagent.conf with the guest agent's own rules (see waagent_conf.h), mirrored quirk for quirk:
 * the agent is the reader that decides, so a value means what it means to the agent. */
#include "probe/waagent_conf.h"
#include "probe/sysfile.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *const waagent_conf_paths[] = {"/etc/waagent.conf", "/usr/share/oem/waagent.conf",
                                          "/usr/share/defaults/waagent/waagent.conf", "/usr/local/etc/waagent.conf"};
const size_t waagent_conf_npaths = sizeof waagent_conf_paths / sizeof waagent_conf_paths[0];

/* Python's str.strip() whitespace, the ASCII part (it includes the file/group/record separators). */
static bool py_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static void py_strip(char **p, char **end)
{
    while (*p < *end && py_space(**p))
        (*p)++;
    while (*end > *p && py_space((*end)[-1]))
        (*end)--;
}

/* str.strip('" '): only those two characters. */
static void strip_quote_space(char **p, char **end)
{
    while (*p < *end && (**p == '"' || **p == ' '))
        (*p)++;
    while (*end > *p && ((*end)[-1] == '"' || (*end)[-1] == ' '))
        (*end)--;
}

bool waagent_entry_is(const struct waagent_entry *e, const char *key)
{
    return e->key_len == strlen(e->key) && strcmp(e->key, key) == 0;
}

static int previous_line(const struct waagent_conf *c, const char *key, size_t key_len)
{
    if (key_len != strlen(key)) /* a key with a NUL byte is its own, unnamed key */
        return 0;
    for (size_t i = c->count; i-- > 0;)
        if (waagent_entry_is(&c->entries[i], key))
            return c->entries[i].line;
    return 0;
}

static bool add_entry(struct waagent_conf *c, char *k, char *ke, char *v, char *ve, int no, size_t *cap)
{
    if (c->count == WAAGENT_CONF_MAX_ENTRIES) {
        c->dropped++;
        return true;
    }
    if (c->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct waagent_entry *n = realloc(c->entries, ncap * sizeof *n);
        if (!n)
            return false;
        c->entries = n;
        *cap = ncap;
    }
    /* Both ends are inside the line, before its '\n' (or the copy's final NUL): safe to terminate. */
    struct waagent_entry *e = &c->entries[c->count];
    e->key_len = (size_t)(ke - k);
    e->value_len = (size_t)(ve - v);
    e->none = e->value_len == 4 && memcmp(v, "None", 4) == 0;
    *ke = '\0';
    *ve = '\0';
    e->key = k;
    e->value = e->none ? ve : v;
    e->line = no;
    e->prev_line = previous_line(c, k, e->key_len);
    c->count++;
    return true;
}

/* One line [p, end): the agent's load() for it. */
static bool parse_line(struct waagent_conf *c, char *p, char *end, int no, size_t *cap)
{
    if (p == end || *p == '#')
        return true;
    char *eq = memchr(p, '=', (size_t)(end - p));
    if (!eq)
        return true;
    char *k = p, *ke = eq;
    py_strip(&k, &ke);
    char *v = eq + 1, *ve = end;
    char *hash = memchr(v, '#', (size_t)(ve - v));
    if (hash)
        ve = hash;
    strip_quote_space(&v, &ve); /* then strip(): '"x"\r' keeps its closing quote, as in the agent */
    py_strip(&v, &ve);
    return add_entry(c, k, ke, v, ve, no, cap);
}

bool waagent_conf_parse(const char *text, size_t len, struct waagent_conf *out)
{
    out->entries = NULL;
    out->count = out->dropped = 0;
    out->lines = 0;
    out->empty = !text || len == 0;
    out->text = malloc(len + 1);
    if (!out->text)
        return false;
    if (len)
        memcpy(out->text, text, len);
    out->text[len] = '\0';
    size_t cap = 0;
    char *p = out->text, *end = out->text + len;
    int no = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        if (no < 0x7fffffff)
            no++;
        if (!parse_line(out, p, le, no, &cap)) {
            free(out->entries);
            out->entries = NULL;
            out->count = 0;
            return false;
        }
        p = le + 1;
    }
    out->lines = no;
    return true;
}

void waagent_conf_free(struct waagent_conf *c)
{
    free(c->text);
    free(c->entries);
    memset(c, 0, sizeof *c);
}

bool waagent_conf_find(const char *root, char *path_out, size_t size)
{
    for (size_t i = 0; i < waagent_conf_npaths; i++) {
        char full[4096 + 256];
        struct stat st;
        sysfile_path(root, waagent_conf_paths[i], full, sizeof full);
        if (stat(full, &st) != 0 && (errno == ENOENT || errno == ENOTDIR))
            continue;
        snprintf(path_out, size, "%s", waagent_conf_paths[i]);
        return true;
    }
    if (size)
        path_out[0] = '\0';
    return false;
}

bool waagent_conf_load(const char *root, struct waagent_conf *out)
{
    memset(out, 0, sizeof *out);
    if (!waagent_conf_find(root, out->path, sizeof out->path))
        return false;
    out->present = true;
    size_t len = 0;
    char *text = sysfile_read(root, out->path, WAAGENT_CONF_TEXT_MAX, &len);
    if (!text) {
        out->read_errno = errno ? errno : EIO;
        return false;
    }
    out->cut = len >= WAAGENT_CONF_TEXT_MAX;
    bool ok = waagent_conf_parse(text, len, out);
    free(text);
    if (!ok)
        out->read_errno = ENOMEM;
    return ok;
}

const struct waagent_entry *waagent_conf_entry(const struct waagent_conf *c, const char *key)
{
    for (size_t i = c->count; i-- > 0;)
        if (waagent_entry_is(&c->entries[i], key))
            return &c->entries[i];
    return NULL;
}

const char *waagent_conf_str(const struct waagent_conf *c, const char *key, const char *def)
{
    const struct waagent_entry *e = waagent_conf_entry(c, key);
    return e && !e->none ? e->value : def;
}

bool waagent_conf_bool(const struct waagent_conf *c, const char *key, bool def)
{
    const char *v = waagent_conf_str(c, key, NULL);
    if (v && strcasecmp(v, "y") == 0)
        return true;
    if (v && strcasecmp(v, "n") == 0)
        return false;
    return def;
}

bool waagent_python_int(const char *s, long *out)
{
    while (py_space(*s))
        s++;
    bool neg = *s == '-';
    if (*s == '+' || *s == '-')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    long v = 0;
    char last = 0;
    for (; *s && !py_space(*s); last = *s++) {
        if (*s == '_' && last != '_')
            continue;
        if (*s < '0' || *s > '9')
            return false;
        if (v < 1000000000L)
            v = v * 10 + (*s - '0');
    }
    if (last == '_')
        return false;
    while (py_space(*s))
        s++;
    if (*s)
        return false;
    *out = neg ? -v : v;
    return true;
}

long waagent_conf_int(const struct waagent_conf *c, const char *key, long def)
{
    const char *v = waagent_conf_str(c, key, NULL);
    long n;
    return v && waagent_python_int(v, &n) ? n : def;
}
