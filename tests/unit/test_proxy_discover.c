/* Proxy discovery over fake --root trees (tests/fixtures/proxy/<case>/, copied into a temporary
 * directory where the binary /proc files are added), then the decisions those trees lead to. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/proxy.h"

#define PW "S3cretPw" /* the password in the fixtures: it must never reach an output string */
#define BLOB "acct.blob.core.windows.net"

static struct proxy_config cfg;
static char root[64];

static void run(const char *cmd)
{
    assert_int_equal(system(cmd), 0);
}

/* A copy of a fixture tree; case_name NULL for an empty root. */
static void make_root(const char *case_name)
{
    snprintf(root, sizeof root, "/tmp/azbp-proxy-XXXXXX");
    assert_non_null(mkdtemp(root));
    if (case_name) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "cp -R tests/fixtures/proxy/%s/. '%s/'", case_name, root);
        run(cmd);
    }
}

static int remove_root(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    run(cmd);
    return 0;
}

static void write_bytes(const char *rel, const char *bytes, size_t n)
{
    char path[256], cmd[300];
    snprintf(path, sizeof path, "%s%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    run(cmd);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

#define WRITE(rel, lit) write_bytes(rel, lit, sizeof(lit) - 1) /* keeps embedded NULs */

/* A /proc with the agent's two processes and decoys; the -run-exthandlers one must be chosen. */
static void fake_proc(void)
{
    WRITE("/proc/4241/cmdline", "/usr/bin/python3\0-u\0/usr/sbin/waagent\0-daemon\0");
    WRITE("/proc/4241/environ", "LANG=C.UTF-8\0https_proxy=http://daemon-only:1\0");
    WRITE("/proc/4242/cmdline", "python3\0-u\0bin/WALinuxAgent-2.9.1.1-py3.8.egg\0-run-exthandlers\0");
    WRITE("/proc/4242/environ", "LANG=C.UTF-8\0PATH=/usr/sbin:/usr/bin\0https_proxy=http://backup:" PW
                                "@proxy.corp:3128\0no_proxy=localhost,168.63.129.16\0INVOCATION_ID=x");
    WRITE("/proc/5000/cmdline", "python3\0-u\0bin/WALinuxAgent-2.9.1.1-py3.8.egg\0-run-exthandlers\0");
    WRITE("/proc/5000/environ", "https_proxy=http://higher-pid:1\0");
    WRITE("/proc/99/cmdline", "python3\0/usr/sbin/waagent\0-show-configuration\0");
    WRITE("/proc/100/cmdline", "tail\0-f\0/var/log/waagent.log\0");
    WRITE("/proc/self/cmdline", "waagent\0-run-exthandlers\0");
    WRITE("/proc/4300/status", "no cmdline here");
}

static void no_password_anywhere(void)
{
    for (size_t i = 0; i < cfg.nproblems; i++)
        if (strstr(cfg.problems[i].text, PW) || strstr(cfg.problems[i].where, PW))
            fail_msg("problem %zu leaks the password: %s", i, cfg.problems[i].text);
    assert_null(strstr(cfg.waagent.vmb_error, PW));
    assert_null(strstr(cfg.agent_cmdline, PW));
    for (int s = 0; s < PSRC_COUNT; s++)
        assert_null(strstr(cfg.env[s].where, PW));
    const char *hosts[] = {BLOB, "example.com", "168.63.129.16", "blob.core.windows.net"};
    for (int c = 0; c < CONSUMER_COUNT; c++)
        for (size_t h = 0; h < sizeof hosts / sizeof hosts[0]; h++)
            for (int https = 0; https < 2; https++) {
                struct proxy_path p;
                proxy_decide(&cfg, (enum consumer)c, hosts[h], https, &p);
                if (strstr(p.why, PW) || strstr(p.proxy.redacted, PW))
                    fail_msg("%s to %s leaks the password: %s", consumer_name((enum consumer)c), hosts[h], p.why);
            }
}

static const struct proxy_problem *problem(const char *where, const char *text)
{
    for (size_t i = 0; i < cfg.nproblems; i++)
        if (strcmp(cfg.problems[i].where, where) == 0 && strstr(cfg.problems[i].text, text))
            return &cfg.problems[i];
    for (size_t i = 0; i < cfg.nproblems; i++)
        print_message("  problem: %s:%d %s\n", cfg.problems[i].where, cfg.problems[i].line, cfg.problems[i].text);
    fail_msg("no problem in %s saying \"%s\"", where, text);
    return NULL;
}

static struct proxy_path path(enum consumer c, const char *host, bool https)
{
    struct proxy_path p;
    proxy_decide(&cfg, c, host, https, &p);
    return p;
}

static void test_ubuntu(void **state)
{
    (void)state;
    make_root("ubuntu");
    fake_proc();
    char *shell[] = {"LANG=C", "TERM=xterm", NULL}; /* a shell without proxy variables */
    proxy_discover(root, shell, &cfg);

    const struct proxy_env *etc = &cfg.env[PSRC_ETC_ENVIRONMENT];
    assert_true(etc->present);
    assert_string_equal(etc->where, "/etc/environment");
    assert_string_equal(etc->value[PV_HTTP_LOWER], "http://proxy.corp:3128");
    assert_int_equal(etc->line[PV_HTTP_LOWER], 3);
    assert_string_equal(etc->value[PV_HTTPS_LOWER], "http://backup:" PW "@proxy.corp:3128");
    assert_int_equal(etc->line[PV_HTTPS_LOWER], 4);
    assert_string_equal(etc->value[PV_NO_LOWER], ""); /* line 5 has spaces around '=' */
    assert_int_equal(problem("/etc/environment", "spaces around '='")->line, 5);
    assert_int_equal(etc->line[PV_NO_UPPER], 6);

    const struct waagent_proxy *w = &cfg.waagent;
    assert_true(w->present);
    assert_string_equal(w->path, "/etc/waagent.conf");
    assert_string_equal(w->host, "10.0.0.5");
    assert_int_equal(w->host_line, 7);
    assert_string_equal(w->port_raw, "3128\""); /* the agent's strip order leaves it before the CR */
    assert_int_equal(w->port_line, 10);
    assert_int_equal(w->port, 0);
    assert_int_equal(problem("/etc/waagent.conf", "lines 8 and 10")->line, 10);
    assert_int_equal(problem("/etc/waagent.conf", "not an integer")->line, 10);
    assert_int_equal(problem("/etc/waagent.conf", "backup extension")->line, 7);
    assert_false(w->vmb_ok);
    assert_non_null(strstr(w->vmb_error, "line 7"));

    const struct proxy_env *unit = &cfg.env[PSRC_AGENT_UNIT];
    assert_true(unit->present);
    assert_string_equal(unit->value[PV_HTTPS_LOWER], "http://backup:" PW "@proxy.corp:3128"); /* later drop-in */
    assert_int_equal(unit->line[PV_HTTPS_LOWER], 3);
    assert_string_equal(unit->value[PV_ALL_UPPER], "http://all:1");
    assert_string_equal(unit->value[PV_HTTP_LOWER], "http://proxy.corp:3128");
    assert_string_equal(unit->value[PV_NO_LOWER], "localhost,168.63.129.16,169.254.169.254"); /* EnvironmentFile */
    assert_int_equal(unit->line[PV_NO_LOWER], 2);
    assert_string_equal(unit->where, "/lib/systemd/system/walinuxagent.service.d/10-cpu.conf, "
                                     "/etc/systemd/system/walinuxagent.service.d/http-proxy.conf, /etc/default/walinuxagent");

    const struct proxy_env *proc = &cfg.env[PSRC_AGENT_PROCESS];
    assert_int_equal(cfg.agent_pid, 4242);
    assert_string_equal(cfg.agent_cmdline, "python3 -u bin/WALinuxAgent-2.9.1.1-py3.8.egg -run-exthandlers");
    assert_true(proc->present);
    assert_string_equal(proc->where, "/proc/4242/environ");
    assert_string_equal(proc->value[PV_HTTPS_LOWER], "http://backup:" PW "@proxy.corp:3128");
    assert_string_equal(proc->value[PV_NO_LOWER], "localhost,168.63.129.16");

    assert_true(cfg.env[PSRC_SHELL].present);
    assert_string_equal(cfg.env[PSRC_SHELL].value[PV_HTTPS_LOWER], "");
    assert_int_equal(cfg.nproblems, 4);

    struct proxy_path p = path(CONSUMER_AGENT, BLOB, true); /* Host set, Port unusable: direct */
    assert_true(p.direct);
    assert_int_equal(p.source, PSRC_WAAGENT_CONF);
    assert_non_null(strstr(p.why, "(line 10) is not a usable port"));
    p = path(CONSUMER_BACKUP, BLOB, true); /* its parser failed on line 7 */
    assert_true(p.direct);
    assert_non_null(strstr(p.why, "spaces around '='"));
    p = path(CONSUMER_CLIENT, BLOB, true); /* /etc/environment's NO_PROXY has .core.windows.net */
    assert_true(p.direct);
    assert_int_equal(p.source, PSRC_ETC_ENVIRONMENT);
    assert_non_null(strstr(p.why, "NO_PROXY entry .core.windows.net"));
    p = path(CONSUMER_CLIENT, "example.com", true);
    assert_false(p.direct);
    assert_string_equal(p.proxy.redacted, "http://backup:***@proxy.corp:3128");
    assert_string_equal(p.proxy.password, PW);
    no_password_anywhere();
}

static void test_rhel(void **state)
{
    (void)state;
    make_root("rhel");
    WRITE("/proc/777/cmdline", "python3 -u /usr/sbin/waagent -run-exthandlers"); /* argv rewritten */
    char path777[128];
    snprintf(path777, sizeof path777, "%s/proc/777/environ", root);
    assert_int_equal(mkdir(path777, 0700), 0); /* unreadable as a file */
    proxy_discover(root, NULL, &cfg);

    assert_false(cfg.env[PSRC_SHELL].present);
    assert_false(cfg.env[PSRC_ETC_ENVIRONMENT].present);
    assert_int_equal(cfg.agent_pid, 777);
    assert_false(cfg.env[PSRC_AGENT_PROCESS].present);
    problem("/proc/777/environ", "cannot read the running agent's environment");
    const struct proxy_env *unit = &cfg.env[PSRC_AGENT_UNIT];
    assert_true(unit->present);
    assert_string_equal(unit->where, "/usr/lib/systemd/system/waagent.service");
    assert_string_equal(unit->value[PV_HTTPS_LOWER], ""); /* the drop-in is for the other name */
    assert_int_equal(problem("/etc/sysconfig/waagent-proxy", "systemd does not start the agent")->source,
                     PSRC_AGENT_UNIT);
    problem("/etc/systemd/system/walinuxagent.service.d/http-proxy.conf", "the agent's unit is waagent.service");

    assert_string_equal(cfg.waagent.host, "10.0.0.5");
    assert_int_equal(cfg.waagent.port, 3128);
    struct proxy_path p = path(CONSUMER_AGENT, BLOB, true);
    assert_false(p.direct);
    assert_string_equal(p.proxy.redacted, "http://10.0.0.5:3128");
    assert_non_null(strstr(p.why, "(lines 2, 3)"));
    p = path(CONSUMER_BACKUP, BLOB, true); /* the documented settings: the extension goes direct */
    assert_true(p.direct);
    assert_non_null(strstr(p.why, "Port is NOT set"));
    p = path(CONSUMER_CLIENT, BLOB, true);
    assert_true(p.direct);
    no_password_anywhere();
}

static void test_coreos(void **state)
{
    (void)state;
    make_root("coreos");
    proxy_discover(root, NULL, &cfg);
    assert_string_equal(cfg.waagent.path, "/usr/share/oem/waagent.conf");
    assert_false(cfg.env[PSRC_AGENT_UNIT].present);
    assert_int_equal(cfg.agent_pid, 0);
    assert_int_equal(cfg.nproblems, 0);
    struct proxy_path p = path(CONSUMER_BACKUP, BLOB, true); /* Host without Port: port 443 */
    assert_false(p.direct);
    assert_string_equal(p.proxy.redacted, "http://10.1.1.1:443");
    assert_non_null(strstr(p.why, "inverted rule"));
    p = path(CONSUMER_AGENT, BLOB, true); /* ...while the agent goes direct */
    assert_true(p.direct);
    assert_non_null(strstr(p.why, "without HttpProxy.Port"));
}

static void test_empty_root(void **state)
{
    (void)state;
    make_root(NULL);
    char *shell[] = {"https_proxy=http://shell:3128", NULL};
    proxy_discover(root, shell, &cfg);
    assert_true(cfg.env[PSRC_SHELL].present);
    assert_string_equal(cfg.env[PSRC_SHELL].where, "environment");
    for (int s = PSRC_ETC_ENVIRONMENT; s < PSRC_COUNT; s++)
        assert_false(cfg.env[s].present);
    assert_false(cfg.waagent.present);
    assert_int_equal(cfg.agent_pid, 0);
    assert_int_equal(cfg.nproblems, 0);
    for (int c = 0; c < CONSUMER_COUNT; c++) {
        struct proxy_path p = path((enum consumer)c, BLOB, true);
        assert_int_equal(p.direct, c != CONSUMER_CLIENT);
    }
}

static void test_hostile_proc_and_shell(void **state)
{
    (void)state;
    make_root(NULL);
    static char big[8192]; /* a shell value longer than proxy_env holds */
    int n = snprintf(big, sizeof big, "no_proxy=");
    while (n < 2000)
        n += snprintf(big + n, sizeof big - (size_t)n, "h%d.example,", n);
    char *shell[] = {big, NULL};
    char *huge = malloc(1 << 20);
    assert_non_null(huge);
    memset(huge, 'w', 1 << 20); /* a 1 MB cmdline and environ, without NULs */
    memcpy(huge, "waagent -daemon ", 16);
    write_bytes("/proc/1/cmdline", huge, 1 << 20);
    write_bytes("/proc/1/environ", huge, 1 << 20);
    proxy_discover(root, shell, &cfg);
    problem("environment", "no_proxy is longer than");
    assert_true(strlen(cfg.env[PSRC_SHELL].value[PV_NO_LOWER]) < PROXY_VALUE_MAX);
    assert_int_equal(cfg.agent_pid, 1);
    assert_true(strlen(cfg.agent_cmdline) < sizeof cfg.agent_cmdline);
    assert_true(cfg.env[PSRC_AGENT_PROCESS].present);
    free(huge);
    proxy_discover("/nonexistent-root-for-azbprobe", NULL, &cfg); /* nothing there at all */
    assert_int_equal(cfg.nproblems, 0);
    assert_false(cfg.waagent.present);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_ubuntu, remove_root),
        cmocka_unit_test_teardown(test_rhel, remove_root),
        cmocka_unit_test_teardown(test_coreos, remove_root),
        cmocka_unit_test_teardown(test_empty_root, remove_root),
        cmocka_unit_test_teardown(test_hostile_proc_and_shell, remove_root),
    };
    return cmocka_run_group_tests_name("proxy_discover", tests, NULL, NULL);
}
