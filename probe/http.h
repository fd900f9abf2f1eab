/* HTTP(S) transfers on the libcurl multi interface, driven by the engine's loop. A transfer
 * records what a network engineer needs as evidence: how far it got (TCP, TLS, HTTP), the
 * addresses it used, the certificate presented and the response's telling headers, all bounded
 * in size. Never through a proxy unless the spec names one. */
#ifndef AZB_HTTP_H
#define AZB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct engine;
struct http_client;

struct http_spec {
    char url[512];
    char pin_addr[64];     /* connect to this address for the URL's host (CURLOPT_RESOLVE) */
    const char *headers[4];/* extra request headers, NULL-terminated */
    long timeout_ms;
    size_t body_cap;       /* bytes of body to keep (more is read and discarded up to a limit) */
    bool peek_cert;        /* TLS handshake only, verification off: to see an untrusted chain */
    char proxy[600];       /* "" direct; else http://host:port (credentials go in proxy_userpwd) */
    char proxy_userpwd[260];
};

struct http_xfer;
typedef void (*http_done_cb)(struct http_xfer *x, void *arg);

struct http_result {
    int curl_code;         /* CURLcode; CURLE_OPERATION_TIMEDOUT also when the engine cancelled */
    long os_errno;
    char curl_error[256];
    bool tcp_connected;    /* the TCP handshake completed */
    bool tls_sent;         /* a TLS ClientHello left */
    bool tls_received;     /* the server answered with TLS records */
    bool tls_done;         /* handshake (and verification) completed */
    bool header_sent;      /* the HTTP request left */
    bool stopped_reading;  /* we stopped a long body on purpose: not an error */
    long status;           /* HTTP status, 0 if none */
    char server[128], request_id[128], error_code[128], date[64];
    char *body;            /* NUL-terminated, at most body_cap bytes */
    size_t body_len;
    char local_ip[64], remote_ip[64];
    int local_port;
    char tls_subject[256], tls_issuer[256], tls_chain[1024];
    long verify_result;    /* OpenSSL X509_V_* of the chain (also with verification off) */
    bool via_proxy;
    long connect_code;     /* the proxy's answer to CONNECT, 0 if none */
    char proxy_auth[128], proxy_error[160], proxy_server[160];
    long connect_ms, tls_ms, total_ms;
};

struct http_client *http_client_new(struct engine *e, const char *cacert_file, int verbose,
                                    char *err, size_t errlen);
void http_client_free(struct http_client *c);
/* The trust store the client uses (system bundle + --cacert as one PEM blob), or NULL when the
 * default store applies; for other libcurl handles that must trust the same CAs. */
const char *http_client_ca(const struct http_client *c, size_t *len);

/* Start a transfer; cb runs once when it ends (from the loop), or from http_cancel(). */
struct http_xfer *http_start(struct http_client *c, const struct http_spec *spec, http_done_cb cb,
                             void *arg);
/* Stop a running transfer as timed out; its callback runs before this returns. */
void http_cancel(struct http_xfer *x);
const struct http_result *http_result(const struct http_xfer *x);
void http_xfer_free(struct http_xfer *x);

#endif
