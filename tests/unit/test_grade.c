/* Unit tests: probe/grade.c (what is required, warn or fail, and the derived checks). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/cli.h"
#include "probe/grade.h"

#define ACCT "acct1.blob.core.windows.net"
#define WS "168.63.129.16"

struct fixture {
    struct config cfg;
    struct run run;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    char *argv[] = {(char *)"azbprobe", NULL};
    char err[256];
    if (cli_parse(1, argv, &f->cfg, err, sizeof err) != 0) {
        config_free(&f->cfg);
        free(f);
        return -1;
    }
    memset(&f->run, 0, sizeof f->run);
    f->run.cfg = &f->cfg;
    f->run.imds_job = (size_t)-1;
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

static size_t add(struct run *r, const char *id, const char *target, int port, enum outcome o)
{
    size_t i = checks_add(&r->checks, id, target, port);
    assert_true(i != (size_t)-1);
    r->checks.items[i].outcome = o;
    snprintf(r->checks.items[i].summary, sizeof r->checks.items[i].summary, "%s %s", id, outcome_name(o));
    return i;
}

static void add_host_path(struct run *r, enum outcome wire, enum outcome plugin)
{
    add(r, "wireserver.http", WS, 80, wire);
    add(r, "wireserver.hostgaplugin", WS, 32526, plugin);
}

/* Storage host checks on one port: DNS, TCP, TLS, HTTPS. */
static void add_storage(struct run *r, int port, enum outcome tcp, enum outcome tls, enum outcome https)
{
    if (!checks_find(&r->checks, "dns.system", ACCT, -1))
        add(r, "dns.system", ACCT, 0, OUT_OK);
    add(r, "net.tcp", ACCT, port, tcp);
    add(r, "net.tls", ACCT, port, tls);
    add(r, "net.https", ACCT, port, https);
}

static const struct check *get(const struct run *r, const char *id, int port)
{
    const struct check *c = checks_find(&r->checks, id, NULL, port);
    assert_non_null(c);
    return c;
}

static void test_host_ok_storage_timeout_warns(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_OK);
    add_storage(r, 443, OUT_TIMEOUT, OUT_SKIPPED, OUT_SKIPPED);
    grade_run(r);
    const struct check *tcp = get(r, "net.tcp", 443);
    assert_int_equal(tcp->status, STATUS_WARN);
    assert_false(tcp->required);
    assert_true(tcp->graded);
    assert_true(tcp->why[0] != '\0');
    assert_int_equal(get(r, "wireserver.http", 80)->status, STATUS_PASS);
    assert_true(get(r, "wireserver.http", 80)->required);
    assert_int_equal(get(r, "wireserver.hostgaplugin", 32526)->status, STATUS_PASS);
    assert_true(get(r, "wireserver.hostgaplugin", 32526)->required);
    assert_int_equal(get(r, "net.tls", 443)->status, STATUS_SKIP);
    assert_false(get(r, "net.tls", 443)->required);
    assert_int_equal(grade_verdict(&r->checks), STATUS_WARN);
    assert_int_equal(grade_exit_code(&r->checks), 0);
    for (size_t i = 0; i < r->checks.count; i++)
        assert_true(r->checks.items[i].graded);
}

static void test_host_fails_storage_required(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_TIMEOUT, OUT_TIMEOUT);
    add_storage(r, 443, OUT_TIMEOUT, OUT_SKIPPED, OUT_SKIPPED);
    add_storage(r, 8443, OUT_TIMEOUT, OUT_SKIPPED, OUT_SKIPPED);
    grade_run(r);
    const struct check *tcp = get(r, "net.tcp", 443);
    assert_int_equal(tcp->status, STATUS_FAIL);
    assert_true(tcp->required);
    const struct check *ws = get(r, "wireserver.http", 80);
    assert_int_equal(ws->status, STATUS_FAIL);
    assert_true(ws->required);
    assert_int_equal(get(r, "wireserver.hostgaplugin", 32526)->status, STATUS_FAIL);
    const struct check *alt = get(r, "net.tcp", 8443);
    assert_int_equal(alt->status, STATUS_WARN);
    assert_false(alt->required);
    assert_int_equal(grade_verdict(&r->checks), STATUS_FAIL);
    assert_int_equal(grade_exit_code(&r->checks), 1);
}

static void test_host_half_fails_storage_required(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_REFUSED);
    add_storage(r, 443, OUT_OK, OUT_UNTRUSTED, OUT_SKIPPED);
    grade_run(r);
    assert_int_equal(get(r, "wireserver.http", 80)->status, STATUS_PASS);
    assert_int_equal(get(r, "wireserver.hostgaplugin", 32526)->status, STATUS_FAIL);
    assert_int_equal(get(r, "net.tcp", 443)->status, STATUS_PASS);
    assert_true(get(r, "net.tcp", 443)->required);
    assert_int_equal(get(r, "net.tls", 443)->status, STATUS_FAIL);
    assert_true(get(r, "net.tls", 443)->required);
    assert_int_equal(grade_exit_code(&r->checks), 1);
}

static void test_port_8443_only_warns(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_OK);
    add_storage(r, 443, OUT_OK, OUT_OK, OUT_OK);
    add_storage(r, 8443, OUT_REFUSED, OUT_SKIPPED, OUT_SKIPPED);
    grade_run(r);
    assert_int_equal(get(r, "net.tcp", 8443)->status, STATUS_WARN);
    assert_false(get(r, "net.tcp", 8443)->required);
    assert_non_null(strstr(get(r, "net.tcp", 8443)->why, "8443"));
    assert_int_equal(get(r, "net.tcp", 443)->status, STATUS_PASS);
    assert_int_equal(get(r, "net.https", 443)->status, STATUS_PASS);
    assert_false(get(r, "net.https", 443)->required);
    assert_int_equal(grade_exit_code(&r->checks), 0);
}

static void test_unmanaged_disks_require_storage(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    r->facts.imds_ok = true;
    r->facts.imds.unmanaged_disks = true;
    add_host_path(r, OUT_OK, OUT_OK);
    add_storage(r, 443, OUT_TIMEOUT, OUT_SKIPPED, OUT_SKIPPED);
    add_storage(r, 8443, OUT_TIMEOUT, OUT_SKIPPED, OUT_SKIPPED);
    grade_run(r);
    const struct check *tcp = get(r, "net.tcp", 443);
    assert_int_equal(tcp->status, STATUS_FAIL);
    assert_true(tcp->required);
    assert_non_null(strstr(tcp->why, "unmanaged"));
    assert_true(get(r, "dns.system", 0)->required);
    assert_int_equal(get(r, "net.tcp", 8443)->status, STATUS_WARN);
    assert_int_equal(grade_exit_code(&r->checks), 1);
}

static void test_unmanaged_needs_imds_ok(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    r->facts.imds_ok = false;
    r->facts.imds.unmanaged_disks = true;
    add_host_path(r, OUT_OK, OUT_OK);
    add_storage(r, 443, OUT_TIMEOUT, OUT_SKIPPED, OUT_SKIPPED);
    grade_run(r);
    assert_int_equal(get(r, "net.tcp", 443)->status, STATUS_WARN);
    assert_false(get(r, "net.tcp", 443)->required);
}

static void test_storage_firewall_warns(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_TIMEOUT, OUT_TIMEOUT);
    add_storage(r, 443, OUT_OK, OUT_OK, OUT_STORAGE_FIREWALL);
    grade_run(r);
    const struct check *h = get(r, "net.https", 443);
    assert_int_equal(h->status, STATUS_WARN);
    assert_false(h->required);
    assert_int_equal(h->outcome, OUT_STORAGE_FIREWALL);
    assert_non_null(strstr(h->why, "firewall"));
}

static void test_skipped_is_skip(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_TIMEOUT, OUT_SKIPPED);
    add_storage(r, 443, OUT_REFUSED, OUT_SKIPPED, OUT_SKIPPED);
    grade_run(r);
    assert_int_equal(get(r, "wireserver.hostgaplugin", 32526)->status, STATUS_SKIP);
    assert_false(get(r, "wireserver.hostgaplugin", 32526)->required);
    assert_int_equal(get(r, "net.tls", 443)->status, STATUS_SKIP);
    assert_false(get(r, "net.tls", 443)->required);
    assert_int_equal(get(r, "net.https", 443)->status, STATUS_SKIP);
    assert_int_equal(get(r, "net.tcp", 443)->status, STATUS_FAIL);
}

static void test_custom_dns_summary(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_OK);
    add(r, "dns.system", ACCT, 0, OUT_NXDOMAIN);
    size_t az = add(r, "dns.azure", ACCT, 0, OUT_OK);
    check_ev(&r->checks.items[az], "addresses", "20.60.1.2");
    add(r, "dns.system", "other.blob.core.windows.net", 0, OUT_SERVFAIL);
    add(r, "dns.azure", "other.blob.core.windows.net", 0, OUT_SERVFAIL);
    grade_run(r);
    const struct check *sys = checks_find(&r->checks, "dns.system", ACCT, -1);
    assert_non_null(sys);
    assert_non_null(strstr(sys->summary, "custom DNS"));
    assert_non_null(strstr(sys->summary, "20.60.1.2"));
    assert_non_null(strstr(sys->summary, "dns.system nxdomain"));
    assert_int_equal(sys->status, STATUS_WARN);
    const struct check *azc = checks_find(&r->checks, "dns.azure", ACCT, -1);
    assert_int_equal(azc->status, STATUS_PASS);
    assert_false(azc->required);
    const struct check *other = checks_find(&r->checks, "dns.system", "other.blob.core.windows.net", -1);
    assert_non_null(other);
    assert_null(strstr(other->summary, "custom DNS"));
    assert_string_equal(other->summary, "dns.system servfail");
    assert_int_equal(get(r, "dns.azure", 0)->status, STATUS_PASS);
}

static void test_custom_dns_summary_host_path_down(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_TIMEOUT, OUT_TIMEOUT);
    add(r, "dns.system", ACCT, 0, OUT_NXDOMAIN);
    add(r, "dns.azure", ACCT, 0, OUT_OK);
    grade_run(r);
    const struct check *sys = checks_find(&r->checks, "dns.system", ACCT, -1);
    assert_non_null(strstr(sys->summary, "custom DNS"));
    assert_int_equal(sys->status, STATUS_FAIL);
    assert_true(sys->required);
}

static void test_clock_skew(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_OK);
    add_storage(r, 443, OUT_OK, OUT_OK, OUT_OK);
    r->facts.have_clock = true;
    r->facts.clock_skew_s = 600;
    snprintf(r->facts.clock_from, sizeof r->facts.clock_from, "Date from " WS);
    grade_run(r);
    const struct check *c = get(r, "clock.skew", -1);
    assert_int_equal(c->outcome, OUT_CLOCK_SKEW);
    assert_int_equal(c->status, STATUS_WARN);
    assert_false(c->required);
    assert_non_null(strstr(c->summary, "600"));
    assert_non_null(strstr(c->summary, "behind"));
    assert_string_equal(check_ev_get(c, "skew_seconds"), "600");
    assert_non_null(strstr(check_ev_get(c, "compared_with"), WS));
    assert_int_equal(grade_verdict(&r->checks), STATUS_WARN);
}

static void test_clock_ahead_and_within(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    r->facts.have_clock = true;
    r->facts.clock_skew_s = -301;
    grade_run(r);
    const struct check *c = get(r, "clock.skew", -1);
    assert_int_equal(c->outcome, OUT_CLOCK_SKEW);
    assert_non_null(strstr(c->summary, "ahead"));
    checks_free(&r->checks);

    r->facts.clock_skew_s = CLOCK_SKEW_LIMIT_S;
    grade_run(r);
    c = get(r, "clock.skew", -1);
    assert_int_equal(c->outcome, OUT_OK);
    assert_int_equal(c->status, STATUS_PASS);
    checks_free(&r->checks);

    r->facts.have_clock = false;
    grade_run(r);
    c = get(r, "clock.skew", -1);
    assert_int_equal(c->status, STATUS_SKIP);
    assert_true(c->summary[0] != '\0');
}

static void test_no_storage_targets(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_OK);
    grade_run(r);
    const struct check *t = get(r, "storage.targets", -1);
    assert_int_equal(t->status, STATUS_WARN);
    assert_false(t->required);
    assert_non_null(strstr(t->summary, "--storage-account"));
    assert_int_equal(grade_exit_code(&r->checks), 0);
}

static void test_storage_targets_absent_with_dns(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_OK);
    add_storage(r, 443, OUT_OK, OUT_OK, OUT_OK);
    grade_run(r);
    assert_null(checks_find(&r->checks, "storage.targets", NULL, -1));
    assert_int_equal(grade_verdict(&r->checks), STATUS_PASS);
}

static void test_wireserver_source_address(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    r->facts.imds_ok = true;
    snprintf(r->facts.imds.private_ip, sizeof r->facts.imds.private_ip, "10.0.1.4");
    add_host_path(r, OUT_OK, OUT_OK);
    check_ev(&r->checks.items[0], "local_address", "10.0.2.5");
    check_ev(&r->checks.items[1], "local_address", "10.0.1.4");
    add_storage(r, 443, OUT_OK, OUT_OK, OUT_OK);
    grade_run(r);
    const struct check *ws = get(r, "wireserver.http", 80);
    assert_int_equal(ws->status, STATUS_WARN);
    assert_true(ws->required);
    assert_non_null(check_ev_get(ws, "expected_source"));
    assert_non_null(strstr(check_ev_get(ws, "expected_source"), "10.0.1.4"));
    assert_non_null(strstr(ws->why, "10.0.2.5"));
    const struct check *plugin = get(r, "wireserver.hostgaplugin", 32526);
    assert_int_equal(plugin->status, STATUS_PASS);
    assert_null(check_ev_get(plugin, "expected_source"));
    assert_int_equal(grade_verdict(&r->checks), STATUS_WARN);
}

static void test_imds_source_address(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    snprintf(r->facts.imds.private_ip, sizeof r->facts.imds.private_ip, "10.0.1.4");
    add_host_path(r, OUT_OK, OUT_OK);
    size_t i = add(r, "imds.instance", "169.254.169.254", 80, OUT_OK);
    check_ev(&r->checks.items[i], "local_address", "10.0.3.9");
    size_t s = add(r, "net.tcp", ACCT, 443, OUT_OK);
    check_ev(&r->checks.items[s], "local_address", "10.0.3.9");
    add(r, "dns.system", ACCT, 0, OUT_OK);
    grade_run(r);
    const struct check *imds = get(r, "imds.instance", 80);
    assert_int_equal(imds->status, STATUS_WARN);
    assert_false(imds->required);
    assert_non_null(strstr(check_ev_get(imds, "expected_source"), "10.0.1.4"));
    assert_non_null(strstr(imds->why, "169.254.169.254"));
    const struct check *tcp = get(r, "net.tcp", 443);
    assert_int_equal(tcp->status, STATUS_PASS);
    assert_null(check_ev_get(tcp, "expected_source"));
}

static void test_no_private_ip_no_source_check(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_OK);
    check_ev(&r->checks.items[0], "local_address", "10.0.2.5");
    add(r, "dns.system", ACCT, 0, OUT_OK);
    grade_run(r);
    const struct check *ws = get(r, "wireserver.http", 80);
    assert_int_equal(ws->status, STATUS_PASS);
    assert_null(check_ev_get(ws, "expected_source"));
}

static void test_wireserver_source_failing_stays_fail(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    snprintf(r->facts.imds.private_ip, sizeof r->facts.imds.private_ip, "10.0.1.4");
    add_host_path(r, OUT_TIMEOUT, OUT_OK);
    check_ev(&r->checks.items[0], "local_address", "10.0.2.5");
    grade_run(r);
    const struct check *ws = get(r, "wireserver.http", 80);
    assert_int_equal(ws->status, STATUS_FAIL);
    assert_non_null(check_ev_get(ws, "expected_source"));
}

static void test_informational_checks(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_OK, OUT_OK);
    add_storage(r, 443, OUT_OK, OUT_OK, OUT_OK);
    add(r, "imds.instance", "169.254.169.254", 80, OUT_TIMEOUT);
    grade_run(r);
    const struct check *imds = get(r, "imds.instance", 80);
    assert_int_equal(imds->status, STATUS_WARN);
    assert_false(imds->required);
    assert_int_equal(grade_exit_code(&r->checks), 0);
}

static void test_verdict_order(void **state)
{
    (void)state;
    struct check items[3];
    struct check_list l = {items, 0, 3};
    memset(items, 0, sizeof items);
    assert_int_equal(grade_verdict(&l), STATUS_PASS);
    l.count = 3;
    items[0].status = STATUS_PASS;
    items[1].status = STATUS_SKIP;
    items[2].status = STATUS_PASS;
    assert_int_equal(grade_verdict(&l), STATUS_PASS);
    items[1].status = STATUS_WARN;
    assert_int_equal(grade_verdict(&l), STATUS_WARN);
    assert_int_equal(grade_exit_code(&l), 0);
    items[0].status = STATUS_FAIL;
    assert_int_equal(grade_verdict(&l), STATUS_FAIL);
    assert_int_equal(grade_exit_code(&l), 1);
}

/* One consumer's path to ACCT:port, starting at check index first. */
static void add_consumer(struct run *r, enum consumer who, int port, size_t first)
{
    struct consumer_path *cp = run_add_consumer(r);
    assert_non_null(cp);
    snprintf(cp->target, sizeof cp->target, "%s", ACCT);
    cp->port = port;
    cp->consumer = who;
    snprintf(cp->path, sizeof cp->path, "%s", r->checks.items[first].path);
    cp->first_check = first;
}

static void set_path(struct run *r, size_t first, const char *path)
{
    for (size_t k = first; k < first + 3; k++)
        snprintf(r->checks.items[k].path, sizeof r->checks.items[k].path, "%s", path);
}

/* The backup verdict follows the backup extension's path: a dead direct path it does not take
 * only warns, even when the host path fails. */
static void test_backup_follows_extension_path(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_TIMEOUT, OUT_TIMEOUT);
    add_storage(r, 443, OUT_TIMEOUT, OUT_SKIPPED, OUT_SKIPPED);
    size_t direct = r->checks.count - 3;
    set_path(r, direct, "direct");
    add_storage(r, 443, OUT_OK, OUT_OK, OUT_OK);
    size_t proxied = r->checks.count - 3;
    set_path(r, proxied, "proxy http://proxy.corp.example:443");
    add_consumer(r, CONSUMER_AGENT, 443, direct);
    add_consumer(r, CONSUMER_BACKUP, 443, proxied);
    add_consumer(r, CONSUMER_CLIENT, 443, direct);
    grade_run(r);
    assert_int_equal(r->checks.items[direct].status, STATUS_WARN);
    assert_false(r->checks.items[direct].required);
    assert_non_null(strstr(r->checks.items[direct].why, "proxy http://proxy.corp.example:443"));
    assert_int_equal(r->checks.items[proxied].status, STATUS_PASS);
    assert_true(r->checks.items[proxied].required);
    assert_int_equal(r->consumers[0].status, STATUS_WARN);
    assert_non_null(strstr(r->consumers[0].summary, "net.tcp"));
    assert_int_equal(r->consumers[1].status, STATUS_PASS);
    assert_int_equal(r->consumers[2].status, STATUS_WARN);
    /* DNS through the VM's resolvers does not matter to a proxied extension */
    assert_false(get(r, "dns.system", -1)->required);
    /* the WireServer still fails the run */
    assert_int_equal(grade_verdict(&r->checks), STATUS_FAIL);
}

/* And the other way round: the extension goes direct and direct is dead: its failure is the run's. */
static void test_backup_direct_fails_with_host_path(void **state)
{
    struct fixture *f = *state;
    struct run *r = &f->run;
    add_host_path(r, OUT_TIMEOUT, OUT_OK);
    add_storage(r, 443, OUT_TIMEOUT, OUT_SKIPPED, OUT_SKIPPED);
    size_t direct = r->checks.count - 3;
    set_path(r, direct, "direct");
    add_storage(r, 443, OUT_PROXY_AUTH, OUT_SKIPPED, OUT_SKIPPED);
    size_t proxied = r->checks.count - 3;
    set_path(r, proxied, "proxy http://azbp:***@proxy-auth.corp.example:3128");
    add_consumer(r, CONSUMER_BACKUP, 443, direct);
    add_consumer(r, CONSUMER_CLIENT, 443, proxied);
    grade_run(r);
    assert_int_equal(r->checks.items[direct].status, STATUS_FAIL);
    assert_true(r->checks.items[direct].required);
    assert_int_equal(r->checks.items[proxied].status, STATUS_WARN);
    assert_int_equal(r->consumers[0].status, STATUS_FAIL);
    assert_int_equal(r->consumers[1].status, STATUS_WARN);
    assert_int_equal(grade_exit_code(&r->checks), 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_host_ok_storage_timeout_warns),
        T(test_host_fails_storage_required),
        T(test_host_half_fails_storage_required),
        T(test_port_8443_only_warns),
        T(test_unmanaged_disks_require_storage),
        T(test_unmanaged_needs_imds_ok),
        T(test_storage_firewall_warns),
        T(test_skipped_is_skip),
        T(test_custom_dns_summary),
        T(test_custom_dns_summary_host_path_down),
        T(test_clock_skew),
        T(test_clock_ahead_and_within),
        T(test_no_storage_targets),
        T(test_storage_targets_absent_with_dns),
        T(test_wireserver_source_address),
        T(test_imds_source_address),
        T(test_no_private_ip_no_source_check),
        T(test_wireserver_source_failing_stays_fail),
        T(test_informational_checks),
        cmocka_unit_test(test_verdict_order),
        T(test_backup_follows_extension_path),
        T(test_backup_direct_fails_with_host_path),
    };
    return cmocka_run_group_tests_name("grade", tests, NULL, NULL);
}
