/* Storage hosts from the guest agent's goal state: the real samples from WALinuxAgent's tests
 * (tests/fixtures/walinuxagent), a fake --root tree, and hostile text. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/sysfile.h"
#include "targets/goalstate.h"

static char *fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "tests/fixtures/walinuxagent/%s", name);
    size_t len;
    char *text = sysfile_read_abs(path, 1 << 20, &len);
    assert_non_null(text);
    return text;
}

static void no_secrets(const struct goalstate_hosts *g)
{
    for (size_t i = 0; i < g->count; i++) {
        assert_null(strchr(g->host[i], '?'));
        assert_null(strstr(g->host[i], "sig"));
        assert_null(strchr(g->host[i], '/'));
    }
}

static void test_extensions_config(void **state)
{
    (void)state;
    char *text = fixture("ext_conf.xml");
    struct goalstate_hosts g;
    goalstate_extract(text, "core.windows.net", &g, 8);
    assert_int_equal(g.count, 1); /* the manifests in this sample are http://mock-goal-state */
    assert_string_equal(g.host[0], "test.blob.core.windows.net");
    assert_string_equal(g.purpose[0], "status blob");
    no_secrets(&g);
    free(text);
}

static void test_vm_settings_status_blob_first(void **state)
{
    (void)state;
    char *text = fixture("vm_settings.json");
    struct goalstate_hosts g;
    goalstate_extract(text, "core.windows.net", &g, 8);
    assert_true(g.count >= 3);
    assert_string_equal(g.host[0], "dcrcl3a0xs.blob.core.windows.net");
    assert_string_equal(g.purpose[0], "status blob");
    assert_string_equal(g.purpose[1], "extension manifest");
    for (size_t i = 0; i < g.count; i++)
        for (size_t j = i + 1; j < g.count; j++)
            assert_string_not_equal(g.host[i], g.host[j]);
    no_secrets(&g);
    goalstate_extract(text, "core.windows.net", &g, 3);
    assert_int_equal(g.count, 3);
    goalstate_extract(text, "core.chinacloudapi.cn", &g, 8); /* another cloud's hosts are not ours */
    assert_int_equal(g.count, 0);
    free(text);
}

static void test_hostile_text(void **state)
{
    (void)state;
    struct goalstate_hosts g;
    goalstate_extract("https://blob.core.windows.net/x https://a.blob.core.windows.net.evil.example/ "
                      "https://UPPER.BLOB.CORE.WINDOWS.NET/c?sig=secret https:// https://-", "core.windows.net", &g, 8);
    assert_int_equal(g.count, 1);
    assert_string_equal(g.host[0], "upper.blob.core.windows.net");
    assert_string_equal(g.purpose[0], "extension manifest");
    goalstate_extract("https://md-abc.z22.blob.storage.azure.net/$system/x.vmSettings", "core.windows.net", &g, 8);
    assert_int_equal(g.count, 1);
    assert_string_equal(g.host[0], "md-abc.z22.blob.storage.azure.net");
    char *huge = malloc(1 << 20);
    assert_non_null(huge);
    memset(huge, 'a', (1 << 20) - 1);
    memcpy(huge, "https://", 8);
    huge[(1 << 20) - 1] = '\0';
    goalstate_extract(huge, "core.windows.net", &g, 8); /* a host longer than any buffer */
    assert_int_equal(g.count, 0);
    free(huge);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_find_newest_history(void **state)
{
    (void)state;
    char root[] = "/tmp/azbp-gs-XXXXXX", path[512];
    assert_non_null(mkdtemp(root));
    struct goalstate_hosts g;
    assert_int_equal(goalstate_find(root, "core.windows.net", &g, 3), 0); /* nothing there */
    const char *dirs[] = {"/var", "/var/lib", "/var/lib/waagent", "/var/lib/waagent/history",
                          "/var/lib/waagent/history/2024-01-01T00-00-00__1",
                          "/var/lib/waagent/history/2024-02-01T00-00-00__2"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s%s", root, dirs[i]);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    snprintf(path, sizeof path, "%s%s/ExtensionsConfig.xml", root, dirs[4]);
    write_file(path, "<StatusUploadBlob>https://old.blob.core.windows.net/s?sig=x</StatusUploadBlob>");
    snprintf(path, sizeof path, "%s%s/ExtensionsConfig.xml", root, dirs[5]);
    write_file(path, "<StatusUploadBlob>https://new.blob.core.windows.net/s?sig=x</StatusUploadBlob>");
    snprintf(path, sizeof path, "%s/var/lib/waagent/history/2099-01-01T00-00-00__9.zip", root);
    write_file(path, "PK");
    assert_int_equal(goalstate_find(root, "core.windows.net", &g, 3), 1);
    assert_string_equal(g.host[0], "new.blob.core.windows.net");
    assert_non_null(strstr(g.file, "2024-02-01T00-00-00__2/ExtensionsConfig.xml"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extensions_config),
        cmocka_unit_test(test_vm_settings_status_blob_first),
        cmocka_unit_test(test_hostile_text),
        cmocka_unit_test(test_find_newest_history),
    };
    return cmocka_run_group_tests_name("goalstate", tests, NULL, NULL);
}
