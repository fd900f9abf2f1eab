/* The field tables: the single description of what a report says, used by every renderer. */
#include <stdio.h>

#include "probe/grade.h"
#include "probe/render/render.h"

#define CHECK(item) ((const struct check *)(item))
#define RUN(item) ((const struct run *)(item))

static const char *str_or_null(const char *s) { return s && *s ? s : NULL; }

static const char *c_id(const void *i, char *b, size_t n) { (void)b; (void)n; return CHECK(i)->id; }
static const char *c_status(const void *i, char *b, size_t n) { (void)b; (void)n; return status_name(CHECK(i)->status); }
static const char *c_required(const void *i, char *b, size_t n) { (void)b; (void)n; return CHECK(i)->required ? "true" : "false"; }
static const char *c_target(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(CHECK(i)->target); }
static const char *c_port(const void *i, char *b, size_t n)
{
    if (!CHECK(i)->port)
        return NULL;
    snprintf(b, n, "%d", CHECK(i)->port);
    return b;
}
static const char *c_path(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(CHECK(i)->path); }
static const char *c_outcome(const void *i, char *b, size_t n) { (void)b; (void)n; return outcome_name(CHECK(i)->outcome); }
static const char *c_ms(const void *i, char *b, size_t n)
{
    snprintf(b, n, "%ld", CHECK(i)->duration_ms);
    return b;
}
static const char *c_summary(const void *i, char *b, size_t n) { (void)b; (void)n; return CHECK(i)->summary; }
static const char *c_why(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(CHECK(i)->why); }
static const char *c_blocked_by(const void *i, char *b, size_t n)
{
    (void)b;
    (void)n;
    return CHECK(i)->blame ? str_or_null(CHECK(i)->blame->verdict) : NULL;
}

const struct field check_fields[] = {
    {"status", "Status", 6, true, FIELD_STRING, c_status, false},
    {"id", "Check", 23, true, FIELD_STRING, c_id, false},
    {"target", "Target", 29, true, FIELD_STRING, c_target, false},
    {"port", "Port", 5, true, FIELD_INT, c_port, false},
    {"path", "Path", 8, true, FIELD_STRING, c_path, false},
    {"outcome", "Outcome", 17, true, FIELD_STRING, c_outcome, false},
    {"duration_ms", "ms", 5, false, FIELD_INT, c_ms, false},
    {"required", "Required", 0, false, FIELD_BOOL, c_required, false},
    {"summary", "Summary", 0, true, FIELD_STRING, c_summary, false},
    {"why", "Why", 0, false, FIELD_STRING, c_why, false},
    {"blocked_by", "Why it fails", 0, true, FIELD_STRING, c_blocked_by, true},
};
const size_t check_field_count = sizeof check_fields / sizeof check_fields[0];

static const char *r_schema(const void *i, char *b, size_t n) { (void)i; (void)b; (void)n; return "azbprobe.report/1"; }
static const char *r_version(const void *i, char *b, size_t n) { (void)i; (void)b; (void)n; return AZB_VERSION; }
static const char *r_verdict(const void *i, char *b, size_t n) { (void)b; (void)n; return status_name(grade_verdict(&RUN(i)->checks)); }
static const char *r_exit(const void *i, char *b, size_t n)
{
    snprintf(b, n, "%d", grade_exit_code(&RUN(i)->checks));
    return b;
}
static const char *r_network_ok(const void *i, char *b, size_t n)
{
    (void)b;
    (void)n;
    return grade_network_ok(&RUN(i)->checks) ? "true" : "false";
}
static const char *r_inputs(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->exports.inputs); }
static const char *r_tags(const void *i, char *b, size_t n)
{
    const struct servicetags *st = RUN(i)->exports.tags;
    if (!st)
        return NULL;
    const struct servicetags_meta *m = servicetags_meta(st);
    snprintf(b, n, "%s, changeNumber %ld%s%s", m->source, m->change_number, m->date[0] ? ", " : "", m->date);
    return b;
}
static const char *r_region(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->facts.region); }
static const char *r_region_src(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->facts.region_source); }
static const char *r_cloud(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->facts.cloud); }
static const char *r_cloud_src(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->facts.cloud_source); }
static const char *r_ws(const void *i, char *b, size_t n) { (void)b; (void)n; return RUN(i)->facts.wireserver; }
static const char *r_ws_src(const void *i, char *b, size_t n) { (void)b; (void)n; return RUN(i)->facts.wireserver_source; }
static const char *r_resolvers(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->facts.resolvers); }
static const char *r_resolvers_src(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->facts.resolvers_source); }
static const char *r_host(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->hostname); }
static const char *r_started(const void *i, char *b, size_t n) { (void)b; (void)n; return RUN(i)->started_utc; }
static const char *r_ms(const void *i, char *b, size_t n)
{
    snprintf(b, n, "%ld", RUN(i)->duration_ms);
    return b;
}
static const char *r_timeout(const void *i, char *b, size_t n)
{
    snprintf(b, n, "%ld", RUN(i)->cfg->timeout_ms);
    return b;
}
static const char *r_private_ip(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(RUN(i)->facts.imds.private_ip); }

const struct field report_fields[] = {
    {"schema", "Schema", 0, false, FIELD_STRING, r_schema, false},
    {"version", "azbprobe", 0, true, FIELD_STRING, r_version, false},
    {"verdict", "Verdict", 0, true, FIELD_STRING, r_verdict, false},
    {"exit_code", "Exit code", 0, false, FIELD_INT, r_exit, false},
    {"network_ok", "Network OK", 0, false, FIELD_BOOL, r_network_ok, false},
    {"region", "Region", 0, true, FIELD_STRING, r_region, false},
    {"region_source", "Region from", 0, false, FIELD_STRING, r_region_src, false},
    {"cloud", "Cloud", 0, true, FIELD_STRING, r_cloud, false},
    {"cloud_source", "Cloud from", 0, false, FIELD_STRING, r_cloud_src, false},
    {"wireserver", "WireServer", 0, true, FIELD_STRING, r_ws, false},
    {"wireserver_source", "WireServer from", 0, true, FIELD_STRING, r_ws_src, false},
    {"resolvers", "VM resolvers", 0, true, FIELD_STRING, r_resolvers, false},
    {"resolvers_source", "Resolvers from", 0, true, FIELD_STRING, r_resolvers_src, false},
    {"private_ip", "Primary IP (IMDS)", 0, true, FIELD_STRING, r_private_ip, false},
    {"host", "Host", 0, true, FIELD_STRING, r_host, false},
    {"started", "Started (UTC)", 0, true, FIELD_STRING, r_started, false},
    {"duration_ms", "Duration (ms)", 0, true, FIELD_INT, r_ms, false},
    {"timeout_ms", "Probe timeout (ms)", 0, false, FIELD_INT, r_timeout, false},
    {"inputs", "Inputs", 0, true, FIELD_STRING, r_inputs, false},
    {"service_tags", "Service tags", 0, true, FIELD_STRING, r_tags, false},
};
const size_t report_field_count = sizeof report_fields / sizeof report_fields[0];

#define CONSUMER(item) ((const struct consumer_path *)(item))

static const char *p_target(const void *i, char *b, size_t n) { (void)b; (void)n; return CONSUMER(i)->target; }
static const char *p_port(const void *i, char *b, size_t n)
{
    snprintf(b, n, "%d", CONSUMER(i)->port);
    return b;
}
static const char *p_consumer(const void *i, char *b, size_t n) { (void)b; (void)n; return consumer_name(CONSUMER(i)->consumer); }
static const char *p_path(const void *i, char *b, size_t n) { (void)b; (void)n; return CONSUMER(i)->path; }
static const char *p_status(const void *i, char *b, size_t n) { (void)b; (void)n; return status_name(CONSUMER(i)->status); }
static const char *p_decided(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(CONSUMER(i)->decided_by); }
static const char *p_summary(const void *i, char *b, size_t n) { (void)b; (void)n; return CONSUMER(i)->summary; }

/* Which path each consumer (guest agent, backup extension, generic client) takes, and whether it works. */
const struct field consumer_fields[] = {
    {"status", "Status", 6, true, FIELD_STRING, p_status, false},
    {"consumer", "Consumer", 16, true, FIELD_STRING, p_consumer, false},
    {"target", "Target", 29, true, FIELD_STRING, p_target, false},
    {"port", "Port", 5, true, FIELD_INT, p_port, false},
    {"path", "Path", 8, true, FIELD_STRING, p_path, false},
    {"decided_by", "Decided by", 0, true, FIELD_STRING, p_decided, false},
    {"summary", "Summary", 0, false, FIELD_STRING, p_summary, false},
};
const size_t consumer_field_count = sizeof consumer_fields / sizeof consumer_fields[0];

#define BLAME(item) ((const struct blame *)(item))
#define BLAME_STR(fn, member) \
    static const char *fn(const void *i, char *b, size_t n) { (void)b; (void)n; return str_or_null(BLAME(i)->member); }
BLAME_STR(b_source, source)
BLAME_STR(b_verdict, verdict)
BLAME_STR(b_fix, fix)
BLAME_STR(b_nsg, nsg)
BLAME_STR(b_association, association)
BLAME_STR(b_rule, rule)
BLAME_STR(b_access, access)
BLAME_STR(b_matched, matched)
BLAME_STR(b_tags, tags)
BLAME_STR(b_route, route)
BLAME_STR(b_commands, commands)
static const char *b_priority(const void *i, char *b, size_t n)
{
    if (!BLAME(i)->priority)
        return NULL;
    snprintf(b, n, "%d", BLAME(i)->priority);
    return b;
}

/* What blocks a failed flow: the same fields in the JSON blame object and the text/markdown details. */
const struct field blame_fields[] = {
    {"verdict", "Blame", 0, true, FIELD_STRING, b_verdict, false},
    {"fix", "Fix", 0, true, FIELD_STRING, b_fix, false},
    {"source", "Decided by", 0, true, FIELD_STRING, b_source, false},
    {"nsg", "NSG", 0, true, FIELD_STRING, b_nsg, false},
    {"association", "Associated with", 0, true, FIELD_STRING, b_association, false},
    {"rule", "Rule", 0, true, FIELD_STRING, b_rule, false},
    {"priority", "Priority", 0, true, FIELD_INT, b_priority, false},
    {"access", "Access", 0, true, FIELD_STRING, b_access, false},
    {"matched", "Matched", 0, true, FIELD_STRING, b_matched, false},
    {"destination_tags", "Destination tags", 0, true, FIELD_STRING, b_tags, false},
    {"route", "Route", 0, true, FIELD_STRING, b_route, false},
    {"commands", "To name the rule", 0, true, FIELD_STRING, b_commands, false},
};
const size_t blame_field_count = sizeof blame_fields / sizeof blame_fields[0];
