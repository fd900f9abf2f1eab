/* Proxy values as curl reads them, and redaction: the forms Azure users write, the mistakes they
 * make, and text built to leak a password. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "probe/proxy.h"

#define PW "S3cretPw"

static void ok(const char *value, struct proxy_url *u)
{
    char err[256] = "untouched";
    bool parsed = proxy_url_parse(value, u, err, sizeof err);
    if (!parsed)
        fail_msg("%s: %s", value, err);
    assert_string_equal(err, "");
}

static void bad(const char *value, const char *reason)
{
    struct proxy_url u;
    char err[256] = "";
    assert_false(proxy_url_parse(value, &u, err, sizeof err));
    if (!strstr(err, reason))
        fail_msg("%s: got \"%s\", want \"%s\"", value ? value : "(null)", err, reason);
    assert_string_equal(u.host, "");     /* nothing half-parsed is left */
    assert_string_equal(u.password, "");
}

static void test_accepts(void **state)
{
    (void)state;
    struct proxy_url u;
    ok("http://h:3128", &u);
    assert_string_equal(u.scheme, "http");
    assert_true(u.scheme_given);
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 3128);
    assert_false(u.has_credentials);
    assert_string_equal(u.redacted, "http://h:3128");

    ok("h:3128", &u);
    assert_false(u.scheme_given);
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 3128);

    ok("https://h", &u);
    assert_string_equal(u.scheme, "https");
    assert_int_equal(u.port, 0);
    assert_string_equal(u.redacted, "https://h");

    ok("HTTP://Proxy.Corp:8080/", &u);
    assert_string_equal(u.scheme, "http");
    assert_string_equal(u.host, "Proxy.Corp");
    assert_int_equal(u.port, 8080);

    ok("http://[2001:db8::1]:3128", &u);
    assert_string_equal(u.host, "2001:db8::1");
    assert_int_equal(u.port, 3128);
    assert_string_equal(u.redacted, "http://[2001:db8::1]:3128");

    ok("http://10.0.0.5:65535/some/path", &u);
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 65535);
}

static void test_credentials(void **state)
{
    (void)state;
    struct proxy_url u;
    ok("http://user:" PW "@h:8080", &u);
    assert_true(u.has_credentials);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.password, PW);
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 8080);
    assert_string_equal(u.redacted, "http://user:***@h:8080");

    ok("http://us%40er:p%3Aw%25x@h:1", &u); /* percent-encoded '@', ':' and '%' */
    assert_string_equal(u.user, "us@er");
    assert_string_equal(u.password, "p:w%x");
    assert_null(strstr(u.redacted, "p%3A"));

    ok("http://a@b:" PW "@h:3128", &u); /* the last '@' ends the userinfo */
    assert_string_equal(u.user, "a@b");
    assert_string_equal(u.password, PW);
    assert_string_equal(u.host, "h");
    assert_null(strstr(u.redacted, PW));

    ok("http://tokenonly@h:3128", &u); /* a lone user name may be a token: not shown */
    assert_true(u.has_credentials);
    assert_string_equal(u.user, "tokenonly");
    assert_string_equal(u.password, "");
    assert_string_equal(u.redacted, "http://***@h:3128");

    ok("user:" PW "@h:3128", &u);
    assert_false(u.scheme_given);
    assert_string_equal(u.password, PW);
    assert_string_equal(u.redacted, "http://user:***@h:3128");
}

static void test_rejects(void **state)
{
    (void)state;
    bad("http://:80", "no host");
    bad("ftp://x", "unsupported scheme ftp");
    bad("socks5://h:1080", "HTTP proxies only");
    bad("socks5h://h:1080", "HTTP proxies only");
    bad("http://h:0", "port 0");
    bad("http://h:99999", "above 65535");
    bad("http://h:65536", "above 65535");
    bad("http://h:abc", "not a number");
    bad("http://h:-1", "not a number");
    bad("http://2001:db8::1:3128", "needs brackets");
    bad("2001:db8::1", "needs brackets");
    bad("http://[2001:db8::1:3128", "closing ']'");
    bad("http://[not-v6]:3128", "not an IPv6 address");
    bad("http://[::1]x", "after the IPv6 address");
    bad("", "empty");
    bad(NULL, "empty");
    bad("http://h h:1", "space");
    bad(" http://h:1", "space");
    bad("http://h:1\r", "control");
    bad("http://h\x01:1", "control");
    bad("http://h:1\x7f", "control");
    bad("http:/h:1", "malformed scheme");
    bad("http://h,x:1", "no host name has");
    bad("http://u:p%00w@h:1", "password");
    bad("http://u%0a:p@h:1", "user name");
}

static void test_errors_never_hold_the_password(void **state)
{
    (void)state;
    const char *values[] = {"http://user:" PW "@h:abc", "http://user:" PW, "http://user:" PW "@:80",
                            "http://user:" PW "@2001:db8::1:1", "http://user:" PW "#x@h:1",
                            "ftp://user:" PW "@h", "socks5://user:" PW "@h"};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct proxy_url u;
        char err[256] = "";
        assert_false(proxy_url_parse(values[i], &u, err, sizeof err));
        assert_true(err[0] != '\0');
        if (strstr(err, PW))
            fail_msg("%s leaked into \"%s\"", values[i], err);
    }
    char small[8]; /* a short error buffer is cut, not overrun */
    struct proxy_url u;
    assert_false(proxy_url_parse("socks5://h", &u, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void redacts_to(const char *in, const char *want)
{
    char out[512];
    proxy_redact(in, out, sizeof out);
    assert_string_equal(out, want);
    char again[512]; /* redacting redacted text changes nothing */
    proxy_redact(out, again, sizeof again);
    assert_string_equal(again, out);
}

static void test_redact(void **state)
{
    (void)state;
    redacts_to("http://user:" PW "@p:3128", "http://user:***@p:3128");
    redacts_to("https_proxy=http://user:" PW "@p:3128 NO_PROXY=x", "https_proxy=http://user:***@p:3128 NO_PROXY=x");
    redacts_to("Environment=\"https_proxy=http://u:" PW "@p:3128\"", "Environment=\"https_proxy=http://u:***@p:3128\"");
    redacts_to("user:" PW "@p:3128", "user:***@p:3128");
    redacts_to("http_proxy=user:" PW "@p:3128", "http_proxy=user:***@p:3128");
    redacts_to("http://u:" PW "@x@p:1", "http://u:***@p:1");               /* '@' inside the password */
    redacts_to("http://u:S3cret Pw@p:1 tail", "http://u:***@p:1 tail");    /* a blank inside it */
    redacts_to("http://u:S3cret\"Pw@p:1", "http://u:***@p:1");             /* a quote inside it */
    redacts_to("http://user:" PW, "http://user:***");                       /* the '@' went missing */
    redacts_to("https_proxy=u:ab,c://" PW "@p:1", "https_proxy=u:***@p:1");  /* "://" inside it */
    redacts_to("https_proxy=u:a=b://" PW "@p:1", "https_proxy=u:***@p:1");
    redacts_to("https_proxy=http://" PW "@p:1", "https_proxy=http://***@p:1"); /* a lone user */
    redacts_to("https_proxy=" PW "@p:1", "https_proxy=***@p:1");
    redacts_to("x=http://u:a@b c\"d@p:1 y", "x=http://u:***@p:1 y");          /* '@' and blanks in it */
    redacts_to("x=http://u: S3cret@p:1", "x=http://u:***@p:1");                 /* a blank right after ':' */
    redacts_to("problem: \"junk u:" PW "@p\"", "problem: \"junk u:***@p\"");     /* "text:" is no userinfo */
    redacts_to("a=http://u:" PW "@p:1 b=http://v:" PW "@q:2", "a=http://u:***@p:1 b=http://v:***@q:2");
    redacts_to("http://user:" PW "/path", "http://user:***/path");
    redacts_to("no secret here: http://p:3128/ and [2001:db8::1]", "no secret here: http://p:3128/ and [2001:db8::1]");
    redacts_to("http://[2001:db8::1]:3128", "http://[2001:db8::1]:3128");
    redacts_to("HttpProxy.Port=abc (line 3)", "HttpProxy.Port=abc (line 3)");
    redacts_to("via http://p:3128; from x, or (http://q:8080).", "via http://p:3128; from x, or (http://q:8080).");
    redacts_to("", "");
}

static void test_redact_bounds(void **state)
{
    (void)state;
    char out[16];
    proxy_redact("http://user:" PW "@proxy.example:3128", out, sizeof out); /* cut after masking */
    assert_int_equal(strlen(out), sizeof out - 1);
    assert_null(strstr(out, "S3c"));
    assert_string_equal(out, "http://user:***");
    proxy_redact(NULL, out, sizeof out);
    assert_string_equal(out, "");
    out[0] = 'x';
    proxy_redact("abc", out, 0); /* nothing written */
    assert_int_equal(out[0], 'x');

    size_t n = 1 << 20;
    char *huge = malloc(n + 64);
    assert_non_null(huge);
    memset(huge, ':', n);
    memcpy(huge + n, "@h tail", sizeof("@h tail"));
    char big[256];
    proxy_redact(huge, big, sizeof big); /* one 1 MB token, colons everywhere: all userinfo */
    assert_string_equal(big, ":***@h tail");
    for (size_t i = 0; i < n; i += 2)
        huge[i] = ' ';
    proxy_redact(huge, big, sizeof big); /* half a million tokens */
    assert_true(strlen(big) > 0);
    free(huge);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(proxy_var_name(PV_HTTPS_LOWER), "https_proxy");
    assert_string_equal(proxy_var_name(PV_HTTP_UPPER), "HTTP_PROXY");
    assert_string_equal(proxy_var_name(PV_NO_UPPER), "NO_PROXY");
    assert_string_equal(proxy_source_name(PSRC_CLI), "command line");
    assert_string_equal(proxy_source_name(PSRC_ETC_ENVIRONMENT), "/etc/environment");
    assert_string_equal(proxy_source_name(PSRC_WAAGENT_CONF), "waagent.conf");
    assert_string_equal(proxy_source_name(PSRC_COUNT), "unknown source");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_errors_never_hold_the_password),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_redact_bounds),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("proxy_url", tests, NULL, NULL);
}
