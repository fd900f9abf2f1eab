/* Option 245 as the VM's DHCP clients recorded it: ISC dhclient lease files (hex, single-digit
 * hex, quoted-string and named-option forms), systemd-networkd leases (OPTION_245=), the
 * NetworkManager internal client's lease files, and the agent's WireServerEndpoint file.
 * The lease_parse_* functions are pure: they read at most len bytes of text (which need not be
 * NUL-terminated and may hold NUL or binary bytes) with work linear in len, and append to out.
 * lease_find reads the files under --root through sysfile (bounded reads) and orders them. */
#ifndef AZB_LEASE_H
#define AZB_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_LIST_MAX 32
#define LEASE_FILE_MAX (2u << 20)   /* bytes read of one lease file */

struct lease245 {
    bool found;              /* false: the file was read but holds no usable 245 (see note) */
    char address[16];        /* dotted quad */
    char file[512];          /* path on the VM (without --root); "" from the pure parsers */
    char iface[64];
    char format[16];         /* "dhclient", "networkd", "networkmanager", "waagent" */
    bool expired;
    long long expire_epoch;  /* -1 never, 0 unknown */
    int line;                /* 1-based line of the 245 value; 0 when none */
    long long mtime;         /* the file's modification time (lease_find); 0 unknown */
    char note[128];          /* why nothing was found, or a caveat ("expire line missing") */
};

struct lease_list {
    struct lease245 item[LEASE_LIST_MAX];
    size_t count;
    size_t dropped;          /* entries that did not fit */
};

/* Every parser appends what it found and returns the number of entries appended. */
typedef size_t (*lease_parser_fn)(const char *text, size_t len, long long now_epoch, struct lease_list *out);

/* ISC dhclient: one entry per `lease { }` block that carries 245 (unknown-245 / option-245 as
 * colon hex, 1- or 2-digit octets, or as a quoted 4-byte string with \ooo \" \\ escapes, or an
 * `option NAME code 245 = ip-address;` declaration then `option NAME a.b.c.d;`), in file order,
 * at most 8 (the last 8: the newest). Expiry from `expire <wday> YYYY/MM/DD HH:MM:SS;` (UTC),
 * `expire epoch N;` or `expire never;`; expired when not after now_epoch. No block with 245:
 * one entry with found = false. */
size_t lease_parse_dhclient(const char *text, size_t len, long long now_epoch, struct lease_list *out);
/* The same, with option declarations taken first from a dhclient.conf text (may be NULL). */
size_t lease_parse_dhclient_conf(const char *conf, size_t conf_len, const char *text, size_t len,
                                 long long now_epoch, struct lease_list *out);

/* systemd-networkd /run/systemd/netif/leases/<ifindex>: KEY=value lines, OPTION_245=<8 hex>
 * (any case; the last one wins). No expiry is recorded. Always appends one entry. */
size_t lease_parse_networkd(const char *text, size_t len, long long now_epoch, struct lease_list *out);

/* NetworkManager internal client (/var/lib/NetworkManager/internal-*.lease): normally only
 * ADDRESS=; accepts OPTION_245=, PRIVATE_245=, DHCP4_PRIVATE_245= and DHCP4_UNKNOWN_245= with
 * 8 hex digits, colon hex or a dotted quad. Always appends one entry ("no 245 recorded by this
 * client" when none). */
size_t lease_parse_nm_internal(const char *text, size_t len, long long now_epoch, struct lease_list *out);

/* /var/lib/waagent/WireServerEndpoint: exactly one dotted quad, no newline or anything else
 * (the agent uses the text verbatim). Always appends one entry. */
size_t lease_parse_endpoint(const char *text, size_t len, long long now_epoch, struct lease_list *out);

/* Read every known lease location under root (NULL or "" = /) and fill out: entries with an
 * address first, unexpired before expired, then by freshness (see lease.c), at most
 * LEASE_LIST_MAX. Returns out->count. */
size_t lease_find(const char *root, long long now_epoch, struct lease_list *out);

/* Helpers shared by the lease parsers (also usable elsewhere). */
/* Strict dotted quad in s[0..n): 1-3 digits per part, <= 255, no leading zeros. */
bool lease_ip_parse(const char *s, size_t n, uint8_t ip[4]);
/* Exactly 4 hex octets: "a8:3f:81:10", "a:0:1:2" (1 or 2 digits, colons) or "A83F8110"
 * (8 digits); any case. */
bool lease_hex4_parse(const char *s, size_t n, uint8_t ip[4]);
/* Count the colon-separated hex octets of s[0..n) (0 when it is not colon hex). */
size_t lease_hex_octets(const char *s, size_t n);
/* The next line of text[0..len) from *pos (without "\n" or "\r\n"); false at the end. */
bool lease_next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n);
/* Append an entry (counted in dropped when full); returns it or NULL. */
struct lease245 *lease_list_add(struct lease_list *out, const char *format);
void lease_set_address(struct lease245 *e, const uint8_t ip[4]);

#endif
