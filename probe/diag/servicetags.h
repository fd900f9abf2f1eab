/* Azure service tags for the blame feature: which tags contain an IPv4 address.
 *
 * Sources, all behind one API so callers do not care which:
 *  - a ServiceTags_<Cloud>_<YYYYMMDD>.json download (Public, AzureGovernment, China) or the same
 *    shape from a buffer (also the Service Tag Discovery API's, whose change numbers are strings):
 *    {changeNumber, cloud, values: [{name, id, properties: {changeNumber, region, regionId,
 *    platform, systemService, addressPrefixes[], networkFeatures}}]};
 *  - the built-in snapshot compiled from targets/servicetags_snapshot.tsv (only the tags Azure VM
 *    Backup depends on: Storage*, AzureBackup*, AzureActiveDirectory*, AzureResourceManager*,
 *    AzureCloud*).
 *
 * The JSON DOM is freed after loading: a loaded set holds IPv4 prefixes per tag (sorted, deduplicated)
 * and a prefix index. IPv6 prefixes are counted and dropped. Tag names come from "name" only, never
 * from properties.region (which differs from the name's suffix for ~500 tags).
 *
 * Match order (servicetags_lookup): longest prefix first; for the same prefix, a regional service
 * tag (properties.region set) before a global service tag before AzureCloud.<region> before
 * AzureCloud; then the tag covering fewer addresses; then the name. So 13.70.208.17 gives
 * Storage.NorthEurope, Storage (same /28), AzureCloud.northeurope (/18), AzureCloud. */
#ifndef AZB_DIAG_SERVICETAGS_H
#define AZB_DIAG_SERVICETAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probe/diag/prefix.h"

/* Loader limits: beyond them a load fails with a message rather than eating memory. The real
 * Public file is ~4.2-4.7 MB, ~3,000-3,300 tags, ~100k prefixes. */
#define SERVICETAGS_MAX_FILE     (64u << 20)
#define SERVICETAGS_MAX_TAGS     100000u
#define SERVICETAGS_MAX_PREFIXES 4000000u
#define SERVICETAGS_JSON_DEPTH   16     /* the format needs 5 levels; json-c's default is 32 */
#define SERVICETAGS_MAX_MATCHES  64     /* a lookup reports at most this many tags */

struct servicetag {
    const char *name;           /* "Storage.NorthEurope" */
    const char *region;         /* properties.region, "" for global tags; for display only */
    const char *system_service; /* "AzureStorage", "" when absent */
    long change_number;         /* properties.changeNumber, -1 when absent */
    const struct prefix4 *prefixes; /* IPv4, sorted by address then length, no duplicates */
    size_t nprefixes;
    size_t skipped_v6;          /* IPv6 prefixes dropped */
    uint64_t addresses;         /* IPv4 addresses covered (overlaps counted once) */
};

struct servicetags_meta {
    long change_number;         /* top-level changeNumber, -1 when absent */
    char cloud[32];             /* "Public", "AzureGovernment", "China", "" when absent */
    char date[9];               /* YYYYMMDD from a ServiceTags_*_YYYYMMDD.json name, else "" */
    char source[256];           /* the path, the buffer's name, or "built-in snapshot of <file>" */
    bool builtin;
    size_t tags;
    size_t prefixes4;           /* after per-tag deduplication */
    size_t prefixes6_skipped;
    size_t hostbits_fixed;      /* prefixes like 10.1.2.3/24 that were normalised */
};

struct servicetag_match {
    const struct servicetag *tag;
    struct prefix4 prefix;      /* the tag's most specific prefix containing the address */
};

struct servicetags;

/* Load a ServiceTags JSON file (at most SERVICETAGS_MAX_FILE bytes). NULL on failure with a message
 * in err naming the file and the JSON path, e.g.
 *   "x.json: values[12].properties.addressPrefixes[3]: not a prefix: \"10.0.0.0/33\"". */
struct servicetags *servicetags_load_file(const char *path, char *err, size_t errsize);

/* The same from memory (need not be NUL-terminated); name is used in messages and for the date. */
struct servicetags *servicetags_load_buffer(const char *buf, size_t len, const char *name, char *err,
                                            size_t errsize);

/* The built-in snapshot of one cloud: "Public", "AzureGovernment", "China", or the names IMDS
 * (azEnvironment: AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud) and the region
 * catalog (AzureCloud, AzureUSGovernment, AzureChinaCloud) use; case-insensitive; NULL = Public. */
struct servicetags *servicetags_load_builtin(const char *cloud, char *err, size_t errsize);

/* Names of the tags containing ip, in match order (see the top); returns how many were written
 * (at most min(max, SERVICETAGS_MAX_MATCHES)). Names live as long as st. */
size_t servicetags_lookup(const struct servicetags *st, uint32_t ip, const char **names_out, size_t max);

/* The same with the tag record and the matching prefix. */
size_t servicetags_lookup_ex(const struct servicetags *st, uint32_t ip, struct servicetag_match *out,
                             size_t max);

/* A tag by name, case-insensitively (NSG rules are not case-sensitive about tags); NULL if absent. */
const struct servicetag *servicetags_find(const struct servicetags *st, const char *name);

/* For an NSG rule naming a tag: 1 if the tag contains ip (the tag's most specific containing prefix
 * in *matched when not NULL), 0 if it does not, -1 if the tag is unknown to this set. */
int servicetags_tag_contains(const struct servicetags *st, const char *name, uint32_t ip,
                             struct prefix4 *matched);

const struct servicetags_meta *servicetags_meta(const struct servicetags *st);

/* Tags in match-rank order, for listing. */
size_t servicetags_count(const struct servicetags *st);
const struct servicetag *servicetags_at(const struct servicetags *st, size_t i);

/* Heap bytes held by the loaded set (tags, prefixes, index), for the benchmark. */
size_t servicetags_memory(const struct servicetags *st);

void servicetags_free(struct servicetags *st);

/* ---- The built-in snapshot's tables (written by targets/gen_servicetags.py; not for callers) ---- */
struct servicetags_builtin_tag {
    const char *name, *region, *system_service;
    long change_number;
    uint32_t first, count;      /* slice of the cloud's net[]/len[] */
};

struct servicetags_builtin_cloud {
    const char *cloud;
    long change_number;
    const char *date, *file;
    const struct servicetags_builtin_tag *tags;
    uint32_t ntags;
    const uint32_t *net;
    const uint8_t *len;
};

extern const struct servicetags_builtin_cloud servicetags_builtin_clouds[];
extern const size_t servicetags_builtin_cloud_count;

#endif
