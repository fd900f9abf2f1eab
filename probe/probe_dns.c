#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/engine.h"
#include "probe/netinfo.h"
#include "probe/probes.h"

struct dns_probe {
    struct run *run;
    bool azure;
    char host[256];
    size_t check;
    size_t job;
    bool answered;
    struct dns_answer answer;
};

static const char *resolver_label(const struct dns_probe *p)
{
    return p->azure ? p->run->facts.wireserver : p->run->facts.resolvers;
}

static void describe(struct check *c, const struct dns_probe *p, const struct dns_answer *a)
{
    const char *who = p->azure ? "Azure DNS" : "the VM's resolvers";
    switch (a->outcome) {
    case OUT_OK:
        if (a->canonical[0])
            check_summary(c, "%s resolves to %s via %s (canonical %s)", p->host, a->addrs, who, a->canonical);
        else
            check_summary(c, "%s resolves to %s via %s", p->host, a->addrs, who);
        return;
    case OUT_NXDOMAIN:
        check_summary(c, "%s does not exist (NXDOMAIN) according to %s", p->host, who);
        return;
    case OUT_SERVFAIL:
        check_summary(c, "%s: SERVFAIL from %s (the server failed to resolve it, e.g. a broken forwarder)",
                      p->host, who);
        return;
    case OUT_REFUSED_DNS:
        check_summary(c, "%s: %s REFUSED the query (not allowed to recurse for this VM or zone)", p->host, who);
        return;
    case OUT_NODATA:
        check_summary(c, "%s exists but has no IPv4 address (NOERROR, no A record) at %s", p->host, who);
        return;
    case OUT_TIMEOUT:
        check_summary(c, "%s: no answer from %s within the timeout (UDP/TCP 53 dropped?)", p->host, who);
        return;
    case OUT_REFUSED:
        check_summary(c, "%s: %s unreachable on port 53 (ICMP port unreachable: nothing listens)", p->host, who);
        return;
    default:
        check_summary(c, "%s: lookup via %s failed: %s", p->host, who, a->error);
        return;
    }
}

static void on_answer(void *arg, const struct dns_answer *a)
{
    struct dns_probe *p = arg;
    struct job *j = engine_job(p->run->engine, p->job);
    if (!j || j->state != JOB_RUNNING)
        return; /* already timed out, or the resolver is being destroyed */
    struct check *c = &p->run->checks.items[p->check];
    p->answer = *a;
    p->answered = true;
    c->outcome = a->outcome;
    c->duration_ms = (long)(engine_now_ms() - j->started_ms);
    check_ev(c, "resolver", "%s", resolver_label(p));
    char src[64], ifname[64];
    const char *server = p->azure ? p->run->facts.wireserver : p->run->facts.first_resolver;
    if (netinfo_route_source(server, src, sizeof src)) {
        check_ev(c, "local_address", "%s", src);
        if (netinfo_ifname(src, ifname, sizeof ifname))
            check_ev(c, "interface", "%s", ifname);
    }
    if (a->outcome == OUT_OK) {
        check_ev(c, "addresses", "%s", a->addrs);
        if (a->chain[0])
            check_ev(c, "cname_chain", "%s", a->chain);
        if (a->canonical[0])
            check_ev(c, "canonical_name", "%s", a->canonical);
        check_ev(c, "ttl", "%d", a->ttl);
    } else {
        check_ev(c, "error", "%s", a->error);
    }
    describe(c, p, a);
    run_progress(p->run, c);
    engine_job_done(p->run->engine, j);
}

static void start(struct engine *e, struct job *j)
{
    struct dns_probe *p = j->ctx;
    struct dns_resolver *res = p->azure ? p->run->dns_azure : p->run->dns_system;
    struct check *c = &p->run->checks.items[p->check];
    if (!res) {
        c->outcome = OUT_ERROR;
        check_summary(c, "%s: no resolver to ask: %s", p->host, p->run->dns_system_error);
        engine_job_done(e, j);
        return;
    }
    if (dns_lookup(res, p->host, on_answer, p) != 0) {
        c->outcome = OUT_ERROR;
        check_summary(c, "%s: lookup could not start (out of memory)", p->host);
        engine_job_done(e, j);
    }
}

static void cancel(struct engine *e, struct job *j)
{
    struct dns_probe *p = j->ctx;
    struct dns_answer a;
    memset(&a, 0, sizeof a);
    a.outcome = OUT_TIMEOUT;
    snprintf(a.error, sizeof a.error, "no answer within the probe timeout");
    on_answer(p, &a);
    if (j->state == JOB_RUNNING)
        engine_job_done(e, j);
}

static const struct job_ops dns_ops = {"dns", start, cancel};

size_t probe_dns_add(struct run *r, const char *host, bool azure)
{
    struct dns_probe *p = calloc(1, sizeof *p);
    if (!p)
        return (size_t)-1;
    run_own(r, p);
    p->run = r;
    p->azure = azure;
    snprintf(p->host, sizeof p->host, "%s", host);
    p->check = checks_add(&r->checks, azure ? "dns.azure" : "dns.system", host, 0);
    if (p->check == (size_t)-1)
        return (size_t)-1;
    snprintf(r->checks.items[p->check].path, sizeof r->checks.items[p->check].path, "direct");
    p->job = engine_add(r->engine, &dns_ops, p, NULL, 0);
    return p->job;
}

const struct dns_answer *probe_dns_answer(struct run *r, size_t job)
{
    struct job *j = engine_job(r->engine, job);
    if (!j || j->ops != &dns_ops)
        return NULL;
    const struct dns_probe *p = j->ctx;
    return p->answered ? &p->answer : NULL;
}
