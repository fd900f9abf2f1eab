/* Shared by the fuzz targets and the replay driver: the libFuzzer entry point, and checks of the
 * invariants every parser result must keep (a broken one aborts, which libFuzzer and the replay
 * driver both report). */
#ifndef AZB_FUZZ_H
#define AZB_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                            \
    do {                                                                                            \
        if (!(cond))                                                                                \
            abort();                                                                                \
    } while (0)

/* s is NUL-terminated within size and, when printable is set, holds only 0x20..0x7e. */
static inline void fuzz_check_str(const char *s, size_t size, bool printable)
{
    const char *nul = memchr(s, '\0', size);
    FUZZ_CHECK(nul != NULL);
    for (const char *p = s; printable && p < nul; p++)
        FUZZ_CHECK(*p >= 0x20 && *p < 0x7F);
}

#endif
