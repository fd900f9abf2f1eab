/* make bench-nsg: the NSG evaluator at Azure's limits. A NIC NSG of 1,000 custom outbound rules with
 * 4,000 destination prefixes each (4 million prefixes, generated here with a fixed seed; a few rules
 * also name a service tag, so the evaluator's non-indexed path is exercised too) plus a subnet NSG
 * with the defaults, then 100,000 random outbound flows (half aimed inside some rule's prefix), each
 * judged NIC-then-subnet. The prefix mix is deliberately dense - 40% /32, 30% /24-/31, 25% /16-/23,
 * 5% /8-/15 - so a typical address lies in ~200 rules' prefixes and the first match often needs the
 * index's slow path; real allow-lists are sparser and faster.
 *
 * Prints build time, evaluations per second (best of several rounds, CLOCK_MONOTONIC), peak RSS
 * (getrusage) and the verdict mix; a sample of flows is re-judged with the rule-by-rule reference
 * walk and must agree. Exits 1 when the target is missed or they disagree.
 *
 *   bench_nsg [ROUNDS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>

#include "probe/diag/nsg.h"

#define NRULES 1000
#define NPREFIXES 4000
#define NFLOWS 100000
#define DEFAULT_ROUNDS 10
#define NCHECK 300                  /* flows re-judged by the linear reference walk */
#define TARGET_EVALS_PER_S 1e6

#define IP4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

static uint32_t rng = 0x9e3779b9u;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Prefix lengths like real allow/deny lists: mostly hosts and small networks, some large blocks. */
static uint8_t random_len(void)
{
    uint32_t k = rnd() % 100;
    return (uint8_t)(k < 40 ? 32 : k < 70 ? 24 + rnd() % 8 : k < 95 ? 16 + rnd() % 8 : 8 + rnd() % 8);
}

/* A public-looking address (the 1.0.0.0 - 223.255.255.255 range, private ones included on purpose). */
static uint32_t random_addr(void)
{
    return IP4(1 + rnd() % 223, 0, 0, 0) | (rnd() & 0xffffff);
}

static int ports_of(struct nsg_rule *r)
{
    static const char *const ports[] = {"443", "8443", "80", "53", "1433", "22", "3389", "1024-65535", "440-450"};
    uint32_t k = rnd() % 10;
    if (k < 4)
        return 0; /* "*" */
    return nsg_rule_add_ports(r, true, ports[rnd() % (sizeof ports / sizeof ports[0])]);
}

static int build(struct nsg_set *set)
{
    static const enum nsg_proto protos[] = {NSG_PROTO_TCP, NSG_PROTO_TCP, NSG_PROTO_TCP, NSG_PROTO_UDP, NSG_PROTO_ANY};
    struct nsg *nic = nsg_set_add(set, "nsg-bench-nic", NSG_ASSOC_NIC);
    struct nsg *sub = nsg_set_add(set, "nsg-bench-subnet", NSG_ASSOC_SUBNET);
    if (!nic || !sub)
        return -1;
    for (int i = 0; i < NRULES; i++) {
        char name[32];
        snprintf(name, sizeof name, "rule-%04d", i);
        struct nsg_rule *r = nsg_add_rule(nic, name, NSG_RULE_USER, 100 + i * 3, NSG_OUTBOUND,
                                          rnd() % 3 ? NSG_DENY : NSG_ALLOW, protos[rnd() % 5]);
        if (!r || ports_of(r) != 0)
            return -1;
        for (int k = 0; k < NPREFIXES; k++) {
            struct prefix4 p = {random_addr(), random_len()};
            p.net &= prefix4_mask(p.len);
            if (nsg_side_add_prefix(&r->dst, &p) != 0)
                return -1;
        }
        /* 1 in 50 also names a service tag: those rules cannot use the NSG-wide index. */
        if (i % 50 == 7 && nsg_side_add(&r->dst, "Storage") != 0)
            return -1;
        /* 1 in 10 limits the source to the VNet's address space. */
        if (i % 10 == 3 && nsg_side_add(&r->src, "10.0.0.0/16") != 0)
            return -1;
    }
    return nsg_set_prepare(set);
}

/* Storage = 20.150.0.0/16 and 13.70.208.16/28 for the service-tag rules. */
static int fake_tags(void *ctx, const char *tag, uint32_t ip, struct prefix4 *m)
{
    static const struct prefix4 a = {IP4(20, 150, 0, 0), 16}, b = {IP4(13, 70, 208, 16), 28};
    (void)ctx;
    if (strcasecmp(tag, "Storage") != 0)
        return -1;
    const struct prefix4 *p = prefix4_contains(&a, ip) ? &a : prefix4_contains(&b, ip) ? &b : NULL;
    if (p && m)
        *m = *p;
    return p != NULL;
}

static void make_flows(const struct nsg *nic, struct flow *flows)
{
    static const int ports[] = {443, 443, 443, 8443, 80, 53, 1433, 22};
    for (int i = 0; i < NFLOWS; i++) {
        struct flow *f = &flows[i];
        f->dir = NSG_OUTBOUND;
        f->proto = rnd() % 5 ? NSG_PROTO_TCP : NSG_PROTO_UDP;
        f->src = IP4(10, 0, 1, 4);
        f->src_port = rnd() % 2 ? -1 : (int)(32768 + rnd() % 28232);
        f->dst_port = ports[rnd() % 8];
        if (i % 2) {
            f->dst = random_addr();
        } else { /* inside a random prefix of a random rule */
            const struct nsg_rule *r = &nic->rules[rnd() % NRULES];
            const struct prefix4 *p = &r->dst.pfx[rnd() % r->dst.npfx];
            f->dst = p->net | (rnd() & ~prefix4_mask(p->len));
        }
    }
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

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : DEFAULT_ROUNDS;
    if (rounds < 1)
        rounds = 1;
    struct nsg_set *set = nsg_set_new();
    double t0 = now_ms();
    if (!set || build(set) != 0) {
        fprintf(stderr, "bench_nsg: building the NSGs failed (out of memory?)\n");
        return 2;
    }
    double t1 = now_ms();
    double rss_build = peak_rss_mb();
    struct flow *flows = malloc(NFLOWS * sizeof *flows);
    if (!flows)
        return 2;
    make_flows(set->nsg[0], flows);
    struct prefix4 vnet[2] = {{IP4(10, 0, 0, 0), 16}, {IP4(168, 63, 129, 16), 32}};
    struct tag_resolver tags = {.lookup = fake_tags, .vnet = vnet, .nvnet = 2, .vnet_known = true};
    size_t mix[4] = {0};
    double best = 1e30;
    for (long r = 0; r < rounds; r++) {
        double s = now_ms();
        for (int i = 0; i < NFLOWS; i++) {
            struct nsg_verdict v;
            nsg_evaluate(set, &flows[i], &tags, &v);
            if (r == 0)
                mix[v.result]++;
        }
        double ms = now_ms() - s;
        if (ms < best)
            best = ms;
    }
    double s = now_ms();
    int mismatches = 0;
    for (int i = 0; i < NCHECK; i++) {
        struct nsg_verdict a, b;
        nsg_evaluate(set, &flows[i * (NFLOWS / NCHECK)], &tags, &a);
        nsg_evaluate_ex(set, &flows[i * (NFLOWS / NCHECK)], &tags, NSG_EVAL_LINEAR, &b);
        mismatches += !same(&a, &b);
    }
    double lin_ms = now_ms() - s;
    double eps = NFLOWS / (best / 1e3);
    printf("bench_nsg: NIC NSG %d rules x %d destination prefixes (%d total) + defaults; subnet NSG defaults only\n",
           NRULES, NPREFIXES, NRULES * NPREFIXES);
    printf("  build (generate + prepare):  %.0f ms, peak RSS after build %.1f MB\n", t1 - t0, rss_build);
    printf("  %d flows x %ld rounds:    best round %.1f ms = %.0f evaluations/s (%.2f us each)\n", NFLOWS, rounds, best,
           eps, best * 1e3 / NFLOWS);
    printf("  verdicts: allowed %zu, denied %zu, indeterminate %zu, exempt %zu\n", mix[NSG_ALLOWED], mix[NSG_DENIED],
           mix[NSG_INDETERMINATE], mix[NSG_EXEMPT]);
    printf("  reference walk: %d flows in %.0f ms (%.0f evaluations/s), %d disagreements\n", NCHECK, lin_ms,
           NCHECK / (lin_ms / 1e3), mismatches);
    printf("  peak RSS: %.1f MB\n", peak_rss_mb());
    bool ok = eps > TARGET_EVALS_PER_S && mismatches == 0;
    printf("  target > %.0f evaluations/s: %s\n", TARGET_EVALS_PER_S, ok ? "met" : "MISSED");
    free(flows);
    nsg_set_free(set);
    return ok ? 0 : 1;
}
