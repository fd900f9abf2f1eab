/* The probe kinds. Each adds its checks (in plan order) and one engine job, and fills the
 * checks when the job ends. */
#ifndef AZB_PROBES_H
#define AZB_PROBES_H

#include <stdbool.h>
#include <stddef.h>

#include "probe/classify.h"
#include "probe/run.h"
#include "resolvers/dns.h"

/* dns.system / dns.azure for host. Returns the job index ((size_t)-1 on error). */
size_t probe_dns_add(struct run *r, const char *host, bool azure);
/* The answer of a finished DNS job, or NULL. */
const struct dns_answer *probe_dns_answer(struct run *r, size_t job);

/* net.tcp, net.tls, net.https for host:port, after both DNS jobs. */
void probe_net_add(struct run *r, const char *host, int port, size_t dns_system_job,
                   size_t dns_azure_job, const char *source);

/* wireserver.http, wireserver.hostgaplugin, imds.instance. Returns the job index. */
size_t probe_host_add(struct run *r, enum host_kind kind);

/* Shared evidence of a transfer: the addresses and interface it used, and the error if any. */
void probe_record_transfer(struct check *c, const struct http_result *res,
                           const char *dst_ip);
/* The response's telling headers (status, server, date, Azure's request id and error code); an
 * Azure response's Date also tells the VM's clock skew. */
void probe_record_response(struct run *r, struct check *c, const struct http_result *res);

#endif
