/* Guest-side prerequisites of Azure VM Backup that are not network paths: the guest agent (process,
 * waagent.conf, its firewall rule), the VMSnapshot extension's last status, the filesystem it runs
 * from, SELinux, load, and whether the guest configures a static IPv4 address instead of DHCP.
 * Everything is read from files under --root (a live system or a collected bundle), bounded; a
 * missing, unreadable or garbled file becomes evidence, never a crash or a line on stderr.
 * Each check comes with its outcome, status, required flag and a `why` that names the Azure Backup
 * error code the condition leads to and the documented fix. */
#ifndef AZB_GUEST_H
#define AZB_GUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "probe/check.h"

/* Appends, in this order: agent.process, agent.config, agent.firewall, agent.extension,
 * agent.noexec, agent.selinux, agent.resources, guest.dhcp_enabled. running_as_root: whether this
 * probe runs as root (the agent's firewall drops non-root TCP to 168.63.129.16). */
void guest_checks(const char *root, bool running_as_root, struct check_list *out);

/* ---- building blocks (tests use them; proxy_discover.c could share the agent scan) ---------- */

enum guest_agent_kind { GUEST_AGENT_NONE, GUEST_AGENT_DAEMON, GUEST_AGENT_EXTHANDLERS };

/* What a /proc/<pid>/cmdline (NUL- or blank-separated words, len bytes) says: the agent's
 * -run-exthandlers process, its -daemon, or neither (e.g. "waagent -show-configuration", or
 * "tail /var/log/waagent.log"). A word naming waagent or WALinuxAgent is needed, and a word that is
 * one or more '-' and then run-exthandlers or daemon. */
enum guest_agent_kind guest_agent_kind(const char *cmdline, size_t len);

/* The version in "WALinuxAgent-2.15.0.1" (the auto-updated handler's egg or directory), or false.
 * Only digits and dots, at least three numbers, as the agent's own regex in common/version.py. */
bool guest_agent_version(const char *cmdline, size_t len, char *out, size_t size);

#define GUEST_MAX_AGENT_PROCS 16

struct guest_agent_proc {
    int pid;
    enum guest_agent_kind kind;
    char version[32];   /* "" when the cmdline has none (the daemon, or no auto-update) */
    char cmdline[256];  /* printable, blanks for NULs */
};

struct guest_agent_procs {
    size_t proc_entries; /* numeric entries in <root>/proc: 0 means no process list at all */
    size_t count;
    struct guest_agent_proc p[GUEST_MAX_AGENT_PROCS]; /* sorted by pid */
};

/* Every agent process under <root>/proc (cmdline read up to 4 KB each). */
void guest_agent_scan(const char *root, struct guest_agent_procs *out);

/* The process whose environment extensions inherit: the lowest pid of -run-exthandlers, else of
 * -daemon; 0 when none. */
int guest_agent_pick(const struct guest_agent_procs *p);

/* Copy in to out with every URL query string replaced by "?<redacted>" and the values of SAS
 * parameters (sig, se, st, sp, sv, sr, spr, skoid, sktid, skt, ske, sks, skv, ss, srt) outside URLs
 * by "***". Control characters become '?'. */
void guest_redact(const char *in, char *out, size_t size);

/* The entry of a mounts table (/proc/mounts or /etc/fstab text) whose mount point is the longest
 * prefix of path (on a '/' boundary; the last of equal ones, as a later mount hides an earlier one).
 * Octal escapes (\040) are decoded; comments and malformed lines skipped. */
struct guest_mount {
    char dir[256], source[256], fstype[32], opts[256];
    int line;
};
bool guest_mount_for(const char *text, size_t len, const char *path, struct guest_mount *out);
/* Whether a comma-separated option list holds exactly this option. */
bool guest_mount_has(const char *opts, const char *opt);

/* A static IPv4 address found in a network configuration file. */
struct guest_static {
    char file[256];
    int line;
    char iface[64];
    char detail[160]; /* what was found, e.g. "addresses: [10.0.0.4/24] with dhcp4: false" */
};

/* The five formats; each parses text (len bytes) of one file, appends up to max - *n entries to
 * out (file set to name) and returns how many static configurations the text holds. */
enum guest_net_format { GUEST_NETPLAN, GUEST_IFUPDOWN, GUEST_IFCFG, GUEST_NM_KEYFILE, GUEST_NETWORKD };
size_t guest_static_parse(enum guest_net_format f, const char *text, size_t len, const char *name,
                          struct guest_static *out, size_t *n, size_t max);

#endif
