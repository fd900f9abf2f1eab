/* guest.dhcp_enabled: does the guest configure a static IPv4 address instead of DHCP? The agent
 * finds the WireServer through DHCP (option 245), so a guest that never asks DHCP can leave it
 * without one. Five configuration formats are read with small readers of their own (no YAML or
 * INI library): netplan, ifupdown, ifcfg, NetworkManager keyfiles and systemd-networkd. */
#include "probe/guest_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_STATIC 8
#define NP_DEPTH 8

static void copy_text(char *dst, size_t size, const char *src)
{
    guest_printable(src, src + strlen(src), dst, size);
}

static void add_static(struct guest_static *out, size_t *n, size_t max, const char *name, int line,
                       const char *iface, const char *detail)
{
    if (*n >= max)
        return;
    struct guest_static *s = &out[(*n)++];
    copy_text(s->file, sizeof s->file, name);
    s->line = line;
    guest_printable(iface, iface + strlen(iface), s->iface, sizeof s->iface);
    guest_printable(detail, detail + strlen(detail), s->detail, sizeof s->detail);
}

static bool yes_word(const char *p, const char *e)
{
    static const char *const yes[] = {"true", "yes", "on", "y", "1"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (guest_ieq(p, e, yes[i]))
            return true;
    return false;
}

static void unquote(const char **p, const char **e)
{
    if (*e - *p >= 2 && (**p == '"' || **p == '\'') && (*e)[-1] == **p)
        (*p)++, (*e)--;
}

/* ---- netplan: an indentation-aware reader of the one shape that matters ------------------------
 * network: / <ethernets|bonds|bridges|vlans|wifis|...>: / <id>: / dhcp4, addresses, set-name. */

struct np_frame {
    int indent;
    char key[64];
};

struct np_iface {
    char name[64];
    int line, addr_line, dhcp_line;
    int dhcp4; /* -1 absent, 0 false, 1 true */
    bool v4;
    char addr[48];
};

struct np_state {
    struct np_frame st[NP_DEPTH];
    int depth;
    struct np_iface cur;
    bool in_iface;
};

/* The line without its comment: '#' at the start or after a blank, outside quotes. */
static const char *np_uncomment(const char *p, const char *e)
{
    char q = 0;
    for (const char *s = p; s < e; s++) {
        if (q) {
            q = *s == q ? 0 : q;
            continue;
        }
        if (*s == '"' || *s == '\'')
            q = *s;
        else if (*s == '#' && (s == p || s[-1] == ' ' || s[-1] == '\t'))
            return s;
    }
    return e;
}

static void np_flush(struct np_state *s, const char *name, struct guest_static *out, size_t *n, size_t max,
                     size_t *found)
{
    struct np_iface *i = &s->cur;
    if (s->in_iface && i->v4 && i->dhcp4 != 1) {
        char detail[160];
        snprintf(detail, sizeof detail, "netplan addresses: %s with %s", i->addr,
                 i->dhcp4 == 0 ? "dhcp4: false" : "no dhcp4 (netplan's default is off)");
        add_static(out, n, max, name, i->addr_line, i->name, detail);
        (*found)++;
    }
    s->in_iface = false;
}

static void np_address(struct np_iface *i, const char *p, const char *e, int line)
{
    if (i->v4 || !guest_has_ipv4(p, e))
        return;
    i->v4 = true;
    i->addr_line = line;
    guest_printable(p, e, i->addr, sizeof i->addr);
}

static bool np_device_section(const char *k)
{
    static const char *const sections[] = {"ethernets", "bonds", "bridges", "vlans", "wifis", "modems",
                                           "tunnels", "vrfs", "dummy-devices", "virtual-ethernets"};
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        if (strcmp(k, sections[i]) == 0)
            return true;
    return false;
}

/* A "key: value" line at depth d (0 = network). */
static void np_key(struct np_state *s, const char *key, const char *v, const char *ve, int line)
{
    int d = s->depth - 1;
    bool under_dev = d >= 2 && strcmp(s->st[0].key, "network") == 0 && np_device_section(s->st[1].key);
    if (d == 2 && under_dev) {
        memset(&s->cur, 0, sizeof s->cur);
        s->cur.dhcp4 = -1;
        s->cur.line = line;
        snprintf(s->cur.name, sizeof s->cur.name, "%s", key);
        s->in_iface = true;
        return;
    }
    if (d != 3 || !under_dev || !s->in_iface)
        return;
    if (strcmp(key, "dhcp4") == 0) {
        unquote(&v, &ve);
        s->cur.dhcp4 = yes_word(v, ve) ? 1 : 0;
        s->cur.dhcp_line = line;
    } else if (strcmp(key, "addresses") == 0) {
        np_address(&s->cur, v, ve, line); /* flow style: [10.0.0.4/24, ...] */
    } else if (strcmp(key, "set-name") == 0 && v < ve) {
        unquote(&v, &ve);
        guest_printable(v, ve, s->cur.name, sizeof s->cur.name); /* the kernel's name for it */
    }
}

static void np_pop(struct np_state *s, int indent, bool keep_equal)
{
    while (s->depth > 0 && (s->st[s->depth - 1].indent > indent ||
                            (!keep_equal && s->st[s->depth - 1].indent == indent)))
        s->depth--;
}

static void np_line(struct np_state *s, const char *p, const char *e, int line, const char *name,
                    struct guest_static *out, size_t *n, size_t max, size_t *found)
{
    int indent = 0;
    while (p < e && *p == ' ')
        p++, indent++;
    e = np_uncomment(p, e);
    guest_trim(&p, &e);
    if (p == e || *p == '%' || guest_eq(p, e, "---"))
        return;
    if (*p == '-' && (e - p == 1 || p[1] == ' ')) { /* a list item: may sit at its key's indent */
        np_pop(s, indent, true);
        if (s->depth == 4 && s->in_iface && strcmp(s->st[3].key, "addresses") == 0)
            np_address(&s->cur, p + 1, e, line);
        return;
    }
    const char *colon = p;
    while (colon < e && !(*colon == ':' && (colon + 1 == e || colon[1] == ' ')))
        colon++;
    if (colon == e)
        return; /* a continuation or a flow collection: not a shape netplan files use for these keys */
    np_pop(s, indent, false);
    if (s->depth <= 2 && s->in_iface) /* leaving an interface */
        np_flush(s, name, out, n, max, found);
    if (s->depth >= NP_DEPTH)
        return;
    const char *k = p, *ke = colon, *v = colon + 1, *ve = e;
    guest_trim(&k, &ke);
    unquote(&k, &ke);
    guest_trim(&v, &ve);
    struct np_frame *f = &s->st[s->depth++];
    f->indent = indent;
    guest_printable(k, ke, f->key, sizeof f->key);
    np_key(s, f->key, v, ve, line);
}

static size_t parse_netplan(const char *text, size_t len, const char *name, struct guest_static *out, size_t *n,
                            size_t max)
{
    struct np_state s;
    struct guest_lines l;
    const char *p, *e;
    size_t found = 0;
    memset(&s, 0, sizeof s);
    guest_lines_init(&l, text, len);
    while (guest_lines_next(&l, &p, &e))
        np_line(&s, p, e, l.no, name, out, n, max, &found);
    np_flush(&s, name, out, n, max, &found);
    return found;
}

/* ---- ifupdown: "iface NAME inet static" stanzas ---------------------------------------------- */

static const char *word(const char *p, const char *e, const char **we)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    const char *w = p;
    while (p < e && *p != ' ' && *p != '\t')
        p++;
    *we = p;
    return w;
}

static bool stanza_start(const char *w, const char *we)
{
    return guest_eq(w, we, "iface") || guest_eq(w, we, "auto") || guest_eq(w, we, "mapping") ||
           guest_eq(w, we, "source") || guest_eq(w, we, "source-directory") ||
           (we - w > 6 && memcmp(w, "allow-", 6) == 0);
}

static size_t parse_ifupdown(const char *text, size_t len, const char *name, struct guest_static *out, size_t *n,
                             size_t max)
{
    struct guest_lines l;
    const char *p, *e;
    size_t found = 0;
    struct guest_static *open = NULL; /* the static stanza being read, for its address line */
    guest_lines_init(&l, text, len);
    while (guest_lines_next(&l, &p, &e)) {
        const char *w[4], *we[4];
        w[0] = word(p, e, &we[0]);
        for (int i = 1; i < 4; i++)
            w[i] = word(we[i - 1], e, &we[i]);
        if (w[0] == we[0] || *w[0] == '#')
            continue;
        if (stanza_start(w[0], we[0]))
            open = NULL;
        if (guest_eq(w[0], we[0], "iface") && guest_eq(w[2], we[2], "inet") && guest_eq(w[3], we[3], "static")) {
            char iface[64];
            guest_printable(w[1], we[1], iface, sizeof iface);
            size_t before = *n;
            add_static(out, n, max, name, l.no, iface, "ifupdown inet static");
            open = *n > before ? &out[*n - 1] : NULL;
            found++;
        } else if (open && guest_eq(w[0], we[0], "address") && w[1] < we[1]) {
            char addr[64];
            guest_printable(w[1], we[1], addr, sizeof addr);
            snprintf(open->detail, sizeof open->detail, "ifupdown inet static, address %s", addr);
        }
    }
    return found;
}

/* ---- ifcfg (RHEL, SUSE): BOOTPROTO=static|none with IPADDR ----------------------------------- */

struct ifcfg {
    char bootproto[32], device[64], addr[48], onboot[16];
    int boot_line, addr_line;
};

static void ifcfg_assign(struct ifcfg *f, const char *key, const char *val, int line)
{
    if (strcmp(key, "BOOTPROTO") == 0) {
        copy_text(f->bootproto, sizeof f->bootproto, val);
        f->boot_line = line;
    } else if (strcmp(key, "DEVICE") == 0) {
        copy_text(f->device, sizeof f->device, val);
    } else if (strcmp(key, "ONBOOT") == 0) {
        copy_text(f->onboot, sizeof f->onboot, val);
    } else if (strncmp(key, "IPADDR", 6) == 0 && !f->addr[0] && guest_has_ipv4(val, val + strlen(val))) {
        copy_text(f->addr, sizeof f->addr, val);
        f->addr_line = line;
    }
}

static size_t parse_ifcfg(const char *text, size_t len, const char *name, struct guest_static *out, size_t *n,
                          size_t max)
{
    struct ifcfg f;
    struct guest_lines l;
    char key[64], val[128];
    int line;
    memset(&f, 0, sizeof f);
    guest_lines_init(&l, text, len);
    while (guest_kv_next(&l, key, sizeof key, val, sizeof val, &line))
        ifcfg_assign(&f, key, val, line);
    /* initscripts: no BOOTPROTO means none; ONBOOT=no is never brought up at boot */
    bool manual = !f.bootproto[0] || strcasecmp(f.bootproto, "static") == 0 || strcasecmp(f.bootproto, "none") == 0;
    if (!manual || !f.addr[0] || strcasecmp(f.onboot, "no") == 0)
        return 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *iface = f.device[0] ? f.device : strncmp(base, "ifcfg-", 6) == 0 ? base + 6 : base;
    char detail[160];
    snprintf(detail, sizeof detail, "ifcfg BOOTPROTO=%s, IPADDR %s", f.bootproto[0] ? f.bootproto : "(unset: none)",
             f.addr);
    add_static(out, n, max, name, f.addr_line, iface, detail);
    return 1;
}

/* ---- INI files: NetworkManager keyfiles and systemd-networkd ------------------------------------ */

/* The next "key=value" with its [section]; comments (# ;) and blank lines skipped. */
static bool ini_next(struct guest_lines *l, char *section, size_t ssize, char *key, size_t ksize, char *val,
                     size_t vsize, int *line)
{
    const char *p, *e;
    while (guest_lines_next(l, &p, &e)) {
        guest_trim(&p, &e);
        if (p == e || *p == '#' || *p == ';')
            continue;
        if (*p == '[') {
            const char *close = memchr(p, ']', (size_t)(e - p));
            guest_printable(p + 1, close ? close : e, section, ssize);
            continue;
        }
        const char *eq = memchr(p, '=', (size_t)(e - p));
        if (!eq)
            continue;
        const char *k = p, *ke = eq, *v = eq + 1, *ve = e;
        guest_trim(&k, &ke);
        guest_trim(&v, &ve);
        guest_printable(k, ke, key, ksize);
        guest_printable(v, ve, val, vsize);
        *line = l->no;
        return true;
    }
    return false;
}

static size_t parse_nm(const char *text, size_t len, const char *name, struct guest_static *out, size_t *n,
                       size_t max)
{
    struct guest_lines l;
    char sec[64] = "", key[64], val[160], iface[64] = "", id[64] = "", addr[48] = "";
    int line, manual_line = 0;
    guest_lines_init(&l, text, len);
    while (ini_next(&l, sec, sizeof sec, key, sizeof key, val, sizeof val, &line)) {
        if (strcmp(sec, "connection") == 0 && strcmp(key, "interface-name") == 0)
            copy_text(iface, sizeof iface, val);
        else if (strcmp(sec, "connection") == 0 && strcmp(key, "id") == 0)
            copy_text(id, sizeof id, val);
        else if (strcmp(sec, "ipv4") == 0 && strcmp(key, "method") == 0)
            manual_line = strcmp(val, "manual") == 0 ? line : 0;
        else if (strcmp(sec, "ipv4") == 0 && !addr[0] && (strncmp(key, "address", 7) == 0) &&
                 guest_has_ipv4(val, val + strlen(val)))
            copy_text(addr, sizeof addr, val);
    }
    if (!manual_line)
        return 0;
    char detail[160];
    snprintf(detail, sizeof detail, "NetworkManager [ipv4] method=manual%s%s", addr[0] ? ", " : "", addr);
    add_static(out, n, max, name, manual_line, iface[0] ? iface : id[0] ? id : "?", detail);
    return 1;
}

static bool dhcp_v4(const char *v)
{
    return strcasecmp(v, "ipv4") == 0 || strcasecmp(v, "both") == 0 || yes_word(v, v + strlen(v));
}

static size_t parse_networkd(const char *text, size_t len, const char *name, struct guest_static *out, size_t *n,
                             size_t max)
{
    struct guest_lines l;
    char sec[64] = "", key[64], val[160], iface[64] = "", addr[48] = "", dhcp[32] = "";
    int line, addr_line = 0;
    guest_lines_init(&l, text, len);
    while (ini_next(&l, sec, sizeof sec, key, sizeof key, val, sizeof val, &line)) {
        if (strcmp(sec, "Match") == 0 && strcmp(key, "Name") == 0)
            copy_text(iface, sizeof iface, val);
        else if (strcmp(sec, "Network") == 0 && strcmp(key, "DHCP") == 0)
            copy_text(dhcp, sizeof dhcp, val);
        else if ((strcmp(sec, "Network") == 0 || strcmp(sec, "Address") == 0) && strcmp(key, "Address") == 0 &&
                 !addr_line && guest_has_ipv4(val, val + strlen(val))) {
            copy_text(addr, sizeof addr, val);
            addr_line = line;
        }
    }
    if (!addr_line || dhcp_v4(dhcp))
        return 0;
    char detail[160];
    snprintf(detail, sizeof detail, "systemd-networkd Address=%s with DHCP=%s", addr, dhcp[0] ? dhcp : "(unset: no)");
    add_static(out, n, max, name, addr_line, iface[0] ? iface : "?", detail);
    return 1;
}

size_t guest_static_parse(enum guest_net_format f, const char *text, size_t len, const char *name,
                          struct guest_static *out, size_t *n, size_t max)
{
    switch (f) {
    case GUEST_NETPLAN: return parse_netplan(text, len, name, out, n, max);
    case GUEST_IFUPDOWN: return parse_ifupdown(text, len, name, out, n, max);
    case GUEST_IFCFG: return parse_ifcfg(text, len, name, out, n, max);
    case GUEST_NM_KEYFILE: return parse_nm(text, len, name, out, n, max);
    case GUEST_NETWORKD: return parse_networkd(text, len, name, out, n, max);
    }
    return 0;
}

/* ---- the check --------------------------------------------------------------------------------- */

struct source {
    enum guest_net_format format;
    const char *dir;    /* a directory to list, or a single file when prefix and suffix are NULL */
    const char *prefix, *suffix;
};

/* netplan: /run shadows /etc shadows /lib for the same name, so /run is read first. */
static const struct source sources[] = {
    {GUEST_NETPLAN, "/run/netplan", "", ".yaml"},
    {GUEST_NETPLAN, "/etc/netplan", "", ".yaml"},
    {GUEST_NETPLAN, "/lib/netplan", "", ".yaml"},
    {GUEST_IFUPDOWN, "/etc/network/interfaces", NULL, NULL},
    {GUEST_IFUPDOWN, "/etc/network/interfaces.d", "", ""},
    {GUEST_IFCFG, "/etc/sysconfig/network-scripts", "ifcfg-", ""},
    {GUEST_IFCFG, "/etc/sysconfig/network", "ifcfg-", ""},
    {GUEST_NM_KEYFILE, "/etc/NetworkManager/system-connections", "", ".nmconnection"},
    {GUEST_NM_KEYFILE, "/run/NetworkManager/system-connections", "", ".nmconnection"},
    {GUEST_NETWORKD, "/etc/systemd/network", "", ".network"},
};

struct scan {
    struct guest_static found[MAX_STATIC];
    size_t n, total;
    int files, unreadable;
    char netplan_seen[GUEST_MAX_FILES][256];
    size_t nnetplan;
};

/* Editor and package-manager leftovers that the network tools skip. */
static bool leftover(const char *name)
{
    static const char *const ends[] = {"~", ".bak", ".orig", ".rpmnew", ".rpmorig", ".rpmsave", ".dpkg-old",
                                       ".dpkg-dist", ".swp"};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t n = strlen(ends[i]);
        if (len >= n && strcmp(name + len - n, ends[i]) == 0)
            return true;
    }
    return strcmp(name, "ifcfg-lo") == 0;
}

static bool netplan_shadowed(struct scan *s, const char *name)
{
    for (size_t i = 0; i < s->nnetplan; i++)
        if (strcmp(s->netplan_seen[i], name) == 0)
            return true;
    if (s->nnetplan < GUEST_MAX_FILES)
        snprintf(s->netplan_seen[s->nnetplan++], 256, "%s", name);
    return false;
}

static void scan_file(const struct guest_ctx *g, struct check *c, enum guest_net_format f, const char *path,
                      struct scan *s)
{
    size_t len;
    int err;
    char *text = guest_read(g, path, GUEST_TEXT_MAX, &len, &err);
    if (!text) {
        if (err != ENOENT && err != ENOTDIR) {
            s->unreadable++;
            guest_ev_add(c, "unreadable", "%s (%s)", path, strerror(err));
        }
        return;
    }
    s->files++;
    guest_ev_add(c, "examined", "%s", path);
    s->total += guest_static_parse(f, text, len, path, s->found, &s->n, MAX_STATIC);
    free(text);
}

static void scan_source(const struct guest_ctx *g, struct check *c, const struct source *src, struct scan *s)
{
    if (!src->prefix) {
        scan_file(g, c, src->format, src->dir, s);
        return;
    }
    char names[GUEST_MAX_FILES][256];
    int err, n = guest_list_dir(g->root, src->dir, src->prefix, src->suffix, names, GUEST_MAX_FILES, &err);
    if (n < 0 && err != ENOENT && err != ENOTDIR) {
        s->unreadable++;
        guest_ev_add(c, "unreadable", "%s (%s)", src->dir, strerror(err));
    }
    for (int i = 0; i < n; i++) {
        if (leftover(names[i]) || (src->format == GUEST_NETPLAN && netplan_shadowed(s, names[i])))
            continue;
        char path[600];
        snprintf(path, sizeof path, "%s/%s", src->dir, names[i]);
        scan_file(g, c, src->format, path, s);
    }
}

/* The interface of the lowest-metric default route in /proc/net/route, or "". */
static void primary_interface(const struct guest_ctx *g, char *out, size_t size)
{
    size_t len;
    int err;
    char *text = guest_read(g, "/proc/net/route", GUEST_SMALL_MAX, &len, &err);
    struct guest_lines l;
    const char *p, *e;
    long best = -1;
    out[0] = '\0';
    guest_lines_init(&l, text, text ? len : 0);
    while (text && guest_lines_next(&l, &p, &e)) {
        const char *w[8], *we[8];
        w[0] = word(p, e, &we[0]);
        for (int i = 1; i < 8; i++)
            w[i] = word(we[i - 1], e, &we[i]);
        /* Iface Destination Gateway Flags RefCnt Use Metric Mask */
        if (!guest_eq(w[1], we[1], "00000000") || !guest_eq(w[7], we[7], "00000000") || w[6] == we[6])
            continue;
        long metric = strtol(w[6], NULL, 10);
        if (best < 0 || metric < best) {
            best = metric;
            guest_printable(w[0], we[0], out, size);
        }
    }
    free(text);
}

static void static_found(const struct guest_ctx *g, struct check *c, const struct scan *s)
{
    char primary[64];
    primary_interface(g, primary, sizeof primary);
    bool on_primary = !primary[0];
    if (s->n) { /* the first finding also as separate fields, for tools reading the JSON */
        check_ev(c, "file", "%s", s->found[0].file);
        check_ev(c, "line", "%d", s->found[0].line);
        check_ev(c, "interface", "%s", s->found[0].iface);
    }
    for (size_t i = 0; i < s->n; i++) {
        char key[32];
        snprintf(key, sizeof key, "static_%zu", i + 1);
        check_ev(c, key, "%s line %d: %s: %s", s->found[i].file, s->found[i].line, s->found[i].iface,
                 s->found[i].detail);
        on_primary |= strcmp(s->found[i].iface, primary) == 0;
    }
    if (s->total > s->n)
        check_ev(c, "more", "%zu more not listed", s->total - s->n);
    if (primary[0])
        check_ev(c, "primary_interface", "%s (lowest-metric default route in /proc/net/route)", primary);
    check_ev(c, "fix", "set the static IP on the NIC in Azure (Static assignment) and keep DHCP enabled in the "
             "guest; codes otherwise: ExtensionSnapshotFailedNoNetwork, GuestAgentSnapshotTaskStatusError");
    const struct guest_static *f = &s->found[0];
    guest_set(c, OUT_STATIC_IP, on_primary);
    check_summary(c, "static IPv4 configured in the guest for %s (%s line %d)%s", f->iface, f->file, f->line,
                  on_primary ? ": the agent cannot get the WireServer address from DHCP"
                             : ", not the primary interface: secondary IPs may be static");
    if (on_primary)
        check_why(c, "\"If the VM can't get the host or fabric address from DHCP response 245, it can't "
                     "download or run any extensions\" (ExtensionSnapshotFailedNoNetwork); see fix");
    else
        check_why(c, "the primary interface %s uses DHCP, so the agent finds the WireServer; a static "
                     "address elsewhere only matters if it disagrees with Azure's NIC settings", primary);
}

void guest_static_check(struct guest_ctx *g, struct check_list *out)
{
    struct check *c = guest_new(out, "guest.dhcp_enabled", NULL);
    if (!c)
        return;
    check_why(c, "the agent finds the WireServer through DHCP (option 245); a static guest IP "
                 "breaks extensions (ExtensionSnapshotFailedNoNetwork)");
    struct scan *s = calloc(1, sizeof *s);
    if (!s) {
        guest_set(c, OUT_ERROR, false);
        check_summary(c, "out of memory");
        return;
    }
    for (size_t i = 0; i < sizeof sources / sizeof sources[0]; i++)
        scan_source(g, c, &sources[i], s);
    if (s->total > 0)
        static_found(g, c, s);
    else if (s->unreadable > 0) {
        guest_set(c, OUT_SKIPPED, false);
        check_summary(c, "%d network configuration file%s could not be read (see unreadable): rerun with sudo",
                      s->unreadable, s->unreadable == 1 ? "" : "s");
    } else {
        guest_set(c, OUT_OK, true);
        if (s->files == 0)
            check_ev(c, "examined", "none of netplan, ifupdown, ifcfg, NetworkManager or networkd files exist");
        check_summary(c, "no static IPv4 address in the guest's network configuration (%d file%s): DHCP is used",
                      s->files, s->files == 1 ? "" : "s");
    }
    free(s);
}
