/* libFuzzer target: the NSG reader (every shape: flat, ARM, lists, rule lists, effective exports) and
 * the NIC reader on the same bytes, then the evaluator on a fixed set of flows, with and without the
 * NIC attached and with three kinds of tag data. Invariants (abort on violation):
 *  - a failed load has a negative status, a printable message naming the file, and leaves the set
 *    as it was; a successful one records a shape and printable warnings;
 *  - a verdict's result and step outcomes are in range, DENIED always has a Deny blocker and
 *    nothing else has one, a suspect is always a Deny rule, ALLOW/DENY steps name a rule of that
 *    access, the explanation is printable;
 *  - the indexed evaluation and the rule-by-rule walk agree. */
#include <stdio.h>
#include <strings.h>

#include "probe/diag/nsg.h"
#include "tests/fuzz/fuzz.h"

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static void check_error(const struct azj_error *e, int rc)
{
    FUZZ_CHECK(rc < 0 && rc >= AZJ_ENOMEM);
    FUZZ_CHECK(e->status == rc);
    fuzz_check_str(e->msg, sizeof e->msg, true);
    fuzz_check_str(e->path, sizeof e->path, false);
    FUZZ_CHECK(strncmp(e->msg, e->file, strlen(e->file)) == 0);
}

static void check_input(const struct azj_input *in)
{
    FUZZ_CHECK(in->shape != NULL);
    fuzz_check_str(in->file, sizeof in->file, true);
    fuzz_check_str(in->warning, sizeof in->warning, true);
    FUZZ_CHECK(in->warnings > 0 || in->warning[0] == '\0');
    FUZZ_CHECK(in->default_rules <= in->rules);
}

static bool same(const struct nsg_verdict *a, const struct nsg_verdict *b)
{
    if (a->result != b->result)
        return false;
    for (int i = 0; i < 2; i++)
        if (a->step[i].outcome != b->step[i].outcome || a->step[i].rule != b->step[i].rule ||
            a->step[i].uncertain != b->step[i].uncertain)
            return false;
    return true;
}

static void check_verdict(const struct nsg_verdict *v)
{
    static char buf[4096];
    FUZZ_CHECK((unsigned)v->result <= NSG_EXEMPT);
    const struct nsg_rule *b = nsg_verdict_blocker(v, NULL, NULL), *s = nsg_verdict_suspect(v, NULL, NULL);
    FUZZ_CHECK((v->result == NSG_DENIED) == (b != NULL));
    FUZZ_CHECK(!b || b->access == NSG_DENY);
    FUZZ_CHECK(!s || s->access == NSG_DENY);
    for (int i = 0; i < 2; i++) {
        const struct nsg_step *st = &v->step[i];
        FUZZ_CHECK((unsigned)st->outcome <= NSG_STEP_SKIPPED);
        if (st->outcome == NSG_STEP_ALLOW || st->outcome == NSG_STEP_DENY) {
            FUZZ_CHECK(st->rule != NULL);
            FUZZ_CHECK(st->rule->access == (st->outcome == NSG_STEP_DENY ? NSG_DENY : NSG_ALLOW));
        }
        fuzz_check_str(st->why_what, sizeof st->why_what, true);
        fuzz_check_str(st->remote.tag, sizeof st->remote.tag, true);
    }
    nsg_verdict_describe(v, buf, sizeof buf);
    fuzz_check_str(buf, sizeof buf, true);
}

/* Deterministic tag data: tags starting with S contain addresses whose first octet is odd. */
static int fake_tags(void *ctx, const char *tag, uint32_t ip, struct prefix4 *m)
{
    (void)ctx;
    if (tag[0] != 'S' && tag[0] != 's')
        return -1;
    if (!((ip >> 24) & 1))
        return 0;
    if (m)
        *m = (struct prefix4){ip & 0xff000000u, 8};
    return 1;
}

static void evaluate(const struct nsg_set *set)
{
    static const struct flow flows[] = {
        {NSG_OUTBOUND, NSG_PROTO_TCP, IP4(10, 0, 1, 4), IP4(13, 70, 208, 20), -1, 443},
        {NSG_OUTBOUND, NSG_PROTO_TCP, IP4(10, 0, 1, 4), IP4(20, 150, 1, 1), 50000, 8443},
        {NSG_OUTBOUND, NSG_PROTO_UDP, IP4(10, 0, 1, 4), IP4(10, 50, 0, 4), 40000, 53},
        {NSG_OUTBOUND, NSG_PROTO_TCP, IP4(10, 0, 1, 4), IP4(10, 0, 1, 5), -1, 22},
        {NSG_OUTBOUND, NSG_PROTO_TCP, IP4(10, 0, 1, 4), IP4(168, 63, 129, 16), -1, 80},
        {NSG_OUTBOUND, NSG_PROTO_TCP, IP4(10, 0, 1, 4), IP4(169, 254, 169, 254), -1, 80},
        {NSG_OUTBOUND, NSG_PROTO_ICMP, IP4(10, 0, 1, 4), IP4(8, 8, 8, 8), -1, 0},
        {NSG_INBOUND, NSG_PROTO_TCP, IP4(1, 2, 3, 4), IP4(10, 0, 1, 4), 1234, 22},
        {NSG_INBOUND, NSG_PROTO_UDP, IP4(168, 63, 129, 16), IP4(10, 0, 1, 4), 53, 53},
    };
    static const struct prefix4 vnet[] = {{IP4(10, 0, 0, 0), 16}, {0, 0}, {IP4(168, 63, 129, 16), 32}};
    const struct tag_resolver tags[3] = {{0}, {.lookup = fake_tags}, {.vnet = vnet, .nvnet = 3, .vnet_known = true}};
    for (size_t i = 0; i < sizeof flows / sizeof flows[0]; i++) {
        for (int t = 0; t < 3; t++) {
            struct nsg_verdict a, b;
            if (nsg_evaluate(set, &flows[i], &tags[t], &a) != 0)
                continue;
            FUZZ_CHECK(nsg_evaluate_ex(set, &flows[i], &tags[t], NSG_EVAL_LINEAR, &b) == 0);
            check_verdict(&a);
            FUZZ_CHECK(same(&a, &b));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nsg_set *set = nsg_set_new();
    struct azj_error e;
    if (!set)
        return 0;
    int rc = nsg_load_buffer(set, (const char *)data, size, "fuzz.json", &e);
    if (rc != AZJ_OK) {
        check_error(&e, rc);
        FUZZ_CHECK(set->count == 0 && set->ninputs == 0);
    } else {
        FUZZ_CHECK(set->ninputs == 1);
        check_input(&set->inputs[0]);
        for (size_t i = 0; i < set->count; i++)
            fuzz_check_str(set->nsg[i]->name, sizeof set->nsg[i]->name, true);
        evaluate(set);
    }
    struct nic_info nic;
    rc = nic_load_buffer(&nic, (const char *)data, size, "nic.json", &e);
    if (rc != AZJ_OK) {
        check_error(&e, rc);
        FUZZ_CHECK(!nic.ip_known && nic.nasgs == 0);
    } else {
        check_input(&nic.input);
        fuzz_check_str(nic.mac, sizeof nic.mac, true);
        FUZZ_CHECK(nic.nasgs <= NSG_MAX_ASGS);
        nsg_set_attach_nic(set, &nic);
        evaluate(set);
    }
    nsg_set_free(set);
    return 0;
}
