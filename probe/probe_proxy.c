/* proxy.config and proxy.platform: what discovery found, judged without sending a packet. */
#include <stdio.h>
#include <string.h>

#include "probe/probes.h"

static const char *const source_keys[PSRC_COUNT] = {
    [PSRC_CLI] = "cli", [PSRC_SHELL] = "shell", [PSRC_ETC_ENVIRONMENT] = "etc_environment",
    [PSRC_AGENT_UNIT] = "agent_unit", [PSRC_AGENT_PROCESS] = "agent_process", [PSRC_WAAGENT_CONF] = "waagent_conf",
};

static void append(char *buf, size_t size, const char *sep, const char *text)
{
    size_t used = strlen(buf);
    if (used < size)
        snprintf(buf + used, size - used, "%s%s", used ? sep : "", text);
}

/* The proxy one source gives https URLs, as "host:port" for comparison ("" when none). */
static void https_choice(const struct proxy_env *e, char *out, size_t size, bool *creds)
{
    static const enum proxy_var order[] = {PV_HTTPS_LOWER, PV_HTTPS_UPPER, PV_ALL_LOWER, PV_ALL_UPPER};
    out[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        struct proxy_url u;
        char err[128];
        if (!e->value[order[i]][0] || !proxy_url_parse(e->value[order[i]], &u, err, sizeof err))
            continue;
        snprintf(out, size, "%s:%d", u.host, u.port ? u.port : 1080);
        *creds = *creds || u.has_credentials;
        return;
    }
}

/* Evidence of one environment source: its proxy variables, redacted; values no client could use
 * are added to problems with their place. */
static bool env_evidence(struct check *c, const char *key, const struct proxy_env *e, char *problems,
                         size_t psize)
{
    char text[1024] = "";
    for (int v = 0; v < PV_COUNT; v++) {
        if (!e->value[v][0])
            continue;
        struct proxy_url u;
        char err[160];
        if (v < PV_NO_LOWER && !proxy_url_parse(e->value[v], &u, err, sizeof err)) {
            char item[900], line[32] = "";
            if (e->line[v])
                snprintf(line, sizeof line, " line %d", e->line[v]);
            snprintf(item, sizeof item, "%.300s%s: %s: %.300s", e->where, line, proxy_var_name((enum proxy_var)v), err);
            append(problems, psize, "; ", item);
        }
        char red[PROXY_VALUE_MAX], item[700];
        proxy_redact(e->value[v], red, sizeof red);
        snprintf(item, sizeof item, "%s=%s", proxy_var_name((enum proxy_var)v), red);
        append(text, sizeof text, " ", item);
    }
    if (!text[0])
        return false;
    check_ev(c, key, "%s (%s)", text, e->where);
    return true;
}

void probe_proxy_config(struct run *r)
{
    const struct proxy_config *p = &r->proxy;
    size_t i = checks_add(&r->checks, "proxy.config", NULL, 0);
    if (i == (size_t)-1)
        return;
    struct check *c = &r->checks.items[i];
    char seen[PSRC_COUNT][300] = {{0}}, problems[1024] = "";
    bool creds = false, any = false;
    if (p->cli_set) {
        check_ev(c, source_keys[PSRC_CLI], "%s", p->cli.redacted);
        snprintf(seen[PSRC_CLI], sizeof seen[0], "%s:%d", p->cli.host, p->cli.port ? p->cli.port : 1080);
        creds = p->cli.has_credentials;
        any = true;
    }
    for (int s = PSRC_SHELL; s <= PSRC_AGENT_PROCESS; s++) {
        any |= env_evidence(c, source_keys[s], &p->env[s], problems, sizeof problems);
        https_choice(&p->env[s], seen[s], sizeof seen[s], &creds);
    }
    if (p->waagent.host[0] || p->waagent.vmb_host[0]) {
        check_ev(c, source_keys[PSRC_WAAGENT_CONF], "HttpProxy.Host=%s HttpProxy.Port=%s (%s)", p->waagent.host,
                 p->waagent.port_raw[0] ? p->waagent.port_raw : "(unset)", p->waagent.path);
        if (p->waagent.port)
            snprintf(seen[PSRC_WAAGENT_CONF], sizeof seen[0], "%s:%d", p->waagent.host, p->waagent.port);
        any = true;
    }
    for (size_t k = 0; k < p->nproblems; k++) {
        const struct proxy_problem *pb = &p->problems[k];
        char item[900], line[32] = "";
        if (pb->line)
            snprintf(line, sizeof line, " line %d", pb->line);
        snprintf(item, sizeof item, "%.300s%s: %.256s", pb->where, line, pb->text);
        append(problems, sizeof problems, "; ", item);
    }
    if (problems[0])
        check_ev(c, "problems", "%s", problems);
    /* Sources that name a proxy but not the same one: each consumer reads a different one. */
    char diff[900] = "";
    const char *first = NULL;
    bool disagree = false;
    for (int s = 0; s < PSRC_COUNT; s++) {
        if (!seen[s][0])
            continue;
        char item[400];
        snprintf(item, sizeof item, "%.60s: %.300s", proxy_source_name((enum proxy_source)s), seen[s]);
        append(diff, sizeof diff, ", ", item);
        if (first && strcmp(first, seen[s]) != 0)
            disagree = true;
        first = first ? first : seen[s];
    }
    if (disagree)
        check_ev(c, "disagreement", "%s", diff);
    if (!any && !problems[0]) {
        c->outcome = OUT_SKIPPED;
        check_summary(c, "no HTTP proxy configured anywhere (command line, environment, agent, waagent.conf)");
    } else if (creds) {
        c->outcome = OUT_PROXY_AUTH;
        check_summary(c, "a proxy URL carries credentials: Azure Backup and the guest agent do not support authenticated proxies");
    } else if (problems[0] || disagree) {
        c->outcome = OUT_ERROR;
        check_summary(c, "%s%s%s", problems[0] ? "proxy settings with problems (see problems)" : "",
                      problems[0] && disagree ? "; " : "", disagree ? "proxy sources disagree: each consumer reads a different one" : "");
    } else {
        c->outcome = OUT_OK;
        check_summary(c, "proxy settings are consistent across the sources that set one");
    }
}

/* WireServer and IMDS must never go through a proxy; tools that honour http_proxy/all_proxy
 * send them there unless no_proxy lists them. */
void probe_proxy_platform(struct run *r, const char *wireserver, const char *imds_host)
{
    const struct proxy_config *p = &r->proxy;
    size_t i = checks_add(&r->checks, "proxy.platform", NULL, 0);
    if (i == (size_t)-1)
        return;
    struct check *c = &r->checks.items[i];
    static const enum proxy_var catching[] = {PV_HTTP_LOWER, PV_HTTP_UPPER, PV_ALL_LOWER, PV_ALL_UPPER};
    char leaks[900] = "";
    bool any = false;
    for (int s = PSRC_SHELL; s <= PSRC_AGENT_PROCESS; s++) {
        const struct proxy_env *e = &p->env[s];
        for (int v = 0; v < PV_NO_LOWER; v++)
            any |= e->value[v][0] != '\0';
        const char *bypass = e->value[PV_NO_LOWER][0] ? e->value[PV_NO_LOWER] : e->value[PV_NO_UPPER];
        for (size_t v = 0; v < sizeof catching / sizeof catching[0]; v++) {
            if (!e->value[catching[v]][0])
                continue;
            const char *missed = !noproxy_match_curl(bypass, wireserver) ? wireserver
                                 : !noproxy_match_curl(bypass, imds_host) ? imds_host : NULL;
            if (!missed)
                continue;
            char item[300];
            snprintf(item, sizeof item, "%s in %s (no_proxy lacks %s)", proxy_var_name(catching[v]),
                     proxy_source_name((enum proxy_source)s), missed);
            append(leaks, sizeof leaks, "; ", item);
        }
    }
    if (leaks[0]) {
        c->outcome = OUT_ERROR;
        check_ev(c, "caught_by", "%s", leaks);
        check_ev(c, "fix", "no_proxy=%s,%s (keep the site's own entries)", wireserver, imds_host);
        check_summary(c, "tools that honour %s would send the WireServer or IMDS to the proxy; add no_proxy=%s,%s",
                      leaks, wireserver, imds_host);
    } else if (any) {
        c->outcome = OUT_OK;
        check_summary(c, "no environment proxy would catch %s or %s (https_proxy only, or no_proxy lists them)",
                      wireserver, imds_host);
    } else {
        c->outcome = OUT_SKIPPED;
        check_summary(c, "no http_proxy or all_proxy in any environment: nothing would catch the WireServer or IMDS");
    }
    check_ev(c, "note", "azbprobe itself always reaches the WireServer, HostGAPlugin and IMDS directly");
}
