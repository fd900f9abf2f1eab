/* The path each consumer takes, and both no_proxy dialects: the table of proxy-semantics.md
 * section 2 and the rules of sections 2-4, case by case. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/proxy.h"

#define PW "S3cretPw"
#define BLOB "acct.blob.core.windows.net"

static struct proxy_config cfg;

static int reset(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    return 0;
}

static void set_env(enum proxy_source s, enum proxy_var v, const char *value, int line)
{
    struct proxy_env *e = &cfg.env[s];
    e->present = true;
    if (!e->where[0])
        snprintf(e->where, sizeof e->where, "%s", s == PSRC_AGENT_PROCESS ? "/proc/4242/environ"
                                                  : s == PSRC_AGENT_UNIT ? "/etc/systemd/system/walinuxagent.service.d/http-proxy.conf"
                                                  : s == PSRC_ETC_ENVIRONMENT ? "/etc/environment" : "environment");
    snprintf(e->value[v], sizeof e->value[v], "%s", value);
    e->line[v] = line;
}

static void set_conf(const char *host, int host_line, const char *port, int port_line)
{
    struct waagent_proxy *w = &cfg.waagent;
    w->present = true;
    w->vmb_ok = true;
    snprintf(w->path, sizeof w->path, "/etc/waagent.conf");
    snprintf(w->host, sizeof w->host, "%s", host);
    snprintf(w->vmb_host, sizeof w->vmb_host, "%s", host);
    w->host_line = host_line;
    snprintf(w->port_raw, sizeof w->port_raw, "%s", port);
    w->port = (int)strtol(port, NULL, 10); /* a shortcut: the parser has its own tests */
    w->port_line = port_line;
    w->vmb_port_set = port[0] != '\0';
}

static struct proxy_path decide(enum consumer c, const char *host, bool https)
{
    struct proxy_path p;
    memset(&p, 0x5a, sizeof p); /* every field must be written */
    proxy_decide(&cfg, c, host, https, &p);
    if (strstr(p.why, PW) || strstr(p.proxy.redacted, PW))
        fail_msg("the password leaked: why \"%s\", proxy %s", p.why, p.proxy.redacted);
    assert_true(strlen(p.why) > 10);
    return p;
}

static void why_says(const struct proxy_path *p, const char *text)
{
    if (!strstr(p->why, text))
        fail_msg("\"%s\" does not say \"%s\"", p->why, text);
}

/* ---- no_proxy --------------------------------------------------------------------------------- */

static void test_noproxy_table(void **state)
{
    (void)state;
    static const struct {
        const char *entry, *host;
        bool agent, curl;
    } rows[] = {
        {"core.windows.net", BLOB, true, true},
        {".blob.core.windows.net", BLOB, true, true},
        {".blob.core.windows.net", "blob.core.windows.net", false, true},
        {"windows.net", "evilwindows.net", true, false},
        {"*", BLOB, false, true},
        {"168.63.129.0/24", "168.63.129.16", true, true},
        {"168.63.129.16", "168.63.129.16", true, true},
        {"168.63.129.16/33", "168.63.129.16", false, false},
        {"168.63.128.0/24", "168.63.129.16", false, false},
        {"63.129.16", "168.63.129.16", false, false}, /* an IP is never suffix-matched */
        {"CORE.Windows.NET", "a.core.windows.net", true, true},
        {"core.windows.net.", "a.core.windows.net", false, true},
        {"core.windows.net", "a.core.windows.net.", false, true},
        {"x.core.windows.net", BLOB, false, false},
        {"2001:db8::/32", "2001:db8::1", false, true},
        {"2001:db8::1", "[2001:db8::1]", false, true},
        {"2001:db8::1", "2001:db8::2", false, false},
        {"db8::1", "2001:db8::1", true, false}, /* the agent: plain suffix, even for IPv6 */
        {"::1", "::1", true, true},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        bool a = noproxy_match_agent(rows[i].entry, rows[i].host);
        bool c = noproxy_match_curl(rows[i].entry, rows[i].host);
        if (a != rows[i].agent || c != rows[i].curl)
            fail_msg("no_proxy=%s host %s: agent %d curl %d, want %d %d", rows[i].entry, rows[i].host, a, c,
                     rows[i].agent, rows[i].curl);
    }
}

static void test_noproxy_lists(void **state)
{
    (void)state;
    /* spaces: the agent removes them everywhere; curl skips them around entries */
    assert_true(noproxy_match_agent("168.63.129.16, 169.254.169.254", "169.254.169.254"));
    assert_true(noproxy_match_curl("168.63.129.16, 169.254.169.254", "169.254.169.254"));
    assert_true(noproxy_match_agent("core. windows .net", BLOB));
    assert_false(noproxy_match_curl("core. windows .net", BLOB));
    /* curl stops at the first entry not followed by a comma */
    assert_false(noproxy_match_curl("example.com core.windows.net", BLOB));
    assert_true(noproxy_match_curl("example.com ,core.windows.net", BLOB));
    /* empty entries */
    assert_true(noproxy_match_agent(",,core.windows.net,,", BLOB));
    assert_true(noproxy_match_curl(",,core.windows.net,,", BLOB));
    assert_false(noproxy_match_agent(",, ,", BLOB));
    assert_false(noproxy_match_curl(",, ,", BLOB));
    assert_false(noproxy_match_agent("", BLOB));
    assert_false(noproxy_match_curl("", BLOB));
    assert_false(noproxy_match_agent(NULL, BLOB));
    assert_false(noproxy_match_curl(NULL, BLOB));
    assert_false(noproxy_match_curl("core.windows.net", ""));
    /* "*" only alone */
    assert_false(noproxy_match_curl("*,example.com", BLOB));
    assert_true(noproxy_match_agent("*", "weird*"));
    /* IPv6 CIDR edges, curl */
    assert_true(noproxy_match_curl("2001:db8::/31", "2001:db9::1"));
    assert_false(noproxy_match_curl("2001:db8::/33", "2001:db8:8000::1"));
    assert_false(noproxy_match_curl("2001:db8::/129", "2001:db8::1"));
    assert_true(noproxy_match_curl("10.0.0.0/8", "10.1.2.3"));
    assert_false(noproxy_match_curl("10.0.0.0/-8", "10.1.2.3"));
    /* the agent's CIDR needs exactly one '/' and a mask 1-32 */
    assert_false(noproxy_match_agent("10.0.0.0/0", "10.1.2.3"));
    assert_true(noproxy_match_agent("10.0.0.0/8", "10.1.2.3"));
    assert_false(noproxy_match_agent("10.0.0.0/8/8", "10.1.2.3"));
}

static void test_noproxy_100k(void **state)
{
    (void)state;
    size_t size = 100 * 1024;
    char *list = malloc(size);
    assert_non_null(list);
    size_t n = 0;
    for (int i = 0; n + 64 < size; i++)
        n += (size_t)snprintf(list + n, size - n, " host%d.example.org ,", i);
    snprintf(list + n, size - n, ".core.windows.net");
    clock_t t0 = clock();
    assert_true(noproxy_match_agent(list, BLOB));
    assert_true(noproxy_match_curl(list, BLOB));
    assert_false(noproxy_match_agent(list, "storage.example.com"));
    assert_false(noproxy_match_curl(list, "storage.example.com"));
    assert_false(noproxy_match_curl(list, "10.0.0.1"));
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);
    memset(list, 'a', size - 1); /* one 100 KB entry */
    list[size - 1] = '\0';
    assert_false(noproxy_match_agent(list, BLOB));
    assert_false(noproxy_match_curl(list, BLOB));
    free(list);
}

/* ---- the guest agent ------------------------------------------------------------------------ */

static void test_agent_waagent_conf(void **state)
{
    (void)state;
    set_conf("10.0.0.5", 12, "3128", 13);
    set_env(PSRC_AGENT_PROCESS, PV_HTTPS_LOWER, "http://env-proxy:8080", 0); /* not consulted */
    struct proxy_path p = decide(CONSUMER_AGENT, BLOB, true);
    assert_false(p.direct);
    assert_int_equal(p.source, PSRC_WAAGENT_CONF);
    assert_string_equal(p.proxy.host, "10.0.0.5");
    assert_int_equal(p.proxy.port, 3128);
    assert_string_equal(p.proxy.redacted, "http://10.0.0.5:3128");
    why_says(&p, "HttpProxy.Host and HttpProxy.Port set in /etc/waagent.conf (lines 12, 13)");

    set_conf("10.0.0.5", 12, "", 0); /* Host without Port: direct, environment ignored */
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_true(p.direct);
    assert_int_equal(p.source, PSRC_WAAGENT_CONF);
    why_says(&p, "HttpProxy.Host set without HttpProxy.Port");
    why_says(&p, "goes direct");

    set_conf("10.0.0.5", 12, "abc", 13);
    cfg.waagent.port = 0;
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "HttpProxy.Port=abc");

    set_conf("2001:db8::5", 3, "3128", 4);
    p = decide(CONSUMER_AGENT, BLOB, false);
    assert_false(p.direct);
    assert_string_equal(p.proxy.redacted, "http://[2001:db8::5]:3128");

    set_conf("http://10.0.0.5", 3, "3128", 4);
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "not a host name");
}

static void test_agent_no_proxy_first(void **state)
{
    (void)state;
    set_conf("10.0.0.5", 12, "3128", 13);
    set_env(PSRC_AGENT_PROCESS, PV_NO_UPPER, "168.63.129.16,.core.windows.net", 0);
    struct proxy_path p = decide(CONSUMER_AGENT, BLOB, true);
    assert_true(p.direct);
    assert_int_equal(p.source, PSRC_AGENT_PROCESS);
    why_says(&p, "NO_PROXY entry .core.windows.net matches");
    set_env(PSRC_AGENT_PROCESS, PV_NO_LOWER, "example.com", 0); /* no_proxy set: NO_PROXY not read */
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_false(p.direct);
    set_env(PSRC_AGENT_PROCESS, PV_NO_LOWER, "windows.net", 0);
    p = decide(CONSUMER_AGENT, "evilwindows.net", true);
    assert_true(p.direct);
    why_says(&p, "no_proxy entry windows.net matches evilwindows.net");
}

static void test_agent_environment(void **state)
{
    (void)state;
    set_env(PSRC_AGENT_UNIT, PV_HTTPS_LOWER, "http://unit-proxy:3128", 3);
    struct proxy_path p = decide(CONSUMER_AGENT, BLOB, true);
    assert_false(p.direct);
    assert_int_equal(p.source, PSRC_AGENT_UNIT);
    assert_string_equal(p.proxy.host, "unit-proxy");

    set_env(PSRC_AGENT_PROCESS, PV_HTTPS_UPPER, "http://process-proxy:3128", 0); /* the process wins */
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_int_equal(p.source, PSRC_AGENT_PROCESS);
    assert_string_equal(p.proxy.host, "process-proxy");
    why_says(&p, "HTTPS_PROXY=http://process-proxy:3128; from /proc/4242/environ");

    set_env(PSRC_AGENT_PROCESS, PV_HTTPS_LOWER, "proxy.corp:3128", 0);
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "the guest agent ignores https_proxy=proxy.corp:3128: no scheme");

    set_env(PSRC_AGENT_PROCESS, PV_HTTPS_LOWER, "http://proxy.corp", 0);
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "no port");

    set_env(PSRC_AGENT_PROCESS, PV_HTTPS_LOWER, "http://user:" PW "@proxy.corp:8080", 0);
    memset(cfg.env[PSRC_AGENT_PROCESS].where, 'w', 400); /* a long list of files must not hide the note */
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_false(p.direct);
    assert_false(p.proxy.has_credentials);
    assert_string_equal(p.proxy.password, "");
    assert_string_equal(p.proxy.redacted, "http://proxy.corp:8080");
    why_says(&p, "credentials dropped");
    why_says(&p, "http://user:***@proxy.corp:8080");

    set_env(PSRC_AGENT_PROCESS, PV_HTTPS_LOWER, "https://tls-proxy:8443", 0);
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_string_equal(p.proxy.scheme, "http");
    why_says(&p, "plain HTTP");

    set_env(PSRC_AGENT_PROCESS, PV_HTTPS_LOWER, "socks5://s:1080", 0);
    p = decide(CONSUMER_AGENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "cannot use");

    set_env(PSRC_AGENT_PROCESS, PV_HTTP_UPPER, "http://upper:80", 0); /* the agent reads HTTP_PROXY */
    p = decide(CONSUMER_AGENT, "example.com", false);
    assert_false(p.direct);
    assert_string_equal(p.proxy.host, "upper");
}

static void test_agent_nothing(void **state)
{
    (void)state;
    struct proxy_path p = decide(CONSUMER_AGENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "environment was not found");
    set_env(PSRC_AGENT_PROCESS, PV_HTTP_LOWER, "http://only-http:1", 0);
    p = decide(CONSUMER_AGENT, BLOB, true); /* https target: http_proxy does not apply */
    assert_true(p.direct);
    why_says(&p, "no https_proxy or HTTPS_PROXY in the guest agent's environment (/proc/4242/environ)");
}

/* ---- the backup extension --------------------------------------------------------------------- */

static void test_backup(void **state)
{
    (void)state;
    struct proxy_path p = decide(CONSUMER_BACKUP, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "no waagent.conf");

    set_env(PSRC_AGENT_PROCESS, PV_HTTPS_LOWER, "http://env:3128", 0); /* never read */
    set_env(PSRC_SHELL, PV_HTTPS_LOWER, "http://env:3128", 0);
    set_conf("10.0.0.5", 12, "3128", 13); /* the documented configuration */
    p = decide(CONSUMER_BACKUP, BLOB, true);
    assert_true(p.direct);
    assert_int_equal(p.source, PSRC_WAAGENT_CONF);
    why_says(&p, "Port is NOT set");

    set_conf("10.0.0.5", 12, "", 0); /* inverted: Host without Port means a proxy on 443 */
    p = decide(CONSUMER_BACKUP, BLOB, true);
    assert_false(p.direct);
    assert_string_equal(p.proxy.host, "10.0.0.5");
    assert_int_equal(p.proxy.port, 443);
    assert_string_equal(p.proxy.scheme, "http");
    assert_string_equal(p.proxy.redacted, "http://10.0.0.5:443");
    why_says(&p, "inverted rule");
    why_says(&p, "port 443");

    cfg.waagent.vmb_ok = false;
    snprintf(cfg.waagent.vmb_error, sizeof cfg.waagent.vmb_error, "spaces around '=' break it: goes direct");
    p = decide(CONSUMER_BACKUP, BLOB, true);
    assert_true(p.direct);
    assert_string_equal(p.why, "spaces around '=' break it: goes direct");

    set_conf("", 0, "", 0);
    p = decide(CONSUMER_BACKUP, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "no HttpProxy.Host");

    set_conf("10.0.0.5#x", 1, "", 0);
    p = decide(CONSUMER_BACKUP, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "not a host name");
}

/* ---- the generic client (curl) ---------------------------------------------------------------- */

static void test_client_cli(void **state)
{
    (void)state;
    set_env(PSRC_SHELL, PV_HTTPS_LOWER, "http://shell:3128", 0);
    cfg.cli_set = true;
    char err[128];
    assert_true(proxy_url_parse("user:" PW "@cli-proxy", &cfg.cli, err, sizeof err));
    struct proxy_path p = decide(CONSUMER_CLIENT, BLOB, true);
    assert_false(p.direct);
    assert_int_equal(p.source, PSRC_CLI);
    assert_int_equal(p.proxy.port, 1080);
    assert_true(p.proxy.has_credentials);
    assert_string_equal(p.proxy.password, PW); /* kept for use */
    assert_string_equal(p.proxy.redacted, "http://user:***@cli-proxy:1080");
    why_says(&p, "--proxy");

    snprintf(cfg.cli_no_proxy, sizeof cfg.cli_no_proxy, "localhost, core.windows.net");
    p = decide(CONSUMER_CLIENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "--no-proxy entry core.windows.net matches");

    memset(&cfg.cli, 0, sizeof cfg.cli); /* --proxy "" */
    p = decide(CONSUMER_CLIENT, BLOB, true);
    assert_true(p.direct);
}

static void test_client_environment(void **state)
{
    (void)state;
    set_env(PSRC_ETC_ENVIRONMENT, PV_HTTPS_LOWER, "http://etc-proxy:3128", 4);
    struct proxy_path p = decide(CONSUMER_CLIENT, BLOB, true); /* the shell has none */
    assert_false(p.direct);
    assert_int_equal(p.source, PSRC_ETC_ENVIRONMENT);
    assert_string_equal(p.proxy.host, "etc-proxy");

    set_env(PSRC_SHELL, PV_ALL_UPPER, "proxy.corp", 0); /* the shell has one: it wins */
    p = decide(CONSUMER_CLIENT, BLOB, true);
    assert_false(p.direct);
    assert_int_equal(p.source, PSRC_SHELL);
    assert_string_equal(p.proxy.host, "proxy.corp");
    assert_int_equal(p.proxy.port, 1080);
    assert_string_equal(p.proxy.redacted, "http://proxy.corp:1080");
    why_says(&p, "ALL_PROXY=proxy.corp");
    why_says(&p, "1080");

    set_env(PSRC_SHELL, PV_HTTPS_UPPER, "http://upper:3128", 0);
    p = decide(CONSUMER_CLIENT, BLOB, true);
    assert_string_equal(p.proxy.host, "upper");

    set_env(PSRC_SHELL, PV_NO_LOWER, ".blob.core.windows.net", 0);
    p = decide(CONSUMER_CLIENT, "blob.core.windows.net", true);
    assert_true(p.direct);
    why_says(&p, "no_proxy entry .blob.core.windows.net matches");

    set_env(PSRC_SHELL, PV_NO_UPPER, "*", 0); /* no_proxy is set, so NO_PROXY is not read */
    p = decide(CONSUMER_CLIENT, "example.com", true);
    assert_false(p.direct);
}

static void test_client_http(void **state)
{
    (void)state;
    set_env(PSRC_SHELL, PV_HTTP_UPPER, "http://upper:3128", 0); /* curl ignores HTTP_PROXY */
    struct proxy_path p = decide(CONSUMER_CLIENT, "168.63.129.16", false);
    assert_true(p.direct);
    why_says(&p, "curl ignores HTTP_PROXY");
    set_env(PSRC_SHELL, PV_HTTP_LOWER, "http://lower:3128", 0);
    p = decide(CONSUMER_CLIENT, "168.63.129.16", false);
    assert_false(p.direct);
    assert_string_equal(p.proxy.host, "lower");
    set_env(PSRC_SHELL, PV_NO_LOWER, "168.63.129.0/24", 0);
    p = decide(CONSUMER_CLIENT, "168.63.129.16", false);
    assert_true(p.direct);

    set_env(PSRC_SHELL, PV_HTTPS_LOWER, "socks5://user:" PW "@s:1080", 0);
    p = decide(CONSUMER_CLIENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "HTTP proxies only");

    memset(&cfg, 0, sizeof cfg);
    p = decide(CONSUMER_CLIENT, BLOB, true);
    assert_true(p.direct);
    why_says(&p, "no https_proxy, HTTPS_PROXY, all_proxy or ALL_PROXY");
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(consumer_name(CONSUMER_AGENT), "guest agent");
    assert_string_equal(consumer_name(CONSUMER_BACKUP), "backup extension");
    assert_string_equal(consumer_name(CONSUMER_CLIENT), "generic client");
    assert_string_equal(consumer_name(CONSUMER_COUNT), "unknown consumer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_noproxy_table, reset),
        cmocka_unit_test_setup(test_noproxy_lists, reset),
        cmocka_unit_test_setup(test_noproxy_100k, reset),
        cmocka_unit_test_setup(test_agent_waagent_conf, reset),
        cmocka_unit_test_setup(test_agent_no_proxy_first, reset),
        cmocka_unit_test_setup(test_agent_environment, reset),
        cmocka_unit_test_setup(test_agent_nothing, reset),
        cmocka_unit_test_setup(test_backup, reset),
        cmocka_unit_test_setup(test_client_cli, reset),
        cmocka_unit_test_setup(test_client_environment, reset),
        cmocka_unit_test_setup(test_client_http, reset),
        cmocka_unit_test_setup(test_names, reset),
    };
    return cmocka_run_group_tests_name("proxy_decide", tests, NULL, NULL);
}
