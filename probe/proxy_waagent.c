/* waagent.conf's HttpProxy.Host and HttpProxy.Port, read twice: as the guest agent reads them
 * (azurelinuxagent/common/conf.py) and as the backup extension's embedded old-agent parser reads
 * them (VMBackup main/WaagentLib.py). The two disagree on real files, so each is mirrored quirk
 * for quirk, including the ones that look like bugs. */
#include "probe/proxy.h"
#include "probe/waagent_conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define QUOTE_MAX 400


/* A line for a message: redacted while whole, then cut. */
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

/* Python's str.split() whitespace (the ASCII part). */
static bool py_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* str.strip('" '): only those two characters. */
static void strip_quote_space(const char **p, const char **end)
{
    while (*p < *end && (**p == '"' || **p == ' '))
        (*p)++;
    while (*end > *p && ((*end)[-1] == '"' || (*end)[-1] == ' '))
        (*end)--;
}

static bool equals(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(end - p) == n && memcmp(p, s, n) == 0;
}

/* Copies [p, end) into out; false when it had to be cut. A NUL ends it, as for any C reader. */
static bool copy(const char *p, const char *end, char *out, size_t size)
{
    size_t n = (size_t)(end - p);
    const char *nul = memchr(p, '\0', n);
    if (nul)
        n = (size_t)(nul - p);
    bool whole = n < size;
    if (!whole)
        n = size - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return whole;
}

/* ---- the guest agent: its own parser (waagent_conf.c), then the two keys judged ------------- */

struct agent_key {
    const char *name;
    char *value;
    size_t size;
    int *line;
};

static void agent_assign(const struct agent_key *k, const struct waagent_entry *e, struct waagent_proxy *w,
                         struct proxy_config *c)
{
    if (e->prev_line) /* an earlier "None" counts too: it was an assignment */
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, e->line, "%s is set on lines %d and %d: the guest agent "
                    "uses line %d", k->name, e->prev_line, e->line, e->line);
    if (e->none) { /* the agent's spelling of unset */
        k->value[0] = '\0';
        *k->line = 0;
        return;
    }
    if (!copy(e->value, e->value + e->value_len, k->value, k->size))
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, e->line, "%s is longer than %zu bytes: cut", k->name,
                    k->size - 1);
    *k->line = e->line;
}

static void agent_port(struct waagent_proxy *w, struct proxy_config *c)
{
    long v;
    if (!w->port_raw[0])
        return;
    if (!waagent_python_int(w->port_raw, &v))
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, w->port_line, "HttpProxy.Port=%s is not an integer: the "
                    "guest agent ignores it and goes direct", w->port_raw);
    else if (v < 1 || v > 65535)
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, w->port_line, "HttpProxy.Port=%s is not a TCP port "
                    "(1-65535): the guest agent cannot connect through it", w->port_raw);
    else
        w->port = (int)v;
}

static void agent_host(const struct waagent_proxy *w, struct proxy_config *c)
{
    const char *h = w->host;
    if (!h[0])
        return;
    const char *colon = strchr(h, ':');
    if (strstr(h, "://"))
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, w->host_line, "HttpProxy.Host=%s is a URL: the guest agent "
                    "and the backup extension expect a bare host name or address", h);
    else if (strpbrk(h, "\"' \t\r@/"))
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, w->host_line, "HttpProxy.Host=%s is not a host name (a "
                    "quote before a CRLF line end stays in the value): the agent cannot connect", h);
    else if (colon && !strchr(colon + 1, ':'))
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, w->host_line, "HttpProxy.Host=%s includes a port: it is "
                    "taken as part of the name; set HttpProxy.Port", h);
}

static void agent_pass(const char *text, size_t len, struct waagent_proxy *w, struct proxy_config *c)
{
    const struct agent_key keys[2] = {{"HttpProxy.Host", w->host, sizeof w->host, &w->host_line},
                                      {"HttpProxy.Port", w->port_raw, sizeof w->port_raw, &w->port_line}};
    struct waagent_conf conf;
    memset(&conf, 0, sizeof conf);
    if (!waagent_conf_parse(text, len, &conf)) {
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, 0, "out of memory while reading the file");
        return;
    }
    for (size_t i = 0; i < conf.count; i++)
        for (size_t k = 0; k < 2; k++)
            if (waagent_entry_is(&conf.entries[i], keys[k].name))
                agent_assign(&keys[k], &conf.entries[i], w, c);
    if (conf.dropped)
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, 0, "more than %d assignments: the last %zu were not read",
                    WAAGENT_CONF_MAX_ENTRIES, conf.dropped);
    waagent_conf_free(&conf);
    agent_port(w, c);
    agent_host(w, c);
}

/* ---- the backup extension: parts = line.split()[0].split('='); value = parts[1] ---------- */

/* The extension's parser raised on this line: it then reads no HttpProxy.* at all. */
static void vmb_fail(const char *p, const char *end, const char *tok_end, int no, struct waagent_proxy *w,
                     struct proxy_config *c)
{
    const char *q = tok_end;
    while (q < end && py_space(*q))
        q++;
    bool spaced = q < end && *q == '=';
    char line[80], msg[512];
    quote(p, (size_t)(end - p), line, sizeof line);
    snprintf(msg, sizeof msg, "line %d \"%s\": %s breaks the backup extension's parser "
             "(line.split()[0].split('=')): it ignores HttpProxy.* and goes direct", no, line,
             spaced ? "spaces around '='" : "a first word without '='");
    proxy_redact(msg, w->vmb_error, sizeof w->vmb_error);
    w->vmb_ok = false;
    w->vmb_host[0] = '\0';
    w->vmb_port_set = false;
    proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, no, "%s breaks the backup extension's waagent.conf parser "
                "(VMBackup: line.split()[0].split('=')): it ignores HttpProxy.* and goes direct",
                spaced ? "spaces around '='" : "a line whose first word has no '='");
}

/* False when the extension's parser would raise on this line. */
static bool vmb_line(const char *p, const char *end, int no, struct waagent_proxy *w, struct proxy_config *c)
{
    if ((p < end && *p == '#') || !memchr(p, '=', (size_t)(end - p)))
        return true;
    const char *tok = p;
    while (tok < end && py_space(*tok))
        tok++;
    const char *tok_end = tok;
    while (tok_end < end && !py_space(*tok_end))
        tok_end++;
    const char *eq = memchr(tok, '=', (size_t)(tok_end - tok));
    if (!eq) {
        vmb_fail(p, end, tok_end, no, w, c);
        return false;
    }
    const char *v = eq + 1, *ve = memchr(v, '=', (size_t)(tok_end - v));
    if (!ve)
        ve = tok_end;
    strip_quote_space(&v, &ve);
    bool none = equals(v, ve, "None");
    if (equals(tok, eq, "HttpProxy.Host") && !copy(none ? ve : v, ve, w->vmb_host, sizeof w->vmb_host))
        proxy_add_problem(c, PSRC_WAAGENT_CONF, w->path, no, "HttpProxy.Host is too long: cut");
    if (equals(tok, eq, "HttpProxy.Port"))
        w->vmb_port_set = !none; /* an empty value is set too: only "None" is None */
    return true;
}

static void vmb_pass(const char *text, size_t len, struct waagent_proxy *w, struct proxy_config *c)
{
    w->vmb_ok = true;
    const char *p = text, *end = text + len;
    for (int no = 1; p < end; no++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (!vmb_line(p, le, no, w, c))
            return;
        p = le + 1;
    }
}

void waagent_proxy_parse(const char *text, size_t len, struct waagent_proxy *w, struct proxy_config *problems_to)
{
    char path[sizeof w->path];
    snprintf(path, sizeof path, "%s", w->path);
    memset(w, 0, sizeof *w);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->present = true;
    if (!text)
        len = 0;
    agent_pass(text ? text : "", len, w, problems_to);
    vmb_pass(text ? text : "", len, w, problems_to);
}
