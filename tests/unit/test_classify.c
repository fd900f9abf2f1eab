/* Unit tests: probe/classify.c (outcome classification from hand-built transfer results). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "probe/classify.h"

#define HOST "acct1.blob.core.windows.net"

static void base(struct http_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->remote_ip, sizeof r->remote_ip, "20.60.1.2");
    snprintf(r->local_ip, sizeof r->local_ip, "10.0.1.4");
}

/* TCP connected, TLS verified. */
static void tls_ok(struct http_result *r)
{
    base(r);
    r->tcp_connected = true;
    r->tls_sent = r->tls_received = r->tls_done = true;
    r->header_sent = true;
    snprintf(r->tls_issuer, sizeof r->tls_issuer, "CN=Microsoft Azure RSA TLS Issuing CA 03");
    snprintf(r->tls_subject, sizeof r->tls_subject, "CN=*.blob.core.windows.net");
}

static void storage(const struct http_result *r, struct net_layers *l)
{
    memset(l, 0x5a, sizeof *l);
    classify_storage(r, HOST, NULL, 443, l);
}

static void test_storage_ok(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    tls_ok(&r);
    r.connect_ms = 12;
    r.status = 400;
    snprintf(r.request_id, sizeof r.request_id, "6a3c1f2e-001e-0042-5b1a-0c7b3e000000");
    snprintf(r.server, sizeof r.server, "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0");
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_OK);
    assert_int_equal(l.tls.outcome, OUT_OK);
    assert_int_equal(l.http.outcome, OUT_OK);
    assert_non_null(strstr(l.tcp.summary, "20.60.1.2:443"));
    assert_non_null(strstr(l.tls.summary, "Microsoft Azure RSA TLS Issuing CA 03"));
    assert_non_null(strstr(l.http.summary, "6a3c1f2e-001e-0042-5b1a-0c7b3e000000"));
    assert_non_null(strstr(l.http.summary, "400"));
}

static void test_storage_refused(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    base(&r);
    r.curl_code = CURLE_COULDNT_CONNECT;
    r.os_errno = ECONNREFUSED;
    snprintf(r.curl_error, sizeof r.curl_error, "Failed to connect to " HOST " port 443: Connection refused");
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_REFUSED);
    assert_int_equal(l.tls.outcome, OUT_SKIPPED);
    assert_int_equal(l.http.outcome, OUT_SKIPPED);
    assert_non_null(strstr(l.tcp.summary, "refused"));
    assert_non_null(strstr(l.tcp.summary, "20.60.1.2:443"));
}

static void test_storage_unreachable(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    base(&r);
    r.curl_code = CURLE_COULDNT_CONNECT;
    r.os_errno = EHOSTUNREACH;
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_UNREACHABLE);
    assert_int_equal(l.tls.outcome, OUT_SKIPPED);
    assert_int_equal(l.http.outcome, OUT_SKIPPED);
    assert_non_null(strstr(l.tcp.summary, "unreachable"));

    base(&r);
    r.curl_code = CURLE_COULDNT_CONNECT;
    r.os_errno = ENETUNREACH;
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_UNREACHABLE);
    assert_int_equal(l.tls.outcome, OUT_SKIPPED);
    assert_non_null(strstr(l.tcp.summary, "no route"));
}

static void test_storage_tcp_timeout(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    base(&r);
    r.curl_code = CURLE_OPERATION_TIMEDOUT;
    snprintf(r.curl_error, sizeof r.curl_error, "Connection timed out after 5001 milliseconds");
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_TIMEOUT);
    assert_int_equal(l.tls.outcome, OUT_SKIPPED);
    assert_int_equal(l.http.outcome, OUT_SKIPPED);
    assert_non_null(strstr(l.tcp.summary, "timed out"));

    base(&r);
    r.curl_code = CURLE_COULDNT_CONNECT;
    r.os_errno = ETIMEDOUT;
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_TIMEOUT);

    base(&r);
    r.curl_code = CURLE_COULDNT_CONNECT;
    r.os_errno = 0;
    snprintf(r.curl_error, sizeof r.curl_error, "weird failure 42");
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_ERROR);
    assert_non_null(strstr(l.tcp.summary, "weird failure 42"));
}

static void test_storage_address_shown(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    base(&r);
    r.remote_ip[0] = '\0';
    r.os_errno = ECONNREFUSED;
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_REFUSED);
    assert_non_null(strstr(l.tcp.summary, HOST ":443"));

    memset(&l, 0x5a, sizeof l);
    classify_storage(&r, HOST, "20.60.9.9", 443, &l);
    assert_int_equal(l.tcp.outcome, OUT_REFUSED);
    assert_non_null(strstr(l.tcp.summary, "20.60.9.9:443"));
    assert_int_equal(l.tls.outcome, OUT_SKIPPED);

    memset(&l, 0x5a, sizeof l);
    classify_storage(&r, HOST, "", 443, &l);
    assert_non_null(strstr(l.tcp.summary, HOST ":443"));

    snprintf(r.remote_ip, sizeof r.remote_ip, "20.60.1.2");
    memset(&l, 0x5a, sizeof l);
    classify_storage(&r, HOST, "20.60.9.9", 443, &l);
    assert_non_null(strstr(l.tcp.summary, "20.60.1.2:443"));
}

static void test_tls_untrusted(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    base(&r);
    r.tcp_connected = true;
    r.tls_sent = r.tls_received = true;
    r.curl_code = CURLE_PEER_FAILED_VERIFICATION;
    snprintf(r.curl_error, sizeof r.curl_error, "SSL certificate problem: unable to get local issuer certificate");
    snprintf(r.tls_issuer, sizeof r.tls_issuer, "CN=Contoso TLS Inspection CA");
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_OK);
    assert_int_equal(l.tls.outcome, OUT_UNTRUSTED);
    assert_int_equal(l.http.outcome, OUT_SKIPPED);
    assert_non_null(strstr(l.tls.summary, "Contoso"));
    assert_non_null(strstr(l.tls.summary, "--cacert"));
}

static void test_tls_hostname_mismatch(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    base(&r);
    r.tcp_connected = true;
    r.tls_sent = r.tls_received = true;
    r.curl_code = CURLE_PEER_FAILED_VERIFICATION;
    snprintf(r.curl_error, sizeof r.curl_error,
             "SSL: no alternative certificate subject name matches target host name '" HOST "'");
    snprintf(r.tls_issuer, sizeof r.tls_issuer, "CN=Fortinet Web Filter");
    storage(&r, &l);
    assert_int_equal(l.tls.outcome, OUT_HOSTNAME_MISMATCH);
    assert_int_equal(l.http.outcome, OUT_SKIPPED);
    assert_non_null(strstr(l.tls.summary, HOST));
    assert_non_null(strstr(l.tls.summary, "Fortinet Web Filter"));
}

static void test_tls_reset_after_hello(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    base(&r);
    r.tcp_connected = true;
    r.tls_sent = true;
    r.curl_code = CURLE_SSL_CONNECT_ERROR;
    r.os_errno = ECONNRESET;
    snprintf(r.curl_error, sizeof r.curl_error, "OpenSSL SSL_connect: Connection reset by peer in connection to " HOST ":443");
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_OK);
    assert_int_equal(l.tls.outcome, OUT_RESET_AFTER_HELLO);
    assert_int_equal(l.http.outcome, OUT_SKIPPED);
    assert_non_null(strstr(l.tls.summary, HOST));
}

static void test_tls_other_failures(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    /* The server answered with TLS records but the handshake failed: not a reset. */
    base(&r);
    r.tcp_connected = true;
    r.tls_sent = r.tls_received = true;
    r.curl_code = CURLE_SSL_CONNECT_ERROR;
    snprintf(r.curl_error, sizeof r.curl_error, "error:0A000102:SSL routines::unsupported protocol");
    storage(&r, &l);
    assert_int_equal(l.tls.outcome, OUT_ERROR);
    assert_int_equal(l.http.outcome, OUT_SKIPPED);
    assert_non_null(strstr(l.tls.summary, "unsupported protocol"));

    base(&r);
    r.tcp_connected = true;
    r.tls_sent = true;
    r.curl_code = CURLE_OPERATION_TIMEDOUT;
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_OK);
    assert_int_equal(l.tls.outcome, OUT_TIMEOUT);
    assert_int_equal(l.http.outcome, OUT_SKIPPED);
}

static void test_http_firewall_deny(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    char body[] = "HTTP  request from 10.0.1.4:50514 to " HOST ":443. Action: Deny. Reason: No rule matched. "
                  "Proceeding with default action.";
    tls_ok(&r);
    r.status = 470;
    r.body = body;
    r.body_len = strlen(body);
    storage(&r, &l);
    assert_int_equal(l.tcp.outcome, OUT_OK);
    assert_int_equal(l.tls.outcome, OUT_OK);
    assert_int_equal(l.http.outcome, OUT_FIREWALL_DENY);
    assert_non_null(strstr(l.http.summary, "470"));
    assert_non_null(strstr(l.http.summary, "Action: Deny. Reason: No rule matched"));
}

static void test_http_storage_firewall(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    tls_ok(&r);
    r.status = 403;
    snprintf(r.request_id, sizeof r.request_id, "req-1");
    snprintf(r.error_code, sizeof r.error_code, "AuthorizationFailure");
    storage(&r, &l);
    assert_int_equal(l.http.outcome, OUT_STORAGE_FIREWALL);
    assert_non_null(strstr(l.http.summary, "403"));

    /* The same status with another error code is Azure Storage answering. */
    tls_ok(&r);
    r.status = 403;
    snprintf(r.request_id, sizeof r.request_id, "req-2");
    snprintf(r.error_code, sizeof r.error_code, "AuthenticationFailed");
    storage(&r, &l);
    assert_int_equal(l.http.outcome, OUT_OK);
}

static void test_http_not_azure(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    char body[] = "<html>Access to this site is blocked by corporate policy</html>";
    tls_ok(&r);
    r.status = 200;
    r.body = body;
    r.body_len = strlen(body);
    snprintf(r.server, sizeof r.server, "BlueCoat-ProxySG");
    storage(&r, &l);
    assert_int_equal(l.http.outcome, OUT_NOT_AZURE);
    assert_non_null(strstr(l.http.summary, "BlueCoat-ProxySG"));
    assert_non_null(strstr(l.http.summary, "200"));
}

static void test_http_no_response(void **state)
{
    (void)state;
    struct http_result r;
    struct net_layers l;
    tls_ok(&r);
    r.curl_code = CURLE_GOT_NOTHING;
    storage(&r, &l);
    assert_int_equal(l.tls.outcome, OUT_OK);
    assert_int_equal(l.http.outcome, OUT_RESET);

    tls_ok(&r);
    r.curl_code = CURLE_OPERATION_TIMEDOUT;
    storage(&r, &l);
    assert_int_equal(l.http.outcome, OUT_TIMEOUT);

    /* a status line then a stalled sender: the response never completed */
    tls_ok(&r);
    r.status = 200;
    r.curl_code = CURLE_OPERATION_TIMEDOUT;
    storage(&r, &l);
    assert_int_equal(l.http.outcome, OUT_TIMEOUT);
    assert_non_null(strstr(l.http.summary, "did not complete"));

    /* endless headers: we hung up on purpose */
    tls_ok(&r);
    r.status = 200;
    r.curl_code = CURLE_WRITE_ERROR;
    snprintf(r.curl_error, sizeof r.curl_error, "response headers exceeded 262144 bytes");
    storage(&r, &l);
    assert_int_equal(l.http.outcome, OUT_ERROR);
    assert_non_null(strstr(l.http.summary, "exceeded"));
}

/* ---- platform hosts ---- */

static void host(const struct http_result *r, enum host_kind kind, struct layer *out)
{
    memset(out, 0x5a, sizeof *out);
    classify_host(r, kind, "168.63.129.16", kind == HOST_HOSTGAPLUGIN ? 32526 : 80, out);
}

static void http_ok(struct http_result *r, long status, char *body)
{
    base(r);
    snprintf(r->remote_ip, sizeof r->remote_ip, "168.63.129.16");
    r->tcp_connected = true;
    r->header_sent = true;
    r->status = status;
    r->body = body;
    r->body_len = body ? strlen(body) : 0;
}

static void test_host_wireserver(void **state)
{
    (void)state;
    struct http_result r;
    struct layer l;
    char versions[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Versions><Preferred><Version>2015-04-05</Version>"
                      "</Preferred></Versions>";
    char other[] = "<html><body>It works!</body></html>";
    http_ok(&r, 200, versions);
    host(&r, HOST_WIRESERVER, &l);
    assert_int_equal(l.outcome, OUT_OK);
    assert_non_null(strstr(l.summary, "WireServer"));
    assert_non_null(strstr(l.summary, "168.63.129.16:80"));

    http_ok(&r, 200, other);
    host(&r, HOST_WIRESERVER, &l);
    assert_int_equal(l.outcome, OUT_BAD_BODY);

    http_ok(&r, 200, NULL);
    host(&r, HOST_WIRESERVER, &l);
    assert_int_equal(l.outcome, OUT_BAD_BODY);

    http_ok(&r, 503, versions);
    host(&r, HOST_WIRESERVER, &l);
    assert_int_equal(l.outcome, OUT_BAD_STATUS);
    assert_non_null(strstr(l.summary, "503"));

    base(&r);
    r.os_errno = ECONNREFUSED;
    host(&r, HOST_WIRESERVER, &l);
    assert_int_equal(l.outcome, OUT_REFUSED);

    http_ok(&r, 0, NULL);
    r.curl_code = CURLE_OPERATION_TIMEDOUT;
    host(&r, HOST_HOSTGAPLUGIN, &l);
    assert_int_equal(l.outcome, OUT_TIMEOUT);
    assert_non_null(strstr(l.summary, "HostGAPlugin"));
    assert_non_null(strstr(l.summary, "32526"));

    http_ok(&r, 0, NULL);
    r.curl_code = CURLE_GOT_NOTHING;
    host(&r, HOST_WIRESERVER, &l);
    assert_int_equal(l.outcome, OUT_RESET);
}

static void test_host_hostgaplugin_any_body(void **state)
{
    (void)state;
    struct http_result r;
    struct layer l;
    char body[] = "{\"status\":\"ok\"}";
    http_ok(&r, 200, body);
    host(&r, HOST_HOSTGAPLUGIN, &l);
    assert_int_equal(l.outcome, OUT_OK);
}

static void test_host_imds(void **state)
{
    (void)state;
    struct http_result r;
    struct layer l;
    char good[] = "{\"compute\":{\"location\":\"northeurope\"},\"network\":{}}";
    char bad[] = "{\"error\":\"Bad request. api-version is invalid\"}";
    http_ok(&r, 200, good);
    host(&r, HOST_IMDS, &l);
    assert_int_equal(l.outcome, OUT_OK);
    assert_non_null(strstr(l.summary, "IMDS"));

    http_ok(&r, 200, bad);
    host(&r, HOST_IMDS, &l);
    assert_int_equal(l.outcome, OUT_BAD_BODY);

    http_ok(&r, 400, bad);
    host(&r, HOST_IMDS, &l);
    assert_int_equal(l.outcome, OUT_BAD_STATUS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storage_ok),
        cmocka_unit_test(test_storage_refused),
        cmocka_unit_test(test_storage_unreachable),
        cmocka_unit_test(test_storage_tcp_timeout),
        cmocka_unit_test(test_storage_address_shown),
        cmocka_unit_test(test_tls_untrusted),
        cmocka_unit_test(test_tls_hostname_mismatch),
        cmocka_unit_test(test_tls_reset_after_hello),
        cmocka_unit_test(test_tls_other_failures),
        cmocka_unit_test(test_http_firewall_deny),
        cmocka_unit_test(test_http_storage_firewall),
        cmocka_unit_test(test_http_not_azure),
        cmocka_unit_test(test_http_no_response),
        cmocka_unit_test(test_host_wireserver),
        cmocka_unit_test(test_host_hostgaplugin_any_body),
        cmocka_unit_test(test_host_imds),
    };
    return cmocka_run_group_tests_name("classify", tests, NULL, NULL);
}
