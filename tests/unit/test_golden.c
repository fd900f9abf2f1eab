/* Golden tests: whole reports (text, markdown, JSON) of hand-built, deterministic runs, graded and
 * blamed by the library and compared byte for byte with tests/golden/<set>.{txt,md,json}.
 * AZB_GOLDEN_UPDATE=1 writes the files instead (see tests/golden/README.md). Runs from the
 * project root, like every unit test (the fixture exports are read by relative path). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/blame.h"
#include "probe/cli.h"
#include "probe/exports.h"
#include "probe/grade.h"
#include "probe/render/render.h"

#define GOLDEN_DIR "tests/golden/"
#define FIX "tests/fixtures/azure-json/"
#define WS "168.63.129.16"
#define STATUS_HOST "bkpstatusne01.blob.core.windows.net"
#define MANIFEST_HOST "umsavwggmcxp2kgcwhd4.blob.core.windows.net"
#define STATUS_FROM "agent goal state, status blob (/var/lib/waagent/ExtensionsConfig.12.xml)"
#define MANIFEST_FROM "agent goal state, extension manifest (/var/lib/waagent/ExtensionsConfig.12.xml)"
#define STORAGE_IP "13.70.208.17"   /* inside Storage.NorthEurope 13.70.208.16/28 */
#define MANIFEST_IP "13.70.208.25"  /* same prefix */
#define CANONICAL "blob.dbl21prdstr09a.store.core.windows.net"

/* ---- building a run ---------------------------------------------------------------------- */

struct golden {
    struct config cfg;
    struct run run;
};

static struct golden *golden_new(int argc, const char *const *argv)
{
    struct golden *g = calloc(1, sizeof *g);
    assert_non_null(g);
    char err[512] = "";
    int rc = cli_parse(argc, (char **)argv, &g->cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("cli_parse: %s", err);
    struct run *r = &g->run;
    r->cfg = &g->cfg;
    r->imds_job = (size_t)-1;
    snprintf(r->hostname, sizeof r->hostname, "vm-backup-01");
    snprintf(r->started_utc, sizeof r->started_utc, "2026-11-23T05:00:00Z");
    r->started_ms = 1795410000000;
    r->duration_ms = 5312;

    struct facts *f = &r->facts;
    snprintf(f->region, sizeof f->region, "northeurope");
    snprintf(f->region_source, sizeof f->region_source, "IMDS compute.location");
    snprintf(f->cloud, sizeof f->cloud, "AzureCloud");
    snprintf(f->cloud_source, sizeof f->cloud_source, "IMDS compute.azEnvironment");
    snprintf(f->wireserver, sizeof f->wireserver, WS);
    snprintf(f->wireserver_source, sizeof f->wireserver_source, "DHCP option 245 (lease file)");
    snprintf(f->resolvers, sizeof f->resolvers, "168.63.129.16");
    snprintf(f->resolvers_source, sizeof f->resolvers_source, "/etc/resolv.conf");
    snprintf(f->first_resolver, sizeof f->first_resolver, "168.63.129.16");
    f->imds_ok = true;
    struct imds_info *m = &f->imds;
    snprintf(m->location, sizeof m->location, "northeurope");
    snprintf(m->az_environment, sizeof m->az_environment, "AzurePublicCloud");
    snprintf(m->vm_id, sizeof m->vm_id, "5c2a7e1d-9b34-4f0a-8d6e-0a1b2c3d4e5f");
    snprintf(m->name, sizeof m->name, "vm-backup-01");
    snprintf(m->resource_group, sizeof m->resource_group, "rg-backup-demo");
    snprintf(m->subscription, sizeof m->subscription, "11111111-2222-3333-4444-555555555555");
    snprintf(m->private_ip, sizeof m->private_ip, "10.0.1.4");
    snprintf(m->subnet, sizeof m->subnet, "10.0.1.0/24");
    snprintf(m->mac, sizeof m->mac, "000D3A4B5C6D");
    f->have_clock = true;
    f->clock_skew_s = 1;
    snprintf(f->clock_from, sizeof f->clock_from, "wireserver.http");
    return g;
}

/* Load the exports the command line names, as main.c does before the probes run. */
static void golden_exports(struct golden *g)
{
    char err[512] = "";
    int rc = exports_load(&g->cfg, &g->run.exports, err, sizeof err);
    if (rc != 0)
        fail_msg("exports_load: %s", err);
}

static void golden_free(struct golden *g)
{
    checks_free(&g->run.checks);
    free(g->run.consumers);
    exports_free(&g->run.exports);
    config_free(&g->cfg);
    free(g);
}

static struct check *add(struct run *r, const char *id, const char *target, int port, enum outcome o, long ms,
                         const char *path, const char *fmt, ...) __attribute__((format(printf, 8, 9)));
static struct check *add(struct run *r, const char *id, const char *target, int port, enum outcome o, long ms,
                         const char *path, const char *fmt, ...)
{
    size_t i = checks_add(&r->checks, id, target, port);
    assert_true(i != (size_t)-1);
    struct check *c = &r->checks.items[i];
    c->outcome = o;
    c->duration_ms = ms;
    if (path)
        snprintf(c->path, sizeof c->path, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->summary, sizeof c->summary, fmt, ap);
    va_end(ap);
    return c;
}

/* The WireServer on 80, as probe_host.c records it. */
static void wireserver_ok(struct run *r)
{
    struct check *c = add(r, "wireserver.http", WS, 80, OUT_OK, 3, "direct",
                           "WireServer " WS ":80 answered HTTP 200 in 3 ms");
    check_ev(c, "url", "http://" WS "/?comp=versions");
    check_ev(c, "local_address", "10.0.1.4");
    check_ev(c, "interface", "eth0");
    check_ev(c, "remote_address", WS);
    check_ev(c, "http_status", "200");
    check_ev(c, "date", "Mon, 23 Nov 2026 05:00:01 GMT");
}

static void hostgaplugin(struct run *r, bool ok)
{
    struct check *c;
    if (ok) {
        c = add(r, "wireserver.hostgaplugin", WS, 32526, OUT_OK, 4, "direct",
                "HostGAPlugin " WS ":32526 answered HTTP 200 in 4 ms");
    } else {
        c = add(r, "wireserver.hostgaplugin", WS, 32526, OUT_TIMEOUT, 5001, "direct",
                "TCP " WS ":32526 timed out: packets are silently dropped (NSG, firewall or route)");
    }
    check_ev(c, "url", "http://" WS ":32526/health");
    if (!ok)
        check_ev(c, "local_address_source", "kernel route choice (the connection did not get far enough to show it)");
    check_ev(c, "local_address", "10.0.1.4");
    check_ev(c, "interface", "eth0");
    check_ev(c, "remote_address", WS);
    if (ok) {
        check_ev(c, "http_status", "200");
        check_ev(c, "date", "Mon, 23 Nov 2026 05:00:01 GMT");
    } else {
        check_ev(c, "curl_error", "28 Connection timed out after 5001 milliseconds");
    }
}

static void imds_ok(struct run *r)
{
    struct check *c = add(r, "imds.instance", "169.254.169.254", 80, OUT_OK, 2, "direct",
                          "IMDS: VM vm-backup-01 in northeurope (AzurePublicCloud), private IP 10.0.1.4");
    check_ev(c, "url", "http://169.254.169.254/metadata/instance?api-version=2021-02-01");
    check_ev(c, "local_address", "10.0.1.4");
    check_ev(c, "interface", "eth0");
    check_ev(c, "remote_address", "169.254.169.254");
    check_ev(c, "http_status", "200");
    check_ev(c, "date", "Mon, 23 Nov 2026 05:00:01 GMT");
    check_ev(c, "location", "northeurope");
    check_ev(c, "az_environment", "AzurePublicCloud");
    check_ev(c, "vm_id", "5c2a7e1d-9b34-4f0a-8d6e-0a1b2c3d4e5f");
    check_ev(c, "private_ip", "10.0.1.4");
    check_ev(c, "subnet", "10.0.1.0/24");
    check_ev(c, "mac", "000D3A4B5C6D");
    check_ev(c, "disks", "managed");
}

static void agent_ok(struct run *r)
{
    struct check *c = add(r, "agent.process", NULL, 0, OUT_OK, 0, NULL,
                          "waagent is running (pid 812, WALinuxAgent 2.12.0.4, python3 /usr/sbin/waagent -daemon)");
    c->required = true;
    check_ev(c, "pid", "812");
    check_ev(c, "cmdline", "python3 -u /usr/sbin/waagent -daemon");
}

/* dns.system and dns.azure for a storage host, both answering addr. */
static void dns_ok(struct run *r, const char *host, const char *addr)
{
    static const char *const ids[] = {"dns.system", "dns.azure"};
    static const char *const who[] = {"the VM's resolvers", "Azure DNS"};
    for (int i = 0; i < 2; i++) {
        struct check *c = add(r, ids[i], host, 0, OUT_OK, 6 + i, "direct", "%s resolves to %s via %s (canonical %s)",
                              host, addr, who[i], CANONICAL);
        check_ev(c, "resolver", WS);
        check_ev(c, "local_address", "10.0.1.4");
        check_ev(c, "interface", "eth0");
        check_ev(c, "addresses", "%s", addr);
        check_ev(c, "cname_chain", "%s -> %s", host, CANONICAL);
        check_ev(c, "canonical_name", CANONICAL);
        check_ev(c, "ttl", "60");
    }
}

/* net.tcp, net.tls and net.https for one direct path, as probe_net.c fills them. tcp: OUT_OK,
 * OUT_TIMEOUT or OUT_REFUSED; tls: OUT_OK or OUT_RESET_AFTER_HELLO (when TCP worked). */
static void storage_path(struct run *r, const char *host, int port, const char *addr, const char *from,
                         enum outcome tcp, enum outcome tls)
{
    size_t first = r->checks.count;
    struct check *c;
    switch (tcp) {
    case OUT_OK:
        c = add(r, "net.tcp", host, port, OUT_OK, 1, "direct", "TCP connected to %s:%d in 1 ms", addr, port);
        break;
    case OUT_TIMEOUT:
        c = add(r, "net.tcp", host, port, OUT_TIMEOUT, 5002, "direct",
                "TCP %s:%d timed out: packets are silently dropped (NSG, firewall or route)", addr, port);
        break;
    default:
        c = add(r, "net.tcp", host, port, OUT_REFUSED, 2, "direct",
                "TCP %s:%d refused (RST): a firewall or appliance rejects it, or nothing listens", addr, port);
        break;
    }
    check_ev(c, "target_from", "%s", from);
    check_ev(c, "address_from", "the VM's resolvers");
    if (tcp == OUT_TIMEOUT)
        check_ev(c, "local_address_source", "kernel route choice (the connection did not get far enough to show it)");
    check_ev(c, "local_address", "10.0.1.4");
    check_ev(c, "interface", "eth0");
    check_ev(c, "remote_address", "%s", addr);
    if (tcp == OUT_TIMEOUT)
        check_ev(c, "curl_error", "28 Connection timed out after 5002 milliseconds");
    else if (tcp == OUT_REFUSED) {
        check_ev(c, "curl_error", "7 Failed to connect to %s port %d after 2 ms: Couldn't connect to server", host,
                 port);
        check_ev(c, "errno", "111 Connection refused");
    }

    bool tcp_ok = tcp == OUT_OK;
    bool tls_ok = tcp_ok && tls == OUT_OK;
    if (!tcp_ok)
        c = add(r, "net.tls", host, port, OUT_SKIPPED, 0, "direct", "not tried: TCP failed");
    else if (tls_ok)
        c = add(r, "net.tls", host, port, OUT_OK, 9, "direct",
                "TLS verified; certificate issued by C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 07");
    else
        c = add(r, "net.tls", host, port, OUT_RESET_AFTER_HELLO, 3, "direct",
                "connection closed right after the TLS ClientHello (SNI %s): a host-name filtering firewall denies it",
                host);
    check_ev(c, "target_from", "%s", from);
    if (tls_ok) {
        check_ev(c, "tls_subject", "C=US, ST=WA, L=Redmond, O=Microsoft Corporation, CN=*.blob.core.windows.net");
        check_ev(c, "tls_issuer", "C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 07");
        check_ev(c, "tls_chain", "*.blob.core.windows.net < Microsoft Azure RSA TLS Issuing CA 07 < DigiCert Global Root G2");
    } else if (tcp_ok) {
        check_ev(c, "curl_error", "35 Recv failure: Connection reset by peer");
    }

    if (!tcp_ok)
        c = add(r, "net.https", host, port, OUT_SKIPPED, 0, "direct", "not tried: TCP failed");
    else if (!tls_ok)
        c = add(r, "net.https", host, port, OUT_SKIPPED, 0, "direct", "not tried: TLS failed");
    else
        c = add(r, "net.https", host, port, OUT_OK, 14, "direct",
                "Azure Storage answered HTTP 400 (x-ms-request-id 3f6c1a52-701e-0061-4b2f-5e7d1c000000): the service "
                "was reached");
    check_ev(c, "target_from", "%s", from);
    if (tls_ok) {
        check_ev(c, "http_status", "400");
        check_ev(c, "server", "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0");
        check_ev(c, "date", "Mon, 23 Nov 2026 05:00:02 GMT");
        check_ev(c, "x_ms_request_id", "3f6c1a52-701e-0061-4b2f-5e7d1c000000");
        check_ev(c, "x_ms_error_code", "InvalidQueryParameterValue");
    }

    /* every consumer takes the direct path (no proxy anywhere) */
    static const char *const why[CONSUMER_COUNT] = {
        "no HttpProxy.Host in waagent.conf and no https_proxy or HTTPS_PROXY in the guest agent's environment "
        "(/proc/812/environ)",
        "no HttpProxy.Host in /etc/waagent.conf: the backup extension goes direct (it never reads proxy environment "
        "variables)",
        "no https_proxy, HTTPS_PROXY, all_proxy or ALL_PROXY in the environment",
    };
    for (int k = 0; k < CONSUMER_COUNT; k++) {
        struct consumer_path *cp = run_add_consumer(r);
        assert_non_null(cp);
        snprintf(cp->target, sizeof cp->target, "%s", host);
        cp->port = port;
        cp->consumer = (enum consumer)k;
        snprintf(cp->path, sizeof cp->path, "direct");
        snprintf(cp->decided_by, sizeof cp->decided_by, "%s", why[k]);
        cp->first_check = first;
    }
}

/* ---- the sets ------------------------------------------------------------------------------ */

/* (1) --nsg nic-effective-nsg.json: 8443 times out and the NIC NSG's DenyInternetOutbound (4000)
 * is named; 443 works (which the same export contradicts: it denies Internet on every port). */
static struct golden *set_effective_nsg(void)
{
    static const char *const argv[] = {"azbprobe", "--nsg", FIX "nic-effective-nsg.json", NULL};
    struct golden *g = golden_new(3, argv);
    golden_exports(g);
    struct run *r = &g->run;
    wireserver_ok(r);
    hostgaplugin(r, true);
    imds_ok(r);
    dns_ok(r, STATUS_HOST, STORAGE_IP);
    storage_path(r, STATUS_HOST, 443, STORAGE_IP, STATUS_FROM, OUT_OK, OUT_OK);
    storage_path(r, STATUS_HOST, 8443, STORAGE_IP, STATUS_FROM, OUT_TIMEOUT, OUT_OK);
    agent_ok(r);
    return g;
}

/* (2) --routes nic-effective-routes.json only: storage 443 times out; the subnet's UDR sends
 * 0.0.0.0/0 to the VirtualAppliance 10.0.2.4. */
static struct golden *set_routes(void)
{
    static const char *const argv[] = {"azbprobe", "--routes", FIX "nic-effective-routes.json", "--ports", "443", NULL};
    struct golden *g = golden_new(5, argv);
    golden_exports(g);
    struct run *r = &g->run;
    wireserver_ok(r);
    hostgaplugin(r, true);
    imds_ok(r);
    dns_ok(r, STATUS_HOST, STORAGE_IP);
    storage_path(r, STATUS_HOST, 443, STORAGE_IP, STATUS_FROM, OUT_TIMEOUT, OUT_OK);
    agent_ok(r);
    return g;
}

/* (3) No exports: the status blob host is refused on 443, the manifest host is cut right after
 * the ClientHello (a host-name filter), and the HostGAPlugin (32526) times out. */
static struct golden *set_inference(void)
{
    static const char *const argv[] = {"azbprobe", "--ports", "443", NULL};
    struct golden *g = golden_new(3, argv);
    struct run *r = &g->run;
    wireserver_ok(r);
    hostgaplugin(r, false);
    imds_ok(r);
    dns_ok(r, STATUS_HOST, STORAGE_IP);
    storage_path(r, STATUS_HOST, 443, STORAGE_IP, STATUS_FROM, OUT_REFUSED, OUT_OK);
    dns_ok(r, MANIFEST_HOST, MANIFEST_IP);
    storage_path(r, MANIFEST_HOST, 443, MANIFEST_IP, MANIFEST_FROM, OUT_OK, OUT_RESET_AFTER_HELLO);
    agent_ok(r);
    return g;
}

/* (4) Everything passes. */
static struct golden *set_healthy(void)
{
    static const char *const argv[] = {"azbprobe", NULL};
    struct golden *g = golden_new(1, argv);
    struct run *r = &g->run;
    wireserver_ok(r);
    hostgaplugin(r, true);
    imds_ok(r);
    dns_ok(r, STATUS_HOST, STORAGE_IP);
    storage_path(r, STATUS_HOST, 443, STORAGE_IP, STATUS_FROM, OUT_OK, OUT_OK);
    storage_path(r, STATUS_HOST, 8443, STORAGE_IP, STATUS_FROM, OUT_OK, OUT_OK);
    agent_ok(r);
    return g;
}

/* ---- rendering and comparing --------------------------------------------------------------- */

static char *render_to_memory(const struct run *r, enum report_format fmt, size_t *len)
{
    char *buf = NULL;
    FILE *out = open_memstream(&buf, len);
    assert_non_null(out);
    int rc = render_report(r, fmt, out, false);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(rc, 0);
    assert_non_null(buf);
    return buf;
}

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static bool update_mode(void)
{
    const char *v = getenv("AZB_GOLDEN_UPDATE");
    return v && strcmp(v, "1") == 0;
}

/* One line of buf starting at *pos (without its newline); advances *pos. */
static bool next_line(const char *buf, size_t len, size_t *pos, const char **line, int *n)
{
    if (*pos >= len)
        return false;
    const char *s = buf + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    size_t l = nl ? (size_t)(nl - s) : len - *pos;
    *line = s;
    *n = (int)l;
    *pos += l + (nl ? 1 : 0);
    return true;
}

/* Print the first differing line, unified-diff style, with one line of context before it. */
static void show_diff(const char *path, const char *want, size_t wlen, const char *got, size_t glen)
{
    size_t wp = 0, gp = 0;
    const char *wl = NULL, *gl = NULL, *prev = NULL;
    int wn = 0, gn = 0, prevn = 0, lineno = 0;
    for (;;) {
        bool hw = next_line(want, wlen, &wp, &wl, &wn);
        bool hg = next_line(got, glen, &gp, &gl, &gn);
        lineno++;
        if (!hw && !hg)
            break;
        if (hw && hg && wn == gn && memcmp(wl, gl, (size_t)wn) == 0) {
            prev = wl;
            prevn = wn;
            continue;
        }
        fprintf(stderr, "--- %s (expected)\n+++ %s (rendered)\n@@ -%d +%d @@\n", path, path,
                lineno > 1 ? lineno - 1 : lineno, lineno > 1 ? lineno - 1 : lineno);
        if (prev)
            fprintf(stderr, " %.*s\n", prevn, prev);
        if (hw)
            fprintf(stderr, "-%.*s\n", wn, wl);
        else
            fprintf(stderr, "-(end of file)\n");
        if (hg)
            fprintf(stderr, "+%.*s\n", gn, gl);
        else
            fprintf(stderr, "+(end of output)\n");
        fprintf(stderr, "(regenerate with AZB_GOLDEN_UPDATE=1 and review the diff: see tests/golden/README.md)\n");
        return;
    }
    /* same lines: the difference is a trailing newline */
    fprintf(stderr, "--- %s (expected)\n+++ %s (rendered)\n differs only in the final newline (%zu vs %zu bytes)\n",
            path, path, wlen, glen);
}

/* Compare (or, in update mode, write) one rendering. Returns true when it matches. */
static bool compare_golden(const char *set, const char *ext, const char *got, size_t glen)
{
    char path[512];
    snprintf(path, sizeof path, GOLDEN_DIR "%s.%s", set, ext);
    if (update_mode()) {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(got, 1, glen, f) != glen || fclose(f) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return false;
        }
        fprintf(stderr, "wrote %s (%zu bytes)\n", path, glen);
        return true;
    }
    size_t wlen = 0;
    char *want = read_whole(path, &wlen);
    if (!want) {
        fprintf(stderr, "%s: missing (create it with AZB_GOLDEN_UPDATE=1, then review it)\n", path);
        return false;
    }
    bool same = wlen == glen && memcmp(want, got, glen) == 0;
    if (!same)
        show_diff(path, want, wlen, got, glen);
    free(want);
    return same;
}

static void run_set(const char *name, struct golden *(*build)(void))
{
    struct golden *g = build();
    grade_run(&g->run);
    blame_run(&g->run);
    static const struct {
        enum report_format fmt;
        const char *ext;
    } formats[] = {{FORMAT_TEXT, "txt"}, {FORMAT_MARKDOWN, "md"}, {FORMAT_JSON, "json"}};
    bool ok = true;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        size_t len = 0;
        char *got = render_to_memory(&g->run, formats[i].fmt, &len);
        ok = compare_golden(name, formats[i].ext, got, len) && ok;
        free(got);
    }
    golden_free(g);
    if (!ok)
        fail_msg("%s: the report differs from " GOLDEN_DIR "%s.{txt,md,json}", name, name);
}

static void test_effective_nsg(void **state)
{
    (void)state;
    run_set("effective-nsg", set_effective_nsg);
}

static void test_routes(void **state)
{
    (void)state;
    run_set("routes", set_routes);
}

static void test_inference(void **state)
{
    (void)state;
    run_set("inference", set_inference);
}

static void test_healthy(void **state)
{
    (void)state;
    run_set("healthy", set_healthy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_effective_nsg),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_inference),
        cmocka_unit_test(test_healthy),
    };
    return cmocka_run_group_tests_name("golden", tests, NULL, NULL);
}
