/* KEY=value lease files: systemd-networkd (src/libsystemd-network/sd-dhcp-lease.c
 * dhcp_lease_save: private options 224-254 as OPTION_<code>=<hexmem>) and the NetworkManager
 * internal client (src/core/dhcp/nm-dhcp-nettools.c / nm-dhcp-systemd.c lease files, which
 * normally record ADDRESS= only). */
#include "probe/lease.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct kv {
    const char *key, *val;
    size_t klen, vlen;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Split "KEY=value" (spaces around both trimmed, one pair of quotes around value removed). */
static bool split_kv(const char *s, size_t n, struct kv *kv)
{
    const char *e = s + n;
    while (s < e && is_space(*s))
        s++;
    if (s >= e || *s == '#')
        return false;
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq)
        return false;
    const char *k_end = eq;
    while (k_end > s && is_space(k_end[-1]))
        k_end--;
    const char *v = eq + 1;
    while (v < e && is_space(*v))
        v++;
    while (e > v && is_space(e[-1]))
        e--;
    if (e - v >= 2 && (*v == '"' || *v == '\'') && e[-1] == *v) {
        v++;
        e--;
    }
    *kv = (struct kv){s, v, (size_t)(k_end - s), (size_t)(e - v)};
    return true;
}

static bool key_is(const struct kv *kv, const char *want)
{
    return kv->klen == strlen(want) && strncasecmp(kv->key, want, kv->klen) == 0;
}

/* The last line whose key is one of keys; returns its line number (0: none). */
static int find_key(const char *text, size_t len, const char *const *keys, struct kv *found)
{
    size_t pos = 0, n;
    const char *line;
    int lineno = 0, hit = 0;
    while (lease_next_line(text, len, &pos, &line, &n)) {
        if (lineno < 0x7FFFFFFF)
            lineno++;
        struct kv kv;
        if (!split_kv(line, n, &kv))
            continue;
        for (const char *const *k = keys; *k; k++) {
            if (key_is(&kv, *k)) {
                *found = kv;
                hit = lineno;
                break;
            }
        }
    }
    return hit;
}

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return n > 0;
}

static void bad_value(struct lease245 *e, const char *key, const struct kv *kv)
{
    size_t octets = lease_hex_octets(kv->val, kv->vlen);
    if (!octets && kv->vlen % 2 == 0 && all_hex(kv->val, kv->vlen))
        octets = kv->vlen / 2; /* plain hex digits, 2 per byte */
    if (octets)
        snprintf(e->note, sizeof e->note, "%s holds %zu bytes, not 4", key, octets);
    else
        snprintf(e->note, sizeof e->note, "%s is not an IPv4 address", key);
}

/* sd-dhcp-lease.c writes OPTION_245=<8 lower-case hex digits> (hexmem); read any case. The agent
 * (osutil/ubuntu.py) reads the same key; there is no expiry in the file. */
size_t lease_parse_networkd(const char *text, size_t len, long long now_epoch, struct lease_list *out)
{
    (void)now_epoch;
    struct lease245 *e = lease_list_add(out, "networkd");
    if (!e)
        return 0;
    static const char *const keys[] = {"OPTION_245", NULL};
    struct kv kv;
    int line = text ? find_key(text, len, keys, &kv) : 0;
    uint8_t ip[4];
    if (!line) {
        snprintf(e->note, sizeof e->note, "no OPTION_245 in this lease");
        return 1;
    }
    e->line = line;
    bool hex8 = kv.vlen == 8 && !memchr(kv.val, ':', kv.vlen);
    if (hex8 && lease_hex4_parse(kv.val, kv.vlen, ip))
        lease_set_address(e, ip);
    else
        bad_value(e, "OPTION_245", &kv);
    return 1;
}

/* NetworkManager's internal client: option 245 reaches D-Bus/dispatcher scripts as private_245 /
 * DHCP4_PRIVATE_245 (dhclient backend also DHCP4_UNKNOWN_245), but its lease file normally has
 * ADDRESS= only. Accept any of those keys with 8 hex digits, colon hex or a dotted quad. */
size_t lease_parse_nm_internal(const char *text, size_t len, long long now_epoch, struct lease_list *out)
{
    (void)now_epoch;
    struct lease245 *e = lease_list_add(out, "networkmanager");
    if (!e)
        return 0;
    static const char *const keys[] = {"OPTION_245", "PRIVATE_245", "DHCP4_PRIVATE_245", "DHCP4_UNKNOWN_245", NULL};
    struct kv kv;
    int line = text ? find_key(text, len, keys, &kv) : 0;
    uint8_t ip[4];
    if (!line) {
        snprintf(e->note, sizeof e->note, "no 245 recorded by this client (its lease file keeps ADDRESS= only)");
        return 1;
    }
    e->line = line;
    char key[24];
    snprintf(key, sizeof key, "%.*s", (int)(kv.klen < 20 ? kv.klen : 20), kv.key);
    if (lease_hex4_parse(kv.val, kv.vlen, ip) || lease_ip_parse(kv.val, kv.vlen, ip))
        lease_set_address(e, ip);
    else
        bad_value(e, key, &kv);
    return 1;
}
