/* waagent.conf read with the guest agent's own rules (probe/waagent_conf.c): the documented
 * syntax, each quirk of conf.py's load(), the getters' defaults, the known paths under a root,
 * and hostile text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/waagent_conf.h"

static struct waagent_conf conf;

static int reset(void **state)
{
    (void)state;
    memset(&conf, 0, sizeof conf);
    return 0;
}

static int release(void **state)
{
    (void)state;
    waagent_conf_free(&conf);
    return 0;
}

static void parse(const char *text)
{
    waagent_conf_free(&conf);
    assert_true(waagent_conf_parse(text, strlen(text), &conf));
}

static void test_documented(void **state)
{
    (void)state;
    parse("#\n# Azure Linux Agent\n#\nExtensions.Enabled=y\nProvisioning.Agent=auto\nOS.EnableFirewall=y\n"
          "OS.EnableFirewallPeriod=30\n#HttpProxy.Host=None\n");
    assert_int_equal(conf.count, 4);
    assert_int_equal(conf.lines, 8);
    assert_false(conf.empty);
    const struct waagent_entry *e = waagent_conf_entry(&conf, "Provisioning.Agent");
    assert_non_null(e);
    assert_string_equal(e->value, "auto");
    assert_int_equal(e->line, 5);
    assert_int_equal(e->prev_line, 0);
    assert_true(waagent_conf_bool(&conf, "Extensions.Enabled", false));
    assert_true(waagent_conf_bool(&conf, "OS.EnableFirewall", false));
    assert_int_equal(waagent_conf_int(&conf, "OS.EnableFirewallPeriod", 300), 30);
    assert_null(waagent_conf_entry(&conf, "HttpProxy.Host")); /* commented out */
    assert_string_equal(waagent_conf_str(&conf, "Lib.Dir", "/var/lib/waagent"), "/var/lib/waagent");
}

static void test_agent_quirks(void **state)
{
    (void)state;
    parse("  Extensions.Enabled = \"n\"   # a comment\r\n"       /* 1: key and value stripped, cut at '#' */
          "   # Note: x = y\n"                                    /* 2: indented '#': an assignment! */
          "Lib.Dir=\"/data/waagent\"\r\n"                         /* 3: a quote before CR survives */
          "HttpProxy.Host=a=b\n"                                  /* 4: split on the first '=' only */
          "no equals sign here\n"                                 /* 5: skipped */
          "#Extensions.Enabled=y\n"                               /* 6: a comment */
          "AutoUpdate.Enabled=None\n"                             /* 7: None is unset */
          "OS.EnableFirewallPeriod= 4_5 \n"                       /* 8: Python int() accepts 4_5 */
          "Logs.Verbose=\n");                                     /* 9: empty, not unset */
    assert_false(waagent_conf_bool(&conf, "Extensions.Enabled", true));
    const struct waagent_entry *odd = waagent_conf_entry(&conf, "# Note: x");
    assert_non_null(odd);
    assert_string_equal(odd->value, "y");
    assert_int_equal(odd->line, 2);
    assert_string_equal(waagent_conf_str(&conf, "Lib.Dir", "/var/lib/waagent"), "/data/waagent\"");
    assert_string_equal(waagent_conf_str(&conf, "HttpProxy.Host", NULL), "a=b");
    const struct waagent_entry *au = waagent_conf_entry(&conf, "AutoUpdate.Enabled");
    assert_non_null(au);
    assert_true(au->none);
    assert_string_equal(au->value, "");
    assert_null(waagent_conf_str(&conf, "AutoUpdate.Enabled", NULL));
    assert_false(waagent_conf_bool(&conf, "AutoUpdate.Enabled", false)); /* None -> the default */
    assert_int_equal(waagent_conf_int(&conf, "OS.EnableFirewallPeriod", 30), 45);
    assert_string_equal(waagent_conf_str(&conf, "Logs.Verbose", "x"), "");
    assert_true(waagent_conf_bool(&conf, "Logs.Verbose", true)); /* "" is neither y nor n */
    assert_null(waagent_conf_entry(&conf, "no equals sign here"));
}

static void test_duplicates_last_wins(void **state)
{
    (void)state;
    parse("Extensions.Enabled=n\nOS.EnableFirewall=y\nExtensions.Enabled=None\nExtensions.Enabled=Y\n");
    const struct waagent_entry *e = waagent_conf_entry(&conf, "Extensions.Enabled");
    assert_non_null(e);
    assert_int_equal(e->line, 4);
    assert_int_equal(e->prev_line, 3); /* the None on line 3 was an assignment too */
    assert_int_equal(conf.entries[2].prev_line, 1);
    assert_int_equal(conf.entries[1].prev_line, 0);
    assert_true(waagent_conf_bool(&conf, "Extensions.Enabled", false)); /* 'Y': case-insensitive */
}

static void test_switch_and_int_defaults(void **state)
{
    (void)state;
    parse("A=yes\nB=no\nC=N\nD=3128\nE=+8_0\nF=12a\nG=_1\nH=1__2\nI=-7\nJ= \nK=1_\n");
    assert_true(waagent_conf_bool(&conf, "A", true));  /* "yes" is not y: default */
    assert_false(waagent_conf_bool(&conf, "A", false));
    assert_true(waagent_conf_bool(&conf, "B", true));
    assert_false(waagent_conf_bool(&conf, "C", true));
    assert_int_equal(waagent_conf_int(&conf, "D", 0), 3128);
    assert_int_equal(waagent_conf_int(&conf, "E", 0), 80);
    assert_int_equal(waagent_conf_int(&conf, "F", -1), -1);
    assert_int_equal(waagent_conf_int(&conf, "G", -1), -1);
    assert_int_equal(waagent_conf_int(&conf, "H", -1), -1);
    assert_int_equal(waagent_conf_int(&conf, "I", 0), -7);
    assert_int_equal(waagent_conf_int(&conf, "J", 5), 5);
    assert_int_equal(waagent_conf_int(&conf, "K", 5), 5);
    assert_int_equal(waagent_conf_int(&conf, "missing", 6), 6);
    long v = 0;
    assert_true(waagent_python_int(" 12 ", &v));
    assert_int_equal(v, 12);
    assert_false(waagent_python_int("1 2", &v));
    assert_false(waagent_python_int("", &v));
}

static void test_empty_and_null(void **state)
{
    (void)state;
    parse("");
    assert_true(conf.empty); /* the agent refuses to start with an empty file */
    assert_int_equal(conf.count, 0);
    waagent_conf_free(&conf);
    assert_true(waagent_conf_parse(NULL, 0, &conf));
    assert_true(conf.empty);
    assert_true(waagent_conf_bool(&conf, "Extensions.Enabled", true));
    parse("\n\n# only comments\n");
    assert_false(conf.empty);
    assert_int_equal(conf.count, 0);
}

static void test_hostile(void **state)
{
    (void)state;
    size_t n = (1u << 20) + 10;
    char *text = malloc(n);
    assert_non_null(text);
    memcpy(text, "Lib.Dir=", 8);
    memset(text + 8, 'x', n - 8); /* a 1 MB value without a newline */
    waagent_conf_free(&conf);
    assert_true(waagent_conf_parse(text, n, &conf));
    assert_int_equal(conf.count, 1);
    assert_int_equal(conf.entries[0].value_len, n - 8);
    /* a NUL inside a key makes it a different key; inside a value it ends the C string */
    static const char nul[] = "Extensions.Enabled\0x=n\nHttpProxy.Host=ab\0cd\n";
    waagent_conf_free(&conf);
    assert_true(waagent_conf_parse(nul, sizeof nul - 1, &conf));
    assert_null(waagent_conf_entry(&conf, "Extensions.Enabled"));
    const struct waagent_entry *h = waagent_conf_entry(&conf, "HttpProxy.Host");
    assert_non_null(h);
    assert_string_equal(h->value, "ab");
    assert_int_equal(h->value_len, 5);
    for (size_t i = 0; i < n; i++) /* binary: every byte value, '=' and '\n' included */
        text[i] = (char)(i * 131 % 256);
    waagent_conf_free(&conf);
    assert_true(waagent_conf_parse(text, n, &conf));
    assert_true(conf.count <= WAAGENT_CONF_MAX_ENTRIES);
    assert_true(conf.count > 0);
    for (size_t i = 0; i < n; i++) /* more assignments than are kept */
        text[i] = (i % 4 == 3) ? '\n' : (i % 4 == 1) ? '=' : 'k';
    waagent_conf_free(&conf);
    assert_true(waagent_conf_parse(text, n, &conf));
    assert_int_equal(conf.count, WAAGENT_CONF_MAX_ENTRIES);
    assert_true(conf.dropped > 0);
    assert_int_equal(conf.count + conf.dropped, (size_t)conf.lines); /* every line "k=k" is one */
    assert_int_equal(waagent_conf_entry(&conf, "k")->line, WAAGENT_CONF_MAX_ENTRIES);
    free(text);
}

static void write_file(const char *root, const char *rel, const char *text)
{
    char path[512], cmd[600];
    snprintf(path, sizeof path, "%s%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_find_and_load(void **state)
{
    (void)state;
    char root[] = "/tmp/azbp-wconf-XXXXXX", path[256], cmd[128];
    assert_non_null(mkdtemp(root));
    assert_false(waagent_conf_find(root, path, sizeof path));
    assert_string_equal(path, "");
    waagent_conf_free(&conf);
    assert_false(waagent_conf_load(root, &conf));
    assert_false(conf.present);

    write_file(root, "/usr/local/etc/waagent.conf", "Extensions.Enabled=n\n"); /* FreeBSD: last resort */
    write_file(root, "/usr/share/oem/waagent.conf", "Extensions.Enabled=y\nLib.Dir=/oem\n"); /* CoreOS */
    assert_true(waagent_conf_find(root, path, sizeof path));
    assert_string_equal(path, "/usr/share/oem/waagent.conf");
    waagent_conf_free(&conf);
    assert_true(waagent_conf_load(root, &conf));
    assert_true(conf.present);
    assert_string_equal(conf.path, "/usr/share/oem/waagent.conf");
    assert_string_equal(waagent_conf_str(&conf, "Lib.Dir", ""), "/oem");

    write_file(root, "/etc/waagent.conf", "");
    assert_true(waagent_conf_find(root, path, sizeof path));
    assert_string_equal(path, "/etc/waagent.conf");
    waagent_conf_free(&conf);
    assert_true(waagent_conf_load(root, &conf));
    assert_true(conf.empty);

    snprintf(path, sizeof path, "%s/etc/waagent.conf", root); /* a directory is found, not readable */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    waagent_conf_free(&conf);
    assert_false(waagent_conf_load(root, &conf));
    assert_true(conf.present);
    assert_int_equal(conf.read_errno, EINVAL);
    assert_int_equal(conf.count, 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_documented, reset, release),
        cmocka_unit_test_setup_teardown(test_agent_quirks, reset, release),
        cmocka_unit_test_setup_teardown(test_duplicates_last_wins, reset, release),
        cmocka_unit_test_setup_teardown(test_switch_and_int_defaults, reset, release),
        cmocka_unit_test_setup_teardown(test_empty_and_null, reset, release),
        cmocka_unit_test_setup_teardown(test_hostile, reset, release),
        cmocka_unit_test_setup_teardown(test_find_and_load, reset, release),
    };
    return cmocka_run_group_tests_name("waagent_conf", tests, NULL, NULL);
}
