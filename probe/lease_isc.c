/* ISC dhclient lease files (dhclient.leases(5); written by common/options.c pretty_print_option
 * and client/dhclient.c write_client_lease). Line-oriented like the agent's reader
 * (osutil/default.py get_endpoint_from_leases_path), but accepting every form dhclient writes
 * for option 245 and checking every length. */
#include "probe/lease.h"

#include <stdio.h>
#include <string.h>

#define ISC_KEEP 8           /* leases with 245 kept per file: the last ones */
#define ISC_NAMES 8          /* declared names for code 245 */
#define ISC_LINE_MAX 4096    /* longer lines are not dhclient's: skipped */

struct cursor {
    const char *p, *e;
};

struct block {
    bool open, has245, bad245;
    uint8_t ip[4];
    int line;
    char bad[96];
    char iface[64];
    bool has_expire, bad_expire, expired;
    long long expire;
};

struct isc {
    long long now;
    char names[ISC_NAMES][64];
    size_t nnames;
    int depth;               /* brace depth; the lease block is the one opened at depth 0 */
    int lineno;
    struct block b;
    struct lease245 keep[ISC_KEEP]; /* ring of the last ISC_KEEP entries */
    size_t nkeep;            /* entries seen (the ring holds min(nkeep, ISC_KEEP)) */
};

/* ---- tokens ------------------------------------------------------------------------------ */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void skip_ws(struct cursor *c)
{
    while (c->p < c->e && is_space(*c->p))
        c->p++;
}

/* The next run of non-space, non-';' bytes. */
static size_t word(struct cursor *c, const char **w)
{
    skip_ws(c);
    *w = c->p;
    while (c->p < c->e && !is_space(*c->p) && *c->p != ';')
        c->p++;
    return (size_t)(c->p - *w);
}

static bool word_is(struct cursor *c, const char *want)
{
    const char *w;
    size_t n = word(c, &w);
    return n == strlen(want) && memcmp(w, want, n) == 0;
}

/* The rest of the statement up to ';' (or the line end), trailing spaces removed. */
static size_t rest(struct cursor *c, const char **r)
{
    skip_ws(c);
    *r = c->p;
    const char *semi = memchr(c->p, ';', (size_t)(c->e - c->p));
    const char *end = semi ? semi : c->e;
    while (end > *r && is_space(end[-1]))
        end--;
    return (size_t)(end - *r);
}

/* dhclient's quoted string (pretty_escape: \ooo for non-printable bytes, a backslash before
 * " ' $ ` \ and a few others). Decodes at most max bytes into out; returns the byte count, or
 * (size_t)-1 when the string is not closed or is longer than max. */
static size_t unquote(struct cursor *c, uint8_t *out, size_t max)
{
    if (c->p >= c->e || *c->p != '"')
        return (size_t)-1;
    c->p++;
    size_t n = 0;
    while (c->p < c->e && *c->p != '"') {
        unsigned v = (unsigned char)*c->p++;
        if (v == '\\' && c->p < c->e) {
            if (*c->p >= '0' && *c->p <= '7') {
                v = 0;
                for (int k = 0; k < 3 && c->p < c->e && *c->p >= '0' && *c->p <= '7'; k++)
                    v = v * 8 + (unsigned)(*c->p++ - '0');
            } else {
                v = (unsigned char)*c->p++;
            }
        }
        if (n >= max || v > 255)
            return (size_t)-1;
        out[n++] = (uint8_t)v;
    }
    if (c->p >= c->e)
        return (size_t)-1;
    c->p++;
    return n;
}

/* ---- dates (dhclient writes expiry in UTC unless `db-time-format local`) ------------------ */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's
 * days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* Reads exactly `digits` decimal digits. */
static bool num(const char **s, const char *e, int digits, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < digits; i++, (*s)++) {
        if (*s >= e || **s < '0' || **s > '9')
            return false;
        *v = *v * 10 + (unsigned)(**s - '0');
    }
    return true;
}

static bool lit(const char **s, const char *e, char ch)
{
    if (*s >= e || **s != ch)
        return false;
    (*s)++;
    return true;
}

/* "YYYY/MM/DD HH:MM:SS" (dhclient prints %04d/%02d/%02d %02d:%02d:%02d, from gmtime). */
static bool parse_date(const char *s, size_t n, long long *epoch)
{
    const char *e = s + n;
    unsigned y, mo, d, h, mi, se;
    if (!num(&s, e, 4, &y) || !lit(&s, e, '/') || !num(&s, e, 2, &mo) || !lit(&s, e, '/') || !num(&s, e, 2, &d))
        return false;
    const char *before = s;
    while (s < e && is_space(*s))
        s++;
    if (s == before || !num(&s, e, 2, &h) || !lit(&s, e, ':') || !num(&s, e, 2, &mi) || !lit(&s, e, ':') ||
        !num(&s, e, 2, &se) || s != e)
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    *epoch = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

/* expire <wday> YYYY/MM/DD HH:MM:SS; | expire [<wday>] never; | expire epoch N; (dhclient.leases(5)) */
static void statement_expire(struct isc *st, struct cursor *c)
{
    struct block *b = &st->b;
    const char *w;
    size_t n = word(c, &w);
    b->has_expire = true;
    b->bad_expire = false;
    struct cursor after_wday = *c;
    const char *w2;
    size_t n2 = word(&after_wday, &w2);
    if (n == 1 && n2 == 5 && memcmp(w2, "never", 5) == 0) { /* "expire 0 never;" as in the agent's sample */
        w = w2;
        n = n2;
    }
    if (n == 5 && memcmp(w, "never", 5) == 0) {
        b->expire = -1;
        b->expired = false;
        return;
    }
    long long when = 0;
    bool ok;
    if (n == 5 && memcmp(w, "epoch", 5) == 0) {
        const char *v;
        size_t vn = word(c, &v);
        ok = vn >= 1 && vn <= 12;
        for (size_t i = 0; ok && i < vn; i++) {
            ok = v[i] >= '0' && v[i] <= '9';
            when = when * 10 + (v[i] - '0');
        }
    } else {
        const char *r;
        size_t rn = rest(c, &r);
        ok = n == 1 && w[0] >= '0' && w[0] <= '6' && parse_date(r, rn, &when);
    }
    if (ok && when < 1)
        when = 1; /* a date before 1970: past, and kept apart from -1 (never) and 0 (unknown) */
    b->bad_expire = !ok;
    b->expire = ok ? when : 0;
    b->expired = ok && when <= st->now; /* the agent: unexpired only when expire > now */
}

/* ---- option 245 -------------------------------------------------------------------------- */

static bool is_245_name(const struct isc *st, const char *w, size_t n)
{
    if ((n == 11 && memcmp(w, "unknown-245", 11) == 0) || (n == 10 && memcmp(w, "option-245", 10) == 0))
        return true;
    for (size_t i = 0; i < st->nnames; i++)
        if (strlen(st->names[i]) == n && memcmp(st->names[i], w, n) == 0)
            return true;
    return false;
}

static void set_bad(struct block *b, const char *why)
{
    b->has245 = false;
    b->bad245 = true;
    snprintf(b->bad, sizeof b->bad, "%s", why);
}

/* The value of a 245 line: colon hex (a8:3f:81:10, a:0:1:2), a quoted 4-byte string, or a
 * dotted quad (a named option declared ip-address). The last 245 line of a block wins. */
static void value_245(struct isc *st, struct cursor *c)
{
    struct block *b = &st->b;
    b->line = st->lineno;
    skip_ws(c);
    if (c->p < c->e && *c->p == '"') {
        uint8_t raw[8];
        size_t n = unquote(c, raw, sizeof raw);
        if (n == 4) {
            memcpy(b->ip, raw, 4);
            b->has245 = true;
            b->bad245 = false;
        } else {
            set_bad(b, n == (size_t)-1 ? "option 245 is an unreadable or over-long quoted string"
                                       : "option 245 is a quoted string that is not 4 bytes");
        }
        return;
    }
    const char *v;
    size_t n = rest(c, &v);
    if (lease_ip_parse(v, n, b->ip) || lease_hex4_parse(v, n, b->ip)) {
        b->has245 = true;
        b->bad245 = false;
        return;
    }
    size_t octets = lease_hex_octets(v, n);
    char why[96];
    if (octets)
        snprintf(why, sizeof why, "option 245 holds %zu octets, not 4", octets);
    else
        snprintf(why, sizeof why, "option 245 value is not an IPv4 address");
    set_bad(b, why);
}

/* option NAME code 245 = TYPE; (a declaration from dhclient.conf, dhcp-options(5)) */
static bool declaration(struct isc *st, const char *name, size_t nlen, struct cursor *c)
{
    struct cursor save = *c;
    if (!word_is(c, "code") || !word_is(c, "245") || !word_is(c, "=")) {
        *c = save;
        return false;
    }
    if (st->nnames < ISC_NAMES && nlen > 0 && nlen < sizeof st->names[0]) {
        memcpy(st->names[st->nnames], name, nlen);
        st->names[st->nnames++][nlen] = '\0';
    }
    return true;
}

static void statement_option(struct isc *st, struct cursor *c)
{
    const char *name;
    size_t n = word(c, &name);
    if (!n || declaration(st, name, n, c))
        return;
    if (st->b.open && st->depth == 1 && is_245_name(st, name, n))
        value_245(st, c);
}

static void statement_interface(struct isc *st, struct cursor *c)
{
    uint8_t raw[63];
    skip_ws(c);
    size_t n = unquote(c, raw, sizeof raw);
    if (n == (size_t)-1)
        return;
    for (size_t i = 0; i < n; i++)
        st->b.iface[i] = raw[i] > 0x20 && raw[i] < 0x7F ? (char)raw[i] : '?';
    st->b.iface[n] = '\0';
}

/* ---- blocks ------------------------------------------------------------------------------ */

static void keep_entry(struct isc *st, const struct lease245 *e)
{
    st->keep[st->nkeep % ISC_KEEP] = *e;
    st->nkeep++;
}

static void close_block(struct isc *st, bool closed)
{
    struct block *b = &st->b;
    if (b->open && (b->has245 || b->bad245)) {
        struct lease245 e;
        memset(&e, 0, sizeof e);
        snprintf(e.format, sizeof e.format, "dhclient");
        if (b->has245)
            lease_set_address(&e, b->ip);
        else
            snprintf(e.note, sizeof e.note, "%s", b->bad);
        snprintf(e.iface, sizeof e.iface, "%s", b->iface);
        e.line = b->line;
        e.expire_epoch = b->expire;
        e.expired = b->expired;
        if (!e.note[0] && !closed)
            snprintf(e.note, sizeof e.note, "lease block not closed (file cut short?)");
        else if (!e.note[0] && b->bad_expire)
            snprintf(e.note, sizeof e.note, "unreadable expire line: expiry unknown");
        else if (!e.note[0] && !b->has_expire)
            snprintf(e.note, sizeof e.note, "no expire line (the agent treats such a lease as expired)");
        keep_entry(st, &e);
    }
    memset(b, 0, sizeof *b);
}

static void statement(struct isc *st, const char *s, size_t n)
{
    struct cursor c = {s, s + n};
    skip_ws(&c);
    if (c.p >= c.e || *c.p == '#')
        return;
    if (*c.p == '}') {
        if (st->depth > 0 && --st->depth == 0 && st->b.open)
            close_block(st, true);
        return;
    }
    while (c.e > c.p && is_space(c.e[-1]))
        c.e--;
    bool opens = c.e[-1] == '{';
    struct cursor w = c;
    const char *kw;
    size_t kn = word(&w, &kw);
    if (opens && ((kn == 5 && memcmp(kw, "lease", 5) == 0) || (kn == 6 && memcmp(kw, "lease{", 6) == 0))) {
        if (st->b.open) /* like the agent, `lease {` always starts a new lease */
            close_block(st, false);
        st->depth = 1;
        st->b.open = true;
        return;
    }
    if (opens) { /* lease6 and its nested blocks, or anything else: not ours */
        if (st->depth < 1000)
            st->depth++;
        return;
    }
    if (kn == 6 && memcmp(kw, "option", 6) == 0)
        statement_option(st, &w);
    else if (st->b.open && st->depth == 1 && kn == 6 && memcmp(kw, "expire", 6) == 0)
        statement_expire(st, &w);
    else if (st->b.open && st->depth == 1 && kn == 9 && memcmp(kw, "interface", 9) == 0)
        statement_interface(st, &w);
}

static void scan(struct isc *st, const char *text, size_t len, bool conf)
{
    size_t pos = 0;
    const char *line;
    size_t n;
    st->lineno = 0;
    while (lease_next_line(text, len, &pos, &line, &n)) {
        if (st->lineno < 0x7FFFFFFF)
            st->lineno++;
        if (n > ISC_LINE_MAX)
            continue;
        if (conf) { /* declarations only */
            struct cursor c = {line, line + n};
            if (word_is(&c, "option")) {
                const char *name;
                size_t nn = word(&c, &name);
                declaration(st, name, nn, &c);
            }
            continue;
        }
        statement(st, line, n);
    }
}

static size_t emit(struct isc *st, struct lease_list *out)
{
    size_t kept = st->nkeep < ISC_KEEP ? st->nkeep : ISC_KEEP, added = 0;
    out->dropped += st->nkeep - kept;
    for (size_t i = st->nkeep - kept; i < st->nkeep; i++) {
        struct lease245 *e = lease_list_add(out, "dhclient");
        if (e) {
            *e = st->keep[i % ISC_KEEP];
            added++;
        }
    }
    if (!st->nkeep) {
        struct lease245 *e = lease_list_add(out, "dhclient");
        if (e) {
            snprintf(e->note, sizeof e->note, "no lease in this file carries option 245");
            added++;
        }
    }
    return added;
}

size_t lease_parse_dhclient_conf(const char *conf, size_t conf_len, const char *text, size_t len,
                                 long long now_epoch, struct lease_list *out)
{
    static const struct isc zero;
    struct isc st = zero;
    st.now = now_epoch;
    if (conf)
        scan(&st, conf, conf_len, true);
    if (text)
        scan(&st, text, len, false);
    if (st.b.open)
        close_block(&st, false);
    return emit(&st, out);
}

size_t lease_parse_dhclient(const char *text, size_t len, long long now_epoch, struct lease_list *out)
{
    return lease_parse_dhclient_conf(NULL, 0, text, len, now_epoch, out);
}
