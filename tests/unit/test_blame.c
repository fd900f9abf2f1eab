/* Unit tests: probe/blame.c (what blocks each failed flow, without exports). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/blame.h"
#include "probe/cli.h"
#include "probe/grade.h"

#define ACCT "acct1.blob.core.windows.net"

struct fixture {
    struct config cfg;
    struct run run;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char *argv[] = {(char *)"azbprobe", NULL};
    char err[256];
    if (!f || cli_parse(1, argv, &f->cfg, err, sizeof err) != 0)
        return -1;
    f->run.cfg = &f->cfg;
    snprintf(f->run.facts.imds.resource_group, sizeof f->run.facts.imds.resource_group, "rg-backup-demo");
    snprintf(f->run.facts.imds.name, sizeof f->run.facts.imds.name, "vm-backup-01");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    checks_free(&f->run.checks);
    free(f->run.consumers);
    config_free(&f->cfg);
    free(f);
    return 0;
}

static struct check *add(struct run *r, const char *id, const char *target, int port, enum outcome o)
{
    size_t i = checks_add(&r->checks, id, target, port);
    assert_true(i != (size_t)-1);
    r->checks.items[i].outcome = o;
    snprintf(r->checks.items[i].path, sizeof r->checks.items[i].path, "direct");
    snprintf(r->checks.items[i].summary, sizeof r->checks.items[i].summary, "%s %s", id, outcome_name(o));
    return &r->checks.items[i];
}

static const struct check *get(const struct run *r, const char *id, const char *target, int port)
{
    const struct check *c = checks_find(&r->checks, id, target, port);
    assert_non_null(c);
    return c;
}

static void test_platform_is_never_an_nsg(void **state)
{
    struct run *r = &((struct fixture *)*state)->run;
    add(r, "wireserver.http", "168.63.129.16", 80, OUT_TIMEOUT);
    add(r, "wireserver.hostgaplugin", "168.63.129.16", 32526, OUT_OK);
    grade_run(r);
    blame_run(r);
    const struct check *ws = get(r, "wireserver.http", NULL, 80);
    assert_non_null(ws->blame);
    assert_non_null(strstr(ws->blame->source, "guest"));
    assert_non_null(strstr(ws->blame->verdict, "not an NSG"));
    assert_int_equal(ws->blame->priority, 0);
    assert_string_equal(ws->blame->rule, "");
    assert_null(get(r, "wireserver.hostgaplugin", NULL, 32526)->blame); /* a pass is never blamed */
}

static void test_signatures(void **state)
{
    struct run *r = &((struct fixture *)*state)->run;
    add(r, "wireserver.http", "168.63.129.16", 80, OUT_OK);
    add(r, "wireserver.hostgaplugin", "168.63.129.16", 32526, OUT_OK);
    add(r, "dns.system", ACCT, 0, OUT_OK);
    struct check *drop = add(r, "net.tcp", ACCT, 443, OUT_TIMEOUT);
    check_ev(drop, "remote_address", "20.60.1.2");
    check_ev(drop, "target_from", "agent goal state, status blob (/var/lib/waagent/history/x/ExtensionsConfig.xml)");
    add(r, "net.tcp", ACCT, 8443, OUT_REFUSED);
    add(r, "net.tcp", "other.blob.core.windows.net", 443, OUT_UNREACHABLE);
    add(r, "net.tls", "sni.blob.core.windows.net", 443, OUT_RESET_AFTER_HELLO);
    add(r, "net.https", "acctfw.blob.core.windows.net", 443, OUT_STORAGE_FIREWALL);
    grade_run(r);
    blame_run(r);
    const struct blame *b = get(r, "net.tcp", ACCT, 443)->blame;
    assert_non_null(b);
    assert_non_null(strstr(b->source, "inference"));
    assert_non_null(strstr(b->verdict, "silent drop on the way to 20.60.1.2:443"));
    assert_non_null(strstr(b->commands, "-g rg-backup-demo --vm-name vm-backup-01"));
    assert_non_null(strstr(b->commands, "list-effective-nsg"));
    b = get(r, "net.tcp", ACCT, 8443)->blame;
    assert_non_null(strstr(b->verdict, "never reset"));
    b = get(r, "net.tcp", "other.blob.core.windows.net", 443)->blame;
    assert_non_null(strstr(b->verdict, "ICMP unreachable"));
    b = get(r, "net.tls", "sni.blob.core.windows.net", 443)->blame;
    assert_non_null(strstr(b->verdict, "host-name filtering firewall"));
    assert_non_null(strstr(b->fix, ACCT ":443 (agent goal state, status blob"));
    assert_non_null(strstr(b->fix, "required"));
    b = get(r, "net.https", "acctfw.blob.core.windows.net", 443)->blame;
    assert_non_null(strstr(b->verdict, "storage account"));
}

static void test_dns_and_proxy(void **state)
{
    struct run *r = &((struct fixture *)*state)->run;
    add(r, "wireserver.http", "168.63.129.16", 80, OUT_OK);
    add(r, "wireserver.hostgaplugin", "168.63.129.16", 32526, OUT_OK);
    add(r, "dns.system", ACCT, 0, OUT_NXDOMAIN);
    struct check *p = add(r, "net.tcp", ACCT, 443, OUT_PROXY_AUTH);
    snprintf(p->path, sizeof p->path, "proxy http://proxy.corp.example:3128");
    grade_run(r);
    blame_run(r);
    assert_non_null(strstr(get(r, "dns.system", ACCT, -1)->blame->fix, "168.63.129.16"));
    const struct blame *b = get(r, "net.tcp", ACCT, 443)->blame;
    assert_string_equal(b->source, "proxy");
    assert_non_null(strstr(b->fix, "does not require authentication"));
}

/* With exports: the fixture VM's NIC NSG denies Internet at 4000; its subnet routes 0/0 to an NVA. */
static void test_exports_name_the_rule(void **state)
{
    struct run *r = &((struct fixture *)*state)->run;
    struct config *cfg = &((struct fixture *)*state)->cfg;
    cfg->nsg_files[cfg->nnsg++] = strdup("tests/fixtures/azure-json/nic-effective-nsg.json");
    snprintf(cfg->routes_file, sizeof cfg->routes_file, "tests/fixtures/azure-json/nic-effective-routes.json");
    char err[512];
    assert_int_equal(exports_load(cfg, &r->exports, err, sizeof err), 0);
    assert_non_null(strstr(r->exports.inputs, "nic-effective-nsg.json"));
    snprintf(r->facts.cloud, sizeof r->facts.cloud, "AzureCloud");
    snprintf(r->facts.imds.private_ip, sizeof r->facts.imds.private_ip, "10.0.1.4");
    add(r, "wireserver.http", "168.63.129.16", 80, OUT_TIMEOUT);
    add(r, "wireserver.hostgaplugin", "168.63.129.16", 32526, OUT_OK);
    add(r, "dns.system", ACCT, 0, OUT_OK);
    struct check *c = add(r, "net.tcp", ACCT, 443, OUT_TIMEOUT);
    check_ev(c, "remote_address", "13.70.208.17"); /* in Storage.NorthEurope */
    struct check *ok = add(r, "net.tcp", "passing.blob.core.windows.net", 443, OUT_OK);
    check_ev(ok, "remote_address", "13.70.208.18");
    grade_run(r);
    blame_run(r);
    const struct blame *b = get(r, "net.tcp", ACCT, 443)->blame;
    assert_non_null(b);
    assert_string_equal(b->source, "effective NSG export");
    assert_string_equal(b->rule, "securityRules/DenyInternetOutbound");
    assert_int_equal(b->priority, 4000);
    assert_string_equal(b->access, "Deny");
    assert_string_equal(b->association, "NIC");
    assert_true(strncmp(b->tags, "Storage.NorthEurope, Storage", 28) == 0);
    assert_non_null(strstr(b->fix, "to Storage.NorthEurope in NSG nsg-vm-backup-01-nic (NIC) with a priority number lower than 4000"));
    /* the platform address is still the guest's, exports or not */
    assert_non_null(strstr(get(r, "wireserver.http", NULL, 80)->blame->source, "guest"));
    /* a flow that worked although the exports deny it */
    assert_non_null(check_ev_get(get(r, "net.tcp", "passing.blob.core.windows.net", 443), "contradiction"));
    exports_free(&r->exports);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_platform_is_never_an_nsg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signatures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dns_and_proxy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exports_name_the_rule, setup, teardown),
    };
    return cmocka_run_group_tests_name("blame", tests, NULL, NULL);
}
