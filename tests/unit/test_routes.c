/* Unit tests: probe/routes.c (/proc/net/route parsing and longest-prefix lookup). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "probe/routes.h"

/* An Azure VM: default via 10.0.0.1, the platform /32s pushed by DHCP option 121, a blackhole. */
static const char azure[] =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    "eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
    "eth0\t10813FA8\t0100000A\t0007\t0\t0\t100\tFFFFFFFF\t0\t0\t0\n"
    "eth1\t00000000\t0101000A\t0003\t0\t0\t200\t00000000\t0\t0\t0\n"
    "*\tFEA9FEA9\t00000000\t0201\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n";

static uint32_t addr(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

static void test_parse_and_lookup(void **state)
{
    (void)state;
    struct route_table *t = calloc(1, sizeof *t);
    assert_non_null(t);
    routes_parse(azure, strlen(azure), t);
    assert_int_equal(t->count, 5);
    assert_int_equal(t->bad_lines, 0);
    char desc[160];
    const struct route_entry *e = routes_lookup(t, addr("168.63.129.16"));
    assert_non_null(e);
    routes_describe(e, desc, sizeof desc);
    assert_string_equal(desc, "168.63.129.16/32 via 10.0.0.1 dev eth0 metric 100");
    assert_int_equal(e->line, 4);
    e = routes_lookup(t, addr("169.254.169.254")); /* the blackhole wins over the default route */
    assert_non_null(e);
    assert_true(e->flags & RTF_REJECT_FLAG);
    routes_describe(e, desc, sizeof desc);
    assert_non_null(strstr(desc, "blackhole 169.254.169.254/32"));
    e = routes_lookup(t, addr("10.0.0.9"));
    routes_describe(e, desc, sizeof desc);
    assert_string_equal(desc, "10.0.0.0/24 dev eth0 metric 100 (on-link)");
    e = routes_lookup(t, addr("20.60.1.2")); /* two defaults: the lower metric */
    assert_string_equal(e->iface, "eth0");
    char iface[32];
    assert_true(routes_default_iface(t, iface, sizeof iface));
    assert_string_equal(iface, "eth0");
    free(t);
}

static void test_hostile_input(void **state)
{
    (void)state;
    struct route_table *t = calloc(1, sizeof *t);
    assert_non_null(t);
    char *big = malloc(1 << 20);
    assert_non_null(big);
    memset(big, 'x', 1 << 20);
    memcpy(big, "header\n", 7);
    big[100] = '\0'; /* a NUL inside a line */
    routes_parse(big, 1 << 20, t);
    assert_int_equal(t->count, 0);
    assert_true(t->bad_lines >= 1);
    const char junk[] = "Iface\nEth0 ZZZZZZZZ 00000000 0003 0 0 0 00000000\neth0 1234 5 6\n\n";
    routes_parse(junk, sizeof junk - 1, t);
    assert_int_equal(t->count, 0);
    assert_int_equal(t->bad_lines, 2);
    assert_null(routes_lookup(t, addr("168.63.129.16")));
    char iface[32] = "";
    assert_false(routes_default_iface(t, iface, sizeof iface));
    routes_parse("", 0, t);
    assert_int_equal(t->count, 0);
    free(big);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_lookup),
        cmocka_unit_test(test_hostile_input),
    };
    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
