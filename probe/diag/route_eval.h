/* Effective routes of a NIC and the next hop a destination takes (nsg-routes-tags.md sections 7-8).
 *
 * Reader (route_eval.c) accepts, detecting the shape:
 *  - `az network nic show-effective-route-table -o json` / POST effectiveRouteTable:
 *    {"value": [{name, source, state, addressPrefix[], nextHopIpAddress[], nextHopType,
 *    disableBgpRoutePropagation, destinationServiceTags?, ...}], "nextLink"} or a bare array,
 *    PowerShell's PascalCase keys too;
 *  - a route table resource (`az network route-table show`, flat, or ARM GET with properties) or a
 *    bare list of its routes: only UDRs, so the table is marked partial and the platform's system
 *    routes (0.0.0.0/0 -> Internet, the reserved ranges -> None) are added as the doc describes.
 *
 * Selection: Active routes only; longest prefix; on equal prefixes User > BGP
 * (VirtualNetworkGateway) > Default, then an explicit prefix over a service-tag one (regional tag >
 * global tag > AzureCloud.<region> > AzureCloud); except that system routes for the VNet, peerings
 * and service endpoints beat a more specific BGP route. Pure: no I/O but reading the file. */
#ifndef AZB_DIAG_ROUTE_EVAL_H
#define AZB_DIAG_ROUTE_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/diag/nsg.h"
#include "probe/diag/prefix.h"

#define ROUTES_MAX         50000    /* routes in one table (BGP can bring thousands) */
#define ROUTES_MAX_PREFIX  10000    /* addressPrefix entries in one route */
#define ROUTES_MAX_TOTAL   1000000  /* prefixes in one table */

/* Ranked: a higher value wins on equal prefixes. */
enum route_source { ROUTE_SRC_UNKNOWN = 0, ROUTE_SRC_DEFAULT = 1, ROUTE_SRC_BGP = 2, ROUTE_SRC_USER = 3 };

enum route_hop {
    ROUTE_HOP_OTHER = 0,            /* a value this version does not know: see hop_text */
    ROUTE_HOP_VNET_LOCAL,
    ROUTE_HOP_INTERNET,
    ROUTE_HOP_VIRTUAL_APPLIANCE,
    ROUTE_HOP_VNET_GATEWAY,
    ROUTE_HOP_NONE,
    ROUTE_HOP_VNET_PEERING,
    ROUTE_HOP_VNET_GLOBAL_PEERING,
    ROUTE_HOP_SERVICE_ENDPOINT,
    ROUTE_HOP_INTERFACE_ENDPOINT,
};

struct eroute {
    char name[NSG_NAME_MAX];        /* the UDR's name; "" for system and BGP routes */
    enum route_source source;
    char source_text[32];           /* as the file spells it */
    bool active;                    /* state Active; Invalid routes are kept to explain overrides */
    enum route_hop hop;
    char hop_text[48];
    bool has_hop_ip;
    uint32_t hop_ip;                /* the first IPv4 nextHopIpAddress */
    struct prefix4 *pfx;            /* IPv4 addressPrefix entries */
    size_t npfx;
    char (*tags)[NSG_TAG_MAX];      /* service tags used as address prefixes, and destinationServiceTags */
    size_t ntags;
    bool tag_derived;               /* pfx[] is a service tag's expansion (destinationServiceTags) */
    bool disable_bgp;
    bool synthesized;               /* a system route the export lacked, added by the loader */
};

struct eroute_table {
    struct eroute *r;
    size_t n, cap;
    bool partial;                   /* built from UDRs only: VNet, peering, BGP, endpoint routes unknown */
    struct prefix_index *ix;        /* Active routes' prefixes, id = route index (routes_prepare) */
    struct azj_input input;
};

/* Load into t (zeroed first; routes_free it afterwards, also after an error). AZJ_OK or a negative
 * enum azj_status with err naming the file and the JSON path. */
int routes_load(struct eroute_table *t, const char *path, struct azj_error *err);
int routes_load_buffer(struct eroute_table *t, const char *buf, size_t len, const char *label,
                       struct azj_error *err);
void routes_free(struct eroute_table *t);

/* Building by hand. hop_ip may be NULL. The pointer is valid until the next routes_add. */
struct eroute *routes_add(struct eroute_table *t, const char *name, enum route_source source,
                          enum route_hop hop, const char *hop_ip, bool active);
/* A CIDR, an address or a service tag name; 0 or -1. */
int routes_add_prefix(struct eroute *r, const char *text);
/* The VNet's address space as Default -> VnetLocal routes (for a partial table, e.g. from IMDS);
 * synthesized reserved None routes overlapping it are dropped, as Azure does. */
int routes_add_vnet(struct eroute_table *t, const struct prefix4 *space, size_t n);
/* Build the index (routes_load does it); 0 or AZJ_ENOMEM. */
int routes_prepare(struct eroute_table *t);

struct route_choice {
    bool found;                     /* false: no active route contains dst, Azure drops the packet */
    bool platform;                  /* 168.63.129.16 / 169.254.169.254: not routed by UDRs */
    const struct eroute *route;
    struct prefix4 prefix;          /* the prefix that matched */
    char tag[NSG_TAG_MAX];          /* the service tag the prefix came from, "" when explicit */
    enum route_hop hop;
    bool has_hop_ip;
    uint32_t hop_ip;
    bool drop;                      /* next hop None */
    bool appliance;                 /* VirtualAppliance: an NVA decides, invisible to NSG analysis */
    bool gateway;                   /* VirtualNetworkGateway: tunnelled to on-premises */
    bool exempt_system;             /* a VNet/peering/endpoint system route beat a more specific BGP one */
    const struct eroute *overridden;/* an Invalid route with the same prefix (a system route a UDR replaced) */
    const struct eroute *unresolved;/* a tag route the resolver could not expand: the choice may be wrong */
    bool partial;                   /* the table is UDRs only */
};

/* The route dst takes. tags resolves service-tag prefixes (may be NULL). 0, or -1 on bad arguments. */
int route_select(const struct eroute_table *t, uint32_t dst, const struct tag_resolver *tags,
                 struct route_choice *c);

/* "User route default-to-nva 0.0.0.0/0 -> VirtualAppliance 10.0.2.4 (replaces the system route
 * 0.0.0.0/0 -> Internet)"; "system route 10.0.0.0/8 -> None: Azure drops the traffic". */
void route_describe(const struct route_choice *c, char *buf, size_t size);

/* The VirtualNetwork tag's extent implied by the routes: VNet space, peerings, gateway (BGP)
 * prefixes, UDR prefixes and 168.63.129.16/32 (service-tags-overview.md). Writes up to max, returns
 * how many there are. With a 0.0.0.0/0 UDR this includes 0.0.0.0/0, as Azure does. */
size_t routes_vnet_prefixes(const struct eroute_table *t, struct prefix4 *out, size_t max);

/* An active 0.0.0.0/0 route to a VirtualAppliance or gateway wins for public destinations. */
bool routes_forced_tunnel(const struct eroute_table *t);

const char *route_hop_name(enum route_hop h);
const char *route_source_name(enum route_source s);

#endif
