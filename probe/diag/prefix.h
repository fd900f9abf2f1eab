/* CIDR prefixes for the blame feature: parsing, containment and a sorted index that answers "which
 * prefixes (and their payloads) contain this IPv4 address". Shared by the service-tag loader
 * (servicetags.c) and the NSG / route evaluators (nsg*.c, routes_eval*.c).
 *
 * Addresses are uint32_t in HOST byte order (10.0.0.1 == 0x0A000001), so comparisons and masks are
 * plain integer arithmetic. azbprobe probes IPv4 only: IPv6 prefixes are recognised (so a loader
 * can skip them without calling them errors) but never stored. */
#ifndef AZB_DIAG_PREFIX_H
#define AZB_DIAG_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct prefix4 {
    uint32_t net;   /* host byte order, host bits always zero after parsing */
    uint8_t len;    /* 0..32 */
};

/* What prefix_parse() recognised. PREFIX_INVALID is 0 so `if (!prefix_parse(...))` means junk. */
enum prefix_kind {
    PREFIX_INVALID = 0,
    PREFIX_V4 = 1,      /* *out filled */
    PREFIX_V6 = 2,      /* a valid IPv6 address or prefix; *out untouched */
};

/* prefix_parse() flags (out parameter, may be NULL). */
#define PREFIX_F_HOSTBITS 0x1u  /* "10.1.2.3/8": bits below the length were set and were cleared */
#define PREFIX_F_NOLEN    0x2u  /* no "/len": a single address, taken as /32 (or /128) */

/* Longest text prefix4_format() writes, with the NUL: "255.255.255.255/32". */
#define PREFIX4_STRLEN 19
#define IP4_STRLEN 16

/* Parse "a.b.c.d/len" or "a.b.c.d" (= /32), or recognise an IPv6 address/prefix. Strict: exactly
 * four decimal octets 0..255 without leading zeros (010 would be octal to inet_aton), len 0..32
 * without sign or leading zeros, no whitespace. Host bits are accepted and cleared (Azure files
 * and NSG rules do contain "10.1.2.3/24") and reported through PREFIX_F_HOSTBITS. */
enum prefix_kind prefix_parse(const char *s, struct prefix4 *out, unsigned *flags);

/* IPv4-only convenience: true only when s is an IPv4 prefix or address (host bits normalised). */
bool prefix4_parse(const char *s, struct prefix4 *out);

/* A plain dotted-quad address (no "/len"), same strictness. */
bool ip4_parse(const char *s, uint32_t *ip);

/* Netmask for len (0 -> 0, 32 -> 0xffffffff); len > 32 is treated as 32. */
uint32_t prefix4_mask(uint8_t len);

bool prefix4_contains(const struct prefix4 *p, uint32_t ip);

/* outer contains every address of inner (equal prefixes cover each other). */
bool prefix4_covers(const struct prefix4 *outer, const struct prefix4 *inner);

/* Last address of p (net | ~mask). */
uint32_t prefix4_last(const struct prefix4 *p);

/* Format into buf (at least PREFIX4_STRLEN / IP4_STRLEN bytes); returns buf. */
char *prefix4_format(const struct prefix4 *p, char *buf, size_t size);
char *ip4_format(uint32_t ip, char *buf, size_t size);

/* ---- The index ----------------------------------------------------------------------------------
 * Build once from many (prefix, payload id) pairs, then look up addresses in O(log n): the prefixes
 * form a laminar family (two CIDR blocks are nested or disjoint), so the index is a forest of unique
 * prefixes plus the sorted, disjoint elementary intervals of the address space, each pointing at
 * the deepest prefix covering it. A lookup is one binary search, then a walk up the parent chain.
 *
 *   struct prefix_index *ix = prefix_index_new();
 *   prefix_index_add(ix, &p, id);  ...            (any order, duplicates allowed)
 *   prefix_index_build(ix);                        (required before lookups; add after build fails)
 *   n = prefix_index_lookup(ix, ip, ids, max);
 *   prefix_index_free(ix);
 *
 * Lookup order: most specific (longest) prefix first; payloads attached to the same prefix in
 * ascending id order, so a caller wanting a tie-break numbers its payloads in preference order.
 * Each id is reported once, at its most specific matching prefix. A built index is read-only and
 * safe to share between threads. */
struct prefix_index;

struct prefix_index *prefix_index_new(void);

/* 0, or -1 on allocation failure / after build / more than UINT32_MAX-1 entries. */
int prefix_index_add(struct prefix_index *ix, const struct prefix4 *p, uint32_t id);

/* 0, or -1 on allocation failure. Building twice is a no-op. */
int prefix_index_build(struct prefix_index *ix);

/* Writes up to max distinct ids whose prefixes contain ip into out_ids; returns how many it wrote
 * (== max means there may be more). 0 when nothing matches or the index is not built. */
size_t prefix_index_lookup(const struct prefix_index *ix, uint32_t ip, uint32_t *out_ids, size_t max);

/* Like lookup, but also reports the matching prefix for each id (out_pfx may be NULL). */
size_t prefix_index_lookup_ex(const struct prefix_index *ix, uint32_t ip, uint32_t *out_ids,
                              struct prefix4 *out_pfx, size_t max);

/* Entries added (before dedup) and unique prefixes (after build). */
size_t prefix_index_entries(const struct prefix_index *ix);
size_t prefix_index_prefixes(const struct prefix_index *ix);

/* Approximate heap bytes held (for the benchmark and --verbose). */
size_t prefix_index_memory(const struct prefix_index *ix);

void prefix_index_free(struct prefix_index *ix);

#endif
