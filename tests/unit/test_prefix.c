/* CIDR parsing and the prefix index (probe/diag/prefix.c): strict parsing edge cases, containment
 * arithmetic at the ends of the address space, and index lookups checked against brute force. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/diag/prefix.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void test_parse_valid(void **state)
{
    (void)state;
    struct prefix4 p;
    unsigned flags;
    assert_int_equal(prefix_parse("10.0.0.0/8", &p, &flags), PREFIX_V4);
    assert_int_equal(p.net, IP(10, 0, 0, 0));
    assert_int_equal(p.len, 8);
    assert_int_equal(flags, 0);
    assert_int_equal(prefix_parse("1.2.3.4", &p, &flags), PREFIX_V4);
    assert_int_equal(p.net, IP(1, 2, 3, 4));
    assert_int_equal(p.len, 32);
    assert_int_equal(flags, PREFIX_F_NOLEN);
    assert_true(prefix4_parse("0.0.0.0/0", &p));
    assert_int_equal(p.net, 0);
    assert_int_equal(p.len, 0);
    assert_true(prefix4_parse("255.255.255.255/32", &p));
    assert_int_equal(p.net, 0xffffffffu);
    assert_true(prefix4_parse("13.70.208.16/28", &p));
    assert_int_equal(p.net, IP(13, 70, 208, 16));
    assert_int_equal(p.len, 28);
}

static void test_parse_hostbits_normalised(void **state)
{
    (void)state;
    struct prefix4 p;
    unsigned flags;
    assert_int_equal(prefix_parse("10.1.2.3/8", &p, &flags), PREFIX_V4);
    assert_int_equal(p.net, IP(10, 0, 0, 0));
    assert_int_equal(p.len, 8);
    assert_int_equal(flags, PREFIX_F_HOSTBITS);
    assert_int_equal(prefix_parse("192.168.1.255/0", &p, &flags), PREFIX_V4);
    assert_int_equal(p.net, 0);
    assert_int_equal(flags, PREFIX_F_HOSTBITS);
    assert_int_equal(prefix_parse("10.1.2.3/32", &p, NULL), PREFIX_V4); /* NULL flags is fine */
}

static void test_parse_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "10.0.0.0/33", "300.1.1.1", "256.0.0.0/8", "1.2.3", "1.2.3.4.5", "1.2.3.4/", "1.2.3.4/-1",
        "1.2.3.4/+8", "1.2.3.4/08", "010.0.0.0/8", "1.02.3.4", "1..3.4", ".1.2.3", "1.2.3.4 ", " 1.2.3.4",
        "1.2.3.4/8 ", "1.2.3.4/8/8", "a.b.c.d", "junk", "10.0.0.0/8x", "1.2.3.4/100", "1.2.3.0x1",
        "1.2.3.4/3a", "0x0a.0.0.0", "1.2.3.4\n", "*", "Internet", "VirtualNetwork", "1.2.3.4/999999999999",
        "99999999999.1.1.1", "1.2.3.-4", "1.2.3.4:80", "::ffff:1.2.3.4/129", "12345::/64", "::1/", ":::",
        "2603:1020:5:402::200/121/3", "fe80::1%eth0",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct prefix4 p = {0x12345678u, 7};
        if (prefix_parse(bad[i], &p, NULL) != PREFIX_INVALID)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_false(prefix4_parse(bad[i], &p));
        assert_int_equal(p.net, 0x12345678u); /* untouched on failure */
    }
    assert_int_equal(prefix_parse(NULL, NULL, NULL), PREFIX_INVALID);
}

static void test_parse_ipv6_recognised(void **state)
{
    (void)state;
    struct prefix4 p = {0x12345678u, 7};
    unsigned flags;
    assert_int_equal(prefix_parse("2603:1020:5:402::200/121", &p, &flags), PREFIX_V6);
    assert_int_equal(p.net, 0x12345678u);
    assert_int_equal(prefix_parse("::/0", &p, NULL), PREFIX_V6);
    assert_int_equal(prefix_parse("::ffff:1.2.3.4/128", &p, NULL), PREFIX_V6);
    assert_int_equal(prefix_parse("fe80::1", &p, &flags), PREFIX_V6);
    assert_int_equal(flags, PREFIX_F_NOLEN);
    assert_false(prefix4_parse("2603:1020:5:402::200/121", &p)); /* IPv4-only wrapper says no */
}

static void test_ip4_parse(void **state)
{
    (void)state;
    uint32_t ip;
    assert_true(ip4_parse("168.63.129.16", &ip));
    assert_int_equal(ip, IP(168, 63, 129, 16));
    assert_false(ip4_parse("168.63.129.16/32", &ip));
    assert_false(ip4_parse("168.63.129", &ip));
    assert_false(ip4_parse(NULL, &ip));
}

static void test_mask_contains_covers(void **state)
{
    (void)state;
    assert_int_equal(prefix4_mask(0), 0);
    assert_int_equal(prefix4_mask(1), 0x80000000u);
    assert_int_equal(prefix4_mask(24), 0xffffff00u);
    assert_int_equal(prefix4_mask(32), 0xffffffffu);
    assert_int_equal(prefix4_mask(40), 0xffffffffu);
    struct prefix4 all = {0, 0}, p8 = {IP(10, 0, 0, 0), 8}, p16 = {IP(10, 1, 0, 0), 16};
    struct prefix4 top = {0xffffffffu, 32};
    assert_true(prefix4_contains(&all, 0));
    assert_true(prefix4_contains(&all, 0xffffffffu));
    assert_true(prefix4_contains(&p8, IP(10, 255, 255, 255)));
    assert_false(prefix4_contains(&p8, IP(11, 0, 0, 0)));
    assert_false(prefix4_contains(&p8, IP(9, 255, 255, 255)));
    assert_true(prefix4_contains(&top, 0xffffffffu));
    assert_false(prefix4_contains(&top, 0xfffffffeu));
    assert_true(prefix4_covers(&p8, &p16));
    assert_false(prefix4_covers(&p16, &p8));
    assert_true(prefix4_covers(&p8, &p8));
    assert_true(prefix4_covers(&all, &top));
    assert_int_equal(prefix4_last(&p8), IP(10, 255, 255, 255));
    assert_int_equal(prefix4_last(&all), 0xffffffffu);
}

static void test_format(void **state)
{
    (void)state;
    char buf[PREFIX4_STRLEN], ip[IP4_STRLEN];
    struct prefix4 p = {0xffffffffu, 32};
    assert_string_equal(prefix4_format(&p, buf, sizeof buf), "255.255.255.255/32");
    assert_string_equal(ip4_format(IP(13, 70, 208, 17), ip, sizeof ip), "13.70.208.17");
    char small[6];
    prefix4_format(&p, small, sizeof small); /* truncates, never overflows */
    assert_string_equal(small, "255.2");
}

static struct prefix_index *index_of(const char *const *pfx, size_t n)
{
    struct prefix_index *ix = prefix_index_new();
    assert_non_null(ix);
    for (size_t i = 0; i < n; i++) {
        struct prefix4 p;
        assert_true(prefix4_parse(pfx[i], &p));
        assert_int_equal(prefix_index_add(ix, &p, (uint32_t)i), 0);
    }
    assert_int_equal(prefix_index_build(ix), 0);
    return ix;
}

static void test_index_order(void **state)
{
    (void)state;
    /* ids: 0 the /28, 1 the same /28 again (a second tag), 2 the /18, 3 a /8, 4 0/0, 5 unrelated */
    static const char *const pfx[] = {"13.70.208.16/28", "13.70.208.16/28", "13.70.192.0/18",
                                      "13.0.0.0/8", "0.0.0.0/0", "20.0.0.0/8"};
    struct prefix_index *ix = index_of(pfx, 6);
    uint32_t ids[8];
    struct prefix4 got[8];
    size_t n = prefix_index_lookup_ex(ix, IP(13, 70, 208, 17), ids, got, 8);
    assert_int_equal(n, 5);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 1);
    assert_int_equal(ids[2], 2);
    assert_int_equal(ids[3], 3);
    assert_int_equal(ids[4], 4);
    assert_int_equal(got[0].len, 28);
    assert_int_equal(got[2].len, 18);
    assert_int_equal(got[4].len, 0);
    assert_int_equal(prefix_index_lookup(ix, IP(13, 70, 208, 17), ids, 2), 2); /* max respected */
    assert_int_equal(prefix_index_lookup(ix, IP(13, 70, 208, 32), ids, 8), 3);   /* past the /28 */
    assert_int_equal(prefix_index_lookup(ix, IP(1, 1, 1, 1), ids, 8), 1);
    assert_int_equal(ids[0], 4);
    assert_int_equal(prefix_index_lookup(ix, 0xffffffffu, ids, 8), 1);
    assert_int_equal(prefix_index_lookup(ix, 0, ids, 8), 1);
    assert_int_equal(prefix_index_lookup(ix, IP(13, 70, 208, 17), ids, 0), 0);
    assert_int_equal(prefix_index_entries(ix), 6);
    assert_int_equal(prefix_index_prefixes(ix), 5);
    prefix_index_free(ix);
}

static void test_index_same_id_reported_once(void **state)
{
    (void)state;
    struct prefix_index *ix = prefix_index_new();
    struct prefix4 a = {IP(10, 0, 0, 0), 8}, b = {IP(10, 1, 0, 0), 16};
    uint32_t ids[4];
    struct prefix4 got[4];
    assert_int_equal(prefix_index_add(ix, &a, 7), 0);
    assert_int_equal(prefix_index_add(ix, &b, 7), 0);
    assert_int_equal(prefix_index_add(ix, &b, 7), 0); /* duplicate pair */
    assert_int_equal(prefix_index_add(ix, &a, 3), 0);
    assert_int_equal(prefix_index_lookup(ix, IP(10, 1, 2, 3), ids, 4), 0); /* not built yet */
    assert_int_equal(prefix_index_build(ix), 0);
    assert_int_equal(prefix_index_build(ix), 0);          /* twice is harmless */
    assert_int_equal(prefix_index_add(ix, &a, 1), -1);    /* frozen after build */
    assert_int_equal(prefix_index_lookup_ex(ix, IP(10, 1, 2, 3), ids, got, 4), 2);
    assert_int_equal(ids[0], 7);
    assert_int_equal(got[0].len, 16); /* reported at its most specific prefix */
    assert_int_equal(ids[1], 3);
    assert_int_equal(prefix_index_lookup(ix, IP(10, 2, 0, 0), ids, 4), 2);
    assert_int_equal(ids[0], 3); /* both at the /8: ascending id */
    assert_int_equal(ids[1], 7);
    prefix_index_free(ix);
}

static void test_index_edges(void **state)
{
    (void)state;
    uint32_t ids[4];
    struct prefix_index *empty = prefix_index_new();
    assert_int_equal(prefix_index_build(empty), 0);
    assert_int_equal(prefix_index_lookup(empty, 1, ids, 4), 0);
    prefix_index_free(empty);
    prefix_index_free(NULL);
    assert_int_equal(prefix_index_lookup(NULL, 1, ids, 4), 0);
    /* Adjacent blocks and blocks touching both ends of the space. */
    static const char *const pfx[] = {"255.255.255.255/32", "0.0.0.0/32", "10.0.0.0/9", "10.128.0.0/9",
                                      "255.255.255.0/24", "10.0.0.0/8"};
    struct prefix_index *ix = index_of(pfx, 6);
    assert_int_equal(prefix_index_lookup(ix, 0, ids, 4), 1);
    assert_int_equal(ids[0], 1);
    assert_int_equal(prefix_index_lookup(ix, 1, ids, 4), 0);
    assert_int_equal(prefix_index_lookup(ix, 0xffffffffu, ids, 4), 2);
    assert_int_equal(ids[0], 0);
    assert_int_equal(ids[1], 4);
    assert_int_equal(prefix_index_lookup(ix, 0xfffffffeu, ids, 4), 1);
    assert_int_equal(prefix_index_lookup(ix, IP(10, 127, 255, 255), ids, 4), 2);
    assert_int_equal(ids[0], 2);
    assert_int_equal(prefix_index_lookup(ix, IP(10, 128, 0, 0), ids, 4), 2);
    assert_int_equal(ids[0], 3);
    assert_int_equal(ids[1], 5);
    assert_int_equal(prefix_index_lookup(ix, IP(11, 0, 0, 0), ids, 4), 0);
    assert_true(prefix_index_memory(ix) > 0);
    prefix_index_free(ix);
}

/* Deterministic xorshift, so a failure reproduces. */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Random nested prefixes in a small corner of the space, so lookups hit several at once; every
 * answer is compared with a brute-force scan (same set, each id once, most specific first). */
static void test_index_matches_brute_force(void **state)
{
    (void)state;
    enum { N = 3000, Q = 20000 };
    struct prefix4 *p = malloc(N * sizeof *p);
    uint32_t seed = 12345;
    struct prefix_index *ix = prefix_index_new();
    assert_non_null(p);
    for (uint32_t i = 0; i < N; i++) {
        uint8_t len = (uint8_t)(8 + rnd(&seed) % 25);
        uint32_t net = IP(10, 0, 0, 0) | (rnd(&seed) & 0x000fffffu);
        p[i] = (struct prefix4){net & prefix4_mask(len), len};
        assert_int_equal(prefix_index_add(ix, &p[i], i % 1000), 0); /* ids repeat: dedup path */
    }
    assert_int_equal(prefix_index_build(ix), 0);
    for (int q = 0; q < Q; q++) {
        uint32_t ip = IP(10, 0, 0, 0) | (rnd(&seed) & 0x001fffffu), ids[1000], want[1000];
        struct prefix4 got[1000];
        size_t n = prefix_index_lookup_ex(ix, ip, ids, got, 1000), m = 0;
        for (size_t k = 0; k < n; k++) {
            assert_true(prefix4_contains(&got[k], ip));
            if (k)
                assert_true(got[k].len <= got[k - 1].len);
        }
        for (uint32_t i = 0; i < N; i++) {
            bool dup = false;
            for (size_t k = 0; k < m && !dup; k++)
                dup = want[k] == i % 1000;
            if (prefix4_contains(&p[i], ip) && !dup)
                want[m++] = i % 1000;
        }
        assert_int_equal(n, m);
        qsort(ids, n, sizeof *ids, cmp_u32);
        qsort(want, m, sizeof *want, cmp_u32);
        assert_memory_equal(ids, want, n * sizeof *ids);
    }
    prefix_index_free(ix);
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_hostbits_normalised),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_ipv6_recognised),
        cmocka_unit_test(test_ip4_parse),
        cmocka_unit_test(test_mask_contains_covers),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_index_order),
        cmocka_unit_test(test_index_same_id_reported_once),
        cmocka_unit_test(test_index_edges),
        cmocka_unit_test(test_index_matches_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
