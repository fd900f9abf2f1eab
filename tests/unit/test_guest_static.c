/* guest.dhcp_enabled (probe/guest_static.c): a static IPv4 address in each of the five network
 * configuration formats, DHCP in all of them (with traps), a static address on a secondary NIC only,
 * the readers on their own, and hostile files. Fixture roots: tests/fixtures/guest/. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/guest.h"

static char root[64];
static struct check_list list;

static void run(const char *cmd)
{
    assert_int_equal(system(cmd), 0);
}

static void make_root(const char *case_name)
{
    snprintf(root, sizeof root, "/tmp/azbp-static-XXXXXX");
    assert_non_null(mkdtemp(root));
    if (case_name) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "cp -R tests/fixtures/guest/%s/. '%s/'", case_name, root);
        run(cmd);
    }
}

static int cleanup(void **state)
{
    (void)state;
    checks_free(&list);
    if (root[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        run(cmd);
        root[0] = '\0';
    }
    return 0;
}

static void write_bytes(const char *rel, const char *bytes, size_t n)
{
    char path[256], cmd[320];
    snprintf(path, sizeof path, "%s%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    run(cmd);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

/* guest.dhcp_enabled of the current root. */
static const struct check *dhcp_check(void)
{
    checks_free(&list);
    guest_checks(root, true, &list);
    const struct check *c = checks_find(&list, "guest.dhcp_enabled", NULL, -1);
    assert_non_null(c);
    assert_true(c->summary[0] && strlen(c->summary) < sizeof c->summary - 1);
    assert_true(c->why[0] && strlen(c->why) < sizeof c->why - 1);
    return c;
}

static void ev_has(const struct check *c, const char *key, const char *text)
{
    const char *v = check_ev_get(c, key);
    if (!v)
        fail_msg("no evidence %s", key);
    if (!strstr(v, text))
        fail_msg("%s=\"%s\" does not say \"%s\"", key, v, text);
}

static void ev_lacks(const struct check *c, const char *key, const char *text)
{
    const char *v = check_ev_get(c, key);
    if (v && strstr(v, text))
        fail_msg("%s=\"%s\" says \"%s\"", key, v, text);
}

/* One fixture with one static interface: required failure naming file, line, interface. */
static void static_case(const char *case_name, const char *where, const char *iface, const char *detail)
{
    make_root(case_name);
    const struct check *c = dhcp_check();
    assert_int_equal(c->outcome, OUT_STATIC_IP);
    assert_int_equal(c->status, STATUS_FAIL);
    assert_true(c->required);
    char named[80], in_summary[80];
    snprintf(named, sizeof named, ": %s: ", iface);
    snprintf(in_summary, sizeof in_summary, "for %s (", iface);
    ev_has(c, "static_1", where);
    ev_has(c, "static_1", named);
    ev_has(c, "static_1", detail);
    assert_null(check_ev_get(c, "static_2"));
    assert_non_null(strstr(c->summary, in_summary));
    assert_non_null(strstr(c->why, "DHCP response 245"));
    assert_non_null(strstr(c->why, "ExtensionSnapshotFailedNoNetwork"));
    ev_has(c, "fix", "keep DHCP enabled in the guest");
    ev_has(c, "fix", "GuestAgentSnapshotTaskStatusError");
    cleanup(NULL);
}

static void test_static_each_format(void **state)
{
    (void)state;
    static_case("static-netplan", "/etc/netplan/01-static.yaml line 8", "eth0", "dhcp4: false");
    static_case("static-ifupdown", "/etc/network/interfaces.d/eth0 line 2", "eth0", "address 10.2.0.4");
    static_case("static-ifcfg", "/etc/sysconfig/network-scripts/ifcfg-eth0 line 5", "eth0",
                "BOOTPROTO=none, IPADDR 10.3.0.4");
    static_case("static-nm", "/etc/NetworkManager/system-connections/eth0.nmconnection line 12", "eth0",
                "method=manual, 10.4.0.4/24,10.4.0.1");
    static_case("static-networkd", "/etc/systemd/network/10-eth0.network line 6", "eth0",
                "Address=10.5.0.4/24 with DHCP=ipv6");
}

static void test_dhcp_everywhere(void **state)
{
    (void)state;
    make_root("dhcp-all");
    const struct check *c = dhcp_check();
    assert_int_equal(c->outcome, OUT_OK);
    assert_int_equal(c->status, STATUS_PASS);
    assert_true(c->required);
    assert_null(check_ev_get(c, "static_1"));
    ev_has(c, "examined", "/etc/netplan/50-cloud-init.yaml");
    ev_has(c, "examined", "/run/netplan/90-shadowed.yaml");
    ev_lacks(c, "examined", "/etc/netplan/90-shadowed.yaml"); /* /run shadows /etc */
    ev_has(c, "examined", "/etc/network/interfaces");
    ev_has(c, "examined", "ifcfg-eth2");
    ev_lacks(c, "examined", "ifcfg-eth0.bak");
    ev_has(c, "examined", "eth0.nmconnection");
    ev_has(c, "examined", "10-eth0.network");
    assert_non_null(strstr(c->summary, "(7 files)"));
}

static void test_static_secondary_only(void **state)
{
    (void)state;
    make_root("static-secondary");
    const struct check *c = dhcp_check();
    assert_int_equal(c->outcome, OUT_STATIC_IP);
    assert_int_equal(c->status, STATUS_WARN);
    assert_false(c->required);
    ev_has(c, "static_1", "line 8: eth1: netplan addresses:");
    ev_has(c, "primary_interface", "eth0");
    assert_non_null(strstr(c->summary, "not the primary interface"));
    /* without a route table the interface cannot be told apart: fail safe */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/proc'", root);
    run(cmd);
    c = dhcp_check();
    assert_int_equal(c->status, STATUS_FAIL);
    assert_true(c->required);
}

static void test_unreadable_means_unknown(void **state)
{
    (void)state;
    make_root(NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/etc/network/interfaces", root); /* a directory where a file should be */
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    run(cmd);
    const struct check *c = dhcp_check();
    assert_int_equal(c->outcome, OUT_SKIPPED);
    assert_false(c->required);
    ev_has(c, "unreadable", "/etc/network/interfaces");
    assert_non_null(strstr(c->why, "not checked"));
    write_bytes("/etc/systemd/network/1.network", "[Network]\nAddress=10.0.0.9/24\n", 30);
    c = dhcp_check(); /* a static address found elsewhere still counts */
    assert_int_equal(c->outcome, OUT_STATIC_IP);
}

/* ---- the readers on their own ----------------------------------------------------------------- */

static size_t parse(enum guest_net_format f, const char *text, struct guest_static *out, size_t *n)
{
    *n = 0;
    memset(out, 0, 4 * sizeof *out);
    return guest_static_parse(f, text, strlen(text), "f", out, n, 4);
}

static void test_netplan_shapes(void **state)
{
    (void)state;
    struct guest_static s[4];
    size_t n;
    assert_int_equal(parse(GUEST_NETPLAN, "network:\r\n  ethernets:\r\n    eth0:\r\n      addresses: [ \"10.0.0.4/24\" ]\r\n",
                           s, &n), 1); /* no dhcp4 at all: netplan's default is off */
    assert_string_equal(s[0].iface, "eth0");
    assert_int_equal(s[0].line, 4);
    assert_non_null(strstr(s[0].detail, "no dhcp4"));
    assert_int_equal(parse(GUEST_NETPLAN, "network:\n  bridges:\n    br0:\n      dhcp4: off\n      addresses:\n"
                                          "        - 192.168.1.2/24\n    br1:\n      dhcp4: on\n"
                                          "      addresses: [192.168.2.2/24]\n  ethernets:\n    eth0:\n"
                                          "      match: {name: eth0}\n      set-name: lan0\n      addresses:\n"
                                          "      - \"fd00::1/64\"\n      - 10.1.1.1/24 # comment\n",
                           s, &n), 2);
    assert_string_equal(s[0].iface, "br0");
    assert_int_equal(s[0].line, 6);
    assert_string_equal(s[1].iface, "lan0"); /* set-name is the kernel's name */
    assert_int_equal(s[1].line, 16);
    assert_int_equal(parse(GUEST_NETPLAN, "network:\n  ethernets:\n    eth0:\n      dhcp4: true\n"
                                          "      nameservers:\n        addresses: [168.63.129.16]\n"
                                          "      routes:\n      - to: 10.0.0.0/8\n        via: 10.0.0.1\n",
                           s, &n), 0);
    assert_int_equal(parse(GUEST_NETPLAN, "ethernets:\n  eth0:\n    addresses: [10.0.0.4/24]\n", s, &n), 0);
    assert_int_equal(parse(GUEST_NETPLAN, "network:\n  ethernets:\n    eth0:\n      addresses: ['fd00::1/64']\n",
                           s, &n), 0); /* IPv6 only */
    assert_int_equal(parse(GUEST_NETPLAN, "network:\n  ethernets:\n    eth0:\n      addresses: [10.0.0.4/24]\n"
                                          "    eth1:\n      addresses: [10.0.1.4/24]\n    eth2:\n"
                                          "      addresses: [10.0.2.4/24]\n    eth3:\n      addresses: [10.0.3.4/24]\n"
                                          "    eth4:\n      addresses: [10.0.4.4/24]\n", s, &n), 5);
    assert_int_equal(n, 4); /* counted, not stored beyond max */
}

static void test_other_readers(void **state)
{
    (void)state;
    struct guest_static s[4];
    size_t n;
    assert_int_equal(parse(GUEST_IFUPDOWN, "iface eth0 inet dhcp\r\niface eth0:1 inet static\r\n  address 10.0.0.5\r\n"
                                           "auto eth1\n  address 10.9.9.9\n", s, &n), 1);
    assert_string_equal(s[0].iface, "eth0:1");
    assert_string_equal(s[0].detail, "ifupdown inet static, address 10.0.0.5");
    assert_int_equal(parse(GUEST_IFCFG, "export BOOTPROTO=\"static\" # set by hand\nIPADDR0='10.0.0.6'\n", s, &n), 1);
    assert_string_equal(s[0].iface, "f"); /* no DEVICE, no ifcfg- prefix: the file name */
    assert_int_equal(s[0].line, 2);
    assert_int_equal(parse(GUEST_IFCFG, "BOOTPROTO=dhcp\nIPADDR=10.0.0.6\n", s, &n), 0);
    assert_int_equal(parse(GUEST_IFCFG, "BOOTPROTO=none\nIPV6ADDR=fd00::1\n", s, &n), 0);
    assert_int_equal(parse(GUEST_IFCFG, "IPADDR=10.0.0.7\n", s, &n), 1); /* BOOTPROTO unset means none */
    assert_int_equal(parse(GUEST_NM_KEYFILE, "[connection]\nid=Wired\n[ipv4]\nmethod=manual\naddress1=10.0.0.8/24\n"
                                             "[ipv6]\nmethod=auto\n", s, &n), 1);
    assert_string_equal(s[0].iface, "Wired");
    assert_int_equal(s[0].line, 4);
    assert_int_equal(parse(GUEST_NM_KEYFILE, "[ipv6]\nmethod=manual\n[ipv4]\nmethod=auto\n", s, &n), 0);
    assert_int_equal(parse(GUEST_NETWORKD, "[Match]\nName=eth*\n[Network]\nDHCP=true\nAddress=10.0.0.9/24\n", s, &n), 0);
    assert_int_equal(parse(GUEST_NETWORKD, "[Match]\nName=en*\n[Network]\nDHCP=no\n[Address]\nAddress=10.0.0.9/24\n",
                           s, &n), 1);
    assert_string_equal(s[0].iface, "en*");
    assert_int_equal(parse(GUEST_NETWORKD, "[Network]\nAddress=fd00::9/64\n", s, &n), 0);
    assert_int_equal(parse(GUEST_NETWORKD, "[Network]\nAddress=10.0.0.256/24\n", s, &n), 0); /* not an address */
}

static void test_hostile_text(void **state)
{
    (void)state;
    size_t len = (1u << 20) + 7;
    char *junk = malloc(len);
    assert_non_null(junk);
    struct guest_static s[4];
    for (int f = GUEST_NETPLAN; f <= GUEST_NETWORKD; f++) {
        for (size_t i = 0; i < len; i++)
            junk[i] = (char)(i * 131 % 256);
        size_t n = 0;
        (void)guest_static_parse((enum guest_net_format)f, junk, len, "junk", s, &n, 4);
        assert_true(n <= 4);
        memset(junk, ' ', len); /* one 1 MB line of blanks ending in an assignment */
        memcpy(junk + len - 20, "IPADDR=10.0.0.1\n", 16);
        n = 0;
        (void)guest_static_parse((enum guest_net_format)f, junk, len, "junk", s, &n, 4);
        assert_true(n <= 4);
        for (size_t i = 0; i < n; i++)
            for (const char *p = s[i].detail; *p; p++)
                assert_true((unsigned char)*p >= 0x20);
    }
    static const char nul[] = "network:\n  ethernets:\n    et\0h0:\n      addresses: [10.0.0.4/24]\n";
    size_t n = 0;
    assert_int_equal(guest_static_parse(GUEST_NETPLAN, nul, sizeof nul - 1, "nul", s, &n, 4), 1);
    assert_string_equal(s[0].iface, "et?h0");
    n = 0;
    assert_int_equal(guest_static_parse(GUEST_IFCFG, NULL, 0, "none", s, &n, 4), 0);
    free(junk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_static_each_format, cleanup),
        cmocka_unit_test_teardown(test_dhcp_everywhere, cleanup),
        cmocka_unit_test_teardown(test_static_secondary_only, cleanup),
        cmocka_unit_test_teardown(test_unreadable_means_unknown, cleanup),
        cmocka_unit_test(test_netplan_shapes),
        cmocka_unit_test(test_other_readers),
        cmocka_unit_test(test_hostile_text),
    };
    return cmocka_run_group_tests_name("guest_static", tests, NULL, NULL);
}
