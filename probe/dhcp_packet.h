/* DHCP option 245 on the wire: the guest agent's DISCOVER (built byte for byte as WALinuxAgent's
 * build_dhcp_request does, padded to the BOOTP minimum), the Ethernet/IPv4/UDP frame libpcap
 * injects, and a strict parser for the reply (RFC 2131 message, RFC 2132 options, RFC 3442 routes).
 * Pure: no I/O, no allocation, never reads past the given length. Addresses are host-order
 * uint32_t (168.63.129.16 = 0xA83F8110); dhcp_ip_str formats one. */
#ifndef AZB_DHCP_PACKET_H
#define AZB_DHCP_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_BOOTP_MIN 300        /* RFC 1542 section 2.1: pad BOOTP messages to 300 octets */
#define DHCP_FIXED_LEN 236        /* RFC 2131 section 2, figure 1: op .. file */
#define DHCP_OPTIONS_OFF 240      /* fixed part + magic cookie (RFC 2131 section 3) */
#define DHCP_FRAME_HDR 42         /* Ethernet 14 + IPv4 20 + UDP 8 */
#define DHCP_MAX_DNS 4
#define DHCP_MAX_ROUTES 8
#define DHCP_DOMAIN_MAX 256       /* an option holds at most 255 octets */
#define DHCP_WIRESERVER 0xA83F8110u /* 168.63.129.16 */

enum dhcp_status {
    DHCP_OK = 0,
    DHCP_TOO_SHORT,        /* fewer than 240 bytes, or a frame cut before its headers end */
    DHCP_NOT_REPLY,        /* op != 2 (BOOTREPLY) */
    DHCP_BAD_COOKIE,       /* not 63 82 53 63 at offset 236 */
    DHCP_WRONG_XID,        /* xid differs from the request's */
    DHCP_WRONG_MAC,        /* chaddr (or hlen) differs from the request's */
    DHCP_TRUNCATED_OPTION, /* an option's length byte or data runs past the end */
    DHCP_NOT_UDP_68,       /* frame: not Ethernet/IPv4/UDP to port 68 (or fragmented) */
};

struct dhcp_route {        /* one RFC 3442 classless static route */
    uint32_t dest;
    uint8_t prefix;        /* 0..32 */
    uint32_t gateway;
};

struct dhcp_reply {
    uint8_t op;
    uint8_t htype, hlen;
    uint32_t xid;
    uint16_t flags;
    uint8_t chaddr[6];
    uint32_t yiaddr, siaddr;
    uint8_t msg_type;                 /* option 53; 0 when absent (2 OFFER, 5 ACK, 6 NAK) */
    bool has_server_id;
    uint32_t server_id;               /* option 54 */
    bool has_router;
    uint32_t router;                  /* option 3, first address */
    uint32_t dns[DHCP_MAX_DNS];       /* option 6 */
    size_t dns_count;
    char domain[DHCP_DOMAIN_MAX];     /* option 15, non-printable bytes shown as '?' */
    bool has_lease_time;
    uint32_t lease_time;              /* option 51, seconds; 0xFFFFFFFF = infinite */
    struct dhcp_route routes[DHCP_MAX_ROUTES]; /* option 121 */
    size_t route_count;
    bool routes_more;                 /* option 121 held more than DHCP_MAX_ROUTES routes */
    bool routes_malformed;            /* option 121 ended inside a route or had a width > 32 */
    bool has_245;                     /* a well-formed (length 4) option 245 was seen */
    uint32_t opt245;                  /* its address; the last well-formed occurrence wins */
    bool malformed_245;               /* some occurrence of 245 had a length other than 4 */
    uint8_t malformed_245_len;        /* the length of the last such occurrence */
    unsigned count_245;               /* occurrences, well-formed or not */
    bool end_seen;                    /* option 255 reached (its absence is a soft error) */
    uint8_t overload;                 /* option 52: 1 file, 2 sname, 3 both; not followed */
    /* frame only (dhcp_parse_frame*): */
    uint8_t eth_src[6];
    uint32_t ip_src;
    char problem[160];                /* why a non-OK status was returned */
};

/* The agent's DISCOVER: op 1, htype 1, hlen 6, xid, flags 0x8000 when broadcast, chaddr = mac,
 * cookie, option 53 = 1, END, zero padding to 300 bytes. No option 55 (Azure sends 245 unasked).
 * Returns 300, or 0 when size < 300. Use a non-zero xid: dhcp_parse treats 0 as "any". */
size_t dhcp_build_discover(uint8_t *buf, size_t size, const uint8_t mac[6], uint32_t xid, bool broadcast);

/* Wrap a DHCP message in Ethernet (to ff:ff:ff:ff:ff:ff from mac, type 0x0800), IPv4
 * (0.0.0.0 -> 255.255.255.255, TTL 64, UDP, header checksum) and UDP 68 -> 67 (checksum 0).
 * Returns 42 + len, or 0 when it does not fit in size or len > 65507. */
size_t dhcp_build_frame(uint8_t *frame, size_t size, const uint8_t mac[6], const uint8_t *dhcp, size_t len);

/* Parse a DHCP message of len bytes. want_xid 0 and want_mac NULL skip those checks. Returns an
 * enum dhcp_status; on DHCP_TRUNCATED_OPTION the options before the bad one are kept, and on the
 * header rejections (NOT_REPLY, BAD_COOKIE, WRONG_XID, WRONG_MAC) the fixed fields are filled. */
int dhcp_parse(const uint8_t *p, size_t len, uint32_t want_xid, const uint8_t want_mac[6], struct dhcp_reply *out);

/* Parse a captured Ethernet frame carrying IPv4/UDP to port 68 (802.1Q tag allowed, IPv4 options
 * skipped via IHL, IPv4 total and UDP lengths checked against the buffer), then the DHCP payload. */
int dhcp_parse_frame(const uint8_t *frame, size_t len, struct dhcp_reply *out);
/* The same, also checking xid and chaddr as dhcp_parse does. */
int dhcp_parse_frame_for(const uint8_t *frame, size_t len, uint32_t want_xid, const uint8_t want_mac[6],
                         struct dhcp_reply *out);

const char *dhcp_status_name(int status);
/* "a.b.c.d" into buf (at least 16 bytes); returns buf. */
char *dhcp_ip_str(uint32_t addr, char *buf, size_t size);

#endif
