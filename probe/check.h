/* A check is one measured fact with its grade: the unit every probe produces and every renderer
 * prints. Network facts (timeout, NXDOMAIN, untrusted certificate) are outcomes stored here, never
 * program errors. The report owns an array of checks; later stages refer to them by index. */
#ifndef AZB_CHECK_H
#define AZB_CHECK_H

#include <stdbool.h>
#include <stddef.h>

enum status { STATUS_PASS, STATUS_WARN, STATUS_FAIL, STATUS_SKIP };

enum outcome {
    OUT_OK,
    OUT_SKIPPED,
    /* DNS */
    OUT_NXDOMAIN, OUT_SERVFAIL, OUT_REFUSED_DNS, OUT_NODATA,
    /* transport */
    OUT_TIMEOUT, OUT_REFUSED, OUT_UNREACHABLE, OUT_RESET,
    /* TLS */
    OUT_UNTRUSTED, OUT_HOSTNAME_MISMATCH, OUT_RESET_AFTER_HELLO,
    /* HTTP */
    OUT_FIREWALL_DENY, OUT_STORAGE_FIREWALL, OUT_NOT_AZURE, OUT_BAD_STATUS, OUT_BAD_BODY,
    OUT_CLOCK_SKEW,
    /* through an HTTP proxy */
    OUT_PROXY_UNRESOLVED, OUT_PROXY_REFUSED, OUT_PROXY_TIMEOUT, OUT_PROXY_AUTH, OUT_PROXY_DENIED,
    OUT_PROXY_UPSTREAM,
    /* DHCP, routes and the guest */
    OUT_NO_245, OUT_NO_OFFER, OUT_NO_ROUTE, OUT_BLACKHOLE, OUT_WRONG_SOURCE, OUT_STATIC_IP,
    OUT_MISCONFIGURED, OUT_NOT_RUNNING, OUT_NOEXEC, OUT_OVERLOADED, OUT_EXTENSION_FAILED,
    OUT_BLOCKED_NONROOT,
    OUT_ERROR
};

const char *status_name(enum status s);
const char *outcome_name(enum outcome o);

#define CHECK_MAX_EVIDENCE 24

struct evidence {
    char key[32];
    char *value; /* heap; already redacted, never escaped (renderers escape) */
};

/* What blocks a failed flow, and the fix (blame.c). */
struct blame {
    char source[96];       /* which evidence decided: "effective NSG export", "route export",
                              "guest", "inference", ... */
    char verdict[640];     /* one line: what blocks it */
    char fix[600];
    char nsg[128], association[16], rule[520], access[8], matched[160];
    int priority;          /* 0: no rule */
    char tags[256];        /* the destination's service tags, most specific first */
    char route[200];       /* the chosen route: prefix, source, next hop */
    char commands[700];    /* how to produce the exports that would name the rule */
};

struct check {
    char id[32];          /* stable: dns.system, net.tcp, wireserver.http, ... */
    enum status status;
    enum outcome outcome;
    bool required;        /* a failure of this check fails the run */
    bool graded;          /* grade.c has set status/required/why */
    char target[256];     /* host name or IP; empty when not applicable */
    int port;             /* 0 when not applicable */
    char path[300];       /* network path: "direct" or "proxy http://HOST:PORT" (no password) */
    long duration_ms;
    char summary[256];    /* one line a network engineer understands */
    char why[256];        /* why this grade */
    struct evidence ev[CHECK_MAX_EVIDENCE];
    size_t nev;
    struct blame *blame;  /* NULL unless blame.c explained a failure */
};

struct check_list {
    struct check *items;
    size_t count, cap;
};

/* Append a zeroed check with id, target and port; returns its index, or (size_t)-1 when out of
 * memory. Indexes stay valid; pointers do not survive the next append. */
size_t checks_add(struct check_list *l, const char *id, const char *target, int port);
void checks_free(struct check_list *l);

/* Add or replace evidence (printf-style). Silently drops evidence beyond the limit. */
void check_ev(struct check *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *check_ev_get(const struct check *c, const char *key);
void check_summary(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void check_why(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Find the first check with this id, target and port (target NULL or port < 0: any). */
const struct check *checks_find(const struct check_list *l, const char *id, const char *target,
                                int port);

#endif
