#include "targets/goalstate.h"

#include <ctype.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probe/sysfile.h"

/* How far before a URL its "statusUploadBlob" key may stand (vmSettings puts a type first). */
#define LOOKBACK 160

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && strcasecmp(s + a - b, suffix) == 0 && s[a - b - 1] != '.';
}

/* The host of the URL starting at p ("https://"), lower-cased; false if not a plain host name. */
static bool url_host(const char *p, char *host, size_t size)
{
    p += 8;
    size_t n = 0;
    while (p[n] && (isalnum((unsigned char)p[n]) || p[n] == '.' || p[n] == '-'))
        n++;
    if (n == 0 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++)
        host[i] = (char)tolower((unsigned char)p[i]);
    host[n] = '\0';
    return true;
}

static void add(struct goalstate_hosts *out, size_t max, const char *host, const char *purpose)
{
    for (size_t i = 0; i < out->count; i++)
        if (strcmp(out->host[i], host) == 0)
            return;
    if (out->count >= max || out->count >= 8)
        return;
    snprintf(out->host[out->count], sizeof out->host[0], "%s", host);
    snprintf(out->purpose[out->count], sizeof out->purpose[0], "%s", purpose);
    out->count++;
}

static void scan(const char *text, const char *blob_suffix, struct goalstate_hosts *out, size_t max,
                 bool status_only)
{
    for (const char *p = text; (p = strstr(p, "https://")); p += 8) {
        char host[GOALSTATE_HOST_MAX];
        if (!url_host(p, host, sizeof host))
            continue;
        if (!ends_with(host, blob_suffix) && !ends_with(host, ".blob.storage.azure.net"))
            continue;
        /* the status blob URL follows its element or key within a short distance */
        size_t back = (size_t)(p - text) < LOOKBACK ? (size_t)(p - text) : LOOKBACK;
        char before[LOOKBACK + 1];
        memcpy(before, p - back, back);
        before[back] = '\0';
        bool status = strcasestr(before, "statusuploadblob") != NULL;
        if (status_only == status)
            add(out, max, host, status ? "status blob" : "extension manifest");
    }
}

void goalstate_extract(const char *text, const char *storage_suffix, struct goalstate_hosts *out,
                       size_t max)
{
    char blob_suffix[128];
    snprintf(blob_suffix, sizeof blob_suffix, ".blob.%s", storage_suffix);
    out->count = 0;
    scan(text, blob_suffix, out, max, true);
    scan(text, blob_suffix, out, max, false);
}

/* The lexically greatest entry of dir matching prefix (history dirs are timestamps;
 * ExtensionsConfig.<n>.xml incarnations compare by length then text). */
static bool newest(const char *dir, const char *prefix, char *name, size_t size)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || e->d_name[0] == '.' ||
            (n > 4 && strcmp(e->d_name + n - 4, ".zip") == 0))
            continue;
        size_t a = strlen(e->d_name), b = strlen(name);
        if (!found || a > b || (a == b && strcmp(e->d_name, name) > 0)) {
            snprintf(name, size, "%s", e->d_name);
            found = true;
        }
    }
    closedir(d);
    return found;
}

static size_t try_file(const char *path, const char *suffix, struct goalstate_hosts *out, size_t max)
{
    size_t len;
    char *text = sysfile_read_abs(path, 4u << 20, &len);
    if (!text)
        return 0;
    goalstate_extract(text, suffix, out, max);
    free(text);
    if (out->count)
        snprintf(out->file, sizeof out->file, "%s", path);
    return out->count;
}

size_t goalstate_find(const char *root, const char *suffix, struct goalstate_hosts *out, size_t max)
{
    char dir[4200], name[256] = "", path[4600];
    out->count = 0;
    out->file[0] = '\0';
    sysfile_path(root, "/var/lib/waagent/history", dir, sizeof dir);
    /* history/<timestamp>__<incarnation>/ holds the agent's latest documents */
    if (newest(dir, "", name, sizeof name)) {
        static const char *const docs[] = {"ExtensionsConfig.xml", "VmSettings.json"};
        for (size_t i = 0; i < 2 && !out->count; i++) {
            snprintf(path, sizeof path, "%s/%s/%s", dir, name, docs[i]);
            try_file(path, suffix, out, max);
        }
    }
    sysfile_path(root, "/var/lib/waagent", dir, sizeof dir);
    name[0] = '\0';
    if (!out->count && newest(dir, "ExtensionsConfig.", name, sizeof name)) {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        try_file(path, suffix, out, max);
    }
    return out->count;
}
