/* Live blame source (--arm): effective NSGs and routes from ARM with the managed identity.
 * See probe/arm.h for the steps and the rules (no proxy, bounded, token never shown). */
#include "probe/arm.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef AZB_VERSION
#define AZB_VERSION "dev"
#endif

/* ================================================================ pure parts */

static struct json_object *parse_json(const char *text, size_t len)
{
    if (!text || len == 0 || len > INT32_MAX)
        return NULL;
    struct json_tokener *t = json_tokener_new();
    if (!t)
        return NULL;
    struct json_object *o = json_tokener_parse_ex(t, text, (int)len);
    if (o && t->char_offset < (int)len) {
        /* trailing whitespace is fine, anything else is not */
        for (size_t i = (size_t)t->char_offset; i < len; i++) {
            if (!isspace((unsigned char)text[i]) && text[i] != '\0') {
                json_object_put(o);
                o = NULL;
                break;
            }
        }
    }
    json_tokener_free(t);
    return o;
}

/* Case-insensitive member lookup (PowerShell exports use PascalCase). */
static struct json_object *member(struct json_object *o, const char *key)
{
    if (!o || !json_object_is_type(o, json_type_object))
        return NULL;
    json_object_object_foreach(o, k, v) {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

/* o.properties.key for the ARM form, o.key for the flat (az CLI) form. */
static struct json_object *prop(struct json_object *o, const char *key)
{
    struct json_object *v = member(member(o, "properties"), key);
    return v ? v : member(o, key);
}

static const char *str_of(struct json_object *o)
{
    return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

static bool is_true(struct json_object *o)
{
    if (!o)
        return false;
    if (json_object_is_type(o, json_type_boolean))
        return json_object_get_boolean(o);
    const char *s = str_of(o);
    return s && strcasecmp(s, "true") == 0;
}

bool arm_mac_normalize(const char *in, char out[13])
{
    size_t n = 0;
    out[0] = '\0';
    if (!in)
        return false;
    for (const char *p = in; *p; p++) {
        if (*p == '-' || *p == ':' || *p == '.')
            continue;
        if (!isxdigit((unsigned char)*p) || n >= 12)
            return false;
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = '\0';
    return n == 12;
}

int arm_parse_token(const char *json, size_t len, char *tok, size_t toksize, char *err, size_t errlen)
{
    tok[0] = '\0';
    struct json_object *o = parse_json(json, len);
    if (!o || !json_object_is_type(o, json_type_object)) {
        snprintf(err, errlen, "the token answer is not a JSON object");
        json_object_put(o);
        return -1;
    }
    const char *t = str_of(member(o, "access_token"));
    const char *type = str_of(member(o, "token_type"));
    int rc = -1;
    if (!t || !*t)
        snprintf(err, errlen, "the token answer has no access_token");
    else if (type && strcasecmp(type, "Bearer") != 0)
        snprintf(err, errlen, "the token is of type '%.32s', not Bearer", type);
    else if (strlen(t) >= toksize)
        snprintf(err, errlen, "the access token is longer than %zu bytes", toksize - 1);
    else if (strpbrk(t, "\r\n \t"))
        snprintf(err, errlen, "the access token holds white space");
    else {
        snprintf(tok, toksize, "%s", t);
        rc = 0;
    }
    json_object_put(o);
    return rc;
}

static bool valid_id(const char *id)
{
    if (!id || strncasecmp(id, "/subscriptions/", 15) != 0 || strlen(id) >= ARM_ID_MAX)
        return false;
    for (const char *p = id; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == '%' || *p == '\\' || (unsigned char)*p >= 0x7f)
            return false;
    }
    return true;
}

int arm_vm_nic_ids(const char *json, size_t len, char ids[][ARM_ID_MAX], size_t max)
{
    struct json_object *o = parse_json(json, len);
    struct json_object *arr = member(prop(o, "networkProfile"), "networkInterfaces");
    if (!arr || !json_object_is_type(arr, json_type_array)) {
        json_object_put(o);
        return -1;
    }
    size_t n = 0, total = json_object_array_length(arr);
    for (int pass = 0; pass < 2; pass++) {   /* primary first, then the rest in order */
        for (size_t i = 0; i < total && n < max; i++) {
            struct json_object *nic = json_object_array_get_idx(arr, i);
            const char *id = str_of(member(nic, "id"));
            bool primary = is_true(prop(nic, "primary"));
            if ((pass == 0) != primary || !valid_id(id))
                continue;
            snprintf(ids[n++], ARM_ID_MAX, "%s", id);
        }
    }
    json_object_put(o);
    return (int)n;
}

static bool ip_listed(struct json_object *nic, const char *ip)
{
    struct json_object *cfgs = prop(nic, "ipConfigurations");
    if (!ip || !*ip || !cfgs || !json_object_is_type(cfgs, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(cfgs); i++) {
        const char *a = str_of(prop(json_object_array_get_idx(cfgs, i), "privateIPAddress"));
        if (a && strcmp(a, ip) == 0)
            return true;
    }
    return false;
}

int arm_nic_match(const char *json, size_t len, const char *mac, const char *ip)
{
    struct json_object *o = parse_json(json, len);
    if (!o || !json_object_is_type(o, json_type_object) || !prop(o, "ipConfigurations")) {
        json_object_put(o);
        return -1;
    }
    char want[13], have[13];
    int rc = 0;
    if (arm_mac_normalize(mac, want) && arm_mac_normalize(str_of(prop(o, "macAddress")), have) &&
        strcmp(want, have) == 0)
        rc = 2;
    else if (ip_listed(o, ip))
        rc = 1;
    json_object_put(o);
    return rc;
}

static const char *trim_span(const char *s, size_t *len)
{
    while (*len && (*s == ' ' || *s == '\t')) {
        s++;
        (*len)--;
    }
    while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\r' || s[*len - 1] == '\n'))
        (*len)--;
    return s;
}

bool arm_header(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
        return false;
    size_t vlen = len - nl - 1;
    const char *v = trim_span(line + nl + 1, &vlen);
    if (vlen >= size)
        vlen = size - 1;
    memcpy(out, v, vlen);
    out[vlen] = '\0';
    return true;
}

long arm_retry_after(const char *value, long now)
{
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (!*value)
        return -1;
    if (isdigit((unsigned char)*value)) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        while (*end == ' ')
            end++;
        if (errno || *end || v < 0)
            return -1;
        return v > 86400 ? 86400 : (long)v;
    }
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    return t > now ? (long)(t - now) : 0;
}

/* "https://Host:443/x" -> scheme "https", host "host", port 443. */
static bool origin(const char *url, char *scheme, size_t ssize, char *host, size_t hsize, long *port)
{
    const char *sep = strstr(url, "://");
    if (!sep || (size_t)(sep - url) >= ssize)
        return false;
    for (size_t i = 0; url + i < sep; i++)
        scheme[i] = (char)tolower((unsigned char)url[i]);
    scheme[sep - url] = '\0';
    const char *h = sep + 3, *end = h + strcspn(h, "/?#");
    if (memchr(h, '@', (size_t)(end - h)))
        return false;                      /* no userinfo in a URL that gets the token */
    const char *colon = memchr(h, ':', (size_t)(end - h));
    const char *hend = colon ? colon : end;
    if (hend == h || (size_t)(hend - h) >= hsize)
        return false;
    for (size_t i = 0; h + i < hend; i++)
        host[i] = (char)tolower((unsigned char)h[i]);
    host[hend - h] = '\0';
    *port = strcmp(scheme, "https") == 0 ? 443 : strcmp(scheme, "http") == 0 ? 80 : -1;
    if (colon) {
        char *pend;
        long p = strtol(colon + 1, &pend, 10);
        if (pend != end || p <= 0 || p > 65535)
            return false;
        *port = p;
    }
    return *port > 0;
}

bool arm_same_origin(const char *a, const char *b)
{
    char sa[8], sb[8], ha[256], hb[256];
    long pa, pb;
    if (!a || !b || !origin(a, sa, sizeof sa, ha, sizeof ha, &pa) || !origin(b, sb, sizeof sb, hb, sizeof hb, &pb))
        return false;
    return strcmp(sa, sb) == 0 && strcmp(ha, hb) == 0 && pa == pb;
}

/* Copy a text onto one printable line. */
static void one_line(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    for (; src && *src && n + 1 < size; src++)
        dst[n++] = (unsigned char)*src < ' ' || (unsigned char)*src == 0x7f ? ' ' : *src;
    dst[n] = '\0';
}

void arm_error_body(const char *json, size_t len, char *code, size_t codesize, char *msg, size_t msgsize)
{
    code[0] = msg[0] = '\0';
    struct json_object *o = parse_json(json, len);
    struct json_object *e = member(o, "error");
    if (e && json_object_is_type(e, json_type_object)) {
        one_line(code, codesize, str_of(member(e, "code")));
        one_line(msg, msgsize, str_of(member(e, "message")));
    } else if (str_of(e)) {
        one_line(code, codesize, str_of(e));
        one_line(msg, msgsize, str_of(member(o, "error_description")));
    }
    json_object_put(o);
}

const char *arm_step_name(enum arm_step s)
{
    static const char *const names[ARM_STEPS] = {"IMDS token", "GET VM", "GET NIC", "effective NSGs",
                                                 "effective routes"};
    return (unsigned)s < ARM_STEPS ? names[s] : "?";
}

const char *arm_status_name(enum arm_status s)
{
    static const char *const names[] = {"ok", "not_run", "no_identity", "imds_error", "unauthorized",
                                        "forbidden", "throttled", "timeout", "network", "http",
                                        "not_found", "malformed", "nomem"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

static const char *host_of(const char *url, char *buf, size_t size)
{
    char scheme[8];
    long port;
    if (!origin(url, scheme, sizeof scheme, buf, size, &port))
        snprintf(buf, size, "%s", url);
    return buf;
}

/* What a 403 means at each step, and the role that fixes it. */
static void describe_forbidden(enum arm_step step, const struct arm_step_result *s, char *out, size_t size)
{
    const char *code = s->error_code[0] ? s->error_code : "Forbidden";
    if (step == ARM_STEP_VM || step == ARM_STEP_NIC)
        snprintf(out, size, "the managed identity may not read the VM/NIC (HTTP 403 %.60s at %s): grant it Reader "
                 "on the VM's resource group, and " ARM_ACTION_NSG " and " ARM_ACTION_ROUTES
                 " (Network Contributor, or a custom role)", code, arm_step_name(step));
    else
        snprintf(out, size, "the managed identity lacks a permission (HTTP 403 %.60s at %s): grant it " ARM_ACTION_NSG
                 " and " ARM_ACTION_ROUTES " on the NIC (Network Contributor, or a custom role; Reader is not enough)",
                 code, arm_step_name(step));
}

void arm_describe(enum arm_step step, const struct arm_step_result *s, long retry_after_s, const char *endpoint,
                  char *out, size_t size)
{
    char host[256], ra[48] = "";
    host_of(endpoint ? endpoint : "", host, sizeof host);
    const char *name = arm_step_name(step);
    switch (s->status) {
    case ARM_OK:
        snprintf(out, size, "%s: ok", name);
        break;
    case ARM_NO_IDENTITY:
        snprintf(out, size, "the VM has no managed identity (IMDS token: HTTP %ld%s%.60s): enable a system-assigned "
                 "identity and grant it " ARM_ACTION_NSG " and " ARM_ACTION_ROUTES " (Network Contributor, or a custom "
                 "role)", s->http_status, s->error_code[0] ? " " : "", s->error_code);
        break;
    case ARM_IMDS_ERROR:
        snprintf(out, size, "no token from IMDS: %.200s", s->detail);
        break;
    case ARM_UNAUTHORIZED:
        snprintf(out, size, "%s refused the managed identity's token (HTTP 401 %.60s at %s)", host,
                 s->error_code[0] ? s->error_code : "Unauthorized", name);
        break;
    case ARM_FORBIDDEN:
        describe_forbidden(step, s, out, size);
        break;
    case ARM_THROTTLED:
        if (retry_after_s >= 0)
            snprintf(ra, sizeof ra, ", Retry-After %ld s", retry_after_s);
        snprintf(out, size, "%s throttled the requests (HTTP 429%s at %s): run again later", host, ra, name);
        break;
    case ARM_TIMEOUT:
        snprintf(out, size, "%s: %.200s", name, s->detail[0] ? s->detail : "no answer in time");
        break;
    case ARM_NETWORK:
        if (strncmp(s->detail, "TLS: ", 5) == 0)
            snprintf(out, size, "TLS with %s failed at %s (%.160s): a TLS-inspecting firewall or proxy, or "
                     "--cacert", host, name, s->detail + 5);
        else
            snprintf(out, size, "cannot reach %s at %s (%.160s): the VM needs egress to it (service tag "
                     "AzureResourceManager)", host, name, s->detail);
        break;
    case ARM_NOT_FOUND:
        snprintf(out, size, "%s: %.200s", name, s->detail[0] ? s->detail : "not found (HTTP 404)");
        break;
    case ARM_MALFORMED:
        snprintf(out, size, "%s: unexpected answer: %.200s", name, s->detail);
        break;
    case ARM_NOMEM:
        snprintf(out, size, "%s: out of memory", name);
        break;
    default:
        snprintf(out, size, "%s: HTTP %ld%s%.60s%s%.160s", name, s->http_status, s->error_code[0] ? " " : "",
                 s->error_code, s->detail[0] ? ": " : "", s->detail);
        break;
    }
}

size_t arm_redact(char *s, size_t size, const char *secret)
{
    static const char mark[] = "[redacted]";
    size_t sl = secret ? strlen(secret) : 0, count = 0;
    if (!s || sl < 8)
        return 0;
    char *p = s;
    while ((p = strstr(p, secret)) != NULL) {
        count++;
        if (sl >= sizeof mark - 1) {
            memcpy(p, mark, sizeof mark - 1);
            memmove(p + sizeof mark - 1, p + sl, strlen(p + sl) + 1);
            p += sizeof mark - 1;
        } else {
            memset(p, '*', sl);
            p += sl;
        }
    }
    (void)size; /* the text only shrinks */
    return count;
}

/* ================================================================ transfers */

struct resp {
    long status;
    CURLcode cc;
    char errbuf[CURL_ERROR_SIZE];
    char *body;
    size_t len, cap;
    bool overflow;
    char location[ARM_URL_MAX], async[ARM_URL_MAX], retry_after[64], request_id[96];
};

struct ctx {
    const struct arm_request *req;
    struct arm_result *out;
    CURL *arm;                  /* one handle for ARM: the connection is reused */
    char *token;                /* heap, wiped on exit */
    size_t token_cap;
    long long start_ms, deadline_ms;
    long total_ms;
    size_t body_cap;
    bool interrupted;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long remaining_ms(const struct ctx *c)
{
    long long left = c->deadline_ms - now_ms();
    return left > 0 ? (long)left : 0;
}

/* Sleep, but not past the deadline. false when interrupted (Ctrl-C). */
static bool sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    return nanosleep(&ts, NULL) == 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t add = size * n;
    if (add > r->cap - r->len) {
        r->overflow = true;
        return 0;
    }
    char *nb = realloc(r->body, r->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, data, add);
    r->body = nb;
    r->len += add;
    r->body[r->len] = '\0';
    return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {   /* a new response (100 Continue): start over */
        r->location[0] = r->async[0] = r->retry_after[0] = r->request_id[0] = '\0';
        return len;
    }
    if (!arm_header(data, len, "Location", r->location, sizeof r->location) &&
        !arm_header(data, len, "Azure-AsyncOperation", r->async, sizeof r->async) &&
        !arm_header(data, len, "Retry-After", r->retry_after, sizeof r->retry_after) &&
        !arm_header(data, len, "x-ms-request-id", r->request_id, sizeof r->request_id))
        (void)0;
    return len;
}

static void resp_reset(struct resp *r, size_t cap)
{
    free(r->body);
    memset(r, 0, sizeof *r);
    r->cap = cap;
}

/* Options shared by every request: bounded, direct, verified, quiet. */
static void common_opts(struct ctx *c, CURL *h, struct resp *r, long timeout)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "azbprobe/" AZB_VERSION);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->body_cap);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
}

/* One request. The Authorization header is built in a heap buffer that is wiped afterwards. */
static void perform(struct ctx *c, CURL *h, const char *url, bool post, bool auth, struct resp *r)
{
    resp_reset(r, c->body_cap);
    long timeout = c->req->timeout_ms > 0 ? c->req->timeout_ms : 10000;
    long left = remaining_ms(c);
    if (left < 1) {
        r->cc = CURLE_OPERATION_TIMEDOUT;
        snprintf(r->errbuf, sizeof r->errbuf, "the --arm time budget (%ld ms) ran out", c->total_ms);
        return;
    }
    curl_easy_reset(h);
    common_opts(c, h, r, timeout < left ? timeout : left);
    curl_easy_setopt(h, CURLOPT_URL, url);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth ? "Accept: application/json" : "Metadata: true");
    char *authz = NULL;
    if (auth) {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
        if (c->req->ca_blob) {
            struct curl_blob blob = {(void *)(uintptr_t)c->req->ca_blob, c->req->ca_len, CURL_BLOB_NOCOPY};
            curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
        }
        size_t n = strlen(c->token) + 32;
        if ((authz = malloc(n)) != NULL) {
            snprintf(authz, n, "Authorization: Bearer %s", c->token);
            hdrs = curl_slist_append(hdrs, authz);
        }
    } else {
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    }
    if (post) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    r->cc = (auth && !authz) ? CURLE_OUT_OF_MEMORY : curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    for (struct curl_slist *s = hdrs; s; s = s->next)
        memset(s->data, 0, strlen(s->data));
    curl_slist_free_all(hdrs);
    if (authz) {
        memset(authz, 0, strlen(authz));
        free(authz);
    }
}

/* Common mapping of a finished request onto a step: transport errors and the HTTP statuses every
 * step treats alike. Returns true when the request produced an HTTP answer to look at. */
static bool settle(struct ctx *c, struct arm_step_result *s, const struct resp *r)
{
    s->http_status = r->status;
    if (r->request_id[0])
        one_line(s->request_id, sizeof s->request_id, r->request_id);
    if (r->overflow || r->cc == CURLE_FILESIZE_EXCEEDED) {
        s->status = ARM_MALFORMED;
        snprintf(s->detail, sizeof s->detail, "the answer is larger than %zu bytes", c->body_cap);
        return false;
    }
    if (r->cc == CURLE_OPERATION_TIMEDOUT) {
        s->status = ARM_TIMEOUT;
        snprintf(s->detail, sizeof s->detail, "%.200s", r->errbuf[0] ? r->errbuf : "timed out");
        return false;
    }
    if (r->cc == CURLE_OUT_OF_MEMORY) {
        s->status = ARM_NOMEM;
        return false;
    }
    if (r->cc != CURLE_OK) {
        bool tls = r->cc == CURLE_PEER_FAILED_VERIFICATION || r->cc == CURLE_SSL_CONNECT_ERROR ||
                   r->cc == CURLE_SSL_CACERT_BADFILE || r->cc == CURLE_SSL_CERTPROBLEM;
        s->status = ARM_NETWORK;
        snprintf(s->detail, sizeof s->detail, "%s%.200s", tls ? "TLS: " : "",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->cc));
        return false;
    }
    char msg[200];
    arm_error_body(r->body, r->len, s->error_code, sizeof s->error_code, msg, sizeof msg);
    if (r->status >= 400)
        snprintf(s->detail, sizeof s->detail, "%s", msg);
    if (r->status == 429) {
        s->status = ARM_THROTTLED;
        c->out->retry_after_s = arm_retry_after(r->retry_after, (long)time(NULL));
        return false;
    }
    return true;
}

static void fail(struct arm_step_result *s, enum arm_status st, const char *detail)
{
    s->status = st;
    if (detail)
        snprintf(s->detail, sizeof s->detail, "%s", detail);
}

/* HTTP statuses of ARM (not IMDS) that end a step. */
static bool arm_http_ok(struct arm_step_result *s, long status)
{
    if (status == 401)
        s->status = ARM_UNAUTHORIZED;
    else if (status == 403)
        s->status = ARM_FORBIDDEN;
    else if (status == 404)
        s->status = ARM_NOT_FOUND;
    else if (status != 200 && status != 202)
        s->status = ARM_HTTP;
    else
        return true;
    return false;
}

/* ---------------------------------------------------------------- step 1: the token */

static void url_escape(const char *in, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *in && n + 4 < size; in++) {
        unsigned char ch = (unsigned char)*in;
        if (isalnum(ch) || strchr("-._~()", ch)) {
            out[n++] = (char)ch;
        } else {
            out[n++] = '%';
            out[n++] = hex[ch >> 4];
            out[n++] = hex[ch & 15];
        }
    }
    out[n] = '\0';
}

static bool identity_missing(const struct resp *r, const struct arm_step_result *s)
{
    if (r->status == 500 && strcasecmp(s->error_code, "unknown") == 0)
        return true;                                /* 2017 docs: identity not enabled */
    if (r->status != 400 && r->status != 404)
        return false;
    return (r->body && strcasestr(r->body, "identity")) || strcasecmp(s->error_code, "invalid_request") == 0;
}

static void imds_http_error(struct arm_step_result *s, const struct resp *r)
{
    char d[sizeof s->detail];
    snprintf(d, sizeof d, "%s", s->detail);
    snprintf(s->detail, sizeof s->detail, "HTTP %ld%s%.60s%s%.160s", r->status, s->error_code[0] ? " " : "",
             s->error_code, d[0] ? ": " : "", d);
    s->status = ARM_IMDS_ERROR;
}

static void step_token(struct ctx *c)
{
    struct arm_step_result *s = &c->out->step[ARM_STEP_TOKEN];
    char res[600], url[1024];
    char resource[300];
    snprintf(resource, sizeof resource, "%s/", c->req->endpoint);
    url_escape(resource, res, sizeof res);
    snprintf(url, sizeof url, "%s/metadata/identity/oauth2/token?api-version=" ARM_API_IMDS_TOKEN "&resource=%s",
             c->req->imds_base, res);
    CURL *h = curl_easy_init();
    if (!h) {
        fail(s, ARM_NOMEM, NULL);
        return;
    }
    struct resp r = {0};
    perform(c, h, url, false, false, &r);
    curl_easy_cleanup(h);
    if (settle(c, s, &r)) {
        char err[160];
        if (identity_missing(&r, s))
            fail(s, ARM_NO_IDENTITY, NULL);
        else if (r.status != 200)
            imds_http_error(s, &r);
        else if (arm_parse_token(r.body, r.len, c->token, c->token_cap, err, sizeof err) != 0)
            fail(s, ARM_IMDS_ERROR, err);
        else
            s->status = ARM_OK;
        if (r.body)
            memset(r.body, 0, r.len);                  /* it held the token */
    } else if (s->status == ARM_NETWORK || s->status == ARM_TIMEOUT) {
        char d[sizeof s->detail];
        snprintf(d, sizeof d, "%s", s->detail);
        snprintf(s->detail, sizeof s->detail, "%.120s: %.120s", c->req->imds_base, d);
        s->status = s->status == ARM_TIMEOUT ? ARM_TIMEOUT : ARM_IMDS_ERROR;
    }
    resp_reset(&r, 0);
}

/* ---------------------------------------------------------------- steps 2-3: VM and NIC */

/* GET an ARM URL into r; true on 200. */
static bool arm_get(struct ctx *c, struct arm_step_result *s, const char *url, struct resp *r)
{
    perform(c, c->arm, url, false, true, r);
    if (!settle(c, s, r) || !arm_http_ok(s, r->status))
        return false;
    if (r->status != 200) {
        fail(s, ARM_HTTP, "expected 200");
        return false;
    }
    return true;
}

static int step_vm(struct ctx *c, char ids[][ARM_ID_MAX])
{
    struct arm_step_result *s = &c->out->step[ARM_STEP_VM];
    char sub[200], rg[400], vm[400], url[ARM_URL_MAX];
    url_escape(c->req->subscription, sub, sizeof sub);
    url_escape(c->req->resource_group, rg, sizeof rg);
    url_escape(c->req->vm_name, vm, sizeof vm);
    snprintf(url, sizeof url, "%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s"
             "?api-version=" ARM_API_COMPUTE, c->req->endpoint, sub, rg, vm);
    struct resp r = {0};
    int n = -1;
    if (arm_get(c, s, url, &r)) {
        n = arm_vm_nic_ids(r.body, r.len, ids, ARM_MAX_NICS);
        if (n < 0)
            fail(s, ARM_MALFORMED, "no properties.networkProfile.networkInterfaces in the VM");
        else if (n == 0)
            fail(s, ARM_NOT_FOUND, "the VM lists no network interface");
        else
            s->status = ARM_OK;
    }
    resp_reset(&r, 0);
    return s->status == ARM_OK ? n : -1;
}

static void keep_nic(struct ctx *c, struct resp *r, const char *id, const char *how)
{
    free(c->out->nic_json);
    c->out->nic_json = r->body;
    c->out->nic_len = r->len;
    r->body = NULL;
    snprintf(c->out->nic_id, sizeof c->out->nic_id, "%s", id);
    snprintf(c->out->match, sizeof c->out->match, "%s", how);
}

/* GET the NICs (primary first) until one has IMDS's MAC; else the first with its IP. Without
 * either fact, the primary NIC. */
static void step_nic(struct ctx *c, char ids[][ARM_ID_MAX], int n)
{
    struct arm_step_result *s = &c->out->step[ARM_STEP_NIC];
    char mac[13] = "", url[ARM_URL_MAX], how[64];
    bool have_mac = arm_mac_normalize(c->req->mac, mac), blind = !have_mac && !c->req->private_ip[0];
    int best = 0;
    struct resp r = {0};
    for (int i = 0; i < n && best < 2 && !(blind && best); i++) {
        snprintf(url, sizeof url, "%s%s?api-version=" ARM_API_NETWORK, c->req->endpoint, ids[i]);
        if (!arm_get(c, s, url, &r))
            break;
        int m = arm_nic_match(r.body, r.len, mac, c->req->private_ip);
        if (m < 0) {
            fail(s, ARM_MALFORMED, "the NIC has no ipConfigurations");
            break;
        }
        if (m > best || blind) {
            if (m == 2)
                snprintf(how, sizeof how, "MAC %s", mac);
            else if (m == 1)
                snprintf(how, sizeof how, "IP %.40s", c->req->private_ip);
            else
                snprintf(how, sizeof how, "primary NIC (IMDS gave no MAC or IP)");
            keep_nic(c, &r, ids[i], how);
            best = m > 0 ? m : 1;
        }
    }
    resp_reset(&r, 0);
    if (s->status != ARM_NOT_RUN)
        return;                                     /* a request failed */
    if (!best) {
        snprintf(s->detail, sizeof s->detail, "none of the VM's %d NIC(s) has MAC %.13s or IP %.40s", n,
                 have_mac ? mac : "?", c->req->private_ip[0] ? c->req->private_ip : "?");
        s->status = ARM_NOT_FOUND;
        return;
    }
    s->status = ARM_OK;
}

/* ---------------------------------------------------------------- steps 4-5: long-running POSTs */

struct lro {
    enum arm_step step;
    const char *suffix;
    bool done;
    char poll[ARM_URL_MAX];
    bool async_only;            /* polling Azure-AsyncOperation: its status, then the Location */
    long long due_ms;
    long long started_ms;
    char **body;
    size_t *len;
};

static bool wanted_body(struct ctx *c, struct arm_step_result *s, struct resp *r)
{
    struct json_object *o = parse_json(r->body, r->len);
    bool ok = o && json_object_is_type(member(o, "value"), json_type_array);
    json_object_put(o);
    if (!ok) {
        fail(s, ARM_MALFORMED, "the 200 answer is not a JSON object with a value array");
        return false;
    }
    if (c->token[0] && memmem(r->body, r->len, c->token, strlen(c->token))) {
        fail(s, ARM_MALFORMED, "the answer holds the access token: dropped");
        return false;
    }
    return true;
}

/* Where and when to poll next, from a 202 (or an InProgress status). */
static bool schedule(struct ctx *c, struct lro *op, struct resp *r)
{
    struct arm_step_result *s = &c->out->step[op->step];
    const char *next = r->location[0] ? r->location : r->async[0] ? r->async : NULL;
    if (next) {
        if (!arm_same_origin(next, c->req->endpoint)) {
            fail(s, ARM_MALFORMED, "the poll URL is not on the ARM endpoint: the token is not sent there");
            return false;
        }
        snprintf(op->poll, sizeof op->poll, "%s", next);
        op->async_only = !r->location[0];
    } else if (!op->poll[0]) {
        fail(s, ARM_MALFORMED, "202 without Location or Azure-AsyncOperation");
        return false;
    }
    long ra = arm_retry_after(r->retry_after, (long)time(NULL));
    if (ra < 0)
        ra = 1;
    op->due_ms = now_ms() + ra * 1000;
    if (op->due_ms > c->deadline_ms) {
        snprintf(s->detail, sizeof s->detail, "ARM was still computing it after %ld s (Retry-After %ld s, time "
                 "budget %ld s)", (long)((now_ms() - op->started_ms) / 1000), ra, c->total_ms / 1000);
        s->status = ARM_TIMEOUT;
        return false;
    }
    return true;
}

/* An Azure-AsyncOperation status document: keep polling while InProgress. */
static bool async_status(struct ctx *c, struct lro *op, struct resp *r)
{
    struct arm_step_result *s = &c->out->step[op->step];
    struct json_object *o = parse_json(r->body, r->len);
    const char *st = str_of(member(o, "status"));
    bool more = false;
    if (!st) {
        fail(s, ARM_MALFORMED, "the operation status has no status field");
    } else if (strcasecmp(st, "Succeeded") == 0) {
        fail(s, ARM_MALFORMED, "the operation succeeded but ARM gave no Location for its result");
    } else if (strcasecmp(st, "Failed") == 0 || strcasecmp(st, "Canceled") == 0) {
        struct json_object *e = member(o, "error");
        one_line(s->error_code, sizeof s->error_code, str_of(member(e, "code")));
        snprintf(s->detail, sizeof s->detail, "the operation %s", st);
        s->status = ARM_HTTP;
    } else {
        more = true;
    }
    json_object_put(o);
    return more && schedule(c, op, r);
}

/* {"status": "InProgress", ...} rather than the result's {"value": [...]}. */
static bool is_status_doc(const struct resp *r)
{
    struct json_object *o = parse_json(r->body, r->len);
    bool yes = str_of(member(o, "status")) && !member(o, "value");
    json_object_put(o);
    return yes;
}

/* Handle one answer (to the POST or a poll). Returns false when the operation ended. */
static bool lro_answer(struct ctx *c, struct lro *op, struct resp *r)
{
    struct arm_step_result *s = &c->out->step[op->step];
    if (!settle(c, s, r) || !arm_http_ok(s, r->status))
        return false;
    if (r->status == 202)
        return schedule(c, op, r);
    if (op->async_only && is_status_doc(r))
        return async_status(c, op, r);
    if (!wanted_body(c, s, r))
        return false;
    *op->body = r->body;
    *op->len = r->len;
    r->body = NULL;
    s->status = ARM_OK;
    return false;
}

static void lro_step(struct ctx *c, struct lro *op, bool first)
{
    struct arm_step_result *s = &c->out->step[op->step];
    struct resp r = {0};
    char url[ARM_URL_MAX];
    long long t0 = now_ms();
    if (first) {
        op->started_ms = t0;
        snprintf(url, sizeof url, "%s%s/%s?api-version=" ARM_API_NETWORK, c->req->endpoint, c->out->nic_id,
                 op->suffix);
        perform(c, c->arm, url, true, true, &r);
    } else {
        s->polls++;
        perform(c, c->arm, op->poll, false, true, &r);
    }
    op->done = !lro_answer(c, op, &r);
    s->ms = (long)(now_ms() - op->started_ms);
    resp_reset(&r, 0);
}

static void run_lros(struct ctx *c)
{
    struct lro ops[2] = {
        {.step = ARM_STEP_NSG, .suffix = "effectiveNetworkSecurityGroups", .body = &c->out->nsg_json,
         .len = &c->out->nsg_len},
        {.step = ARM_STEP_ROUTES, .suffix = "effectiveRouteTable", .body = &c->out->routes_json,
         .len = &c->out->routes_len},
    };
    for (int i = 0; i < 2; i++)
        lro_step(c, &ops[i], true);
    for (int guard = 0; guard < 600; guard++) {
        struct lro *next = NULL;
        for (int i = 0; i < 2; i++) {
            if (!ops[i].done && (!next || ops[i].due_ms < next->due_ms))
                next = &ops[i];
        }
        if (!next)
            return;
        long long wait = next->due_ms - now_ms();
        if (wait > 0 && !sleep_ms((long)wait)) {
            c->interrupted = true;
            for (int i = 0; i < 2; i++) {
                if (!ops[i].done)
                    fail(&c->out->step[ops[i].step], ARM_TIMEOUT, "interrupted");
            }
            return;
        }
        lro_step(c, next, false);
    }
}

/* ================================================================ the fetch */

static void scrub(struct ctx *c)
{
    struct arm_result *o = c->out;
    const char *t = c->token;
    arm_redact(o->reason, sizeof o->reason, t);
    arm_redact(o->match, sizeof o->match, t);
    arm_redact(o->nic_id, sizeof o->nic_id, t);
    for (int i = 0; i < ARM_STEPS; i++) {
        arm_redact(o->step[i].detail, sizeof o->step[i].detail, t);
        arm_redact(o->step[i].error_code, sizeof o->step[i].error_code, t);
        arm_redact(o->step[i].request_id, sizeof o->step[i].request_id, t);
    }
}

/* The first failed step decides the overall status and the reason. */
static void conclude(struct ctx *c)
{
    struct arm_result *o = c->out;
    o->status = ARM_OK;
    for (int i = 0; i < ARM_STEPS; i++) {
        if (o->step[i].status == ARM_OK)
            continue;
        o->status = o->step[i].status == ARM_NOT_RUN ? ARM_MALFORMED : o->step[i].status;
        char why[sizeof o->reason];
        arm_describe((enum arm_step)i, &o->step[i], o->retry_after_s, c->req->endpoint, why, sizeof why);
        snprintf(o->reason, sizeof o->reason, "%s", why);
        return;
    }
}

static bool request_ok(const struct arm_request *req, struct arm_result *out)
{
    const char *missing = !req->endpoint[0] ? "the ARM endpoint" : !req->imds_base[0] ? "the IMDS address"
                          : !req->subscription[0] ? "the subscription (IMDS)" : !req->resource_group[0]
                          ? "the resource group (IMDS)" : !req->vm_name[0] ? "the VM name (IMDS)" : NULL;
    if (!missing)
        return true;
    out->status = ARM_NOT_RUN;
    snprintf(out->reason, sizeof out->reason, "not asked: %s is unknown", missing);
    return false;
}

static void fetch(struct ctx *c)
{
    char ids[ARM_MAX_NICS][ARM_ID_MAX];
    struct arm_step_result *s = c->out->step;
    long long t0 = now_ms();
    step_token(c);
    s[ARM_STEP_TOKEN].ms = (long)(now_ms() - t0);
    if (s[ARM_STEP_TOKEN].status != ARM_OK)
        return;
    if (!(c->arm = curl_easy_init())) {
        fail(&s[ARM_STEP_VM], ARM_NOMEM, NULL);
        return;
    }
    t0 = now_ms();
    int n = step_vm(c, ids);
    s[ARM_STEP_VM].ms = (long)(now_ms() - t0);
    if (n > 0) {
        t0 = now_ms();
        step_nic(c, ids, n);
        s[ARM_STEP_NIC].ms = (long)(now_ms() - t0);
    }
    if (s[ARM_STEP_NIC].status == ARM_OK)
        run_lros(c);
    curl_easy_cleanup(c->arm);
    c->arm = NULL;
}

int arm_fetch(const struct arm_request *req, struct arm_result *out)
{
    memset(out, 0, sizeof *out);
    out->retry_after_s = -1;
    for (int i = 0; i < ARM_STEPS; i++)
        out->step[i].status = ARM_NOT_RUN;
    if (!request_ok(req, out))
        return out->status;
    struct ctx c = {.req = req, .out = out, .token_cap = 16384};
    c.body_cap = req->body_cap ? req->body_cap : ARM_BODY_CAP;
    c.start_ms = now_ms();
    c.total_ms = req->total_ms > 0 ? req->total_ms : ARM_TOTAL_MS;
    c.deadline_ms = c.start_ms + c.total_ms;
    if (!(c.token = calloc(1, c.token_cap))) {
        out->status = ARM_NOMEM;
        snprintf(out->reason, sizeof out->reason, "out of memory");
        return out->status;
    }
    fetch(&c);
    out->duration_ms = (long)(now_ms() - c.start_ms);
    conclude(&c);
    scrub(&c);
    memset(c.token, 0, c.token_cap);
    free(c.token);
    return out->status;
}

void arm_result_free(struct arm_result *r)
{
    if (!r)
        return;
    free(r->nic_json);
    free(r->nsg_json);
    free(r->routes_json);
    r->nic_json = r->nsg_json = r->routes_json = NULL;
    r->nic_len = r->nsg_len = r->routes_len = 0;
}
