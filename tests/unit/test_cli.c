/* Unit tests: probe/cli.c (option table, value parsers, cli_parse). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe/cli.h"

#define MAX_ARGS 64

/* Parse a NULL-terminated list of arguments (argv[0] is supplied). */
static int parse_list(struct config *cfg, char *err, size_t errlen, va_list ap)
{
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"azbprobe";
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(argc < MAX_ARGS);
        argv[argc++] = (char *)a;
    }
    argv[argc] = NULL;
    err[0] = '\0';
    return cli_parse(argc, argv, cfg, err, errlen);
}

static int parse(struct config *cfg, char *err, size_t errlen, ...)
{
    va_list ap;
    va_start(ap, errlen);
    int rc = parse_list(cfg, err, errlen, ap);
    va_end(ap);
    return rc;
}

/* The arguments must be rejected with status 2 and a one-line message containing `needle`. */
static void expect_error(const char *needle, ...)
{
    struct config cfg;
    char err[512];
    va_list ap;
    va_start(ap, needle);
    int rc = parse_list(&cfg, err, sizeof err, ap);
    va_end(ap);
    config_free(&cfg);
    if (rc != 2 || !strstr(err, needle) || strchr(err, '\n'))
        print_error("argument rejection: rc=%d err='%s' (want 2 and '%s')\n", rc, err, needle);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, needle));
    assert_null(strchr(err, '\n'));
}

static char tmpfile_path[64];

static int make_tmpfile(void **state)
{
    (void)state;
    snprintf(tmpfile_path, sizeof tmpfile_path, "/tmp/azbprobe-test-cli-XXXXXX");
    int fd = mkstemp(tmpfile_path);
    if (fd < 0)
        return -1;
    if (write(fd, "x\n", 2) != 2) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int remove_tmpfile(void **state)
{
    (void)state;
    unlink(tmpfile_path);
    return 0;
}

/* ---- defaults and good values ---- */

static void test_defaults(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, sizeof err, NULL), 0);
    assert_int_equal(cfg.timeout_ms, 5000);
    assert_int_equal(cfg.nports, 2);
    assert_int_equal(cfg.ports[0], 443);
    assert_int_equal(cfg.ports[1], 8443);
    assert_int_equal(cfg.format, FORMAT_TEXT);
    assert_string_equal(cfg.imds, "http://169.254.169.254");
    assert_string_equal(cfg.imds, DEFAULT_IMDS);
    assert_int_equal(cfg.parallel, 64);
    assert_string_equal(cfg.region, "");
    assert_string_equal(cfg.cloud, "");
    assert_string_equal(cfg.wireserver, "");
    assert_string_equal(cfg.root, "");
    assert_string_equal(cfg.output, "");
    assert_string_equal(cfg.cacert, "");
    assert_int_equal(cfg.ntargets, 0);
    assert_int_equal(cfg.naccounts, 0);
    assert_int_equal(cfg.ndns, 0);
    assert_int_equal(cfg.verbose, 0);
    assert_false(cfg.quiet);
    assert_false(cfg.help);
    assert_false(cfg.version);
    assert_false(cfg.list_regions);
    config_free(&cfg);
}

static void test_every_option(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    int rc = parse(&cfg, err, sizeof err, "--region", "westeurope", "--cloud", "AzureCloud",
                   "--target", "acct1.blob.core.windows.net", "--target", "10.1.2.3",
                   "--storage-account", "acct2", "--storage-account", "backup01",
                   "--dns-server", "10.0.0.4", "--dns-server", "[2001:db8::1]:5353",
                   "--wireserver", "10.9.8.7", "--imds-endpoint", "http://127.0.0.1:8080/",
                   "--cacert", tmpfile_path, "--timeout", "2.5", "--ports", "443,8443,9000",
                   "--format", "json", "--output", "/tmp/report.json", "--root", "/tmp/",
                   "--parallel", "8", "--list-regions", "-v", "--verbose", "-q", "-h", "-V", NULL);
    if (rc)
        print_error("%s\n", err);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg.region, "westeurope");
    assert_string_equal(cfg.cloud, "AzureCloud");
    assert_int_equal(cfg.ntargets, 2);
    assert_string_equal(cfg.targets[0], "acct1.blob.core.windows.net");
    assert_string_equal(cfg.targets[1], "10.1.2.3");
    assert_int_equal(cfg.naccounts, 2);
    assert_string_equal(cfg.accounts[0], "acct2");
    assert_string_equal(cfg.accounts[1], "backup01");
    assert_int_equal(cfg.ndns, 2);
    assert_string_equal(cfg.dns[0].addr, "10.0.0.4");
    assert_int_equal(cfg.dns[0].port, 53);
    assert_string_equal(cfg.dns[1].addr, "2001:db8::1");
    assert_int_equal(cfg.dns[1].port, 5353);
    assert_string_equal(cfg.wireserver, "10.9.8.7");
    assert_string_equal(cfg.imds, "http://127.0.0.1:8080");
    assert_string_equal(cfg.cacert, tmpfile_path);
    assert_int_equal(cfg.timeout_ms, 2500);
    assert_int_equal(cfg.nports, 3);
    assert_int_equal(cfg.ports[0], 443);
    assert_int_equal(cfg.ports[1], 8443);
    assert_int_equal(cfg.ports[2], 9000);
    assert_int_equal(cfg.format, FORMAT_JSON);
    assert_string_equal(cfg.output, "/tmp/report.json");
    assert_string_equal(cfg.root, "/tmp");
    assert_int_equal(cfg.parallel, 8);
    assert_true(cfg.list_regions);
    assert_int_equal(cfg.verbose, 2);
    assert_true(cfg.quiet);
    assert_true(cfg.help);
    assert_true(cfg.version);
    config_free(&cfg);
    assert_int_equal(cfg.ntargets, 0);
    assert_int_equal(cfg.naccounts, 0);
}

static void test_equals_form_and_formats(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, sizeof err, "--format=markdown", "--timeout=0.5", NULL), 0);
    assert_int_equal(cfg.format, FORMAT_MARKDOWN);
    assert_int_equal(cfg.timeout_ms, 500);
    config_free(&cfg);
    assert_int_equal(parse(&cfg, err, sizeof err, "--format", "md", NULL), 0);
    assert_int_equal(cfg.format, FORMAT_MARKDOWN);
    config_free(&cfg);
    assert_int_equal(parse(&cfg, err, sizeof err, "--format", "json", "--format", "text", NULL), 0);
    assert_int_equal(cfg.format, FORMAT_TEXT);
    config_free(&cfg);
    assert_int_equal(parse(&cfg, err, sizeof err, "--root", "/", NULL), 0);
    assert_string_equal(cfg.root, ""); /* "/" is the live system: the same as no --root */
    config_free(&cfg);
}

static void test_region_case_insensitive(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, sizeof err, "--region", "NorthEurope", NULL), 0);
    assert_string_equal(cfg.region, "northeurope");
    config_free(&cfg);
    assert_int_equal(parse(&cfg, err, sizeof err, "--region", "NORTHEUROPE", NULL), 0);
    assert_string_equal(cfg.region, "northeurope");
    config_free(&cfg);
}

static void test_cloud_normalised(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, sizeof err, "--cloud", "azurechinacloud", NULL), 0);
    assert_string_equal(cfg.cloud, "AzureChinaCloud");
    config_free(&cfg);
    assert_int_equal(parse(&cfg, err, sizeof err, "--cloud", "AzurePublicCloud", NULL), 0);
    assert_string_equal(cfg.cloud, "AzureCloud");
    config_free(&cfg);
}

static void test_repeat_limits(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    char *argv[2 * (CFG_MAX_TARGETS + 1) + 1];
    char names[CFG_MAX_TARGETS + 1][16];
    int argc = 0;
    argv[argc++] = (char *)"azbprobe";
    for (int i = 0; i < CFG_MAX_TARGETS; i++) {
        snprintf(names[i], sizeof names[i], "acct%03d", i);
        argv[argc++] = (char *)"--storage-account";
        argv[argc++] = names[i];
    }
    assert_int_equal(cli_parse(argc, argv, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg.naccounts, CFG_MAX_TARGETS);
    assert_string_equal(cfg.accounts[CFG_MAX_TARGETS - 1], names[CFG_MAX_TARGETS - 1]);
    config_free(&cfg);

    snprintf(names[CFG_MAX_TARGETS], sizeof names[0], "acct999");
    argv[argc++] = (char *)"--storage-account";
    argv[argc++] = names[CFG_MAX_TARGETS];
    assert_int_equal(cli_parse(argc, argv, &cfg, err, sizeof err), 2);
    assert_non_null(strstr(err, "--storage-account"));
    config_free(&cfg);
    assert_int_equal(cfg.naccounts, 0);

    expect_error("--dns-server", "--dns-server", "10.0.0.1", "--dns-server", "10.0.0.2",
                 "--dns-server", "10.0.0.3", "--dns-server", "10.0.0.4", "--dns-server", "10.0.0.5",
                 "--dns-server", "10.0.0.6", "--dns-server", "10.0.0.7", "--dns-server", "10.0.0.8",
                 "--dns-server", "10.0.0.9", NULL);
}

/* ---- bad values ---- */

static void test_bad_timeout(void **state)
{
    (void)state;
    static const char *const bad[] = {"0", "-1", "abc", "1e9", "nan", "inf", "301", "", "5s", "0.0001", "-inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char needle[32];
        snprintf(needle, sizeof needle, "'%s'", bad[i]);
        expect_error(needle, "--timeout", bad[i], NULL);
        expect_error("--timeout", "--timeout", bad[i], NULL);
    }
}

static void test_bad_ports(void **state)
{
    (void)state;
    static const char *const bad[] = {"70000", "0", "443,,8443", "443,443", "a", "", "443,", ",443",
                                      "-1", "443;8443", "65536"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char needle[32];
        snprintf(needle, sizeof needle, "'%s'", bad[i]);
        expect_error(needle, "--ports", bad[i], NULL);
        expect_error("--ports", "--ports", bad[i], NULL);
    }
    expect_error("'1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17'", "--ports",
                 "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", NULL);
}

static void test_bad_region(void **state)
{
    (void)state;
    expect_error("'atlantis'", "--region", "atlantis", NULL);
    expect_error("--list-regions", "--region", "atlantis", NULL);
    expect_error("--region", "--region", "atlantis", NULL);
    expect_error("northeurope", "--region", "northeurop", NULL);
    expect_error("did you mean", "--region", "northeurop", NULL);
    expect_error("westeurope", "--region", "west europe", NULL);
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("'bogus'", "--cloud", "bogus", NULL);
    expect_error("--cloud", "--cloud", "bogus", NULL);
    expect_error("'bad host!'", "--target", "bad host!", NULL);
    expect_error("--target", "--target", "bad host!", NULL);
    expect_error("'UPPER'", "--storage-account", "UPPER", NULL);
    expect_error("--storage-account", "--storage-account", "UPPER", NULL);
    expect_error("'1.2.3.4:99999'", "--dns-server", "1.2.3.4:99999", NULL);
    expect_error("--dns-server", "--dns-server", "1.2.3.4:99999", NULL);
    expect_error("'::1'", "--wireserver", "::1", NULL);
    expect_error("--wireserver", "--wireserver", "::1", NULL);
    expect_error("'ftp://x'", "--imds-endpoint", "ftp://x", NULL);
    expect_error("--imds-endpoint", "--imds-endpoint", "ftp://x", NULL);
    expect_error("'http://'", "--imds-endpoint", "http://", NULL);
    expect_error("'xml'", "--format", "xml", NULL);
    expect_error("'0'", "--parallel", "0", NULL);
    expect_error("'1025'", "--parallel", "1025", NULL);
    expect_error("'4x'", "--parallel", "4x", NULL);
    expect_error("'/nonexistent/ca.pem'", "--cacert", "/nonexistent/ca.pem", NULL);
    expect_error("--output", "--output", "", NULL);
}

static void test_bad_root(void **state)
{
    (void)state;
    expect_error("'/nonexistent'", "--root", "/nonexistent", NULL);
    expect_error("--root", "--root", "/nonexistent", NULL);
    expect_error(tmpfile_path, "--root", tmpfile_path, NULL);
    expect_error("not a directory", "--root", tmpfile_path, NULL);
}

static void test_bad_syntax(void **state)
{
    (void)state;
    expect_error("--bogus", "--bogus", NULL);
    expect_error("--bogus", "--region", "northeurope", "--bogus", "3", NULL);
    expect_error("-x", "-x", NULL);
    expect_error("'-x'", "-xv", NULL); /* inside a group of short options */
    expect_error("--timeout", "--timeout", NULL);
    expect_error("--region", "--quiet", "--region", NULL);
    expect_error("'stray'", "stray", NULL);
    expect_error("'stray'", "--quiet", "stray", NULL);
}

/* A failed parse leaves no state behind for the next one. */
static void test_parse_again_after_error(void **state)
{
    (void)state;
    struct config cfg;
    char err[256];
    assert_int_equal(parse(&cfg, err, sizeof err, "--target", "a.example", "--bogus", NULL), 2);
    config_free(&cfg);
    assert_int_equal(parse(&cfg, err, sizeof err, "--region", "uksouth", NULL), 0);
    assert_string_equal(cfg.region, "uksouth");
    assert_int_equal(cfg.ntargets, 0);
    assert_int_equal(cfg.timeout_ms, 5000);
    config_free(&cfg);
    /* a group half read when the error struck */
    assert_int_equal(parse(&cfg, err, sizeof err, "-vZq", NULL), 2);
    config_free(&cfg);
    assert_int_equal(parse(&cfg, err, sizeof err, "--region", "uksouth", NULL), 0);
    assert_false(cfg.quiet);
    assert_int_equal(cfg.verbose, 0);
    config_free(&cfg);
    assert_int_equal(parse(&cfg, err, sizeof err, NULL), 0);
    config_free(&cfg);
}

/* ---- value parsers ---- */

static void test_parse_timeout(void **state)
{
    (void)state;
    long ms = -7;
    assert_true(cli_parse_timeout("0.5", &ms));
    assert_int_equal(ms, 500);
    assert_true(cli_parse_timeout("5", &ms));
    assert_int_equal(ms, 5000);
    assert_true(cli_parse_timeout("0.25", &ms));
    assert_int_equal(ms, 250);
    assert_true(cli_parse_timeout("1.0005", &ms));
    assert_int_equal(ms, 1001);
    assert_true(cli_parse_timeout("0.001", &ms));
    assert_int_equal(ms, 1);
    assert_true(cli_parse_timeout("300", &ms));
    assert_int_equal(ms, 300000);
    ms = -7;
    assert_false(cli_parse_timeout("300.1", &ms));
    assert_false(cli_parse_timeout("0", &ms));
    assert_false(cli_parse_timeout("0.0004", &ms));
    assert_false(cli_parse_timeout("nan", &ms));
    assert_false(cli_parse_timeout("1e9", &ms));
    assert_false(cli_parse_timeout("", &ms));
    assert_false(cli_parse_timeout("1.5.2", &ms));
    assert_int_equal(ms, -7);
}

static void test_parse_ports(void **state)
{
    (void)state;
    int ports[4];
    size_t n = 99;
    assert_true(cli_parse_ports("1,65535", ports, 4, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ports[0], 1);
    assert_int_equal(ports[1], 65535);
    assert_true(cli_parse_ports("443", ports, 4, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ports[0], 443);
    n = 99;
    assert_false(cli_parse_ports("1,2,3,4,5", ports, 4, &n));
    assert_false(cli_parse_ports("1,2,1", ports, 4, &n));
    assert_false(cli_parse_ports(" 443", ports, 4, &n));
    assert_false(cli_parse_ports("443 ", ports, 4, &n));
    assert_false(cli_parse_ports("99999999999999999999", ports, 4, &n));
    assert_int_equal(n, 99);
}

static void test_valid_hostname(void **state)
{
    (void)state;
    char label63[64], label64[65], long254[255];
    memset(label63, 'a', 63);
    label63[63] = '\0';
    memset(label64, 'a', 64);
    label64[64] = '\0';
    for (size_t i = 0; i < 254; i++)
        long254[i] = (i % 2) ? '.' : 'a';
    long254[253] = 'a';
    long254[254] = '\0';
    assert_true(cli_valid_hostname("acct1.blob.core.windows.net"));
    assert_true(cli_valid_hostname("example.com."));
    assert_true(cli_valid_hostname("a-b.example"));
    assert_true(cli_valid_hostname("10.0.0.1"));
    assert_true(cli_valid_hostname("2001:db8::1"));
    assert_true(cli_valid_hostname(label63));
    assert_false(cli_valid_hostname(label64));
    assert_false(cli_valid_hostname(long254));
    assert_false(cli_valid_hostname(""));
    assert_false(cli_valid_hostname("."));
    assert_false(cli_valid_hostname("bad host!"));
    assert_false(cli_valid_hostname("-a.example"));
    assert_false(cli_valid_hostname("a-.example"));
    assert_false(cli_valid_hostname("a.example-"));
    assert_false(cli_valid_hostname("foo-"));
    assert_false(cli_valid_hostname("a..example"));
    assert_false(cli_valid_hostname(".example"));
    assert_false(cli_valid_hostname("host/path"));
    assert_false(cli_valid_hostname("a:b"));
}

static void test_valid_account_ipv4(void **state)
{
    (void)state;
    assert_true(cli_valid_account("abc"));
    assert_true(cli_valid_account("abcdefghijklmnopqrstuvwx"));
    assert_true(cli_valid_account("backup2024"));
    assert_false(cli_valid_account("ab"));
    assert_false(cli_valid_account("abcdefghijklmnopqrstuvwxy"));
    assert_false(cli_valid_account("UPPER"));
    assert_false(cli_valid_account("with-dash"));
    assert_false(cli_valid_account("acct.blob"));
    assert_true(cli_valid_ipv4("168.63.129.16"));
    assert_false(cli_valid_ipv4("168.63.129"));
    assert_false(cli_valid_ipv4("::1"));
    assert_false(cli_valid_ipv4("256.1.1.1"));
}

static void test_option_table(void **state)
{
    (void)state;
    static const char *const want[] = {"region", "cloud", "target", "storage-account", "dns-server",
                                       "wireserver", "imds-endpoint", "proxy", "no-proxy", "cacert",
                                       "timeout", "ports", "interface", "no-dhcp", "nsg", "routes",
                                       "nic", "service-tags", "arm", "arm-endpoint",
                                       "format", "output", "root", "parallel", "list-regions",
                                       "verbose", "quiet", "help", "version"};
    size_t n = cli_option_count();
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t w = 0; w < n; w++) {
        bool found = false;
        for (size_t i = 0; i < n; i++)
            found = found || strcmp(cli_option_long(i), want[w]) == 0;
        assert_true(found);
    }
    assert_null(cli_option_long(n));

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    cli_usage(f);
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", cli_option_long(i));
        assert_non_null(strstr(buf, opt));
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_every_option, make_tmpfile, remove_tmpfile),
        cmocka_unit_test(test_equals_form_and_formats),
        cmocka_unit_test(test_region_case_insensitive),
        cmocka_unit_test(test_cloud_normalised),
        cmocka_unit_test(test_repeat_limits),
        cmocka_unit_test(test_bad_timeout),
        cmocka_unit_test(test_bad_ports),
        cmocka_unit_test(test_bad_region),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test_setup_teardown(test_bad_root, make_tmpfile, remove_tmpfile),
        cmocka_unit_test(test_bad_syntax),
        cmocka_unit_test(test_parse_again_after_error),
        cmocka_unit_test(test_parse_timeout),
        cmocka_unit_test(test_parse_ports),
        cmocka_unit_test(test_valid_hostname),
        cmocka_unit_test(test_valid_account_ipv4),
        cmocka_unit_test(test_option_table),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
