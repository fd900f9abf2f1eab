/* make bench-tags: load and index a real ServiceTags JSON (default: the Public file of changeNumber
 * 376 in ../shared), then time lookups of 100,000 random IPv4 addresses (fixed seed) against every
 * tag. Prints load+index time (CLOCK_MONOTONIC), peak RSS (getrusage) and lookups per second, and
 * exits 1 when a target is missed: load+index < 150 ms, peak RSS < 40 MB, > 1,000,000 lookups/s.
 *
 *   bench_tags [SERVICETAGS.json] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "probe/diag/servicetags.h"

#define DEFAULT_JSON "../shared/data/servicetags/ServiceTags_Public_20251109.json"
#define NLOOKUPS 100000
#define LOAD_RUNS 5
#define LOOKUP_ROUNDS 10

#define TARGET_LOAD_MS 150.0
#define TARGET_RSS_MB 40.0
#define TARGET_LOOKUPS_PER_S 1e6

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Best of `rounds` passes over ips; returns lookups per second. *matched counts the addresses in
 * at least one tag (from the last pass); *sum keeps the work observable to the optimiser. */
static double time_lookups(const struct servicetags *st, const uint32_t *ips, size_t n, size_t *matched,
                           size_t *sum)
{
    double best = 1e30;
    for (int r = 0; r < LOOKUP_ROUNDS; r++) {
        const char *names[SERVICETAGS_MAX_MATCHES];
        size_t hit = 0, total = 0;
        double t0 = now_ms();
        for (size_t i = 0; i < n; i++) {
            size_t k = servicetags_lookup(st, ips[i], names, SERVICETAGS_MAX_MATCHES);
            hit += k > 0;
            total += k;
        }
        double dt = now_ms() - t0;
        best = dt < best ? dt : best;
        *matched = hit;
        *sum = total;
    }
    return (double)n / (best / 1e3);
}

/* Addresses inside the set's prefixes (a blame lookup is usually for an Azure address). */
static void azure_ips(const struct servicetags *st, uint32_t *ips, size_t n, uint32_t seed)
{
    size_t ntags = servicetags_count(st);
    for (size_t i = 0; i < n; i++) {
        const struct servicetag *t = servicetags_at(st, xorshift(&seed) % ntags);
        if (!t->nprefixes) {
            ips[i] = xorshift(&seed);
            continue;
        }
        const struct prefix4 *p = &t->prefixes[xorshift(&seed) % t->nprefixes];
        ips[i] = p->net | (xorshift(&seed) & ~prefix4_mask(p->len));
    }
}

static int verdict(const char *what, bool ok)
{
    printf("  %-28s %s\n", what, ok ? "ok" : "MISSED");
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : DEFAULT_JSON;
    char err[512];
    double rss0 = peak_rss_mb(), t0 = now_ms();
    struct servicetags *st = servicetags_load_file(path, err, sizeof err);
    double first = now_ms() - t0, rss1 = peak_rss_mb();
    if (!st) {
        fprintf(stderr, "bench_tags: %s\n", err);
        return 2;
    }
    double best = first;
    for (int r = 1; r < LOAD_RUNS; r++) { /* later runs: warm page cache and allocator */
        t0 = now_ms();
        struct servicetags *again = servicetags_load_file(path, err, sizeof err);
        double dt = now_ms() - t0;
        best = dt < best ? dt : best;
        servicetags_free(again);
    }
    const struct servicetags_meta *m = servicetags_meta(st);
    printf("%s: cloud %s, changeNumber %ld, date %s\n", path, m->cloud, m->change_number,
           m->date[0] ? m->date : "?");
    printf("  tags %zu, IPv4 prefixes %zu, IPv6 skipped %zu, index %.1f MB held\n", m->tags,
           m->prefixes4, m->prefixes6_skipped, (double)servicetags_memory(st) / (1 << 20));
    printf("  load+index: first %.1f ms, best of %d %.1f ms\n", first, LOAD_RUNS, best);
    printf("  peak RSS: %.1f MB (%.1f MB before loading)\n", rss1, rss0);

    uint32_t *ips = malloc(NLOOKUPS * sizeof *ips), seed = 20251109;
    if (!ips)
        return 2;
    for (size_t i = 0; i < NLOOKUPS; i++)
        ips[i] = xorshift(&seed);
    size_t matched, sum;
    double rate = time_lookups(st, ips, NLOOKUPS, &matched, &sum);
    printf("  lookups, %d random IPv4: %.2f M/s (best of %d), %zu in a tag, %zu matches\n", NLOOKUPS,
           rate / 1e6, LOOKUP_ROUNDS, matched, sum);
    azure_ips(st, ips, NLOOKUPS, 376);
    double rate_az = time_lookups(st, ips, NLOOKUPS, &matched, &sum);
    printf("  lookups, %d in-tag IPv4: %.2f M/s, %zu in a tag, %.1f tags each\n", NLOOKUPS, rate_az / 1e6,
           matched, (double)sum / NLOOKUPS);

    t0 = now_ms();
    struct servicetags *snap = servicetags_load_builtin(m->cloud, err, sizeof err);
    double tsnap = now_ms() - t0;
    if (snap)
        printf("  built-in snapshot (%s): %zu tags, %zu prefixes, loaded in %.1f ms\n", m->cloud,
               servicetags_meta(snap)->tags, servicetags_meta(snap)->prefixes4, tsnap);
    servicetags_free(snap);

    int missed = verdict("load+index < 150 ms", first < TARGET_LOAD_MS);
    missed |= verdict("peak RSS < 40 MB", rss1 < TARGET_RSS_MB);
    missed |= verdict("lookups > 1,000,000/s", rate > TARGET_LOOKUPS_PER_S && rate_az > TARGET_LOOKUPS_PER_S);
    free(ips);
    servicetags_free(st);
    return missed;
}
