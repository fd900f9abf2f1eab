/* The pure parsers behind proxy discovery: a process environ, /etc/environment, systemd unit
 * text and waagent.conf as the guest agent and the backup extension each read it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/proxy.h"

#define PW "S3cretPw"

static struct proxy_config cfg; /* large: kept off the stack */

static int reset(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    return 0;
}

static void no_password_in_problems(void)
{
    for (size_t i = 0; i < cfg.nproblems; i++)
        if (strstr(cfg.problems[i].text, PW) || strstr(cfg.problems[i].where, PW))
            fail_msg("problem %zu leaks the password: %s", i, cfg.problems[i].text);
    if (strstr(cfg.waagent.vmb_error, PW))
        fail_msg("vmb_error leaks the password: %s", cfg.waagent.vmb_error);
}

/* The problem on this line, or NULL. */
static const struct proxy_problem *problem_at(int line)
{
    for (size_t i = 0; i < cfg.nproblems; i++)
        if (cfg.problems[i].line == line)
            return &cfg.problems[i];
    return NULL;
}

static void problem_says(int line, const char *text)
{
    const struct proxy_problem *p = problem_at(line);
    if (!p)
        fail_msg("no problem on line %d", line);
    if (!strstr(p->text, text))
        fail_msg("line %d: \"%s\" does not say \"%s\"", line, p->text, text);
}

/* ---- environ -------------------------------------------------------------------------------- */

static void test_environ(void **state)
{
    (void)state;
    static const char env[] = "PATH=/usr/bin\0https_proxy=http://u:" PW "@p:3128\0no_proxy=a,b\0"
                              "https_proxy=http://second:1\0=odd\0noequals\0HTTP_PROXY=http://up:8080";
    struct proxy_env e;
    memset(&e, 0, sizeof e);
    proxy_env_from_environ(env, sizeof env - 1, &e); /* the last entry has no terminating NUL */
    assert_string_equal(e.value[PV_HTTPS_LOWER], "http://u:" PW "@p:3128"); /* kept for use; first wins */
    assert_string_equal(e.value[PV_NO_LOWER], "a,b");
    assert_string_equal(e.value[PV_HTTP_UPPER], "http://up:8080");
    assert_string_equal(e.value[PV_HTTP_LOWER], "");
    assert_int_equal(e.line[PV_HTTPS_LOWER], 0);

    char *big = malloc(300000); /* an oversized no_proxy is cut at an entry boundary */
    assert_non_null(big);
    int n = snprintf(big, 300000, "no_proxy=");
    while (n < 299000)
        n += snprintf(big + n, (size_t)(300000 - n), "host%d.example,", n);
    memset(&e, 0, sizeof e);
    proxy_env_from_environ(big, (size_t)n, &e);
    size_t len = strlen(e.value[PV_NO_LOWER]);
    assert_true(len > 400 && len < PROXY_VALUE_MAX);
    assert_int_not_equal(e.value[PV_NO_LOWER][len - 1], ',');
    assert_memory_equal(e.value[PV_NO_LOWER], big + 9, len);
    assert_int_equal(big[9 + len], ',');
    free(big);
    proxy_env_from_environ(NULL, 0, &e); /* nothing to read */
}

/* ---- /etc/environment ----------------------------------------------------------------------- */

static void test_etc_environment(void **state)
{
    (void)state;
    static const char text[] =
        "# proxy for login sessions\r\n"                        /* 1 */
        "\r\n"                                                  /* 2 */
        "PATH=\"/usr/local/sbin:/usr/bin\"\r\n"                 /* 3 */
        "export https_proxy=\"http://user:" PW "@proxy.corp:3128\"\r\n" /* 4 */
        "  http_proxy='http://proxy.corp:3128'   # comment\n"   /* 5 */
        "no_proxy=168.63.129.16,169.254.169.254 # azure\n"     /* 6 */
        "HTTPS_PROXY = http://spaced:1\n"                       /* 7: malformed */
        "this line is junk http://user:" PW "@x:1\n"           /* 8: malformed, holds a password */
        "ALL_PROXY=\"http://unterminated:" PW "@x:1\n"          /* 9: malformed */
        "1BAD=x\n"                                              /* 10: malformed */
        "NO_PROXY=\"a#b\"\n"                                    /* 11: pam_env would cut it */
        "all_proxy=http://last";                                /* 12: no final newline */
    struct proxy_env *e = &cfg.env[PSRC_ETC_ENVIRONMENT];
    snprintf(e->where, sizeof e->where, "/etc/environment");
    proxy_env_from_file(text, sizeof text - 1, e, &cfg);
    assert_string_equal(e->value[PV_HTTPS_LOWER], "http://user:" PW "@proxy.corp:3128");
    assert_int_equal(e->line[PV_HTTPS_LOWER], 4);
    assert_string_equal(e->value[PV_HTTP_LOWER], "http://proxy.corp:3128");
    assert_int_equal(e->line[PV_HTTP_LOWER], 5);
    assert_string_equal(e->value[PV_NO_LOWER], "168.63.129.16,169.254.169.254");
    assert_int_equal(e->line[PV_NO_LOWER], 6);
    assert_string_equal(e->value[PV_HTTPS_UPPER], "");
    assert_string_equal(e->value[PV_ALL_UPPER], "");
    assert_string_equal(e->value[PV_NO_UPPER], "a#b");
    assert_string_equal(e->value[PV_ALL_LOWER], "http://last");
    assert_int_equal(e->line[PV_ALL_LOWER], 12);

    problem_says(7, "spaces around '='");
    problem_says(8, "not a KEY=VALUE line");
    problem_says(8, "http://user:***@x:1");
    problem_says(9, "unterminated quote");
    problem_says(10, "not a KEY=VALUE");
    problem_says(11, "pam_env cuts lines at '#'");
    assert_null(problem_at(1));
    assert_null(problem_at(4));
    assert_int_equal(cfg.nproblems, 5);
    for (size_t i = 0; i < cfg.nproblems; i++) {
        assert_int_equal(cfg.problems[i].source, PSRC_ETC_ENVIRONMENT);
        assert_string_equal(cfg.problems[i].where, "/etc/environment");
    }
    no_password_in_problems();
}

static void test_etc_environment_hostile(void **state)
{
    (void)state;
    size_t n = (1 << 20) + 100;
    char *text = malloc(n);
    assert_non_null(text);
    static const char head[] = "https_proxy=http://u:" PW "@";
    memcpy(text, head, sizeof head - 1);
    memset(text + sizeof head - 1, 'a', n - (sizeof head - 1)); /* a 1 MB line, no newline */
    struct proxy_env *e = &cfg.env[PSRC_ETC_ENVIRONMENT];
    proxy_env_from_file(text, n, e, &cfg);
    assert_int_equal(strlen(e->value[PV_HTTPS_LOWER]), PROXY_VALUE_MAX - 1);
    assert_int_equal(cfg.nproblems, 1);
    assert_non_null(strstr(cfg.problems[0].text, "longer than"));

    memset(&cfg, 0, sizeof cfg); /* binary bytes, NULs, a malformed 1 MB line */
    for (size_t i = 0; i < n; i++)
        text[i] = (char)(i * 7919 % 256);
    proxy_env_from_file(text, n, e, &cfg);
    assert_true(cfg.nproblems > 0 && cfg.nproblems <= PROXY_MAX_PROBLEMS);
    assert_string_equal(cfg.problems[PROXY_MAX_PROBLEMS - 1].text, "more problems were found and not listed");
    for (size_t i = 0; i < cfg.nproblems; i++)
        for (const char *q = cfg.problems[i].text; *q; q++)
            assert_true((unsigned char)*q >= 0x20 && *q != 0x7f);

    memset(&cfg, 0, sizeof cfg);
    memset(text, 'x', n);
    proxy_env_from_file(text, n, e, &cfg); /* one huge junk line: described, not quoted */
    assert_int_equal(cfg.nproblems, 1);
    assert_non_null(strstr(cfg.problems[0].text, "-byte line"));
    free(text);
}

/* ---- systemd units -------------------------------------------------------------------------- */

static void test_unit(void **state)
{
    (void)state;
    static const char text[] =
        "[Unit]\n"                                                                       /* 1 */
        "Environment=https_proxy=http://not-in-service:1\n"                              /* 2 */
        "[Service]\n"                                                                    /* 3 */
        "Environment=\"https_proxy=http://u:" PW "@p:3128\" NO_PROXY=168.63.129.16\n"   /* 4 */
        "Environment='http_proxy=http://p:3128' \"no_proxy=a, b\"\n"                   /* 5 */
        "EnvironmentFile=-/etc/default/walinuxagent\n"                                   /* 6 */
        "EnvironmentFile=/etc/proxy.env\n"                                               /* 7 */
        "Environment=ALL_PROXY=http://cont:1 \\\n"                                      /* 8 */
        "# a comment inside a continuation\n"                                            /* 9 */
        "  all_proxy=http://cont2:1\n"                                                   /* 10 */
        "Environment=bad-name=1 =x\n"                                                    /* 11 */
        "Environment=HTTPS_PROXY=http://u:p%40ss@h:1\n"                                  /* 12: systemd rejects */
        "Environment=HTTPS_PROXY=http://u:p%%40ss@h:1\n"                                 /* 13: %% is % */
        "Environment=\"unbalanced=x\n"                                                   /* 14 */
        "; comment\r\n"                                                                  /* 15 */
        "ExecStart=/usr/bin/python3 -u /usr/sbin/waagent -daemon\r\n"                    /* 16 */
        "[Install]\n"                                                                    /* 17 */
        "Environment=http_proxy=http://install-section:1\n";                             /* 18 */
    struct proxy_env *e = &cfg.env[PSRC_AGENT_UNIT];
    snprintf(e->where, sizeof e->where, "/lib/systemd/system/walinuxagent.service");
    char files[4][512];
    size_t n = proxy_env_from_unit(text, sizeof text - 1, e, files, 4, &cfg);
    assert_string_equal(e->value[PV_HTTPS_LOWER], "http://u:" PW "@p:3128");
    assert_int_equal(e->line[PV_HTTPS_LOWER], 4);
    assert_string_equal(e->value[PV_NO_UPPER], "168.63.129.16");
    assert_string_equal(e->value[PV_HTTP_LOWER], "http://p:3128");
    assert_int_equal(e->line[PV_HTTP_LOWER], 5);
    assert_string_equal(e->value[PV_NO_LOWER], "a, b");
    assert_string_equal(e->value[PV_ALL_UPPER], "http://cont:1");
    assert_string_equal(e->value[PV_ALL_LOWER], "http://cont2:1");
    assert_int_equal(e->line[PV_ALL_LOWER], 8);
    assert_string_equal(e->value[PV_HTTPS_UPPER], "http://u:p%40ss@h:1");
    assert_int_equal(e->line[PV_HTTPS_UPPER], 13);
    assert_int_equal(n, 2);
    assert_string_equal(files[0], "-/etc/default/walinuxagent");
    assert_string_equal(files[1], "/etc/proxy.env");

    problem_says(11, "bad-name=1");
    problem_says(12, "%4 is not a systemd specifier");
    problem_says(14, "unbalanced quote");
    assert_null(problem_at(2));
    assert_null(problem_at(18));
    for (size_t i = 0; i < cfg.nproblems; i++)
        assert_int_equal(cfg.problems[i].source, PSRC_AGENT_UNIT);
    no_password_in_problems();
}

static void test_unit_resets(void **state)
{
    (void)state;
    static const char text[] =
        "[Service]\n"
        "Environment=https_proxy=http://p:3128 no_proxy=x\n"
        "EnvironmentFile=/etc/a.env\n"
        "Environment=\n"                     /* forgets both variables */
        "EnvironmentFile=\n"                 /* forgets /etc/a.env and files from earlier units */
        "Environment=HTTP_PROXY=http://q:1\n"
        "EnvironmentFile=/etc/b.env\n"
        "EnvironmentFile=relative.env\n";
    struct proxy_env *e = &cfg.env[PSRC_AGENT_UNIT];
    char files[4][512];
    size_t n = proxy_env_from_unit(text, sizeof text - 1, e, files, 4, &cfg);
    assert_string_equal(e->value[PV_HTTPS_LOWER], "");
    assert_int_equal(e->line[PV_HTTPS_LOWER], 0);
    assert_string_equal(e->value[PV_NO_LOWER], "");
    assert_string_equal(e->value[PV_HTTP_UPPER], "http://q:1");
    assert_int_equal(n, 2);
    assert_string_equal(files[0], ""); /* the reset marker */
    assert_string_equal(files[1], "/etc/b.env");
    problem_says(8, "not absolute");

    char few[1][512]; /* more EnvironmentFile= than room: reported, never overrun */
    memset(&cfg, 0, sizeof cfg);
    static const char two[] = "[Service]\nEnvironmentFile=/a\nEnvironmentFile=/b\n";
    n = proxy_env_from_unit(two, sizeof two - 1, e, few, 1, &cfg);
    assert_int_equal(n, 1);
    assert_string_equal(few[0], "/a");
    problem_says(3, "too many");
}

static void test_unit_hostile(void **state)
{
    (void)state;
    size_t n = (1 << 20) + 64;
    char *text = malloc(n);
    assert_non_null(text);
    int k = snprintf(text, n, "[Service]\nEnvironment=https_proxy=http://u:%s@", PW);
    memset(text + k, 'a', n - (size_t)k); /* a 1 MB line without newline */
    struct proxy_env *e = &cfg.env[PSRC_AGENT_UNIT];
    char files[2][512];
    proxy_env_from_unit(text, n, e, files, 2, &cfg);
    assert_string_equal(e->value[PV_HTTPS_LOWER], "");
    problem_says(2, "longer than 8192 bytes");

    memset(&cfg, 0, sizeof cfg); /* a long continuation chain */
    size_t off = (size_t)snprintf(text, n, "[Service]\nEnvironment=");
    while (off + 4 < n)
        off += (size_t)snprintf(text + off, n - off, "a\\\n");
    proxy_env_from_unit(text, off, e, files, 2, &cfg);
    problem_says(2, "longer than");

    memset(&cfg, 0, sizeof cfg); /* NULs end lines, as for systemd */
    static const char nul[] = "[Service]\0Environment=https_proxy=http://p:1\0junk\xff\xfe";
    proxy_env_from_unit(nul, sizeof nul - 1, e, files, 2, &cfg);
    assert_string_equal(e->value[PV_HTTPS_LOWER], "http://p:1");
    assert_int_equal(e->line[PV_HTTPS_LOWER], 2);

    memset(&cfg, 0, sizeof cfg);
    memset(e, 0, sizeof *e); /* CR-only line ends (old Mac) are line ends too */
    static const char cr[] = "[Service]\rEnvironment=http_proxy=http://p:2\r";
    proxy_env_from_unit(cr, sizeof cr - 1, e, files, 2, &cfg);
    assert_string_equal(e->value[PV_HTTP_LOWER], "http://p:2");
    free(text);
}

/* ---- waagent.conf ----------------------------------------------------------------------------- */

static void parse_conf(const char *text, struct waagent_proxy *w)
{
    memset(w, 0, sizeof *w);
    snprintf(w->path, sizeof w->path, "/etc/waagent.conf");
    waagent_proxy_parse(text, strlen(text), w, &cfg);
}

static void test_waagent_documented(void **state)
{
    (void)state;
    struct waagent_proxy w;
    parse_conf("# HttpProxy.Host=commented\nOS.EnableFirewall=y\nHttpProxy.Host=10.0.0.5\nHttpProxy.Port=3128\n", &w);
    assert_true(w.present);
    assert_string_equal(w.path, "/etc/waagent.conf");
    assert_string_equal(w.host, "10.0.0.5");
    assert_int_equal(w.host_line, 3);
    assert_string_equal(w.port_raw, "3128");
    assert_int_equal(w.port, 3128);
    assert_int_equal(w.port_line, 4);
    assert_true(w.vmb_ok);
    assert_string_equal(w.vmb_host, "10.0.0.5");
    assert_true(w.vmb_port_set);
    assert_int_equal(cfg.nproblems, 0);
}

static void test_waagent_agent_quirks(void **state)
{
    (void)state;
    struct waagent_proxy w;
    parse_conf("HttpProxy.Host=\"proxy.corp\"   # the proxy\r\n"   /* 1 */
               "  HttpProxy.Port =  8080#comment\r\n"              /* 2 */
               "HttpProxy.Port=None\r\n"                           /* 3: unset again */
               "HttpProxy.Port=3128\r\n", &w);                     /* 4 */
    assert_string_equal(w.host, "proxy.corp");
    assert_int_equal(w.host_line, 1);
    assert_int_equal(w.port, 3128);
    assert_int_equal(w.port_line, 4);
    problem_says(3, "lines 2 and 3");
    problem_says(4, "lines 3 and 4: the guest agent uses line 4");

    memset(&cfg, 0, sizeof cfg); /* a quoted value before a CR keeps its closing quote */
    parse_conf("HttpProxy.Host=\"10.0.0.5\"\r\nHttpProxy.Port=abc\n", &w);
    assert_string_equal(w.host, "10.0.0.5\"");
    assert_int_equal(w.port, 0);
    assert_string_equal(w.port_raw, "abc");
    problem_says(1, "not a host name");
    problem_says(2, "not an integer: the guest agent ignores it and goes direct");

    memset(&cfg, 0, sizeof cfg);
    parse_conf("HttpProxy.Host=None\nHttpProxy.Port=99999\n", &w);
    assert_string_equal(w.host, "");
    assert_int_equal(w.host_line, 0);
    assert_int_equal(w.port, 0);
    problem_says(2, "not a TCP port");

    memset(&cfg, 0, sizeof cfg);
    parse_conf("HttpProxy.Host=http://10.0.0.5\nHttpProxy.Port=+3_128\n", &w); /* Python int() accepts it */
    assert_int_equal(w.port, 3128);
    problem_says(1, "is a URL");

    memset(&cfg, 0, sizeof cfg);
    parse_conf("HttpProxy.Host=10.0.0.5:3128\n", &w);
    problem_says(1, "includes a port");
}

static void test_waagent_backup_view(void **state)
{
    (void)state;
    struct waagent_proxy w;
    /* The documented configuration: the agent proxies, the extension (inverted rule) does not. */
    parse_conf("HttpProxy.Host=10.0.0.5\nHttpProxy.Port=3128\n", &w);
    assert_true(w.vmb_ok);
    assert_true(w.vmb_port_set);

    memset(&cfg, 0, sizeof cfg); /* spaces around '=': fine for the agent, fatal for the extension */
    parse_conf("Extensions.Enabled=y\nHttpProxy.Host = 10.0.0.5\nHttpProxy.Port=3128\n", &w);
    assert_string_equal(w.host, "10.0.0.5");
    assert_int_equal(w.port, 3128);
    assert_false(w.vmb_ok);
    assert_string_equal(w.vmb_host, "");
    assert_false(w.vmb_port_set);
    assert_non_null(strstr(w.vmb_error, "spaces around '='"));
    assert_non_null(strstr(w.vmb_error, "goes direct"));
    assert_non_null(strstr(w.vmb_error, "line 2"));
    problem_says(2, "backup extension");

    memset(&cfg, 0, sizeof cfg); /* an indented comment with '=' breaks it too; the agent skips it */
    parse_conf("HttpProxy.Host=10.0.0.5\n   # Note: x = y\n", &w);
    assert_string_equal(w.host, "10.0.0.5");
    assert_false(w.vmb_ok);
    assert_non_null(strstr(w.vmb_error, "first word without '='"));

    memset(&cfg, 0, sizeof cfg); /* Host only: the one case where the extension uses a proxy */
    parse_conf("HttpProxy.Host=\"10.0.0.5\"\r\n#HttpProxy.Port=3128\r\nHttpProxy.Port=None\r\n", &w);
    assert_true(w.vmb_ok);
    assert_string_equal(w.vmb_host, "10.0.0.5"); /* split() removed the CR first */
    assert_false(w.vmb_port_set);

    memset(&cfg, 0, sizeof cfg); /* no '#' cutting; an empty Port is still "set" */
    parse_conf("HttpProxy.Host=10.0.0.5#x\nHttpProxy.Port=\n", &w);
    assert_string_equal(w.vmb_host, "10.0.0.5#x");
    assert_true(w.vmb_port_set);
    assert_string_equal(w.host, "10.0.0.5");

    memset(&cfg, 0, sizeof cfg); /* the error quotes the line, redacted */
    parse_conf("HttpProxy.Host = http://u:" PW "@p\n", &w);
    assert_false(w.vmb_ok);
    no_password_in_problems();
}

static void test_waagent_hostile(void **state)
{
    (void)state;
    struct waagent_proxy w;
    size_t n = (1 << 20) + 10;
    char *text = malloc(n);
    assert_non_null(text);
    memcpy(text, "HttpProxy.Host=", 15);
    memset(text + 15, 'h', n - 15); /* a 1 MB value without newline */
    memset(&w, 0, sizeof w);
    waagent_proxy_parse(text, n, &w, &cfg);
    assert_int_equal(strlen(w.host), sizeof w.host - 1);
    assert_int_equal(strlen(w.vmb_host), sizeof w.vmb_host - 1);
    assert_true(cfg.nproblems >= 1);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)(i * 131 % 256);
    memset(&cfg, 0, sizeof cfg);
    waagent_proxy_parse(text, n, &w, &cfg); /* binary: no crash, bounded problems */
    assert_true(cfg.nproblems <= PROXY_MAX_PROBLEMS);
    waagent_proxy_parse(NULL, 0, &w, NULL);
    assert_true(w.present);
    assert_true(w.vmb_ok);
    assert_string_equal(w.host, "");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_environ, reset),
        cmocka_unit_test_setup(test_etc_environment, reset),
        cmocka_unit_test_setup(test_etc_environment_hostile, reset),
        cmocka_unit_test_setup(test_unit, reset),
        cmocka_unit_test_setup(test_unit_resets, reset),
        cmocka_unit_test_setup(test_unit_hostile, reset),
        cmocka_unit_test_setup(test_waagent_documented, reset),
        cmocka_unit_test_setup(test_waagent_agent_quirks, reset),
        cmocka_unit_test_setup(test_waagent_backup_view, reset),
        cmocka_unit_test_setup(test_waagent_hostile, reset),
    };
    return cmocka_run_group_tests_name("proxy_parse", tests, NULL, NULL);
}
