#include "probe/classify.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void say(struct layer *l, enum outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct layer *l, enum outcome o, const char *fmt, ...)
{
    va_list ap;
    l->outcome = o;
    va_start(ap, fmt);
    vsnprintf(l->summary, sizeof l->summary, fmt, ap);
    va_end(ap);
}

static bool has(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

void classify_tcp(const struct http_result *r, const char *addr, int port, struct layer *out)
{
    if (r->tcp_connected) {
        say(out, OUT_OK, "TCP connected to %s:%d in %ld ms", addr, port, r->connect_ms);
        return;
    }
    switch (r->os_errno) {
    case ECONNREFUSED:
        say(out, OUT_REFUSED, "TCP %s:%d refused (RST): a firewall or appliance rejects it, or nothing listens",
            addr, port);
        return;
    case EHOSTUNREACH:
        say(out, OUT_UNREACHABLE, "TCP %s:%d unreachable (ICMP host unreachable or prohibited): a route, "
            "appliance or firewall sends it back", addr, port);
        return;
    case ENETUNREACH:
        say(out, OUT_UNREACHABLE, "TCP %s:%d: no route on this VM (check the guest's routing table)", addr, port);
        return;
    case EPERM:
    case EACCES:
        say(out, OUT_UNREACHABLE, "TCP %s:%d not sent: a firewall on this VM refused it (%s)", addr, port,
            strerror((int)r->os_errno));
        return;
    default:
        break;
    }
    if (r->curl_code == CURLE_OPERATION_TIMEDOUT || r->os_errno == ETIMEDOUT)
        say(out, OUT_TIMEOUT, "TCP %s:%d timed out: packets are silently dropped (NSG, firewall or route)",
            addr, port);
    else
        say(out, OUT_ERROR, "TCP %s:%d failed: %s", addr, port, r->curl_error);
}

/* Through a proxy the first layer is the proxy itself and its answer to CONNECT. */
static void classify_proxy(const struct http_result *r, const char *proxy, const char *host, int port,
                           struct layer *out)
{
    long code = r->connect_code;
    if (r->curl_code == CURLE_COULDNT_RESOLVE_PROXY) {
        say(out, OUT_PROXY_UNRESOLVED, "proxy %s does not resolve: check its name and the VM's DNS", proxy);
    } else if (!r->tcp_connected) {
        if (r->os_errno == ECONNREFUSED || r->os_errno == EHOSTUNREACH || r->os_errno == ENETUNREACH)
            say(out, OUT_PROXY_REFUSED, "proxy %s refused or unreachable (%s): wrong port, or the proxy is down",
                proxy, strerror((int)r->os_errno));
        else if (r->curl_code == CURLE_OPERATION_TIMEDOUT)
            say(out, OUT_PROXY_TIMEOUT, "proxy %s did not answer TCP in time: packets to the proxy are dropped", proxy);
        else
            say(out, OUT_ERROR, "proxy %s failed: %s", proxy, r->curl_error);
    } else if (code == 407) {
        say(out, OUT_PROXY_AUTH, "proxy %s requires authentication (%s): Azure Backup and the guest agent do not "
            "support authenticated proxies", proxy, r->proxy_auth[0] ? r->proxy_auth : "scheme not named");
    } else if (code >= 500) {
        say(out, OUT_PROXY_UPSTREAM, "proxy %s could not reach %s:%d (CONNECT answered %ld%s%s)", proxy, host, port,
            code, r->proxy_error[0] ? ", " : "", r->proxy_error);
    } else if (code != 0 && (code < 200 || code > 299)) {
        say(out, OUT_PROXY_DENIED, "proxy %s refused CONNECT %s:%d with %ld%s%s: its policy denies this destination",
            proxy, host, port, code, r->proxy_error[0] ? " " : "", r->proxy_error);
    } else if (code == 0) {
        if (r->curl_code == CURLE_OPERATION_TIMEDOUT)
            say(out, OUT_TIMEOUT, "proxy %s accepted TCP but did not answer CONNECT %s:%d in time", proxy, host, port);
        else
            say(out, OUT_ERROR, "proxy %s: no answer to CONNECT: %s", proxy, r->curl_error);
    } else {
        say(out, OUT_OK, "proxy %s opened a tunnel to %s:%d (CONNECT %ld)", proxy, host, port, code);
    }
}

static void classify_tls(const struct http_result *r, const char *host, struct layer *out)
{
    if (r->tls_done) {
        say(out, OUT_OK, "TLS verified; certificate issued by %s", r->tls_issuer[0] ? r->tls_issuer : "?");
        return;
    }
    const char *who = r->tls_issuer[0] ? r->tls_issuer : "an unknown issuer";
    switch (r->curl_code) {
    case CURLE_PEER_FAILED_VERIFICATION:
        if (has(r->curl_error, "name") || has(r->curl_error, "match"))
            say(out, OUT_HOSTNAME_MISMATCH, "certificate from %s is not valid for %s: something else answers for it",
                who, host);
        else if (r->via_proxy)
            say(out, OUT_UNTRUSTED,
                "certificate issued by %s is not trusted: a TLS-inspecting proxy sits in the path "
                "(test with --cacert CORP-CA.pem)", who);
        else
            say(out, OUT_UNTRUSTED,
                "certificate issued by %s is not trusted: a TLS-inspecting device may be in the path "
                "(test with --cacert CORP-CA.pem)", who);
        return;
    case CURLE_OPERATION_TIMEDOUT:
        say(out, OUT_TIMEOUT, "TCP connected but no TLS answer within the timeout: a proxy or firewall holds the connection");
        return;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
        if (r->os_errno == ECONNRESET || !r->tls_received || has(r->curl_error, "reset") ||
            has(r->curl_error, "eof") || has(r->curl_error, "SYSCALL")) {
            say(out, OUT_RESET_AFTER_HELLO,
                "connection closed right after the TLS ClientHello (SNI %s): a host-name filtering firewall denies it",
                host);
            return;
        }
        break;
    default:
        break;
    }
    say(out, OUT_ERROR, "TLS handshake failed: %s", r->curl_error);
}

static void classify_storage_http(const struct http_result *r, struct layer *out)
{
    /* a response that never completed says nothing about who sent it */
    if (r->curl_code == CURLE_OPERATION_TIMEDOUT) {
        if (r->status)
            say(out, OUT_TIMEOUT, "HTTP %ld started but did not complete within the timeout (a stalled or slow sender)",
                r->status);
        else
            say(out, OUT_TIMEOUT, "TLS up but no HTTP response within the timeout");
        return;
    }
    if (r->curl_code == CURLE_WRITE_ERROR) {
        say(out, OUT_ERROR, "HTTP response rejected: %s", r->curl_error);
        return;
    }
    if (r->status > 0) {
        if (has(r->body, "Action: Deny"))
            say(out, OUT_FIREWALL_DENY, "HTTP %ld from a firewall, not Azure Storage: \"%.120s\"", r->status,
                strcasestr(r->body, "Action: Deny"));
        else if (r->status == 403 && (has(r->error_code, "AuthorizationFailure") ||
                                      has(r->body, "AuthorizationFailure") ||
                                      has(r->body, "not authorized to perform this operation")))
            say(out, OUT_STORAGE_FIREWALL,
                "Azure Storage answered 403 AuthorizationFailure: the storage account firewall, not the network, denies this VM");
        else if (r->request_id[0])
            say(out, OUT_OK, "Azure Storage answered HTTP %ld (x-ms-request-id %s): the service was reached",
                r->status, r->request_id);
        else
            say(out, OUT_NOT_AZURE, "HTTP %ld without x-ms-request-id (server: %s): something other than Azure Storage answered",
                r->status, r->server[0] ? r->server : "not named");
        return;
    }
    if (r->curl_code == CURLE_GOT_NOTHING || r->os_errno == ECONNRESET)
        say(out, OUT_RESET, "connection closed after the HTTP request without a response: a filtering device");
    else
        say(out, OUT_ERROR, "HTTP request failed: %s", r->curl_error);
}

void classify_storage(const struct http_result *r, const char *host, const char *addr, int port,
                      struct net_layers *out)
{
    if (r->via_proxy) {
        classify_proxy(r, addr && *addr ? addr : "?", host, port, &out->tcp);
    } else {
        if (r->remote_ip[0])
            addr = r->remote_ip;
        classify_tcp(r, addr && *addr ? addr : host, port, &out->tcp);
    }
    if (out->tcp.outcome != OUT_OK) {
        const char *why = r->via_proxy ? "not tried: no tunnel through the proxy" : "not tried: TCP failed";
        say(&out->tls, OUT_SKIPPED, "%s", why);
        say(&out->http, OUT_SKIPPED, "%s", why);
        return;
    }
    classify_tls(r, host, &out->tls);
    if (out->tls.outcome != OUT_OK) {
        say(&out->http, OUT_SKIPPED, "not tried: TLS failed");
        return;
    }
    classify_storage_http(r, &out->http);
}

void classify_host(const struct http_result *r, enum host_kind kind, const char *addr, int port,
                   struct layer *out)
{
    static const char *const names[] = {"WireServer", "HostGAPlugin", "IMDS"};
    const char *name = names[kind];
    classify_tcp(r, addr, port, out);
    if (out->outcome != OUT_OK)
        return;
    if (r->curl_code == CURLE_OPERATION_TIMEDOUT) {
        say(out, OUT_TIMEOUT, "%s %s:%d accepted TCP but its HTTP response did not complete in time", name, addr, port);
        return;
    }
    if (r->status == 0) {
        if (r->curl_code == CURLE_GOT_NOTHING || r->os_errno == ECONNRESET)
            say(out, OUT_RESET, "%s %s:%d closed the connection without a response", name, addr, port);
        else
            say(out, OUT_ERROR, "%s %s:%d: %s", name, addr, port, r->curl_error);
        return;
    }
    if (r->status != 200) {
        say(out, OUT_BAD_STATUS, "%s %s:%d answered HTTP %ld, expected 200", name, addr, port, r->status);
        return;
    }
    if (kind == HOST_WIRESERVER && !has(r->body, "<Versions")) {
        say(out, OUT_BAD_BODY, "%s %s:%d answered 200 but not the <Versions> XML: something else answers there",
            name, addr, port);
        return;
    }
    if (kind == HOST_IMDS && !has(r->body, "\"compute\"")) {
        say(out, OUT_BAD_BODY, "IMDS %s:%d answered 200 without instance metadata", addr, port);
        return;
    }
    say(out, OUT_OK, "%s %s:%d answered HTTP 200 in %ld ms", name, addr, port, r->total_ms);
}
