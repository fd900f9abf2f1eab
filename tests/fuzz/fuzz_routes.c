/* libFuzzer target: the effective-route / route-table reader, then next-hop selection for a fixed set
 * of destinations plus four taken from the input. Invariants (abort on violation):
 *  - a failed load has a negative status, a printable message naming the file, and an empty table;
 *  - a chosen route is active, its matched prefix contains the destination, the drop / appliance /
 *    gateway flags follow its next hop, an overridden route is an inactive one;
 *  - the index and a plain walk over the routes choose the same route and prefix;
 *  - descriptions are printable; the VirtualNetwork extent ends with 168.63.129.16/32. */
#include <stdio.h>

#include "probe/diag/route_eval.h"
#include "tests/fuzz/fuzz.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static int fake_tags(void *ctx, const char *tag, uint32_t ip, struct prefix4 *m)
{
    (void)ctx;
    if (tag[0] != 'S' && tag[0] != 's')
        return -1;
    if (!((ip >> 24) & 1))
        return 0;
    if (m)
        *m = (struct prefix4){ip & 0xffff0000u, 16};
    return 1;
}

static void check_choice(const struct eroute_table *t, uint32_t dst, const struct tag_resolver *tags)
{
    static char buf[2048];
    struct route_choice c, plain_c;
    FUZZ_CHECK(route_select(t, dst, tags, &c) == 0);
    if (c.found) {
        FUZZ_CHECK(c.route != NULL && c.route->active);
        FUZZ_CHECK(prefix4_contains(&c.prefix, dst));
        FUZZ_CHECK(c.drop == (c.route->hop == ROUTE_HOP_NONE));
        FUZZ_CHECK(c.appliance == (c.route->hop == ROUTE_HOP_VIRTUAL_APPLIANCE));
        FUZZ_CHECK(c.gateway == (c.route->hop == ROUTE_HOP_VNET_GATEWAY));
        FUZZ_CHECK(!c.overridden || !c.overridden->active);
    } else {
        FUZZ_CHECK(c.route == NULL);
    }
    struct eroute_table plain = *t;
    plain.ix = NULL;
    FUZZ_CHECK(route_select(&plain, dst, tags, &plain_c) == 0);
    FUZZ_CHECK(plain_c.found == c.found && plain_c.route == c.route && plain_c.prefix.len == c.prefix.len);
    route_describe(&c, buf, sizeof buf);
    fuzz_check_str(buf, sizeof buf, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct eroute_table t;
    struct azj_error e;
    int rc = routes_load_buffer(&t, (const char *)data, size, "routes.json", &e);
    if (rc != AZJ_OK) {
        FUZZ_CHECK(rc < 0 && rc >= AZJ_ENOMEM && e.status == rc);
        fuzz_check_str(e.msg, sizeof e.msg, true);
        FUZZ_CHECK(strncmp(e.msg, "routes.json", 11) == 0);
        FUZZ_CHECK(t.n == 0 && t.ix == NULL);
        fuzz_check_str(t.input.file, sizeof t.input.file, true);
        routes_free(&t);
        return 0;
    }
    FUZZ_CHECK(t.input.shape != NULL);
    fuzz_check_str(t.input.warning, sizeof t.input.warning, true);
    static const uint32_t fixed[] = {IP4(13, 70, 208, 20), IP4(10, 50, 0, 4), IP4(10, 0, 1, 5), IP4(0, 0, 0, 0),
                                     IP4(255, 255, 255, 255), IP4(168, 63, 129, 16), IP4(172, 16, 0, 1)};
    const struct tag_resolver tags = {.lookup = fake_tags};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        check_choice(&t, fixed[i], NULL);
        check_choice(&t, fixed[i], &tags);
    }
    for (size_t i = 0; i + 4 <= size && i < 16; i += 4)
        check_choice(&t, (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 | (uint32_t)data[i + 2] << 8 | data[i + 3],
                     &tags);
    struct prefix4 vn[64];
    size_t n = routes_vnet_prefixes(&t, vn, 64);
    FUZZ_CHECK(n >= 1);
    if (n <= 64)
        FUZZ_CHECK(vn[n - 1].net == IP4(168, 63, 129, 16) && vn[n - 1].len == 32);
    (void)routes_forced_tunnel(&t);
    routes_free(&t);
    return 0;
}
