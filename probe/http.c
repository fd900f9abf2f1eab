#include "probe/http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probe/engine.h"
#include "probe/proxy.h"
#include "probe/sysfile.h"

#define HEADER_LIMIT (256 * 1024) /* total response header bytes before we give up */

struct http_client {
    struct engine *engine;
    CURLM *multi;
    int64_t timer_at; /* monotonic ms, -1 none */
    char *ca_blob;    /* system bundle + --cacert, when --cacert is given */
    size_t ca_len;
    int verbose;
};

struct http_xfer {
    struct http_client *client;
    CURL *easy;
    struct curl_slist *headers, *resolve;
    http_done_cb cb;
    void *arg;
    bool running;
    size_t body_cap, header_bytes;
    bool header_overflow;
    char errbuf[CURL_ERROR_SIZE];
    char url[512];
    struct http_result r;
};

const struct http_result *http_result(const struct http_xfer *x) { return &x->r; }

/* ---- response capture ---- */

static void copy_trimmed(char *dst, size_t size, const char *src, size_t len)
{
    while (len && (src[len - 1] == '\r' || src[len - 1] == '\n' || src[len - 1] == ' '))
        len--;
    while (len && (*src == ' ' || *src == '\t')) {
        src++;
        len--;
    }
    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

#define FIELD(name, member) {name, offsetof(struct http_result, member), sizeof ((struct http_result *)0)->member}

struct header_field {
    const char *name;
    size_t off, size;
};

/* Headers of the target's response, and of the proxy's answer to CONNECT. */
static const struct header_field response_fields[] = {
    FIELD("server:", server), FIELD("x-ms-request-id:", request_id),
    FIELD("x-ms-error-code:", error_code), FIELD("date:", date),
};
static const struct header_field connect_fields[] = {
    FIELD("proxy-authenticate:", proxy_auth), FIELD("x-squid-error:", proxy_error),
    FIELD("server:", proxy_server), FIELD("via:", proxy_server),
};

static void capture(struct http_xfer *x, const struct header_field *f, size_t n, const char *buf, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        size_t nl = strlen(f[i].name);
        char *dst = (char *)&x->r + f[i].off;
        if (len > nl && strncasecmp(buf, f[i].name, nl) == 0 && !(f == connect_fields && dst[0])) {
            copy_trimmed(dst, f[i].size, buf + nl, len - nl);
            return;
        }
    }
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    struct http_xfer *x = arg;
    size_t len = size * n;
    x->header_bytes += len;
    if (x->header_bytes > HEADER_LIMIT) {
        x->header_overflow = true;
        return 0;
    }
    /* Before TLS starts, a proxied transfer's headers are the proxy's answer to CONNECT. */
    if (x->r.via_proxy && !x->r.tls_sent) {
        capture(x, connect_fields, sizeof connect_fields / sizeof connect_fields[0], buf, len);
        return len;
    }
    if (len > 5 && strncmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after 100 Continue): forget the previous one's headers */
        for (size_t i = 0; i < sizeof response_fields / sizeof response_fields[0]; i++)
            memset((char *)&x->r + response_fields[i].off, 0, response_fields[i].size);
        return len;
    }
    capture(x, response_fields, sizeof response_fields / sizeof response_fields[0], buf, len);
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *arg)
{
    struct http_xfer *x = arg;
    size_t len = size * n;
    size_t room = x->body_cap - x->r.body_len;
    size_t take = len < room ? len : room;
    memcpy(x->r.body + x->r.body_len, buf, take);
    x->r.body_len += take;
    x->r.body[x->r.body_len] = '\0';
    if (take < len) {
        x->r.stopped_reading = true; /* enough evidence: do not read an endless body */
        return 0;
    }
    return len;
}

static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)easy;
    struct http_xfer *x = arg;
    switch (type) {
    case CURLINFO_SSL_DATA_OUT:
        x->r.tls_sent = x->r.tcp_connected = true;
        break;
    case CURLINFO_SSL_DATA_IN:
        x->r.tls_received = true;
        break;
    case CURLINFO_HEADER_OUT:
        x->r.header_sent = x->r.tcp_connected = true;
        break;
    case CURLINFO_TEXT:
        if (size > 12 && strncmp(data, "Connected to", 12) == 0)
            x->r.tcp_connected = true;
        if (x->client->verbose >= 2) {
            char line[512], clean[512];
            snprintf(line, sizeof line, "%.*s", (int)(size > 400 ? 400 : size), data);
            proxy_redact(line, clean, sizeof clean); /* libcurl's own words may quote a proxy URL */
            fprintf(stderr, "azbprobe: [%s] %s", x->url, clean);
        }
        break;
    default:
        break;
    }
    return 0;
}

/* Called as curl closes the connection: the socket still knows both ends. */
static int on_close(void *arg, curl_socket_t fd)
{
    struct http_xfer *x = arg;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (!x->r.local_ip[0] && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
        ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        if (in->sin_addr.s_addr != 0) {
            inet_ntop(AF_INET, &in->sin_addr, x->r.local_ip, sizeof x->r.local_ip);
            x->r.local_port = ntohs(in->sin_port);
        }
    }
    sl = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        x->r.tcp_connected = true;
    return close(fd);
}

static void cert_field(const struct curl_slist *s, const char *key, char *out, size_t size)
{
    size_t kl = strlen(key);
    for (; s; s = s->next) {
        if (strncmp(s->data, key, kl) == 0) {
            snprintf(out, size, "%s", s->data + kl);
            return;
        }
    }
}

static void collect_certs(struct http_xfer *x)
{
    struct curl_certinfo *ci = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci || ci->num_of_certs <= 0)
        return;
    cert_field(ci->certinfo[0], "Subject:", x->r.tls_subject, sizeof x->r.tls_subject);
    cert_field(ci->certinfo[0], "Issuer:", x->r.tls_issuer, sizeof x->r.tls_issuer);
    for (int i = 0; i < ci->num_of_certs; i++) {
        char subj[256] = "";
        cert_field(ci->certinfo[i], "Subject:", subj, sizeof subj);
        size_t used = strlen(x->r.tls_chain);
        if (used < sizeof x->r.tls_chain)
            snprintf(x->r.tls_chain + used, sizeof x->r.tls_chain - used, "%s[%d] %s", i ? "; " : "", i, subj);
    }
}

static long info_ms(CURL *easy, CURLINFO what)
{
    curl_off_t us = 0;
    if (curl_easy_getinfo(easy, what, &us) != CURLE_OK)
        return 0;
    return (long)(us / 1000);
}

/* The transfer ended (curl said so, or the engine cancelled it): gather the evidence, then report. */
static void finish(struct http_xfer *x, CURLcode code)
{
    if (!x->running)
        return;
    x->running = false;
    curl_multi_remove_handle(x->client->multi, x->easy);
    x->r.curl_code = code;
    if (x->r.stopped_reading && code == CURLE_WRITE_ERROR)
        x->r.curl_code = CURLE_OK;
    if (x->header_overflow) {
        x->r.curl_code = CURLE_WRITE_ERROR;
        snprintf(x->errbuf, sizeof x->errbuf, "response headers exceeded %d bytes", HEADER_LIMIT);
    }
    snprintf(x->r.curl_error, sizeof x->r.curl_error, "%s",
             x->errbuf[0] ? x->errbuf : curl_easy_strerror((CURLcode)x->r.curl_code));
    curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &x->r.os_errno);
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->r.status);
    char *ip = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && *ip)
        snprintf(x->r.remote_ip, sizeof x->r.remote_ip, "%s", ip);
    if (!x->r.local_ip[0] && curl_easy_getinfo(x->easy, CURLINFO_LOCAL_IP, &ip) == CURLE_OK && ip && *ip)
        snprintf(x->r.local_ip, sizeof x->r.local_ip, "%s", ip);
    x->r.connect_ms = info_ms(x->easy, CURLINFO_CONNECT_TIME_T);
    x->r.tls_ms = info_ms(x->easy, CURLINFO_APPCONNECT_TIME_T);
    x->r.total_ms = info_ms(x->easy, CURLINFO_TOTAL_TIME_T);
    if (x->r.connect_ms > 0 || x->r.status > 0)
        x->r.tcp_connected = true;
    x->r.tls_done = x->r.tls_ms > 0 || (x->r.status > 0 && strncmp(x->url, "https:", 6) == 0);
    curl_easy_getinfo(x->easy, CURLINFO_SSL_VERIFYRESULT, &x->r.verify_result);
    curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &x->r.connect_code);
    collect_certs(x);
    x->cb(x, x->arg);
}

static void drain(struct http_client *c)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct http_xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            finish(x, m->data.result);
    }
}

/* ---- loop adapter ---- */

static void on_fd(void *arg, int fd, short revents)
{
    struct http_client *c = arg;
    int flags = 0, running;
    if (revents & (POLLIN | POLLHUP))
        flags |= CURL_CSELECT_IN;
    if (revents & POLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (revents & POLLERR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    drain(c);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    (void)socketp;
    struct http_client *c = userp;
    short ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= POLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= POLLOUT;
    engine_watch(c->engine, fd, what == CURL_POLL_REMOVE ? 0 : ev, on_fd, c);
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct http_client *c = userp;
    c->timer_at = timeout_ms < 0 ? -1 : engine_now_ms() + timeout_ms;
    return 0;
}

static long source_timeout(void *ctx)
{
    struct http_client *c = ctx;
    if (c->timer_at < 0)
        return -1;
    int64_t left = c->timer_at - engine_now_ms();
    return left < 0 ? 0 : (long)left;
}

static void source_expire(void *ctx)
{
    struct http_client *c = ctx;
    int running;
    c->timer_at = -1;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain(c);
}

/* ---- trust store ---- */

/* --cacert adds to the system store: libcurl takes one bundle, so hand it both in one blob. */
static int load_ca_blob(struct http_client *c, const char *extra, char *err, size_t errlen)
{
    const char *sys = NULL;
#if LIBCURL_VERSION_NUM >= 0x075400
    CURL *tmp = curl_easy_init();
    char *p = NULL;
    if (tmp && curl_easy_getinfo(tmp, CURLINFO_CAINFO, &p) == CURLE_OK && p)
        sys = strdup(p);
    if (tmp)
        curl_easy_cleanup(tmp);
#endif
    if (!sys)
        sys = strdup(access("/etc/pki/tls/certs/ca-bundle.crt", R_OK) == 0
                         ? "/etc/pki/tls/certs/ca-bundle.crt"
                         : "/etc/ssl/certs/ca-certificates.crt");
    size_t slen = 0, elen = 0;
    char *sbuf = sysfile_read_abs(sys, 16u << 20, &slen); /* a missing system store is fine */
    char *ebuf = sysfile_read_abs(extra, 16u << 20, &elen);
    free((char *)sys);
    if (!ebuf) {
        free(sbuf);
        snprintf(err, errlen, "--cacert: cannot read '%.200s'", extra);
        return -1;
    }
    if (!strstr(ebuf, "-----BEGIN CERTIFICATE-----")) {
        free(sbuf);
        free(ebuf);
        snprintf(err, errlen, "--cacert: '%.200s' holds no PEM certificate", extra);
        return -1;
    }
    c->ca_blob = malloc(slen + elen + 2);
    if (!c->ca_blob) {
        free(sbuf);
        free(ebuf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (slen)
        memcpy(c->ca_blob, sbuf, slen);
    c->ca_blob[slen] = '\n';
    memcpy(c->ca_blob + slen + 1, ebuf, elen);
    c->ca_len = slen + 1 + elen;
    free(sbuf);
    free(ebuf);
    return 0;
}

struct http_client *http_client_new(struct engine *e, const char *cacert_file, int verbose,
                                    char *err, size_t errlen)
{
    struct http_client *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->engine = e;
    c->timer_at = -1;
    c->verbose = verbose;
    if (cacert_file && *cacert_file && load_ca_blob(c, cacert_file, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    c->multi = curl_multi_init();
    if (!c->multi) {
        snprintf(err, errlen, "curl_multi_init failed");
        free(c->ca_blob);
        free(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    engine_add_source(e, (struct loop_source){source_timeout, source_expire, c});
    return c;
}

void http_client_free(struct http_client *c)
{
    if (!c)
        return;
    curl_multi_cleanup(c->multi);
    free(c->ca_blob);
    free(c);
}

/* ---- transfers ---- */

static void set_resolve(struct http_xfer *x, const struct http_spec *s)
{
    if (!s->pin_addr[0])
        return;
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, s->url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        char line[512];
        snprintf(line, sizeof line, "%s:%s:%s", host, port, s->pin_addr);
        x->resolve = curl_slist_append(NULL, line);
        curl_easy_setopt(x->easy, CURLOPT_RESOLVE, x->resolve);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

struct http_xfer *http_start(struct http_client *c, const struct http_spec *s, http_done_cb cb,
                             void *arg)
{
    struct http_xfer *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->client = c;
    x->cb = cb;
    x->arg = arg;
    x->body_cap = s->body_cap ? s->body_cap : 4096;
    x->r.body = calloc(1, x->body_cap + 1);
    x->easy = curl_easy_init();
    if (!x->r.body || !x->easy) {
        http_xfer_free(x);
        return NULL;
    }
    snprintf(x->url, sizeof x->url, "%s", s->url);
    CURL *h = x->easy;
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* Never the environment's proxy: only the one the spec names, if any. */
    x->r.via_proxy = s->proxy[0] != '\0';
    curl_easy_setopt(h, CURLOPT_PROXY, s->proxy);
    curl_easy_setopt(h, CURLOPT_NOPROXY, x->r.via_proxy ? "" : "*");
    if (x->r.via_proxy) {
        curl_easy_setopt(h, CURLOPT_PROXYTYPE, (long)CURLPROXY_HTTP);
        curl_easy_setopt(h, CURLOPT_HTTPPROXYTUNNEL, 1L);
        if (s->proxy_userpwd[0]) {
            curl_easy_setopt(h, CURLOPT_PROXYUSERPWD, s->proxy_userpwd);
            curl_easy_setopt(h, CURLOPT_PROXYAUTH, (long)CURLAUTH_ANY);
        }
    }
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);     /* one probe, one connection */
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(h, CURLOPT_IPRESOLVE, CURL_IPRESOLVE_V4);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_USERAGENT, "azbprobe/" AZB_VERSION);
    curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s->peek_cert ? 0L : 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s->peek_cert ? 0L : 2L);
    if (s->peek_cert)
        curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    if (c->ca_blob) {
        struct curl_blob blob = {c->ca_blob, c->ca_len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* feeds on_debug: how far the connection got */
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, x);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, on_close);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, x);
    for (size_t i = 0; i < 4 && s->headers[i]; i++)
        x->headers = curl_slist_append(x->headers, s->headers[i]);
    if (x->headers)
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    set_resolve(x, s);
    if (curl_multi_add_handle(c->multi, h) != CURLM_OK) {
        http_xfer_free(x);
        return NULL;
    }
    x->running = true;
    return x;
}

void http_cancel(struct http_xfer *x)
{
    if (x && x->running) {
        snprintf(x->errbuf, sizeof x->errbuf, "no answer within the probe timeout");
        finish(x, CURLE_OPERATION_TIMEDOUT);
    }
}

void http_xfer_free(struct http_xfer *x)
{
    if (!x)
        return;
    if (x->running)
        curl_multi_remove_handle(x->client->multi, x->easy);
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    curl_slist_free_all(x->resolve);
    free(x->r.body);
    free(x);
}

const char *http_client_ca(const struct http_client *c, size_t *len)
{
    *len = c->ca_len;
    return c->ca_blob;
}
