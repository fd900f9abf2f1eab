/* libFuzzer target: the systemd-networkd lease parser. */
#include "tests/fuzz/fuzz_lease_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_lease_parser(lease_parse_networkd, data, size);
    return 0;
}
