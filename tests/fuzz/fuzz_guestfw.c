/* libFuzzer target: the guest firewall loaders (nft JSON and iptables-save text, the same bytes fed
 * to both, then both into one model as guestfw_collect does) and the evaluator. Invariants: a
 * failed load leaves a printable message naming the input and keeps nothing of it; every verdict
 * is consistent (blocked and uncertain exclusive, a blocker with a table, chain and verdict word);
 * every description is one printable line. */
#include "probe/diag/guestfw.h"
#include "tests/fuzz/fuzz.h"

static void check_hit(const struct guestfw_hit *h)
{
    fuzz_check_str(h->table, sizeof h->table, true);
    fuzz_check_str(h->chain, sizeof h->chain, true);
    fuzz_check_str(h->rule, sizeof h->rule, true);
    fuzz_check_str(h->verdict, sizeof h->verdict, true);
    FUZZ_CHECK(h->verdict[0] != '\0');
}

static void check_flows(const struct guestfw *fw)
{
    static const struct guestfw_flow flows[] = {
        { 0xA83F8110u, 80, true, false },    /* 168.63.129.16 */
        { 0xA83F8110u, 32526, true, true },
        { 0xA83F8110u, 53, false, false },
        { 0xA9FEA9FEu, 80, true, false },    /* 169.254.169.254 */
        { 0xCB00710Au, 443, true, false },   /* 203.0.113.10 */
        { 0x7F000001u, 443, true, true },
    };
    for (size_t i = 0; i < sizeof flows / sizeof flows[0]; i++) {
        struct guestfw_verdict v;
        char line[GUESTFW_DESCRIBE_MAX];
        bool blocked = guestfw_evaluate(fw, &flows[i], &v);
        FUZZ_CHECK(blocked == v.blocked && !(v.blocked && v.uncertain));
        if (v.blocked) {
            check_hit(&v.blocker);
            FUZZ_CHECK(v.blocker.table[0] && v.blocker.chain[0]);
        }
        if (v.uncertain)
            check_hit(&v.possible);
        guestfw_describe(&v, line, sizeof line);
        fuzz_check_str(line, sizeof line, true);
        FUZZ_CHECK(strncmp(line, "guest firewall: ", 16) == 0);
    }
}

static void check_load(int rc, const struct guestfw *fw, size_t before, const char *err, const char *label)
{
    if (rc == 0)
        return;
    fuzz_check_str(err, 256, true);
    FUZZ_CHECK(strncmp(err, label, strlen(label)) == 0);
    FUZZ_CHECK(fw->ntables == before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct guestfw fw = { 0 };
    char err[256];
    int rc = guestfw_load_nft_json(&fw, text, size, "fuzz.json", err, sizeof err);
    check_load(rc, &fw, 0, err, "fuzz.json");
    size_t before = fw.ntables;
    rc = guestfw_load_iptables_save(&fw, text, size, "fuzz.txt", err, sizeof err);
    check_load(rc, &fw, before, err, "fuzz.txt");
    check_flows(&fw);
    guestfw_free(&fw);
    FUZZ_CHECK(fw.ntables == 0 && fw.nchains == 0 && fw.tables == NULL);
    return 0;
}
