/* Unit tests: probe/imds.c (instance metadata JSON). The sample is a trimmed copy of an IMDS
 * /metadata/instance answer for a fictitious VM. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/imds.h"

static const char instance[] =
    "{\n"
    "  \"compute\": {\n"
    "    \"azEnvironment\": \"AzurePublicCloud\",\n"
    "    \"location\": \"northeurope\",\n"
    "    \"name\": \"vm-backup-01\",\n"
    "    \"osType\": \"Linux\",\n"
    "    \"resourceGroupName\": \"rg-backup-demo\",\n"
    "    \"storageProfile\": {\n"
    "      \"dataDisks\": [],\n"
    "      \"imageReference\": {\"offer\": \"ubuntu-24_04-lts\", \"publisher\": \"canonical\", \"sku\": \"server\"},\n"
    "      \"osDisk\": {\n"
    "        \"caching\": \"ReadWrite\",\n"
    "        \"createOption\": \"FromImage\",\n"
    "        \"diskSizeGB\": \"30\",\n"
    "        \"image\": {\"uri\": \"\"},\n"
    "        \"managedDisk\": {\n"
    "          \"id\": \"/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-backup-demo/providers/Microsoft.Compute/disks/vm-backup-01_OsDisk_1\",\n"
    "          \"storageAccountType\": \"Premium_LRS\"\n"
    "        },\n"
    "        \"name\": \"vm-backup-01_OsDisk_1\",\n"
    "        \"osType\": \"Linux\",\n"
    "        \"vhd\": {\"uri\": \"\"},\n"
    "        \"writeAcceleratorEnabled\": \"false\"\n"
    "      },\n"
    "      \"resourceDisk\": {\"size\": \"0\"}\n"
    "    },\n"
    "    \"subscriptionId\": \"11111111-2222-3333-4444-555555555555\",\n"
    "    \"tagsList\": [],\n"
    "    \"vmId\": \"6f0c2d1e-3b4a-4c5d-8e9f-0a1b2c3d4e5f\",\n"
    "    \"vmSize\": \"Standard_D2s_v5\",\n"
    "    \"zone\": \"\"\n"
    "  },\n"
    "  \"network\": {\n"
    "    \"interface\": [\n"
    "      {\n"
    "        \"ipv4\": {\n"
    "          \"ipAddress\": [{\"privateIpAddress\": \"10.0.1.4\", \"publicIpAddress\": \"\"}],\n"
    "          \"subnet\": [{\"address\": \"10.0.1.0\", \"prefix\": \"24\"}]\n"
    "        },\n"
    "        \"ipv6\": {\"ipAddress\": []},\n"
    "        \"macAddress\": \"000D3A4B5C6D\"\n"
    "      }\n"
    "    ]\n"
    "  }\n"
    "}\n";

/* The same VM with unmanaged disks: VHDs in two storage accounts (the data disk's twice). */
static const char unmanaged[] =
    "{\"compute\": {\"location\": \"westeurope\", \"azEnvironment\": \"AzurePublicCloud\",\n"
    " \"storageProfile\": {\n"
    "  \"osDisk\": {\"name\": \"os\", \"managedDisk\": {\"id\": \"\", \"storageAccountType\": \"\"},\n"
    "             \"vhd\": {\"uri\": \"https://acct1.blob.core.windows.net/vhds/os.vhd\"}},\n"
    "  \"dataDisks\": [\n"
    "    {\"lun\": \"0\", \"name\": \"data0\", \"vhd\": {\"uri\": \"https://acct2.blob.core.windows.net:443/vhds/data0.vhd?x=1\"}},\n"
    "    {\"lun\": \"1\", \"name\": \"data1\", \"vhd\": {\"uri\": \"https://acct2.blob.core.windows.net/vhds/data1.vhd\"}},\n"
    "    {\"lun\": \"2\", \"name\": \"data2\", \"managedDisk\": {\"id\": \"/subscriptions/x/disks/d2\"}, \"vhd\": {\"uri\": \"\"}}\n"
    "  ]}},\n"
    " \"network\": {\"interface\": [{\"ipv4\": {\"ipAddress\": [{\"privateIpAddress\": \"10.1.0.5\"}],\n"
    "   \"subnet\": [{\"address\": \"10.1.0.0\", \"prefix\": \"26\"}]}, \"macAddress\": \"000D3A000001\"}]}}";

static void expect_ok(const char *json, struct imds_info *info)
{
    char err[128] = "";
    bool ok = imds_parse(json, strlen(json), info, err, sizeof err);
    if (!ok)
        print_error("imds_parse: %s\n", err);
    assert_true(ok);
}

static void expect_bad(const char *json, size_t len, const char *why)
{
    struct imds_info info;
    char err[128] = "";
    memset(&info, 0x5a, sizeof info);
    assert_false(imds_parse(json, len, &info, err, sizeof err));
    assert_true(err[0] != '\0');
    if (why && !strstr(err, why))
        print_error("message '%s' lacks '%s'\n", err, why);
    if (why)
        assert_non_null(strstr(err, why));
}

static void test_fixture(void **state)
{
    (void)state;
    struct imds_info info;
    memset(&info, 0x5a, sizeof info);
    expect_ok(instance, &info);
    assert_string_equal(info.location, "northeurope");
    assert_string_equal(info.az_environment, "AzurePublicCloud");
    assert_string_equal(info.vm_id, "6f0c2d1e-3b4a-4c5d-8e9f-0a1b2c3d4e5f");
    assert_string_equal(info.name, "vm-backup-01");
    assert_string_equal(info.private_ip, "10.0.1.4");
    assert_string_equal(info.subnet, "10.0.1.0/24");
    assert_string_equal(info.mac, "000D3A4B5C6D");
    assert_false(info.unmanaged_disks);
    assert_int_equal(info.nvhd_hosts, 0);
}

static void test_unmanaged_disks(void **state)
{
    (void)state;
    struct imds_info info;
    expect_ok(unmanaged, &info);
    assert_string_equal(info.location, "westeurope");
    assert_true(info.unmanaged_disks);
    assert_int_equal(info.nvhd_hosts, 2);
    assert_string_equal(info.vhd_hosts[0], "acct1.blob.core.windows.net");
    assert_string_equal(info.vhd_hosts[1], "acct2.blob.core.windows.net");
    assert_string_equal(info.private_ip, "10.1.0.5");
    assert_string_equal(info.subnet, "10.1.0.0/26");
    assert_string_equal(info.mac, "000D3A000001");
}

static void test_unmanaged_data_disk_only(void **state)
{
    (void)state;
    static const char json[] =
        "{\"compute\": {\"storageProfile\": {\"osDisk\": {\"vhd\": {\"uri\": \"\"}},"
        " \"dataDisks\": [{\"vhd\": {\"uri\": \"https://acct9.blob.core.windows.net/vhds/d.vhd\"}}]}}}";
    struct imds_info info;
    expect_ok(json, &info);
    assert_true(info.unmanaged_disks);
    assert_int_equal(info.nvhd_hosts, 1);
    assert_string_equal(info.vhd_hosts[0], "acct9.blob.core.windows.net");
    assert_string_equal(info.private_ip, "");
    assert_string_equal(info.subnet, "");
    assert_string_equal(info.location, "");
}

static void test_vhd_host_limit(void **state)
{
    (void)state;
    char json[4096];
    size_t n = (size_t)snprintf(json, sizeof json, "{\"compute\": {\"storageProfile\": {\"dataDisks\": [");
    for (int i = 0; i < IMDS_MAX_VHD_HOSTS + 4; i++)
        n += (size_t)snprintf(json + n, sizeof json - n, "%s{\"vhd\": {\"uri\": \"https://acct%d.blob.core.windows.net/v/d.vhd\"}}",
                              i ? "," : "", i);
    snprintf(json + n, sizeof json - n, "]}}}");
    struct imds_info info;
    expect_ok(json, &info);
    assert_true(info.unmanaged_disks);
    assert_int_equal(info.nvhd_hosts, IMDS_MAX_VHD_HOSTS);
    assert_string_equal(info.vhd_hosts[IMDS_MAX_VHD_HOSTS - 1], "acct7.blob.core.windows.net");
}

static void test_wrong_types_ignored(void **state)
{
    (void)state;
    static const char json[] =
        "{\"compute\": {\"location\": 42, \"name\": null, \"azEnvironment\": [\"x\"],"
        " \"storageProfile\": {\"osDisk\": {\"vhd\": {\"uri\": 7}}, \"dataDisks\": {\"vhd\": {\"uri\": \"https://a.b/c\"}}}},"
        " \"network\": {\"interface\": {\"macAddress\": \"x\"}}}";
    struct imds_info info;
    expect_ok(json, &info);
    assert_string_equal(info.location, "");
    assert_string_equal(info.name, "");
    assert_string_equal(info.az_environment, "");
    assert_false(info.unmanaged_disks);
    assert_string_equal(info.mac, "");
}

static void test_not_instance_metadata(void **state)
{
    (void)state;
    expect_bad("<html>Bad gateway</html>", strlen("<html>Bad gateway</html>"), "not JSON");
    expect_bad("{\"compute\": {\"location\": ", strlen("{\"compute\": {\"location\": "), NULL);
    expect_bad("", 0, NULL);
    expect_bad("{\"network\": {}}", strlen("{\"network\": {}}"), "compute");
    expect_bad("{\"compute\": \"northeurope\"}", strlen("{\"compute\": \"northeurope\"}"), "compute");
    expect_bad("[{\"compute\": {}}]", strlen("[{\"compute\": {}}]"), "compute");
    expect_bad("\"compute\"", strlen("\"compute\""), "compute");
    expect_bad("null", 4, NULL);

    char deep[256];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"compute\":");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    expect_bad(deep, n, NULL);

    char nested[1024];
    n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(nested + n, sizeof nested - n, "{\"a\":");
    n += (size_t)snprintf(nested + n, sizeof nested - n, "1");
    for (int i = 0; i < 100; i++)
        nested[n++] = '}';
    nested[n] = '\0';
    expect_bad(nested, n, NULL);
}

static void test_length_is_respected(void **state)
{
    (void)state;
    struct imds_info info;
    char err[128] = "";
    /* Only the first half of the document is given: it is incomplete. */
    assert_false(imds_parse(instance, strlen(instance) / 2, &info, err, sizeof err));
    assert_true(err[0] != '\0');
    /* A buffer that is not NUL-terminated is read only up to len. */
    char buf[64];
    static const char doc[] = "{\"compute\": {\"location\": \"uksouth\"}}";
    memset(buf, '}', sizeof buf);
    memcpy(buf, doc, strlen(doc));
    assert_true(imds_parse(buf, strlen(doc), &info, err, sizeof err));
    assert_string_equal(info.location, "uksouth");
}

static void test_long_values_truncated(void **state)
{
    (void)state;
    char json[1024];
    char longname[400];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    snprintf(json, sizeof json, "{\"compute\": {\"name\": \"%s\", \"location\": \"%s\"}}", longname, longname);
    struct imds_info info;
    expect_ok(json, &info);
    assert_int_equal(strlen(info.name), sizeof info.name - 1);
    assert_int_equal(strlen(info.location), sizeof info.location - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_unmanaged_disks),
        cmocka_unit_test(test_unmanaged_data_disk_only),
        cmocka_unit_test(test_vhd_host_limit),
        cmocka_unit_test(test_wrong_types_ignored),
        cmocka_unit_test(test_not_instance_metadata),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_long_values_truncated),
    };
    return cmocka_run_group_tests_name("imds", tests, NULL, NULL);
}
