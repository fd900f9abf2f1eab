/* agent.noexec, agent.selinux and agent.resources: what around the agent can stop the snapshot
 * extension from running in time, read from /proc, /sys and /etc under the root. */
#include "probe/guest_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- mount tables ---------------------------------------------------------------------------- */

/* One whitespace-separated field of a mounts line, with \ooo escapes decoded (\040 is a space). */
static const char *field(const char *p, const char *e, char *out, size_t size)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    size_t n = 0;
    while (p < e && *p != ' ' && *p != '\t') {
        char c = *p++;
        if (c == '\\' && e - p >= 3 && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' && p[2] >= '0' &&
            p[2] <= '7') {
            c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
            p += 3;
        }
        if (n + 1 < size)
            out[n++] = ((unsigned char)c < 0x20 || c == 0x7f) ? '?' : c;
    }
    if (size)
        out[n] = '\0';
    return p;
}

/* Length of mount point dir when it is a prefix of path on a '/' boundary, else -1. */
static long prefix_len(const char *dir, const char *path)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') /* fstab may say "/var/" */
        n--;
    if (dir[0] != '/')
        return -1;
    if (n == 1)
        return 1;
    if (strncmp(dir, path, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return -1;
    return (long)n;
}

bool guest_mount_for(const char *text, size_t len, const char *path, struct guest_mount *out)
{
    struct guest_lines l;
    const char *p, *e;
    long best = -1;
    guest_lines_init(&l, text, len);
    while (guest_lines_next(&l, &p, &e)) {
        struct guest_mount m;
        guest_trim(&p, &e);
        if (p == e || *p == '#')
            continue;
        p = field(p, e, m.source, sizeof m.source);
        p = field(p, e, m.dir, sizeof m.dir);
        p = field(p, e, m.fstype, sizeof m.fstype);
        field(p, e, m.opts, sizeof m.opts);
        long n = m.fstype[0] ? prefix_len(m.dir, path) : -1;
        if (n < 0 || n < best || strcmp(m.fstype, "swap") == 0)
            continue;
        best = n; /* ">=": a later mount on the same point hides the earlier one */
        m.line = l.no;
        *out = m;
    }
    return best >= 0;
}

bool guest_mount_has(const char *opts, const char *opt)
{
    size_t n = strlen(opt);
    for (const char *p = opts; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, opt, n) == 0)
            return true;
        if (!comma)
            break;
        p = comma + 1;
    }
    return false;
}

/* ---- agent.noexec ----------------------------------------------------------------------------- */

static bool mount_from(const struct guest_ctx *g, const char *file, struct guest_mount *m, bool *readable)
{
    size_t len;
    int err;
    char *text = guest_read(g, file, GUEST_TEXT_MAX, &len, &err);
    *readable = text != NULL;
    bool found = text && guest_mount_for(text, len, g->lib_dir, m);
    free(text);
    return found;
}

static void mount_evidence(struct check *c, const char *key, const char *file, const struct guest_mount *m)
{
    check_ev(c, key, "%s on %s type %s (%s), %s line %d", m->source, m->dir, m->fstype, m->opts, file, m->line);
}

static void noexec_verdict(const struct guest_ctx *g, struct check *c, const struct guest_mount *m,
                           const char *file, bool live)
{
    guest_set(c, OUT_NOEXEC, true);
    check_summary(c, "%s is on %s, %s noexec: the snapshot extension cannot run from it (error 126 in its logs)",
                  g->lib_dir, m->dir, live ? "mounted" : "which /etc/fstab mounts");
    check_why(c, "backup fails with ExtensionOperationFailedForManagedDisks or "
                 "UserErrorVmProvisioningStateFailed; fix: remount %s without noexec (and in %s) or move %s to an "
                 "exec filesystem", m->dir, live ? "/etc/fstab" : file, g->lib_dir);
}

static void check_noexec(struct guest_ctx *g, struct check_list *out)
{
    struct check *c = guest_new(out, "agent.noexec", NULL);
    if (!c)
        return;
    check_why(c, "the snapshot extension runs from %s; noexec there fails backups with "
                 "ExtensionOperationFailedForManagedDisks", g->lib_dir);
    struct guest_mount live, boot;
    bool live_ok, boot_ok;
    bool have_live = mount_from(g, "/proc/mounts", &live, &live_ok);
    bool have_boot = mount_from(g, "/etc/fstab", &boot, &boot_ok);
    check_ev(c, "path", "%s", g->lib_dir);
    if (have_live)
        mount_evidence(c, "mount", "/proc/mounts", &live);
    if (have_boot)
        mount_evidence(c, "fstab", "/etc/fstab", &boot);
    if (!have_live && !have_boot) {
        guest_set(c, OUT_SKIPPED, false);
        check_summary(c, "no mount table under the root (%s): cannot tell how %s is mounted",
                      live_ok || boot_ok ? "no entry covers it" : "no /proc/mounts, no /etc/fstab", g->lib_dir);
        return;
    }
    if (have_live ? guest_mount_has(live.opts, "noexec") : guest_mount_has(boot.opts, "noexec")) {
        noexec_verdict(g, c, have_live ? &live : &boot, have_live ? "/proc/mounts" : "/etc/fstab", have_live);
        return;
    }
    if (have_live && have_boot && guest_mount_has(boot.opts, "noexec")) {
        guest_set(c, OUT_NOEXEC, false);
        check_summary(c, "%s is executable now, but /etc/fstab line %d mounts %s noexec at the next boot",
                      g->lib_dir, boot.line, boot.dir);
        check_why(c, "after a reboot backup fails with ExtensionOperationFailedForManagedDisks; fix: "
                     "remove noexec from /etc/fstab line %d", boot.line);
        return;
    }
    guest_set(c, OUT_OK, true);
    check_summary(c, "%s is on %s without noexec: the snapshot extension can run from it", g->lib_dir,
                  have_live ? live.dir : boot.dir);
}

/* ---- agent.selinux ---------------------------------------------------------------------------- */

static void selinux_config(const struct guest_ctx *g, struct check *c)
{
    size_t len;
    int err, line;
    char *text = guest_read(g, "/etc/selinux/config", GUEST_SMALL_MAX, &len, &err);
    char key[32], val[64];
    struct guest_lines l;
    guest_lines_init(&l, text, text ? len : 0);
    while (text && guest_kv_next(&l, key, sizeof key, val, sizeof val, &line))
        if (strcmp(key, "SELINUX") == 0)
            check_ev(c, "configured", "SELINUX=%s (/etc/selinux/config line %d)", val, line);
    free(text);
}

static void check_selinux(struct guest_ctx *g, struct check_list *out)
{
    struct check *c = guest_new(out, "agent.selinux", NULL);
    if (!c)
        return;
    check_why(c, "an SELinux denial stops the snapshot extension (GuestAgentSnapshotTaskStatusError "
                 "or ExtensionOperationFailedForManagedDisks)");
    size_t len;
    int err;
    char *text = guest_read(g, "/sys/fs/selinux/enforce", 64, &len, &err);
    selinux_config(g, c);
    const char *p = text ? text : "", *e = p + (text ? len : 0);
    guest_trim(&p, &e);
    while (e > p && e[-1] == '\n')
        e--;
    bool enforcing = guest_eq(p, e, "1"), permissive = guest_eq(p, e, "0");
    free(text);
    if (!enforcing && !permissive) {
        guest_set(c, OUT_SKIPPED, false);
        check_summary(c, "SELinux is not enabled (no readable /sys/fs/selinux/enforce)");
        return;
    }
    check_ev(c, "enforce", "%s (/sys/fs/selinux/enforce)", enforcing ? "1" : "0");
    guest_set(c, OUT_OK, false);
    if (permissive) {
        check_summary(c, "SELinux is permissive: it logs but blocks nothing");
        return;
    }
    c->status = STATUS_WARN; /* a note, not a fault: most enforcing systems back up fine */
    check_summary(c, "SELinux is enforcing: look for AVC denials of waagent or python "
                     "(sudo ausearch -m avc -ts recent | grep -E 'waagent|python')");
    check_why(c, "a denial stops the snapshot extension (GuestAgentSnapshotTaskStatusError or "
                 "ExtensionOperationFailedForManagedDisks); fix: allow it with a local policy module");
}

/* ---- agent.resources -------------------------------------------------------------------------- */

/* "MemTotal:   16384256 kB" -> kB; -1 when absent. */
static long meminfo_kb(const char *text, size_t len, const char *key)
{
    struct guest_lines l;
    const char *p, *e;
    size_t n = strlen(key);
    guest_lines_init(&l, text, len);
    while (guest_lines_next(&l, &p, &e)) {
        if ((size_t)(e - p) <= n || memcmp(p, key, n) != 0 || p[n] != ':')
            continue;
        long v = 0;
        for (p += n + 1; p < e && (*p == ' ' || *p == '\t'); p++)
            ;
        if (p == e || *p < '0' || *p > '9')
            return -1;
        for (; p < e && *p >= '0' && *p <= '9'; p++)
            if (v < 1000000000000L)
                v = v * 10 + (*p - '0');
        return v;
    }
    return -1;
}

/* "12.34" -> 1234 (hundredths), without the locale-dependent strtod; -1 when not a number. */
static long centi(const char **pp, const char *e)
{
    const char *p = *pp;
    long v = 0;
    int frac = -1;
    for (; p < e && ((*p >= '0' && *p <= '9') || (*p == '.' && frac < 0)); p++) {
        if (*p == '.') {
            frac = 0;
            continue;
        }
        if (frac >= 0 && frac++ >= 2)
            continue;
        if (v < 100000000L)
            v = v * 10 + (*p - '0');
    }
    if (p == *pp)
        return -1;
    for (int f = frac < 0 ? 0 : frac; f < 2; f++)
        v *= 10;
    *pp = p;
    return v;
}

/* "0-3,5,7-8" -> 7; 0 when unreadable. */
static long cpu_list_count(const char *p, const char *e)
{
    long count = 0;
    while (p < e) {
        char *q;
        long a = strtol(p, &q, 10), b = a;
        if (q == p || a < 0)
            return 0;
        if (q < e && *q == '-') {
            const char *r = q + 1;
            b = strtol(r, &q, 10);
            if (q == r || b < a)
                return 0;
        }
        count += b - a + 1;
        if (q >= e || *q != ',')
            break;
        p = q + 1;
    }
    return count;
}

static long cpu_count(const struct guest_ctx *g, const char **from)
{
    size_t len;
    int err;
    char *text = guest_read(g, "/sys/devices/system/cpu/online", 4096, &len, &err);
    long n = 0;
    if (text) {
        const char *p = text, *e = text + len;
        guest_trim(&p, &e);
        while (e > p && e[-1] == '\n')
            e--;
        n = cpu_list_count(p, e);
        *from = "/sys/devices/system/cpu/online";
        free(text);
    }
    if (n > 0)
        return n;
    text = guest_read(g, "/proc/cpuinfo", GUEST_TEXT_MAX, &len, &err);
    struct guest_lines l;
    const char *p, *e;
    guest_lines_init(&l, text, text ? len : 0);
    while (text && guest_lines_next(&l, &p, &e))
        n += (e - p) > 9 && memcmp(p, "processor", 9) == 0 && (p[9] == ' ' || p[9] == '\t' || p[9] == ':');
    free(text);
    *from = "/proc/cpuinfo";
    return n;
}

/* Percent of memory in use (0-100), or -1. */
static int memory_used(const struct guest_ctx *g, struct check *c)
{
    size_t len;
    int err;
    char *text = guest_read(g, "/proc/meminfo", GUEST_SMALL_MAX, &len, &err);
    if (!text)
        return -1;
    long total = meminfo_kb(text, len, "MemTotal"), avail = meminfo_kb(text, len, "MemAvailable");
    if (avail < 0) { /* kernels before 3.14: an estimate from the older fields */
        long fr = meminfo_kb(text, len, "MemFree"), bu = meminfo_kb(text, len, "Buffers"),
             ca = meminfo_kb(text, len, "Cached");
        avail = fr < 0 ? -1 : fr + (bu > 0 ? bu : 0) + (ca > 0 ? ca : 0);
    }
    free(text);
    if (total <= 0 || avail < 0 || avail > total)
        return -1;
    int used = (int)(100 - (avail * 100) / total);
    check_ev(c, "memory", "%d%% used (MemAvailable %ld MB of MemTotal %ld MB)", used, avail / 1024, total / 1024);
    return used;
}

/* Load per CPU in hundredths (1-minute average), or -1. */
static long load_per_cpu(const struct guest_ctx *g, struct check *c)
{
    size_t len;
    int err;
    char *text = guest_read(g, "/proc/loadavg", 4096, &len, &err);
    if (!text)
        return -1;
    const char *p = text, *e = text + len;
    long l[3] = {-1, -1, -1}; /* 1, 5 and 15 minutes */
    for (int i = 0; i < 3; i++) {
        while (p < e && *p == ' ')
            p++;
        if ((l[i] = centi(&p, e)) < 0)
            break;
    }
    free(text);
    const char *from = "";
    long cpus = cpu_count(g, &from);
    if (l[0] < 0 || cpus <= 0)
        return -1;
    for (int i = 1; i < 3; i++)
        if (l[i] < 0)
            l[i] = 0;
    check_ev(c, "load", "%ld.%02ld %ld.%02ld %ld.%02ld (1, 5, 15 min; /proc/loadavg)", l[0] / 100, l[0] % 100,
             l[1] / 100, l[1] % 100, l[2] / 100, l[2] % 100);
    check_ev(c, "cpus", "%ld (%s)", cpus, from);
    return l[0] / cpus;
}

static void check_resources(struct guest_ctx *g, struct check_list *out)
{
    struct check *c = guest_new(out, "agent.resources", NULL);
    if (!c)
        return;
    check_why(c, "on a busy VM snapshot tasks time out (GuestAgentSnapshotTaskStatusError)");
    int mem = memory_used(g, c);
    long load = load_per_cpu(g, c);
    if (mem < 0 && load < 0) {
        guest_set(c, OUT_SKIPPED, false);
        check_summary(c, "no /proc/meminfo or /proc/loadavg under the root: load unknown");
        return;
    }
    bool mem_hi = mem > 90, cpu_hi = load > 90;
    guest_set(c, mem_hi || cpu_hi ? OUT_OVERLOADED : OUT_OK, false);
    check_why(c, "on a VM with memory over 90%% used or load over 0.9 per CPU, snapshot tasks time out "
                 "(GuestAgentSnapshotTaskStatusError); fix: back up off-peak or resize the VM");
    if (!mem_hi && !cpu_hi) {
        char mtext[48] = "memory use unknown", ltext[48] = "load unknown";
        if (mem >= 0)
            snprintf(mtext, sizeof mtext, "memory %d%% used", mem);
        if (load >= 0)
            snprintf(ltext, sizeof ltext, "load %ld.%02ld per CPU", load / 100, load % 100);
        check_summary(c, "%s, %s: enough headroom for a snapshot", mtext, ltext);
        return;
    }
    check_summary(c, "%s%s%s: snapshot tasks time out (GuestAgentSnapshotTaskStatusError)",
                  mem_hi ? "memory over 90% used" : "", mem_hi && cpu_hi ? " and " : "",
                  cpu_hi ? "load above 0.9 per CPU" : "");
}

void guest_system_checks(struct guest_ctx *g, struct check_list *out)
{
    check_noexec(g, out);
    check_selinux(g, out);
    check_resources(g, out);
}
