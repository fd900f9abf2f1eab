/* libFuzzer target: the ISC dhclient lease parser, alone and with the input split into a
 * dhclient.conf part (option declarations) and a lease part. */
#include "tests/fuzz/fuzz_lease_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_lease_parser(lease_parse_dhclient, data, size);
    static struct lease_list l;
    size_t cut = size ? data[0] % (size + 1) : 0;
    memset(&l, 0, sizeof l);
    lease_parse_dhclient_conf((const char *)data, cut, (const char *)data + cut, size - cut, 1700000000LL, &l);
    fuzz_check_list(&l);
    return 0;
}
