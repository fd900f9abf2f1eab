#include "probe/dhcp_packet.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Offsets in the fixed BOOTP/DHCP header (RFC 2131 section 2, figure 1). */
enum {
    OFF_OP = 0, OFF_HTYPE = 1, OFF_HLEN = 2, OFF_XID = 4, OFF_FLAGS = 10,
    OFF_YIADDR = 16, OFF_SIADDR = 20, OFF_CHADDR = 28, OFF_COOKIE = 236,
};

/* Option codes (RFC 2132; 121 is RFC 3442; 245 is Azure's site-specific code, RFC 3942). */
enum {
    OPT_PAD = 0, OPT_ROUTER = 3, OPT_DNS = 6, OPT_DOMAIN = 15, OPT_LEASE = 51, OPT_OVERLOAD = 52,
    OPT_MSGTYPE = 53, OPT_SERVER_ID = 54, OPT_CLASSLESS = 121, OPT_AZURE = 245, OPT_END = 255,
};

static const uint8_t cookie[4] = {99, 130, 83, 99}; /* RFC 2131 section 3 / RFC 2132 section 2 */

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

char *dhcp_ip_str(uint32_t a, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return buf;
}

const char *dhcp_status_name(int status)
{
    static const char *const names[] = {
        "ok", "too short", "not a reply", "bad magic cookie", "wrong xid", "wrong MAC",
        "truncated option", "not UDP to port 68",
    };
    if (status < 0 || (size_t)status >= sizeof names / sizeof names[0])
        return "unknown";
    return names[status];
}

__attribute__((format(printf, 3, 4)))
static int fail(struct dhcp_reply *out, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->problem, sizeof out->problem, fmt, ap);
    va_end(ap);
    return status;
}

/* ---- building ---------------------------------------------------------------------------- */

/* RFC 2131 section 4.4.1 (DISCOVER fields), section 2 (broadcast bit), RFC 1542 section 2.1
 * (300-octet minimum); option 53 per RFC 2132 section 9.6. Matches azure-platform.md 5.2. */
size_t dhcp_build_discover(uint8_t *buf, size_t size, const uint8_t mac[6], uint32_t xid, bool broadcast)
{
    if (!buf || !mac || size < DHCP_BOOTP_MIN)
        return 0;
    memset(buf, 0, DHCP_BOOTP_MIN);
    buf[OFF_OP] = 1;    /* BOOTREQUEST */
    buf[OFF_HTYPE] = 1; /* Ethernet */
    buf[OFF_HLEN] = 6;
    put32(buf + OFF_XID, xid);
    put16(buf + OFF_FLAGS, broadcast ? 0x8000 : 0);
    memcpy(buf + OFF_CHADDR, mac, 6);
    memcpy(buf + OFF_COOKIE, cookie, 4);
    static const uint8_t opts[] = {OPT_MSGTYPE, 1, 1 /* DHCPDISCOVER */, OPT_END};
    memcpy(buf + DHCP_OPTIONS_OFF, opts, sizeof opts);
    return DHCP_BOOTP_MIN;
}

/* RFC 791 section 3.1 header checksum: the ones' complement of the ones' complement sum of the
 * header's 16-bit words (computed as in RFC 1071 section 4.1). */
static uint16_t ip_checksum(const uint8_t *hdr, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += get16(hdr + i);
    if (len & 1)
        sum += (uint32_t)hdr[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

/* Ethernet II (RFC 894), IPv4 (RFC 791 section 3.1), UDP (RFC 768: checksum 0 = none on IPv4). */
size_t dhcp_build_frame(uint8_t *frame, size_t size, const uint8_t mac[6], const uint8_t *dhcp, size_t len)
{
    if (!frame || !mac || (!dhcp && len) || len > 65535 - 28 || size < DHCP_FRAME_HDR + len)
        return 0;
    memset(frame, 0xFF, 6);
    memcpy(frame + 6, mac, 6);
    put16(frame + 12, 0x0800);
    uint8_t *ip = frame + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45; /* version 4, IHL 5 */
    put16(ip + 2, (uint16_t)(20 + 8 + len));
    ip[8] = 64;   /* TTL */
    ip[9] = 17;   /* UDP */
    put32(ip + 16, 0xFFFFFFFFu);
    put16(ip + 10, ip_checksum(ip, 20));
    uint8_t *udp = ip + 20;
    put16(udp, 68);
    put16(udp + 2, 67);
    put16(udp + 4, (uint16_t)(8 + len));
    put16(udp + 6, 0);
    if (len)
        memmove(udp + 8, dhcp, len);
    return DHCP_FRAME_HDR + len;
}

/* ---- options ----------------------------------------------------------------------------- */

static void opt_domain(struct dhcp_reply *r, const uint8_t *d, size_t n)
{
    while (n && d[n - 1] == 0) /* some servers count a trailing NUL */
        n--;
    if (n > sizeof r->domain - 1)
        n = sizeof r->domain - 1;
    for (size_t i = 0; i < n; i++)
        r->domain[i] = d[i] >= 0x20 && d[i] < 0x7F ? (char)d[i] : '?';
    r->domain[n] = '\0';
}

/* RFC 3442 section 2: each route is a width (0..32), ceil(width / 8) significant octets of the
 * destination, then the 4-octet router. Only the octets given are read. */
static void opt_classless(struct dhcp_reply *r, const uint8_t *d, size_t n)
{
    r->route_count = 0;
    r->routes_more = r->routes_malformed = false;
    size_t i = 0;
    while (i < n) {
        unsigned width = d[i];
        size_t sig = (width + 7) / 8;
        if (width > 32 || n - i < 1 + sig + 4) {
            r->routes_malformed = true;
            return;
        }
        uint32_t dest = 0;
        for (size_t k = 0; k < sig; k++)
            dest |= (uint32_t)d[i + 1 + k] << (24 - 8 * k);
        if (r->route_count < DHCP_MAX_ROUTES) {
            struct dhcp_route *rt = &r->routes[r->route_count++];
            rt->dest = dest;
            rt->prefix = (uint8_t)width;
            rt->gateway = get32(d + i + 1 + sig);
        } else {
            r->routes_more = true;
        }
        i += 1 + sig + 4;
    }
}

/* Option 245: an IPv4 address, so exactly 4 octets (azure-platform.md 5.3 rule 5). */
static void opt_azure(struct dhcp_reply *r, const uint8_t *d, size_t n)
{
    if (r->count_245 < 0xFFFF)
        r->count_245++;
    if (n == 4) {
        r->has_245 = true;
        r->opt245 = get32(d);
    } else {
        r->malformed_245 = true;
        r->malformed_245_len = (uint8_t)n;
    }
}

static void opt_one(struct dhcp_reply *r, uint8_t code, const uint8_t *d, size_t n)
{
    switch (code) {
    case OPT_MSGTYPE: /* RFC 2132 section 9.6 */
        if (n >= 1)
            r->msg_type = d[0];
        break;
    case OPT_SERVER_ID: /* RFC 2132 section 9.7 */
        if (n == 4) {
            r->has_server_id = true;
            r->server_id = get32(d);
        }
        break;
    case OPT_ROUTER: /* RFC 2132 section 3.5: a list, first is preferred */
        if (n >= 4 && n % 4 == 0) {
            r->has_router = true;
            r->router = get32(d);
        }
        break;
    case OPT_DNS: /* RFC 2132 section 3.8 */
        r->dns_count = 0;
        for (size_t i = 0; i + 4 <= n && r->dns_count < DHCP_MAX_DNS; i += 4)
            r->dns[r->dns_count++] = get32(d + i);
        break;
    case OPT_DOMAIN: /* RFC 2132 section 3.17 */
        opt_domain(r, d, n);
        break;
    case OPT_LEASE: /* RFC 2132 section 9.2 */
        if (n == 4) {
            r->has_lease_time = true;
            r->lease_time = get32(d);
        }
        break;
    case OPT_OVERLOAD: /* RFC 2132 section 9.3: noted, sname/file are not parsed */
        if (n == 1)
            r->overload = d[0];
        break;
    case OPT_CLASSLESS:
        opt_classless(r, d, n);
        break;
    case OPT_AZURE:
        opt_azure(r, d, n);
        break;
    default:
        break;
    }
}

/* RFC 2132 section 2: PAD is one octet with no length, END stops; every other option is
 * code, length, data, and must lie wholly inside the message. */
static int walk_options(const uint8_t *p, size_t n, struct dhcp_reply *r)
{
    size_t i = DHCP_OPTIONS_OFF;
    while (i < n) {
        uint8_t code = p[i];
        if (code == OPT_PAD) {
            i++;
            continue;
        }
        if (code == OPT_END) {
            r->end_seen = true;
            return DHCP_OK;
        }
        if (i + 1 >= n)
            return fail(r, DHCP_TRUNCATED_OPTION, "option %u at offset %zu has no length byte", code, i);
        size_t olen = p[i + 1];
        if (i + 2 + olen > n)
            return fail(r, DHCP_TRUNCATED_OPTION, "option %u at offset %zu: length %zu runs past the %zu-byte message",
                        code, i, olen, n);
        opt_one(r, code, p + i + 2, olen);
        i += 2 + olen;
    }
    return DHCP_OK; /* no END: a soft error, end_seen stays false */
}

/* ---- parsing ----------------------------------------------------------------------------- */

static void fixed_fields(const uint8_t *p, struct dhcp_reply *r)
{
    r->op = p[OFF_OP];
    r->htype = p[OFF_HTYPE];
    r->hlen = p[OFF_HLEN];
    r->xid = get32(p + OFF_XID);
    r->flags = get16(p + OFF_FLAGS);
    r->yiaddr = get32(p + OFF_YIADDR);
    r->siaddr = get32(p + OFF_SIADDR);
    memcpy(r->chaddr, p + OFF_CHADDR, 6);
}

/* RFC 2131 sections 2 and 4.1: a client keeps only BOOTREPLY messages carrying its xid and
 * chaddr; the cookie marks DHCP options (RFC 2131 section 3). */
static int check_header(const uint8_t *p, uint32_t want_xid, const uint8_t *want_mac, struct dhcp_reply *r)
{
    if (r->op != 2)
        return fail(r, DHCP_NOT_REPLY, "op %u is not BOOTREPLY (2)", r->op);
    if (memcmp(p + OFF_COOKIE, cookie, 4) != 0)
        return fail(r, DHCP_BAD_COOKIE, "magic cookie %02x %02x %02x %02x is not 63 82 53 63", p[OFF_COOKIE],
                    p[OFF_COOKIE + 1], p[OFF_COOKIE + 2], p[OFF_COOKIE + 3]);
    if (want_xid && r->xid != want_xid)
        return fail(r, DHCP_WRONG_XID, "xid %08x is not the request's %08x", r->xid, want_xid);
    if (want_mac && (r->hlen != 6 || memcmp(r->chaddr, want_mac, 6) != 0))
        return fail(r, DHCP_WRONG_MAC, "chaddr %02x:%02x:%02x:%02x:%02x:%02x (hlen %u) is not the request's MAC",
                    r->chaddr[0], r->chaddr[1], r->chaddr[2], r->chaddr[3], r->chaddr[4], r->chaddr[5], r->hlen);
    return DHCP_OK;
}

int dhcp_parse(const uint8_t *p, size_t len, uint32_t want_xid, const uint8_t want_mac[6], struct dhcp_reply *out)
{
    memset(out, 0, sizeof *out);
    if (!p || len < DHCP_OPTIONS_OFF)
        return fail(out, DHCP_TOO_SHORT, "%zu bytes, a DHCP message needs at least %d", p ? len : 0,
                    DHCP_OPTIONS_OFF);
    fixed_fields(p, out);
    int st = check_header(p, want_xid, want_mac, out);
    if (st != DHCP_OK)
        return st;
    return walk_options(p, len, out);
}

/* ---- frames ------------------------------------------------------------------------------ */

/* Find the UDP payload of an Ethernet II frame (RFC 894; one IEEE 802.1Q tag allowed) carrying
 * IPv4 (RFC 791 section 3.1: IHL in 32-bit words, total length, fragments) and UDP (RFC 768). */
static int frame_payload(const uint8_t *f, size_t len, const uint8_t **payload, size_t *plen,
                         struct dhcp_reply *r)
{
    if (!f || len < DHCP_FRAME_HDR)
        return fail(r, DHCP_TOO_SHORT, "frame of %zu bytes is shorter than Ethernet+IPv4+UDP headers",
                    f ? len : 0);
    memcpy(r->eth_src, f + 6, 6);
    size_t off = 12;
    uint16_t type = get16(f + off);
    if (type == 0x8100) {
        off += 4;
        type = get16(f + off);
    }
    off += 2;
    if (type != 0x0800)
        return fail(r, DHCP_NOT_UDP_68, "ethertype 0x%04x is not IPv4", type);
    const uint8_t *ip = f + off;
    size_t room = len - off;
    if (room < 20)
        return fail(r, DHCP_TOO_SHORT, "frame ends inside the IPv4 header");
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if (ip[0] >> 4 != 4 || ihl < 20)
        return fail(r, DHCP_NOT_UDP_68, "IPv4 version/IHL byte 0x%02x is invalid", ip[0]);
    size_t total = get16(ip + 2);
    if (total < ihl + 8)
        return fail(r, DHCP_NOT_UDP_68, "IPv4 total length %zu cannot hold a %zu-byte header and UDP", total, ihl);
    if (total > room)
        return fail(r, DHCP_TOO_SHORT, "IPv4 total length %zu exceeds the %zu captured bytes", total, room);
    if (get16(ip + 6) & 0x3FFF)
        return fail(r, DHCP_NOT_UDP_68, "IPv4 fragment (flags/offset 0x%04x)", get16(ip + 6));
    if (ip[9] != 17)
        return fail(r, DHCP_NOT_UDP_68, "IPv4 protocol %u is not UDP", ip[9]);
    r->ip_src = get32(ip + 12);
    const uint8_t *udp = ip + ihl;
    size_t ulen = get16(udp + 4);
    if (get16(udp + 2) != 68)
        return fail(r, DHCP_NOT_UDP_68, "UDP destination port %u is not 68", get16(udp + 2));
    if (ulen < 8 || ulen > total - ihl)
        return fail(r, DHCP_NOT_UDP_68, "UDP length %zu does not fit the %zu-byte IPv4 payload", ulen, total - ihl);
    *payload = udp + 8;
    *plen = ulen - 8;
    return DHCP_OK;
}

int dhcp_parse_frame_for(const uint8_t *frame, size_t len, uint32_t want_xid, const uint8_t want_mac[6],
                         struct dhcp_reply *out)
{
    memset(out, 0, sizeof *out);
    const uint8_t *payload = NULL;
    size_t plen = 0;
    int st = frame_payload(frame, len, &payload, &plen, out);
    if (st != DHCP_OK)
        return st;
    uint8_t src[6];
    uint32_t ip_src = out->ip_src;
    memcpy(src, out->eth_src, 6);
    st = dhcp_parse(payload, plen, want_xid, want_mac, out);
    memcpy(out->eth_src, src, 6);
    out->ip_src = ip_src;
    return st;
}

int dhcp_parse_frame(const uint8_t *frame, size_t len, struct dhcp_reply *out)
{
    return dhcp_parse_frame_for(frame, len, 0, NULL, out);
}
