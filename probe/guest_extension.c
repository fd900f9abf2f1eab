/* agent.extension: the backup snapshot extension (VMSnapshotLinux) as the agent installed it under
 * Lib.Dir, and what its newest handler last reported in status/<seq>.status. The message can hold
 * SAS URLs (blob snapshot and status URIs): it is redacted before it goes anywhere. */
#include "probe/guest_internal.h"
#include "probe/sysfile.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HANDLER_PREFIX "Microsoft.Azure.RecoveryServices.VMSnapshotLinux-"
#define MAX_VERSIONS 32
#define STATUS_MAX (256u << 10) /* a status file is a few KB; VMBackup's substatus can be larger */

/* Dotted numeric versions: 1.0.9225.0 < 1.0.10000.0. */
static int version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        char *ea, *eb;
        unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
        if (x != y)
            return x < y ? -1 : 1;
        a = *ea == '.' ? ea + 1 : ea;
        b = *eb == '.' ? eb + 1 : eb;
        if (ea == a && eb == b) /* neither moved: something not numeric */
            return strcmp(a, b);
    }
    return 0;
}

static bool numeric_name(const char *s, const char *suffix, long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    long v = strtol(s, &end, 10);
    if (strcmp(end, suffix) != 0)
        return false;
    *out = v;
    return true;
}

/* The highest <seq>.status in dir, -1 when none. Read without a cap: a handler keeps a status file
 * per sequence number, one per backup, so a year of daily backups is hundreds. */
static long newest_status(const struct guest_ctx *g, const char *dir, int *err)
{
    char full[4096 + 700];
    sysfile_path(g->root, dir, full, sizeof full);
    DIR *d = opendir(full);
    *err = d ? 0 : errno;
    long best = -1;
    for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
        long seq;
        if (numeric_name(de->d_name, ".status", &seq) && seq > best)
            best = seq;
    }
    if (d)
        closedir(d);
    return best;
}

static const char *json_str(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static struct json_object *json_obj(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

struct ext_status {
    char status[32];   /* transitioning, error, success, warning */
    char operation[64];
    char timestamp[40];
    long code;
    bool has_code;
    char message[220]; /* first line, redacted */
};

/* The first line of a message, redacted, then cut to fit. A URL never spans lines, so the line is
 * whole when redacted and the cut cannot expose part of a token. */
static void first_line(const char *msg, char *out, size_t size)
{
    size_t n = strcspn(msg, "\r\n");
    size_t rsize = n * 4 + 32; /* redaction grows text by less than 4x */
    char *line = strndup(msg, n), *red = line ? malloc(rsize) : NULL;
    if (!red)
        snprintf(out, size, "(message not shown: out of memory)");
    else {
        guest_redact(line, red, rsize);
        guest_printable(red, red + strlen(red), out, size);
    }
    free(line);
    free(red);
}

static bool parse_status(const char *text, size_t len, struct ext_status *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    struct json_tokener *tok = json_tokener_new_ex(32);
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    struct json_object *root = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        snprintf(err, errlen, "not JSON (%s)",
                 jerr == json_tokener_continue ? "cut short" : json_tokener_error_desc(jerr));
        json_object_put(root);
        return false;
    }
    struct json_object *item = root; /* the agent accepts a list (its first item) or a bare object */
    if (json_object_is_type(root, json_type_array))
        item = json_object_array_length(root) ? json_object_array_get_idx(root, 0) : NULL;
    struct json_object *st = json_obj(item, "status");
    const char *status = json_str(st, "status");
    if (!status) {
        snprintf(err, errlen, "no status.status field");
        json_object_put(root);
        return false;
    }
    guest_printable(status, status + strlen(status), s->status, sizeof s->status);
    const char *op = json_str(st, "operation"), *ts = json_str(item, "timestampUTC");
    guest_printable(op ? op : "", op ? op + strlen(op) : "", s->operation, sizeof s->operation);
    guest_printable(ts ? ts : "", ts ? ts + strlen(ts) : "", s->timestamp, sizeof s->timestamp);
    struct json_object *code = NULL;
    if (json_object_object_get_ex(st, "code", &code) && json_object_is_type(code, json_type_int)) {
        s->code = (long)json_object_get_int64(code);
        s->has_code = true;
    }
    const char *msg = json_str(json_obj(st, "formattedMessage"), "message");
    first_line(msg ? msg : "", s->message, sizeof s->message);
    json_object_put(root);
    return true;
}

/* The portal code a failed snapshot extension is reported under. */
static const char *error_code_for(const char *message)
{
    if (strstr(message, "NoNetwork"))
        return "ExtensionSnapshotFailedNoNetwork";
    return "ExtensionOperationFailedForManagedDisks (managed disks) or BackUpOperationFailed";
}

static void judge_status(struct check *c, const struct ext_status *s, const char *version)
{
    check_ev(c, "last_status", "%s", s->status);
    if (s->operation[0])
        check_ev(c, "operation", "%s", s->operation);
    if (s->timestamp[0])
        check_ev(c, "timestamp_utc", "%s", s->timestamp);
    if (s->has_code)
        check_ev(c, "code", "%ld", s->code);
    if (s->message[0])
        check_ev(c, "message", "%s", s->message);
    if (strcmp(s->status, "error") == 0) {
        guest_set(c, OUT_EXTENSION_FAILED, false);
        check_summary(c, "the backup snapshot extension %s last failed: %.150s", version,
                      s->message[0] ? s->message : "(no message)");
        check_why(c, "the last backup failed with %s; fix the cause in the message, see "
                     "/var/log/azure/Microsoft.Azure.RecoveryServices.VMSnapshotLinux/extension.log, then retry",
                  error_code_for(s->message));
        return;
    }
    guest_set(c, OUT_OK, false);
    if (strcmp(s->status, "transitioning") == 0)
        check_summary(c, "the backup snapshot extension %s is working on a snapshot (transitioning since %s)",
                      version, s->timestamp[0] ? s->timestamp : "?");
    else
        check_summary(c, "the backup snapshot extension %s last reported %s", version, s->status);
}

static void read_status(const struct guest_ctx *g, struct check *c, const char *dir, const char *version)
{
    char sdir[600], rel[700];
    int err;
    snprintf(sdir, sizeof sdir, "%s/%s/status", g->lib_dir, dir);
    long seq = newest_status(g, sdir, &err);
    if (seq < 0) {
        guest_set(c, OUT_OK, false);
        check_summary(c, "the backup snapshot extension %s is installed and has not reported a status yet", version);
        if (err && err != ENOENT)
            check_ev(c, "status_dir", "%s: %s", sdir, strerror(err));
        return;
    }
    snprintf(rel, sizeof rel, "%s/%ld.status", sdir, seq);
    check_ev(c, "status_file", "%s", rel);
    size_t len;
    char *text = guest_read(g, rel, STATUS_MAX, &len, &err), why[160];
    struct ext_status s;
    if (!text || !parse_status(text, len, &s, why, sizeof why)) {
        guest_set(c, OUT_ERROR, false);
        check_summary(c, "the snapshot extension's status file %s cannot be used: %s", rel,
                      text ? why : strerror(err));
        free(text);
        return;
    }
    free(text);
    judge_status(c, &s, version);
}

static int dir_version_cmp(const void *a, const void *b)
{
    size_t n = sizeof HANDLER_PREFIX - 1;
    return version_cmp((const char *)a + n, (const char *)b + n);
}

void guest_extension_check(struct guest_ctx *g, struct check_list *out)
{
    struct check *c = guest_new(out, "agent.extension", NULL);
    if (!c)
        return;
    check_why(c, "the last snapshot's result; a failure there is reported as "
                 "ExtensionOperationFailedForManagedDisks or BackUpOperationFailed and retried at the next backup");
    char names[MAX_VERSIONS][256];
    int err, n = guest_list_dir(g->root, g->lib_dir, HANDLER_PREFIX, "", names, MAX_VERSIONS, &err);
    check_ev(c, "lib_dir", "%s", g->lib_dir);
    if (n < 0 && err != ENOENT) {
        guest_set(c, OUT_SKIPPED, false);
        check_summary(c, "cannot read %s (%s)%s", g->lib_dir, strerror(err),
                      err == EACCES ? ": it is root's; rerun with sudo" : "");
        return;
    }
    if (n <= 0) {
        guest_set(c, OUT_OK, false);
        check_summary(c, "the backup snapshot extension (VMSnapshotLinux) is not installed: Azure Backup "
                         "installs it when protection is enabled");
        return;
    }
    qsort(names, (size_t)n, sizeof names[0], dir_version_cmp);
    for (int i = 0; i < n; i++)
        guest_ev_add(c, "installed", "%s", names[i] + sizeof HANDLER_PREFIX - 1);
    const char *newest = names[n - 1];
    read_status(g, c, newest, newest + sizeof HANDLER_PREFIX - 1);
}
