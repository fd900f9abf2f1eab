/* Region catalog: every Azure region azbprobe knows (public, China, US Government), with the
 * cloud's endpoint suffixes, the Azure Backup geo code and the regional service tags.
 * The table is generated at build time from targets/regions.tsv (build/regions_gen.c). */
#ifndef AZB_CATALOG_H
#define AZB_CATALOG_H

#include <stddef.h>
#include <stdio.h>

struct cloud {
    const char *name;           /* AzureCloud, AzureChinaCloud, AzureUSGovernment */
    const char *imds_env;       /* IMDS compute.azEnvironment: AzurePublicCloud, ... */
    const char *storage_suffix; /* core.windows.net */
    const char *login;          /* login.microsoftonline.com */
    const char *management;     /* management.azure.com */
    const char *backup_suffix;  /* backup.windowsazure.com */
};

struct region {
    const char *cloud;        /* cloud name, as in struct cloud */
    const char *name;         /* ARM name: northeurope */
    const char *display;      /* North Europe */
    const char *geography;    /* Europe (may be empty) */
    const char *geo_code;     /* Azure Backup geo code: ne (may be empty) */
    const char *tag_storage;  /* Storage.NorthEurope (may be empty) */
    const char *tag_backup;   /* AzureBackup.NorthEurope (may be empty) */
    const char *notes;
};

/* The generated table (build/regions_gen.c). */
extern const struct region catalog_regions[];
extern const size_t catalog_region_count;

size_t catalog_cloud_count(void);
const struct cloud *catalog_cloud_at(size_t i);

/* Exact, case-insensitive lookup by ARM name; NULL when unknown. */
const struct region *catalog_region(const char *name);

/* Cloud by name (AzureCloud ...) or by IMDS azEnvironment (AzurePublicCloud, AZUREPUBLICCLOUD ...),
 * case-insensitive; NULL when unknown. */
const struct cloud *catalog_cloud(const char *name_or_env);

/* Up to max region names closest to an unknown name (edit distance, then shared prefix),
 * best first. Returns how many were written to out. Case, spaces and punctuation are ignored
 * ("North Europe", "north-europe" -> northeurope). Ranked first: regions whose name, display name
 * or Backup geo code is the input; then names the input is a prefix of; then names within an edit
 * distance of a third of the longer string (at least 2). Ties: longer common prefix, then
 * alphabetical. Far-off input ("", 300 characters of junk) gets no suggestions. */
size_t catalog_suggest(const char *name, const char **out, size_t max);

/* Print every region as a fixed-width table (cloud, name, display name, geo code, Storage tag,
 * AzureBackup tag) under one header line; every line fits in 100 columns. */
void catalog_list(FILE *out);

#endif
