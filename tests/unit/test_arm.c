/* Unit tests: the pure parts of probe/arm.c (live ARM blame source): token parsing, NIC choice by
 * MAC/IP, header and Retry-After parsing, poll-URL origin checks, error texts, token redaction.
 * The NIC documents are trimmed from tests/fixtures/azure-json/nic-show.json (flat) and its ARM
 * GET form (nested properties). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/arm.h"

#define TOKEN "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6ImF6YnAtdGVzdCJ9.FAKE-TOKEN-VALUE"
#define NICID "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-backup-demo/providers/" \
              "Microsoft.Network/networkInterfaces/"

static const char token_json[] =
    "{\"access_token\":\"" TOKEN "\",\"client_id\":\"be5947ed-3560-4afe-9504-59967a63f810\","
    "\"expires_in\":\"86399\",\"expires_on\":\"1767225599\",\"ext_expires_in\":\"86399\","
    "\"not_before\":\"1767139199\",\"refresh_token\":\"\",\"resource\":\"https://management.azure.com/\","
    "\"token_type\":\"Bearer\"}\n";

static const char vm_json[] =
    "{\"name\":\"vm-backup-01\",\"properties\":{\"networkProfile\":{\"networkInterfaces\":["
    "{\"id\":\"" NICID "vm-backup-01-nic2\",\"properties\":{\"primary\":false}},"
    "{\"id\":\"" NICID "vm-backup-01-nic\",\"properties\":{\"primary\":true}},"
    "{\"id\":\"" NICID "vm-backup-01-nic3\"}]}}}";

static const char nic_flat[] =
    "{\"id\":\"" NICID "vm-backup-01-nic\",\"macAddress\":\"00-0D-3A-4B-5C-6D\","
    "\"ipConfigurations\":[{\"name\":\"ipconfig1\",\"primary\":true,\"privateIPAddress\":\"10.0.1.4\"},"
    "{\"name\":\"ipconfig2\",\"privateIPAddress\":\"10.0.1.9\"}]}";

static const char nic_arm[] =
    "{\"id\":\"" NICID "vm-backup-01-nic\",\"name\":\"vm-backup-01-nic\",\"properties\":{"
    "\"MacAddress\":\"00-0D-3A-4B-5C-6D\",\"ipConfigurations\":[{\"name\":\"ipconfig1\",\"properties\":{"
    "\"primary\":true,\"privateIPAddress\":\"198.51.100.10\"}}]}}";

static void test_token(void **state)
{
    (void)state;
    char tok[4096], err[160];
    assert_int_equal(arm_parse_token(token_json, strlen(token_json), tok, sizeof tok, err, sizeof err), 0);
    assert_string_equal(tok, TOKEN);
    const char *bad[] = {"", "[]", "{\"access_token\":\"\"}", "{\"token_type\":\"Bearer\"}",
                         "{\"access_token\":\"" TOKEN "\",\"token_type\":\"PoP\"}",
                         "{\"access_token\":\"a b\"}", "{\"access_token\":\"" TOKEN "\"} x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(arm_parse_token(bad[i], strlen(bad[i]), tok, sizeof tok, err, sizeof err), -1);
        assert_string_equal(tok, "");
        assert_true(err[0] != '\0');
        assert_null(strstr(err, "FAKE-TOKEN"));
    }
    /* too long for the buffer: refused, never truncated */
    assert_int_equal(arm_parse_token(token_json, strlen(token_json), tok, 16, err, sizeof err), -1);
    assert_null(strstr(err, "eyJ0"));
}

static void test_vm_nic_ids(void **state)
{
    (void)state;
    char ids[4][ARM_ID_MAX];
    assert_int_equal(arm_vm_nic_ids(vm_json, strlen(vm_json), ids, 4), 3);
    assert_string_equal(ids[0], NICID "vm-backup-01-nic");    /* primary first */
    assert_string_equal(ids[1], NICID "vm-backup-01-nic2");
    assert_string_equal(ids[2], NICID "vm-backup-01-nic3");
    assert_int_equal(arm_vm_nic_ids(vm_json, strlen(vm_json), ids, 1), 1);
    assert_string_equal(ids[0], NICID "vm-backup-01-nic");
    const char *none = "{\"properties\":{}}";
    assert_int_equal(arm_vm_nic_ids(none, strlen(none), ids, 4), -1);
    assert_int_equal(arm_vm_nic_ids("{", 1, ids, 4), -1);
    /* ids that could smuggle a query or another host are skipped */
    const char *odd = "{\"properties\":{\"networkProfile\":{\"networkInterfaces\":[{\"id\":\"https://evil/x\"},"
                      "{\"id\":\"/subscriptions/a/b?c\"},{\"id\":\"/subscriptions/s/n i c\"},{\"id\":7}]}}}";
    assert_int_equal(arm_vm_nic_ids(odd, strlen(odd), ids, 4), 0);
}

static void test_nic_match(void **state)
{
    (void)state;
    assert_int_equal(arm_nic_match(nic_flat, strlen(nic_flat), "000D3A4B5C6D", ""), 2);
    assert_int_equal(arm_nic_match(nic_flat, strlen(nic_flat), "00:0d:3a:4b:5c:6d", "1.2.3.4"), 2);
    assert_int_equal(arm_nic_match(nic_flat, strlen(nic_flat), "000D3A000000", "10.0.1.9"), 1);
    assert_int_equal(arm_nic_match(nic_flat, strlen(nic_flat), "", "10.0.1.4"), 1);
    assert_int_equal(arm_nic_match(nic_flat, strlen(nic_flat), "000D3A000000", "10.0.1.5"), 0);
    assert_int_equal(arm_nic_match(nic_flat, strlen(nic_flat), "", ""), 0);
    assert_int_equal(arm_nic_match(nic_arm, strlen(nic_arm), "000d3a4b5c6d", ""), 2);   /* PascalCase key */
    assert_int_equal(arm_nic_match(nic_arm, strlen(nic_arm), "", "198.51.100.10"), 1);
    assert_int_equal(arm_nic_match(vm_json, strlen(vm_json), "000D3A4B5C6D", ""), -1);
    assert_int_equal(arm_nic_match("nope", 4, "000D3A4B5C6D", ""), -1);
}

static void test_mac_normalize(void **state)
{
    (void)state;
    char m[13];
    assert_true(arm_mac_normalize("00-0D-3A-4B-5C-6D", m));
    assert_string_equal(m, "000D3A4B5C6D");
    assert_true(arm_mac_normalize("00:0d:3a:4b:5c:6d", m));
    assert_string_equal(m, "000D3A4B5C6D");
    assert_false(arm_mac_normalize("00-0D-3A-4B-5C", m));
    assert_false(arm_mac_normalize("00-0D-3A-4B-5C-6D-7E", m));
    assert_false(arm_mac_normalize("zz0D3A4B5C6D", m));
    assert_false(arm_mac_normalize(NULL, m));
}

static void test_headers(void **state)
{
    (void)state;
    char v[256];
    const char *loc = "location: https://management.azure.test/subscriptions/s/providers/Microsoft.Network/"
                      "locations/northeurope/operationResults/abc?api-version=2024-05-01\r\n";
    assert_true(arm_header(loc, strlen(loc), "Location", v, sizeof v));
    assert_string_equal(v, "https://management.azure.test/subscriptions/s/providers/Microsoft.Network/"
                           "locations/northeurope/operationResults/abc?api-version=2024-05-01");
    const char *ra = "Retry-After:   10 \r\n";
    assert_true(arm_header(ra, strlen(ra), "retry-after", v, sizeof v));
    assert_string_equal(v, "10");
    assert_false(arm_header(ra, strlen(ra), "Retry", v, sizeof v));
    assert_false(arm_header(loc, strlen(loc), "Azure-AsyncOperation", v, sizeof v));
    char small[8];
    assert_true(arm_header(loc, strlen(loc), "Location", small, sizeof small));
    assert_string_equal(small, "https:/");
}

static void test_retry_after(void **state)
{
    (void)state;
    long now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
    assert_int_equal(arm_retry_after("1", now), 1);
    assert_int_equal(arm_retry_after(" 17", now), 17);
    assert_int_equal(arm_retry_after("0", now), 0);
    assert_int_equal(arm_retry_after("999999999", now), 86400);
    assert_int_equal(arm_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), 10);
    assert_int_equal(arm_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now), 0);   /* in the past */
    assert_int_equal(arm_retry_after("", now), -1);
    assert_int_equal(arm_retry_after(NULL, now), -1);
    assert_int_equal(arm_retry_after("-5", now), -1);
    assert_int_equal(arm_retry_after("5s", now), -1);
    assert_int_equal(arm_retry_after("soon", now), -1);
}

static void test_same_origin(void **state)
{
    (void)state;
    const char *ep = "https://management.azure.test";
    assert_true(arm_same_origin("https://management.azure.test/subscriptions/x?y=1", ep));
    assert_true(arm_same_origin("https://MANAGEMENT.azure.test:443/op", ep));
    assert_false(arm_same_origin("http://management.azure.test/op", ep));
    assert_false(arm_same_origin("https://management.azure.test:8443/op", ep));
    assert_false(arm_same_origin("https://management.azure.test.evil.example/op", ep));
    assert_false(arm_same_origin("https://evil.example@management.azure.test/op", ep));
    assert_false(arm_same_origin("/relative/op", ep));
    assert_false(arm_same_origin(NULL, ep));
}

static void test_error_body(void **state)
{
    (void)state;
    char code[96], msg[200];
    const char *arm = "{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"The client 'x' does not have "
                      "authorization to perform action\\n'" ARM_ACTION_NSG "'.\"}}";
    arm_error_body(arm, strlen(arm), code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "AuthorizationFailed");
    assert_non_null(strstr(msg, ARM_ACTION_NSG));
    assert_null(strchr(msg, '\n'));
    const char *imds = "{\"error\":\"invalid_request\",\"error_description\":\"Identity not found\"}";
    arm_error_body(imds, strlen(imds), code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "invalid_request");
    assert_string_equal(msg, "Identity not found");
    arm_error_body("<html>", 6, code, sizeof code, msg, sizeof msg);
    assert_string_equal(code, "");
    assert_string_equal(msg, "");
}

static void describe(enum arm_step step, enum arm_status st, long http, const char *code, long ra, char *out,
                     size_t size)
{
    struct arm_step_result s;
    memset(&s, 0, sizeof s);
    s.status = st;
    s.http_status = http;
    snprintf(s.error_code, sizeof s.error_code, "%s", code);
    arm_describe(step, &s, ra, "https://management.azure.test", out, size);
    assert_null(strchr(out, '\n'));
}

static void test_describe(void **state)
{
    (void)state;
    char t[768];
    describe(ARM_STEP_NSG, ARM_FORBIDDEN, 403, "AuthorizationFailed", -1, t, sizeof t);
    assert_non_null(strstr(t, ARM_ACTION_NSG));
    assert_non_null(strstr(t, ARM_ACTION_ROUTES));
    assert_non_null(strstr(t, "Network Contributor"));
    assert_non_null(strstr(t, "AuthorizationFailed"));
    describe(ARM_STEP_VM, ARM_FORBIDDEN, 403, "", -1, t, sizeof t);
    assert_non_null(strstr(t, "Reader"));
    assert_non_null(strstr(t, ARM_ACTION_ROUTES));
    describe(ARM_STEP_TOKEN, ARM_NO_IDENTITY, 400, "invalid_request", -1, t, sizeof t);
    assert_non_null(strstr(t, "no managed identity"));
    assert_non_null(strstr(t, ARM_ACTION_NSG));
    describe(ARM_STEP_ROUTES, ARM_THROTTLED, 429, "", 30, t, sizeof t);
    assert_non_null(strstr(t, "throttled"));
    assert_non_null(strstr(t, "Retry-After 30 s"));
    describe(ARM_STEP_ROUTES, ARM_THROTTLED, 429, "", -1, t, sizeof t);
    assert_null(strstr(t, "Retry-After"));
    describe(ARM_STEP_VM, ARM_UNAUTHORIZED, 401, "InvalidAuthenticationToken", -1, t, sizeof t);
    assert_non_null(strstr(t, "management.azure.test"));
    assert_non_null(strstr(t, "401"));
    describe(ARM_STEP_VM, ARM_NETWORK, 0, "", -1, t, sizeof t);
    assert_non_null(strstr(t, "AzureResourceManager"));
    describe(ARM_STEP_NSG, ARM_HTTP, 500, "InternalServerError", -1, t, sizeof t);
    assert_non_null(strstr(t, "HTTP 500"));
    /* small buffers truncate, never overflow */
    char tiny[16];
    describe(ARM_STEP_NSG, ARM_FORBIDDEN, 403, "AuthorizationFailed", -1, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 15);
    assert_string_equal(arm_step_name(ARM_STEP_ROUTES), "effective routes");
    assert_string_equal(arm_status_name(ARM_THROTTLED), "throttled");
}

static void test_redact(void **state)
{
    (void)state;
    char s[256];
    snprintf(s, sizeof s, "Authorization: Bearer %s; again %s.", TOKEN, TOKEN);
    assert_int_equal(arm_redact(s, sizeof s, TOKEN), 2);
    assert_string_equal(s, "Authorization: Bearer [redacted]; again [redacted].");
    snprintf(s, sizeof s, "x%sy", "abcdefgh");
    assert_int_equal(arm_redact(s, sizeof s, "abcdefgh"), 1);
    assert_string_equal(s, "x********y");                 /* shorter than the mark: starred */
    snprintf(s, sizeof s, "nothing here");
    assert_int_equal(arm_redact(s, sizeof s, TOKEN), 0);
    assert_int_equal(arm_redact(s, sizeof s, "short"), 0);
    assert_int_equal(arm_redact(s, sizeof s, NULL), 0);
    assert_string_equal(s, "nothing here");
}

/* arm_fetch without the facts it needs does no I/O and says what is missing. */
static void test_fetch_refuses_without_facts(void **state)
{
    (void)state;
    struct arm_request req;
    struct arm_result res;
    memset(&req, 0, sizeof req);
    snprintf(req.endpoint, sizeof req.endpoint, "https://management.azure.test");
    snprintf(req.imds_base, sizeof req.imds_base, "http://169.254.169.254");
    snprintf(req.subscription, sizeof req.subscription, "11111111-2222-3333-4444-555555555555");
    assert_int_equal(arm_fetch(&req, &res), ARM_NOT_RUN);
    assert_non_null(strstr(res.reason, "resource group"));
    assert_null(res.nsg_json);
    assert_int_equal(res.step[ARM_STEP_TOKEN].status, ARM_NOT_RUN);
    arm_result_free(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_vm_nic_ids),
        cmocka_unit_test(test_nic_match),
        cmocka_unit_test(test_mac_normalize),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_same_origin),
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_fetch_refuses_without_facts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
