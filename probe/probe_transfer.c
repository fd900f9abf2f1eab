/* Evidence every HTTP(S) probe records the same way: where the packets left from (multi-NIC VMs
 * send WireServer traffic out of the wrong NIC), where they went, and Azure's clock. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe/netinfo.h"
#include "probe/probes.h"

static void note_date(struct run *r, const char *date, const char *from)
{
    if (r->facts.have_clock || !date[0])
        return;
    time_t theirs = curl_getdate(date, NULL);
    if (theirs == (time_t)-1)
        return;
    r->facts.clock_skew_s = (long)(theirs - time(NULL));
    r->facts.have_clock = true;
    snprintf(r->facts.clock_from, sizeof r->facts.clock_from, "%s", from);
}

void probe_record_transfer(struct check *c, const struct http_result *res,
                           const char *dst_ip)
{
    char src[64] = "", ifname[64] = "";
    if (res->local_ip[0])
        snprintf(src, sizeof src, "%s", res->local_ip);
    else if (dst_ip && netinfo_route_source(dst_ip, src, sizeof src))
        check_ev(c, "local_address_source", "kernel route choice (the connection did not get far enough to show it)");
    if (src[0]) {
        check_ev(c, "local_address", "%s", src);
        if (netinfo_ifname(src, ifname, sizeof ifname))
            check_ev(c, "interface", "%s", ifname);
    }
    if (dst_ip && dst_ip[0])
        check_ev(c, "remote_address", "%s", res->remote_ip[0] ? res->remote_ip : dst_ip);
    if (res->curl_code != CURLE_OK)
        check_ev(c, "curl_error", "%d %s", res->curl_code, res->curl_error);
    if (res->os_errno)
        check_ev(c, "errno", "%ld %s", res->os_errno, strerror((int)res->os_errno));
}

void probe_record_response(struct run *r, struct check *c, const struct http_result *res)
{
    if (res->status <= 0)
        return;
    check_ev(c, "http_status", "%ld", res->status);
    const struct { const char *key, *value; } headers[] = {
        {"server", res->server}, {"date", res->date}, {"x_ms_request_id", res->request_id},
        {"x_ms_error_code", res->error_code},
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        if (headers[i].value[0])
            check_ev(c, headers[i].key, "%s", headers[i].value);
    /* Only a response Azure itself sent says what Azure's clock reads. */
    if (res->request_id[0] || strstr(c->id, "wireserver") || strstr(c->id, "imds"))
        note_date(r, res->date, c->id);
}
