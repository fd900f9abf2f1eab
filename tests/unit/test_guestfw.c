/* The guest firewall evaluator on real dumps (tests/fixtures/guestfw, made by src/dump.sh in a
 * throwaway network namespace): the guest agent's own rules in nftables and iptables form, user
 * chains, sets, negations, policies, rules azbprobe cannot evaluate, and hostile input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/diag/guestfw.h"
#include "probe/diag/prefix.h"
#include "probe/sysfile.h"

#define FIX "tests/fixtures/guestfw/"

static void load(struct guestfw *fw, const char *name)
{
    char path[256], err[256];
    size_t len;
    snprintf(path, sizeof path, FIX "%s", name);
    char *text = sysfile_read_abs(path, 1 << 20, &len);
    assert_non_null(text);
    int rc = strstr(name, ".json") ? guestfw_load_nft_json(fw, text, len, name, err, sizeof err)
                                   : guestfw_load_iptables_save(fw, text, len, name, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    free(text);
}

static struct guestfw_flow flow(const char *ip, uint16_t port, bool tcp, bool root)
{
    struct guestfw_flow f = { 0, port, tcp, root };
    assert_true(ip4_parse(ip, &f.dst));
    return f;
}

static bool eval(const struct guestfw *fw, const char *ip, uint16_t port, bool tcp, bool root,
                 struct guestfw_verdict *v)
{
    struct guestfw_flow f = flow(ip, port, tcp, root);
    return guestfw_evaluate(fw, &f, v);
}

static void test_agent_nft(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char line[GUESTFW_DESCRIBE_MAX];
    load(&fw, "nft-agent.json");
    assert_true(eval(&fw, "168.63.129.16", 80, true, false, &v));
    assert_string_equal(v.blocker.family, "ip");
    assert_string_equal(v.blocker.table, "walinuxagent");
    assert_string_equal(v.blocker.chain, "output");
    assert_string_equal(v.blocker.rule,
                        "ip daddr 168.63.129.16 tcp dport != 53 skuid != 0 ct state invalid,new counter drop");
    assert_string_equal(v.blocker.verdict, "drop");
    assert_true(v.blocker.agent);
    assert_false(v.blocker.policy);
    guestfw_describe(&v, line, sizeof line);
    assert_non_null(strstr(line, "table ip walinuxagent chain output rule \"ip daddr 168.63.129.16"));
    assert_non_null(strstr(line, "guest agent's own rule"));
    assert_true(eval(&fw, "168.63.129.16", 32526, true, false, &v));
    assert_false(eval(&fw, "168.63.129.16", 80, true, true, &v));   /* root passes */
    assert_false(v.uncertain);
    assert_false(eval(&fw, "168.63.129.16", 53, true, false, &v));  /* port 53 is let through */
    assert_false(eval(&fw, "168.63.129.16", 53, false, false, &v)); /* UDP is not matched */
    assert_false(eval(&fw, "169.254.169.254", 80, true, false, &v));
    assert_false(v.uncertain);
    assert_int_equal(v.base_chains, 1);
    guestfw_free(&fw);
}

static void test_agent_iptables_trio(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    load(&fw, "iptables-save.txt");
    assert_true(eval(&fw, "168.63.129.16", 80, true, false, &v));
    assert_string_equal(v.blocker.source, "iptables");
    assert_string_equal(v.blocker.table, "security");
    assert_string_equal(v.blocker.chain, "OUTPUT");
    assert_string_equal(v.blocker.rule, "-A OUTPUT -d 168.63.129.16/32 -p tcp -m conntrack --ctstate INVALID,NEW -j DROP");
    assert_true(v.blocker.agent);
    assert_false(eval(&fw, "168.63.129.16", 53, true, false, &v));
    guestfw_free(&fw);
}

static void test_iptables_user_chain_and_reject(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char line[GUESTFW_DESCRIBE_MAX];
    load(&fw, "iptables-save.txt");
    /* root passes the agent's trio, then filter OUTPUT jumps to AZWIRE, which drops 32526 */
    assert_true(eval(&fw, "168.63.129.16", 32526, true, true, &v));
    assert_string_equal(v.blocker.table, "filter");
    assert_string_equal(v.blocker.chain, "AZWIRE");
    assert_string_equal(v.blocker.rule, "-A AZWIRE -p tcp -m tcp --dport 32526 -j DROP");
    assert_false(v.blocker.agent);
    assert_false(eval(&fw, "168.63.129.16", 80, true, true, &v)); /* AZWIRE returns */
    assert_true(eval(&fw, "203.0.113.10", 443, true, true, &v));
    assert_string_equal(v.blocker.verdict, "reject");
    guestfw_describe(&v, line, sizeof line);
    assert_string_equal(line, "guest firewall: iptables table filter chain OUTPUT rule \"-A OUTPUT -d 203.0.113.10/32 "
                              "-p tcp -m tcp --dport 443 -j REJECT --reject-with tcp-reset\" rejects it");
    /* ! -d 10.0.0.0/8 */
    assert_true(eval(&fw, "203.0.113.50", 2222, true, true, &v));
    assert_false(eval(&fw, "10.1.2.3", 2222, true, true, &v));
    /* multiport 53,5000:5100 udp to 198.51.100.0/24 */
    assert_true(eval(&fw, "198.51.100.7", 5050, false, true, &v));
    assert_false(eval(&fw, "198.51.100.7", 5050, true, true, &v));
    assert_false(eval(&fw, "198.51.100.7", 443, false, true, &v));
    /* -m mark: not evaluated, so only a possible blocker */
    assert_false(eval(&fw, "203.0.113.12", 443, true, true, &v));
    assert_true(v.uncertain);
    assert_string_equal(v.possible.rule, "-A OUTPUT -d 203.0.113.12/32 -m mark --mark 0x1 -j DROP");
    guestfw_describe(&v, line, sizeof line);
    assert_non_null(strstr(line, "may drop it"));
    guestfw_free(&fw);
}

static void test_nft_guest_rules(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char line[GUESTFW_DESCRIBE_MAX];
    load(&fw, "nft-guest.json");
    assert_true(eval(&fw, "203.0.113.10", 443, true, false, &v));
    guestfw_describe(&v, line, sizeof line);
    assert_string_equal(line, "guest firewall: table inet azbp_guest chain output rule "
                              "\"ip daddr 203.0.113.10 tcp dport 443 drop\" drops it");
    assert_false(eval(&fw, "203.0.113.10", 80, true, false, &v));
    assert_true(eval(&fw, "203.0.113.14", 443, true, false, &v));
    assert_string_equal(v.blocker.rule, "ip daddr 203.0.113.14 tcp dport 443 reject with tcp reset");
    assert_string_equal(v.blocker.verdict, "reject");
    /* accept before drop */
    assert_false(eval(&fw, "203.0.113.11", 443, true, false, &v));
    assert_true(eval(&fw, "203.0.113.11", 80, true, false, &v));
    assert_string_equal(v.blocker.rule, "ip daddr 203.0.113.11 counter drop");
    guestfw_free(&fw);
}

static void test_nft_prefix_set_negation(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    load(&fw, "nft-guest.json");
    assert_true(eval(&fw, "198.51.100.200", 8443, true, false, &v));
    assert_string_equal(v.blocker.rule, "ip daddr 198.51.100.0/24 tcp dport { 8443, 9000-9100 } counter drop");
    assert_true(eval(&fw, "198.51.100.200", 9050, true, false, &v));
    assert_false(eval(&fw, "198.51.100.200", 9101, true, false, &v));
    assert_false(eval(&fw, "198.51.101.1", 8443, true, false, &v));
    assert_true(eval(&fw, "203.0.113.40", 53, false, false, &v));
    assert_string_equal(v.blocker.rule, "ip daddr { 203.0.113.20, 203.0.113.32/28 } udp dport 53 drop");
    assert_true(eval(&fw, "203.0.113.20", 53, false, false, &v));
    assert_false(eval(&fw, "203.0.113.21", 53, false, false, &v));
    assert_false(eval(&fw, "203.0.113.40", 53, true, false, &v));
    assert_true(eval(&fw, "192.0.2.1", 2222, true, false, &v));
    assert_string_equal(v.blocker.rule, "ip daddr != 10.0.0.0/8 tcp dport 2222 drop");
    assert_false(eval(&fw, "10.9.9.9", 2222, true, false, &v));
    guestfw_free(&fw);
}

static void test_nft_jump_goto_and_unknown(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    load(&fw, "nft-guest.json");
    assert_true(eval(&fw, "168.63.129.16", 32526, true, true, &v));
    assert_string_equal(v.blocker.chain, "azwire");
    assert_string_equal(v.blocker.rule, "tcp dport 32526 counter drop");
    assert_false(eval(&fw, "168.63.129.16", 80, true, true, &v));
    assert_false(v.uncertain);
    /* meta mark: possible, never the blocker */
    assert_false(eval(&fw, "203.0.113.12", 443, true, false, &v));
    assert_true(v.uncertain);
    assert_string_equal(v.possible.rule, "ip daddr 203.0.113.12 mark 1 drop");
    guestfw_free(&fw);
}

static void test_nft_udp_reject_l4proto(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    load(&fw, "nft-guest.json");
    assert_true(eval(&fw, "203.0.113.13", 123, false, false, &v));
    assert_string_equal(v.blocker.rule, "meta l4proto udp ip daddr 203.0.113.13 reject with icmp port-unreachable");
    guestfw_free(&fw);
}

static void test_policy_drop_allow_list(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char line[GUESTFW_DESCRIBE_MAX];
    load(&fw, "nft-allow.json");
    assert_false(eval(&fw, "168.63.129.16", 32526, true, false, &v));
    assert_false(eval(&fw, "169.254.169.254", 80, true, false, &v));
    assert_true(eval(&fw, "169.254.169.254", 443, true, false, &v));
    assert_true(v.blocker.policy);
    guestfw_describe(&v, line, sizeof line);
    assert_string_equal(line, "guest firewall: table inet azbp_allow chain output policy drop drops it");
    assert_false(eval(&fw, "203.0.113.5", 8443, true, false, &v));
    assert_true(eval(&fw, "203.0.113.20", 443, true, false, &v));
    guestfw_free(&fw);

    memset(&fw, 0, sizeof fw);
    load(&fw, "iptables-policy.txt"); /* -o lo cannot carry a flow to these addresses */
    assert_false(eval(&fw, "168.63.129.16", 80, true, false, &v));
    assert_false(eval(&fw, "203.0.113.3", 443, true, false, &v));
    assert_true(eval(&fw, "198.51.100.9", 443, true, false, &v));
    assert_true(v.blocker.policy);
    assert_string_equal(v.blocker.chain, "OUTPUT");
    guestfw_free(&fw);
}

static void test_iptables_nft_dedup(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    /* alone, the nft view of iptables-nft tables has xt matches: the agent's DROP is only possible */
    load(&fw, "nft-iptables-nft.json");
    assert_false(eval(&fw, "168.63.129.16", 80, true, false, &v));
    assert_true(v.uncertain);
    /* with iptables-save, its exact rules replace that view */
    load(&fw, "iptables-save.txt");
    assert_true(eval(&fw, "168.63.129.16", 80, true, false, &v));
    assert_string_equal(v.blocker.source, "iptables");
    assert_true(v.blocker.agent);
    guestfw_free(&fw);
}

static void test_collect_bundle(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char note[512], line[GUESTFW_DESCRIBE_MAX];
    guestfw_collect(&fw, FIX "bundle", note, sizeof note);
    assert_string_equal(note, "nft-ruleset.json read; iptables-save.txt read");
    assert_int_equal(fw.sources, GUESTFW_SRC_NFT | GUESTFW_SRC_IPTABLES);
    assert_true(eval(&fw, "168.63.129.16", 80, true, false, &v));
    assert_string_equal(v.blocker.table, "walinuxagent"); /* priority 0: before security (50) */
    guestfw_free(&fw);
    guestfw_collect(&fw, FIX "missing-dir", note, sizeof note);
    assert_non_null(strstr(note, "nft-ruleset.json: No such file"));
    struct guestfw_flow f = flow("168.63.129.16", 80, true, false);
    assert_false(guestfw_evaluate(&fw, &f, &v));
    assert_false(v.loaded);
    guestfw_free(&fw);
    assert_true(guestfw_check(FIX "bundle", &f, &v, line, sizeof line));
    assert_non_null(strstr(line, "guest agent"));
}

static void expect_nft_error(const char *json, const char *want)
{
    struct guestfw fw = { 0 };
    char err[256];
    assert_int_equal(guestfw_load_nft_json(&fw, json, strlen(json), "t.json", err, sizeof err), -1);
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    assert_int_equal(fw.nchains, 0);
    assert_int_equal(fw.sources, 0);
    guestfw_free(&fw);
}

static void test_malformed_json(void **state)
{
    (void)state;
    expect_nft_error("", "t.json: JSON error");
    expect_nft_error("{\"nftables\": [", "t.json: JSON error at byte");
    expect_nft_error("[1,2]", "t.json: $: expected {\"nftables\"");
    expect_nft_error("{\"nftables\": [{\"table\": {\"family\": \"ip\", \"name\": \"t\"}}, 7]}", "t.json: nftables[1]: expected an object");
    expect_nft_error("{\"nftables\": [{\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"c\", \"expr\": []}}]}",
                     "nftables[0].rule: the rule's chain was not listed");
    expect_nft_error("{\"nftables\": [{\"table\": {\"family\": \"ip\", \"name\": \"t\"}},"
                     "{\"chain\": {\"family\": \"ip\", \"table\": \"t\", \"name\": \"c\", \"hook\": \"output\"}},"
                     "{\"rule\": {\"family\": \"ip\", \"table\": \"t\", \"chain\": \"c\", \"expr\": [{\"drop\": null}, 3]}}]}",
                     "nftables[2].rule.expr[1]: an expression must be an object");
}

static void test_failed_load_keeps_earlier(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char err[256];
    load(&fw, "nft-agent.json");
    const char *bad = "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -j DROP\nthis is not iptables-save\nCOMMIT\n";
    assert_int_equal(guestfw_load_iptables_save(&fw, bad, strlen(bad), "x.txt", err, sizeof err), -1);
    assert_string_equal(err, "x.txt: line 4: unexpected text \"this is not iptables-save\"");
    assert_true(eval(&fw, "168.63.129.16", 80, true, false, &v));
    assert_string_equal(v.blocker.table, "walinuxagent");
    guestfw_free(&fw);
}

static void test_garbage_text(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    char err[256];
    static const char bin[] = "*filter\n:OUTPUT ACCEPT\n\0\x01\x02\nCOMMIT\n";
    assert_int_equal(guestfw_load_iptables_save(&fw, bin, sizeof bin - 1, "b.txt", err, sizeof err), -1);
    assert_string_equal(err, "b.txt: line 3: a NUL byte: not iptables-save text");
    const char *cases[][2] = {
        { "-A OUTPUT -j DROP\n", "line 1: a rule outside a table" },
        { "*filter\n-A OUTPUT -j DROP\nCOMMIT\n", "line 2: a rule for a chain not declared" },
        { "*filter\n:OUTPUT ACCEPT [0:0]\n", "line 2: the last table has no COMMIT" },
        { "*filter\n*nat\n", "line 2: a table before the previous one's COMMIT" },
        { "COMMIT\n", "line 1: COMMIT outside a table" },
        { "{\"nftables\": []}", "line 1: unexpected text" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(guestfw_load_iptables_save(&fw, cases[i][0], strlen(cases[i][0]), "g", err, sizeof err), -1);
        if (!strstr(err, cases[i][1]))
            fail_msg("case %zu: \"%s\"", i, err);
    }
    assert_int_equal(guestfw_load_nft_json(&fw, "*filter\nCOMMIT\n", 14, "g.json", err, sizeof err), -1);
    assert_non_null(strstr(err, "g.json: JSON error"));
    assert_int_equal(fw.ntables, 0);
    guestfw_free(&fw);
}

static void test_one_mb_line(void **state)
{
    (void)state;
    size_t big = 1u << 20;
    char *text = malloc(big + 200);
    assert_non_null(text);
    int n = snprintf(text, 200, "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d 203.0.113.10/32 -m comment --comment ");
    memset(text + n, 'x', big);
    size_t len = (size_t)n + big;
    len += (size_t)snprintf(text + len, 200, " -j DROP\nCOMMIT\n");
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char err[256];
    assert_int_equal(guestfw_load_iptables_save(&fw, text, len, "big", err, sizeof err), 0);
    assert_true(eval(&fw, "203.0.113.10", 443, true, false, &v));
    assert_true(strlen(v.blocker.rule) < GUESTFW_RULE_MAX);
    guestfw_free(&fw);
    /* the same as a 1 MB token of garbage: an error, not a crash */
    memset(text, 'y', big);
    assert_int_equal(guestfw_load_iptables_save(&fw, text, big, "big", err, sizeof err), -1);
    assert_non_null(strstr(err, "big: line 1: unexpected text \"yyyy"));
    assert_int_equal(guestfw_load_nft_json(&fw, text, big, "big.json", err, sizeof err), -1);
    free(text);
    guestfw_free(&fw);
}

static void test_uid_ranges_and_unknown_targets(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char err[256];
    const char *t = "*filter\n:OUTPUT ACCEPT [0:0]\n:MINE - [0:0]\n"
                    "-A OUTPUT -d 192.0.2.1/32 -m owner --uid-owner 1000-2000 -j DROP\n"
                    "-A OUTPUT -d 192.0.2.2/32 -j NFQUEUE --queue-num 1\n"
                    "-A OUTPUT -d 192.0.2.3/32 -j LOG --log-prefix \"a b\"\n"
                    "-A OUTPUT -d 192.0.2.3/32 -g MINE\n"
                    "-A OUTPUT -d 192.0.2.3/32 -j DROP\n"
                    "-A MINE -p udp -j DROP\n"
                    "COMMIT\n";
    assert_int_equal(guestfw_load_iptables_save(&fw, t, strlen(t), "u", err, sizeof err), 0);
    assert_false(eval(&fw, "192.0.2.1", 80, true, true, &v));  /* root is not uid 1000-2000 */
    assert_false(v.uncertain);
    assert_false(eval(&fw, "192.0.2.1", 80, true, false, &v)); /* some non-root uid might be */
    assert_true(v.uncertain);
    assert_false(eval(&fw, "192.0.2.2", 80, true, false, &v));
    assert_true(v.uncertain);
    assert_string_equal(v.possible.verdict, "NFQUEUE");
    /* goto MINE: tcp falls off MINE's end, which ends OUTPUT too (policy ACCEPT) */
    assert_false(eval(&fw, "192.0.2.3", 80, true, false, &v));
    assert_false(v.uncertain);
    assert_true(eval(&fw, "192.0.2.3", 80, false, false, &v));
    assert_string_equal(v.blocker.chain, "MINE");
    guestfw_free(&fw);
}

static void test_named_set_and_self_jump(void **state)
{
    (void)state;
    struct guestfw fw = { 0 };
    struct guestfw_verdict v;
    char err[256];
    const char *j =
        "{\"nftables\":[{\"table\":{\"family\":\"inet\",\"name\":\"t\"}},"
        "{\"set\":{\"family\":\"inet\",\"table\":\"t\",\"name\":\"s\",\"type\":\"ipv4_addr\","
        "\"elem\":[\"168.63.129.16\",{\"elem\":{\"val\":{\"prefix\":{\"addr\":\"203.0.113.0\",\"len\":24}}}}]}},"
        "{\"chain\":{\"family\":\"inet\",\"table\":\"t\",\"name\":\"o\",\"hook\":\"output\",\"prio\":0}},"
        "{\"chain\":{\"family\":\"inet\",\"table\":\"t\",\"name\":\"l\"}},"
        "{\"rule\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":\"o\",\"expr\":[{\"match\":{\"op\":\"==\","
        "\"left\":{\"payload\":{\"protocol\":\"ip\",\"field\":\"daddr\"}},\"right\":\"@s\"}},"
        "{\"match\":{\"op\":\"<\",\"left\":{\"payload\":{\"protocol\":\"tcp\",\"field\":\"dport\"}},\"right\":1024}},"
        "{\"drop\":null}]}},"
        "{\"rule\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":\"o\",\"expr\":[{\"jump\":{\"target\":\"l\"}}]}},"
        "{\"rule\":{\"family\":\"inet\",\"table\":\"t\",\"chain\":\"l\",\"expr\":[{\"jump\":{\"target\":\"l\"}}]}}]}";
    assert_int_equal(guestfw_load_nft_json(&fw, j, strlen(j), "s.json", err, sizeof err), 0);
    assert_true(eval(&fw, "203.0.113.99", 443, true, true, &v));
    assert_string_equal(v.blocker.rule, "ip daddr @s tcp dport < 1024 drop");
    assert_false(eval(&fw, "203.0.113.99", 8443, true, true, &v)); /* then l jumps to itself: bounded */
    assert_true(v.uncertain);
    assert_string_equal(v.possible.verdict, "jump");
    guestfw_free(&fw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_nft),
        cmocka_unit_test(test_agent_iptables_trio),
        cmocka_unit_test(test_iptables_user_chain_and_reject),
        cmocka_unit_test(test_nft_guest_rules),
        cmocka_unit_test(test_nft_prefix_set_negation),
        cmocka_unit_test(test_nft_jump_goto_and_unknown),
        cmocka_unit_test(test_nft_udp_reject_l4proto),
        cmocka_unit_test(test_policy_drop_allow_list),
        cmocka_unit_test(test_iptables_nft_dedup),
        cmocka_unit_test(test_collect_bundle),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_failed_load_keeps_earlier),
        cmocka_unit_test(test_garbage_text),
        cmocka_unit_test(test_one_mb_line),
        cmocka_unit_test(test_uid_ranges_and_unknown_targets),
        cmocka_unit_test(test_named_set_and_self_jump),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
