/* Invariants of a lease list, shared by the lease fuzz targets. */
#ifndef AZB_FUZZ_LEASE_COMMON_H
#define AZB_FUZZ_LEASE_COMMON_H

#include "probe/lease.h"
#include "tests/fuzz/fuzz.h"

static inline void fuzz_check_list(const struct lease_list *l)
{
    FUZZ_CHECK(l->count <= LEASE_LIST_MAX);
    for (size_t i = 0; i < l->count; i++) {
        const struct lease245 *e = &l->item[i];
        uint8_t ip[4];
        fuzz_check_str(e->address, sizeof e->address, true);
        fuzz_check_str(e->iface, sizeof e->iface, true);
        fuzz_check_str(e->format, sizeof e->format, true);
        fuzz_check_str(e->note, sizeof e->note, true);
        fuzz_check_str(e->file, sizeof e->file, false);
        FUZZ_CHECK(e->found == lease_ip_parse(e->address, strlen(e->address), ip));
        FUZZ_CHECK(e->found || e->note[0]); /* nothing found is always explained */
        FUZZ_CHECK(e->line >= 0);
        FUZZ_CHECK(!e->expired || e->expire_epoch > 0);
    }
}

/* Run one parser at several clocks, into an empty and into a nearly full list. */
static inline void fuzz_lease_parser(lease_parser_fn fn, const uint8_t *data, size_t size)
{
    static struct lease_list l;
    static const long long clocks[] = {0, 1700000000LL, 5761063630LL};
    for (size_t c = 0; c < sizeof clocks / sizeof clocks[0]; c++) {
        memset(&l, 0, sizeof l);
        size_t added = fn((const char *)data, size, clocks[c], &l);
        FUZZ_CHECK(added == l.count);
        fuzz_check_list(&l);
    }
    memset(&l, 0, sizeof l);
    l.count = LEASE_LIST_MAX - 1;
    size_t added = fn((const char *)data, size, 1700000000LL, &l);
    FUZZ_CHECK(added <= 1 && l.count <= LEASE_LIST_MAX);
}

#endif
