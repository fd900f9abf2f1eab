/* Service tags (probe/diag/servicetags.c): a hand-made file, the built-in snapshot, hostile and
 * malformed JSON (each error names the JSON path), and the real ServiceTags downloads from
 * ../shared/data/servicetags when present (skipped otherwise: CI checkouts may not have them). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/diag/servicetags.h"
#include "probe/sysfile.h"

#define REAL_DIR "../shared/data/servicetags/"
#define REAL_PUBLIC REAL_DIR "ServiceTags_Public_20251109.json"

static uint32_t ip_of(const char *s)
{
    uint32_t ip = 0;
    assert_true(ip4_parse(s, &ip));
    return ip;
}

/* Looks up ip and compares the names with a NULL-terminated expectation, in order. */
static void expect_tags(const struct servicetags *st, const char *ip, const char *const *want)
{
    const char *got[SERVICETAGS_MAX_MATCHES];
    size_t n = servicetags_lookup(st, ip_of(ip), got, SERVICETAGS_MAX_MATCHES), k = 0;
    for (; want[k]; k++) {
        if (k >= n)
            fail_msg("%s: expected %s at position %zu, got only %zu tags", ip, want[k], k, n);
        if (strcmp(got[k], want[k]) != 0)
            fail_msg("%s: position %zu is %s, expected %s", ip, k, got[k], want[k]);
    }
    if (n != k)
        fail_msg("%s: %zu tags, expected %zu (extra: %s)", ip, n, k, got[k]);
}

/* A small file in the real layout: the same /28 in a regional and a global service tag, AzureCloud
 * above them, a second global tag sharing a prefix (the smaller tag wins), IPv6, host bits. */
static const char small_json[] =
    "{\"changeNumber\": 376, \"cloud\": \"Public\", \"values\": [\n"
    " {\"name\": \"AzureCloud\", \"id\": \"AzureCloud\", \"properties\": {\"changeNumber\": 9,"
    "  \"region\": \"\", \"regionId\": 0, \"platform\": \"Azure\", \"systemService\": \"\","
    "  \"addressPrefixes\": [\"13.64.0.0/11\", \"2603:1000::/24\"], \"networkFeatures\": null}},\n"
    " {\"name\": \"AzureCloud.northeurope\", \"id\": \"AzureCloud.northeurope\", \"properties\": {"
    "  \"changeNumber\": 4, \"region\": \"northeurope\", \"regionId\": 17, \"platform\": \"Azure\","
    "  \"systemService\": \"\", \"addressPrefixes\": [\"13.70.192.0/18\"], \"networkFeatures\": null}},\n"
    " {\"name\": \"Storage\", \"id\": \"Storage\", \"properties\": {\"changeNumber\": 30, \"region\": \"\","
    "  \"systemService\": \"AzureStorage\", \"addressPrefixes\": [\"13.70.208.16/28\", \"20.60.0.0/16\"]}},\n"
    " {\"name\": \"Storage.NorthEurope\", \"id\": \"Storage.NorthEurope\", \"properties\": {"
    "  \"changeNumber\": 28, \"region\": \"northeurope\", \"systemService\": \"AzureStorage\","
    "  \"addressPrefixes\": [\"13.70.208.16/28\", \"13.70.208.16/28\", \"2603:1020:5::/48\"]}},\n"
    " {\"name\": \"BigGlobal\", \"id\": \"BigGlobal\", \"properties\": {\"changeNumber\": 1,"
    "  \"region\": \"\", \"addressPrefixes\": [\"20.60.0.0/16\", \"40.0.0.0/8\"]}},\n"
    " {\"name\": \"HostBits\", \"id\": \"HostBits\", \"properties\": {\"changeNumber\": \"7\","
    "  \"region\": null, \"addressPrefixes\": [\"52.1.2.3/24\"]}}\n"
    "]}\n";

static struct servicetags *load_small(void)
{
    char err[512];
    struct servicetags *st = servicetags_load_buffer(small_json, strlen(small_json),
                                                     "ServiceTags_Public_20251109.json", err, sizeof err);
    if (!st)
        fail_msg("load: %s", err);
    return st;
}

static void test_small_lookup_order(void **state)
{
    (void)state;
    struct servicetags *st = load_small();
    expect_tags(st, "13.70.208.17",
                (const char *const[]){"Storage.NorthEurope", "Storage", "AzureCloud.northeurope",
                                      "AzureCloud", NULL});
    expect_tags(st, "13.70.208.32", (const char *const[]){"AzureCloud.northeurope", "AzureCloud", NULL});
    expect_tags(st, "13.64.0.1", (const char *const[]){"AzureCloud", NULL});
    /* Same /16 in two global tags: Storage covers fewer addresses than BigGlobal. */
    expect_tags(st, "20.60.1.1", (const char *const[]){"Storage", "BigGlobal", NULL});
    expect_tags(st, "52.1.2.200", (const char *const[]){"HostBits", NULL});
    expect_tags(st, "10.0.0.1", (const char *const[]){NULL});
    expect_tags(st, "255.255.255.255", (const char *const[]){NULL});

    struct servicetag_match m[8];
    assert_int_equal(servicetags_lookup_ex(st, ip_of("13.70.208.17"), m, 8), 4);
    assert_string_equal(m[0].tag->name, "Storage.NorthEurope");
    assert_int_equal(m[0].prefix.len, 28);
    assert_string_equal(m[0].tag->region, "northeurope");
    assert_string_equal(m[0].tag->system_service, "AzureStorage");
    assert_int_equal(m[0].tag->change_number, 28);
    assert_int_equal(m[2].prefix.len, 18);
    const char *one[1];
    assert_int_equal(servicetags_lookup(st, ip_of("13.70.208.17"), one, 1), 1);
    assert_string_equal(one[0], "Storage.NorthEurope");
    servicetags_free(st);
}

static void test_small_metadata_and_find(void **state)
{
    (void)state;
    struct servicetags *st = load_small();
    const struct servicetags_meta *m = servicetags_meta(st);
    assert_int_equal(m->change_number, 376);
    assert_string_equal(m->cloud, "Public");
    assert_string_equal(m->date, "20251109");
    assert_false(m->builtin);
    assert_int_equal(m->tags, 6);
    assert_int_equal(m->prefixes4, 8); /* the duplicate /28 counted once */
    assert_int_equal(m->prefixes6_skipped, 2);
    assert_int_equal(m->hostbits_fixed, 1);
    assert_int_equal(servicetags_count(st), 6);
    assert_null(servicetags_at(st, 6));

    const struct servicetag *t = servicetags_find(st, "storage.northeurope"); /* any case */
    assert_non_null(t);
    assert_string_equal(t->name, "Storage.NorthEurope");
    assert_int_equal(t->nprefixes, 1);
    assert_int_equal(t->skipped_v6, 1);
    assert_int_equal(t->addresses, 16);
    assert_null(servicetags_find(st, "Storage.WestEurope"));
    t = servicetags_find(st, "HostBits");
    assert_int_equal(t->change_number, 7); /* the Discovery API's string change numbers */
    assert_string_equal(t->region, "");
    assert_int_equal(t->prefixes[0].net, ip_of("52.1.2.0"));

    struct prefix4 p;
    assert_int_equal(servicetags_tag_contains(st, "AzureCloud", ip_of("13.70.208.17"), &p), 1);
    assert_int_equal(p.len, 11);
    assert_int_equal(servicetags_tag_contains(st, "Storage", ip_of("13.70.208.32"), &p), 0);
    assert_int_equal(servicetags_tag_contains(st, "NoSuchTag", ip_of("13.70.208.17"), &p), -1);
    assert_true(servicetags_memory(st) > 0);
    servicetags_free(st);
}

/* Each malformed input must fail with the message naming the place, and never crash. */
static void expect_error(const char *json, size_t len, const char *want)
{
    char err[512] = "unchanged";
    struct servicetags *st = servicetags_load_buffer(json, len, "t.json", err, sizeof err);
    if (st) {
        servicetags_free(st);
        fail_msg("accepted: %.80s", json);
    }
    if (!strstr(err, want))
        fail_msg("error \"%s\" lacks \"%s\"", err, want);
    assert_int_equal(strncmp(err, "t.json: ", 8), 0);
}

#define TAG(name, prefixes) "{\"name\": \"" name "\", \"properties\": {\"addressPrefixes\": [" prefixes "]}}"

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{", "truncated JSON"},
        {"{\"values\": [" TAG("A", "\"1.2.3.0/24\""), "truncated JSON"},
        {"[]", "not a JSON object"},
        {"42 ", "not a JSON object"},
        {"{\"values\": {}}", "values: not an array"},
        {"{\"values\": null}", "values: not an array"},
        {"{\"changeNumber\": 1}", "values: missing"},
        {"{\"values\": [1]}", "values[0]: not an object"},
        {"{\"values\": [{\"properties\": {\"addressPrefixes\": []}}]}", "values[0].name: missing or not a string"},
        {"{\"values\": [{\"name\": 5, \"properties\": {}}]}", "values[0].name: missing or not a string"},
        {"{\"values\": [{\"name\": \"\", \"properties\": {}}]}", "values[0].name: not a tag name"},
        {"{\"values\": [{\"name\": \"a b\", \"properties\": {}}]}", "values[0].name: not a tag name: \"a b\""},
        {"{\"values\": [{\"name\": \"a\\u0001\", \"properties\": {}}]}", "values[0].name: not a tag name"},
        {"{\"values\": [{\"name\": \"A\"}]}", "values[0].properties: missing or not an object"},
        {"{\"values\": [{\"name\": \"A\", \"properties\": []}]}", "values[0].properties: missing or not an object"},
        {"{\"values\": [{\"name\": \"A\", \"properties\": {}}]}",
         "values[0].properties.addressPrefixes: missing or not an array"},
        {"{\"values\": [" TAG("A", "") ", {\"name\": \"B\", \"properties\": {\"addressPrefixes\": \"1.2.3.4\"}}]}",
         "values[1].properties.addressPrefixes: missing or not an array"},
        {"{\"values\": [" TAG("A", "1") "]}", "values[0].properties.addressPrefixes[0]: not a string"},
        {"{\"values\": [" TAG("A", "\"1.2.3.0/24\", null") "]}",
         "values[0].properties.addressPrefixes[1]: not a string"},
        {"{\"values\": [" TAG("A", "") ", " TAG("B", "\"1.0.0.0/8\", \"2.0.0.0/8\", \"::/0\", \"10.0.0.0/33\"") "]}",
         "values[1].properties.addressPrefixes[3]: not a prefix: \"10.0.0.0/33\""},
        {"{\"values\": [" TAG("A", "\"300.1.1.1\"") "]}", "addressPrefixes[0]: not a prefix: \"300.1.1.1\""},
        {"{\"values\": [" TAG("A", "\"1.2.3.4/8\\u0000junk\"") "]}", "addressPrefixes[0]: not a prefix"},
        {"{\"values\": [{\"name\": \"A\", \"properties\": {\"changeNumber\": \"x\", \"addressPrefixes\": []}}]}",
         "values[0].properties.changeNumber: not a number"},
        {"{\"values\": [{\"name\": \"A\", \"properties\": {\"changeNumber\": -1, \"addressPrefixes\": []}}]}",
         "values[0].properties.changeNumber: out of range"},
        {"{\"changeNumber\": 1.5, \"values\": []}", "changeNumber: not a number"},
        {"{\"values\": [{\"name\": \"A\", \"properties\": {\"region\": 3, \"addressPrefixes\": []}}]}",
         "values[0].properties.region: not a string"},
        {"{\"cloud\": [], \"values\": []}", "cloud: not a string"},
        {"{\"cloud\": \"0123456789012345678901234567890123456789\", \"values\": []}", "cloud: unexpected characters"},
        {"{\"values\": [" TAG("Dup", "") ", " TAG("dup", "") "]}", "duplicate tag name"},
        {"{\"values\": []} x", "JSON syntax error at line 1, column"},
        {"{\"values\": [],}", "JSON syntax error"},
        {"{\"values\": [" TAG("A", "\"1.2.3.0/24\",") "]}", "JSON syntax error"},
        {"{\"values\":\n [\n  x]}", "JSON syntax error at line 3, column 3"},
        {"{\"values\": [" TAG("\xff\xfe", "") "]}", "JSON syntax error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].json, strlen(cases[i].json), cases[i].want);
    expect_error("", 0, "empty file");
    expect_error("{\"values\": []}\0{}", 17, "JSON syntax error");
    char err[64];
    assert_null(servicetags_load_buffer(NULL, 5, NULL, err, sizeof err));
    assert_null(servicetags_load_buffer("{", 1, "x", NULL, 0)); /* no error buffer: still safe */
}

static void test_deep_nesting(void **state)
{
    (void)state;
    enum { DEPTH = 5000 };
    char *json = malloc(2 * DEPTH + 32);
    size_t o = (size_t)snprintf(json, 32, "{\"values\": ");
    for (int i = 0; i < DEPTH; i++)
        json[o++] = '[';
    for (int i = 0; i < DEPTH; i++)
        json[o++] = ']';
    json[o++] = '}';
    expect_error(json, o, "nesting too deep");
    free(json);
}

/* Arrays past the limits fail cleanly; a large legal array loads. */
static void test_huge_arrays(void **state)
{
    (void)state;
    size_t n = SERVICETAGS_MAX_TAGS + 1, cap = 32 + n * 3;
    char *json = malloc(cap);
    size_t o = (size_t)snprintf(json, cap, "{\"values\": [");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(json + o, cap - o, i ? ",{}" : "{}");
    o += (size_t)snprintf(json + o, cap - o, "]}");
    expect_error(json, o, "values: 100001 tags, more than the limit of 100000");
    free(json);

    enum { NP = 200000 };
    cap = 64 + (size_t)NP * 20;
    json = malloc(cap);
    o = (size_t)snprintf(json, cap, "{\"values\": [{\"name\": \"Big\", \"properties\": {\"addressPrefixes\": [");
    for (uint32_t i = 0; i < NP; i++)
        o += (size_t)snprintf(json + o, cap - o, "%s\"%u.%u.%u.0/24\"", i ? "," : "", 1 + i / 65536,
                              i / 256 % 256, i % 256);
    o += (size_t)snprintf(json + o, cap - o, "]}}]}");
    char err[256];
    struct servicetags *st = servicetags_load_buffer(json, o, "big.json", err, sizeof err);
    if (!st)
        fail_msg("%s", err);
    assert_int_equal(servicetags_find(st, "Big")->nprefixes, NP);
    expect_tags(st, "2.3.4.5", (const char *const[]){"Big", NULL});
    servicetags_free(st);
    free(json);
}

static void test_load_file_errors(void **state)
{
    (void)state;
    char err[512];
    assert_null(servicetags_load_file("/nonexistent/ServiceTags_Public_20990101.json", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ServiceTags_Public_20990101.json: "));
    assert_null(servicetags_load_file("/", err, sizeof err));
    assert_non_null(strstr(err, "not a regular file"));
    char path[] = "/tmp/azb_st_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, small_json, 100), 100);
    close(fd);
    assert_null(servicetags_load_file(path, err, sizeof err));
    assert_non_null(strstr(err, "truncated JSON"));
    assert_non_null(strstr(err, path));
    unlink(path);
}

/* ---- The built-in snapshot -------------------------------------------------------------------- */

static struct servicetags *builtin(const char *cloud)
{
    char err[256];
    struct servicetags *st = servicetags_load_builtin(cloud, err, sizeof err);
    if (!st)
        fail_msg("builtin %s: %s", cloud ? cloud : "(default)", err);
    return st;
}

static void test_builtin_public(void **state)
{
    (void)state;
    struct servicetags *st = builtin(NULL);
    const struct servicetags_meta *m = servicetags_meta(st);
    assert_true(m->builtin);
    assert_string_equal(m->cloud, "Public");
    assert_int_equal(m->change_number, 376);
    assert_string_equal(m->date, "20251109");
    assert_non_null(strstr(m->source, "ServiceTags_Public_20251109.json"));
    /* 13.70.208.16/28 is a Storage.NorthEurope prefix in changeNumber 376. */
    expect_tags(st, "13.70.208.17",
                (const char *const[]){"Storage.NorthEurope", "Storage", "AzureCloud.northeurope",
                                      "AzureCloud", NULL});
    /* 13.69.228.128/25: AzureBackup.NorthEurope. */
    expect_tags(st, "13.69.228.130",
                (const char *const[]){"AzureBackup.NorthEurope", "AzureBackup", "AzureCloud.northeurope",
                                      "AzureCloud", NULL});
    expect_tags(st, "10.0.0.1", (const char *const[]){NULL});
    expect_tags(st, "192.168.1.1", (const char *const[]){NULL});
    expect_tags(st, "168.63.129.16", (const char *const[]){NULL});
    assert_non_null(servicetags_find(st, "AzureActiveDirectory"));
    assert_non_null(servicetags_find(st, "AzureResourceManager"));
    assert_null(servicetags_find(st, "Sql")); /* not a tag backup needs */
    assert_int_equal(servicetags_find(st, "Storage.NorthEurope")->nprefixes, 87); /* 90 with IPv6 */
    servicetags_free(st);
}

static void test_builtin_clouds(void **state)
{
    (void)state;
    static const char *const names[][2] = {
        {"AzurePublicCloud", "Public"}, {"azurecloud", "Public"}, {"AzureUSGovernmentCloud", "AzureGovernment"},
        {"AzureUSGovernment", "AzureGovernment"}, {"AzureGovernment", "AzureGovernment"},
        {"AzureChinaCloud", "China"}, {"china", "China"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct servicetags *st = builtin(names[i][0]);
        assert_string_equal(servicetags_meta(st)->cloud, names[i][1]);
        assert_non_null(servicetags_find(st, "Storage"));
        assert_non_null(servicetags_find(st, "AzureBackup"));
        servicetags_free(st);
    }
    struct servicetags *gov = builtin("AzureGovernment");
    assert_non_null(servicetags_find(gov, "Storage.USGovVirginia"));
    assert_int_equal(servicetags_meta(gov)->change_number, 402);
    servicetags_free(gov);
    char err[256];
    assert_null(servicetags_load_builtin("AzureGermanCloud", err, sizeof err));
    assert_non_null(strstr(err, "no snapshot for cloud \"AzureGermanCloud\""));
}

/* ---- The real downloads (optional) ------------------------------------------------------------ */

static void test_real_public(void **state)
{
    (void)state;
    if (access(REAL_PUBLIC, R_OK) != 0)
        skip();
    char err[512];
    struct servicetags *st = servicetags_load_file(REAL_PUBLIC, err, sizeof err);
    if (!st)
        fail_msg("%s", err);
    const struct servicetags_meta *m = servicetags_meta(st);
    assert_int_equal(m->change_number, 376);
    assert_string_equal(m->cloud, "Public");
    assert_string_equal(m->date, "20251109");
    assert_int_equal(m->tags, 3041);
    assert_int_equal(m->prefixes6_skipped, 24475);
    assert_true(m->prefixes4 <= 71348 && m->prefixes4 > 70000);
    assert_int_equal(servicetags_find(st, "Storage.NorthEurope")->nprefixes, 87); /* 90 with IPv6 */
    expect_tags(st, "13.70.208.17",
                (const char *const[]){"Storage.NorthEurope", "Storage", "AzureCloud.northeurope",
                                      "AzureCloud", NULL});
    expect_tags(st, "10.0.0.1", (const char *const[]){NULL});
    servicetags_free(st);
}

/* The snapshot must agree with the file it came from: for many addresses, the full file's answer
 * restricted to the snapshot's tags equals the snapshot's answer, in the same order. */
static void test_real_public_matches_builtin(void **state)
{
    (void)state;
    if (access(REAL_PUBLIC, R_OK) != 0)
        skip();
    char err[512];
    struct servicetags *full = servicetags_load_file(REAL_PUBLIC, err, sizeof err);
    struct servicetags *snap = builtin("Public");
    assert_non_null(full);
    uint32_t seed = 2463534242u;
    for (int q = 0; q < 50000; q++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        /* Half the probes inside a snapshot prefix, so matches are common. */
        uint32_t ip = seed;
        if (q % 2) {
            const struct servicetag *t = servicetags_at(snap, seed % servicetags_count(snap));
            if (t->nprefixes) {
                const struct prefix4 *p = &t->prefixes[seed % t->nprefixes];
                ip = p->net | ((seed * 2654435761u) & ~prefix4_mask(p->len));
            }
        }
        const char *a[SERVICETAGS_MAX_MATCHES], *b[SERVICETAGS_MAX_MATCHES];
        size_t na = servicetags_lookup(full, ip, a, SERVICETAGS_MAX_MATCHES), k = 0;
        size_t nb = servicetags_lookup(snap, ip, b, SERVICETAGS_MAX_MATCHES);
        for (size_t i = 0; i < na; i++) {
            if (!servicetags_find(snap, a[i]))
                continue;
            if (k >= nb || strcmp(a[i], b[k]) != 0)
                fail_msg("ip %08x: full file has %s where the snapshot has %s", ip, a[i], k < nb ? b[k] : "nothing");
            k++;
        }
        assert_int_equal(k, nb);
    }
    servicetags_free(full);
    servicetags_free(snap);
}

/* Cut the real file at many places: every prefix of it is an error, never a crash or a load. */
static void test_real_truncated(void **state)
{
    (void)state;
    if (access(REAL_DIR "ServiceTags_AzureGovernment_20260720.json", R_OK) != 0)
        skip();
    size_t len;
    char *buf = sysfile_read_abs(REAL_DIR "ServiceTags_AzureGovernment_20260720.json", 1 << 20, &len);
    assert_non_null(buf);
    char err[512];
    struct servicetags *st = servicetags_load_buffer(buf, len, "gov.json", err, sizeof err);
    if (!st)
        fail_msg("%s", err);
    assert_string_equal(servicetags_meta(st)->cloud, "AzureGovernment");
    servicetags_free(st);
    for (size_t cut = 1; cut < len - 2; cut += 1 + cut / 3) {
        st = servicetags_load_buffer(buf, cut, "gov.json", err, sizeof err);
        if (st)
            fail_msg("a cut at %zu loaded", cut);
        assert_true(strstr(err, "truncated JSON") || strstr(err, "JSON syntax error"));
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_lookup_order),
        cmocka_unit_test(test_small_metadata_and_find),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_huge_arrays),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_builtin_public),
        cmocka_unit_test(test_builtin_clouds),
        cmocka_unit_test(test_real_public),
        cmocka_unit_test(test_real_public_matches_builtin),
        cmocka_unit_test(test_real_truncated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
