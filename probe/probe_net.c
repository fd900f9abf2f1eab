/* net.tcp / net.tls / net.https: one HTTPS request to a storage endpoint, read layer by layer. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/engine.h"
#include "probe/http.h"
#include "probe/probes.h"

struct net_probe {
    struct run *run;
    char host[256];
    int port;
    bool via_proxy;
    char proxy[600], proxy_userpwd[260], proxy_label[300];
    size_t dns_system_job, dns_azure_job;
    size_t c_tcp, c_tls, c_http;
    size_t job;
    char addr[64];
    struct http_xfer *xfer;
    bool peeking;               /* the second, certificate-only look */
    struct http_result first;   /* the real request's result */
    char body[4097];
};

static void on_done(struct http_xfer *x, void *arg);

static void fill(struct net_probe *p, size_t idx, const struct layer *l, long ms)
{
    struct check *c = &p->run->checks.items[idx];
    c->outcome = l->outcome;
    c->duration_ms = l->outcome == OUT_SKIPPED ? 0 : ms;
    snprintf(c->summary, sizeof c->summary, "%s", l->summary);
}

/* The request itself: pinned to the resolved address, or through the proxy (which resolves). */
static void spec_for(const struct net_probe *p, struct http_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    snprintf(spec->url, sizeof spec->url, "https://%s:%d/", p->host, p->port);
    if (p->via_proxy) {
        snprintf(spec->proxy, sizeof spec->proxy, "%s", p->proxy);
        snprintf(spec->proxy_userpwd, sizeof spec->proxy_userpwd, "%s", p->proxy_userpwd);
    } else {
        snprintf(spec->pin_addr, sizeof spec->pin_addr, "%s", p->addr);
    }
    spec->timeout_ms = p->run->cfg->timeout_ms;
    spec->body_cap = 4096;
}

/* Fill the three checks from the transfer's result, and finish the job. */
static void finalize(struct net_probe *p, const struct http_result *res)
{
    struct run *r = p->run;
    struct job *j = engine_job(r->engine, p->job);
    long ms = (long)(engine_now_ms() - j->started_ms);
    struct net_layers v;
    classify_storage(res, p->host, p->via_proxy ? p->proxy_label : p->addr, p->port, &v);
    /* each layer's own time: connect, then the handshake, then the whole request */
    long tls_ms = res->tls_ms > res->connect_ms ? res->tls_ms - res->connect_ms : 0;
    fill(p, p->c_tcp, &v.tcp, v.tcp.outcome == OUT_OK && res->connect_ms ? res->connect_ms : ms);
    fill(p, p->c_tls, &v.tls, v.tls.outcome == OUT_OK ? tls_ms : ms);
    fill(p, p->c_http, &v.http, v.http.outcome == OUT_OK && res->total_ms ? res->total_ms : ms);
    struct check *tcp = &r->checks.items[p->c_tcp];
    probe_record_transfer(tcp, res, p->via_proxy ? NULL : p->addr);
    if (p->via_proxy) {
        if (res->connect_code)
            check_ev(tcp, "connect_status", "%ld", res->connect_code);
        if (res->proxy_auth[0])
            check_ev(tcp, "proxy_auth_scheme", "%.*s", (int)strcspn(res->proxy_auth, " "), res->proxy_auth);
        if (res->proxy_error[0])
            check_ev(tcp, "proxy_error", "%s", res->proxy_error);
        if (res->proxy_server[0])
            check_ev(tcp, "proxy_server", "%s", res->proxy_server);
    }
    struct check *tls = &r->checks.items[p->c_tls];
    if (res->tls_issuer[0] || res->tls_subject[0]) {
        check_ev(tls, "tls_subject", "%s", res->tls_subject);
        check_ev(tls, "tls_issuer", "%s", res->tls_issuer);
        if (res->tls_chain[0])
            check_ev(tls, "tls_chain", "%s", res->tls_chain);
    }
    if (v.tls.outcome != OUT_OK && v.tls.outcome != OUT_SKIPPED) {
        check_ev(tls, "curl_error", "%d %s", res->curl_code, res->curl_error);
        if (res->verify_result)
            check_ev(tls, "verify_result", "%ld", res->verify_result);
    }
    probe_record_response(r, &r->checks.items[p->c_http], res);
    size_t layers[3] = {p->c_tcp, p->c_tls, p->c_http};
    for (size_t i = 0; i < 3; i++)
        run_progress(r, &r->checks.items[layers[i]]);
    engine_job_done(r->engine, j);
}

/* A failed verification aborts the handshake before libcurl shows the chain: look again with
 * verification off (handshake only, no request) to name whose certificate was presented. */
static bool start_peek(struct net_probe *p)
{
    struct http_spec spec;
    spec_for(p, &spec);
    spec.body_cap = 0;
    spec.peek_cert = true;
    p->peeking = true;
    p->xfer = http_start(p->run->http, &spec, on_done, p);
    return p->xfer != NULL;
}

static void on_done(struct http_xfer *x, void *arg)
{
    struct net_probe *p = arg;
    const struct http_result *res = http_result(x);
    if (p->peeking) {
        snprintf(p->first.tls_subject, sizeof p->first.tls_subject, "%s", res->tls_subject);
        snprintf(p->first.tls_issuer, sizeof p->first.tls_issuer, "%s", res->tls_issuer);
        snprintf(p->first.tls_chain, sizeof p->first.tls_chain, "%s", res->tls_chain);
        if (!p->first.verify_result)
            p->first.verify_result = res->verify_result;
    } else {
        p->first = *res;
        p->first.body = p->body;
        snprintf(p->body, sizeof p->body, "%s", res->body ? res->body : "");
    }
    bool peek = !p->peeking && res->curl_code == CURLE_PEER_FAILED_VERIFICATION && !res->tls_issuer[0];
    p->xfer = NULL;
    http_xfer_free(x);
    if (peek && start_peek(p))
        return;
    finalize(p, &p->first);
}

static void skip_all(struct net_probe *p, const char *why)
{
    size_t idx[3] = {p->c_tcp, p->c_tls, p->c_http};
    for (int i = 0; i < 3; i++) {
        struct check *c = &p->run->checks.items[idx[i]];
        c->outcome = OUT_SKIPPED;
        check_summary(c, "not tried: %s", why);
    }
}

static void start_transfer(struct engine *e, struct job *j, struct net_probe *p)
{
    struct http_spec spec;
    spec_for(p, &spec);
    p->xfer = http_start(p->run->http, &spec, on_done, p);
    if (!p->xfer) {
        skip_all(p, "could not start the transfer (out of memory)");
        engine_job_done(e, j);
    }
}

static void start(struct engine *e, struct job *j)
{
    struct net_probe *p = j->ctx;
    struct run *r = p->run;
    if (p->via_proxy) {
        start_transfer(e, j, p);
        return;
    }
    const struct dns_answer *sys = probe_dns_answer(r, p->dns_system_job);
    const struct dns_answer *az = probe_dns_answer(r, p->dns_azure_job);
    const char *via = NULL;
    if (sys && sys->outcome == OUT_OK) {
        snprintf(p->addr, sizeof p->addr, "%s", sys->first_addr);
        via = "the VM's resolvers";
    } else if (az && az->outcome == OUT_OK) {
        snprintf(p->addr, sizeof p->addr, "%s", az->first_addr);
        via = "Azure DNS (the VM's resolvers failed)";
    }
    if (!via) {
        skip_all(p, "the name did not resolve");
        engine_job_done(e, j);
        return;
    }
    check_ev(&r->checks.items[p->c_tcp], "address_from", "%s", via);
    start_transfer(e, j, p);
}

static void cancel(struct engine *e, struct job *j)
{
    (void)e;
    struct net_probe *p = j->ctx;
    http_cancel(p->xfer); /* runs on_done, which finishes the job */
}

static const struct job_ops net_ops = {"net", start, cancel};

size_t probe_net_add(struct run *r, const char *host, int port, size_t dns_system_job,
                     size_t dns_azure_job, const char *source, const struct proxy_path *via)
{
    struct net_probe *p = calloc(1, sizeof *p);
    if (!p)
        return (size_t)-1;
    run_own(r, p);
    p->run = r;
    snprintf(p->host, sizeof p->host, "%s", host);
    p->port = port;
    p->dns_system_job = dns_system_job;
    p->dns_azure_job = dns_azure_job;
    p->c_tcp = checks_add(&r->checks, "net.tcp", host, port);
    p->c_tls = checks_add(&r->checks, "net.tls", host, port);
    p->c_http = checks_add(&r->checks, "net.https", host, port);
    if (p->c_tcp == (size_t)-1 || p->c_tls == (size_t)-1 || p->c_http == (size_t)-1)
        return (size_t)-1;
    if (via && !via->direct) {
        const struct proxy_url *u = &via->proxy;
        bool v6 = strchr(u->host, ':') != NULL;
        p->via_proxy = true;
        snprintf(p->proxy, sizeof p->proxy, "%s://%s%s%s:%d", u->scheme, v6 ? "[" : "", u->host, v6 ? "]" : "",
                 u->port);
        if (u->has_credentials)
            snprintf(p->proxy_userpwd, sizeof p->proxy_userpwd, "%s:%s", u->user, u->password);
    }
    probe_path_label(via, p->proxy_label, sizeof p->proxy_label);
    size_t idx[3] = {p->c_tcp, p->c_tls, p->c_http};
    for (int i = 0; i < 3; i++) {
        struct check *c = &r->checks.items[idx[i]];
        snprintf(c->path, sizeof c->path, "%s", p->proxy_label);
        check_ev(c, "target_from", "%s", source);
    }
    size_t deps[2] = {dns_system_job, dns_azure_job};
    p->job = engine_add(r->engine, &net_ops, p, deps, p->via_proxy ? 0 : 2);
    return p->c_tcp;
}

void probe_path_label(const struct proxy_path *via, char *out, size_t size)
{
    if (!via || via->direct) {
        snprintf(out, size, "direct");
        return;
    }
    const struct proxy_url *u = &via->proxy;
    bool v6 = strchr(u->host, ':') != NULL;
    snprintf(out, size, "proxy %s://%s%s%s:%d", u->scheme, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}
