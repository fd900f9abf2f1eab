/* Proxy values read the way curl reads them, and the redaction every output goes through. A proxy
 * URL may carry a password: it is kept in struct proxy_url for CURLOPT_PROXYUSERPWD only, and all
 * text that leaves this module passes through proxy_redact. */
#include "probe/proxy.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *proxy_source_name(enum proxy_source s)
{
    static const char *const names[PSRC_COUNT] = {
        [PSRC_CLI] = "command line",
        [PSRC_SHELL] = "this shell",
        [PSRC_ETC_ENVIRONMENT] = "/etc/environment",
        [PSRC_AGENT_UNIT] = "the agent's systemd unit",
        [PSRC_AGENT_PROCESS] = "the running agent's environment",
        [PSRC_WAAGENT_CONF] = "waagent.conf",
    };
    return (unsigned)s < PSRC_COUNT ? names[s] : "unknown source";
}

const char *proxy_var_name(enum proxy_var v)
{
    static const char *const names[PV_COUNT] = {
        [PV_HTTPS_LOWER] = "https_proxy", [PV_HTTPS_UPPER] = "HTTPS_PROXY",
        [PV_HTTP_LOWER] = "http_proxy",   [PV_HTTP_UPPER] = "HTTP_PROXY",
        [PV_ALL_LOWER] = "all_proxy",     [PV_ALL_UPPER] = "ALL_PROXY",
        [PV_NO_LOWER] = "no_proxy",       [PV_NO_UPPER] = "NO_PROXY",
    };
    return (unsigned)v < PV_COUNT ? names[v] : "unknown";
}

/* ---- redaction ---------------------------------------------------------------------------- */

/* A bounded writer: output stops (still NUL-terminated) when the buffer is full. */
struct sink {
    char *buf;
    size_t size, len;
};

static void put(struct sink *s, const char *p, size_t n)
{
    if (s->size == 0)
        return;
    size_t room = s->size - 1 - s->len;
    if (n > room)
        n = room;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

static bool full(const struct sink *s)
{
    return s->size == 0 || s->len + 1 >= s->size;
}

/* Tokens are split at blanks and quotes only: a password may hold ',' '=' '/' '#'. */
static bool is_delim(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'';
}

static const char *find_in(const char *p, const char *end, char c)
{
    return p < end ? memchr(p, c, (size_t)(end - p)) : NULL;
}

static const char *find_last(const char *p, const char *end, char c)
{
    return p < end ? memrchr(p, c, (size_t)(end - p)) : NULL;
}

/* A port followed by sentence punctuation ("http://p:3128;") is still a port. */
static bool port_like(const char *p, const char *end)
{
    while (end > p && strchr(",;.)", end[-1]))
        end--;
    for (; p < end; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static bool digits_only(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* A password with a blank or quote in it: the '@' that ends it lies in a later token, within 128
 * bytes on the same line. A colon ending a token that is no URL, assignment or quoted value
 * ("text: more") starts no password. */
static const char *later_at(const char *tok, const char *c, const char *tok_end, const char *end, bool value)
{
    if (c + 1 == tok_end && !value && !find_in(tok, c, '='))
        return NULL;
    const char *limit = end - tok_end > 128 ? tok_end + 128 : end;
    const char *nl = find_in(tok_end, limit, '\n');
    return find_in(tok_end, nl ? nl : limit, '@');
}

/* After a userinfo '@' found in the token, a later '@' on the same line (within 128 bytes, no
 * other URL in between) means the password itself held '@' and a blank or quote. */
static const char *last_at(const char *at, const char *tok_end, const char *end)
{
    const char *limit = end - tok_end > 128 ? tok_end + 128 : end;
    for (const char *p = tok_end; p < limit && *p != '\n'; p++) {
        if (limit - p >= 3 && memcmp(p, "://", 3) == 0)
            break;
        if (*p == '@')
            at = p;
    }
    return at;
}

static bool scheme_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
           c == '.';
}

/* Where the authority of a URL in this token starts (after "scheme://"), or NULL. A "://" counts
 * only after a scheme that starts the token or follows '=', with no ':' before it: otherwise the
 * "://" may be inside a password ("https_proxy=u:a,b://c@h"). */
static const char *authority(const char *tok, const char *tok_end)
{
    for (const char *p = tok; p + 3 <= tok_end; p++) {
        if (*p == ':' && memcmp(p, "://", 3) != 0)
            return NULL;
        if (memcmp(p, "://", 3) != 0)
            continue;
        const char *q = p;
        while (q > tok && scheme_char(q[-1]))
            q--;
        bool alpha = q < p && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z'));
        return alpha && (q == tok || q[-1] == '=') ? p + 3 : NULL;
    }
    return NULL;
}

/* A token with an '@': everything from the password (or, with no ':' before that '@', the whole
 * userinfo) up to the last '@' is masked. */
static const char *mask_userinfo(const char *tok, const char *auth, const char *at, const char *last,
                                 struct sink *s)
{
    const char *colon = find_in(auth ? auth : tok, at, ':');
    const char *eq = find_in(tok, at, '=');
    const char *from = colon ? colon + 1 : auth ? auth : eq ? eq + 1 : tok;
    put(s, tok, (size_t)(from - tok));
    put(s, "***", 3);
    return last;
}

/* A token without a userinfo '@': a password may still be there, cut off by a blank or quote,
 * or standing where a port should be (its '@' went missing). */
static const char *redact_no_at(const char *tok, const char *auth, const char *tok_end, const char *end,
                                bool quoted, struct sink *s)
{
    const char *from = auth ? auth : tok;
    if (from < tok_end && *from == '[') { /* an IPv6 literal's colons are not a userinfo colon */
        const char *close = find_in(from, tok_end, ']');
        from = close ? close : tok_end;
    }
    const char *colon = find_in(from, tok_end, ':');
    const char *at = colon ? later_at(tok, colon, tok_end, end, auth != NULL || quoted)
                           : auth ? last_at(NULL, tok_end, end) /* "scheme://" was in the password */
                                  : NULL;
    const char *slash = colon ? find_in(colon, tok_end, '/') : NULL;
    const char *port_end = slash ? slash : tok_end;
    if (!at && !(colon && auth && !port_like(colon + 1, port_end))) {
        put(s, tok, (size_t)(tok_end - tok));
        return tok_end;
    }
    const char *keep = colon ? colon + 1 : auth;
    put(s, tok, (size_t)(keep - tok));
    put(s, "***", 3);
    return at ? at : port_end;
}

/* One token: mask a userinfo's password. quoted: the token follows a quote. Returns where the
 * caller continues. */
static const char *redact_token(const char *tok, const char *tok_end, const char *end, bool quoted, struct sink *s)
{
    const char *auth = authority(tok, tok_end);
    const char *at = find_last(auth ? auth : tok, tok_end, '@');
    if (at && at > (auth ? auth : tok)) /* "@x" has no userinfo to hide */
        return mask_userinfo(tok, auth, at, last_at(at, tok_end, end), s);
    return redact_no_at(tok, auth, tok_end, end, quoted, s);
}

static void redact_span(const char *in, size_t n, char *out, size_t size)
{
    struct sink s = {out, size, 0};
    if (size)
        out[0] = '\0';
    const char *p = in, *end = in + n;
    while (p < end && !full(&s)) {
        if (is_delim(*p)) {
            put(&s, p++, 1);
            continue;
        }
        const char *q = p;
        while (q < end && !is_delim(*q))
            q++;
        const char *next = redact_token(p, q, end, p > in && (p[-1] == '"' || p[-1] == '\''), &s);
        if (next < end && *next == '@') { /* after a mask: "@host..." as it is, to its token end */
            const char *r = next;
            while (r < end && !is_delim(*r))
                r++;
            put(&s, next, (size_t)(r - next));
            next = r;
        }
        p = next;
    }
}

void proxy_redact(const char *in, char *out, size_t size)
{
    if (!out || size == 0)
        return;
    if (!in) {
        out[0] = '\0';
        return;
    }
    redact_span(in, strlen(in), out, size);
}

/* ---- parsing ------------------------------------------------------------------------------- */

static bool fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode [p, end) into out; a '%' not followed by two hex digits stays as it is (curl
 * does the same). Control bytes, encoded or not, are refused: they cannot be sent in a header. */
static bool decode_part(const char *p, const char *end, char *out, size_t size)
{
    size_t o = 0;
    while (p < end) {
        int c = (unsigned char)*p;
        if (c == '%' && end - p >= 3 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            c = hexval(p[1]) * 16 + hexval(p[2]);
            p += 3;
        } else {
            p++;
        }
        if (c < 0x20 || c == 0x7f || o + 1 >= size)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

static bool scheme_chars(const char *p, const char *end)
{
    if (p >= end || !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    for (; p < end; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '+' || *p == '-' || *p == '.'))
            return false;
    return true;
}

/* Sets out->scheme; returns the text after "scheme://" (or all of it), NULL on error. */
static const char *parse_scheme(const char *value, struct proxy_url *out, char *err, size_t errlen)
{
    const char *sep = strstr(value, "://");
    if (!sep || !scheme_chars(value, sep)) {
        if (strncasecmp(value, "http:", 5) == 0 || strncasecmp(value, "https:", 6) == 0) {
            fail(err, errlen, "malformed scheme: write http://host:port");
            return NULL;
        }
        snprintf(out->scheme, sizeof out->scheme, "http");
        return value;
    }
    size_t n = (size_t)(sep - value);
    if (n >= sizeof out->scheme) {
        fail(err, errlen, "unsupported scheme: Azure consumers use http:// proxies");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        out->scheme[i] = (char)(value[i] >= 'A' && value[i] <= 'Z' ? value[i] + 32 : value[i]);
    out->scheme[n] = '\0';
    if (strncmp(out->scheme, "socks", 5) == 0) {
        fail(err, errlen, "%s:// is a SOCKS proxy: Azure consumers (the guest agent, the backup "
             "extension) use HTTP proxies only", out->scheme);
        return NULL;
    }
    if (strcmp(out->scheme, "http") != 0 && strcmp(out->scheme, "https") != 0) {
        fail(err, errlen, "unsupported scheme %s://: Azure consumers use http:// proxies", out->scheme);
        return NULL;
    }
    out->scheme_given = true;
    return sep + 3;
}

static bool parse_userinfo(const char *p, const char *at, struct proxy_url *out, char *err, size_t errlen)
{
    const char *colon = find_in(p, at, ':');
    const char *user_end = colon ? colon : at;
    if (!decode_part(p, user_end, out->user, sizeof out->user))
        return fail(err, errlen, "the user name is too long or holds a control character");
    if (colon && !decode_part(colon + 1, at, out->password, sizeof out->password))
        return fail(err, errlen, "the password is too long or holds a control character");
    out->has_credentials = true;
    return true;
}

/* curl refuses these in a host name; '%' too (no IPv6 zone ids here). */
static bool host_chars(const char *p, const char *end)
{
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x80 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                          c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

static bool parse_port(const char *p, const char *end, struct proxy_url *out, char *err, size_t errlen)
{
    if (p == end)
        return true; /* "host:" has no port, as for curl and Python */
    if (!digits_only(p, end))
        return fail(err, errlen, "the port is not a number");
    long v = 0;
    for (; p < end && v <= 65535; p++)
        v = v * 10 + (*p - '0');
    if (v == 0)
        return fail(err, errlen, "port 0 is not a port");
    if (v > 65535)
        return fail(err, errlen, "the port is above 65535");
    out->port = (int)v;
    return true;
}

static bool copy_host(const char *p, const char *end, struct proxy_url *out, char *err, size_t errlen)
{
    if (p == end)
        return fail(err, errlen, "no host");
    if ((size_t)(end - p) >= sizeof out->host)
        return fail(err, errlen, "the host name is too long");
    memcpy(out->host, p, (size_t)(end - p));
    out->host[end - p] = '\0';
    return true;
}

/* host, [v6], host:port, [v6]:port */
static bool parse_hostport(const char *p, const char *end, struct proxy_url *out, char *err, size_t errlen)
{
    if (p < end && *p == '[') {
        const char *close = find_in(p, end, ']');
        if (!close)
            return fail(err, errlen, "an IPv6 address is missing its closing ']'");
        if (!copy_host(p + 1, close, out, err, errlen))
            return false;
        struct in6_addr a6;
        if (inet_pton(AF_INET6, out->host, &a6) != 1)
            return fail(err, errlen, "the text in [...] is not an IPv6 address");
        if (close + 1 == end)
            return true;
        if (close[1] != ':')
            return fail(err, errlen, "unexpected text after the IPv6 address");
        return parse_port(close + 2, end, out, err, errlen);
    }
    const char *colon = find_in(p, end, ':');
    if (colon && find_in(colon + 1, end, ':'))
        return fail(err, errlen, "an IPv6 address needs brackets, as in http://[2001:db8::1]:3128");
    const char *host_end = colon ? colon : end;
    if (p == host_end)
        return fail(err, errlen, "no host");
    if (!host_chars(p, host_end))
        return fail(err, errlen, "the host name holds a character no host name has");
    if (!copy_host(p, host_end, out, err, errlen))
        return false;
    return colon ? parse_port(colon + 1, end, out, err, errlen) : true;
}

/* scheme://[user:***@]host[:port]; the user is shown only next to a password, since a user
 * name alone is often a token. */
static void build_redacted(struct proxy_url *u, const char *raw_user, size_t raw_user_len, bool has_pw)
{
    char creds[160] = "", host[264], port[16] = "";
    if (u->has_credentials && has_pw)
        snprintf(creds, sizeof creds, "%.*s:***@", (int)(raw_user_len < 128 ? raw_user_len : 128), raw_user);
    else if (u->has_credentials)
        snprintf(creds, sizeof creds, "***@");
    snprintf(host, sizeof host, strchr(u->host, ':') ? "[%s]" : "%s", u->host);
    if (u->port)
        snprintf(port, sizeof port, ":%d", u->port);
    snprintf(u->redacted, sizeof u->redacted, "%s://%s%s%s", u->scheme, creds, host, port);
}

static bool no_blank_or_control(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

bool proxy_url_parse(const char *value, struct proxy_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (!value || !*value)
        return fail(err, errlen, "empty value");
    if (!no_blank_or_control(value))
        return fail(err, errlen, "the value holds a space or a control character");
    const char *rest = parse_scheme(value, out, err, errlen);
    if (!rest)
        goto bad;
    /* The authority ends where a path, query or fragment starts; curl ignores those for a proxy. */
    const char *end = rest + strcspn(rest, "/?#");
    const char *at = find_last(rest, end, '@');
    const char *hostport = at ? at + 1 : rest;
    if (at && !parse_userinfo(rest, at, out, err, errlen))
        goto bad;
    if (!parse_hostport(hostport, end, out, err, errlen))
        goto bad;
    const char *pw_colon = at ? find_in(rest, at, ':') : NULL;
    build_redacted(out, rest, at ? (size_t)((pw_colon ? pw_colon : at) - rest) : 0, pw_colon != NULL);
    return true;
bad:
    memset(out, 0, sizeof *out); /* no half-parsed password left behind */
    return false;
}

/* Problems go into one bounded list; the text is redacted and made printable here, once. */
void proxy_add_problem(struct proxy_config *c, enum proxy_source s, const char *where, int line,
                        const char *fmt, ...)
{
    if (!c || c->nproblems >= PROXY_MAX_PROBLEMS)
        return;
    struct proxy_problem *p = &c->problems[c->nproblems++];
    p->source = s;
    p->line = line;
    snprintf(p->where, sizeof p->where, "%s", where ? where : "");
    if (c->nproblems == PROXY_MAX_PROBLEMS) { /* the last slot says the list is incomplete */
        p->line = 0;
        snprintf(p->text, sizeof p->text, "more problems were found and not listed");
        return;
    }
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    proxy_redact(tmp, p->text, sizeof p->text); /* a quoted line may hold a proxy password */
    for (char *q = p->text; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
}
