/* libFuzzer target: the NetworkManager internal-client lease parser, and the (tiny)
 * WireServerEndpoint parser on the same bytes. */
#include "tests/fuzz/fuzz_lease_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_lease_parser(lease_parse_nm_internal, data, size);
    fuzz_lease_parser(lease_parse_endpoint, data, size);
    return 0;
}
