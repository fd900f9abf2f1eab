/* Effective routes: the fixture (tests/fixtures/azure-json/nic-effective-routes.json, a 0.0.0.0/0 UDR
 * to an NVA), route selection rules of virtual-networks-udr-overview.md (longest prefix, User > BGP >
 * System, the VNet/peering/endpoint exception, service-tag prefixes), the other accepted shapes,
 * malformed exports with the JSON path, and the index checked against a plain walk. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe/diag/route_eval.h"

#define FIX "tests/fixtures/azure-json/"
#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void load_fixture(struct eroute_table *t)
{
    struct azj_error e;
    if (routes_load(t, FIX "nic-effective-routes.json", &e) != 0)
        fail_msg("%s", e.msg);
}

static void pick(const struct eroute_table *t, uint32_t dst, const struct tag_resolver *tags, struct route_choice *c)
{
    assert_int_equal(route_select(t, dst, tags, c), 0);
    /* The index and a plain walk over the routes agree. */
    struct eroute_table plain = *t;
    struct route_choice c2;
    plain.ix = NULL;
    assert_int_equal(route_select(&plain, dst, tags, &c2), 0);
    assert_int_equal(c2.found, c->found);
    assert_ptr_equal(c2.route, c->route);
    assert_int_equal(c2.prefix.len, c->prefix.len);
    if (c->found) {
        assert_true(c->route->active);
        assert_true(prefix4_contains(&c->prefix, dst));
        assert_int_equal(c->drop, c->hop == ROUTE_HOP_NONE);
    }
}

static void assert_prefix(const struct prefix4 *p, const char *text)
{
    char buf[PREFIX4_STRLEN];
    assert_string_equal(prefix4_format(p, buf, sizeof buf), text);
}

static void test_fixture_shape(void **state)
{
    (void)state;
    struct eroute_table t;
    load_fixture(&t);
    assert_string_equal(t.input.file, "nic-effective-routes.json");
    assert_string_equal(t.input.shape, "effective routes (show-effective-route-table)");
    assert_true(t.input.list);
    assert_int_equal(t.input.routes, 7);
    assert_int_equal(t.input.prefixes, 7);
    assert_int_equal(t.input.warnings, 0);
    assert_int_equal(t.n, 7);
    assert_false(t.partial);
    assert_int_equal(t.r[1].source, ROUTE_SRC_DEFAULT);
    assert_false(t.r[1].active); /* Default 0.0.0.0/0 Internet: Invalid */
    assert_string_equal(t.r[6].name, "default-to-nva");
    assert_int_equal(t.r[6].source, ROUTE_SRC_USER);
    assert_int_equal(t.r[6].hop, ROUTE_HOP_VIRTUAL_APPLIANCE);
    assert_true(t.r[6].has_hop_ip);
    assert_int_equal(t.r[6].hop_ip, IP4(10, 0, 2, 4));
    routes_free(&t);
}

static void test_fixture_storage(void **state)
{
    (void)state;
    struct eroute_table t;
    struct route_choice c;
    char buf[512];
    load_fixture(&t);
    pick(&t, IP4(13, 70, 208, 20), NULL, &c);
    assert_true(c.found);
    assert_string_equal(c.route->name, "default-to-nva");
    assert_prefix(&c.prefix, "0.0.0.0/0");
    assert_int_equal(c.hop, ROUTE_HOP_VIRTUAL_APPLIANCE);
    assert_true(c.appliance);
    assert_false(c.drop);
    assert_true(c.has_hop_ip);
    assert_int_equal(c.hop_ip, IP4(10, 0, 2, 4));
    assert_non_null(c.overridden);
    assert_int_equal(c.overridden->hop, ROUTE_HOP_INTERNET);
    assert_int_equal(c.overridden->source, ROUTE_SRC_DEFAULT);
    route_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "User route default-to-nva 0.0.0.0/0 -> VirtualAppliance 10.0.2.4: the appliance decides "
                             "(invisible to NSG analysis) (replaces the system route 0.0.0.0/0 -> Internet, now Invalid)");
    assert_true(routes_forced_tunnel(&t));
    routes_free(&t);
}

static void test_fixture_private(void **state)
{
    (void)state;
    struct eroute_table t;
    struct route_choice c;
    char buf[512];
    load_fixture(&t);
    /* 10.50.0.4: outside the VNet, no peering or VPN: the reserved 10/8 None route drops it. */
    pick(&t, IP4(10, 50, 0, 4), NULL, &c);
    assert_true(c.found);
    assert_prefix(&c.prefix, "10.0.0.0/8");
    assert_true(c.drop);
    assert_int_equal(c.route->source, ROUTE_SRC_DEFAULT);
    assert_null(c.overridden);
    route_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "system route 10.0.0.0/8 -> None: Azure drops the traffic");
    pick(&t, IP4(10, 0, 1, 5), NULL, &c);
    assert_prefix(&c.prefix, "10.0.0.0/16");
    assert_int_equal(c.hop, ROUTE_HOP_VNET_LOCAL);
    static const uint32_t dropped[] = {IP4(172, 16, 0, 1), IP4(172, 31, 255, 255), IP4(192, 168, 1, 1),
                                       IP4(100, 64, 0, 1), IP4(100, 127, 255, 255)};
    for (size_t i = 0; i < sizeof dropped / sizeof dropped[0]; i++) {
        pick(&t, dropped[i], NULL, &c);
        assert_true(c.drop);
    }
    pick(&t, IP4(100, 128, 0, 1), NULL, &c); /* just outside 100.64/10 */
    assert_true(c.appliance);
    routes_free(&t);
}

static void test_fixture_platform(void **state)
{
    (void)state;
    struct eroute_table t;
    struct route_choice c;
    char buf[256];
    load_fixture(&t);
    static const uint32_t ips[] = {IP4(168, 63, 129, 16), IP4(169, 254, 169, 254)};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(route_select(&t, ips[i], NULL, &c), 0);
        assert_true(c.platform);
        assert_false(c.found);
        route_describe(&c, buf, sizeof buf);
        assert_non_null(strstr(buf, "not routed by UDRs"));
    }
    routes_free(&t);
}

static void test_vnet_prefixes(void **state)
{
    (void)state;
    struct eroute_table t;
    struct prefix4 p[8];
    load_fixture(&t);
    size_t n = routes_vnet_prefixes(&t, p, 8);
    assert_int_equal(n, 3); /* the VNet space, the UDR's 0/0, the wireserver */
    assert_prefix(&p[0], "10.0.0.0/16");
    assert_prefix(&p[1], "0.0.0.0/0");
    assert_prefix(&p[2], "168.63.129.16/32");
    assert_int_equal(routes_vnet_prefixes(&t, p, 1), 3); /* the count even when cut */
    routes_free(&t);
}

/* ---- Selection rules on hand-built tables ----------------------------------------------------- */

static struct eroute *add(struct eroute_table *t, const char *name, enum route_source s, enum route_hop h,
                          const char *hop_ip, bool active, const char *prefix)
{
    struct eroute *r = routes_add(t, name, s, h, hop_ip, active);
    assert_non_null(r);
    assert_int_equal(routes_add_prefix(r, prefix), 0);
    return r;
}

static void test_precedence(void **state)
{
    (void)state;
    struct eroute_table t;
    struct route_choice c;
    memset(&t, 0, sizeof t);
    /* Listed worst first: the order of the file must not matter. */
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_INTERNET, NULL, true, "0.0.0.0/0");
    add(&t, "", ROUTE_SRC_BGP, ROUTE_HOP_VNET_GATEWAY, "10.9.0.1", true, "20.0.0.0/8");
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_INTERNET, NULL, true, "20.0.0.0/8");
    add(&t, "udr-20", ROUTE_SRC_USER, ROUTE_HOP_VIRTUAL_APPLIANCE, "10.0.2.4", true, "20.0.0.0/8");
    add(&t, "", ROUTE_SRC_BGP, ROUTE_HOP_VNET_GATEWAY, "10.9.0.1", true, "30.0.0.0/8");
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_INTERNET, NULL, true, "30.0.0.0/8");
    add(&t, "udr-more-specific", ROUTE_SRC_USER, ROUTE_HOP_NONE, NULL, true, "20.1.0.0/16");
    add(&t, "udr-dead", ROUTE_SRC_USER, ROUTE_HOP_NONE, NULL, false, "20.1.2.0/24"); /* Invalid: ignored */
    assert_int_equal(routes_prepare(&t), 0);
    pick(&t, IP4(20, 5, 5, 5), NULL, &c);
    assert_string_equal(c.route->name, "udr-20"); /* User > BGP > System at /8 */
    pick(&t, IP4(30, 5, 5, 5), NULL, &c);
    assert_int_equal(c.route->source, ROUTE_SRC_BGP); /* BGP > System */
    assert_true(c.gateway);
    pick(&t, IP4(20, 1, 2, 3), NULL, &c);
    assert_string_equal(c.route->name, "udr-more-specific"); /* longest active prefix */
    assert_true(c.drop);
    pick(&t, IP4(40, 0, 0, 1), NULL, &c);
    assert_int_equal(c.hop, ROUTE_HOP_INTERNET);
    assert_false(routes_forced_tunnel(&t));
    routes_free(&t);
}

static void test_vnet_exception(void **state)
{
    (void)state;
    struct eroute_table t;
    struct route_choice c;
    char buf[400];
    memset(&t, 0, sizeof t);
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_VNET_LOCAL, NULL, true, "10.1.0.0/16");
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_VNET_PEERING, NULL, true, "10.2.0.0/16");
    add(&t, "", ROUTE_SRC_BGP, ROUTE_HOP_VNET_GATEWAY, "10.9.0.1", true, "10.1.5.0/24");
    add(&t, "", ROUTE_SRC_BGP, ROUTE_HOP_VNET_GATEWAY, "10.9.0.1", true, "10.2.5.0/24");
    add(&t, "", ROUTE_SRC_BGP, ROUTE_HOP_VNET_GATEWAY, "10.9.0.1", true, "10.3.5.0/24");
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_NONE, NULL, true, "10.0.0.0/8");
    add(&t, "udr", ROUTE_SRC_USER, ROUTE_HOP_VIRTUAL_APPLIANCE, "10.0.2.4", true, "10.1.6.0/24");
    assert_int_equal(routes_prepare(&t), 0);
    /* The VNet's and the peering's system routes beat more specific BGP routes... */
    pick(&t, IP4(10, 1, 5, 1), NULL, &c);
    assert_int_equal(c.hop, ROUTE_HOP_VNET_LOCAL);
    assert_true(c.exempt_system);
    route_describe(&c, buf, sizeof buf);
    assert_non_null(strstr(buf, "beat more specific BGP routes"));
    pick(&t, IP4(10, 2, 5, 1), NULL, &c);
    assert_int_equal(c.hop, ROUTE_HOP_VNET_PEERING);
    /* ...but not a None route, and not a UDR. */
    pick(&t, IP4(10, 3, 5, 1), NULL, &c);
    assert_int_equal(c.hop, ROUTE_HOP_VNET_GATEWAY);
    assert_false(c.exempt_system);
    pick(&t, IP4(10, 1, 6, 1), NULL, &c);
    assert_string_equal(c.route->name, "udr");
    routes_free(&t);
}

/* Storage.NorthEurope = 13.70.208.16/28; Storage = it + 20.150.0.0/16; AzureCloud = 13.0.0.0/8. */
static int fake_tags(void *ctx, const char *tag, uint32_t ip, struct prefix4 *m)
{
    static const struct prefix4 ne = {IP4(13, 70, 208, 16), 28}, other = {IP4(20, 150, 0, 0), 16},
                                cloud = {IP4(13, 0, 0, 0), 8};
    (void)ctx;
    const struct prefix4 *p = NULL;
    if (strcasecmp(tag, "Storage.NorthEurope") == 0 || strcasecmp(tag, "Storage") == 0)
        p = prefix4_contains(&ne, ip) ? &ne : strcasecmp(tag, "Storage") == 0 && prefix4_contains(&other, ip) ? &other : NULL;
    else if (strcasecmp(tag, "AzureCloud") == 0)
        p = prefix4_contains(&cloud, ip) ? &cloud : NULL;
    else
        return -1;
    if (p && m)
        *m = *p;
    return p != NULL;
}

static void test_service_tag_routes(void **state)
{
    (void)state;
    struct eroute_table t;
    struct route_choice c;
    char buf[512];
    memset(&t, 0, sizeof t);
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_INTERNET, NULL, true, "0.0.0.0/0");
    add(&t, "to-nva", ROUTE_SRC_USER, ROUTE_HOP_VIRTUAL_APPLIANCE, "10.0.2.4", true, "0.0.0.0/0");
    add(&t, "storage-direct", ROUTE_SRC_USER, ROUTE_HOP_INTERNET, NULL, true, "Storage");
    add(&t, "storage-ne-direct", ROUTE_SRC_USER, ROUTE_HOP_INTERNET, NULL, true, "Storage.NorthEurope");
    add(&t, "cloud", ROUTE_SRC_USER, ROUTE_HOP_VIRTUAL_APPLIANCE, "10.0.2.5", true, "AzureCloud");
    add(&t, "explicit", ROUTE_SRC_USER, ROUTE_HOP_VIRTUAL_APPLIANCE, "10.0.2.6", true, "20.150.0.0/16");
    assert_int_equal(routes_prepare(&t), 0);
    int ctx = 0;
    struct tag_resolver tags = {.lookup = fake_tags, .ctx = &ctx};
    /* Same /28 in Storage and Storage.NorthEurope: the regional tag wins. */
    pick(&t, IP4(13, 70, 208, 20), &tags, &c);
    assert_string_equal(c.route->name, "storage-ne-direct");
    assert_string_equal(c.tag, "Storage.NorthEurope");
    assert_prefix(&c.prefix, "13.70.208.16/28");
    route_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "User route storage-ne-direct 13.70.208.16/28 (service tag Storage.NorthEurope) -> Internet");
    /* An explicit prefix beats a tag with the same prefix. */
    pick(&t, IP4(20, 150, 1, 1), &tags, &c);
    assert_string_equal(c.route->name, "explicit");
    /* Only AzureCloud (/8) and the 0/0 UDR: the tag's /8 is longer. */
    pick(&t, IP4(13, 1, 1, 1), &tags, &c);
    assert_string_equal(c.route->name, "cloud");
    /* Without tag data the tag routes cannot be placed: flagged. */
    pick(&t, IP4(13, 70, 208, 20), NULL, &c);
    assert_string_equal(c.route->name, "to-nva");
    assert_non_null(c.unresolved);
    route_describe(&c, buf, sizeof buf);
    assert_non_null(strstr(buf, "could not be expanded"));
    routes_free(&t);

    /* destinationServiceTags: the prefixes are the tag's expansion; explicit beats it. */
    static const char json[] =
        "{\"value\":[{\"addressPrefix\":[\"13.70.208.16/28\"],\"destinationServiceTags\":[\"Storage.NorthEurope\"],"
        "\"nextHopType\":\"Internet\",\"source\":\"User\",\"state\":\"Active\",\"name\":\"tag-route\","
        "\"nextHopIpAddress\":[]},{\"addressPrefix\":[\"13.70.208.16/28\"],\"nextHopType\":\"VirtualAppliance\","
        "\"nextHopIpAddress\":[\"10.0.2.4\"],\"source\":\"User\",\"state\":\"Active\",\"name\":\"explicit\"}]}";
    struct azj_error e;
    assert_int_equal(routes_load_buffer(&t, json, strlen(json), "tags.json", &e), 0);
    pick(&t, IP4(13, 70, 208, 17), NULL, &c);
    assert_string_equal(c.route->name, "explicit");
    routes_free(&t);
}

static void test_no_route(void **state)
{
    (void)state;
    struct eroute_table t;
    struct route_choice c;
    char buf[256];
    memset(&t, 0, sizeof t);
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_VNET_LOCAL, NULL, true, "10.0.0.0/16");
    add(&t, "", ROUTE_SRC_DEFAULT, ROUTE_HOP_INTERNET, NULL, false, "0.0.0.0/0");
    assert_int_equal(routes_prepare(&t), 0);
    pick(&t, IP4(8, 8, 8, 8), NULL, &c);
    assert_false(c.found);
    assert_null(c.route);
    route_describe(&c, buf, sizeof buf);
    assert_string_equal(buf, "no active route contains the address: Azure drops the traffic");
    routes_free(&t);
    /* An empty table. */
    assert_int_equal(routes_load_buffer(&t, "{\"value\":[]}", 12, "empty.json", NULL), 0);
    assert_int_equal(t.input.warnings, 1);
    pick(&t, IP4(8, 8, 8, 8), NULL, &c);
    assert_false(c.found);
    routes_free(&t);
}

/* ---- Other shapes ----------------------------------------------------------------------------- */

static void test_route_table_shapes(void **state)
{
    (void)state;
    struct eroute_table t;
    struct route_choice c;
    struct azj_error e;
    char buf[512];
    static const char arm[] =
        "{\"name\":\"rt-forced-tunnel\",\"properties\":{\"disableBgpRoutePropagation\":false,\"routes\":[{\"name\":"
        "\"default-to-nva\",\"properties\":{\"addressPrefix\":\"0.0.0.0/0\",\"nextHopType\":\"VirtualAppliance\","
        "\"nextHopIpAddress\":\"10.0.2.4\"}}]}}";
    assert_int_equal(routes_load_buffer(&t, arm, strlen(arm), "rt.json", &e), 0);
    assert_string_equal(t.input.shape, "route table, ARM (nested; UDRs only)");
    assert_true(t.partial);
    assert_int_equal(t.input.routes, 1);
    assert_int_equal(t.n, 6); /* + 0/0 Internet + four reserved None */
    pick(&t, IP4(13, 70, 208, 20), NULL, &c);
    assert_string_equal(c.route->name, "default-to-nva");
    assert_true(c.partial);
    route_describe(&c, buf, sizeof buf);
    assert_non_null(strstr(buf, "UDR table only"));
    pick(&t, IP4(10, 0, 1, 5), NULL, &c);
    assert_true(c.drop); /* without the VNet space, 10/8 is the reserved None route */
    /* Adding the VNet space (from IMDS) replaces the overlapping reserved route. */
    struct prefix4 vnet = {IP4(10, 0, 0, 0), 16};
    assert_int_equal(routes_add_vnet(&t, &vnet, 1), 0);
    pick(&t, IP4(10, 0, 1, 5), NULL, &c);
    assert_int_equal(c.hop, ROUTE_HOP_VNET_LOCAL);
    pick(&t, IP4(10, 50, 0, 4), NULL, &c);
    assert_true(c.appliance); /* the reserved 10/8 is gone: the 0/0 UDR applies */
    pick(&t, IP4(192, 168, 0, 1), NULL, &c);
    assert_true(c.drop);
    routes_free(&t);

    static const char flat[] =
        "{\"name\":\"rt\",\"routes\":[{\"name\":\"r\",\"addressPrefix\":\"13.0.0.0/8\",\"nextHopType\":\"None\"}]}";
    assert_int_equal(routes_load_buffer(&t, flat, strlen(flat), "rt-flat.json", &e), 0);
    assert_string_equal(t.input.shape, "route table (az network route-table show; UDRs only)");
    pick(&t, IP4(13, 1, 1, 1), NULL, &c);
    assert_string_equal(c.route->name, "r");
    assert_true(c.drop);
    routes_free(&t);

    /* PowerShell Get-AzEffectiveRouteTable: PascalCase, a bare array, unknown next hop types kept. */
    static const char ps[] =
        "[{\"Name\":null,\"State\":\"Active\",\"Source\":\"Default\",\"AddressPrefix\":[\"10.0.0.0/16\"],"
        "\"NextHopType\":\"VnetLocal\",\"NextHopIpAddress\":[]},{\"Name\":null,\"State\":\"Active\",\"Source\":"
        "\"Default\",\"AddressPrefix\":[\"10.0.0.5/32\"],\"NextHopType\":\"InterfaceEndpoint\",\"NextHopIpAddress\":"
        "[]},{\"Name\":null,\"State\":\"Active\",\"Source\":\"Default\",\"AddressPrefix\":[\"10.0.0.6/32\","
        "\"2001:db8::/64\"],\"NextHopType\":\"MicrosoftEdge\",\"NextHopIpAddress\":[\"fd00::1\"]}]";
    assert_int_equal(routes_load_buffer(&t, ps, strlen(ps), "ps.json", &e), 0);
    assert_string_equal(t.input.shape, "effective routes (show-effective-route-table)");
    assert_int_equal(t.input.ipv6_skipped, 1);
    assert_int_equal(t.input.warnings, 1); /* MicrosoftEdge */
    pick(&t, IP4(10, 0, 0, 5), NULL, &c);
    assert_int_equal(c.hop, ROUTE_HOP_INTERFACE_ENDPOINT);
    pick(&t, IP4(10, 0, 0, 6), NULL, &c);
    assert_int_equal(c.hop, ROUTE_HOP_OTHER);
    assert_string_equal(c.route->hop_text, "MicrosoftEdge");
    routes_free(&t);
}

/* ---- Malformed exports ------------------------------------------------------------------------ */

static void expect_error(const char *json, int status, const char *path, const char *msg)
{
    struct eroute_table t;
    struct azj_error e;
    int rc = routes_load_buffer(&t, json, strlen(json), "bad.json", &e);
    if (rc != status || strcmp(e.path, path) != 0 || strcmp(e.msg, msg) != 0)
        fail_msg("rc %d (want %d)\n  path %s (want %s)\n  msg  %s\n  want %s", rc, status, e.path, path, e.msg, msg);
    assert_int_equal(t.n, 0); /* nothing half-loaded */
    assert_null(t.ix);
    routes_free(&t);
}

#define ROUTE(fields) "{\"value\":[{\"addressPrefix\":[\"10.0.0.0/16\"],\"nextHopType\":\"VnetLocal\",\"source\":" \
                      "\"Default\",\"state\":\"Active\"},{" fields "}]}"

static void test_malformed(void **state)
{
    (void)state;
    expect_error(ROUTE("\"addressPrefix\":[\"10.0.0.0/33\"],\"nextHopType\":\"None\""), AZJ_EVALUE,
                 "value[1].addressPrefix[0]", "bad.json: value[1].addressPrefix[0]: 10.0.0.0/33 is not an IPv4 prefix or service tag");
    expect_error(ROUTE("\"addressPrefix\":[\"1.1.1.0/24\",\"300.1.1.1\"],\"nextHopType\":\"None\""), AZJ_EVALUE,
                 "value[1].addressPrefix[1]", "bad.json: value[1].addressPrefix[1]: 300.1.1.1 is not an IPv4 prefix or service tag");
    expect_error(ROUTE("\"addressPrefix\":[\"1.1.1.0/24\"]"), AZJ_EVALUE, "value[1].nextHopType",
                 "bad.json: value[1].nextHopType: missing");
    expect_error(ROUTE("\"addressPrefix\":[\"1.1.1.0/24\"],\"nextHopType\":5"), AZJ_EVALUE, "value[1].nextHopType",
                 "bad.json: value[1].nextHopType: expected a string, got int");
    expect_error(ROUTE("\"nextHopType\":\"None\""), AZJ_EVALUE, "value[1].addressPrefix", "bad.json: value[1].addressPrefix: missing");
    expect_error(ROUTE("\"addressPrefix\":[\"1.1.1.0/24\"],\"nextHopType\":\"VirtualAppliance\",\"nextHopIpAddress\":"
                       "[\"10.0.2.400\"]"),
                 AZJ_EVALUE, "value[1].nextHopIpAddress[0]", "bad.json: value[1].nextHopIpAddress[0]: 10.0.2.400 is not an IP address");
    expect_error(ROUTE("\"addressPrefix\":[\"1.1.1.0/24\"],\"nextHopType\":\"VirtualAppliance\",\"nextHopIpAddress\":"
                       "[\"10.0.2.0/24\"]"),
                 AZJ_EVALUE, "value[1].nextHopIpAddress[0]", "bad.json: value[1].nextHopIpAddress[0]: 10.0.2.0/24 is not an IP address");
    expect_error(ROUTE("\"addressPrefix\":[\"1.1.1.0/24\"],\"nextHopType\":\"None\",\"state\":\"Broken\""), AZJ_EVALUE,
                 "value[1].state", "bad.json: value[1].state: Broken is not Active or Invalid");
    expect_error(ROUTE("\"addressPrefix\":[\"1.1.1.0/24\"],\"nextHopType\":\"None\",\"disableBgpRoutePropagation\":\"no\""),
                 AZJ_EVALUE, "value[1].disableBgpRoutePropagation",
                 "bad.json: value[1].disableBgpRoutePropagation: expected true or false, got string");
    expect_error(ROUTE("\"addressPrefix\":{},\"nextHopType\":\"None\""), AZJ_EVALUE, "value[1].addressPrefix",
                 "bad.json: value[1].addressPrefix: expected a string or an array of strings, got object");
    expect_error("{\"value\":[7]}", AZJ_EVALUE, "value[0]", "bad.json: value[0]: expected a route object, got int");
    expect_error("{\"properties\":{\"routes\":[{\"name\":\"x\",\"properties\":{\"addressPrefix\":\"10.0.0.0/8\","
                 "\"nextHopType\":\"VirtualAppliance\",\"nextHopIpAddress\":\"1.2.3\"}}]}}",
                 AZJ_EVALUE, "properties.routes[0].properties.nextHopIpAddress",
                 "bad.json: properties.routes[0].properties.nextHopIpAddress: 1.2.3 is not an IP address");
    expect_error("{\"routes\":7}", AZJ_EVALUE, "routes", "bad.json: routes: expected an array of routes, got int");
    expect_error("{\"foo\":[]}", AZJ_ESHAPE, "",
                 "bad.json: not a route export (expected value[], routes[] or properties.routes[])");
    expect_error("\"x\"", AZJ_ESHAPE, "", "bad.json: not a route export: the document is a string");
    expect_error("{\"value\":[", AZJ_ESYNTAX, "", "bad.json: not JSON: unexpected end of data near byte 10");
    /* Huge arrays. */
    size_t cap = 400000, n;
    char *json = malloc(cap);
    assert_non_null(json);
    n = (size_t)snprintf(json, cap, "{\"value\":[{\"nextHopType\":\"None\",\"addressPrefix\":[");
    for (int i = 0; i < ROUTES_MAX_PREFIX + 1; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s\"10.%d.%d.0/24\"", i ? "," : "", i / 256 % 256, i % 256);
    snprintf(json + n, cap - n, "]}]}");
    expect_error(json, AZJ_ELIMIT, "value[0].addressPrefix", "bad.json: value[0].addressPrefix: 10001 entries; the limit is 10000");
    free(json);
    struct eroute_table t;
    struct azj_error e;
    assert_int_equal(routes_load(&t, FIX "missing.json", &e), AZJ_EIO);
    assert_string_equal(e.file, "missing.json");
    routes_free(&t);
}

/* ---- The index against a plain walk ------------------------------------------------------------ */

static uint32_t rng = 777;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void test_random_tables(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        struct eroute_table t;
        memset(&t, 0, sizeof t);
        for (int i = 0; i < 400; i++) {
            struct eroute *r = routes_add(&t, "", (enum route_source)(rnd() % 4), (enum route_hop)(rnd() % 10),
                                          "10.0.2.4", rnd() % 8 != 0);
            assert_non_null(r);
            int np = 1 + (int)(rnd() % 5);
            for (int k = 0; k < np; k++) {
                char buf[32];
                uint32_t len = rnd() % 33;
                snprintf(buf, sizeof buf, "%u.%u.0.0/%u", rnd() % 4, rnd() % 256, len);
                if (len == 0 || rnd() % 3 == 0)
                    snprintf(buf, sizeof buf, "%u.%u.%u.0/%u", rnd() % 4, rnd() % 256, rnd() % 256, 8 + rnd() % 25);
                assert_int_equal(routes_add_prefix(r, buf), 0);
            }
        }
        assert_int_equal(routes_prepare(&t), 0);
        for (int i = 0; i < 3000; i++) {
            struct route_choice c;
            pick(&t, (rnd() % 4) << 24 | (rnd() & 0xffffff), NULL, &c);
        }
        routes_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_shape),       cmocka_unit_test(test_fixture_storage),
        cmocka_unit_test(test_fixture_private),     cmocka_unit_test(test_fixture_platform),
        cmocka_unit_test(test_vnet_prefixes),       cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_vnet_exception),      cmocka_unit_test(test_service_tag_routes),
        cmocka_unit_test(test_no_route),            cmocka_unit_test(test_route_table_shapes),
        cmocka_unit_test(test_malformed),           cmocka_unit_test(test_random_tables),
    };
    return cmocka_run_group_tests_name("route_eval", tests, NULL, NULL);
}
