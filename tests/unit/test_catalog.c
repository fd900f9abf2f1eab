/* Unit tests: targets/catalog.c and the generated region table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "targets/catalog.h"

static size_t count_cloud(const char *cloud)
{
    size_t n = 0;
    for (size_t i = 0; i < catalog_region_count; i++)
        n += strcmp(catalog_regions[i].cloud, cloud) == 0;
    return n;
}

static void test_region_count(void **state)
{
    (void)state;
    assert_int_equal(catalog_region_count, 87);
    assert_int_equal(count_cloud("AzureCloud"), 75);
    assert_int_equal(count_cloud("AzureChinaCloud"), 6);
    assert_int_equal(count_cloud("AzureUSGovernment"), 6);
}

static void test_every_row_sane(void **state)
{
    (void)state;
    for (size_t i = 0; i < catalog_region_count; i++) {
        const struct region *r = &catalog_regions[i];
        const struct cloud *c = catalog_cloud(r->cloud);

        assert_non_null(c);
        assert_string_equal(c->name, r->cloud);
        assert_true(r->name[0] != '\0');
        assert_non_null(r->display);
        assert_non_null(r->geography);
        assert_non_null(r->geo_code);
        assert_non_null(r->tag_storage);
        assert_non_null(r->tag_backup);
        assert_non_null(r->notes);
        /* names are unique: the lookup finds this very row */
        assert_ptr_equal(catalog_region(r->name), r);
    }
}

/* tagStorage / tagAzureBackup are "<Service>." + displayName without spaces, when present. */
static void assert_tag(const char *tag, const char *service, const char *display)
{
    char want[128];
    size_t n = strlen(service);

    if (tag[0] == '\0')
        return;
    assert_true(n < sizeof want);
    memcpy(want, service, n);
    for (const char *p = display; *p != '\0' && n + 1 < sizeof want; p++)
        if (*p != ' ')
            want[n++] = *p;
    want[n] = '\0';
    assert_string_equal(tag, want);
}

static void test_tags_follow_display_name(void **state)
{
    (void)state;
    for (size_t i = 0; i < catalog_region_count; i++) {
        const struct region *r = &catalog_regions[i];
        assert_tag(r->tag_storage, "Storage.", r->display);
        assert_tag(r->tag_backup, "AzureBackup.", r->display);
    }
}

static void test_northeurope(void **state)
{
    const struct region *r = catalog_region("northeurope");

    (void)state;
    assert_non_null(r);
    assert_string_equal(r->cloud, "AzureCloud");
    assert_string_equal(r->display, "North Europe");
    assert_string_equal(r->geography, "Europe");
    assert_string_equal(r->geo_code, "ne");
    assert_string_equal(r->tag_storage, "Storage.NorthEurope");
    assert_string_equal(r->tag_backup, "AzureBackup.NorthEurope");
}

static void test_china_rows(void **state)
{
    const struct region *r = catalog_region("chinanorth2");
    const struct cloud *c;

    (void)state;
    assert_non_null(r);
    assert_string_equal(r->cloud, "AzureChinaCloud");
    assert_string_equal(r->geo_code, "bjb2");
    assert_string_equal(r->tag_storage, "Storage.ChinaNorth2");
    assert_string_equal(r->tag_backup, "AzureBackup.ChinaNorth2");
    c = catalog_cloud(r->cloud);
    assert_non_null(c);
    assert_string_equal(c->backup_suffix, "backup.windowsazure.cn");
    assert_string_equal(c->storage_suffix, "core.chinacloudapi.cn");

    r = catalog_region("chinaeast");
    assert_non_null(r);
    assert_string_equal(r->geo_code, "sha");
}

static void test_usgov_rows(void **state)
{
    const struct region *r = catalog_region("usgovvirginia");

    (void)state;
    assert_non_null(r);
    assert_string_equal(r->cloud, "AzureUSGovernment");
    assert_string_equal(r->display, "USGov Virginia");
    assert_string_equal(r->geo_code, "ugv");
    assert_string_equal(r->tag_storage, "Storage.USGovVirginia");
    assert_string_equal(r->tag_backup, "AzureBackup.USGovVirginia");

    r = catalog_region("usdodcentral");
    assert_non_null(r);
    assert_string_equal(r->geo_code, "udc");

    /* known gap: geo code but no service tags */
    r = catalog_region("usgoviowa");
    assert_non_null(r);
    assert_string_equal(r->geo_code, "ugi");
    assert_string_equal(r->tag_storage, "");
    assert_string_equal(r->tag_backup, "");
}

static void test_known_gaps(void **state)
{
    (void)state;
    assert_string_equal(catalog_region("eastusstg")->geo_code, "");
    assert_string_equal(catalog_region("southcentralusstg")->geo_code, "");
    /* a row that had non-ASCII text in the TSV survived generation */
    assert_string_equal(catalog_region("mexicocentral")->geo_code, "mxc");
}

static void test_lookup_case_insensitive(void **state)
{
    (void)state;
    assert_ptr_equal(catalog_region("NorthEurope"), catalog_region("northeurope"));
    assert_ptr_equal(catalog_region("NORTHEUROPE"), catalog_region("northeurope"));
    assert_ptr_equal(catalog_region("UsGovVirginia"), catalog_region("usgovvirginia"));
}

static void test_lookup_unknown(void **state)
{
    (void)state;
    assert_null(catalog_region("northeurop"));
    assert_null(catalog_region("northeurope2"));
    assert_null(catalog_region("North Europe"));
    assert_null(catalog_region(" northeurope"));
    assert_null(catalog_region("germanycentral"));
    assert_null(catalog_region(""));
    assert_null(catalog_region(NULL));
}

static void test_clouds(void **state)
{
    const struct cloud *c;

    (void)state;
    assert_int_equal(catalog_cloud_count(), 3);
    assert_null(catalog_cloud_at(3));

    c = catalog_cloud("AZUREPUBLICCLOUD");
    assert_non_null(c);
    assert_string_equal(c->name, "AzureCloud");
    assert_string_equal(c->storage_suffix, "core.windows.net");
    assert_string_equal(c->login, "login.microsoftonline.com");
    assert_string_equal(c->management, "management.azure.com");
    assert_string_equal(c->backup_suffix, "backup.windowsazure.com");

    c = catalog_cloud("AzureUSGovernmentCloud");
    assert_non_null(c);
    assert_string_equal(c->name, "AzureUSGovernment");
    assert_string_equal(c->imds_env, "AzureUSGovernmentCloud");
    assert_string_equal(c->storage_suffix, "core.usgovcloudapi.net");
    assert_string_equal(c->login, "login.microsoftonline.us");
    assert_string_equal(c->management, "management.usgovcloudapi.net");
    assert_string_equal(c->backup_suffix, "backup.windowsazure.us");
    assert_ptr_equal(catalog_cloud("azureusgovernment"), c);

    c = catalog_cloud("azurechinacloud");
    assert_non_null(c);
    assert_string_equal(c->name, "AzureChinaCloud");
    assert_string_equal(c->login, "login.partner.microsoftonline.cn");
    assert_string_equal(c->management, "management.chinacloudapi.cn");

    assert_ptr_equal(catalog_cloud("azurecloud"), catalog_cloud_at(0));
    assert_null(catalog_cloud("AzureGermanCloud"));
    assert_null(catalog_cloud("AzurePublic"));
    assert_null(catalog_cloud(""));
    assert_null(catalog_cloud(NULL));
}

/* The first suggestion for input is want. */
static void assert_first_suggestion(const char *input, const char *want)
{
    const char *out[5] = {NULL};
    size_t n = catalog_suggest(input, out, 5);

    assert_true(n >= 1);
    assert_true(n <= 5);
    assert_string_equal(out[0], want);
}

static void test_suggest_close_names(void **state)
{
    (void)state;
    assert_first_suggestion("northeurop", "northeurope");
    assert_first_suggestion("north-europe", "northeurope");
    assert_first_suggestion("NorthEurope", "northeurope");
    assert_first_suggestion("North Europe", "northeurope");
    assert_first_suggestion("westeurope2", "westeurope");
    assert_first_suggestion("usgovvirgina", "usgovvirginia");
    assert_first_suggestion("germanycentral", "germanywestcentral");
    assert_first_suggestion("West US 2", "westus2");
    assert_first_suggestion("ne", "northeurope"); /* Backup geo code */
}

static void test_suggest_order(void **state)
{
    const char *out[4] = {NULL};
    size_t n;

    (void)state;
    /* prefix matches, then by distance, then alphabetically */
    n = catalog_suggest("chinanorth4", out, 4);
    assert_int_equal(n, 3);
    assert_string_equal(out[0], "chinanorth");
    assert_string_equal(out[1], "chinanorth2");
    assert_string_equal(out[2], "chinanorth3");

    n = catalog_suggest("brazil", out, 4);
    assert_int_equal(n, 2);
    assert_string_equal(out[0], "brazilsouth");
    assert_string_equal(out[1], "brazilsoutheast");

    /* max is honoured */
    n = catalog_suggest("e", out, 2);
    assert_int_equal(n, 2);
}

static void test_suggest_degenerate(void **state)
{
    const char *out[5] = {NULL};
    char longname[301];

    (void)state;
    assert_int_equal(catalog_suggest("", out, 5), 0);
    assert_int_equal(catalog_suggest("---", out, 5), 0);
    assert_int_equal(catalog_suggest("qqqqzzzz", out, 5), 0);
    assert_int_equal(catalog_suggest(NULL, out, 5), 0);
    assert_int_equal(catalog_suggest("northeurop", out, 0), 0);
    assert_int_equal(catalog_suggest("northeurop", NULL, 5), 0);

    memset(longname, 'a', 300);
    longname[300] = '\0';
    assert_int_equal(catalog_suggest(longname, out, 5), 0);
    memcpy(longname, "northeurope", 11);
    assert_int_equal(catalog_suggest(longname, out, 5), 0);
    /* long but mostly punctuation: still just "northeurope" */
    memset(longname, '-', 300);
    memcpy(longname + 150, "northeurope", 11);
    assert_first_suggestion(longname, "northeurope");
}

/* Terminal columns of one line of UTF-8. */
static size_t line_cols(const char *s, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n; i++)
        cols += ((unsigned char)s[i] & 0xC0) != 0x80;
    return cols;
}

static void test_list_table(void **state)
{
    char *text = NULL;
    size_t size = 0, lines = 0;
    FILE *f = open_memstream(&text, &size);

    (void)state;
    assert_non_null(f);
    catalog_list(f);
    assert_int_equal(fclose(f), 0);
    assert_non_null(text);
    assert_true(strncmp(text, "CLOUD", 5) == 0);

    size_t region_lines = 0;
    for (const char *p = text; *p != '\0'; lines++) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(line_cols(p, (size_t)(nl - p)) <= 100);
        if (nl == p && !region_lines)
            region_lines = lines; /* a blank line ends the region table */
        p = nl + 1;
    }
    assert_int_equal(region_lines, catalog_region_count + 1);
    /* then a heading and three lines per cloud with its endpoint suffixes */
    assert_int_equal(lines, region_lines + 2 + 3 * catalog_cloud_count());
    for (size_t i = 0; i < catalog_cloud_count(); i++) {
        const struct cloud *c = catalog_cloud_at(i);
        assert_non_null(strstr(text, c->storage_suffix));
        assert_non_null(strstr(text, c->management));
        assert_non_null(strstr(text, c->login));
        assert_non_null(strstr(text, c->backup_suffix));
    }

    /* names, geo codes and tags are never cut */
    for (size_t i = 0; i < catalog_region_count; i++) {
        const struct region *r = &catalog_regions[i];
        assert_non_null(strstr(text, r->name));
        assert_non_null(strstr(text, r->tag_storage));
        assert_non_null(strstr(text, r->tag_backup));
    }
    assert_non_null(strstr(text, " Storage.GermanyWestCentral AzureBackup.GermanyWestCentral\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_count),
        cmocka_unit_test(test_every_row_sane),
        cmocka_unit_test(test_tags_follow_display_name),
        cmocka_unit_test(test_northeurope),
        cmocka_unit_test(test_china_rows),
        cmocka_unit_test(test_usgov_rows),
        cmocka_unit_test(test_known_gaps),
        cmocka_unit_test(test_lookup_case_insensitive),
        cmocka_unit_test(test_lookup_unknown),
        cmocka_unit_test(test_clouds),
        cmocka_unit_test(test_suggest_close_names),
        cmocka_unit_test(test_suggest_order),
        cmocka_unit_test(test_suggest_degenerate),
        cmocka_unit_test(test_list_table),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
