/* resolv.conf and --dns-server parsing (see resolv_conf.h). Works on length-delimited text:
 * lines of any length, CRLF, NUL and other binary bytes are all handled without copying a line. */
#include "resolvers/resolv_conf.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_PORT 53

/* A piece of the input: not NUL-terminated. */
struct span {
    const char *p;
    size_t n;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static bool span_is(struct span s, const char *word)
{
    return s.n == strlen(word) && memcmp(s.p, word, s.n) == 0;
}

static struct span skip_space(struct span s)
{
    while (s.n > 0 && is_space(*s.p)) {
        s.p++;
        s.n--;
    }
    return s;
}

static struct span trim_end(struct span s)
{
    while (s.n > 0 && is_space(s.p[s.n - 1]))
        s.n--;
    return s;
}

/* Split the first whitespace-delimited word off *rest. */
static struct span next_word(struct span *rest)
{
    struct span word;

    *rest = skip_space(*rest);
    word.p = rest->p;
    word.n = 0;
    while (word.n < rest->n && !is_space(rest->p[word.n]))
        word.n++;
    rest->p += word.n;
    rest->n -= word.n;
    return word;
}

/* ---- IP literals ---- */

/* An interface name or number after '%': eth0, 2, enp0s3.100 (IFNAMSIZ is 16 on Linux). */
static bool valid_scope(const char *scope)
{
    size_t n = strlen(scope);

    if (n == 0 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = scope[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return true;
}

/* Validate a numeric IPv4 or IPv6 address (IPv6 may carry %scope when allow_scope) and store its
 * canonical text, without the scope, in addr. */
static bool parse_ip(struct span s, bool allow_scope, char addr[64], int *family)
{
    char text[64];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *pct;

    if (s.n == 0 || s.n >= sizeof text || memchr(s.p, '\0', s.n) != NULL)
        return false;
    memcpy(text, s.p, s.n);
    text[s.n] = '\0';
    if (inet_pton(AF_INET, text, bin) == 1) {
        *family = AF_INET;
    } else {
        pct = strchr(text, '%');
        if (pct != NULL) {
            if (!allow_scope || !valid_scope(pct + 1))
                return false;
            text[pct - text] = '\0';
        }
        if (inet_pton(AF_INET6, text, bin) != 1)
            return false;
        *family = AF_INET6;
    }
    return inet_ntop(*family, bin, addr, 64) != NULL;
}

/* 1..65535, decimal digits only. */
static bool parse_port(struct span s, int *port)
{
    long v = 0;

    if (s.n == 0 || s.n > 5)
        return false;
    for (size_t i = 0; i < s.n; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return false;
        v = v * 10 + (s.p[i] - '0');
    }
    if (v < 1 || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

static bool is_loopback(const char *addr)
{
    unsigned char b[sizeof(struct in6_addr)];
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (inet_pton(AF_INET, addr, b) == 1)
        return b[0] == 127;
    if (inet_pton(AF_INET6, addr, b) != 1)
        return false;
    if (memcmp(b, v4mapped, sizeof v4mapped) == 0)
        return b[12] == 127;
    return memcmp(b, &in6addr_loopback, sizeof b) == 0;
}

/* ---- resolv.conf ---- */

static void count_ignored(struct resolv_conf *rc)
{
    if (rc->ignored < INT_MAX)
        rc->ignored++;
}

/* Keep the search list for the report: printable ASCII only, whitespace runs folded to one
 * space, cut at a word boundary when it does not fit. */
static void set_search(struct resolv_conf *rc, struct span value)
{
    size_t n = 0, last_word_end = 0;
    bool cut = false;

    value = trim_end(skip_space(value));
    for (size_t i = 0; i < value.n; i++) {
        unsigned char c = (unsigned char)value.p[i];
        if (is_space((char)c)) {
            if (n > 0 && rc->search[n - 1] == ' ')
                continue;
            last_word_end = n;
            c = ' ';
        } else if (c < 0x21 || c > 0x7e) {
            c = '?';
        }
        if (n + 1 >= sizeof rc->search) {
            cut = true;
            break;
        }
        rc->search[n++] = (char)c;
    }
    if (cut && last_word_end > 0)
        n = last_word_end;
    rc->search[n] = '\0';
}

static void add_nameserver(struct resolv_conf *rc, struct span value)
{
    struct dns_server s;
    int family;

    if (!parse_ip(next_word(&value), true, s.addr, &family)) {
        count_ignored(rc);
        return;
    }
    if (rc->count == RESOLV_MAX_SERVERS) {
        count_ignored(rc);
        return;
    }
    s.port = DEFAULT_PORT;
    rc->servers[rc->count++] = s;
    if (is_loopback(s.addr))
        rc->stub = true;
}

static void parse_line(struct resolv_conf *rc, struct span line)
{
    struct span keyword;

    line = skip_space(line);
    if (line.n == 0 || line.p[0] == '#' || line.p[0] == ';')
        return;
    keyword = next_word(&line);
    if (span_is(keyword, "nameserver"))
        add_nameserver(rc, line);
    else if (span_is(keyword, "search") || span_is(keyword, "domain"))
        set_search(rc, line);
    else if (!span_is(keyword, "options") && !span_is(keyword, "sortlist"))
        count_ignored(rc);
}

void resolv_conf_parse(const char *text, size_t len, struct resolv_conf *out)
{
    memset(out, 0, sizeof *out);
    if (text == NULL)
        return;
    while (len > 0) {
        const char *nl = memchr(text, '\n', len);
        size_t n = nl != NULL ? (size_t)(nl - text) : len;
        struct span line = {text, n};

        parse_line(out, line);
        if (nl == NULL)
            break;
        text += n + 1;
        len -= n + 1;
    }
}

/* ---- --dns-server ---- */

/* "[v6]" or "[v6]:port" */
static bool parse_bracketed(struct span s, struct dns_server *tmp)
{
    const char *close = memchr(s.p, ']', s.n);
    struct span inside, after;
    int family;

    if (close == NULL)
        return false;
    inside.p = s.p + 1;
    inside.n = (size_t)(close - inside.p);
    after.p = close + 1;
    after.n = s.n - (size_t)(after.p - s.p);
    if (!parse_ip(inside, true, tmp->addr, &family) || family != AF_INET6)
        return false;
    if (after.n == 0)
        return true;
    if (after.p[0] != ':')
        return false;
    after.p++;
    after.n--;
    return parse_port(after, &tmp->port);
}

/* "v4", "v4:port" or a bare "v6" */
static bool parse_plain(struct span s, struct dns_server *tmp)
{
    const char *colon = memchr(s.p, ':', s.n);
    int family;

    if (colon != NULL && memchr(colon + 1, ':', s.n - (size_t)(colon + 1 - s.p)) == NULL) {
        struct span host = {s.p, (size_t)(colon - s.p)};
        struct span port = {colon + 1, s.n - host.n - 1};
        return parse_ip(host, false, tmp->addr, &family) && family == AF_INET &&
               parse_port(port, &tmp->port);
    }
    return parse_ip(s, true, tmp->addr, &family);
}

bool dns_server_parse(const char *value, struct dns_server *out)
{
    struct dns_server tmp;
    struct span s;
    bool ok;

    if (value == NULL || value[0] == '\0')
        return false;
    s.p = value;
    s.n = strlen(value);
    tmp.port = DEFAULT_PORT;
    ok = s.p[0] == '[' ? parse_bracketed(s, &tmp) : parse_plain(s, &tmp);
    if (ok)
        *out = tmp;
    return ok;
}

/* Append ",addr:port" (IPv6 as "[addr]:port") at buf + *used; false if it does not fit. */
static bool append_server(char *buf, size_t size, size_t *used, const struct dns_server *s, bool comma)
{
    size_t alen = strnlen(s->addr, sizeof s->addr);
    bool v6 = memchr(s->addr, ':', alen) != NULL;
    int w;

    if (alen == 0 || alen == sizeof s->addr || s->port < 1 || s->port > 65535)
        return false;
    w = snprintf(buf + *used, size - *used, "%s%s%s%s:%d", comma ? "," : "", v6 ? "[" : "", s->addr,
                 v6 ? "]" : "", s->port);
    if (w < 0 || (size_t)w >= size - *used)
        return false;
    *used += (size_t)w;
    return true;
}

bool dns_servers_csv(const struct dns_server *servers, size_t n, char *buf, size_t size)
{
    size_t used = 0;

    if (buf == NULL || size == 0)
        return false;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!append_server(buf, size, &used, &servers[i], i > 0)) {
            buf[0] = '\0';
            return false;
        }
    }
    return true;
}
