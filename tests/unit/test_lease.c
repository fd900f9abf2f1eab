/* Option 245 from lease files: the guest agent's own samples with the answers its tests expect
 * (tests/fixtures/leases), every dhclient form, networkd, NetworkManager's internal client, the
 * WireServerEndpoint file, hostile text, and lease_find over a fake --root tree. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "probe/lease.h"
#include "probe/sysfile.h"

#define NOW 1700000000LL          /* 2023-11-14 */
#define T_2015 1434473934LL       /* 2015/06/16 16:58:54 UTC */
#define T_2152 5761063630LL       /* 2152/07/23 23:27:10 UTC */
#define T_2012 1343086030LL       /* 2012/07/23 23:27:10 UTC */

static char *fixture(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/leases/%s", name);
    char *text = sysfile_read_abs(path, 1 << 20, len);
    assert_non_null(text);
    return text;
}

static void parse_str(lease_parser_fn fn, const char *text, struct lease_list *l)
{
    memset(l, 0, sizeof *l);
    fn(text, strlen(text), NOW, l);
}

/* The agent's answer from one dhclient file: its last unexpired lease. */
static const struct lease245 *agent_choice(const struct lease_list *l)
{
    for (size_t i = l->count; i-- > 0;)
        if (l->item[i].found && !l->item[i].expired)
            return &l->item[i];
    return NULL;
}

/* ---- the agent's samples ----------------------------------------------------------------- */

static void test_sample_dhcp_leases(void **state)
{
    (void)state;
    size_t len;
    char *text = fixture("dhcp.leases", &len);
    struct lease_list l = {0};
    assert_int_equal(lease_parse_dhclient(text, len, NOW, &l), 3);
    assert_int_equal(l.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_true(l.item[i].found);
        assert_string_equal(l.item[i].address, "168.63.129.16");
        assert_string_equal(l.item[i].iface, "eth0");
        assert_string_equal(l.item[i].format, "dhclient");
        assert_string_equal(l.item[i].file, "");
    }
    assert_int_equal(l.item[0].expire_epoch, -1);
    assert_false(l.item[0].expired);
    assert_int_equal(l.item[0].line, 13);
    assert_int_equal(l.item[1].expire_epoch, T_2015);
    assert_true(l.item[1].expired);
    assert_int_equal(l.item[2].expire_epoch, T_2152);
    assert_false(l.item[2].expired);
    assert_int_equal(l.item[2].line, 50);
    assert_string_equal(agent_choice(&l)->address, "168.63.129.16");
    free(text);
}

static void test_sample_custom_dns(void **state)
{
    (void)state;
    size_t len;
    char *text = fixture("dhcp.leases.custom.dns", &len);
    struct lease_list l = {0};
    assert_int_equal(lease_parse_dhclient(text, len, NOW, &l), 3);
    assert_string_equal(l.item[0].address, "168.63.129.1");
    assert_int_equal(l.item[0].expire_epoch, -1);
    assert_string_equal(l.item[1].address, "168.63.129.2");
    assert_true(l.item[1].expired);
    assert_string_equal(l.item[2].address, "168.63.129.16");
    /* the agent: the last unexpired lease wins, even over an earlier `expire never` */
    assert_string_equal(agent_choice(&l)->address, "168.63.129.16");
    free(text);
}

static void test_sample_multi(void **state)
{
    (void)state;
    size_t len;
    char *text = fixture("dhcp.leases.multi", &len);
    struct lease_list l = {0};
    assert_int_equal(lease_parse_dhclient(text, len, NOW, &l), 3);
    assert_string_equal(l.item[0].address, "168.63.129.1");
    assert_string_equal(l.item[1].address, "168.63.129.2");
    assert_string_equal(l.item[2].address, "168.63.129.3");
    assert_false(l.item[1].expired);
    assert_true(l.item[2].expired);
    assert_int_equal(l.item[2].expire_epoch, T_2012);
    assert_string_equal(agent_choice(&l)->address, "168.63.129.2");
    /* seen from 2153, every dated lease has expired */
    memset(&l, 0, sizeof l);
    lease_parse_dhclient(text, len, T_2152, &l);
    assert_true(l.item[0].expired); /* expire == now counts as expired, as in the agent */
    assert_null(agent_choice(&l));
    free(text);
}

static void test_sample_networkd(void **state)
{
    (void)state;
    size_t len;
    char *text = fixture("networkd-lease-2", &len);
    struct lease_list l = {0};
    assert_int_equal(lease_parse_networkd(text, len, NOW, &l), 1);
    assert_true(l.item[0].found);
    assert_string_equal(l.item[0].address, "168.63.129.16");
    assert_string_equal(l.item[0].format, "networkd");
    assert_int_equal(l.item[0].line, 14);
    assert_int_equal(l.item[0].expire_epoch, 0);
    assert_false(l.item[0].expired);
    free(text);
}

/* ---- dhclient forms ---------------------------------------------------------------------- */

static const char *lease_with(const char *opt, char *buf, size_t size)
{
    snprintf(buf, size,
             "lease {\n  interface \"eth1\";\n  fixed-address 10.0.0.4;\n  %s\n  expire 3 2150/01/01 00:00:00;\n}\n",
             opt);
    return buf;
}

static void expect_dhclient(const char *opt, const char *address)
{
    char buf[1024];
    struct lease_list l;
    parse_str(lease_parse_dhclient, lease_with(opt, buf, sizeof buf), &l);
    assert_int_equal(l.count, 1);
    if (address) {
        assert_true(l.item[0].found);
        assert_string_equal(l.item[0].address, address);
        assert_string_equal(l.item[0].iface, "eth1");
        assert_int_equal(l.item[0].line, 4);
        assert_false(l.item[0].expired);
    } else {
        assert_false(l.item[0].found);
        assert_string_equal(l.item[0].address, "");
        assert_int_not_equal(l.item[0].note[0], '\0');
    }
}

static void test_dhclient_hex_forms(void **state)
{
    (void)state;
    expect_dhclient("option unknown-245 a8:3f:81:10;", "168.63.129.16");
    expect_dhclient("option unknown-245 A8:3F:81:10;", "168.63.129.16");
    expect_dhclient("option unknown-245 a:0:1:2;", "10.0.1.2");       /* single-digit octets */
    expect_dhclient("option unknown-245 a8:0:81:f;", "168.0.129.15");
    expect_dhclient("option option-245 a8:3f:81:10;", "168.63.129.16"); /* OpenBSD */
    expect_dhclient("option  unknown-245\ta8:3f:81:10 ;", "168.63.129.16");
    expect_dhclient("option unknown-245 a8:3f:81:10:01;", NULL);       /* 5 octets */
    expect_dhclient("option unknown-245 a8:3f:81;", NULL);
    expect_dhclient("option unknown-245 a8:3f:81:100;", NULL);
    expect_dhclient("option unknown-245 a8:3f::10;", NULL);
    expect_dhclient("option unknown-245 ;", NULL);
    expect_dhclient("option unknown-2450 a8:3f:81:10;", NULL);
    char buf[1024];
    struct lease_list l;
    parse_str(lease_parse_dhclient, lease_with("option unknown-245 a8:3f:81:10:01;", buf, sizeof buf), &l);
    assert_string_equal(l.item[0].note, "option 245 holds 5 octets, not 4");
}

static void test_dhclient_quoted(void **state)
{
    (void)state;
    expect_dhclient("option unknown-245 \"dA`b\";", "100.65.96.98");
    expect_dhclient("option unknown-245 \"dA\\`b\";", "100.65.96.98");    /* dhclient escapes ` */
    expect_dhclient("option unknown-245 \"\\144A`\\142\";", "100.65.96.98"); /* octal */
    expect_dhclient("option unknown-245 \"a\\\"b\\\\\";", "97.34.98.92");   /* \" and \\ */
    expect_dhclient("option unknown-245 \"a;b;\";", "97.59.98.59");
    expect_dhclient("option unknown-245 \"\\0\\00\\1\\377\";", "0.0.1.255");
    expect_dhclient("option unknown-245 \"dA`\";", NULL);   /* 3 bytes */
    expect_dhclient("option unknown-245 \"dA`bc\";", NULL); /* 5 bytes */
    expect_dhclient("option unknown-245 \"dA`b;", NULL);    /* not closed */
    expect_dhclient("option unknown-245 \"\\400AB\";", NULL); /* \400 > 255 */
}

static void test_dhclient_named_option(void **state)
{
    (void)state;
    const char *text = "option azure-wireserver code 245 = ip-address;\n"
                       "lease {\n  interface \"eth0\";\n  option azure-wireserver 168.63.129.16;\n"
                       "  expire never;\n}\n";
    struct lease_list l;
    parse_str(lease_parse_dhclient, text, &l);
    assert_int_equal(l.count, 1);
    assert_true(l.item[0].found);
    assert_string_equal(l.item[0].address, "168.63.129.16");
    assert_int_equal(l.item[0].expire_epoch, -1);
    assert_int_equal(l.item[0].line, 4);
    /* without a declaration the name means nothing */
    const char *lease = "lease {\n  option azure-wireserver 168.63.129.16;\n  expire never;\n}\n";
    parse_str(lease_parse_dhclient, lease, &l);
    assert_false(l.item[0].found);
    /* the declaration taken from dhclient.conf */
    const char *conf = "# azure\nrequest subnet-mask;\noption  azure-wireserver  code  245 = ip-address;\n";
    memset(&l, 0, sizeof l);
    assert_int_equal(lease_parse_dhclient_conf(conf, strlen(conf), lease, strlen(lease), NOW, &l), 1);
    assert_true(l.item[0].found);
    assert_string_equal(l.item[0].address, "168.63.129.16");
    /* a conf's lease blocks are not leases */
    memset(&l, 0, sizeof l);
    lease_parse_dhclient_conf(lease, strlen(lease), "", 0, NOW, &l);
    assert_false(l.item[0].found);
    /* a declared name with a bad value */
    const char *bad = "option wire code 245 = ip-address;\nlease {\n  option wire 168.63.129;\n  expire never;\n}\n";
    parse_str(lease_parse_dhclient, bad, &l);
    assert_false(l.item[0].found);
    assert_string_equal(l.item[0].note, "option 245 value is not an IPv4 address");
}

static void test_dhclient_expiry(void **state)
{
    (void)state;
    struct lease_list l;
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a8:3f:81:10;\n expire never;\n}\n", &l);
    assert_int_equal(l.item[0].expire_epoch, -1);
    assert_false(l.item[0].expired);
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a8:3f:81:10;\n expire 4 2015/06/16 16:58:54;\n}\n",
              &l);
    assert_int_equal(l.item[0].expire_epoch, T_2015);
    assert_true(l.item[0].expired);
    assert_true(l.item[0].found); /* expired leases are kept, marked */
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a8:3f:81:10;\n expire epoch 1700000001; # Tue\n}\n",
              &l);
    assert_int_equal(l.item[0].expire_epoch, 1700000001LL);
    assert_false(l.item[0].expired);
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a8:3f:81:10;\n expire epoch 1700000000;\n}\n", &l);
    assert_true(l.item[0].expired);
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a8:3f:81:10;\n}\n", &l);
    assert_int_equal(l.item[0].expire_epoch, 0);
    assert_false(l.item[0].expired);
    assert_non_null(strstr(l.item[0].note, "no expire line"));
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a8:3f:81:10;\n expire 4 2015/13/16 16:58:54;\n}\n",
              &l);
    assert_int_equal(l.item[0].expire_epoch, 0);
    assert_non_null(strstr(l.item[0].note, "unreadable expire"));
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a8:3f:81:10;\n expire 4 2000/02/29 23:59:59;\n}\n",
              &l);
    assert_int_equal(l.item[0].expire_epoch, 951868799LL); /* leap day */
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a8:3f:81:10;\n expire 4 1969/12/31 23:59:59;\n}\n",
              &l);
    assert_int_equal(l.item[0].expire_epoch, 1); /* before 1970: kept apart from -1 (never) */
    assert_true(l.item[0].expired);
}

static void test_dhclient_structure(void **state)
{
    (void)state;
    struct lease_list l;
    /* no lease block has 245 */
    parse_str(lease_parse_dhclient, "lease {\n interface \"eth0\";\n expire never;\n}\n", &l);
    assert_int_equal(l.count, 1);
    assert_false(l.item[0].found);
    assert_string_equal(l.item[0].note, "no lease in this file carries option 245");
    /* 245 outside a lease block, in a lease6 block, or in a nested block is not a lease's */
    parse_str(lease_parse_dhclient,
              "option unknown-245 a8:3f:81:10;\nlease6 {\n option unknown-245 a8:3f:81:10;\n ia-na x {\n"
              "  option unknown-245 a8:3f:81:10;\n }\n}\n",
              &l);
    assert_false(l.item[0].found);
    /* the last 245 of a block wins; a block left open at the end is kept with a note */
    parse_str(lease_parse_dhclient,
              "lease {\n option unknown-245 a:0:0:1;\n option unknown-245 a:0:0:2;\n expire never;\n}\n"
              "lease {\n option unknown-245 a:0:0:3;\n expire never;",
              &l);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.item[0].address, "10.0.0.2");
    assert_int_equal(l.item[0].line, 3);
    assert_string_equal(l.item[1].address, "10.0.0.3");
    assert_non_null(strstr(l.item[1].note, "not closed"));
    /* `lease {` inside an unclosed lease starts a new one, as in the agent */
    parse_str(lease_parse_dhclient, "lease {\n option unknown-245 a:0:0:1;\nlease {\n option unknown-245 a:0:0:2;\n}\n",
              &l);
    assert_int_equal(l.count, 2);
    assert_string_equal(l.item[1].address, "10.0.0.2");
    assert_string_equal(l.item[1].note, "no expire line (the agent treats such a lease as expired)");
    /* CRLF line ends, a missing final newline */
    parse_str(lease_parse_dhclient, "lease {\r\n  option unknown-245 a8:3f:81:10;\r\n  expire never;\r\n}", &l);
    assert_true(l.item[0].found);
    assert_string_equal(l.item[0].note, "");
}

static void test_dhclient_keeps_last_eight(void **state)
{
    (void)state;
    char text[8192];
    size_t n = 0;
    for (int i = 1; i <= 20; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "lease {\n option unknown-245 a:0:0:%x;\n expire never;\n}\n", i);
    struct lease_list l = {0};
    assert_int_equal(lease_parse_dhclient(text, n, NOW, &l), 8);
    assert_int_equal(l.dropped, 12);
    assert_string_equal(l.item[0].address, "10.0.0.13");
    assert_string_equal(l.item[7].address, "10.0.0.20");
    /* a full list counts what did not fit */
    l.count = LEASE_LIST_MAX;
    l.dropped = 0;
    assert_int_equal(lease_parse_dhclient(text, n, NOW, &l), 0);
    assert_int_equal(l.dropped, 20);
    assert_int_equal(lease_parse_networkd("", 0, NOW, &l), 0);
    assert_int_equal(l.dropped, 21);
}

/* ---- networkd, NetworkManager, WireServerEndpoint ----------------------------------------- */

static void test_networkd_forms(void **state)
{
    (void)state;
    struct lease_list l;
    parse_str(lease_parse_networkd, "# This is private data. Do not parse.\nADDRESS=10.0.0.4\nOPTION_245=A83F8110\n", &l);
    assert_true(l.item[0].found);
    assert_string_equal(l.item[0].address, "168.63.129.16");
    assert_int_equal(l.item[0].line, 3);
    parse_str(lease_parse_networkd, "OPTION_245=0a3e908c\r\nOPTION_245=a83F8110", &l); /* last wins, no newline */
    assert_string_equal(l.item[0].address, "168.63.129.16");
    assert_int_equal(l.item[0].line, 2);
    parse_str(lease_parse_networkd, "ADDRESS=10.0.0.4\n", &l);
    assert_false(l.item[0].found);
    assert_string_equal(l.item[0].note, "no OPTION_245 in this lease");
    parse_str(lease_parse_networkd, "OPTION_245=a83f81\n", &l);
    assert_false(l.item[0].found);
    assert_string_equal(l.item[0].note, "OPTION_245 holds 3 bytes, not 4");
    parse_str(lease_parse_networkd, "OPTION_245=a83f8110ff\n", &l);
    assert_string_equal(l.item[0].note, "OPTION_245 holds 5 bytes, not 4");
    parse_str(lease_parse_networkd, "OPTION_245=a8:3f:81:10\n", &l); /* not what networkd writes */
    assert_false(l.item[0].found);
    parse_str(lease_parse_networkd, "OPTION_245=zz3f8110\n", &l);
    assert_string_equal(l.item[0].note, "OPTION_245 is not an IPv4 address");
    parse_str(lease_parse_networkd, "OPTION_2450=a83f8110\nXOPTION_245=a83f8110\n# OPTION_245=a83f8110\n", &l);
    assert_false(l.item[0].found);
}

static void test_nm_internal(void **state)
{
    (void)state;
    struct lease_list l;
    parse_str(lease_parse_nm_internal, "# This is private data. Do not parse.\nADDRESS=10.0.0.4\n", &l);
    assert_int_equal(l.count, 1);
    assert_false(l.item[0].found);
    assert_string_equal(l.item[0].format, "networkmanager");
    assert_non_null(strstr(l.item[0].note, "no 245 recorded by this client"));
    static const struct {
        const char *text;
        const char *address;
    } ok[] = {
        {"ADDRESS=10.0.0.4\nOPTION_245=a83f8110\n", "168.63.129.16"},
        {"PRIVATE_245=a8:3f:81:10\n", "168.63.129.16"},
        {"private_245 = a8:3f:81:10\n", "168.63.129.16"},
        {"DHCP4_PRIVATE_245='a:3e:90:8c'\n", "10.62.144.140"},
        {"DHCP4_UNKNOWN_245=168.63.129.16", "168.63.129.16"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        parse_str(lease_parse_nm_internal, ok[i].text, &l);
        assert_true(l.item[0].found);
        assert_string_equal(l.item[0].address, ok[i].address);
    }
    parse_str(lease_parse_nm_internal, "PRIVATE_245=a8:3f:81\n", &l);
    assert_false(l.item[0].found);
    assert_string_equal(l.item[0].note, "PRIVATE_245 holds 3 bytes, not 4");
}

static void test_endpoint_file(void **state)
{
    (void)state;
    struct lease_list l;
    memset(&l, 0, sizeof l);
    assert_int_equal(lease_parse_endpoint("168.63.129.16", 13, NOW, &l), 1);
    assert_true(l.item[0].found);
    assert_string_equal(l.item[0].address, "168.63.129.16");
    assert_string_equal(l.item[0].format, "waagent");
    static const char *const bad[] = {
        "168.63.129.16\n", "", "168.63.129", "168.63.129.016", "256.1.1.1", "168.63.129.16 ", " 168.63.129.16",
        "168.63.129.16.1", "1.2.3.4 5.6.7.8", "a8:3f:81:10", "168.63.129.1600",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        parse_str(lease_parse_endpoint, bad[i], &l);
        assert_int_equal(l.count, 1);
        assert_false(l.item[0].found);
        assert_int_not_equal(l.item[0].note[0], '\0');
    }
    parse_str(lease_parse_endpoint, "168.63.129.16\n", &l);
    assert_non_null(strstr(l.item[0].note, "newline"));
    memset(&l, 0, sizeof l);
    lease_parse_endpoint("168.63.129.16\0", 14, NOW, &l); /* a NUL is something else */
    assert_false(l.item[0].found);
    parse_str(lease_parse_endpoint, "0.0.0.0", &l);
    assert_true(l.item[0].found);
}

/* ---- hostile text ------------------------------------------------------------------------ */

static void test_hostile_text(void **state)
{
    (void)state;
    static const lease_parser_fn parsers[] = {lease_parse_dhclient, lease_parse_networkd, lease_parse_nm_internal,
                                              lease_parse_endpoint};
    size_t big = 1u << 20;
    char *huge = malloc(big + 256);
    assert_non_null(huge);
    /* a 1 MB line of 'a', then a valid dhclient lease and networkd line, no final newline */
    memset(huge, 'a', big);
    const char *tail = "\nlease {\n option unknown-245 a8:3f:81:10;\n expire never;\n}\nOPTION_245=a83f8110";
    memcpy(huge + big, tail, strlen(tail));
    size_t n = big + strlen(tail);
    struct lease_list l = {0};
    lease_parse_dhclient(huge, n, NOW, &l);
    assert_true(l.item[0].found);
    assert_int_equal(l.item[0].line, 3);
    memset(&l, 0, sizeof l);
    lease_parse_networkd(huge, n, NOW, &l);
    assert_true(l.item[0].found);
    /* a 1 MB line that looks like an option: ignored, not parsed */
    memcpy(huge, "option unknown-245 ", 19);
    memset(&l, 0, sizeof l);
    lease_parse_dhclient(huge, big, NOW, &l);
    assert_false(l.item[0].found);
    /* binary bytes and NULs before the real text (which must still be found) */
    for (size_t i = 0; i < 4096; i++)
        huge[i] = (char)(i * 131 + 7);
    huge[100] = '\0';
    huge[4095] = '\n';
    memcpy(huge + 4096, tail + 1, strlen(tail) - 1);
    n = 4096 + strlen(tail) - 1;
    memset(&l, 0, sizeof l);
    lease_parse_dhclient(huge, n, NOW, &l);
    assert_true(l.item[l.count - 1].found);
    memset(&l, 0, sizeof l);
    lease_parse_networkd(huge, n, NOW, &l);
    assert_true(l.item[0].found);
    /* garbage lines, stray braces, NULs inside statements: no crash, nothing invented */
    const char garbage[] = "}}}\n{{{\nlease\n{\n;;;\noption\noption unknown-245\nexpire\nexpire 9 x\n=\n==\n"
                           "OPTION_245\nOPTION_245=\nADDRESS=\n\"\\\n\xff\xfe\x00\x01\nlease {\noption unknown-245 a8:3f\x00:81:10;\n}\n";
    for (size_t p = 0; p < sizeof parsers / sizeof parsers[0]; p++) {
        memset(&l, 0, sizeof l);
        parsers[p](garbage, sizeof garbage - 1, NOW, &l);
        assert_true(l.count >= 1);
        for (size_t i = 0; i < l.count; i++)
            assert_false(l.item[i].found);
        /* every prefix, from an exact-size heap copy (a sanitizer build sees any over-read) */
        for (size_t k = 0; k < sizeof garbage; k++) {
            char *copy = malloc(k ? k : 1);
            assert_non_null(copy);
            memcpy(copy, garbage, k);
            memset(&l, 0, sizeof l);
            parsers[p](copy, k, NOW, &l);
            assert_true(l.count <= LEASE_LIST_MAX);
            free(copy);
        }
        memset(&l, 0, sizeof l);
        parsers[p](NULL, 0, NOW, &l);
        assert_false(l.item[0].found);
    }
    free(huge);
}

/* ---- lease_find -------------------------------------------------------------------------- */

static void put_file(const char *root, const char *path, const char *text, size_t len, time_t mtime)
{
    char full[1024], dir[1024];
    snprintf(full, sizeof full, "%s%s", root, path);
    for (char *s = strchr(full + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        snprintf(dir, sizeof dir, "%.*s", (int)(s - full), full);
        mkdir(dir, 0700);
    }
    FILE *f = fopen(full, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(full, tv), 0);
}

static void put_fixture(const char *root, const char *path, const char *name, time_t mtime)
{
    size_t len;
    char *text = fixture(name, &len);
    put_file(root, path, text, len, mtime);
    free(text);
}

static void rm_root(const char *root)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* One file per location: the agent's answer comes first for each sample. */
static void test_find_agent_answers(void **state)
{
    (void)state;
    static const struct {
        const char *path, *fixture, *address;
    } cases[] = {
        {"/var/lib/dhcp/dhclient.eth0.leases", "dhcp.leases", "168.63.129.16"},
        {"/var/lib/dhcp/dhclient.eth0.leases", "dhcp.leases.custom.dns", "168.63.129.16"},
        {"/var/lib/dhcp/dhclient.eth0.leases", "dhcp.leases.multi", "168.63.129.2"},
        {"/var/lib/dhclient/dhclient-eth0.leases", "dhcp.leases.multi", "168.63.129.2"},
        {"/var/lib/NetworkManager/dhclient-5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03-eth0.lease", "dhcp.leases.multi",
         "168.63.129.2"},
        {"/var/db/dhclient.leases.hvn0", "dhcp.leases.custom.dns", "168.63.129.16"},
        {"/run/systemd/netif/leases/2", "networkd-lease-2", "168.63.129.16"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char root[] = "/tmp/azbp-lease-XXXXXX";
        assert_non_null(mkdtemp(root));
        put_fixture(root, cases[i].path, cases[i].fixture, 1690000000);
        struct lease_list l;
        assert_true(lease_find(root, NOW, &l) >= 1);
        assert_true(l.item[0].found);
        assert_false(l.item[0].expired);
        assert_string_equal(l.item[0].address, cases[i].address);
        assert_string_equal(l.item[0].file, cases[i].path);
        assert_int_equal(l.item[0].mtime, 1690000000);
        for (size_t k = 1; k < l.count; k++) { /* unexpired, then expired, then none */
            int prev = l.item[k - 1].found ? (l.item[k - 1].expired ? 1 : 0) : 2;
            int cur = l.item[k].found ? (l.item[k].expired ? 1 : 0) : 2;
            assert_true(prev <= cur);
        }
        rm_root(root);
    }
}

static void test_find_order_and_names(void **state)
{
    (void)state;
    char root[] = "/tmp/azbp-lease-XXXXXX";
    assert_non_null(mkdtemp(root));
    struct lease_list l;
    assert_int_equal(lease_find(root, NOW, &l), 0);
    assert_int_equal(lease_find("/nonexistent-azbp-root", NOW, &l), 0);
    /* a stale dhclient file (older) and a live networkd lease (newer) */
    put_fixture(root, "/var/lib/dhcp/dhclient.eth0.leases", "dhcp.leases.multi", 1600000000);
    put_file(root, "/run/systemd/netif/leases/2", "OPTION_245=0a3e908c\n", 20, 1690000000);
    put_file(root, "/sys/class/net/eth0/ifindex", "2\n", 2, 1690000000);
    put_file(root, "/sys/class/net/lo/ifindex", "1\n", 2, 1690000000);
    put_file(root, "/run/systemd/netif/leases/3", "ADDRESS=10.0.0.5\n", 17, 1690000000);
    put_file(root, "/var/lib/NetworkManager/internal-5fb06bd0-0bb0-7ffb-45f1-d6edd65f3e03-eth1.lease",
             "ADDRESS=10.0.1.5\n", 17, 1690000000);
    put_file(root, "/var/lib/NetworkManager/dhclient-eth0.conf", "junk", 4, 1690000000); /* not a lease */
    put_file(root, "/var/lib/waagent/WireServerEndpoint", "168.63.129.16", 13, 1500000000);
    put_file(root, "/var/lib/waagent/WireServerEndpoint.bak", "1.2.3.4", 7, 1800000000);
    assert_int_equal(lease_find(root, NOW, &l), 7);
    assert_int_equal(l.dropped, 0);
    /* networkd (newest file) first */
    assert_string_equal(l.item[0].format, "networkd");
    assert_string_equal(l.item[0].address, "10.62.144.140");
    assert_string_equal(l.item[0].iface, "eth0");
    assert_string_equal(l.item[0].file, "/run/systemd/netif/leases/2");
    /* then dhclient's unexpired leases, the agent's winner first */
    assert_string_equal(l.item[1].format, "dhclient");
    assert_string_equal(l.item[1].address, "168.63.129.2");
    assert_string_equal(l.item[1].iface, "eth0");
    assert_string_equal(l.item[2].address, "168.63.129.1");
    /* then the agent's cached endpoint (oldest) */
    assert_string_equal(l.item[3].format, "waagent");
    assert_string_equal(l.item[3].address, "168.63.129.16");
    assert_string_equal(l.item[3].file, "/var/lib/waagent/WireServerEndpoint");
    /* then the expired lease */
    assert_string_equal(l.item[4].address, "168.63.129.3");
    assert_true(l.item[4].expired);
    /* then the files without 245 */
    for (size_t i = 5; i < 7; i++)
        assert_false(l.item[i].found);
    bool saw_nm = false, saw_idx3 = false;
    for (size_t i = 5; i < 7; i++) {
        if (strcmp(l.item[i].format, "networkmanager") == 0) {
            saw_nm = true;
            assert_string_equal(l.item[i].iface, "eth1");
            assert_non_null(strstr(l.item[i].note, "no 245 recorded by this client"));
        }
        if (strcmp(l.item[i].iface, "ifindex 3") == 0)
            saw_idx3 = true;
    }
    assert_true(saw_nm);
    assert_true(saw_idx3);
    /* the dhclient file refreshed: now it is the newest family */
    struct timeval tv[2] = {{1695000000, 0}, {1695000000, 0}};
    char full[512];
    snprintf(full, sizeof full, "%s/var/lib/dhcp/dhclient.eth0.leases", root);
    assert_int_equal(utimes(full, tv), 0);
    lease_find(root, NOW, &l);
    assert_string_equal(l.item[0].address, "168.63.129.2");
    assert_string_equal(l.item[2].format, "networkd");
    rm_root(root);
}

static void test_find_dhclient_files_by_expiry(void **state)
{
    (void)state;
    char root[] = "/tmp/azbp-lease-XXXXXX";
    assert_non_null(mkdtemp(root));
    const char *soon = "lease {\n interface \"eth0\";\n option unknown-245 a:0:0:1;\n expire 1 2024/01/01 00:00:00;\n}\n";
    const char *later = "lease {\n option unknown-245 a:0:0:2;\n expire 1 2030/01/01 00:00:00;\n}\n";
    put_file(root, "/var/lib/dhcp/dhclient.eth0.leases", soon, strlen(soon), 1690000000);
    put_file(root, "/var/lib/dhcp/dhclient.eth1.leases", later, strlen(later), 1680000000);
    /* a named option declared in dhclient.conf */
    const char *conf = "option azure-ws code 245 = ip-address;\n";
    const char *named = "lease {\n option azure-ws 10.0.0.3;\n expire never;\n}\n";
    put_file(root, "/etc/dhcp/dhclient.conf", conf, strlen(conf), 1600000000);
    put_file(root, "/var/lib/dhclient/dhclient.leases", named, strlen(named), 1670000000);
    struct lease_list l;
    assert_int_equal(lease_find(root, NOW, &l), 3);
    assert_string_equal(l.item[0].address, "10.0.0.3"); /* never expires */
    assert_string_equal(l.item[1].address, "10.0.0.2"); /* 2030, although its file is older */
    assert_string_equal(l.item[1].iface, "eth1");        /* from the file name */
    assert_string_equal(l.item[2].address, "10.0.0.1");
    assert_string_equal(l.item[2].iface, "eth0");        /* from the lease */
    /* a file too large is read up to the bound, with a note */
    char *big = malloc(LEASE_FILE_MAX + 100);
    assert_non_null(big);
    memset(big, '#', LEASE_FILE_MAX + 100);
    memcpy(big, named, strlen(named));
    put_file(root, "/var/lib/dhclient/dhclient.leases", big, LEASE_FILE_MAX + 100, 1670000000);
    free(big);
    lease_find(root, NOW, &l);
    assert_string_equal(l.item[0].address, "10.0.0.3");
    assert_non_null(strstr(l.item[0].note, "only the first"));
    rm_root(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_dhcp_leases),
        cmocka_unit_test(test_sample_custom_dns),
        cmocka_unit_test(test_sample_multi),
        cmocka_unit_test(test_sample_networkd),
        cmocka_unit_test(test_dhclient_hex_forms),
        cmocka_unit_test(test_dhclient_quoted),
        cmocka_unit_test(test_dhclient_named_option),
        cmocka_unit_test(test_dhclient_expiry),
        cmocka_unit_test(test_dhclient_structure),
        cmocka_unit_test(test_dhclient_keeps_last_eight),
        cmocka_unit_test(test_networkd_forms),
        cmocka_unit_test(test_nm_internal),
        cmocka_unit_test(test_endpoint_file),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_find_agent_answers),
        cmocka_unit_test(test_find_order_and_names),
        cmocka_unit_test(test_find_dhclient_files_by_expiry),
    };
    return cmocka_run_group_tests_name("lease", tests, NULL, NULL);
}
