/* Shared lease helpers, the WireServerEndpoint file, and lease_find (which files, in which order).
 * The dhclient parser is in lease_isc.c; networkd and NetworkManager in lease_networkd.c. */
#include "probe/lease.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "probe/sysfile.h"

/* ---- helpers ----------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool lease_next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (!text || *pos >= len)
        return false;
    const char *s = text + *pos;
    const char *nl = memchr(s, '\n', len - *pos);
    size_t l = nl ? (size_t)(nl - s) : len - *pos;
    *pos += l + (nl ? 1 : 0);
    if (l && s[l - 1] == '\r')
        l--;
    *line = s;
    *n = l;
    return true;
}

bool lease_ip_parse(const char *s, size_t n, uint8_t ip[4])
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && i - start < 3 && s[i] >= '0' && s[i] <= '9')
            v = v * 10 + (unsigned)(s[i++] - '0');
        size_t digits = i - start;
        if (!digits || v > 255 || (digits > 1 && s[start] == '0'))
            return false;
        ip[part] = (uint8_t)v;
    }
    return i == n;
}

/* Colon hex as dhclient prints it (common/options.c pretty_print_option, "%x" per byte):
 * 1 or 2 digits per octet. Returns the octet count, or 0 when s is not of that form. Octets
 * are stored in ip while there is room (up to 4). */
static size_t colon_hex(const char *s, size_t n, uint8_t ip[4])
{
    size_t count = 0, i = 0;
    while (i < n) {
        if (count && s[i++] != ':')
            return 0;
        int hi = i < n ? hexval(s[i]) : -1;
        if (hi < 0)
            return 0;
        i++;
        int v = hi, lo = i < n ? hexval(s[i]) : -1;
        if (lo >= 0) {
            v = hi * 16 + lo;
            i++;
        }
        if (ip && count < 4)
            ip[count] = (uint8_t)v;
        count++;
    }
    return count;
}

size_t lease_hex_octets(const char *s, size_t n)
{
    return colon_hex(s, n, NULL);
}

bool lease_hex4_parse(const char *s, size_t n, uint8_t ip[4])
{
    if (n == 8 && !memchr(s, ':', n)) {
        for (size_t k = 0; k < 4; k++) {
            int hi = hexval(s[2 * k]), lo = hexval(s[2 * k + 1]);
            if (hi < 0 || lo < 0)
                return false;
            ip[k] = (uint8_t)(hi * 16 + lo);
        }
        return true;
    }
    uint8_t tmp[4];
    if (colon_hex(s, n, tmp) != 4)
        return false;
    memcpy(ip, tmp, 4);
    return true;
}

struct lease245 *lease_list_add(struct lease_list *out, const char *format)
{
    if (out->count >= LEASE_LIST_MAX) {
        out->dropped++;
        return NULL;
    }
    struct lease245 *e = &out->item[out->count++];
    memset(e, 0, sizeof *e);
    snprintf(e->format, sizeof e->format, "%s", format);
    return e;
}

void lease_set_address(struct lease245 *e, const uint8_t ip[4])
{
    e->found = true;
    snprintf(e->address, sizeof e->address, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
}

/* ---- WireServerEndpoint (WALinuxAgent protocol/util.py: written without a newline, read and
 * used verbatim) ---------------------------------------------------------------------------- */

size_t lease_parse_endpoint(const char *text, size_t len, long long now_epoch, struct lease_list *out)
{
    (void)now_epoch;
    struct lease245 *e = lease_list_add(out, "waagent");
    if (!e)
        return 0;
    uint8_t ip[4];
    if (text && lease_ip_parse(text, len, ip)) {
        lease_set_address(e, ip);
        e->line = 1;
    } else if (text && len > 1 && text[len - 1] == '\n' && lease_ip_parse(text, len - 1, ip)) {
        snprintf(e->note, sizeof e->note, "an address followed by a newline: the agent would use the text verbatim");
    } else if (!text || !len) {
        snprintf(e->note, sizeof e->note, "empty file");
    } else {
        snprintf(e->note, sizeof e->note, "not a single IPv4 address");
    }
    return 1;
}

/* ---- lease_find -------------------------------------------------------------------------- */

enum family { FAM_DHCLIENT, FAM_NETWORKD, FAM_NM, FAM_WAAGENT, FAM_COUNT };

struct source {
    const char *dir;
    const char *prefix;    /* the file name starts with this */
    const char *suffix;    /* and ends with this (NULL: anything) */
    const char *suffix2;   /* or with this */
    bool exact;            /* the file name is prefix */
    enum family family;
};

/* The paths the agent's osutil classes read (azure-platform.md section 6), plus the networkd
 * and NetworkManager internal-client locations. */
static const struct source sources[] = {
    {"/var/lib/dhcp", "dhclient", ".leases", NULL, false, FAM_DHCLIENT},
    {"/var/lib/dhclient", "dhclient", ".lease", ".leases", false, FAM_DHCLIENT},
    {"/var/lib/NetworkManager", "dhclient-", ".lease", NULL, false, FAM_DHCLIENT},
    {"/var/db", "dhclient.leases.", NULL, NULL, false, FAM_DHCLIENT},
    {"/var/lib/NetworkManager", "internal-", ".lease", NULL, false, FAM_NM},
    {"/run/systemd/netif/leases", "", NULL, NULL, false, FAM_NETWORKD},
    {"/var/lib/waagent", "WireServerEndpoint", NULL, NULL, true, FAM_WAAGENT},
};

#define FIND_MAX_FILES 64      /* per directory */
#define FIND_MAX_ENTRIES 256   /* before ordering */

struct cand {
    struct lease245 e;
    enum family family;
    size_t file_seq;
    long long winner_expire;   /* dhclient: the file's last unexpired lease's expiry */
};

struct finder {
    const char *root;
    long long now;
    char *conf;                /* dhclient.conf text, for named-option declarations */
    size_t conf_len;
    struct cand *cand;
    size_t ncand, dropped, file_seq;
    struct lease_list *tmp;   /* one file's entries */
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static bool name_matches(const struct source *src, const char *name)
{
    if (name[0] == '.')
        return false;
    if (src->exact)
        return strcmp(name, src->prefix) == 0;
    if (strncmp(name, src->prefix, strlen(src->prefix)) != 0)
        return false;
    if (!src->suffix)
        return true;
    return ends_with(name, src->suffix) || (src->suffix2 && ends_with(name, src->suffix2));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The matching names in dir (at most FIND_MAX_FILES, sorted). */
static size_t list_dir(const char *root, const struct source *src, char names[][256])
{
    char path[4600];
    sysfile_path(root, src->dir, path, sizeof path);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *ent;
    while (n < FIND_MAX_FILES && (ent = readdir(d)))
        if (name_matches(src, ent->d_name))
            snprintf(names[n++], 256, "%s", ent->d_name);
    closedir(d);
    qsort(names, n, 256, cmp_names);
    return n;
}

static bool uuid_at(const char *s)
{
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : hexval(s[i]) < 0)
            return false;
    }
    return true;
}

/* dhclient.eth0.leases, dhclient-eth0.leases, dhclient-<uuid>-eth0.lease,
 * internal-<uuid>-eth0.lease, dhclient.leases.hvn0 -> the interface name. */
static void iface_from_name(const struct source *src, const char *name, char *out, size_t size)
{
    const char *s = name + strlen(src->prefix);
    size_t n = strlen(s);
    if (src->suffix && ends_with(s, src->suffix))
        n -= strlen(src->suffix);
    else if (src->suffix2 && ends_with(s, src->suffix2))
        n -= strlen(src->suffix2);
    if (n && (s[0] == '.' || s[0] == '-')) {
        s++;
        n--;
    }
    if (n > 37 && uuid_at(s) && s[36] == '-') {
        s += 37;
        n -= 37;
    }
    if (n >= size)
        n = size - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = s[i] > 0x20 && s[i] < 0x7F ? s[i] : '?';
    out[n] = '\0';
}

/* networkd names lease files by ifindex; /sys/class/net/<if>/ifindex (under root) names it. */
static void iface_from_index(const char *root, const char *index, char *out, size_t size)
{
    char path[4600];
    snprintf(out, size, "ifindex %.20s", index);
    sysfile_path(root, "/sys/class/net", path, sizeof path);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *ent;
    for (int seen = 0; seen < 256 && (ent = readdir(d)); seen++) {
        if (ent->d_name[0] == '.')
            continue;
        char file[4900];
        snprintf(file, sizeof file, "%s/%s/ifindex", path, ent->d_name);
        size_t len = 0;
        char *text = sysfile_read_abs(file, 32, &len);
        if (!text)
            continue;
        char *end;
        long v = strtol(text, &end, 10), want = strtol(index, NULL, 10);
        bool match = end != text && v == want && v > 0;
        free(text);
        if (match) {
            snprintf(out, size, "%.63s", ent->d_name);
            break;
        }
    }
    closedir(d);
}

static long long file_mtime(const char *root, const char *vmpath)
{
    char path[4600];
    struct stat st;
    sysfile_path(root, vmpath, path, sizeof path);
    return stat(path, &st) == 0 ? (long long)st.st_mtime : 0;
}

static size_t parse_family(struct finder *f, enum family fam, const char *text, size_t len)
{
    switch (fam) {
    case FAM_DHCLIENT:
        return lease_parse_dhclient_conf(f->conf, f->conf_len, text, len, f->now, f->tmp);
    case FAM_NETWORKD:
        return lease_parse_networkd(text, len, f->now, f->tmp);
    case FAM_NM:
        return lease_parse_nm_internal(text, len, f->now, f->tmp);
    default:
        return lease_parse_endpoint(text, len, f->now, f->tmp);
    }
}

/* The expiry that ranks a dhclient file: its last unexpired lease's (never = newest). */
static long long winner_expire(const struct lease_list *l)
{
    for (size_t i = l->count; i-- > 0;) {
        const struct lease245 *e = &l->item[i];
        if (e->found && !e->expired)
            return e->expire_epoch == -1 ? LLONG_MAX : e->expire_epoch;
    }
    return 0;
}

static void collect(struct finder *f, const struct source *src, const char *name, const char *text, size_t len,
                    const char *vmpath)
{
    memset(f->tmp, 0, sizeof *f->tmp);
    parse_family(f, src->family, text, len);
    long long mtime = file_mtime(f->root, vmpath);
    long long wexp = src->family == FAM_DHCLIENT ? winner_expire(f->tmp) : 0;
    f->dropped += f->tmp->dropped;
    for (size_t i = 0; i < f->tmp->count; i++) {
        if (f->ncand >= FIND_MAX_ENTRIES) {
            f->dropped++;
            continue;
        }
        struct cand *c = &f->cand[f->ncand++];
        c->e = f->tmp->item[i];
        c->family = src->family;
        c->file_seq = f->file_seq;
        c->winner_expire = wexp;
        c->e.mtime = mtime;
        snprintf(c->e.file, sizeof c->e.file, "%s", vmpath);
        if (!c->e.iface[0] && src->family == FAM_NETWORKD)
            iface_from_index(f->root, name, c->e.iface, sizeof c->e.iface);
        else if (!c->e.iface[0] && src->family != FAM_WAAGENT)
            iface_from_name(src, name, c->e.iface, sizeof c->e.iface);
        if (len >= LEASE_FILE_MAX && !c->e.note[0])
            snprintf(c->e.note, sizeof c->e.note, "only the first %u bytes of the file were read", LEASE_FILE_MAX);
    }
    f->file_seq++;
}

static void scan_source(struct finder *f, const struct source *src)
{
    char names[FIND_MAX_FILES][256];
    size_t n = list_dir(f->root, src, names);
    for (size_t i = 0; i < n; i++) {
        char vmpath[512];
        snprintf(vmpath, sizeof vmpath, "%.200s/%.255s", src->dir, names[i]);
        size_t len = 0;
        char *text = sysfile_read(f->root, vmpath, LEASE_FILE_MAX, &len);
        if (!text)
            continue; /* a directory, a socket, unreadable */
        collect(f, src, names[i], text, len, vmpath);
        free(text);
    }
}

static void read_conf(struct finder *f)
{
    static const char *const confs[] = {"/etc/dhcp/dhclient.conf", "/etc/dhclient.conf", "/etc/dhcp3/dhclient.conf"};
    for (size_t i = 0; i < sizeof confs / sizeof confs[0] && !f->conf; i++)
        f->conf = sysfile_read(f->root, confs[i], 256u << 10, &f->conf_len);
}

/* Ordering (lexicographic): an address before none; unexpired before expired; the family whose
 * newest such file is newest (a VM that moved from dhclient to networkd keeps stale dhclient
 * files); within dhclient files, the file whose winning lease expires last; newer file; scan
 * order; within a file the later line first (the agent: the last unexpired lease wins). */
static int cmp_cand(const struct cand *a, const struct cand *b, const long long *fam_newest)
{
    if (a->e.found != b->e.found)
        return a->e.found ? -1 : 1;
    if (a->e.expired != b->e.expired)
        return a->e.expired ? 1 : -1;
    if (fam_newest[a->family] != fam_newest[b->family])
        return fam_newest[a->family] > fam_newest[b->family] ? -1 : 1;
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    if (a->winner_expire != b->winner_expire)
        return a->winner_expire > b->winner_expire ? -1 : 1;
    if (a->e.mtime != b->e.mtime)
        return a->e.mtime > b->e.mtime ? -1 : 1;
    if (a->file_seq != b->file_seq)
        return a->file_seq < b->file_seq ? -1 : 1;
    if (a->e.line != b->e.line)
        return a->e.line > b->e.line ? -1 : 1;
    return 0;
}

static void order(struct finder *f)
{
    long long fam_newest[FAM_COUNT] = {0};
    for (size_t i = 0; i < f->ncand; i++)
        if (f->cand[i].e.found && f->cand[i].e.mtime > fam_newest[f->cand[i].family])
            fam_newest[f->cand[i].family] = f->cand[i].e.mtime;
    for (size_t i = 1; i < f->ncand; i++) { /* insertion sort: stable, few entries */
        struct cand key = f->cand[i];
        size_t j = i;
        while (j > 0 && cmp_cand(&key, &f->cand[j - 1], fam_newest) < 0) {
            f->cand[j] = f->cand[j - 1];
            j--;
        }
        f->cand[j] = key;
    }
}

size_t lease_find(const char *root, long long now_epoch, struct lease_list *out)
{
    memset(out, 0, sizeof *out);
    struct finder f = {.root = root ? root : "", .now = now_epoch};
    f.cand = calloc(FIND_MAX_ENTRIES, sizeof *f.cand);
    f.tmp = calloc(1, sizeof *f.tmp);
    if (!f.cand || !f.tmp) {
        free(f.cand);
        free(f.tmp);
        return 0;
    }
    read_conf(&f);
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
        scan_source(&f, &sources[i]);
    order(&f);
    for (size_t i = 0; i < f.ncand; i++) {
        if (out->count < LEASE_LIST_MAX)
            out->item[out->count++] = f.cand[i].e;
        else
            out->dropped++;
    }
    out->dropped += f.dropped;
    free(f.conf);
    free(f.tmp);
    free(f.cand);
    return out->count;
}
