/* Platform endpoints, always direct (never a proxy): WireServer :80, HostGAPlugin :32526, IMDS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/engine.h"
#include "probe/http.h"
#include "probe/probes.h"
#include "targets/plan.h"

#define IMDS_API "2021-02-01"

struct host_probe {
    struct run *run;
    enum host_kind kind;
    size_t check, job;
    char addr[64];
    int port;
    struct http_xfer *xfer;
};

static void imds_facts(struct run *r, struct check *c, const struct http_result *res)
{
    char err[128];
    if (!imds_parse(res->body, res->body_len, &r->facts.imds, err, sizeof err)) {
        c->outcome = OUT_BAD_BODY;
        check_summary(c, "IMDS answered 200 but the instance metadata is unusable: %s", err);
        return;
    }
    const struct imds_info *m = &r->facts.imds;
    r->facts.imds_ok = true;
    check_ev(c, "location", "%s", m->location);
    check_ev(c, "az_environment", "%s", m->az_environment);
    check_ev(c, "vm_id", "%s", m->vm_id);
    if (m->private_ip[0])
        check_ev(c, "private_ip", "%s", m->private_ip);
    if (m->subnet[0])
        check_ev(c, "subnet", "%s", m->subnet);
    if (m->mac[0])
        check_ev(c, "mac", "%s", m->mac);
    check_ev(c, "disks", "%s", m->unmanaged_disks ? "unmanaged (storage account VHDs)" : "managed");
    check_summary(c, "IMDS: VM %s in %s (%s), private IP %s", m->name[0] ? m->name : "?",
                  m->location[0] ? m->location : "?", m->az_environment[0] ? m->az_environment : "?",
                  m->private_ip[0] ? m->private_ip : "?");
}

static void on_done(struct http_xfer *x, void *arg)
{
    struct host_probe *p = arg;
    struct run *r = p->run;
    const struct http_result *res = http_result(x);
    struct job *j = engine_job(r->engine, p->job);
    struct check *c = &r->checks.items[p->check];
    struct layer l;
    classify_host(res, p->kind, p->addr, p->port, &l);
    c->outcome = l.outcome;
    c->duration_ms = (long)(engine_now_ms() - j->started_ms);
    snprintf(c->summary, sizeof c->summary, "%s", l.summary);
    probe_record_transfer(c, res, p->addr);
    probe_record_response(r, c, res);
    run_progress(r, c);
    if (p->kind == HOST_IMDS && l.outcome == OUT_OK)
        imds_facts(r, &r->checks.items[p->check], res);
    p->xfer = NULL;
    http_xfer_free(x);
    if (p->kind == HOST_IMDS)
        plan_after_imds(r); /* with or without metadata: region, cloud and late targets */
    /* planning may have grown the job and check arrays: look the job up again */
    engine_job_done(r->engine, engine_job(r->engine, p->job));
}

static void start(struct engine *e, struct job *j)
{
    struct host_probe *p = j->ctx;
    struct run *r = p->run;
    struct http_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.timeout_ms = r->cfg->timeout_ms;
    spec.body_cap = 4096;
    switch (p->kind) {
    case HOST_WIRESERVER:
        snprintf(spec.url, sizeof spec.url, "http://%s/?comp=versions", p->addr);
        spec.headers[0] = "x-ms-version: 2012-11-30";
        break;
    case HOST_HOSTGAPLUGIN:
        snprintf(spec.url, sizeof spec.url, "http://%s:%d/health", p->addr, p->port);
        break;
    case HOST_IMDS:
        snprintf(spec.url, sizeof spec.url, "%s/metadata/instance?api-version=" IMDS_API, r->cfg->imds);
        spec.headers[0] = "Metadata: true";
        spec.body_cap = 256 * 1024;
        break;
    }
    check_ev(&r->checks.items[p->check], "url", "%s", spec.url);
    p->xfer = http_start(r->http, &spec, on_done, p);
    if (!p->xfer) {
        struct check *c = &r->checks.items[p->check];
        c->outcome = OUT_ERROR;
        check_summary(c, "could not start the request (out of memory)");
        engine_job_done(e, j);
    }
}

static void cancel(struct engine *e, struct job *j)
{
    (void)e;
    struct host_probe *p = j->ctx;
    http_cancel(p->xfer);
}

static const struct job_ops host_ops = {"host", start, cancel};

/* host[:port] of the IMDS base URL, for the report. */
static void imds_hostport(const char *url, char *addr, size_t size, int *port)
{
    const char *h = url + 7; /* cli.c guarantees http:// */
    size_t n = strcspn(h, ":/");
    snprintf(addr, size, "%.*s", (int)(n < size ? n : size - 1), h);
    *port = h[n] == ':' ? (int)strtol(h + n + 1, NULL, 10) : 80;
}

size_t probe_host_add(struct run *r, enum host_kind kind)
{
    static const char *const ids[] = {"wireserver.http", "wireserver.hostgaplugin", "imds.instance"};
    struct host_probe *p = calloc(1, sizeof *p);
    if (!p)
        return (size_t)-1;
    run_own(r, p);
    p->run = r;
    p->kind = kind;
    if (kind == HOST_IMDS) {
        imds_hostport(r->cfg->imds, p->addr, sizeof p->addr, &p->port);
    } else {
        snprintf(p->addr, sizeof p->addr, "%s", r->facts.wireserver);
        p->port = kind == HOST_WIRESERVER ? 80 : 32526;
    }
    p->check = checks_add(&r->checks, ids[kind], p->addr, p->port);
    if (p->check == (size_t)-1)
        return (size_t)-1;
    snprintf(r->checks.items[p->check].path, sizeof r->checks.items[p->check].path, "direct");
    p->job = engine_add(r->engine, &host_ops, p, NULL, 0);
    return p->job;
}
