#include "probe/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *status_name(enum status s)
{
    switch (s) {
    case STATUS_PASS: return "pass";
    case STATUS_WARN: return "warn";
    case STATUS_FAIL: return "fail";
    case STATUS_SKIP: return "skip";
    }
    return "?";
}

const char *outcome_name(enum outcome o)
{
    switch (o) {
    case OUT_OK: return "ok";
    case OUT_SKIPPED: return "skipped";
    case OUT_NXDOMAIN: return "nxdomain";
    case OUT_SERVFAIL: return "servfail";
    case OUT_REFUSED_DNS: return "refused";
    case OUT_NODATA: return "nodata";
    case OUT_TIMEOUT: return "timeout";
    case OUT_REFUSED: return "refused";
    case OUT_UNREACHABLE: return "unreachable";
    case OUT_RESET: return "reset";
    case OUT_UNTRUSTED: return "untrusted";
    case OUT_HOSTNAME_MISMATCH: return "hostname_mismatch";
    case OUT_RESET_AFTER_HELLO: return "reset_after_hello";
    case OUT_FIREWALL_DENY: return "firewall_deny";
    case OUT_STORAGE_FIREWALL: return "storage_firewall";
    case OUT_NOT_AZURE: return "not_azure";
    case OUT_BAD_STATUS: return "bad_status";
    case OUT_BAD_BODY: return "bad_body";
    case OUT_CLOCK_SKEW: return "clock_skew";
    case OUT_PROXY_UNRESOLVED: return "proxy_unresolved";
    case OUT_PROXY_REFUSED: return "proxy_refused";
    case OUT_PROXY_TIMEOUT: return "proxy_timeout";
    case OUT_PROXY_AUTH: return "proxy_auth";
    case OUT_PROXY_DENIED: return "proxy_denied";
    case OUT_PROXY_UPSTREAM: return "proxy_upstream";
    case OUT_NO_245: return "no_245";
    case OUT_NO_OFFER: return "no_offer";
    case OUT_NO_ROUTE: return "no_route";
    case OUT_BLACKHOLE: return "blackhole";
    case OUT_WRONG_SOURCE: return "wrong_source";
    case OUT_STATIC_IP: return "static_ip";
    case OUT_MISCONFIGURED: return "misconfigured";
    case OUT_NOT_RUNNING: return "not_running";
    case OUT_NOEXEC: return "noexec";
    case OUT_OVERLOADED: return "overloaded";
    case OUT_EXTENSION_FAILED: return "extension_failed";
    case OUT_BLOCKED_NONROOT: return "blocked_for_nonroot";
    case OUT_ERROR: return "error";
    }
    return "?";
}

size_t checks_add(struct check_list *l, const char *id, const char *target, int port)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct check *n = realloc(l->items, cap * sizeof *n);
        if (!n)
            return (size_t)-1;
        l->items = n;
        l->cap = cap;
    }
    struct check *c = &l->items[l->count];
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->target, sizeof c->target, "%s", target ? target : "");
    c->port = port;
    c->status = STATUS_SKIP;
    c->outcome = OUT_SKIPPED;
    return l->count++;
}

void checks_free(struct check_list *l)
{
    for (size_t i = 0; i < l->count; i++) {
        for (size_t e = 0; e < l->items[i].nev; e++)
            free(l->items[i].ev[e].value);
        free(l->items[i].blame);
    }
    free(l->items);
    memset(l, 0, sizeof *l);
}

void check_ev(struct check *c, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = NULL;
    int n = vasprintf(&v, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    for (size_t i = 0; i < c->nev; i++) {
        if (strcmp(c->ev[i].key, key) == 0) {
            free(c->ev[i].value);
            c->ev[i].value = v;
            return;
        }
    }
    if (c->nev == CHECK_MAX_EVIDENCE) {
        free(v);
        return;
    }
    snprintf(c->ev[c->nev].key, sizeof c->ev[c->nev].key, "%s", key);
    c->ev[c->nev++].value = v;
}

const char *check_ev_get(const struct check *c, const char *key)
{
    for (size_t i = 0; i < c->nev; i++)
        if (strcmp(c->ev[i].key, key) == 0)
            return c->ev[i].value;
    return NULL;
}

void check_summary(struct check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->summary, sizeof c->summary, fmt, ap);
    va_end(ap);
}

void check_why(struct check *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
}

const struct check *checks_find(const struct check_list *l, const char *id, const char *target,
                                int port)
{
    for (size_t i = 0; i < l->count; i++) {
        const struct check *c = &l->items[i];
        if (strcmp(c->id, id) != 0)
            continue;
        if (target && strcmp(c->target, target) != 0)
            continue;
        if (port >= 0 && c->port != port)
            continue;
        return c;
    }
    return NULL;
}
