/* libFuzzer target: the ServiceTags JSON loader (servicetags_load_buffer) and, on the same bytes
 * taken as text, the CIDR parser. Invariants: a failure always leaves a printable message naming
 * the input; a loaded set is internally consistent (sorted, deduplicated, normalised prefixes;
 * counts add up; every tag findable by name; lookups return containing prefixes, most specific
 * first); an accepted IPv4 prefix formats and re-parses to itself. */
#include <stdio.h>

#include "probe/diag/prefix.h"
#include "probe/diag/servicetags.h"
#include "tests/fuzz/fuzz.h"

static void check_prefix_text(const uint8_t *data, size_t size)
{
    char text[48], out[PREFIX4_STRLEN];
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    struct prefix4 p, q;
    unsigned flags, flags2;
    enum prefix_kind kind = prefix_parse(text, &p, &flags);
    FUZZ_CHECK(kind == PREFIX_INVALID || kind == PREFIX_V4 || kind == PREFIX_V6);
    FUZZ_CHECK((kind == PREFIX_V4) == prefix4_parse(text, &q));
    if (kind != PREFIX_V4)
        return;
    FUZZ_CHECK(p.len <= 32 && (p.net & ~prefix4_mask(p.len)) == 0);
    FUZZ_CHECK(prefix4_contains(&p, p.net) && prefix4_contains(&p, prefix4_last(&p)));
    prefix4_format(&p, out, sizeof out);
    FUZZ_CHECK(prefix_parse(out, &q, &flags2) == PREFIX_V4);
    FUZZ_CHECK(q.net == p.net && q.len == p.len && !(flags2 & PREFIX_F_HOSTBITS));
}

static void check_tag(const struct servicetags *st, const struct servicetag *t)
{
    fuzz_check_str(t->name, strlen(t->name) + 1, true);
    FUZZ_CHECK(t->name[0] != '\0');
    FUZZ_CHECK(servicetags_find(st, t->name) == t);
    for (size_t j = 0; j < t->nprefixes; j++) {
        const struct prefix4 *p = &t->prefixes[j];
        FUZZ_CHECK(p->len <= 32 && (p->net & ~prefix4_mask(p->len)) == 0);
        if (j) /* sorted by address then length, no duplicates */
            FUZZ_CHECK(t->prefixes[j - 1].net < p->net ||
                       (t->prefixes[j - 1].net == p->net && t->prefixes[j - 1].len < p->len));
    }
    if (!t->nprefixes)
        return;
    /* The tag contains the last address of its first prefix; every match reported contains it. */
    uint32_t ip = prefix4_last(&t->prefixes[0]);
    struct servicetag_match m[SERVICETAGS_MAX_MATCHES];
    size_t n = servicetags_lookup_ex(st, ip, m, SERVICETAGS_MAX_MATCHES);
    bool self = false;
    for (size_t k = 0; k < n; k++) {
        FUZZ_CHECK(prefix4_contains(&m[k].prefix, ip));
        FUZZ_CHECK(k == 0 || m[k].prefix.len <= m[k - 1].prefix.len);
        self |= m[k].tag == t;
    }
    FUZZ_CHECK(self || n == SERVICETAGS_MAX_MATCHES);
    FUZZ_CHECK(servicetags_tag_contains(st, t->name, ip, NULL) == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    check_prefix_text(data, size);
    struct servicetags *st = servicetags_load_buffer((const char *)data, size, "fuzz.json", err, sizeof err);
    if (!st) {
        fuzz_check_str(err, sizeof err, true);
        FUZZ_CHECK(strncmp(err, "fuzz.json: ", 11) == 0);
        return 0;
    }
    const struct servicetags_meta *meta = servicetags_meta(st);
    fuzz_check_str(meta->cloud, sizeof meta->cloud, true);
    FUZZ_CHECK(meta->tags == servicetags_count(st) && !meta->builtin);
    size_t total = 0;
    for (size_t i = 0; i < servicetags_count(st); i++) {
        check_tag(st, servicetags_at(st, i));
        total += servicetags_at(st, i)->nprefixes;
    }
    FUZZ_CHECK(total == meta->prefixes4);
    servicetags_free(st);
    return 0;
}
