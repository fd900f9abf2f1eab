/* Outcome classification (pure): what a finished transfer says about each layer of the path.
 * TCP: connected, timed out (silent drop), refused (RST), unreachable (ICMP). TLS: verified,
 * untrusted (whose certificate), wrong name, reset right after the ClientHello (an SNI-filtering
 * firewall). HTTP: Azure Storage itself answered (x-ms-request-id), an Azure Firewall deny page,
 * the storage account's own firewall, or something that is not Azure. */
#ifndef AZB_CLASSIFY_H
#define AZB_CLASSIFY_H

#include "probe/check.h"
#include "probe/http.h"

struct layer {
    enum outcome outcome;
    char summary[256];
};

struct net_layers {
    struct layer tcp, tls, http;
};

/* A storage endpoint over HTTPS: fills all three layers (later layers OUT_SKIPPED when an
 * earlier one failed). addr: the address connected to, or for a proxied transfer the proxy's
 * label; then the first layer is the proxy and its answer to CONNECT. */
void classify_storage(const struct http_result *r, const char *host, const char *addr, int port,
                      struct net_layers *out);

enum host_kind { HOST_WIRESERVER, HOST_HOSTGAPLUGIN, HOST_IMDS };

/* A platform endpoint over plain HTTP: one layer. */
void classify_host(const struct http_result *r, enum host_kind kind, const char *addr, int port,
                   struct layer *out);

/* The transport layer alone (shared by both). */
void classify_tcp(const struct http_result *r, const char *addr, int port, struct layer *out);

#endif
