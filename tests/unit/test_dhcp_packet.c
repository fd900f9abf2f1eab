/* DHCP DISCOVER building and reply parsing: the real Azure OFFER from WALinuxAgent's tests
 * (tests/fixtures/leases/dhcp), synthetic replies for every option rule and return code, and the
 * frame libpcap injects and captures. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/dhcp_packet.h"
#include "probe/sysfile.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const uint8_t azure_mac[6] = {0x00, 0x15, 0x5d, 0x38, 0xaa, 0x38};
static const uint32_t azure_xid = 0xc6aad15d;
static const uint8_t mac[6] = {0x00, 0x0d, 0x3a, 0x01, 0x02, 0x03};

static uint8_t *offer_sample(size_t *len)
{
    char *text = sysfile_read_abs("tests/fixtures/leases/dhcp", 4096, len);
    assert_non_null(text);
    assert_int_equal(*len, 328);
    return (uint8_t *)text;
}

/* ---- a synthetic reply ------------------------------------------------------------------- */

struct pkt {
    uint8_t b[1500];
    size_t n;
};

static void reply_header(struct pkt *p, uint32_t xid)
{
    memset(p, 0, sizeof *p);
    p->b[0] = 2;
    p->b[1] = 1;
    p->b[2] = 6;
    p->b[4] = (uint8_t)(xid >> 24);
    p->b[5] = (uint8_t)(xid >> 16);
    p->b[6] = (uint8_t)(xid >> 8);
    p->b[7] = (uint8_t)xid;
    p->b[16] = 10, p->b[17] = 0, p->b[18] = 1, p->b[19] = 4; /* yiaddr 10.0.1.4 */
    memcpy(p->b + 28, mac, 6);
    p->b[236] = 99, p->b[237] = 130, p->b[238] = 83, p->b[239] = 99;
    p->n = 240;
}

static void put(struct pkt *p, const uint8_t *bytes, size_t n)
{
    assert_true(p->n + n <= sizeof p->b);
    memcpy(p->b + p->n, bytes, n);
    p->n += n;
}

#define PUT(p, ...) put((p), (const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__}))

static void offer_with_245(struct pkt *p, uint32_t xid)
{
    reply_header(p, xid);
    PUT(p, 53, 1, 2, 54, 4, 168, 63, 129, 16, 3, 4, 10, 0, 1, 1, 51, 4, 0, 0, 0x0e, 0x10);
    PUT(p, 245, 4, 0xa8, 0x3f, 0x81, 0x10);
}

/* Parse from a heap copy of exactly n bytes, so a sanitizer build catches any over-read. */
static int parse_exact(const uint8_t *b, size_t n, uint32_t xid, const uint8_t *want_mac, struct dhcp_reply *r)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, b, n);
    int st = dhcp_parse(copy, n, xid, want_mac, r);
    free(copy);
    return st;
}

/* ---- the Azure OFFER --------------------------------------------------------------------- */

static void test_azure_offer(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = offer_sample(&len);
    struct dhcp_reply r;
    assert_int_equal(parse_exact(p, len, azure_xid, azure_mac, &r), DHCP_OK);
    assert_int_equal(r.op, 2);
    assert_int_equal(r.msg_type, 2); /* DHCPOFFER */
    assert_int_equal(r.xid, azure_xid);
    assert_memory_equal(r.chaddr, azure_mac, 6);
    assert_int_equal(r.yiaddr, IP(10, 62, 144, 96));
    assert_int_equal(r.siaddr, IP(10, 62, 3, 42));
    assert_true(r.has_server_id);
    assert_int_equal(r.server_id, IP(10, 62, 3, 42));
    assert_true(r.has_router);
    assert_int_equal(r.router, IP(10, 62, 144, 1));
    assert_int_equal(r.dns_count, 1);
    assert_int_equal(r.dns[0], IP(10, 62, 144, 140));
    assert_string_equal(r.domain, "test-cs12.h1.internal.cloudapp.net");
    assert_true(r.has_lease_time);
    assert_int_equal(r.lease_time, 0xFFFFFFFFu);
    assert_true(r.has_245);
    assert_int_equal(r.opt245, IP(10, 62, 144, 140)); /* not the usual 168.63.129.16 */
    assert_false(r.malformed_245);
    assert_int_equal(r.count_245, 1);
    assert_true(r.end_seen);
    assert_int_equal(r.overload, 0);
    assert_int_equal(r.route_count, 0);
    char ip[16];
    assert_string_equal(dhcp_ip_str(r.opt245, ip, sizeof ip), "10.62.144.140");
    assert_string_equal(r.problem, "");
    free(p);
}

/* Every prefix of the real OFFER: short ones are refused, cut options are truncated (keeping
 * what came before), and nothing reads past the cut. */
static void test_azure_offer_prefixes(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = offer_sample(&len);
    struct dhcp_reply r;
    for (size_t n = 0; n <= len; n++) {
        int st = parse_exact(p, n, azure_xid, azure_mac, &r);
        if (n < 240)
            assert_int_equal(st, DHCP_TOO_SHORT);
        else
            assert_true(st == DHCP_OK || st == DHCP_TRUNCATED_OPTION);
    }
    /* cut inside the 245 option's data (it starts at 0xFF: code f5 len 04 at 0xFF, 0x100) */
    assert_int_equal(parse_exact(p, 0x103, azure_xid, azure_mac, &r), DHCP_TRUNCATED_OPTION);
    assert_int_equal(r.msg_type, 2);
    assert_int_equal(r.dns_count, 1);
    assert_false(r.has_245);
    assert_non_null(strstr(r.problem, "option 245"));
    /* cut right after 245: fine, no END */
    assert_int_equal(parse_exact(p, 0x105, azure_xid, azure_mac, &r), DHCP_OK);
    assert_true(r.has_245);
    assert_false(r.end_seen);
    free(p);
}

/* The OFFER as libpcap captures it, IPv4 header with options, and with an 802.1Q tag. */
static size_t reply_frame(uint8_t *frame, size_t size, const uint8_t *dhcp, size_t len, size_t ip_opts, bool vlan);

static void test_azure_offer_frame(void **state)
{
    (void)state;
    size_t len;
    uint8_t *p = offer_sample(&len);
    uint8_t frame[1600];
    struct dhcp_reply r;
    for (int variant = 0; variant < 3; variant++) {
        size_t n = reply_frame(frame, sizeof frame, p, len, variant == 1 ? 8 : 0, variant == 2);
        assert_int_equal(dhcp_parse_frame(frame, n, &r), DHCP_OK);
        assert_int_equal(r.opt245, IP(10, 62, 144, 140));
        assert_int_equal(r.ip_src, IP(168, 63, 129, 16));
        assert_int_equal(r.eth_src[0], 0x12);
        assert_int_equal(dhcp_parse_frame_for(frame, n, azure_xid, azure_mac, &r), DHCP_OK);
        assert_int_equal(dhcp_parse_frame_for(frame, n, azure_xid + 1, azure_mac, &r), DHCP_WRONG_XID);
        assert_int_equal(r.ip_src, IP(168, 63, 129, 16)); /* frame fields survive a rejection */
        /* Ethernet padding after the IPv4 datagram is ignored */
        assert_int_equal(dhcp_parse_frame(frame, n + 20, &r), DHCP_OK);
        assert_true(r.end_seen);
    }
    free(p);
}

/* ---- synthetic replies ------------------------------------------------------------------- */

static void test_synthetic_offer_245_and_121(void **state)
{
    (void)state;
    struct pkt p;
    offer_with_245(&p, 0x01020304);
    /* RFC 3442: 0/0 via 10.0.1.1, 168.63.129.16/32 via 10.0.1.1, 10.1/16 via 10.0.1.254,
     * 172.16/12 via 10.0.1.1 (12 bits: 2 significant octets) */
    PUT(&p, 121, 28, 0, 10, 0, 1, 1, 32, 168, 63, 129, 16, 10, 0, 1, 1, 16, 10, 1, 10, 0, 1, 254, 12, 172, 16, 10,
        0, 1, 1);
    PUT(&p, 6, 8, 168, 63, 129, 16, 8, 8, 8, 8, 15, 6, 'a', 'z', 0x07, 'r', 'e', 0, 255);
    struct dhcp_reply r;
    assert_int_equal(parse_exact(p.b, p.n, 0x01020304, mac, &r), DHCP_OK);
    assert_int_equal(r.msg_type, 2);
    assert_true(r.has_245);
    assert_int_equal(r.opt245, DHCP_WIRESERVER);
    assert_int_equal(r.server_id, IP(168, 63, 129, 16));
    assert_int_equal(r.router, IP(10, 0, 1, 1));
    assert_int_equal(r.lease_time, 3600);
    assert_int_equal(r.yiaddr, IP(10, 0, 1, 4));
    assert_int_equal(r.route_count, 4);
    assert_false(r.routes_malformed);
    assert_false(r.routes_more);
    assert_int_equal(r.routes[0].prefix, 0);
    assert_int_equal(r.routes[0].dest, 0);
    assert_int_equal(r.routes[0].gateway, IP(10, 0, 1, 1));
    assert_int_equal(r.routes[1].prefix, 32);
    assert_int_equal(r.routes[1].dest, DHCP_WIRESERVER);
    assert_int_equal(r.routes[2].prefix, 16);
    assert_int_equal(r.routes[2].dest, IP(10, 1, 0, 0));
    assert_int_equal(r.routes[2].gateway, IP(10, 0, 1, 254));
    assert_int_equal(r.routes[3].prefix, 12);
    assert_int_equal(r.routes[3].dest, IP(172, 16, 0, 0));
    assert_int_equal(r.dns_count, 2);
    assert_int_equal(r.dns[1], IP(8, 8, 8, 8));
    assert_string_equal(r.domain, "az?re"); /* control byte shown, trailing NUL dropped */
    assert_true(r.end_seen);
}

static void test_classless_routes_bounds(void **state)
{
    (void)state;
    struct pkt p;
    struct dhcp_reply r;
    offer_with_245(&p, 1);
    PUT(&p, 121, 6, 33, 10, 0, 0, 0, 1, 255); /* width 33 */
    assert_int_equal(parse_exact(p.b, p.n, 1, mac, &r), DHCP_OK);
    assert_true(r.routes_malformed);
    assert_int_equal(r.route_count, 0);
    offer_with_245(&p, 1);
    PUT(&p, 121, 8, 0, 10, 0, 1, 1, 24, 10, 0, 255); /* second route cut inside */
    assert_int_equal(parse_exact(p.b, p.n, 1, mac, &r), DHCP_OK);
    assert_true(r.routes_malformed);
    assert_int_equal(r.route_count, 1);
    offer_with_245(&p, 1);
    uint8_t many[2 + 10 * 9] = {121, 10 * 9};
    for (int i = 0; i < 10; i++) {
        uint8_t *rt = many + 2 + 9 * i;
        rt[0] = 32, rt[1] = 10, rt[2] = 9, rt[3] = 9, rt[4] = (uint8_t)i, rt[5] = 10, rt[6] = 0, rt[7] = 0, rt[8] = 1;
    }
    put(&p, many, sizeof many);
    assert_int_equal(parse_exact(p.b, p.n, 1, mac, &r), DHCP_OK);
    assert_int_equal(r.route_count, DHCP_MAX_ROUTES);
    assert_true(r.routes_more);
    assert_false(r.routes_malformed);
    assert_int_equal(r.routes[7].dest, IP(10, 9, 9, 7));
    assert_true(r.has_245);
}

static void test_pad_runs(void **state)
{
    (void)state;
    struct pkt p;
    reply_header(&p, 7);
    PUT(&p, 0, 0, 0, 0, 0, 0, 0, 53, 1, 5, 0, 0, 0, 245, 4, 168, 63, 129, 16, 0, 0, 255, 245, 4, 1, 2, 3, 4);
    struct dhcp_reply r;
    assert_int_equal(parse_exact(p.b, p.n, 7, mac, &r), DHCP_OK);
    assert_int_equal(r.msg_type, 5);
    assert_int_equal(r.opt245, DHCP_WIRESERVER); /* nothing after END is read */
    assert_int_equal(r.count_245, 1);
    assert_true(r.end_seen);
    /* only PADs to the end of the buffer: no END, no options */
    reply_header(&p, 7);
    memset(p.b + 240, 0, 60);
    p.n = 300;
    assert_int_equal(parse_exact(p.b, p.n, 7, mac, &r), DHCP_OK);
    assert_false(r.end_seen);
    assert_int_equal(r.msg_type, 0);
    assert_false(r.has_245);
}

static void test_no_end(void **state)
{
    (void)state;
    struct pkt p;
    offer_with_245(&p, 9);
    struct dhcp_reply r;
    assert_int_equal(parse_exact(p.b, p.n, 9, mac, &r), DHCP_OK);
    assert_false(r.end_seen);
    assert_true(r.has_245);
    assert_int_equal(r.opt245, DHCP_WIRESERVER);
    reply_header(&p, 9); /* exactly 240 bytes: no options at all */
    assert_int_equal(parse_exact(p.b, p.n, 9, mac, &r), DHCP_OK);
    assert_false(r.end_seen);
    assert_false(r.has_245);
}

static void test_245_lengths(void **state)
{
    (void)state;
    struct pkt p;
    struct dhcp_reply r;
    reply_header(&p, 3);
    PUT(&p, 53, 1, 2, 245, 3, 168, 63, 129, 255);
    assert_int_equal(parse_exact(p.b, p.n, 3, mac, &r), DHCP_OK);
    assert_false(r.has_245);
    assert_true(r.malformed_245);
    assert_int_equal(r.malformed_245_len, 3);
    reply_header(&p, 3);
    PUT(&p, 53, 1, 2, 245, 5, 168, 63, 129, 16, 1, 255);
    assert_int_equal(parse_exact(p.b, p.n, 3, mac, &r), DHCP_OK);
    assert_false(r.has_245);
    assert_true(r.malformed_245);
    assert_int_equal(r.malformed_245_len, 5);
    reply_header(&p, 3);
    PUT(&p, 245, 0, 255); /* empty */
    assert_int_equal(parse_exact(p.b, p.n, 3, mac, &r), DHCP_OK);
    assert_true(r.malformed_245);
    assert_int_equal(r.malformed_245_len, 0);
    /* the last well-formed occurrence wins; a malformed one does not erase it */
    reply_header(&p, 3);
    PUT(&p, 245, 4, 10, 0, 0, 1, 245, 4, 168, 63, 129, 16, 245, 3, 1, 2, 3, 255);
    assert_int_equal(parse_exact(p.b, p.n, 3, mac, &r), DHCP_OK);
    assert_true(r.has_245);
    assert_int_equal(r.opt245, DHCP_WIRESERVER);
    assert_true(r.malformed_245);
    assert_int_equal(r.count_245, 3);
}

static void test_option_overrun(void **state)
{
    (void)state;
    struct pkt p;
    struct dhcp_reply r;
    reply_header(&p, 4);
    PUT(&p, 53, 1, 2, 245, 4, 168, 63, 129, 16, 15, 200, 'a', 'b');
    assert_int_equal(parse_exact(p.b, p.n, 4, mac, &r), DHCP_TRUNCATED_OPTION);
    assert_int_equal(r.msg_type, 2); /* kept */
    assert_true(r.has_245);          /* kept */
    assert_string_equal(r.domain, "");
    assert_non_null(strstr(r.problem, "option 15"));
    reply_header(&p, 4);
    PUT(&p, 53, 1, 2, 245); /* a code with no length byte */
    assert_int_equal(parse_exact(p.b, p.n, 4, mac, &r), DHCP_TRUNCATED_OPTION);
    assert_non_null(strstr(r.problem, "no length byte"));
    assert_false(r.has_245);
    reply_header(&p, 4);
    PUT(&p, 245, 5, 168, 63, 129, 16); /* length one past the end */
    assert_int_equal(parse_exact(p.b, p.n, 4, mac, &r), DHCP_TRUNCATED_OPTION);
    assert_false(r.has_245);
    assert_false(r.malformed_245);
}

static void test_overload_noted(void **state)
{
    (void)state;
    struct pkt p;
    reply_header(&p, 5);
    memcpy(p.b + 108, (const uint8_t[]){245, 4, 1, 2, 3, 4, 255}, 7); /* in `file`: not followed */
    PUT(&p, 53, 1, 2, 52, 1, 1, 255);
    struct dhcp_reply r;
    assert_int_equal(parse_exact(p.b, p.n, 5, mac, &r), DHCP_OK);
    assert_int_equal(r.overload, 1);
    assert_false(r.has_245);
}

static void test_return_codes(void **state)
{
    (void)state;
    struct pkt p;
    struct dhcp_reply r;
    offer_with_245(&p, 0x11223344);
    PUT(&p, 255);
    assert_int_equal(parse_exact(p.b, p.n, 0x11223344, mac, &r), DHCP_OK);
    assert_int_equal(parse_exact(p.b, p.n, 0, NULL, &r), DHCP_OK); /* 0 / NULL: not checked */

    assert_int_equal(parse_exact(p.b, 239, 0x11223344, mac, &r), DHCP_TOO_SHORT);
    assert_non_null(strstr(r.problem, "239 bytes"));
    assert_int_equal(dhcp_parse(NULL, 500, 0, NULL, &r), DHCP_TOO_SHORT);

    p.b[0] = 1;
    assert_int_equal(parse_exact(p.b, p.n, 0x11223344, mac, &r), DHCP_NOT_REPLY);
    assert_int_equal(r.op, 1);
    p.b[0] = 2;

    p.b[239] = 98;
    assert_int_equal(parse_exact(p.b, p.n, 0x11223344, mac, &r), DHCP_BAD_COOKIE);
    assert_non_null(strstr(r.problem, "63 82 53 62"));
    p.b[239] = 99;

    assert_int_equal(parse_exact(p.b, p.n, 0x11223345, mac, &r), DHCP_WRONG_XID);
    assert_int_equal(r.xid, 0x11223344);
    assert_false(r.has_245); /* options of another client's reply are not parsed */

    uint8_t other[6] = {0x00, 0x0d, 0x3a, 0x01, 0x02, 0x04};
    assert_int_equal(parse_exact(p.b, p.n, 0x11223344, other, &r), DHCP_WRONG_MAC);
    p.b[2] = 16; /* right bytes, wrong hlen */
    assert_int_equal(parse_exact(p.b, p.n, 0x11223344, mac, &r), DHCP_WRONG_MAC);
    assert_int_equal(parse_exact(p.b, p.n, 0x11223344, NULL, &r), DHCP_OK);
    p.b[2] = 6;

    p.b[p.n - 1] = 15; /* END becomes a code with no length */
    assert_int_equal(parse_exact(p.b, p.n, 0x11223344, mac, &r), DHCP_TRUNCATED_OPTION);

    static const struct {
        int st;
        const char *name;
    } names[] = {{DHCP_OK, "ok"}, {DHCP_TOO_SHORT, "too short"}, {DHCP_NOT_REPLY, "not a reply"},
                 {DHCP_BAD_COOKIE, "bad magic cookie"}, {DHCP_WRONG_XID, "wrong xid"}, {DHCP_WRONG_MAC, "wrong MAC"},
                 {DHCP_TRUNCATED_OPTION, "truncated option"}, {DHCP_NOT_UDP_68, "not UDP to port 68"}, {-1, "unknown"},
                 {99, "unknown"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(dhcp_status_name(names[i].st), names[i].name);
}

/* ---- building ---------------------------------------------------------------------------- */

static void test_build_discover(void **state)
{
    (void)state;
    uint8_t b[400];
    memset(b, 0xAA, sizeof b);
    assert_int_equal(dhcp_build_discover(b, 299, mac, 1, true), 0);
    assert_int_equal(dhcp_build_discover(b, sizeof b, mac, 0xdeadbeef, true), 300);
    /* azure-platform.md 5.2 */
    assert_int_equal(b[0x00], 1);
    assert_int_equal(b[0x01], 1);
    assert_int_equal(b[0x02], 6);
    assert_int_equal(b[0x03], 0);
    assert_memory_equal(b + 0x04, ((const uint8_t[]){0xde, 0xad, 0xbe, 0xef}), 4);
    assert_memory_equal(b + 0x08, ((const uint8_t[]){0, 0}), 2);
    assert_memory_equal(b + 0x0A, ((const uint8_t[]){0x80, 0x00}), 2);
    for (size_t i = 0x0C; i < 0x1C; i++)
        assert_int_equal(b[i], 0); /* ciaddr yiaddr siaddr giaddr */
    assert_memory_equal(b + 0x1C, mac, 6);
    for (size_t i = 0x22; i < 0xEC; i++)
        assert_int_equal(b[i], 0); /* chaddr padding, sname, file */
    assert_memory_equal(b + 0xEC, ((const uint8_t[]){0x63, 0x82, 0x53, 0x63}), 4);
    assert_memory_equal(b + 0xF0, ((const uint8_t[]){0x35, 0x01, 0x01, 0xFF}), 4);
    for (size_t i = 0xF4; i < 300; i++)
        assert_int_equal(b[i], 0); /* padding to the BOOTP minimum; no option 55 */
    assert_int_equal(b[300], 0xAA); /* nothing past 300 written */
    assert_int_equal(dhcp_build_discover(b, sizeof b, mac, 0xdeadbeef, false), 300);
    assert_memory_equal(b + 0x0A, ((const uint8_t[]){0, 0}), 2);
    /* our own request is not a reply */
    struct dhcp_reply r;
    assert_int_equal(dhcp_parse(b, 300, 0xdeadbeef, mac, &r), DHCP_NOT_REPLY);
    assert_int_equal(r.xid, 0xdeadbeef);
}

/* The RFC 791 checksum, recomputed here independently: the ones' complement sum of all 16-bit
 * words of a correct header, checksum field included, is 0xFFFF. */
static uint16_t ones_sum(const uint8_t *h, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i < n; i += 2)
        s += (uint32_t)(h[i] << 8 | h[i + 1]);
    while (s > 0xFFFF)
        s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)s;
}

static void test_build_frame(void **state)
{
    (void)state;
    uint8_t d[300], f[400];
    assert_int_equal(dhcp_build_discover(d, sizeof d, mac, 0x01020304, true), 300);
    assert_int_equal(dhcp_build_frame(f, 341, mac, d, 300), 0);
    assert_int_equal(dhcp_build_frame(f, sizeof f, mac, d, 300), 342);
    assert_memory_equal(f, ((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), 6);
    assert_memory_equal(f + 6, mac, 6);
    assert_memory_equal(f + 12, ((const uint8_t[]){0x08, 0x00}), 2);
    const uint8_t *ip = f + 14;
    assert_int_equal(ip[0], 0x45);
    assert_int_equal(ip[2] << 8 | ip[3], 328);
    assert_int_equal(ip[6] << 8 | ip[7], 0); /* not fragmented */
    assert_int_equal(ip[8], 64);
    assert_int_equal(ip[9], 17);
    assert_memory_equal(ip + 12, ((const uint8_t[]){0, 0, 0, 0}), 4);
    assert_memory_equal(ip + 16, ((const uint8_t[]){255, 255, 255, 255}), 4);
    assert_int_equal(ones_sum(ip, 20), 0xFFFF);
    assert_int_not_equal(ip[10] << 8 | ip[11], 0);
    uint8_t copy[20];
    memcpy(copy, ip, 20);
    copy[10] = copy[11] = 0;
    uint16_t want = (uint16_t)~ones_sum(copy, 20);
    assert_int_equal(ip[10] << 8 | ip[11], want);
    const uint8_t *udp = ip + 20;
    assert_int_equal(udp[0] << 8 | udp[1], 68);
    assert_int_equal(udp[2] << 8 | udp[3], 67);
    assert_int_equal(udp[4] << 8 | udp[5], 308);
    assert_int_equal(udp[6] << 8 | udp[7], 0); /* no UDP checksum (RFC 768) */
    assert_memory_equal(udp + 8, d, 300);
    /* a request to port 67 is not a capture we want */
    struct dhcp_reply r;
    assert_int_equal(dhcp_parse_frame(f, 342, &r), DHCP_NOT_UDP_68);
    assert_non_null(strstr(r.problem, "port 67"));
    assert_int_equal(dhcp_build_frame(f, sizeof f, mac, NULL, 1), 0);
    assert_int_equal(dhcp_build_frame(f, sizeof f, mac, d, 70000), 0);
}

/* A server's reply frame: Ethernet from 12:34:56:78:9a:bc, IPv4 168.63.129.16 -> 255.255.255.255
 * with ip_opts bytes of IPv4 options, UDP 67 -> 68. */
static size_t reply_frame(uint8_t *frame, size_t size, const uint8_t *dhcp, size_t len, size_t ip_opts, bool vlan)
{
    static const uint8_t server[6] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
    size_t n = dhcp_build_frame(frame, size, server, dhcp, len);
    assert_int_not_equal(n, 0);
    uint8_t *ip = frame + 14;
    ip[12] = 168, ip[13] = 63, ip[14] = 129, ip[15] = 16;
    ip[20] = 0, ip[21] = 67, ip[22] = 0, ip[23] = 68;
    if (ip_opts) {
        assert_true(n + ip_opts <= size);
        memmove(ip + 20 + ip_opts, ip + 20, n - 34);
        memset(ip + 20, 1, ip_opts); /* NOP options */
        ip[0] = (uint8_t)(0x40 | (20 + ip_opts) / 4);
        size_t total = (size_t)(ip[2] << 8 | ip[3]) + ip_opts;
        ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total;
        n += ip_opts;
    }
    if (vlan) {
        assert_true(n + 4 <= size);
        memmove(frame + 16, frame + 12, n - 12);
        frame[12] = 0x81, frame[13] = 0x00, frame[14] = 0x00, frame[15] = 0x05;
        n += 4;
    }
    return n;
}

static void test_frame_rejections(void **state)
{
    (void)state;
    struct pkt p;
    offer_with_245(&p, 42);
    PUT(&p, 255);
    uint8_t f[1600], g[1600];
    struct dhcp_reply r;
    size_t n = reply_frame(f, sizeof f, p.b, p.n, 0, false);
    assert_int_equal(dhcp_parse_frame(f, n, &r), DHCP_OK);
    assert_int_equal(r.opt245, DHCP_WIRESERVER);

    assert_int_equal(dhcp_parse_frame(f, 41, &r), DHCP_TOO_SHORT);
    assert_int_equal(dhcp_parse_frame(NULL, 0, &r), DHCP_TOO_SHORT);
    assert_int_equal(dhcp_parse_frame(f, n - 1, &r), DHCP_TOO_SHORT); /* IPv4 length > captured */
    assert_non_null(strstr(r.problem, "captured"));

    memcpy(g, f, n);
    g[12] = 0x86, g[13] = 0xdd; /* IPv6 */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    memcpy(g, f, n);
    g[14 + 9] = 6; /* TCP */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    memcpy(g, f, n);
    g[14] = 0x44; /* IHL 4 */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    memcpy(g, f, n);
    g[14] = 0x65; /* version 6 */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    memcpy(g, f, n);
    g[14] = 0x4F; /* IHL 15: 60-byte header, fits, but the UDP header then lies past total */
    assert_int_not_equal(dhcp_parse_frame(g, n, &r), DHCP_OK);
    memcpy(g, f, n);
    g[14 + 6] = 0x20; /* more fragments */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    assert_non_null(strstr(r.problem, "fragment"));
    memcpy(g, f, n);
    g[14 + 2] = 0, g[14 + 3] = 27; /* total length below IHL + UDP */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    memcpy(g, f, n);
    g[34 + 3] = 67; /* to port 67 */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    memcpy(g, f, n);
    g[34 + 4] = 0xFF, g[34 + 5] = 0xFF; /* UDP length past the datagram */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    memcpy(g, f, n);
    g[34 + 4] = 0, g[34 + 5] = 7; /* UDP length below its header */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_UDP_68);
    memcpy(g, f, n);
    g[34 + 4] = 0, g[34 + 5] = 8 + 100; /* a UDP payload of 100 bytes: too short for DHCP */
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_TOO_SHORT);
    /* the DHCP rejections come through the frame parser too */
    assert_int_equal(dhcp_parse_frame_for(f, n, 42, mac, &r), DHCP_OK);
    assert_int_equal(dhcp_parse_frame_for(f, n, 42, (const uint8_t[]){1, 2, 3, 4, 5, 6}, &r), DHCP_WRONG_MAC);
    memcpy(g, f, n);
    g[42] = 1;
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_NOT_REPLY);
    memcpy(g, f, n);
    g[42 + 236] = 0;
    assert_int_equal(dhcp_parse_frame(g, n, &r), DHCP_BAD_COOKIE);
    /* every prefix of the frame is refused or parsed without reading past it */
    for (size_t k = 0; k <= n; k++) {
        uint8_t *copy = malloc(k ? k : 1);
        assert_non_null(copy);
        memcpy(copy, f, k);
        int st = dhcp_parse_frame(copy, k, &r);
        assert_true(k == n ? st == DHCP_OK : st == DHCP_TOO_SHORT);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_azure_offer),
        cmocka_unit_test(test_azure_offer_prefixes),
        cmocka_unit_test(test_azure_offer_frame),
        cmocka_unit_test(test_synthetic_offer_245_and_121),
        cmocka_unit_test(test_classless_routes_bounds),
        cmocka_unit_test(test_pad_runs),
        cmocka_unit_test(test_no_end),
        cmocka_unit_test(test_245_lengths),
        cmocka_unit_test(test_option_overrun),
        cmocka_unit_test(test_overload_noted),
        cmocka_unit_test(test_return_codes),
        cmocka_unit_test(test_build_discover),
        cmocka_unit_test(test_build_frame),
        cmocka_unit_test(test_frame_rejections),
    };
    return cmocka_run_group_tests_name("dhcp_packet", tests, NULL, NULL);
}
