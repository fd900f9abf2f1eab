/* libFuzzer target: dhcp_parse and dhcp_parse_frame on arbitrary bytes, with a differential
 * check (the same message parsed bare and inside a captured frame gives the same answer). */
#include <string.h>

#include "probe/dhcp_packet.h"
#include "tests/fuzz/fuzz.h"

static void check_reply(const struct dhcp_reply *r, int st)
{
    FUZZ_CHECK(st >= DHCP_OK && st <= DHCP_NOT_UDP_68);
    fuzz_check_str(r->problem, sizeof r->problem, false);
    FUZZ_CHECK((st == DHCP_OK) == (r->problem[0] == '\0'));
    fuzz_check_str(r->domain, sizeof r->domain, true);
    FUZZ_CHECK(r->dns_count <= DHCP_MAX_DNS);
    FUZZ_CHECK(r->route_count <= DHCP_MAX_ROUTES);
    for (size_t i = 0; i < r->route_count; i++)
        FUZZ_CHECK(r->routes[i].prefix <= 32);
    FUZZ_CHECK(!r->has_245 || r->count_245 >= 1);
    FUZZ_CHECK(!r->malformed_245 || r->malformed_245_len != 4);
}

static void same_answer(const struct dhcp_reply *a, int sa, const struct dhcp_reply *b, int sb)
{
    FUZZ_CHECK(sa == sb);
    FUZZ_CHECK(a->has_245 == b->has_245 && a->opt245 == b->opt245);
    FUZZ_CHECK(a->malformed_245 == b->malformed_245 && a->end_seen == b->end_seen);
    FUZZ_CHECK(a->msg_type == b->msg_type && a->route_count == b->route_count);
    FUZZ_CHECK(strcmp(a->domain, b->domain) == 0);
}

/* Wrap the bytes as a server's reply frame (UDP 67 -> 68) and parse that. */
static void as_frame(const uint8_t *data, size_t size, const struct dhcp_reply *bare, int st)
{
    static uint8_t frame[DHCP_FRAME_HDR + 4096];
    static const uint8_t server[6] = {2, 0, 0, 0, 0, 1};
    size_t n = dhcp_build_frame(frame, sizeof frame, server, data, size);
    if (!n)
        return;
    frame[14 + 20 + 1] = 67;
    frame[14 + 20 + 3] = 68;
    struct dhcp_reply r;
    int fs = dhcp_parse_frame(frame, n, &r);
    check_reply(&r, fs);
    same_answer(bare, st, &r, fs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dhcp_reply r, checked;
    int st = dhcp_parse(data, size, 0, NULL, &r);
    check_reply(&r, st);
    as_frame(data, size, &r, st);
    if (st != DHCP_TOO_SHORT && r.xid && r.hlen == 6) {
        /* checking the reply's own xid and chaddr changes nothing */
        int cs = dhcp_parse(data, size, r.xid, r.chaddr, &checked);
        check_reply(&checked, cs);
        same_answer(&r, st, &checked, cs);
    }
    st = dhcp_parse_frame(data, size, &r);
    check_reply(&r, st);
    return 0;
}
