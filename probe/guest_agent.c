/* agent.process, agent.config and agent.firewall: is the Linux guest agent running, does its
 * waagent.conf let it run extensions, and will its firewall rule hide the WireServer from a probe
 * that is not root. */
#include "probe/guest_internal.h"
#include "probe/proxy.h"
#include "probe/sysfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMDLINE_MAX 4096u /* enough to recognise the agent and its version */
#define WIRESERVER "168.63.129.16"

/* ---- the agent's processes ------------------------------------------------------------------- */

static bool arg_sep(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n';
}

/* "-daemon", "--run-exthandlers": one or more '-' then the name, the whole word. */
static bool is_option(const char *p, const char *q, const char *name)
{
    const char *w = p;
    while (w < q && *w == '-')
        w++;
    return w > p && guest_eq(w, q, name);
}

enum guest_agent_kind guest_agent_kind(const char *cmdline, size_t len)
{
    bool agent = false;
    enum guest_agent_kind kind = GUEST_AGENT_NONE;
    /* Words split at NULs and blanks: a process may rewrite its argv into one string. */
    for (const char *p = cmdline, *end = cmdline + len; p < end;) {
        const char *q = p;
        while (q < end && !arg_sep(*q))
            q++;
        size_t n = (size_t)(q - p);
        if (memmem(p, n, "waagent", 7) || memmem(p, n, "WALinuxAgent", 12))
            agent = true;
        if (is_option(p, q, "run-exthandlers"))
            kind = GUEST_AGENT_EXTHANDLERS;
        else if (is_option(p, q, "daemon") && kind == GUEST_AGENT_NONE)
            kind = GUEST_AGENT_DAEMON;
        p = q + 1;
    }
    return agent ? kind : GUEST_AGENT_NONE;
}

bool guest_agent_version(const char *cmdline, size_t len, char *out, size_t size)
{
    static const char tag[] = "WALinuxAgent-";
    const char *end = cmdline + len;
    for (const char *p = cmdline; p < end;) {
        const char *hit = memmem(p, (size_t)(end - p), tag, sizeof tag - 1);
        if (!hit)
            break;
        const char *v = hit + sizeof tag - 1, *ve = v;
        int dots = 0;
        while (ve < end && ((*ve >= '0' && *ve <= '9') || *ve == '.'))
            dots += *ve++ == '.';
        while (ve > v && ve[-1] == '.') /* "WALinuxAgent-2.9.1.1." is not part of the version */
            ve--, dots--;
        if (ve > v && *v != '.' && dots >= 2 && (size_t)(ve - v) < size && !memmem(v, (size_t)(ve - v), "..", 2)) {
            memcpy(out, v, (size_t)(ve - v));
            out[ve - v] = '\0';
            return true;
        }
        p = hit + 1;
    }
    return false;
}

static bool all_digits(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static void printable_cmdline(const char *buf, size_t len, char *out, size_t size)
{
    char tmp[CMDLINE_MAX + 1];
    size_t n = len < CMDLINE_MAX ? len : CMDLINE_MAX;
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    for (size_t i = 0; i < n; i++)
        tmp[i] = buf[i] == '\0' ? ' ' : ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) ? '?' : buf[i];
    tmp[n] = '\0';
    proxy_redact(tmp, out, size); /* a proxy URL with a password may sit on a command line */
}

static int pid_cmp(const void *a, const void *b)
{
    const struct guest_agent_proc *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static void consider(const char *root, int pid, struct guest_agent_procs *out)
{
    char rel[64];
    size_t len;
    snprintf(rel, sizeof rel, "/proc/%d/cmdline", pid);
    char *buf = sysfile_read(root, rel, CMDLINE_MAX, &len);
    enum guest_agent_kind kind = buf ? guest_agent_kind(buf, len) : GUEST_AGENT_NONE;
    if (kind != GUEST_AGENT_NONE && out->count < GUEST_MAX_AGENT_PROCS) {
        struct guest_agent_proc *a = &out->p[out->count++];
        a->pid = pid;
        a->kind = kind;
        if (!guest_agent_version(buf, len, a->version, sizeof a->version))
            a->version[0] = '\0';
        printable_cmdline(buf, len, a->cmdline, sizeof a->cmdline);
    }
    free(buf);
}

void guest_agent_scan(const char *root, struct guest_agent_procs *out)
{
    memset(out, 0, sizeof *out);
    char full[4096 + 16];
    sysfile_path(root, "/proc", full, sizeof full);
    DIR *dir = opendir(full);
    for (struct dirent *de; dir && (de = readdir(dir)) != NULL;) {
        if (!all_digits(de->d_name))
            continue;
        out->proc_entries++;
        consider(root, (int)strtol(de->d_name, NULL, 10), out);
    }
    if (dir)
        closedir(dir);
    qsort(out->p, out->count, sizeof out->p[0], pid_cmp); /* readdir order is not an order */
}

int guest_agent_pick(const struct guest_agent_procs *p)
{
    for (int want = GUEST_AGENT_EXTHANDLERS; want >= GUEST_AGENT_DAEMON; want--)
        for (size_t i = 0; i < p->count; i++)
            if ((int)p->p[i].kind == want)
                return p->p[i].pid;
    return 0;
}

/* ---- agent.process ---------------------------------------------------------------------------- */

static const char *service_cmd(const struct guest_ctx *g)
{
    if (strcmp(g->unit, "walinuxagent") == 0)
        return "sudo systemctl enable --now walinuxagent";
    if (strcmp(g->unit, "waagent") == 0)
        return "sudo systemctl enable --now waagent";
    return "sudo systemctl enable --now walinuxagent (Ubuntu/Debian) or waagent (other distributions)";
}

/* /proc mounted with hidepid hides other users' processes from a non-root reader. */
static bool proc_hidden(const struct guest_ctx *g)
{
    size_t len;
    int err;
    char *text = guest_read(g, "/proc/mounts", GUEST_TEXT_MAX, &len, &err);
    struct guest_mount m;
    bool hidden = text && guest_mount_for(text, len, "/proc", &m) && strcmp(m.dir, "/proc") == 0 &&
                  strstr(m.opts, "hidepid=") && !guest_mount_has(m.opts, "hidepid=0") &&
                  !guest_mount_has(m.opts, "hidepid=off");
    free(text);
    return hidden;
}

static void process_evidence(struct check *c, const struct guest_agent_procs *p, const char **version)
{
    *version = NULL;
    for (size_t i = 0; i < p->count; i++) {
        const struct guest_agent_proc *a = &p->p[i];
        guest_ev_add(c, "pids", "%d (%s)", a->pid, a->kind == GUEST_AGENT_DAEMON ? "daemon" : "extension handler");
        guest_ev_add(c, "cmdlines", "%d: %s", a->pid, a->cmdline);
        if (a->kind == GUEST_AGENT_EXTHANDLERS && a->version[0] && !*version)
            *version = a->version;
    }
    if (*version)
        check_ev(c, "version", "%s (extension handler)", *version);
    else if (p->count)
        check_ev(c, "version", "not in the command line (the agent runs without auto-update, or is starting)");
}

static void no_agent(struct guest_ctx *g, struct check *c)
{
    if (!g->as_root && proc_hidden(g)) {
        guest_set(c, OUT_SKIPPED, false);
        check_summary(c, "/proc is mounted with hidepid: other users' processes are hidden; rerun with sudo");
        return;
    }
    guest_set(c, OUT_NOT_RUNNING, true);
    check_summary(c, "the Azure guest agent (waagent) is not running%s",
                  g->agent_installed ? "" : " and does not appear to be installed");
    check_why(c, "without the agent no extension runs and backup fails with "
                 "UserErrorGuestAgentStatusUnavailable; fix: %s, then check /var/log/waagent.log", service_cmd(g));
}

static void check_process(struct guest_ctx *g, struct check_list *out)
{
    struct check *c = guest_new(out, "agent.process", NULL);
    if (!c)
        return;
    check_why(c, "backups run through the agent's extension handler; without it backup fails with "
                 "UserErrorGuestAgentStatusUnavailable");
    const struct guest_agent_procs *p = &g->procs;
    if (p->proc_entries == 0) {
        guest_set(c, OUT_SKIPPED, false);
        check_summary(c, "no process entries under %s/proc (a bundle without a process list): the agent's state "
                         "is unknown", g->root[0] ? g->root : "");
        return;
    }
    check_ev(c, "processes_seen", "%zu", p->proc_entries);
    if (p->count == 0) {
        no_agent(g, c);
        return;
    }
    const char *version;
    process_evidence(c, p, &version);
    bool handler = false;
    for (size_t i = 0; i < p->count; i++)
        handler |= p->p[i].kind == GUEST_AGENT_EXTHANDLERS;
    if (!handler) { /* the daemon restarts its handler; a daemon alone processes no extension */
        guest_set(c, OUT_NOT_RUNNING, true);
        check_summary(c, "the agent daemon runs but its extension handler (-run-exthandlers) does not: "
                         "no extension, including the backup snapshot, can run");
        check_why(c, "backup fails with UserErrorGuestAgentStatusUnavailable; fix: sudo systemctl "
                     "restart %s and look in /var/log/waagent.log for why the handler exits (if the agent just "
                     "started, rerun in a minute)", g->unit[0] ? g->unit : "walinuxagent (or waagent)");
        return;
    }
    guest_set(c, OUT_OK, true);
    check_summary(c, "the Azure guest agent is running%s%s", version ? ", extension handler version " : "",
                  version ? version : "");
}

/* ---- agent.config ----------------------------------------------------------------------------- */

static void key_evidence(struct check *c, const struct waagent_conf *conf, const char *key, const char *shown)
{
    const struct waagent_entry *e = waagent_conf_entry(conf, key);
    char val[160];
    if (!e) {
        check_ev(c, key, "%s (not set: the agent's default)", shown);
        return;
    }
    guest_printable(e->value, e->value + strlen(e->value), val, sizeof val);
    if (e->none)
        check_ev(c, key, "None on line %d: unset, so the default %s applies", e->line, shown);
    else if (strcmp(val, shown) != 0)
        check_ev(c, key, "%s on line %d: the agent reads it as %s", val, e->line, shown);
    else
        check_ev(c, key, "%s (line %d)", val, e->line);
    if (e->prev_line)
        guest_ev_add(c, "duplicates", "%s is also set on line %d: the agent uses the last, line %d", key, e->prev_line,
                 e->line);
}

static void config_missing(struct guest_ctx *g, struct check *c)
{
    if (!g->agent_installed) {
        guest_set(c, OUT_SKIPPED, false);
        check_summary(c, "no waagent.conf and no guest agent: nothing to configure (see agent.process)");
        return;
    }
    guest_set(c, OUT_MISCONFIGURED, false);
    for (size_t i = 0; i < waagent_conf_npaths; i++)
        guest_ev_add(c, "looked_in", "%s", waagent_conf_paths[i]);
    check_summary(c, "waagent.conf not found: a running agent keeps the settings it started with, but the agent "
                     "refuses to start again without it (\"Missing configuration\")");
    check_why(c, "restore /etc/waagent.conf from the walinuxagent/WALinuxAgent package with "
                 "Extensions.Enabled=y, or a restart leads to UserErrorGuestAgentStatusUnavailable");
}

static bool config_unusable(struct guest_ctx *g, struct check *c)
{
    const struct waagent_conf *conf = &g->conf;
    check_ev(c, "path", "%s", conf->path);
    if (conf->read_errno) {
        guest_set(c, conf->read_errno == EACCES ? OUT_SKIPPED : OUT_ERROR, false);
        check_summary(c, "cannot read %s (%s)%s", conf->path, strerror(conf->read_errno),
                      conf->read_errno == EACCES ? ": rerun with sudo" : "");
        return true;
    }
    if (conf->empty) {
        guest_set(c, OUT_MISCONFIGURED, false);
        check_summary(c, "%s is empty: the agent refuses to start with it (\"Can't not parse empty "
                         "configuration\")", conf->path);
        check_why(c, "the next agent restart fails, then backup fails with "
                     "UserErrorGuestAgentStatusUnavailable; fix: restore the file from the agent's package");
        return true;
    }
    if (conf->cut)
        check_ev(c, "note", "longer than %u bytes: only the start was read", WAAGENT_CONF_TEXT_MAX);
    if (conf->dropped)
        check_ev(c, "note", "more than %d assignments: the last %zu were not read", WAAGENT_CONF_MAX_ENTRIES,
                 conf->dropped);
    return false;
}

static void provisioning_note(struct check *c, const char *prov, bool *warn)
{
    if (strcmp(prov, "auto") == 0 || strcmp(prov, "waagent") == 0)
        return;
    *warn = true;
    if (strcmp(prov, "cloud-init") == 0 || strcmp(prov, "disabled") == 0)
        check_ev(c, "provisioning_note", "Provisioning.Agent=%s: provisioning is left to %s; extensions and "
                 "backup still work, but Azure Backup's troubleshooting asks for auto", prov,
                 prov[0] == 'c' ? "cloud-init" : "nobody");
    else
        check_ev(c, "provisioning_note", "Provisioning.Agent has a value the agent does not know (it then "
                 "provisions itself); supported: auto, waagent, cloud-init, disabled");
}

static void check_config(struct guest_ctx *g, struct check_list *out)
{
    struct check *c = guest_new(out, "agent.config", NULL);
    if (!c)
        return;
    check_why(c, "Extensions.Enabled=n fails backups with GuestAgentSnapshotTaskStatusError; "
                 "Provisioning.Agent other than auto is only a warning");
    if (!g->conf.present) {
        config_missing(g, c);
        return;
    }
    if (config_unusable(g, c))
        return;
    const struct waagent_conf *conf = &g->conf;
    bool ext = waagent_conf_bool(conf, "Extensions.Enabled", true);
    const char *prov_raw = waagent_conf_str(conf, "Provisioning.Agent", "auto");
    char prov[64];
    guest_printable(prov_raw, prov_raw + strlen(prov_raw), prov, sizeof prov);
    key_evidence(c, conf, "Extensions.Enabled", ext ? "y" : "n");
    key_evidence(c, conf, "Provisioning.Agent", prov);
    key_evidence(c, conf, "AutoUpdate.Enabled", waagent_conf_bool(conf, "AutoUpdate.Enabled", true) ? "y" : "n");
    if (!ext) {
        guest_set(c, OUT_MISCONFIGURED, true);
        check_summary(c, "Extensions.Enabled=n in %s: the agent runs no extension, so the backup snapshot "
                         "extension cannot run", conf->path);
        check_why(c, "backups fail with GuestAgentSnapshotTaskStatusError; fix: set Extensions.Enabled=y "
                     "in %s and restart the agent (systemctl restart %s)", conf->path,
                  g->unit[0] ? g->unit : "walinuxagent or waagent");
        return;
    }
    bool warn = false;
    provisioning_note(c, prov, &warn);
    guest_set(c, warn ? OUT_MISCONFIGURED : OUT_OK, !warn);
    check_summary(c, "%s: Extensions.Enabled=y, Provisioning.Agent=%s%s", conf->path, prov,
                  warn ? " (not the auto that the backup troubleshooting guide asks for; see provisioning_note)" : "");
    if (warn)
        check_why(c, "extensions and backup work with Provisioning.Agent=%s; Azure Backup's "
                     "troubleshooting guide lists auto among the VM-Agent settings it expects", prov);
}

/* ---- agent.firewall --------------------------------------------------------------------------- */

static const char *const rule_files[] = {"/etc/iptables/rules.v4", "/etc/sysconfig/iptables",
                                         "/etc/nftables.conf", "/etc/sysconfig/nftables.conf",
                                         "/etc/firewalld/direct.xml"};
static const char *const unit_dirs[] = {"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
                                        "/lib/systemd/system"};

/* One table of a saved rule set (iptables-save starts each with "*name"; other formats are one). The
 * agent's DROP is preceded by an ACCEPT for uid 0 (iptables, firewalld) or carries "skuid != 0"
 * (nftables); a DROP or REJECT of 168.63.129.16 in a table without such an exception is someone
 * else's rule, and it blocks root, the agent and the snapshot extension too. */
struct rule_table {
    bool owner_accept, foreign_drop;
};

static void classify_rule(const char *p, const char *e, struct rule_table *t)
{
    size_t n = (size_t)(e - p);
    bool drop = memmem(p, n, "DROP", 4) || memmem(p, n, "REJECT", 6) || memmem(p, n, "drop", 4) ||
                memmem(p, n, "reject", 6);
    bool owner = memmem(p, n, "uid-owner", 9) || memmem(p, n, "skuid", 5);
    if (owner && !drop)
        t->owner_accept = true;
    else if (drop && !owner)
        t->foreign_drop = true;
}

static void rule_file(const char *name, const char *text, size_t len, struct check *c, bool *other_block)
{
    struct guest_lines l;
    const char *p, *e;
    struct rule_table t = {false, false};
    int shown = 0;
    guest_lines_init(&l, text, len);
    while (guest_lines_next(&l, &p, &e)) {
        guest_trim(&p, &e);
        if (p < e && *p == '*') { /* the next table */
            *other_block |= t.foreign_drop && !t.owner_accept;
            t.owner_accept = t.foreign_drop = false;
        }
        if (!memmem(p, (size_t)(e - p), WIRESERVER, sizeof WIRESERVER - 1))
            continue;
        classify_rule(p, e, &t);
        if (shown++ < 4) {
            char line[200];
            guest_printable(p, e, line, sizeof line);
            guest_ev_add(c, "saved_rules", "%s line %d: %s", name, l.no, line);
        }
    }
    *other_block |= t.foreign_drop && !t.owner_accept;
}

static void saved_rules(const struct guest_ctx *g, struct check *c, bool *other_block)
{
    for (size_t i = 0; i < sizeof rule_files / sizeof rule_files[0]; i++) {
        size_t len;
        int err;
        char *text = guest_read(g, rule_files[i], GUEST_TEXT_MAX, &len, &err);
        if (!text && err != ENOENT && err != ENOTDIR)
            guest_ev_add(c, "unreadable", "%s (%s)", rule_files[i], strerror(err));
        if (text)
            rule_file(rule_files[i], text, len, c, other_block);
        free(text);
    }
}

/* <service>-network-setup.service re-applies the agent's rules at boot (persist_firewall_rules.py). */
static void persistence_unit(const struct guest_ctx *g, struct check *c)
{
    static const char *const names[] = {"walinuxagent-network-setup.service", "waagent-network-setup.service"};
    for (size_t d = 0; d < sizeof unit_dirs / sizeof unit_dirs[0]; d++)
        for (size_t n = 0; n < 2; n++) {
            char path[256];
            snprintf(path, sizeof path, "%s/%s", unit_dirs[d], names[n]);
            if (guest_exists(g->root, path)) {
                check_ev(c, "persist_unit", "%s (re-applies the agent's rules at boot)", path);
                return;
            }
        }
}

static void firewall_setting(const struct guest_ctx *g, struct check *c, bool *enabled)
{
    const struct waagent_entry *e = waagent_conf_entry(&g->conf, "OS.EnableFirewall");
    *enabled = waagent_conf_bool(&g->conf, "OS.EnableFirewall", false);
    if (!g->conf.present || g->conf.read_errno)
        check_ev(c, "OS.EnableFirewall", "unknown: waagent.conf %s; the agent's default is n",
                 g->conf.present ? "unreadable" : "not found");
    else if (e && !e->none)
        check_ev(c, "OS.EnableFirewall", "%s (%s line %d)", *enabled ? "y" : "n", g->conf.path, e->line);
    else
        check_ev(c, "OS.EnableFirewall", "n (not set in %s: the agent's default)", g->conf.path);
}

static void check_firewall(struct guest_ctx *g, struct check_list *out)
{
    struct check *c = guest_new(out, "agent.firewall", WIRESERVER);
    if (!c)
        return;
    check_why(c, "the agent's rule only affects non-root processes; a rule that blocks root "
                 "fails backups with UserErrorGuestAgentStatusUnavailable");
    bool enabled, other_block = false;
    firewall_setting(g, c, &enabled);
    saved_rules(g, c, &other_block);
    persistence_unit(g, c);
    check_ev(c, "live_rules", "not readable from files: sudo iptables -t security -S OUTPUT, "
             "sudo nft list table ip walinuxagent, or sudo firewall-cmd --direct --get-all-passthroughs");
    check_ev(c, "probe_user", "%s", g->as_root ? "root" : "not root");
    if (other_block)
        check_ev(c, "other_rule", "a saved rule drops or rejects 168.63.129.16 for every user, root included: "
                 "the agent cannot reach the WireServer (UserErrorGuestAgentStatusUnavailable)");
    if (enabled && !g->as_root) {
        guest_set(c, OUT_BLOCKED_NONROOT, false);
        check_summary(c, "OS.EnableFirewall=y: the agent's rule drops non-root TCP to 168.63.129.16 (except port "
                         "53), so this probe's WireServer checks time out; rerun with sudo");
        check_why(c, "not a backup fault: the rule allows root, and the agent and the snapshot extension run as "
                     "root; WireServer results of a non-root run are not valid");
        return;
    }
    guest_set(c, OUT_OK, false);
    check_summary(c, "%s%s", enabled ? "OS.EnableFirewall=y: the agent's rule lets root reach 168.63.129.16, and "
                                       "this probe runs as root"
                                     : "OS.EnableFirewall is off: the agent adds no rule on 168.63.129.16",
                  other_block ? "; but see other_rule: a saved rule blocks 168.63.129.16 for everyone" : "");
}

void guest_agent_checks(struct guest_ctx *g, struct check_list *out)
{
    check_process(g, out);
    check_config(g, out);
    check_firewall(g, out);
}
