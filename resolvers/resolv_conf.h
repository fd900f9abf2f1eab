/* The VM's resolver configuration: nameserver lines of resolv.conf (as read under --root),
 * and the servers given with --dns-server. Pure parsing; no I/O beyond reading one buffer. */
#ifndef AZB_RESOLV_CONF_H
#define AZB_RESOLV_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define RESOLV_MAX_SERVERS 8

struct dns_server {
    char addr[64]; /* numeric IPv4 or IPv6 address, no brackets */
    int port;      /* 53 unless given */
};

struct resolv_conf {
    struct dns_server servers[RESOLV_MAX_SERVERS];
    size_t count;
    bool stub;          /* a loopback stub resolver (systemd-resolved 127.0.0.53, ...) */
    char search[256];   /* the search/domain line, for the report only */
    int ignored;        /* lines that were not understood, or servers beyond the limit */
};

/* Parse resolv.conf text (len bytes, need not be NUL-terminated). Comments (# ;), unknown keywords
 * and malformed nameserver values are skipped and counted in `ignored`. Never fails.
 * Comments, blank lines, `options` and `sortlist` are not counted. Addresses are stored in
 * canonical form (inet_ntop); an IPv6 %scope is accepted and dropped. The last search/domain
 * line wins; it is kept as printable ASCII and cut at a word boundary to fit. */
void resolv_conf_parse(const char *text, size_t len, struct resolv_conf *out);

/* Parse one --dns-server value: IPv4, IPv4:PORT, IPv6, [IPv6], [IPv6]:PORT. Returns false on bad input
 * (not an IP literal, port outside 1..65535) and leaves out untouched. A bare IPv6 value never
 * carries a port ("2001:db8::1:53" is an address). As in resolv.conf, %scope is accepted and dropped. */
bool dns_server_parse(const char *value, struct dns_server *out);

/* Format servers for ares_set_servers_ports_csv: "1.2.3.4:53,[::1]:5353". Returns false (and
 * leaves buf empty) if the buffer is too small or an entry has no address or a port outside
 * 1..65535. */
bool dns_servers_csv(const struct dns_server *servers, size_t n, char *buf, size_t size);

#endif
