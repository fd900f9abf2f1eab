/* NSG readers and the offline IP-flow-verify: the shared fixtures' scenario (tests/fixtures/azure-json,
 * "Expected results" of its README), the evaluation semantics of nsg-routes-tags.md section 3-4 on
 * hand-built NSGs, malformed exports with the exact JSON path in the error, and a cross-check of the
 * indexed evaluation against the plain rule-by-rule walk. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe/diag/nsg.h"
#include "probe/diag/route_eval.h"
#include "probe/sysfile.h"

#define FIX "tests/fixtures/azure-json/"
#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define VM_IP IP4(10, 0, 1, 4)
#define STORAGE_IP IP4(13, 70, 208, 20)
#define DNS_IP IP4(10, 50, 0, 4)

static struct nsg_set *load(const char *const *files, size_t n)
{
    struct nsg_set *s = nsg_set_new();
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        struct azj_error e;
        int rc = nsg_load(s, files[i], &e);
        if (rc != 0)
            fail_msg("%s: %s", files[i], e.msg);
    }
    return s;
}

static struct nsg_set *load_effective(void)
{
    static const char *const f[] = {FIX "nic-effective-nsg.json"};
    return load(f, 1);
}

static struct nsg_set *load_flat_arm(void)
{
    static const char *const f[] = {FIX "nsg-show-flat.json", FIX "nsg-arm-nested.json"};
    return load(f, 2);
}

static struct flow out_tcp(uint32_t dst, int port)
{
    return (struct flow){NSG_OUTBOUND, NSG_PROTO_TCP, VM_IP, dst, -1, port};
}

static void eval(const struct nsg_set *s, const struct flow *f, const struct tag_resolver *t, struct nsg_verdict *v)
{
    assert_int_equal(nsg_evaluate(s, f, t, v), 0);
    /* Whatever the verdict, the indexed walk and the rule-by-rule walk agree. */
    struct nsg_verdict lin;
    assert_int_equal(nsg_evaluate_ex(s, f, t, NSG_EVAL_LINEAR, &lin), 0);
    assert_int_equal(lin.result, v->result);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(lin.step[i].outcome, v->step[i].outcome);
        assert_ptr_equal(lin.step[i].rule, v->step[i].rule);
        assert_ptr_equal(lin.step[i].uncertain, v->step[i].uncertain);
    }
}

static void assert_rule(const struct nsg_rule *r, const char *name, int prio, enum nsg_access a)
{
    assert_non_null(r);
    assert_string_equal(r->name, name);
    assert_int_equal(r->priority, prio);
    assert_int_equal(r->access, a);
}

static void describe(const struct nsg_verdict *v, char *buf, size_t size)
{
    nsg_verdict_describe(v, buf, size);
    assert_true(strlen(buf) < size);
}

/* ---- Shapes and counts ------------------------------------------------------------------------ */

static void test_flat_shape(void **state)
{
    (void)state;
    static const char *const f[] = {FIX "nsg-show-flat.json"};
    struct nsg_set *s = load(f, 1);
    assert_int_equal(s->count, 1);
    assert_int_equal(s->ninputs, 1);
    const struct azj_input *in = &s->inputs[0];
    assert_string_equal(in->file, "nsg-show-flat.json");
    assert_string_equal(in->shape, "az network nsg show (flat)");
    assert_false(in->list);
    assert_int_equal(in->nsgs, 1);
    assert_int_equal(in->rules, 9);
    assert_int_equal(in->default_rules, 6);
    assert_int_equal(in->defaults_added, 0);
    assert_int_equal(in->prefixes, 3); /* 10.0.3.0/26, 10.50.0.4, 10.50.0.5 */
    assert_int_equal(in->warnings, 0);
    const struct nsg *n = s->nsg[0];
    assert_string_equal(n->name, "nsg-vm-backup-01-nic");
    assert_int_equal(n->shape, NSG_SHAPE_FLAT);
    assert_int_equal(n->assoc, NSG_ASSOC_NIC);
    assert_int_equal(s->nic_slot.state, NSG_SLOT_SET);
    assert_int_equal(s->subnet_slot.state, NSG_SLOT_UNKNOWN);
    nsg_set_free(s);
}

static void test_arm_shape(void **state)
{
    (void)state;
    static const char *const f[] = {FIX "nsg-arm-nested.json"};
    struct nsg_set *s = load(f, 1);
    const struct azj_input *in = &s->inputs[0];
    assert_string_equal(in->shape, "ARM GET (nested)");
    assert_int_equal(in->rules, 6);
    assert_int_equal(in->default_rules, 6);
    assert_int_equal(in->prefixes, 0);
    assert_string_equal(s->nsg[0]->name, "nsg-snet-workload");
    assert_int_equal(s->nsg[0]->shape, NSG_SHAPE_ARM);
    assert_int_equal(s->nsg[0]->assoc, NSG_ASSOC_SUBNET);
    assert_int_equal(s->subnet_slot.state, NSG_SLOT_SET);
    assert_int_equal(s->nic_slot.state, NSG_SLOT_UNKNOWN);
    nsg_set_free(s);
}

static void test_effective_shape(void **state)
{
    (void)state;
    struct nsg_set *s = load_effective();
    const struct azj_input *in = &s->inputs[0];
    assert_string_equal(in->shape, "effective NSGs (list-effective-nsg)");
    assert_true(in->list);
    assert_int_equal(in->nsgs, 2);
    assert_int_equal(in->rules, 15);
    assert_int_equal(in->default_rules, 12);
    assert_int_equal(in->defaults_added, 0);
    /* Internet 51 x3, VirtualNetwork 3 on both sides x4, AzureLoadBalancer 1 x2 */
    assert_int_equal(in->expanded, 51 * 3 + 3 * 8 + 2);
    assert_int_equal(s->nsg[0]->assoc, NSG_ASSOC_NIC);
    assert_int_equal(s->nsg[1]->assoc, NSG_ASSOC_SUBNET);
    assert_string_equal(s->nsg[0]->name, "nsg-vm-backup-01-nic");
    assert_string_equal(s->nsg[1]->name, "nsg-snet-workload");
    assert_int_equal(s->nic_slot.nsg, 0);
    assert_int_equal(s->subnet_slot.nsg, 1);
    /* The NIC entry's tagMap is a JSON string; the subnet entry has none. */
    assert_int_equal(s->nsg[0]->ntagmap, 2);
    assert_int_equal(s->nsg[1]->ntagmap, 0);
    /* Names keep what the file said and carry the kind. */
    const struct nsg_rule *r = &s->nsg[0]->rules[2];
    assert_string_equal(r->name, "DenyInternetOutbound");
    assert_string_equal(r->display, "securityRules/DenyInternetOutbound");
    assert_int_equal(r->kind, NSG_RULE_USER);
    assert_true(r->dst.has_expanded);
    assert_int_equal(r->dst.nexp, 51);
    r = &s->nsg[0]->rules[6];
    assert_string_equal(r->name, "AllowVnetOutBound");
    assert_int_equal(r->kind, NSG_RULE_DEFAULT);
    nsg_set_free(s);
}

static void test_rule_name_normalisation(void **state)
{
    (void)state;
    static const struct {
        const char *seen;
        bool in_default;
        const char *name;
        enum nsg_kind kind;
    } cases[] = {
        {"securityRules/DenyInternetOutbound", false, "DenyInternetOutbound", NSG_RULE_USER},
        {"defaultSecurityRules/AllowVnetOutBound", false, "AllowVnetOutBound", NSG_RULE_DEFAULT},
        {"defaultSecurityRules/AllowVNetOutBound", false, "AllowVnetOutBound", NSG_RULE_DEFAULT},
        {"UserRule_Port80", false, "Port80", NSG_RULE_USER},
        {"DefaultRule_AllowVnetOutBound", false, "AllowVnetOutBound", NSG_RULE_DEFAULT},
        {"DefaultOutboundDenyAll", false, "DenyAllOutBound", NSG_RULE_DEFAULT},
        {"DefaultInboundDenyAll", false, "DenyAllInBound", NSG_RULE_DEFAULT},
        {"AllowInternetOutbound", true, "AllowInternetOutBound", NSG_RULE_DEFAULT},
        {"DenyAllInbound", true, "DenyAllInBound", NSG_RULE_DEFAULT},
        {"DenyAllOutBound", false, "DenyAllOutBound", NSG_RULE_USER}, /* a custom rule may use the name */
        {"AllowCorpDnsOutbound", false, "AllowCorpDnsOutbound", NSG_RULE_USER},
        {"securityRules/bad\x1b[31m", false, "bad?[31m", NSG_RULE_USER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[NSG_NAME_MAX];
        enum nsg_kind k = nsg_normalise_rule_name(cases[i].seen, cases[i].in_default, out, sizeof out);
        assert_string_equal(out, cases[i].name);
        assert_int_equal(k, cases[i].kind);
    }
    struct nsg_rule r = {.kind = NSG_RULE_DEFAULT};
    char ref[64];
    snprintf(r.name, sizeof r.name, "DenyAllOutBound");
    assert_string_equal(nsg_rule_ref(&r, ref, sizeof ref), "defaultSecurityRules/DenyAllOutBound");
    r.kind = NSG_RULE_USER;
    assert_string_equal(nsg_rule_ref(&r, ref, sizeof ref), "securityRules/DenyAllOutBound");
}

static void test_small_parsers(void **state)
{
    (void)state;
    struct nsg_ports p;
    assert_true(nsg_parse_ports("*", &p));
    assert_int_equal(p.lo, 0);
    assert_int_equal(p.hi, 65535);
    assert_true(nsg_parse_ports("443", &p));
    assert_int_equal(p.lo, 443);
    assert_int_equal(p.hi, 443);
    assert_true(nsg_parse_ports("0-65535", &p));
    assert_true(nsg_parse_ports("53-53", &p));
    assert_true(nsg_parse_ports("65535", &p));
    static const char *const bad[] = {"10-5", "70000", "65536", "", "-1", "1-", "-5", "1 - 2", " 80", "80 ",
                                      "0x50", "80,443", "1-2-3", "123456", "a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(nsg_parse_ports(bad[i], &p));
    enum nsg_proto pr;
    assert_true(nsg_parse_proto("tcp", &pr));
    assert_int_equal(pr, NSG_PROTO_TCP);
    assert_true(nsg_parse_proto("All", &pr));
    assert_int_equal(pr, NSG_PROTO_ANY);
    assert_true(nsg_parse_proto("*", &pr));
    assert_true(nsg_parse_proto("ICMP", &pr));
    assert_int_equal(pr, NSG_PROTO_ICMP);
    assert_false(nsg_parse_proto("Gre", &pr));
    assert_false(nsg_parse_proto("", &pr));
}

/* ---- The fixture scenario -------------------------------------------------------------------- */

static void check_storage_denied(const struct nsg_verdict *v, bool effective)
{
    const struct nsg *nsg = NULL;
    unsigned assoc = 0;
    assert_int_equal(v->result, NSG_DENIED);
    assert_int_equal(v->decider, 0);
    const struct nsg_rule *b = nsg_verdict_blocker(v, &nsg, &assoc);
    assert_rule(b, "DenyInternetOutbound", 4000, NSG_DENY);
    assert_int_equal(b->kind, NSG_RULE_USER);
    assert_string_equal(nsg->name, "nsg-vm-backup-01-nic");
    assert_int_equal(assoc, NSG_ASSOC_NIC);
    assert_int_equal(v->step[0].outcome, NSG_STEP_DENY);
    assert_int_equal(v->step[1].outcome, NSG_STEP_SKIPPED); /* the subnet NSG is not evaluated */
    assert_string_equal(v->step[0].remote.tag, "Internet");
    if (effective) {
        char p[PREFIX4_STRLEN];
        assert_int_equal(v->step[0].remote.how, NSG_HOW_EXPANDED);
        assert_string_equal(prefix4_format(&v->step[0].remote.prefix, p, sizeof p), "12.0.0.0/6");
        assert_int_equal(v->caveats & NSG_CAVEAT_INTERNET_HEURISTIC, 0);
    } else {
        assert_int_equal(v->step[0].remote.how, NSG_HOW_HEURISTIC);
        assert_true(v->caveats & NSG_CAVEAT_INTERNET_HEURISTIC);
    }
    assert_null(nsg_verdict_suspect(v, NULL, NULL));
}

static void test_fixture_storage_effective(void **state)
{
    (void)state;
    struct nsg_set *s = load_effective();
    struct nsg_verdict v;
    char buf[1024];
    static const int ports[] = {443, 8443};
    for (int i = 0; i < 2; i++) {
        struct flow f = out_tcp(STORAGE_IP, ports[i]);
        eval(s, &f, NULL, &v);
        check_storage_denied(&v, true);
    }
    describe(&v, buf, sizeof buf);
    assert_string_equal(buf, "denied by NSG nsg-vm-backup-01-nic (NIC) rule securityRules/DenyInternetOutbound, "
                             "priority 4000 (destination Internet via 12.0.0.0/6)");
    nsg_set_free(s);
}

static void test_fixture_dns_effective(void **state)
{
    (void)state;
    struct nsg_set *s = load_effective();
    struct nsg_verdict v;
    char p[PREFIX4_STRLEN];
    for (int proto = NSG_PROTO_TCP; proto <= NSG_PROTO_UDP; proto++) {
        struct flow f = {NSG_OUTBOUND, (enum nsg_proto)proto, VM_IP, DNS_IP, 40000, 53};
        eval(s, &f, NULL, &v);
        assert_int_equal(v.result, NSG_ALLOWED);
        assert_int_equal(v.step[0].outcome, NSG_STEP_ALLOW);
        assert_rule(v.step[0].rule, "AllowCorpDnsOutbound", 200, NSG_ALLOW);
        assert_int_equal(v.step[0].remote.how, NSG_HOW_PREFIX);
        assert_string_equal(prefix4_format(&v.step[0].remote.prefix, p, sizeof p), "10.50.0.4/32");
        assert_int_equal(v.step[1].outcome, NSG_STEP_ALLOW);
        assert_rule(v.step[1].rule, "AllowVnetOutBound", 65000, NSG_ALLOW);
        assert_int_equal(v.step[1].rule->kind, NSG_RULE_DEFAULT);
        assert_string_equal(prefix4_format(&v.step[1].remote.prefix, p, sizeof p), "0.0.0.0/0");
        assert_true(v.caveats & NSG_CAVEAT_FORCED_TUNNEL);
        assert_null(nsg_verdict_blocker(&v, NULL, NULL));
    }
    nsg_set_free(s);
}

static void test_fixture_vnet_effective(void **state)
{
    (void)state;
    struct nsg_set *s = load_effective();
    struct nsg_verdict v;
    char p[PREFIX4_STRLEN];
    struct flow f = out_tcp(IP4(10, 0, 1, 5), 22);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    for (int i = 0; i < 2; i++) {
        assert_rule(v.step[i].rule, "AllowVnetOutBound", 65000, NSG_ALLOW);
        assert_string_equal(prefix4_format(&v.step[i].remote.prefix, p, sizeof p), "10.0.0.0/16");
        assert_int_equal(v.step[i].local.how, NSG_HOW_EXPANDED);
    }
    assert_int_equal(v.caveats & NSG_CAVEAT_FORCED_TUNNEL, 0);
    nsg_set_free(s);
}

static void test_fixture_platform(void **state)
{
    (void)state;
    struct nsg_set *sets[2] = {load_effective(), load_flat_arm()};
    static const uint32_t ips[] = {IP4(168, 63, 129, 16), IP4(169, 254, 169, 254)};
    char buf[512];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 2; i++) {
            struct nsg_verdict v;
            struct flow f = out_tcp(ips[i], 80);
            eval(sets[k], &f, NULL, &v);
            assert_int_equal(v.result, NSG_EXEMPT);
            assert_int_equal(v.step[0].outcome, NSG_STEP_SKIPPED);
            assert_int_equal(v.step[1].outcome, NSG_STEP_SKIPPED);
            describe(&v, buf, sizeof buf);
            assert_non_null(strstr(buf, "not subject to NSGs"));
        }
        nsg_set_free(sets[k]);
    }
}

static void test_fixture_flat_arm(void **state)
{
    (void)state;
    struct nsg_set *s = load_flat_arm();
    struct nsg_verdict v;
    char buf[1024];
    struct flow f = out_tcp(STORAGE_IP, 443);
    eval(s, &f, NULL, &v);
    check_storage_denied(&v, false);
    describe(&v, buf, sizeof buf);
    assert_non_null(strstr(buf, "caveat: Internet decided"));

    /* 10.50.0.4:53: the NIC NSG allows; the subnet NSG's AllowVnetOutBound cannot be decided. */
    f = out_tcp(DNS_IP, 53);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_INDETERMINATE);
    assert_int_equal(v.step[0].outcome, NSG_STEP_ALLOW);
    assert_rule(v.step[0].rule, "AllowCorpDnsOutbound", 200, NSG_ALLOW);
    assert_int_equal(v.step[1].outcome, NSG_STEP_INDETERMINATE);
    assert_rule(v.step[1].uncertain, "AllowVnetOutBound", 65000, NSG_ALLOW);
    assert_int_equal(v.step[1].why, NSG_WHY_TAG);
    assert_string_equal(v.step[1].why_what, "VirtualNetwork");
    assert_rule(v.step[1].rule, "DenyAllOutBound", 65500, NSG_DENY);
    const struct nsg *n = NULL;
    assert_rule(nsg_verdict_suspect(&v, &n, NULL), "DenyAllOutBound", 65500, NSG_DENY);
    assert_string_equal(n->name, "nsg-snet-workload");
    assert_null(nsg_verdict_blocker(&v, NULL, NULL));
    describe(&v, buf, sizeof buf);
    assert_non_null(strstr(buf, "may match first (tag not expandable offline: VirtualNetwork)"));
    nsg_set_free(s);
}

/* With the NIC export and the VirtualNetwork extent from the effective routes (a 0.0.0.0/0 UDR), the
 * flat + ARM pair reaches the effective export's answers. */
static void test_fixture_nic_and_routes(void **state)
{
    (void)state;
    struct nsg_set *s = load_flat_arm();
    struct nic_info nic;
    struct azj_error e;
    struct eroute_table rt;
    assert_int_equal(nic_load(&nic, FIX "nic-show.json", &e), 0);
    nsg_set_attach_nic(s, &nic);
    assert_int_equal(s->nic_slot.state, NSG_SLOT_SET);
    assert_int_equal(s->subnet_slot.state, NSG_SLOT_SET);
    assert_string_equal(s->nsg[s->nic_slot.nsg]->name, "nsg-vm-backup-01-nic");
    assert_string_equal(s->nsg[s->subnet_slot.nsg]->name, "nsg-snet-workload");
    assert_int_equal(routes_load(&rt, FIX "nic-effective-routes.json", &e), 0);
    struct prefix4 vn[16];
    size_t nv = routes_vnet_prefixes(&rt, vn, 16);
    assert_int_equal(nv, 3);
    struct tag_resolver t = {.vnet = vn, .nvnet = nv, .vnet_known = true};
    struct nsg_verdict v;
    struct flow f = out_tcp(DNS_IP, 53);
    eval(s, &f, &t, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    assert_rule(v.step[1].rule, "AllowVnetOutBound", 65000, NSG_ALLOW);
    assert_int_equal(v.step[1].remote.how, NSG_HOW_VNET);
    assert_true(v.caveats & NSG_CAVEAT_FORCED_TUNNEL);
    f = out_tcp(IP4(10, 0, 1, 5), 22);
    eval(s, &f, &t, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    assert_rule(v.step[0].rule, "AllowVnetOutBound", 65000, NSG_ALLOW);
    assert_int_equal(v.step[0].local.how, NSG_HOW_LOCAL);
    f = out_tcp(STORAGE_IP, 443);
    eval(s, &f, &t, &v);
    assert_int_equal(v.result, NSG_DENIED);
    /* 13.70.208.20 is inside VirtualNetwork (0/0) but also public: Internet still matches. */
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "DenyInternetOutbound", 4000, NSG_DENY);
    routes_free(&rt);
    nsg_set_free(s);
}

static void test_nic_load(void **state)
{
    (void)state;
    struct nic_info nic;
    struct azj_error e;
    assert_int_equal(nic_load(&nic, FIX "nic-show.json", &e), 0);
    assert_string_equal(nic.name, "vm-backup-01-nic");
    assert_string_equal(nic.mac, "000D3A4B5C6D");
    assert_true(nic.ip_known);
    assert_int_equal(nic.private_ip, VM_IP);
    assert_string_equal(nic.ipconfig, "ipconfig1");
    assert_true(nic.nsg_known);
    assert_non_null(strstr(nic.nsg_id, "/networkSecurityGroups/nsg-vm-backup-01-nic"));
    assert_non_null(strstr(nic.subnet_id, "/subnets/snet-workload"));
    assert_true(nic.asg_known);
    assert_int_equal(nic.nasgs, 1);
    assert_non_null(strstr(nic.asgs[0], "/applicationSecurityGroups/asg-backup-clients"));
    assert_false(nic.ip_forwarding);
    assert_string_equal(nic.input.shape, "az network nic show (flat)");

    /* The ARM form, a secondary IPv6 configuration first, PascalCase keys. */
    static const char arm[] =
        "{\"Name\":\"n1\",\"properties\":{\"macAddress\":\"00:0d:3a:00:00:01\",\"networkSecurityGroup\":null,"
        "\"ipConfigurations\":[{\"name\":\"v6\",\"properties\":{\"privateIPAddressVersion\":\"IPv6\",\"primary\":false,"
        "\"privateIPAddress\":\"fd00::4\"}},{\"name\":\"v4\",\"properties\":{\"PrivateIPAddress\":\"10.9.0.4\","
        "\"primary\":true,\"subnet\":{\"id\":\"/x/subnets/s\"}}}]}}";
    assert_int_equal(nic_load_buffer(&nic, arm, strlen(arm), "nic-arm.json", &e), 0);
    assert_string_equal(nic.input.shape, "NIC, ARM (nested)");
    assert_string_equal(nic.mac, "000D3A000001");
    assert_string_equal(nic.ipconfig, "v4");
    assert_int_equal(nic.private_ip, IP4(10, 9, 0, 4));
    assert_true(nic.nsg_known);
    assert_string_equal(nic.nsg_id, "");
    assert_false(nic.asg_known); /* absent: membership unknown */

    static const char bad[] = "{\"ipConfigurations\":[{\"privateIPAddress\":\"10.0.1.400\"}]}";
    assert_int_equal(nic_load_buffer(&nic, bad, strlen(bad), "nic.json", &e), AZJ_EVALUE);
    assert_string_equal(e.path, "ipConfigurations[0].privateIPAddress");
    assert_string_equal(e.msg, "nic.json: ipConfigurations[0].privateIPAddress: 10.0.1.400 is not an IPv4 address");
    assert_false(nic.ip_known);
    static const char notnic[] = "{\"securityRules\":[]}";
    assert_int_equal(nic_load_buffer(&nic, notnic, strlen(notnic), "x.json", &e), AZJ_ESHAPE);
    assert_int_equal(nic_load(&nic, "tests/fixtures/azure-json/does-not-exist.json", &e), AZJ_EIO);
    assert_non_null(strstr(e.msg, "does-not-exist.json"));
}

static void test_missing_nsg_and_slots(void **state)
{
    (void)state;
    static const char *const f[] = {FIX "nsg-arm-nested.json"};
    struct nsg_set *s = load(f, 1);
    struct nic_info nic;
    struct azj_error e;
    assert_int_equal(nic_load(&nic, FIX "nic-show.json", &e), 0);
    nsg_set_attach_nic(s, &nic); /* the NIC names its NSG, which is not loaded */
    assert_int_equal(s->nic_slot.state, NSG_SLOT_MISSING);
    assert_non_null(strstr(s->nic_slot.wanted_id, "nsg-vm-backup-01-nic"));
    struct nsg_verdict v;
    struct flow fl = out_tcp(STORAGE_IP, 443);
    eval(s, &fl, NULL, &v);
    assert_int_equal(v.result, NSG_INDETERMINATE);
    assert_int_equal(v.step[0].outcome, NSG_STEP_MISSING);
    assert_int_equal(v.step[1].outcome, NSG_STEP_ALLOW); /* AllowInternetOutBound, heuristically */
    char buf[600];
    describe(&v, buf, sizeof buf);
    assert_non_null(strstr(buf, "the NIC's NSG was not loaded"));
    /* A NIC without an NSG: that level is known empty. */
    nic.nsg_id[0] = '\0';
    nsg_set_attach_nic(s, &nic);
    assert_int_equal(s->nic_slot.state, NSG_SLOT_NONE);
    eval(s, &fl, NULL, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    assert_int_equal(v.step[0].outcome, NSG_STEP_NO_NSG);
    assert_int_equal(v.caveats & NSG_CAVEAT_LEVEL_UNKNOWN, 0);
    nsg_set_free(s);

    /* Nothing loaded at all: both levels unknown, allowed with the caveat. */
    s = nsg_set_new();
    eval(s, &fl, NULL, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    assert_true(v.caveats & NSG_CAVEAT_LEVEL_UNKNOWN);
    nsg_set_free(s);
}

/* ---- Semantics on hand-built NSGs ------------------------------------------------------------ */

static struct nsg_rule *rule(struct nsg *n, const char *name, int prio, enum nsg_access a, enum nsg_proto p,
                             const char *dst, const char *dports)
{
    struct nsg_rule *r = nsg_add_rule(n, name, NSG_RULE_USER, prio, NSG_OUTBOUND, a, p);
    assert_non_null(r);
    if (dst)
        assert_int_equal(nsg_side_add(&r->dst, dst), 0);
    if (dports)
        assert_int_equal(nsg_rule_add_ports(r, true, dports), 0);
    return r;
}

static void test_priority_order(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct nsg *n = nsg_set_add(s, "nsg-prio", NSG_ASSOC_NIC);
    /* Added out of order: evaluation must follow the priority numbers, not the file. */
    rule(n, "AllowWide", 300, NSG_ALLOW, NSG_PROTO_TCP, "20.0.0.0/8", "443");
    rule(n, "DenyNarrow", 200, NSG_DENY, NSG_PROTO_TCP, "20.1.0.0/16", "443");
    rule(n, "AllowHost", 100, NSG_ALLOW, NSG_PROTO_TCP, "20.1.2.3", "443");
    rule(n, "DenyAll443", 4096, NSG_DENY, NSG_PROTO_ANY, "*", "443");
    assert_int_equal(nsg_set_prepare(s), 0);
    assert_int_equal(s->nic_slot.state, NSG_SLOT_SET);
    struct nsg_verdict v;
    struct flow f = out_tcp(IP4(20, 1, 2, 3), 443);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    assert_rule(v.step[0].rule, "AllowHost", 100, NSG_ALLOW);
    f.dst = IP4(20, 1, 9, 9);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "DenyNarrow", 200, NSG_DENY);
    f.dst = IP4(20, 2, 0, 1);
    eval(s, &f, NULL, &v);
    assert_rule(v.step[0].rule, "AllowWide", 300, NSG_ALLOW);
    f.dst = IP4(21, 0, 0, 1);
    eval(s, &f, NULL, &v);
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "DenyAll443", 4096, NSG_DENY);
    f.dst_port = 80; /* nothing custom: AllowInternetOutBound (added default) */
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    assert_rule(v.step[0].rule, "AllowInternetOutBound", 65001, NSG_ALLOW);
    assert_true(v.step[0].rule->synthesized);
    assert_true(v.caveats & NSG_CAVEAT_SYNTHESIZED);
    /* Equal priorities (invalid in Azure, possible in hand-made files): file order. */
    rule(n, "Second", 150, NSG_DENY, NSG_PROTO_ANY, "30.0.0.0/8", NULL);
    rule(n, "Third", 150, NSG_ALLOW, NSG_PROTO_ANY, "30.0.0.0/8", NULL);
    assert_int_equal(nsg_set_prepare(s), 0);
    f = out_tcp(IP4(30, 0, 0, 1), 1);
    eval(s, &f, NULL, &v);
    assert_rule(v.step[0].rule, "Second", 150, NSG_DENY);
    nsg_set_free(s);
}

static void test_nic_then_subnet(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct nsg *nic = nsg_set_add(s, "nsg-nic", NSG_ASSOC_NIC);
    struct nsg *sub = nsg_set_add(s, "nsg-sub", NSG_ASSOC_SUBNET);
    rule(nic, "NicAllowStorage", 100, NSG_ALLOW, NSG_PROTO_TCP, "13.0.0.0/8", "443");
    rule(nic, "NicDeny8443", 110, NSG_DENY, NSG_PROTO_TCP, "13.0.0.0/8", "8443");
    rule(sub, "SubDenyStorage", 100, NSG_DENY, NSG_PROTO_TCP, "13.70.0.0/16", "443");
    struct nsg_rule *in = nsg_add_rule(sub, "SubDenyInbound", NSG_RULE_USER, 120, NSG_INBOUND, NSG_DENY, NSG_PROTO_TCP);
    assert_int_equal(nsg_side_add(&in->src, "13.0.0.0/8"), 0);
    struct nsg_rule *nin = nsg_add_rule(nic, "NicAllowInbound", NSG_RULE_USER, 120, NSG_INBOUND, NSG_ALLOW, NSG_PROTO_TCP);
    assert_int_equal(nsg_side_add(&nin->src, "13.0.0.0/8"), 0);
    assert_int_equal(nsg_set_prepare(s), 0);
    struct nsg_verdict v;
    /* The NIC's Allow does not short-circuit the subnet NSG. */
    struct flow f = out_tcp(IP4(13, 70, 208, 20), 443);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_int_equal(v.decider, 1);
    assert_int_equal(v.step[0].outcome, NSG_STEP_ALLOW);
    const struct nsg *bn;
    unsigned assoc;
    assert_rule(nsg_verdict_blocker(&v, &bn, &assoc), "SubDenyStorage", 100, NSG_DENY);
    assert_string_equal(bn->name, "nsg-sub");
    assert_int_equal(assoc, NSG_ASSOC_SUBNET);
    /* A Deny in the NIC NSG ends evaluation. */
    f.dst_port = 8443;
    eval(s, &f, NULL, &v);
    assert_int_equal(v.decider, 0);
    assert_int_equal(v.step[1].outcome, NSG_STEP_SKIPPED);
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "NicDeny8443", 110, NSG_DENY);
    /* Both allow. */
    f = out_tcp(IP4(13, 1, 0, 1), 443);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    /* Inbound: subnet first. */
    struct flow fin = {NSG_INBOUND, NSG_PROTO_TCP, IP4(13, 1, 0, 1), VM_IP, 50000, 22};
    eval(s, &fin, NULL, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_int_equal(v.step[0].assoc, NSG_ASSOC_SUBNET);
    assert_int_equal(v.decider, 0);
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "SubDenyInbound", 120, NSG_DENY);
    assert_int_equal(v.step[1].outcome, NSG_STEP_SKIPPED);
    nsg_set_free(s);
}

static void test_default_rules_added(void **state)
{
    (void)state;
    static const char flat[] =
        "{\"name\":\"nsg-bare\",\"networkInterfaces\":[{\"id\":\"/n/nic1\"}],\"securityRules\":[{\"name\":\"AllowWeb\","
        "\"priority\":100,\"direction\":\"Outbound\",\"access\":\"Allow\",\"protocol\":\"Tcp\","
        "\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"52.0.0.0/8\","
        "\"destinationPortRange\":\"443\"}]}";
    struct nsg_set *s = nsg_set_new();
    struct azj_error e;
    assert_int_equal(nsg_load_buffer(s, flat, strlen(flat), "bare.json", &e), 0);
    assert_int_equal(s->inputs[0].rules, 1);
    assert_int_equal(s->inputs[0].defaults_added, 6);
    assert_int_equal(s->nsg[0]->nrules, 7);
    struct prefix4 vnet = {IP4(10, 0, 0, 0), 16};
    struct tag_resolver t = {.vnet = &vnet, .nvnet = 1, .vnet_known = true};
    struct nsg_verdict v;
    struct flow f = out_tcp(IP4(192, 168, 5, 5), 443); /* private, outside the VNet: no default allows */
    eval(s, &f, &t, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "DenyAllOutBound", 65500, NSG_DENY);
    assert_int_equal(v.step[0].rule->kind, NSG_RULE_DEFAULT);
    assert_true(v.step[0].rule->synthesized);
    f.dst = IP4(10, 0, 7, 7);
    eval(s, &f, &t, &v);
    assert_rule(v.step[0].rule, "AllowVnetOutBound", 65000, NSG_ALLOW);
    assert_int_equal(v.step[0].remote.how, NSG_HOW_VNET);
    f.dst = IP4(52, 1, 1, 1);
    eval(s, &f, &t, &v);
    assert_rule(v.step[0].rule, "AllowWeb", 100, NSG_ALLOW);
    f.dst_port = 80;
    eval(s, &f, &t, &v);
    assert_rule(v.step[0].rule, "AllowInternetOutBound", 65001, NSG_ALLOW);
    /* Without the VNet's extent, a private destination outside any rule is undecidable. */
    f = out_tcp(IP4(192, 168, 5, 5), 443);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_INDETERMINATE);
    assert_rule(v.step[0].uncertain, "AllowVnetOutBound", 65000, NSG_ALLOW);
    nsg_set_free(s);
}

/* A fake ServiceTags resolver: Storage.NorthEurope = 13.70.208.16/28, Storage = it + 20.150.0.0/16. */
static int fake_tags(void *ctx, const char *tag, uint32_t ip, struct prefix4 *m)
{
    static const struct prefix4 ne = {IP4(13, 70, 208, 16), 28}, other = {IP4(20, 150, 0, 0), 16};
    int *calls = ctx;
    (*calls)++;
    if (strcasecmp(tag, "Storage.NorthEurope") == 0 || strcasecmp(tag, "Storage") == 0) {
        const struct prefix4 *p = prefix4_contains(&ne, ip) ? &ne : NULL;
        if (!p && strcasecmp(tag, "Storage") == 0 && prefix4_contains(&other, ip))
            p = &other;
        if (p && m)
            *m = *p;
        return p != NULL;
    }
    return -1;
}

static void test_service_tags(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct nsg *n = nsg_set_add(s, "nsg-tags", NSG_ASSOC_NIC);
    rule(n, "AllowStorageNE", 100, NSG_ALLOW, NSG_PROTO_TCP, "storage.northeurope", "443");
    rule(n, "AllowKv", 110, NSG_ALLOW, NSG_PROTO_TCP, "AzureKeyVault", "443");
    rule(n, "DenyInternet", 4000, NSG_DENY, NSG_PROTO_ANY, "Internet", NULL);
    assert_int_equal(nsg_set_prepare(s), 0);
    int calls = 0;
    struct tag_resolver t = {.lookup = fake_tags, .ctx = &calls};
    struct nsg_verdict v;
    char p[PREFIX4_STRLEN];
    struct flow f = out_tcp(STORAGE_IP, 443);
    eval(s, &f, &t, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    assert_rule(v.step[0].rule, "AllowStorageNE", 100, NSG_ALLOW);
    assert_int_equal(v.step[0].remote.how, NSG_HOW_RESOLVER);
    assert_string_equal(v.step[0].remote.tag, "storage.northeurope");
    assert_string_equal(prefix4_format(&v.step[0].remote.prefix, p, sizeof p), "13.70.208.16/28");
    assert_true(calls > 0);
    /* Storage in another region: AzureKeyVault is unknown to the resolver, and it is an Allow before
     * the Deny that matches: the verdict cannot be decided. */
    f.dst = IP4(20, 150, 1, 1);
    eval(s, &f, &t, &v);
    assert_int_equal(v.result, NSG_INDETERMINATE);
    assert_rule(v.step[0].uncertain, "AllowKv", 110, NSG_ALLOW);
    assert_int_equal(v.step[0].why, NSG_WHY_TAG);
    assert_string_equal(v.step[0].why_what, "AzureKeyVault");
    assert_rule(nsg_verdict_suspect(&v, NULL, NULL), "DenyInternet", 4000, NSG_DENY);
    /* Port 80: the unknown Allow does not apply (wrong port), the Deny decides. */
    f.dst_port = 80;
    eval(s, &f, &t, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "DenyInternet", 4000, NSG_DENY);
    /* No resolver at all: the service tags are unknown too. */
    f = out_tcp(STORAGE_IP, 443);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_INDETERMINATE);
    assert_rule(v.step[0].uncertain, "AllowStorageNE", 100, NSG_ALLOW);
    /* AzureLoadBalancer is fixed: 168.63.129.16 only. */
    struct nsg_rule *lb = nsg_add_rule(n, "DenyLbIn", NSG_RULE_USER, 200, NSG_INBOUND, NSG_DENY, NSG_PROTO_ANY);
    assert_int_equal(nsg_side_add(&lb->src, "AzureLoadBalancer"), 0);
    assert_int_equal(nsg_set_prepare(s), 0);
    struct flow fin = {NSG_INBOUND, NSG_PROTO_TCP, IP4(168, 63, 129, 16), VM_IP, 1, 80};
    eval(s, &fin, &t, &v);
    assert_int_equal(v.result, NSG_EXEMPT); /* platform traffic: no AzurePlatform* rule */
    fin.src = IP4(168, 63, 129, 17);
    eval(s, &fin, &t, &v);
    assert_rule(v.step[1].rule, "DenyAllInBound", 65500, NSG_DENY);
    nsg_set_free(s);
}

static void test_platform_rules(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct nsg *n = nsg_set_add(s, "nsg-plat", NSG_ASSOC_NIC);
    rule(n, "DenyImds", 100, NSG_DENY, NSG_PROTO_ANY, "AzurePlatformIMDS", NULL);
    assert_int_equal(nsg_set_prepare(s), 0);
    struct nsg_verdict v;
    struct flow f = out_tcp(IP4(169, 254, 169, 254), 80);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "DenyImds", 100, NSG_DENY);
    assert_int_equal(v.step[0].remote.how, NSG_HOW_BUILTIN);
    /* The wireserver is not IMDS: still exempt, and the DenyAll defaults do not apply to it. */
    f.dst = IP4(168, 63, 129, 16);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_EXEMPT);
    nsg_set_free(s);
}

static void test_asg_membership(void **state)
{
    (void)state;
    static const char *asg = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-backup-demo/"
                             "providers/Microsoft.Network/applicationSecurityGroups/asg-backup-clients";
    char entry[NSG_ID_MAX + 8];
    snprintf(entry, sizeof entry, "asg:%s", asg);
    struct nsg_set *s = nsg_set_new();
    struct nsg *n = nsg_set_add(s, "nsg-asg", NSG_ASSOC_NIC);
    struct nsg_rule *r = rule(n, "AllowBackupClients", 100, NSG_ALLOW, NSG_PROTO_TCP, "*", "443");
    assert_int_equal(nsg_side_add(&r->src, entry), 0);
    r = rule(n, "AllowToDb", 110, NSG_ALLOW, NSG_PROTO_TCP, "asg:/x/applicationSecurityGroups/asg-db", "1433");
    rule(n, "DenyInternet", 4000, NSG_DENY, NSG_PROTO_ANY, "Internet", NULL);
    assert_int_equal(nsg_set_prepare(s), 0);
    struct nsg_verdict v;
    struct flow f = out_tcp(STORAGE_IP, 443);
    /* Membership unknown: the Allow might apply before the Deny. */
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_INDETERMINATE);
    assert_rule(v.step[0].uncertain, "AllowBackupClients", 100, NSG_ALLOW);
    assert_int_equal(v.step[0].why, NSG_WHY_ASG);
    assert_string_equal(v.step[0].why_what, "asg-backup-clients");
    assert_rule(nsg_verdict_suspect(&v, NULL, NULL), "DenyInternet", 4000, NSG_DENY);
    /* Known member. */
    struct nic_info nic;
    struct azj_error e;
    assert_int_equal(nic_load(&nic, FIX "nic-show.json", &e), 0);
    nsg_set_attach_nic(s, &nic);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_ALLOWED);
    assert_rule(v.step[0].rule, "AllowBackupClients", 100, NSG_ALLOW);
    assert_int_equal(v.step[0].local.how, NSG_HOW_ASG);
    assert_string_equal(v.step[0].local.tag, "asg-backup-clients");
    /* Known non-member (the export lists no ASGs). */
    nic.nasgs = 0;
    nsg_set_attach_nic(s, &nic);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_rule(nsg_verdict_blocker(&v, NULL, NULL), "DenyInternet", 4000, NSG_DENY);
    /* A destination ASG: a public address is in no ASG (flagged); a private one is unknown. */
    f.dst_port = 1433;
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_true(v.caveats & NSG_CAVEAT_ASG_PUBLIC);
    f.dst = IP4(10, 0, 5, 5);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_INDETERMINATE);
    assert_rule(v.step[0].uncertain, "AllowToDb", 110, NSG_ALLOW);
    nsg_set_free(s);
}

static void test_ports_and_lists(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct nsg *n = nsg_set_add(s, "nsg-ports", NSG_ASSOC_NIC);
    struct nsg_rule *r = rule(n, "AllowList", 100, NSG_ALLOW, NSG_PROTO_TCP, "20.0.0.0/8", "443-445");
    assert_int_equal(nsg_rule_add_ports(r, true, "8443"), 0);
    assert_int_equal(nsg_rule_add_ports(r, true, "9000-9100"), 0);
    assert_int_equal(nsg_rule_add_ports(r, true, "444-446"), 0); /* overlaps: merged */
    assert_int_equal(nsg_side_add(&r->dst, "30.1.2.0/24"), 0);
    assert_int_equal(nsg_side_add(&r->dst, "2603:1020::/32"), 0); /* IPv6: skipped */
    r = rule(n, "DenyFromLowPorts", 110, NSG_DENY, NSG_PROTO_TCP, "20.0.0.0/8", NULL);
    assert_int_equal(nsg_rule_add_ports(r, false, "0-1023"), 0);
    rule(n, "DenyRest", 120, NSG_DENY, NSG_PROTO_ANY, "20.0.0.0/8", NULL);
    rule(n, "AllowV6Only", 130, NSG_ALLOW, NSG_PROTO_ANY, "2603:1020::/32", NULL);
    assert_int_equal(nsg_set_prepare(s), 0);
    assert_int_equal(s->nsg[0]->rules[0].ndports, 3); /* 443-446, 8443, 9000-9100 */
    static const struct {
        uint32_t dst;
        int sport, dport;
        const char *rule;
        enum nsg_result res;
    } cases[] = {
        {IP4(20, 1, 1, 1), 40000, 443, "AllowList", NSG_ALLOWED},
        {IP4(20, 1, 1, 1), 40000, 446, "AllowList", NSG_ALLOWED},
        {IP4(20, 1, 1, 1), 40000, 442, "DenyRest", NSG_DENIED},
        {IP4(20, 1, 1, 1), 40000, 447, "DenyRest", NSG_DENIED},
        {IP4(20, 1, 1, 1), 40000, 8443, "AllowList", NSG_ALLOWED},
        {IP4(20, 1, 1, 1), 40000, 9000, "AllowList", NSG_ALLOWED},
        {IP4(20, 1, 1, 1), 40000, 9100, "AllowList", NSG_ALLOWED},
        {IP4(20, 1, 1, 1), 40000, 9101, "DenyRest", NSG_DENIED},
        {IP4(30, 1, 2, 200), 40000, 444, "AllowList", NSG_ALLOWED},
        {IP4(20, 1, 1, 1), 1000, 80, "DenyFromLowPorts", NSG_DENIED},
        {IP4(20, 1, 1, 1), 1024, 80, "DenyRest", NSG_DENIED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct flow f = {NSG_OUTBOUND, NSG_PROTO_TCP, VM_IP, cases[i].dst, cases[i].sport, cases[i].dport};
        struct nsg_verdict v;
        eval(s, &f, NULL, &v);
        assert_int_equal(v.result, cases[i].res);
        assert_non_null(v.step[0].rule);
        assert_string_equal(v.step[0].rule->name, cases[i].rule);
    }
    /* Unknown source port: the source-port Deny might match; both Denies agree, so the outcome holds
     * and the caveat says the rule name may differ. */
    struct flow f = {NSG_OUTBOUND, NSG_PROTO_TCP, VM_IP, IP4(20, 1, 1, 1), -1, 80};
    struct nsg_verdict v;
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_DENIED);
    assert_rule(v.step[0].rule, "DenyRest", 120, NSG_DENY);
    assert_true(v.caveats & NSG_CAVEAT_SAME_ACCESS);
    assert_rule(v.step[0].uncertain, "DenyFromLowPorts", 110, NSG_DENY);
    assert_int_equal(v.step[0].why, NSG_WHY_SOURCE_PORT);
    nsg_set_free(s);
}

static void test_protocols(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct nsg *n = nsg_set_add(s, "nsg-proto", NSG_ASSOC_NIC);
    rule(n, "AllowUdp53", 100, NSG_ALLOW, NSG_PROTO_UDP, "40.0.0.0/8", "53");
    rule(n, "DenyIcmp", 110, NSG_DENY, NSG_PROTO_ICMP, "40.0.0.0/8", NULL);
    rule(n, "DenyTcp", 120, NSG_DENY, NSG_PROTO_TCP, "40.0.0.0/8", NULL);
    rule(n, "AllowAnyPorted", 130, NSG_ALLOW, NSG_PROTO_ANY, "40.0.0.0/8", "1-100");
    assert_int_equal(nsg_set_prepare(s), 0);
    struct nsg_verdict v;
    struct flow f = {NSG_OUTBOUND, NSG_PROTO_UDP, VM_IP, IP4(40, 0, 0, 1), 5000, 53};
    eval(s, &f, NULL, &v);
    assert_rule(v.step[0].rule, "AllowUdp53", 100, NSG_ALLOW);
    f.proto = NSG_PROTO_TCP;
    eval(s, &f, NULL, &v);
    assert_rule(v.step[0].rule, "DenyTcp", 120, NSG_DENY);
    f.proto = NSG_PROTO_ICMP;
    eval(s, &f, NULL, &v);
    assert_rule(v.step[0].rule, "DenyIcmp", 110, NSG_DENY);
    f.proto = NSG_PROTO_UDP;
    f.dst_port = 54;
    eval(s, &f, NULL, &v);
    assert_rule(v.step[0].rule, "AllowAnyPorted", 130, NSG_ALLOW);
    nsg_set_free(s);
}

/* Big augmented sides (own index) on both sides, and the local side's VirtualNetwork. */
static void test_augmented_rules(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct nsg *n = nsg_set_add(s, "nsg-aug", NSG_ASSOC_NIC);
    struct nsg_rule *r = rule(n, "AllowMany", 100, NSG_ALLOW, NSG_PROTO_ANY, NULL, NULL);
    char buf[32];
    for (int i = 0; i < 300; i++) {
        snprintf(buf, sizeof buf, "50.%d.0.0/16", i % 256);
        assert_int_equal(nsg_side_add(&r->dst, buf), 0);
        snprintf(buf, sizeof buf, "10.0.%d.0/24", i % 200);
        assert_int_equal(nsg_side_add(&r->src, buf), 0);
    }
    assert_int_equal(nsg_side_add(&r->dst, "VirtualNetwork"), 0); /* mixed: not indexable NSG-wide */
    r = rule(n, "DenySrcVnet", 200, NSG_DENY, NSG_PROTO_ANY, "*", NULL);
    assert_int_equal(nsg_side_add(&r->src, "VirtualNetwork"), 0);
    assert_int_equal(nsg_set_prepare(s), 0);
    assert_non_null(s->nsg[0]->rules[0].dst.ix);
    assert_non_null(s->nsg[0]->rules[0].src.ix);
    struct nsg_verdict v;
    char p[PREFIX4_STRLEN];
    struct flow f = out_tcp(IP4(50, 7, 1, 1), 443);
    eval(s, &f, NULL, &v);
    assert_rule(v.step[0].rule, "AllowMany", 100, NSG_ALLOW);
    assert_string_equal(prefix4_format(&v.step[0].remote.prefix, p, sizeof p), "50.7.0.0/16");
    assert_string_equal(prefix4_format(&v.step[0].local.prefix, p, sizeof p), "10.0.1.0/24");
    f.src = IP4(10, 0, 250, 4); /* outside the 200 source /24s: the next rule, via VirtualNetwork */
    eval(s, &f, NULL, &v);
    assert_rule(v.step[0].rule, "DenySrcVnet", 200, NSG_DENY);
    assert_int_equal(v.step[0].local.how, NSG_HOW_LOCAL);
    /* VirtualNetwork on the destination is unknown for a private address outside the list. */
    f = out_tcp(IP4(10, 77, 0, 1), 443);
    eval(s, &f, NULL, &v);
    assert_int_equal(v.result, NSG_INDETERMINATE);
    nsg_set_free(s);
}

/* ---- Malformed exports --------------------------------------------------------------------- */

/* A flat NSG with one rule whose fields are given as JSON members (without braces). */
static char *flat_rule(const char *fields)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"name\":\"nsg-bad\",\"networkInterfaces\":[{\"id\":\"/n\"}],\"securityRules\":[{\"name\":\"R1\","
             "\"priority\":100,\"direction\":\"Outbound\",\"access\":\"Allow\",\"protocol\":\"Tcp\","
             "\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\","
             "\"destinationPortRange\":\"*\"},{%s}]}",
             fields);
    return buf;
}

#define RULE_OK                                                                                               \
    "\"name\":\"R2\",\"direction\":\"Outbound\",\"access\":\"Deny\",\"protocol\":\"*\",\"sourcePortRange\":\"*\"," \
    "\"sourceAddressPrefix\":\"*\""

static void expect_error(const char *json, int status, const char *path, const char *msg)
{
    struct nsg_set *s = nsg_set_new();
    struct azj_error e;
    /* Something valid first: a failed load must leave it alone. */
    static const char good[] = "{\"name\":\"keep\",\"securityRules\":[]}";
    assert_int_equal(nsg_load_buffer(s, good, strlen(good), "good.json", NULL), 0);
    int rc = nsg_load_buffer(s, json, strlen(json), "bad.json", &e);
    if (rc != status || strcmp(e.path, path) != 0 || strcmp(e.msg, msg) != 0)
        fail_msg("rc %d (want %d)\n  path %s (want %s)\n  msg  %s\n  want %s", rc, status, e.path, path, e.msg, msg);
    assert_int_equal(e.status, status);
    assert_int_equal(s->count, 1);
    assert_int_equal(s->ninputs, 1);
    assert_string_equal(s->nsg[0]->name, "keep");
    nsg_set_free(s);
}

static void test_malformed(void **state)
{
    (void)state;
    char json[8192];
    expect_error(flat_rule(RULE_OK ",\"priority\":5000,\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"*\""),
                 AZJ_EVALUE, "securityRules[1].priority",
                 "bad.json: securityRules[1].priority: 5000 is outside 100-4096 (custom rule)");
    expect_error(flat_rule(RULE_OK ",\"priority\":99,\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"*\""),
                 AZJ_EVALUE, "securityRules[1].priority",
                 "bad.json: securityRules[1].priority: 99 is outside 100-4096 (custom rule)");
    expect_error(flat_rule(RULE_OK ",\"priority\":\"200\",\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"*\""),
                 AZJ_EVALUE, "securityRules[1].priority", "bad.json: securityRules[1].priority: expected an integer, got string");
    expect_error(flat_rule(RULE_OK ",\"priority\":200.5,\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"*\""),
                 AZJ_EVALUE, "securityRules[1].priority", "bad.json: securityRules[1].priority: expected an integer, got double");
    expect_error(flat_rule(RULE_OK ",\"priority\":200,\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"10-5\""),
                 AZJ_EVALUE, "securityRules[1].destinationPortRange",
                 "bad.json: securityRules[1].destinationPortRange: 10-5 is not a port range");
    expect_error(flat_rule(RULE_OK ",\"priority\":200,\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"70000\""),
                 AZJ_EVALUE, "securityRules[1].destinationPortRange",
                 "bad.json: securityRules[1].destinationPortRange: 70000 is not a port range");
    expect_error(flat_rule(RULE_OK ",\"priority\":200,\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":null,"
                                   "\"destinationPortRanges\":[\"80\",\"x\"]"),
                 AZJ_EVALUE, "securityRules[1].destinationPortRanges[1]",
                 "bad.json: securityRules[1].destinationPortRanges[1]: x is not a port range");
    expect_error(flat_rule(RULE_OK ",\"priority\":200,\"destinationAddressPrefix\":\"*\""), AZJ_EVALUE,
                 "securityRules[1].destinationPortRange",
                 "bad.json: securityRules[1].destinationPortRange: missing (neither destinationPortRange nor "
                 "destinationPortRanges)");
    expect_error(flat_rule(RULE_OK ",\"priority\":200,\"destinationAddressPrefix\":\"10.0.0.0/33\",\"destinationPortRange\":\"*\""),
                 AZJ_EVALUE, "securityRules[1].destinationAddressPrefix",
                 "bad.json: securityRules[1].destinationAddressPrefix: 10.0.0.0/33 is not an IPv4 address, prefix or "
                 "service tag");
    expect_error(flat_rule(RULE_OK ",\"priority\":200,\"destinationAddressPrefixes\":[\"1.2.3.4\",\"300.1.1.1\"],"
                                   "\"destinationPortRange\":\"*\""),
                 AZJ_EVALUE, "securityRules[1].destinationAddressPrefixes[1]",
                 "bad.json: securityRules[1].destinationAddressPrefixes[1]: 300.1.1.1 is not an IPv4 address, prefix "
                 "or service tag");
    expect_error(flat_rule(RULE_OK ",\"priority\":200,\"destinationAddressPrefixes\":[1],\"destinationPortRange\":\"*\""),
                 AZJ_EVALUE, "securityRules[1].destinationAddressPrefixes[0]",
                 "bad.json: securityRules[1].destinationAddressPrefixes[0]: expected a string, got int");
    expect_error(flat_rule(RULE_OK ",\"priority\":200,\"destinationPortRange\":\"*\""), AZJ_EVALUE,
                 "securityRules[1].destinationAddressPrefix",
                 "bad.json: securityRules[1].destinationAddressPrefix: missing (no destination address prefix, "
                 "prefixes or application security group)");
    expect_error(flat_rule("\"name\":\"R2\",\"priority\":200,\"direction\":\"Outbound\",\"protocol\":\"*\""), AZJ_EVALUE,
                 "securityRules[1].access", "bad.json: securityRules[1].access: missing");
    expect_error(flat_rule("\"name\":\"R2\",\"priority\":200,\"direction\":\"Sideways\""), AZJ_EVALUE,
                 "securityRules[1].direction", "bad.json: securityRules[1].direction: Sideways is not one of Outbound, Inbound");
    expect_error(flat_rule("\"name\":\"R2\",\"priority\":200,\"direction\":\"Outbound\",\"access\":\"Allow\","
                           "\"protocol\":\"Gre\""),
                 AZJ_EVALUE, "securityRules[1].protocol",
                 "bad.json: securityRules[1].protocol: Gre is not a protocol (Tcp, Udp, Icmp, Esp, Ah, *)");
    expect_error(flat_rule("\"priority\":200"), AZJ_EVALUE, "securityRules[1].name", "bad.json: securityRules[1].name: missing");
    expect_error(flat_rule("\"name\":7"), AZJ_EVALUE, "securityRules[1].name",
                 "bad.json: securityRules[1].name: expected a string, got int");
    expect_error("{\"securityRules\":{}}", AZJ_EVALUE, "securityRules",
                 "bad.json: securityRules: expected an array of rules, got object");
    expect_error("{\"securityRules\":[7]}", AZJ_EVALUE, "securityRules[0]",
                 "bad.json: securityRules[0]: expected a rule object, got int");
    /* The brief's example: a rule nested under properties inside a flat NSG. */
    snprintf(json, sizeof json,
             "{\"securityRules\":[%s,%s,%s,{\"name\":\"r3\",\"properties\":{\"priority\":300,\"direction\":\"Outbound\","
             "\"access\":\"Deny\",\"protocol\":\"*\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
             "\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"10-5\"}}]}",
             "{\"name\":\"r0\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\",\"protocol\":\"*\","
             "\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\","
             "\"destinationPortRange\":\"*\"}",
             "{\"name\":\"r1\",\"priority\":110,\"direction\":\"Inbound\",\"access\":\"Allow\",\"protocol\":\"*\","
             "\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\","
             "\"destinationPortRange\":\"*\"}",
             "{\"name\":\"r2\",\"priority\":120,\"direction\":\"Inbound\",\"access\":\"Allow\",\"protocol\":\"*\","
             "\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\","
             "\"destinationPortRange\":\"*\"}");
    expect_error(json, AZJ_EVALUE, "securityRules[3].properties.destinationPortRange",
                 "bad.json: securityRules[3].properties.destinationPortRange: 10-5 is not a port range");
}

static void test_malformed_shapes(void **state)
{
    (void)state;
    expect_error("", AZJ_ESYNTAX, "", "bad.json: not JSON: unexpected end of data near byte 0");
    expect_error("{\"securityRules\":[", AZJ_ESYNTAX, "", "bad.json: not JSON: unexpected end of data near byte 18");
    expect_error("{\"securityRules\":[]} x", AZJ_ESYNTAX, "", "bad.json: not JSON: text after the document at byte 21");
    expect_error("42", AZJ_ESHAPE, "", "bad.json: not an NSG export: the document is a int");
    expect_error("{\"foo\":1}", AZJ_ESHAPE, "",
                 "bad.json: not an NSG (no securityRules, properties.securityRules or effectiveSecurityRules)");
    expect_error("\xff\xfe{", AZJ_ESYNTAX, "", "bad.json: UTF-16 text (PowerShell Out-File?): save it as UTF-8");
    expect_error("{\"value\":[{\"association\":{\"subnet\":{\"id\":\"/s\"}},\"effectiveSecurityRules\":[{\"name\":"
                 "\"securityRules/x\",\"priority\":65000,\"direction\":\"Outbound\",\"access\":\"Allow\",\"protocol\":"
                 "\"All\"}]}]}",
                 AZJ_EVALUE, "value[0].effectiveSecurityRules[0].priority",
                 "bad.json: value[0].effectiveSecurityRules[0].priority: 65000 is outside 100-4096 (custom rule)");
    expect_error("{\"value\":[{\"effectiveSecurityRules\":[]}]}", AZJ_EVALUE, "value[0].association",
                 "bad.json: value[0].association: missing (expected {networkInterface} or {subnet})");
    expect_error("{\"properties\":{\"securityRules\":[{\"name\":\"x\",\"properties\":{\"priority\":100,\"direction\":"
                 "\"Inbound\",\"access\":\"Allow\",\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\","
                 "\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"1-99999\"}}]}}",
                 AZJ_EVALUE, "properties.securityRules[0].properties.destinationPortRange",
                 "bad.json: properties.securityRules[0].properties.destinationPortRange: 1-99999 is not a port range");
    expect_error("{\"defaultSecurityRules\":[{\"name\":\"DenyAllOutBound\",\"priority\":300,\"direction\":\"Outbound\","
                 "\"access\":\"Deny\",\"protocol\":\"*\"}]}",
                 AZJ_EVALUE, "defaultSecurityRules[0].priority",
                 "bad.json: defaultSecurityRules[0].priority: 300 is outside 65000-65535 (default rule)");
}

/* Huge arrays are refused with a message, not eaten. */
static void test_limits(void **state)
{
    (void)state;
    size_t cap = 200000;
    char *json = malloc(cap);
    assert_non_null(json);
    size_t n = (size_t)snprintf(json, cap, "{\"securityRules\":[{\"name\":\"big\",\"priority\":100,\"direction\":"
                                           "\"Outbound\",\"access\":\"Allow\",\"protocol\":\"*\",\"sourceAddressPrefix\":"
                                           "\"*\",\"sourcePortRange\":\"*\",\"destinationPortRange\":\"*\","
                                           "\"destinationAddressPrefixes\":[");
    for (int i = 0; i < 4001; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s\"10.%d.%d.0/24\"", i ? "," : "", i / 256, i % 256);
    snprintf(json + n, cap - n, "]}]}");
    expect_error(json, AZJ_ELIMIT, "securityRules[0].destinationAddressPrefixes",
                 "bad.json: securityRules[0].destinationAddressPrefixes: 4001 entries; the limit is 4000");
    n = (size_t)snprintf(json, cap, "{\"securityRules\":[");
    for (int i = 0; i < 1101; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s{}", i ? "," : "");
    snprintf(json + n, cap - n, "]}");
    expect_error(json, AZJ_ELIMIT, "securityRules", "bad.json: securityRules: 1101 rules; the limit is 1100");
    n = (size_t)snprintf(json, cap, "{\"value\":[");
    for (int i = 0; i < 17; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s{\"securityRules\":[]}", i ? "," : "");
    snprintf(json + n, cap - n, "]}");
    expect_error(json, AZJ_ELIMIT, "value", "bad.json: value: 17 entries; the limit is 16 NSGs");
    /* Deep nesting is a syntax error from the tokenizer, not a stack overflow. */
    n = 0;
    for (int i = 0; i < 5000; i++)
        json[n++] = '[';
    json[n] = '\0';
    struct nsg_set *s = nsg_set_new();
    struct azj_error e;
    assert_int_equal(nsg_load_buffer(s, json, n, "deep.json", &e), AZJ_ESYNTAX);
    nsg_set_free(s);
    free(json);
    s = nsg_set_new();
    assert_int_equal(nsg_load(s, FIX "nope.json", &e), AZJ_EIO);
    assert_string_equal(e.file, "nope.json");
    assert_non_null(strstr(e.msg, "cannot read"));
    nsg_set_free(s);
}

/* ---- Other accepted forms -------------------------------------------------------------------- */

static void test_other_forms(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct azj_error e;
    /* PowerShell: PascalCase keys, singular fields as arrays, tagMap as an object. */
    static const char ps[] =
        "{\"Name\":\"nsg-ps\",\"NetworkInterfaces\":[{\"Id\":\"/n/nic\"}],\"SecurityRules\":[{\"Name\":\"DenyAll\","
        "\"Priority\":100,\"Direction\":\"outbound\",\"Access\":\"deny\",\"Protocol\":\"*\",\"SourceAddressPrefix\":"
        "[\"*\"],\"SourcePortRange\":[\"*\"],\"DestinationAddressPrefix\":[\"Internet\"],\"DestinationPortRange\":"
        "[\"443\",\"8443\"]}]}";
    assert_int_equal(nsg_load_buffer(s, ps, strlen(ps), "ps.json", &e), 0);
    assert_string_equal(s->nsg[0]->name, "nsg-ps");
    assert_int_equal(s->nsg[0]->rules[0].ndports, 2);
    /* A rule list (az network nsg rule list): named after the ids. */
    static const char list[] =
        "[{\"id\":\"/s/networkSecurityGroups/nsg-list/securityRules/a\",\"name\":\"a\",\"priority\":100,\"direction\":"
        "\"Outbound\",\"access\":\"Allow\",\"protocol\":\"Tcp\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
        "\"destinationAddressPrefix\":\"Storage\",\"destinationPortRange\":\"443\"}]";
    assert_int_equal(nsg_load_buffer(s, list, strlen(list), "list.json", &e), 0);
    assert_string_equal(s->nsg[1]->name, "nsg-list");
    assert_string_equal(s->inputs[1].shape, "az network nsg rule list");
    assert_int_equal(s->inputs[1].warnings, 1);
    /* tagMap as an object, a broken string, a number: never an error. */
    static const char eff[] =
        "[{\"association\":{\"networkInterface\":{\"id\":\"/n/nic\"}},\"tagMap\":{\"VirtualNetwork\":[\"10.0.0.0/8\"]},"
        "\"effectiveSecurityRules\":[]},{\"association\":{\"subnet\":{\"id\":\"/s\"}},\"tagMap\":\"{oops\","
        "\"effectiveSecurityRules\":[]},{\"association\":{\"networkInterface\":null,\"subnet\":null,"
        "\"networkManager\":{\"id\":\"/m\"}},\"tagMap\":5,\"effectiveSecurityRules\":[]}]";
    struct nsg_set *s2 = nsg_set_new();
    assert_int_equal(nsg_load_buffer(s2, eff, strlen(eff), "eff.json", &e), 0);
    assert_int_equal(s2->count, 2); /* the AVNM entry is not kept */
    assert_int_equal(s2->nsg[0]->ntagmap, 1);
    assert_true(s2->inputs[0].warnings >= 2);
    /* The defaults were added (the entries had none) and use the tagMap. */
    struct nsg_verdict v;
    struct flow f = out_tcp(IP4(10, 9, 9, 9), 80);
    eval(s2, &f, NULL, &v);
    assert_rule(v.step[0].rule, "AllowVnetOutBound", 65000, NSG_ALLOW);
    assert_int_equal(v.step[0].remote.how, NSG_HOW_TAGMAP);
    assert_int_equal(v.step[1].outcome, NSG_STEP_INDETERMINATE); /* no tagMap on the subnet entry */
    /* Duplicate priorities are a warning. */
    static const char dup[] =
        "{\"securityRules\":[{\"name\":\"a\",\"priority\":100,\"direction\":\"Outbound\",\"access\":\"Allow\","
        "\"protocol\":\"*\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\",\"destinationAddressPrefix\":\"*\","
        "\"destinationPortRange\":\"*\"},{\"name\":\"b\",\"priority\":100,\"direction\":\"Outbound\",\"access\":"
        "\"Deny\",\"protocol\":\"*\",\"sourceAddressPrefix\":\"*\",\"sourcePortRange\":\"*\","
        "\"destinationAddressPrefix\":\"*\",\"destinationPortRange\":\"*\"}]}";
    assert_int_equal(nsg_load_buffer(s, dup, strlen(dup), "dup.json", &e), 0);
    assert_non_null(strstr(s->inputs[2].warning, "priority 100 is used by a and b"));
    /* An empty list loads, with a warning. */
    assert_int_equal(nsg_load_buffer(s, "{\"value\":[]}", 12, "empty.json", &e), 0);
    assert_string_equal(s->inputs[3].shape, "empty list");
    nsg_set_free(s);
    nsg_set_free(s2);
}

/* ---- Invariants over random flows -------------------------------------------------------------- */

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static void random_side(struct nsg_side *s)
{
    static const char *const tags[] = {"Internet", "VirtualNetwork", "Storage", "AzureLoadBalancer", "AzureKeyVault",
                                       "asg:/x/applicationSecurityGroups/asg-backup-clients", "asg:/x/asg-other"};
    uint32_t k = rnd() % 10;
    if (k == 0) {
        assert_int_equal(nsg_side_add(s, "*"), 0);
        return;
    }
    if (k == 1) {
        assert_int_equal(nsg_side_add(s, tags[rnd() % 7]), 0);
        return;
    }
    int n = 1 + (int)(rnd() % 40);
    for (int i = 0; i < n; i++) {
        struct prefix4 p = {(rnd() & 0x3fffffffu) | 0x40000000u, (uint8_t)(8 + rnd() % 25)};
        if (rnd() % 4 == 0)
            p.net = (IP4(10, 0, 0, 0) | (rnd() & 0xffff));
        p.net &= prefix4_mask(p.len);
        assert_int_equal(nsg_side_add_prefix(s, &p), 0);
    }
    if (k == 2)
        assert_int_equal(nsg_side_add(s, tags[rnd() % 7]), 0);
}

static void random_nsg(struct nsg *n)
{
    for (int i = 0; i < 120; i++) {
        char name[32];
        snprintf(name, sizeof name, "r%d", i);
        struct nsg_rule *r = nsg_add_rule(n, name, NSG_RULE_USER, 100 + (int)(rnd() % 3997),
                                          rnd() % 4 ? NSG_OUTBOUND : NSG_INBOUND, rnd() % 2 ? NSG_DENY : NSG_ALLOW,
                                          (enum nsg_proto)(rnd() % 4));
        assert_non_null(r);
        random_side(&r->dst);
        if (rnd() % 3 == 0)
            random_side(&r->src);
        static const char *const ports[] = {"443", "8443", "1-1024", "53", "440-450", "*"};
        if (rnd() % 2)
            assert_int_equal(nsg_rule_add_ports(r, true, ports[rnd() % 6]), 0);
        if (rnd() % 8 == 0)
            assert_int_equal(nsg_rule_add_ports(r, false, ports[rnd() % 6]), 0);
    }
}

static void check_verdict(const struct nsg_verdict *v)
{
    const struct nsg_rule *b = nsg_verdict_blocker(v, NULL, NULL);
    const struct nsg_rule *sus = nsg_verdict_suspect(v, NULL, NULL);
    char buf[2048];
    if (v->result == NSG_DENIED) {
        assert_non_null(b);
        assert_int_equal(b->access, NSG_DENY); /* never an Allow rule as the blocker */
    } else {
        assert_null(b);
    }
    if (sus)
        assert_int_equal(sus->access, NSG_DENY);
    for (int i = 0; i < 2; i++) {
        const struct nsg_step *st = &v->step[i];
        if (st->outcome == NSG_STEP_DENY)
            assert_int_equal(st->rule->access, NSG_DENY);
        if (st->outcome == NSG_STEP_ALLOW)
            assert_int_equal(st->rule->access, NSG_ALLOW);
        if (st->outcome == NSG_STEP_INDETERMINATE && st->rule && st->uncertain)
            assert_true(st->uncertain->access != st->rule->access);
    }
    describe(v, buf, sizeof buf);
    assert_true(buf[0] != '\0');
}

static void test_random_flows_index_vs_linear(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    random_nsg(nsg_set_add(s, "nsg-rnd-nic", NSG_ASSOC_NIC));
    random_nsg(nsg_set_add(s, "nsg-rnd-sub", NSG_ASSOC_SUBNET));
    assert_int_equal(nsg_set_prepare(s), 0);
    struct nic_info nic;
    struct azj_error e;
    assert_int_equal(nic_load(&nic, FIX "nic-show.json", &e), 0);
    int calls = 0;
    struct prefix4 vn[2] = {{IP4(10, 0, 0, 0), 16}, {IP4(168, 63, 129, 16), 32}};
    struct tag_resolver resolvers[3] = {{0}, {.lookup = fake_tags, .ctx = &calls}, {.vnet = vn, .nvnet = 2, .vnet_known = true}};
    int counts[4] = {0};
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            nsg_set_attach_nic(s, &nic); /* ASG membership known */
        for (int i = 0; i < 6000; i++) {
            struct flow f = {rnd() % 5 ? NSG_OUTBOUND : NSG_INBOUND, (enum nsg_proto)(1 + rnd() % 3), VM_IP, 0, -1, 443};
            uint32_t remote = rnd() % 3 == 0 ? IP4(10, 0, 0, 0) | (rnd() & 0xffff) : rnd();
            static const int ports[] = {443, 8443, 53, 22, 1433, 445};
            f.dst_port = ports[rnd() % 6];
            f.src_port = rnd() % 2 ? -1 : (int)(rnd() % 65536);
            if (f.dir == NSG_OUTBOUND)
                f.dst = remote;
            else {
                f.src = remote;
                f.dst = VM_IP;
            }
            struct nsg_verdict v;
            eval(s, &f, &resolvers[i % 3], &v);
            check_verdict(&v);
            counts[v.result]++;
        }
    }
    /* The generator exercises every outcome. */
    assert_true(counts[NSG_ALLOWED] > 100);
    assert_true(counts[NSG_DENIED] > 100);
    assert_true(counts[NSG_INDETERMINATE] > 100);
    nsg_set_free(s);
}

static void test_fixture_flows_invariants(void **state)
{
    (void)state;
    struct nsg_set *sets[2] = {load_effective(), load_flat_arm()};
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 3000; i++) {
            struct flow f = out_tcp(rnd(), (int)(rnd() % 65536));
            if (i % 3 == 0)
                f.dst = IP4(10, 0, 0, 0) | (rnd() & 0xffffff);
            struct nsg_verdict v;
            eval(sets[k], &f, NULL, &v);
            check_verdict(&v);
            if (k == 0 && !(f.dst >> 24 == 168 || f.dst >> 24 == 169 || f.dst >> 24 == 10 || f.dst >> 24 >= 224 ||
                            f.dst >> 24 == 127 || f.dst >> 24 == 0 || f.dst >> 24 == 100 || f.dst >> 24 == 172 ||
                            f.dst >> 24 == 192))
                assert_int_equal(v.result, NSG_DENIED); /* public: DenyInternetOutbound */
        }
        nsg_set_free(sets[k]);
    }
}

/* Long chains: more rules name prefixes containing the address than the index keeps at hand, and
 * most of them fail on ports, so the first match is found on the slow path; nested duplicates too. */
static void test_dense_chains(void **state)
{
    (void)state;
    struct nsg_set *s = nsg_set_new();
    struct nsg *n = nsg_set_add(s, "nsg-dense", NSG_ASSOC_NIC);
    char name[32], port[16];
    for (int i = 0; i < 60; i++) {
        snprintf(name, sizeof name, "r%02d", i);
        snprintf(port, sizeof port, "%d", 1000 + i);
        static const char *const nets[] = {"20.0.0.0/8", "20.1.0.0/16", "20.1.2.0/24", "20.1.2.3/32"};
        struct nsg_rule *r = rule(n, name, 100 + i, i % 2 ? NSG_DENY : NSG_ALLOW, NSG_PROTO_TCP, nets[i % 4], port);
        assert_int_equal(nsg_side_add(&r->dst, nets[(i + 1) % 4]), 0); /* the same rule, nested twice */
    }
    assert_int_equal(nsg_set_prepare(s), 0);
    struct nsg_verdict v;
    for (int i = 0; i < 60; i++) {
        struct flow f = out_tcp(IP4(20, 1, 2, 3), 1000 + i);
        eval(s, &f, NULL, &v);
        snprintf(name, sizeof name, "r%02d", i);
        assert_string_equal(v.step[0].rule->name, name);
        /* The reported prefix is the rule's most specific one containing the address. */
        static const int lens[] = {8, 16, 24, 32};
        int a = i % 4, b = (i + 1) % 4;
        assert_int_equal(v.step[0].remote.prefix.len, lens[a > b ? a : b]);
        f.dst = IP4(20, 1, 9, 9); /* only the /8 and /16 rules */
        eval(s, &f, NULL, &v);
        f.dst = IP4(20, 200, 0, 1);
        eval(s, &f, NULL, &v);
    }
    nsg_set_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_shape),
        cmocka_unit_test(test_arm_shape),
        cmocka_unit_test(test_effective_shape),
        cmocka_unit_test(test_rule_name_normalisation),
        cmocka_unit_test(test_small_parsers),
        cmocka_unit_test(test_fixture_storage_effective),
        cmocka_unit_test(test_fixture_dns_effective),
        cmocka_unit_test(test_fixture_vnet_effective),
        cmocka_unit_test(test_fixture_platform),
        cmocka_unit_test(test_fixture_flat_arm),
        cmocka_unit_test(test_fixture_nic_and_routes),
        cmocka_unit_test(test_nic_load),
        cmocka_unit_test(test_missing_nsg_and_slots),
        cmocka_unit_test(test_priority_order),
        cmocka_unit_test(test_nic_then_subnet),
        cmocka_unit_test(test_default_rules_added),
        cmocka_unit_test(test_service_tags),
        cmocka_unit_test(test_platform_rules),
        cmocka_unit_test(test_asg_membership),
        cmocka_unit_test(test_ports_and_lists),
        cmocka_unit_test(test_protocols),
        cmocka_unit_test(test_augmented_rules),
        cmocka_unit_test(test_dense_chains),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_malformed_shapes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_other_forms),
        cmocka_unit_test(test_random_flows_index_vs_linear),
        cmocka_unit_test(test_fixture_flows_invariants),
    };
    return cmocka_run_group_tests_name("nsg", tests, NULL, NULL);
}
