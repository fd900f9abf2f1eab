/* Storage hosts this VM really uses, read from the guest agent's goal-state files under --root
 * (ExtensionsConfig.xml, VmSettings.json): the status blob first, then extension manifests.
 * Only host names are kept: the SAS tokens in those URLs never leave this module. */
#ifndef AZB_GOALSTATE_H
#define AZB_GOALSTATE_H

#include <stddef.h>

#define GOALSTATE_HOST_MAX 256

struct goalstate_hosts {
    char host[8][GOALSTATE_HOST_MAX];
    char purpose[8][32];        /* "status blob", "extension manifest" */
    size_t count;
    char file[512];             /* the file they came from */
};

/* Pure: collect blob hosts ending in .blob.<storage_suffix> or .blob.storage.azure.net from
 * text, status-blob hosts first, no duplicates, at most max (<= 8). */
void goalstate_extract(const char *text, const char *storage_suffix, struct goalstate_hosts *out,
                       size_t max);

/* Find the newest goal-state file under root and extract from it. Returns the count. */
size_t goalstate_find(const char *root, const char *storage_suffix, struct goalstate_hosts *out,
                      size_t max);

#endif
