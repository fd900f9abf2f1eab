/* Which path each consumer takes to a host, decided from the discovered configuration alone (no
 * I/O), and the two no_proxy dialects. The rules mirror each consumer's code, not its
 * documentation: see /work/shared/docs/proxy-semantics.md sections 2-4. */
#include "probe/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CURL_DEFAULT_PROXY_PORT 1080
#define BACKUP_PROXY_PORT 443 /* the extension's HTTPSConnection(proxyHost, None) dials 443 */

const char *consumer_name(enum consumer c)
{
    static const char *const names[CONSUMER_COUNT] = {
        [CONSUMER_AGENT] = "guest agent",
        [CONSUMER_BACKUP] = "backup extension",
        [CONSUMER_CLIENT] = "generic client",
    };
    return (unsigned)c < CONSUMER_COUNT ? names[c] : "unknown consumer";
}

static void copy_entry(const char *p, size_t n, char *out, size_t size)
{
    if (!out || !size)
        return;
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) ? '?' : p[i];
    out[n] = '\0';
}

/* ---- the guest agent's no_proxy (restutil.py bypass_proxy) ------------------------------- */

/* is_valid_cidr + address_in_network: -1 not a valid CIDR, else whether host is inside. */
static int agent_cidr(const char *entry, struct in_addr host)
{
    const char *slash = strchr(entry, '/');
    if (!slash || strchr(slash + 1, '/'))
        return -1;
    const char *m = slash + 1;
    bool neg = *m == '-';
    if (*m == '+' || *m == '-')
        m++;
    long mask = 0;
    if (!*m)
        return -1;
    for (; *m; m++) {
        if (*m < '0' || *m > '9')
            return -1;
        if (mask < 1000)
            mask = mask * 10 + (*m - '0');
    }
    if (neg || mask < 1 || mask > 32)
        return -1;
    char addr[64];
    size_t n = (size_t)(slash - entry);
    struct in_addr net;
    if (n >= sizeof addr)
        return -1;
    memcpy(addr, entry, n);
    addr[n] = '\0';
    if (!inet_aton(addr, &net)) /* Python's socket.inet_aton is this very function */
        return -1;
    uint32_t bits = mask == 32 ? 0xffffffffu : ~(0xffffffffu >> mask);
    return (ntohl(host.s_addr) & bits) == (ntohl(net.s_addr) & bits);
}

static bool agent_entry_matches(const char *entry, size_t n, const char *host, size_t hl, bool v4,
                                struct in_addr a)
{
    if (!v4) /* host.lower().endswith(entry.lower()): no dot boundary, no wildcard */
        return n <= hl && strncasecmp(host + hl - n, entry, n) == 0;
    int in = agent_cidr(entry, a);
    return in >= 0 ? in == 1 : strcmp(host, entry) == 0;
}

/* The list with spaces removed, split on ',', empty entries dropped. An entry longer than the
 * buffer is skipped: it is longer than any host name, so it cannot match one. */
static bool agent_match(const char *list, const char *host, char *matched, size_t msize)
{
    if (!list || !host || !*host)
        return false;
    struct in_addr a;
    bool v4 = inet_aton(host, &a) != 0;
    size_t hl = strlen(host);
    for (const char *p = list; *p;) {
        char entry[512];
        size_t n = 0;
        bool too_long = false;
        for (; *p && *p != ','; p++) {
            if (*p == ' ')
                continue;
            if (n + 1 < sizeof entry)
                entry[n++] = *p;
            else
                too_long = true;
        }
        entry[n] = '\0';
        if (*p == ',')
            p++;
        if (n && !too_long && agent_entry_matches(entry, n, host, hl, v4, a)) {
            copy_entry(entry, n, matched, msize);
            return true;
        }
    }
    return false;
}

bool noproxy_match_agent(const char *list, const char *host)
{
    return agent_match(list, host, NULL, 0);
}

/* ---- curl's no_proxy (lib/noproxy.c Curl_check_noproxy) --------------------------------- */

enum name_type { NAME_HOST, NAME_V4, NAME_V6 };

static bool curl_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The prefix length after '/', read the way curl reads it (leading digits; a sign is honoured,
 * and a negative one becomes a huge unsigned value that the match then rejects). */
static unsigned prefix_bits(const char *s)
{
    bool neg = *s == '-';
    if (*s == '+' || *s == '-')
        s++;
    unsigned v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        if (v < 100000)
            v = v * 10 + (unsigned)(*s - '0');
    return neg ? 0u - v : v;
}

static bool cidr4(const char *ip, const char *net, unsigned bits)
{
    struct in_addr a, n;
    if (!bits)
        bits = 32;
    else if (bits > 32)
        return false;
    if (inet_pton(AF_INET, ip, &a) != 1 || inet_pton(AF_INET, net, &n) != 1)
        return false;
    uint32_t mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
    return (ntohl(a.s_addr) & mask) == (ntohl(n.s_addr) & mask);
}

static bool cidr6(const char *ip, const char *net, unsigned bits)
{
    struct in6_addr a, n;
    if (!bits)
        bits = 128;
    unsigned bytes = bits / 8, rest = bits & 7;
    if (bytes > 16 || (bytes == 16 && rest))
        return false;
    if (inet_pton(AF_INET6, ip, &a) != 1 || inet_pton(AF_INET6, net, &n) != 1)
        return false;
    if (memcmp(a.s6_addr, n.s6_addr, bytes) != 0)
        return false;
    return !rest || ((a.s6_addr[bytes] ^ n.s6_addr[bytes]) & (0xff << (8 - rest)) & 0xff) == 0;
}

static bool curl_ip_matches(const char *tok, size_t n, const char *name, enum name_type type)
{
    char check[128];
    if (n >= sizeof check)
        return false;
    memcpy(check, tok, n);
    check[n] = '\0';
    unsigned bits = 0;
    char *slash = strchr(check, '/');
    if (slash) {
        bits = prefix_bits(slash + 1);
        *slash = '\0';
    }
    return type == NAME_V6 ? cidr6(name, check, bits) : cidr4(name, check, bits);
}

/* example.com matches example.com and www.example.com, not notexample.com; dots at either end
 * of the entry are ignored. */
static bool curl_host_matches(const char *tok, size_t n, const char *name, size_t namelen)
{
    if (n && tok[n - 1] == '.')
        n--;
    if (n && *tok == '.') {
        tok++;
        n--;
    }
    if (n == namelen)
        return strncasecmp(tok, name, namelen) == 0;
    return n < namelen && name[namelen - n - 1] == '.' && strncasecmp(tok, name + namelen - n, n) == 0;
}

/* The host, without brackets, and what kind of name it is. False when it cannot be matched. */
static bool curl_name(const char *host, char *name, size_t size, size_t *namelen, enum name_type *type)
{
    const char *h = host;
    size_t n = strlen(host);
    if (h[0] == '[') {
        const char *close = strchr(h, ']');
        if (!close)
            return false;
        h++;
        n = (size_t)(close - h);
    }
    if (n == 0 || n >= size)
        return false;
    memcpy(name, h, n);
    name[n] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    *type = inet_pton(AF_INET, name, &a4) == 1 ? NAME_V4 : inet_pton(AF_INET6, name, &a6) == 1 ? NAME_V6 : NAME_HOST;
    if (*type == NAME_HOST && name[n - 1] == '.') /* a trailing dot in the host name is ignored */
        n--;
    *namelen = n;
    return true;
}

static bool curl_match(const char *list, const char *host, char *matched, size_t msize)
{
    if (!list || !*list || !host || !*host)
        return false;
    if (strcmp(list, "*") == 0) { /* "*" alone, and only alone, matches every host */
        copy_entry("*", 1, matched, msize);
        return true;
    }
    char name[512];
    size_t namelen;
    enum name_type type;
    if (!curl_name(host, name, sizeof name, &namelen, &type))
        return false;
    for (const char *p = list; *p;) {
        while (curl_blank(*p))
            p++;
        const char *tok = p;
        while (*p && !curl_blank(*p) && *p != ',')
            p++;
        size_t n = (size_t)(p - tok);
        bool m = n && (type == NAME_HOST ? curl_host_matches(tok, n, name, namelen)
                                         : curl_ip_matches(tok, n, name, type));
        if (m) {
            copy_entry(tok, n, matched, msize);
            return true;
        }
        while (curl_blank(*p))
            p++;
        if (*p != ',') /* curl stops at the first entry not followed by a comma */
            break;
        while (*p == ',')
            p++;
    }
    return false;
}

bool noproxy_match_curl(const char *list, const char *host)
{
    return curl_match(list, host, NULL, 0);
}

/* ---- decisions ------------------------------------------------------------------------------ */

static void say(struct proxy_path *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct proxy_path *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    proxy_redact(tmp, o->why, sizeof o->why);
    for (char *q = o->why; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
}

static void go_direct(struct proxy_path *o, enum proxy_source s)
{
    o->direct = true;
    memset(&o->proxy, 0, sizeof o->proxy);
    o->source = s;
}

/* A raw value for a why text: redacted while whole, then cut. */
static void shown(const char *raw, char *out, size_t size)
{
    proxy_redact(raw, out, size);
}

/* The proxy to CONNECT to, with the port the consumer would use when the value had none. */
static void go_proxy(struct proxy_path *o, enum proxy_source s, const struct proxy_url *u, int default_port)
{
    o->direct = false;
    o->source = s;
    o->proxy = *u;
    if (!o->proxy.port) {
        o->proxy.port = default_port;
        size_t n = strlen(o->proxy.redacted);
        snprintf(o->proxy.redacted + n, sizeof o->proxy.redacted - n, ":%d", default_port);
    }
}

/* What the agent does with a proxy URL: HTTPSConnection(host, port) + CONNECT, so only host and
 * port survive; it speaks plain HTTP to the proxy whatever the scheme. */
static void agent_endpoint(struct proxy_url *u)
{
    memset(u->user, 0, sizeof u->user);
    memset(u->password, 0, sizeof u->password);
    u->has_credentials = false;
    snprintf(u->scheme, sizeof u->scheme, "http");
    snprintf(u->redacted, sizeof u->redacted, strchr(u->host, ':') ? "http://[%s]:%d" : "http://%s:%d", u->host,
             u->port);
}

/* host and port as a proxy URL; false when the host is no host name or address (waagent.conf
 * values are used verbatim, so "http://x" or "x#y" would not be parsed as URLs by the consumers). */
static bool endpoint(const char *host, int port, struct proxy_url *u)
{
    char buf[320], err[128];
    for (const unsigned char *h = (const unsigned char *)host; *h; h++)
        if (*h < 0x80 && !((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
                           *h == '-' || *h == '.' || *h == '_' || *h == ':'))
            return false;
    snprintf(buf, sizeof buf, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, port);
    return proxy_url_parse(buf, u, err, sizeof err);
}

static const struct proxy_env *agent_env(const struct proxy_config *c, enum proxy_source *s)
{
    if (c->env[PSRC_AGENT_PROCESS].present) {
        *s = PSRC_AGENT_PROCESS;
        return &c->env[PSRC_AGENT_PROCESS];
    }
    if (c->env[PSRC_AGENT_UNIT].present) {
        *s = PSRC_AGENT_UNIT;
        return &c->env[PSRC_AGENT_UNIT];
    }
    *s = PSRC_WAAGENT_CONF;
    return NULL;
}

/* no_proxy if non-empty, else NO_PROXY (Python's `or`, and curl's getenv order). */
static enum proxy_var no_proxy_var(const struct proxy_env *e)
{
    return e->value[PV_NO_LOWER][0] ? PV_NO_LOWER : PV_NO_UPPER;
}

static void agent_conf(const struct proxy_config *c, struct proxy_path *o)
{
    const struct waagent_proxy *w = &c->waagent;
    struct proxy_url u;
    if (w->port > 0 && endpoint(w->host, w->port, &u)) {
        go_proxy(o, PSRC_WAAGENT_CONF, &u, w->port);
        say(o, "HttpProxy.Host and HttpProxy.Port set in %s (lines %d, %d)", w->path, w->host_line, w->port_line);
        return;
    }
    go_direct(o, PSRC_WAAGENT_CONF);
    if (w->port > 0)
        say(o, "HttpProxy.Host=%s in %s (line %d) is not a host name: the guest agent cannot connect through it",
            w->host, w->path, w->host_line);
    else if (w->port_raw[0])
        say(o, "HttpProxy.Port=%s in %s (line %d) is not a usable port: the guest agent goes direct and ignores "
            "its environment", w->port_raw, w->path, w->port_line);
    else
        say(o, "HttpProxy.Host set without HttpProxy.Port in %s (line %d): the guest agent goes direct and "
            "ignores its environment", w->path, w->host_line);
}

static void agent_env_proxy(const struct proxy_env *e, enum proxy_source s, enum proxy_var v,
                            struct proxy_path *o)
{
    struct proxy_url u;
    char err[160], val[200];
    const char *name = proxy_var_name(v);
    shown(e->value[v], val, sizeof val);
    go_direct(o, s);
    if (!proxy_url_parse(e->value[v], &u, err, sizeof err)) {
        say(o, "the guest agent cannot use %s=%s from %s: %s", name, val, e->where, err);
        return;
    }
    if (!u.scheme_given || !u.port) { /* Python urlparse finds no host, or no port: direct */
        say(o, "the guest agent ignores %s=%s: no %s (it goes direct)", name, val, u.scheme_given ? "port" : "scheme");
        return;
    }
    bool creds = u.has_credentials, tls = strcmp(u.scheme, "https") == 0;
    agent_endpoint(&u);
    go_proxy(o, s, &u, u.port);
    say(o, "%s=%s%s%s; from %s", name, val, /* the notes first: where may be a long list of files */
        creds ? "; credentials dropped (the guest agent does not support authenticated proxies)" : "",
        tls ? "; the guest agent speaks plain HTTP to it" : "", e->where);
}

static void decide_agent(const struct proxy_config *c, const char *host, bool https, struct proxy_path *o)
{
    enum proxy_source s;
    const struct proxy_env *e = agent_env(c, &s);
    char entry[128];
    if (e && agent_match(e->value[no_proxy_var(e)], host, entry, sizeof entry)) {
        go_direct(o, s);
        say(o, "%s entry %s matches %s (the guest agent's environment, %s)", proxy_var_name(no_proxy_var(e)),
            entry, host, e->where);
        return;
    }
    if (c->waagent.present && c->waagent.host[0]) { /* the environment is then not consulted */
        agent_conf(c, o);
        return;
    }
    enum proxy_var lower = https ? PV_HTTPS_LOWER : PV_HTTP_LOWER, upper = https ? PV_HTTPS_UPPER : PV_HTTP_UPPER;
    if (e && (e->value[lower][0] || e->value[upper][0])) {
        agent_env_proxy(e, s, e->value[lower][0] ? lower : upper, o);
        return;
    }
    go_direct(o, s);
    if (e)
        say(o, "no HttpProxy.Host in waagent.conf and no %s or %s in the guest agent's environment (%s)",
            proxy_var_name(lower), proxy_var_name(upper), e->where);
    else
        say(o, "no HttpProxy.Host in waagent.conf, and the guest agent's environment was not found (no unit "
            "file, no running agent)");
}

static void decide_backup(const struct proxy_config *c, struct proxy_path *o)
{
    const struct waagent_proxy *w = &c->waagent;
    struct proxy_url u;
    go_direct(o, PSRC_WAAGENT_CONF);
    if (!w->present)
        say(o, "no waagent.conf: the backup extension goes direct (it never reads proxy environment variables)");
    else if (!w->vmb_ok)
        say(o, "%s", w->vmb_error);
    else if (!w->vmb_host[0])
        say(o, "no HttpProxy.Host in %s: the backup extension goes direct (it never reads proxy environment "
            "variables)", w->path);
    else if (w->vmb_port_set)
        say(o, "HttpProxy.Host and HttpProxy.Port both set in %s: the backup extension goes direct (it uses the "
            "proxy only when Port is NOT set), so storage must be reachable without it", w->path);
    else if (!endpoint(w->vmb_host, BACKUP_PROXY_PORT, &u))
        say(o, "HttpProxy.Host=%s in %s is not a host name: the backup extension's proxied calls fail",
            w->vmb_host, w->path);
    else {
        go_proxy(o, PSRC_WAAGENT_CONF, &u, BACKUP_PROXY_PORT);
        say(o, "HttpProxy.Host set and HttpProxy.Port unset in %s: the backup extension (inverted rule) sends "
            "CONNECT to %s on port 443", w->path, u.host);
    }
}

static bool has_proxy_var(const struct proxy_env *e)
{
    for (int v = PV_HTTPS_LOWER; v <= PV_ALL_UPPER; v++)
        if (e->value[v][0])
            return true;
    return false;
}

static void client_cli(const struct proxy_config *c, const char *host, struct proxy_path *o)
{
    char entry[128];
    if (!c->cli.host[0]) {
        go_direct(o, PSRC_CLI);
        say(o, "--proxy \"\" turns proxies off");
    } else if (curl_match(c->cli_no_proxy, host, entry, sizeof entry)) {
        go_direct(o, PSRC_CLI);
        say(o, "--no-proxy entry %s matches %s", entry, host);
    } else {
        go_proxy(o, PSRC_CLI, &c->cli, CURL_DEFAULT_PROXY_PORT);
        say(o, "--proxy %s%s", o->proxy.redacted, c->cli.port ? "" : " (curl's default port 1080)");
    }
}

/* curl's order: https: https_proxy, HTTPS_PROXY; http: http_proxy only (never HTTP_PROXY); then
 * all_proxy, ALL_PROXY. */
static int client_var(const struct proxy_env *e, bool https)
{
    static const enum proxy_var https_order[] = {PV_HTTPS_LOWER, PV_HTTPS_UPPER, PV_ALL_LOWER, PV_ALL_UPPER};
    static const enum proxy_var http_order[] = {PV_HTTP_LOWER, PV_ALL_LOWER, PV_ALL_UPPER};
    const enum proxy_var *order = https ? https_order : http_order;
    size_t n = https ? 4 : 3;
    for (size_t i = 0; i < n; i++)
        if (e->value[order[i]][0])
            return order[i];
    return -1;
}

static void client_env(const struct proxy_config *c, const char *host, bool https, struct proxy_path *o)
{
    const struct proxy_env *sh = &c->env[PSRC_SHELL], *etc = &c->env[PSRC_ETC_ENVIRONMENT];
    enum proxy_source s = (!has_proxy_var(sh) && etc->present && has_proxy_var(etc)) ? PSRC_ETC_ENVIRONMENT : PSRC_SHELL;
    const struct proxy_env *e = &c->env[s];
    const char *where = e->where[0] ? e->where : proxy_source_name(s);
    int v = client_var(e, https);
    char entry[128], val[200], err[160];
    struct proxy_url u;
    go_direct(o, s);
    if (v < 0) {
        say(o, "no %s in %s%s", https ? "https_proxy, HTTPS_PROXY, all_proxy or ALL_PROXY" : "http_proxy, all_proxy "
            "or ALL_PROXY", where, !https && e->value[PV_HTTP_UPPER][0] ? " (curl ignores HTTP_PROXY)" : "");
        return;
    }
    const char *name = proxy_var_name((enum proxy_var)v), *npname = proxy_var_name(no_proxy_var(e));
    shown(e->value[v], val, sizeof val);
    if (curl_match(e->value[no_proxy_var(e)], host, entry, sizeof entry))
        say(o, "%s entry %s matches %s (%s)", npname, entry, host, where);
    else if (!proxy_url_parse(e->value[v], &u, err, sizeof err))
        say(o, "%s=%s from %s cannot be used: %s", name, val, where, err);
    else {
        go_proxy(o, s, &u, CURL_DEFAULT_PROXY_PORT);
        say(o, "%s=%s from %s%s%s", name, val, where, u.scheme_given ? "" : " (no scheme: http)",
            u.port ? "" : " (no port: curl's default 1080)");
    }
}

void proxy_decide(const struct proxy_config *cfg, enum consumer c, const char *host, bool https,
                  struct proxy_path *out)
{
    memset(out, 0, sizeof *out);
    if (!host)
        host = "";
    switch (c) {
    case CONSUMER_AGENT:
        decide_agent(cfg, host, https, out);
        return;
    case CONSUMER_BACKUP:
        decide_backup(cfg, out);
        return;
    case CONSUMER_CLIENT:
        if (cfg->cli_set)
            client_cli(cfg, host, out);
        else
            client_env(cfg, host, https, out);
        return;
    default:
        go_direct(out, PSRC_CLI);
        say(out, "unknown consumer");
        return;
    }
}
