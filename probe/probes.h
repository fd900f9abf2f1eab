/* The probe kinds. Each adds its checks (in plan order) and one engine job, and fills the
 * checks when the job ends. */
#ifndef AZB_PROBES_H
#define AZB_PROBES_H

#include <stdbool.h>
#include <stddef.h>

#include "probe/classify.h"
#include "probe/proxy.h"
#include "probe/run.h"
#include "resolvers/dns.h"

/* dns.system / dns.azure for host. Returns the job index ((size_t)-1 on error). */
size_t probe_dns_add(struct run *r, const char *host, bool azure);
/* The answer of a finished DNS job, or NULL. */
const struct dns_answer *probe_dns_answer(struct run *r, size_t job);

/* net.tcp, net.tls, net.https for host:port: direct after both DNS jobs (via NULL or direct), or
 * through via's proxy at once (the proxy resolves). Returns the net.tcp check's index (net.tls and
 * net.https follow it), or (size_t)-1. */
size_t probe_net_add(struct run *r, const char *host, int port, size_t dns_system_job,
                     size_t dns_azure_job, const char *source, const struct proxy_path *via);
/* "direct", or "proxy http://host:port" (never credentials) */
void probe_path_label(const struct proxy_path *via, char *out, size_t size);

/* wireserver.http, wireserver.hostgaplugin, imds.instance. Returns the job index. */
size_t probe_host_add(struct run *r, enum host_kind kind);

/* proxy.config: every proxy source found, redacted, with problems and disagreements. */
void probe_proxy_config(struct run *r);
/* proxy.platform: would an environment proxy catch the WireServer or IMDS? */
void probe_proxy_platform(struct run *r, const char *wireserver, const char *imds_host);

/* dhcp.live245: a DISCOVER and the OFFER's option 245 (a capture child that drops privileges). */
void probe_dhcp_live(struct run *r);
/* dhcp.lease245: option 245 in the lease files under --root; sets the starting WireServer address. */
void probe_dhcp_lease(struct run *r);

/* route.wireserver, route.imds: the kernel's route and source address for the platform addresses. */
void probe_routes(struct run *r, const char *imds_host);

/* Shared evidence of a transfer: the addresses and interface it used, and the error if any. */
void probe_record_transfer(struct check *c, const struct http_result *res,
                           const char *dst_ip);
/* The response's telling headers (status, server, date, Azure's request id and error code); an
 * Azure response's Date also tells the VM's clock skew. */
void probe_record_response(struct run *r, struct check *c, const struct http_result *res);

#endif
