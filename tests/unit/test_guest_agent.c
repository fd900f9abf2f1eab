/* The guest agent checks (probe/guest_*.c) over fake --root trees: tests/fixtures/guest/<case>/ is
 * copied into a temporary directory, where the files holding NUL bytes (/proc/<pid>/cmdline) and the
 * hostile ones (1 MB lines, binary bytes) are written by the test. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/guest.h"

static char root[64];
static struct check_list list;

static void run(const char *cmd)
{
    assert_int_equal(system(cmd), 0);
}

/* A copy of a fixture tree; NULL for an empty root. */
static void make_root(const char *case_name)
{
    snprintf(root, sizeof root, "/tmp/azbp-guest-XXXXXX");
    assert_non_null(mkdtemp(root));
    if (case_name) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "cp -R tests/fixtures/guest/%s/. '%s/'", case_name, root);
        run(cmd);
    }
}

static int cleanup(void **state)
{
    (void)state;
    checks_free(&list);
    if (root[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        run(cmd);
        root[0] = '\0';
    }
    return 0;
}

static void write_bytes(const char *rel, const char *bytes, size_t n)
{
    char path[256], cmd[320];
    snprintf(path, sizeof path, "%s%s", root, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", path);
    run(cmd);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

#define WRITE(rel, lit) write_bytes(rel, lit, sizeof(lit) - 1) /* keeps embedded NULs */

static void write_str(const char *rel, const char *text)
{
    write_bytes(rel, text, strlen(text));
}

static void remove_path(const char *rel)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s%s'", root, rel);
    run(cmd);
}

/* The agent as Ubuntu runs it: the daemon from the package, the auto-updated handler from its egg. */
static void agent_procs(bool daemon, bool handler)
{
    if (daemon)
        WRITE("/proc/812/cmdline", "/usr/bin/python3\0-u\0/usr/sbin/waagent\0-daemon\0");
    if (handler)
        WRITE("/proc/1024/cmdline", "python3\0-u\0bin/WALinuxAgent-2.15.0.1-py3.12.egg\0-run-exthandlers\0");
    WRITE("/proc/1/cmdline", "/sbin/init\0splash\0");
    WRITE("/proc/99/cmdline", "python3\0/usr/sbin/waagent\0-show-configuration\0");
    WRITE("/proc/100/cmdline", "tail\0-f\0/var/log/waagent.log\0");
    WRITE("/proc/self/cmdline", "waagent\0-run-exthandlers\0");
}

static const struct check *get(const char *id)
{
    const struct check *c = checks_find(&list, id, NULL, -1);
    if (!c)
        fail_msg("no check %s", id);
    return c;
}

static void ev_has(const struct check *c, const char *key, const char *text)
{
    const char *v = check_ev_get(c, key);
    if (!v)
        fail_msg("%s: no evidence %s", c->id, key);
    if (!strstr(v, text))
        fail_msg("%s: %s=\"%s\" does not say \"%s\"", c->id, key, v, text);
}

static void says(const char *what, const char *have, const char *text)
{
    if (!strstr(have, text))
        fail_msg("%s \"%s\" does not say \"%s\"", what, have, text);
}

static void graded(const struct check *c, enum outcome o, enum status s, bool required)
{
    if (c->outcome != o || c->status != s || c->required != required)
        fail_msg("%s: %s/%s/required=%d, expected %s/%s/required=%d (%s)", c->id, outcome_name(c->outcome),
                 status_name(c->status), c->required, outcome_name(o), status_name(s), required, c->summary);
}

/* Every check: a summary and a why that fit (not cut), printable, in report order. */
static void well_formed(void)
{
    static const char *const ids[] = {"agent.process", "agent.config", "agent.firewall", "agent.extension",
                                      "agent.noexec", "agent.selinux", "agent.resources", "guest.dhcp_enabled"};
    assert_int_equal(list.count, sizeof ids / sizeof ids[0]);
    for (size_t i = 0; i < list.count; i++) {
        const struct check *c = &list.items[i];
        assert_string_equal(c->id, ids[i]);
        if (!c->summary[0] || strlen(c->summary) >= sizeof c->summary - 1)
            fail_msg("%s: summary empty or cut: %s", c->id, c->summary);
        if (!c->why[0] || strlen(c->why) >= sizeof c->why - 1)
            fail_msg("%s: why empty or cut: %s", c->id, c->why);
        for (const char *p = c->summary; *p; p++)
            if ((unsigned char)*p < 0x20)
                fail_msg("%s: control character in summary", c->id);
        for (size_t e = 0; e < c->nev; e++)
            for (const char *p = c->ev[e].value; *p; p++)
                if ((unsigned char)*p < 0x20)
                    fail_msg("%s: control character in evidence %s", c->id, c->ev[e].key);
    }
}

static void nowhere(const char *secret)
{
    for (size_t i = 0; i < list.count; i++) {
        const struct check *c = &list.items[i];
        if (strstr(c->summary, secret) || strstr(c->why, secret))
            fail_msg("%s: \"%s\" in summary or why", c->id, secret);
        for (size_t e = 0; e < c->nev; e++)
            if (strstr(c->ev[e].value, secret))
                fail_msg("%s: \"%s\" in evidence %s", c->id, secret, c->ev[e].key);
    }
}

static void probe(bool as_root)
{
    checks_free(&list);
    guest_checks(root, as_root, &list);
    well_formed();
}

/* ---- pure pieces ------------------------------------------------------------------------------ */

static void test_agent_cmdlines(void **state)
{
    (void)state;
    static const char daemon[] = "/usr/bin/python3\0-u\0/usr/sbin/waagent\0-daemon";
    static const char handler[] = "python3\0-u\0bin/WALinuxAgent-2.9.1.1-py3.8.egg\0-run-exthandlers\0";
    static const char rewritten[] = "python3 -u /var/lib/waagent/WALinuxAgent-2.15.0.1/bin/x.egg --run-exthandlers";
    assert_int_equal(guest_agent_kind(daemon, sizeof daemon - 1), GUEST_AGENT_DAEMON);
    assert_int_equal(guest_agent_kind(handler, sizeof handler - 1), GUEST_AGENT_EXTHANDLERS);
    assert_int_equal(guest_agent_kind(rewritten, sizeof rewritten - 1), GUEST_AGENT_EXTHANDLERS);
    static const char show[] = "python3\0/usr/sbin/waagent\0-show-configuration\0";
    static const char tail[] = "tail\0-f\0/var/log/waagent.log\0-daemon-ish\0";
    static const char other[] = "/usr/sbin/sshd\0-daemon\0";
    assert_int_equal(guest_agent_kind(show, sizeof show - 1), GUEST_AGENT_NONE);
    assert_int_equal(guest_agent_kind(tail, sizeof tail - 1), GUEST_AGENT_NONE);
    assert_int_equal(guest_agent_kind(other, sizeof other - 1), GUEST_AGENT_NONE);
    assert_int_equal(guest_agent_kind("", 0), GUEST_AGENT_NONE);
    char v[32];
    assert_true(guest_agent_version(handler, sizeof handler - 1, v, sizeof v));
    assert_string_equal(v, "2.9.1.1");
    assert_true(guest_agent_version(rewritten, sizeof rewritten - 1, v, sizeof v));
    assert_string_equal(v, "2.15.0.1");
    assert_false(guest_agent_version(daemon, sizeof daemon - 1, v, sizeof v));
    static const char bad[] = "WALinuxAgent-2.9 WALinuxAgent-. WALinuxAgent-1..2.3 WALinuxAgent-3.0.1.";
    assert_true(guest_agent_version(bad, sizeof bad - 1, v, sizeof v)); /* the first good one, trailing dot cut */
    assert_string_equal(v, "3.0.1");
    assert_false(guest_agent_version(bad, 30, v, sizeof v));
    assert_false(guest_agent_version(handler, sizeof handler - 1, v, 4)); /* does not fit */
}

static void test_redact(void **state)
{
    (void)state;
    char out[512];
    guest_redact("failed for https://md-1.z2.blob.storage.azure.net/a/b?sv=2018&sr=b&sig=SeCrEt%3D&comp=snapshot, "
                 "retry", out, sizeof out);
    assert_string_equal(out, "failed for https://md-1.z2.blob.storage.azure.net/a/b?<redacted> retry"); /* ',' may be URL */
    guest_redact("token sv=2018-03-28&SIG=abc%2F&se=2030 end", out, sizeof out);
    assert_string_equal(out, "token sv=***&SIG=***&se=*** end");
    guest_redact("design=ok signature=fine \"https://h/p?q=1\"\nnext", out, sizeof out);
    assert_string_equal(out, "design=ok signature=fine \"https://h/p?<redacted>\"?next");
    guest_redact("https://h/p?sig=abcdefghijklmnop", out, 16); /* cut output: still nothing of the token */
    assert_string_equal(out, "https://h/p?<re");
    assert_null(strstr(out, "abc"));
}

static void test_mounts(void **state)
{
    (void)state;
    static const char t[] = "/dev/sda1 / ext4 rw 0 0\n"
                            "/dev/sdb1 /var xfs rw,noexec 0 0\r\n"
                            "/dev/sdc1 /var/lib/waagentx xfs rw 0 0\n"
                            "/dev/sdd1 /var/lib/wa\\040agent xfs rw 0 0\n"
                            "overlay /var xfs rw,exec 0 0\n"
                            "garbage\n\n   \n# /var/lib/waagent x y noexec\n";
    struct guest_mount m;
    assert_true(guest_mount_for(t, sizeof t - 1, "/var/lib/waagent", &m));
    assert_string_equal(m.dir, "/var");
    assert_string_equal(m.source, "overlay"); /* the later mount on /var hides the first */
    assert_int_equal(m.line, 5);
    assert_false(guest_mount_has(m.opts, "noexec"));
    assert_true(guest_mount_for(t, sizeof t - 1, "/var/lib/wa agent/x", &m));
    assert_string_equal(m.dir, "/var/lib/wa agent");
    assert_true(guest_mount_for(t, sizeof t - 1, "/usr", &m));
    assert_string_equal(m.dir, "/");
    assert_false(guest_mount_for("garbage\n", 8, "/var", &m));
    assert_true(guest_mount_has("rw,nosuid,noexec", "noexec"));
    assert_false(guest_mount_has("rw,noexecx,exec", "noexec"));
    assert_false(guest_mount_has("", "noexec"));
}

/* ---- whole runs ------------------------------------------------------------------------------- */

static void test_healthy_ubuntu(void **state)
{
    (void)state;
    make_root("ubuntu");
    agent_procs(true, true);
    probe(true);
    const struct check *c = get("agent.process");
    graded(c, OUT_OK, STATUS_PASS, true);
    ev_has(c, "pids", "812 (daemon)");
    ev_has(c, "pids", "1024 (extension handler)");
    ev_has(c, "version", "2.15.0.1");
    says("summary", c->summary, "2.15.0.1");
    says("why", c->why, "UserErrorGuestAgentStatusUnavailable");
    assert_null(strstr(check_ev_get(c, "pids"), "99 ")); /* -show-configuration is not the agent */

    c = get("agent.config");
    graded(c, OUT_OK, STATUS_PASS, true);
    ev_has(c, "path", "/etc/waagent.conf");
    ev_has(c, "Extensions.Enabled", "y (line 6)");
    ev_has(c, "Provisioning.Agent", "auto (line 9)");
    ev_has(c, "AutoUpdate.Enabled", "not set");
    says("why", c->why, "GuestAgentSnapshotTaskStatusError");

    c = get("agent.firewall");
    graded(c, OUT_OK, STATUS_PASS, false);
    assert_string_equal(c->target, "168.63.129.16");
    ev_has(c, "OS.EnableFirewall", "y (/etc/waagent.conf line 27)");
    assert_null(check_ev_get(c, "other_rule"));

    c = get("agent.extension");
    graded(c, OUT_OK, STATUS_PASS, false);
    ev_has(c, "installed", "1.0.9224.0; 1.0.9225.0; 1.0.10014.0"); /* by number, not by string */
    ev_has(c, "status_file", "VMSnapshotLinux-1.0.10014.0/status/10.status");
    ev_has(c, "last_status", "success");
    ev_has(c, "timestamp_utc", "2025-03-02T01:02:03Z");
    nowhere("SUBSTATUS_SECRET");
    nowhere("must not be read");

    c = get("agent.noexec");
    graded(c, OUT_OK, STATUS_PASS, true);
    ev_has(c, "mount", "/dev/sda1 on / type ext4");

    graded(get("agent.selinux"), OUT_SKIPPED, STATUS_SKIP, false);
    c = get("agent.resources");
    graded(c, OUT_OK, STATUS_PASS, false);
    ev_has(c, "memory", "21% used");
    ev_has(c, "load", "0.52 0.58 0.59");
    ev_has(c, "cpus", "2 (/sys/devices/system/cpu/online)");
    says("summary", c->summary, "load 0.26 per CPU");

    c = get("guest.dhcp_enabled");
    graded(c, OUT_OK, STATUS_PASS, true);
    ev_has(c, "examined", "/etc/netplan/50-cloud-init.yaml");
}

static void test_firewall_nonroot(void **state)
{
    (void)state;
    make_root("ubuntu");
    agent_procs(true, true);
    probe(false);
    const struct check *c = get("agent.firewall");
    graded(c, OUT_BLOCKED_NONROOT, STATUS_WARN, false);
    says("summary", c->summary, "rerun with sudo");
    says("summary", c->summary, "except port 53");
    ev_has(c, "probe_user", "not root");

    remove_path("/etc/waagent.conf"); /* the agent's code default is n: no rule */
    probe(false);
    c = get("agent.firewall");
    graded(c, OUT_OK, STATUS_PASS, false);
    ev_has(c, "OS.EnableFirewall", "not found");
    c = get("agent.config"); /* a running agent without its file: a warning */
    graded(c, OUT_MISCONFIGURED, STATUS_WARN, false);
    says("summary", c->summary, "Missing configuration");
    ev_has(c, "looked_in", "/usr/share/oem/waagent.conf");
}

static void test_extensions_disabled(void **state)
{
    (void)state;
    make_root("ext-disabled");
    agent_procs(true, true);
    probe(true);
    const struct check *c = get("agent.config");
    graded(c, OUT_MISCONFIGURED, STATUS_FAIL, true);
    ev_has(c, "Extensions.Enabled", "N on line 7: the agent reads it as n");
    ev_has(c, "duplicates", "also set on line 2");
    ev_has(c, "Provisioning.Agent", "cloud-init (line 3)");
    says("summary", c->summary, "Extensions.Enabled=n");
    says("why", c->why, "GuestAgentSnapshotTaskStatusError");
    says("why", c->why, "systemctl restart waagent"); /* RHEL's unit name, found under /usr/lib */

    c = get("agent.firewall");
    graded(c, OUT_OK, STATUS_PASS, false);
    ev_has(c, "saved_rules", "/etc/firewalld/direct.xml line 3");
    ev_has(c, "saved_rules", "--uid-owner 0 -j ACCEPT");
    ev_has(c, "persist_unit", "/usr/lib/systemd/system/waagent-network-setup.service");
    assert_null(check_ev_get(c, "other_rule")); /* the agent's own DROP follows its uid-0 ACCEPT */

    write_str("/etc/waagent.conf", "Extensions.Enabled=y\nProvisioning.Agent=disabled\n");
    WRITE("/etc/sysconfig/iptables", "*filter\r\n-A OUTPUT -d 168.63.129.16/32 -j DROP\r\nCOMMIT\r\n*security\r\n"
                                     "-A OUTPUT -d 168.63.129.16/32 -p tcp -m owner --uid-owner 0 -j ACCEPT\r\n");
    probe(true);
    c = get("agent.config");
    graded(c, OUT_MISCONFIGURED, STATUS_WARN, false);
    ev_has(c, "provisioning_note", "disabled");
    says("why", c->why, "warning only");
    c = get("agent.firewall");
    ev_has(c, "other_rule", "root included");
    says("summary", c->summary, "blocks 168.63.129.16 for everyone");
}

static void test_not_running(void **state)
{
    (void)state;
    make_root("not-running");
    agent_procs(false, false);
    probe(true);
    const struct check *c = get("agent.process");
    graded(c, OUT_NOT_RUNNING, STATUS_FAIL, true);
    ev_has(c, "processes_seen", "3"); /* 1, 99 and 100; not "self" */
    says("why", c->why, "UserErrorGuestAgentStatusUnavailable");
    says("why", c->why, "systemctl enable --now walinuxagent");
    assert_null(strstr(c->summary, "not appear to be installed"));
    graded(get("agent.config"), OUT_OK, STATUS_PASS, true);

    agent_procs(true, false); /* the daemon alone runs no extension */
    probe(true);
    c = get("agent.process");
    graded(c, OUT_NOT_RUNNING, STATUS_FAIL, true);
    says("summary", c->summary, "extension handler (-run-exthandlers) does not");
    ev_has(c, "version", "not in the command line");

    remove_path("/proc"); /* a bundle without a process list */
    probe(true);
    c = get("agent.process");
    graded(c, OUT_SKIPPED, STATUS_SKIP, false);
    says("summary", c->summary, "no process entries");
}

static void test_no_agent_at_all(void **state)
{
    (void)state;
    make_root(NULL);
    WRITE("/proc/1/cmdline", "/sbin/init\0");
    probe(true);
    const struct check *c = get("agent.process");
    graded(c, OUT_NOT_RUNNING, STATUS_FAIL, true);
    says("summary", c->summary, "does not appear to be installed");
    says("why", c->why, "walinuxagent (Ubuntu/Debian) or waagent");
    graded(get("agent.config"), OUT_SKIPPED, STATUS_SKIP, false);
    c = get("agent.extension");
    graded(c, OUT_OK, STATUS_PASS, false);
    says("summary", c->summary, "installs it when protection is enabled");
    graded(get("agent.noexec"), OUT_SKIPPED, STATUS_SKIP, false);
    graded(get("agent.resources"), OUT_SKIPPED, STATUS_SKIP, false);
    c = get("guest.dhcp_enabled");
    graded(c, OUT_OK, STATUS_PASS, true);
    ev_has(c, "examined", "none of");

    WRITE("/proc/mounts", "proc /proc proc rw,nosuid,nodev,noexec,relatime,hidepid=invisible 0 0\n");
    probe(false); /* as non-root behind hidepid, "not running" would be a guess */
    c = get("agent.process");
    graded(c, OUT_SKIPPED, STATUS_SKIP, false);
    says("summary", c->summary, "hidepid");
}

static void test_noexec(void **state)
{
    (void)state;
    make_root("noexec");
    probe(true);
    const struct check *c = get("agent.noexec");
    graded(c, OUT_NOEXEC, STATUS_FAIL, true);
    ev_has(c, "mount", "/dev/mapper/vg-var on /var type xfs");
    ev_has(c, "mount", "/proc/mounts line 2");
    ev_has(c, "fstab", "/etc/fstab line 3");
    says("summary", c->summary, "error 126");
    says("why", c->why, "ExtensionOperationFailedForManagedDisks");
    says("why", c->why, "UserErrorVmProvisioningStateFailed");

    WRITE("/proc/mounts", "/dev/sda1 / ext4 rw 0 0\n/dev/mapper/vg-var /var xfs rw,nodev 0 0\n");
    probe(true); /* fine now, noexec after the next boot */
    c = get("agent.noexec");
    graded(c, OUT_NOEXEC, STATUS_WARN, false);
    says("summary", c->summary, "next boot");

    WRITE("/etc/waagent.conf", "Lib.Dir=/data/waagent/\n"); /* the agent's Lib.Dir is what counts */
    WRITE("/proc/mounts", "/dev/sda1 / ext4 rw 0 0\n/dev/sdd1 /data ext4 rw,noexec 0 0\n");
    remove_path("/etc/fstab");
    probe(true);
    c = get("agent.noexec");
    graded(c, OUT_NOEXEC, STATUS_FAIL, true);
    ev_has(c, "path", "/data/waagent");
    ev_has(get("agent.extension"), "lib_dir", "/data/waagent");
}

static void test_noexec_fstab_only(void **state)
{
    (void)state;
    make_root("noexec-fstab");
    probe(true);
    const struct check *c = get("agent.noexec");
    graded(c, OUT_NOEXEC, STATUS_FAIL, true);
    ev_has(c, "fstab", "UUID=5678-ef01 on /var/lib/ type ext4");
    says("summary", c->summary, "which /etc/fstab mounts");
    assert_null(check_ev_get(c, "mount"));
}

static void test_extension_failed(void **state)
{
    (void)state;
    make_root("ext-failed");
    probe(true);
    const struct check *c = get("agent.extension");
    graded(c, OUT_EXTENSION_FAILED, STATUS_WARN, false);
    ev_has(c, "code", "76");
    ev_has(c, "message", "FailedRetryableSnapshotFailedNoNetwork");
    ev_has(c, "message", "abcd?<redacted> bare token sv=***&sig=***");
    says("summary", c->summary, "FailedRetryableSnapshotFailedNoNetwork");
    says("why", c->why, "ExtensionSnapshotFailedNoNetwork");
    nowhere("Zm9vYmFyU0VDUkVU");
    nowhere("QmFyZVNFQ1JFVA");
    nowhere("SECONDLINESECRET");
    nowhere("Traceback"); /* only the first line */

    const char *st = "/var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.9225.0/status/8.status";
    write_str(st, "{\"status\":{\"status\":\"error\",\"formattedMessage\":{\"message\":\"Freeze failed\"}}}");
    probe(true); /* a bare object, as older handlers wrote; no NoNetwork in it */
    c = get("agent.extension");
    graded(c, OUT_EXTENSION_FAILED, STATUS_WARN, false);
    says("why", c->why, "ExtensionOperationFailedForManagedDisks (managed disks) or BackUpOperationFailed");

    write_str(st, "[{\"status\":{\"status\":\"transitioning\",\"code\":0}}]");
    probe(true);
    c = get("agent.extension");
    graded(c, OUT_OK, STATUS_PASS, false);
    says("summary", c->summary, "working on a snapshot");

    static const char broken[] = "[{\"status\":{\"status\":\"err\0or\"}}]";
    write_bytes(st, broken, sizeof broken - 1);
    probe(true);
    graded(get("agent.extension"), OUT_ERROR, STATUS_WARN, false);
    write_str(st, "[]");
    probe(true);
    c = get("agent.extension");
    graded(c, OUT_ERROR, STATUS_WARN, false);
    says("summary", c->summary, "no status.status");
    write_str(st, "[{\"status\":");
    probe(true);
    says("summary", get("agent.extension")->summary, "cut short");

    for (int seq = 9; seq <= 300; seq++) { /* a year of daily backups: the newest is still found */
        char rel[200];
        snprintf(rel, sizeof rel, "/var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.9225.0/"
                                  "status/%d.status", seq);
        write_str(rel, seq == 300 ? "[{\"status\":{\"status\":\"success\"}}]" : "[{\"status\":{\"status\":\"error\"}}]");
    }
    probe(true);
    c = get("agent.extension");
    graded(c, OUT_OK, STATUS_PASS, false);
    ev_has(c, "status_file", "/status/300.status");
}

static void test_selinux(void **state)
{
    (void)state;
    make_root("ubuntu");
    WRITE("/sys/fs/selinux/enforce", "1");
    WRITE("/etc/selinux/config", "# SELinux\r\nSELINUX=enforcing\r\nSELINUXTYPE=targeted\r\n");
    probe(true);
    const struct check *c = get("agent.selinux");
    graded(c, OUT_OK, STATUS_WARN, false);
    says("summary", c->summary, "AVC denials");
    ev_has(c, "configured", "SELINUX=enforcing (/etc/selinux/config line 2)");
    WRITE("/sys/fs/selinux/enforce", "0\n");
    probe(true);
    c = get("agent.selinux");
    graded(c, OUT_OK, STATUS_PASS, false);
    says("summary", c->summary, "permissive");
    WRITE("/sys/fs/selinux/enforce", "\x01\x02garbage");
    probe(true);
    graded(get("agent.selinux"), OUT_SKIPPED, STATUS_SKIP, false);
}

static void test_resources(void **state)
{
    (void)state;
    make_root("ubuntu");
    WRITE("/proc/meminfo", "MemTotal: 1000000 kB\nMemAvailable: 50000 kB\n");
    WRITE("/proc/loadavg", "3.80 2.00 1.00 5/100 42\n");
    probe(true);
    const struct check *c = get("agent.resources");
    graded(c, OUT_OVERLOADED, STATUS_WARN, false);
    says("summary", c->summary, "memory over 90% used and load above 0.9 per CPU");
    says("summary", c->summary, "GuestAgentSnapshotTaskStatusError");
    ev_has(c, "memory", "95% used");

    remove_path("/sys/devices/system/cpu/online"); /* four CPUs from cpuinfo: 3.80 is 0.95 each */
    WRITE("/proc/cpuinfo", "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\n\nprocessor\t: 2\n\nprocessor\t: 3\n");
    WRITE("/proc/meminfo", "MemTotal: 1000000 kB\nMemFree: 200000 kB\nBuffers: 100000 kB\nCached: 300000 kB\n");
    probe(true); /* no MemAvailable (old kernel): free + buffers + cached */
    c = get("agent.resources");
    graded(c, OUT_OVERLOADED, STATUS_WARN, false);
    ev_has(c, "cpus", "4 (/proc/cpuinfo)");
    ev_has(c, "memory", "40% used");
    says("summary", c->summary, "load above 0.9 per CPU");

    WRITE("/proc/loadavg", "3.00");
    probe(true);
    c = get("agent.resources");
    graded(c, OUT_OK, STATUS_PASS, false);
    says("summary", c->summary, "load 0.75 per CPU");

    WRITE("/proc/loadavg", "\xff\xfe");
    WRITE("/proc/meminfo", "MemTotal: 0 kB\n");
    probe(true);
    graded(get("agent.resources"), OUT_SKIPPED, STATUS_SKIP, false);
}

/* Every file the checks read, made hostile: binary, 1 MB without a newline, CRLF, NULs. */
static void test_hostile_root(void **state)
{
    (void)state;
    make_root("ubuntu");
    size_t n = (1u << 20) + 100;
    char *junk = malloc(n);
    assert_non_null(junk);
    for (size_t i = 0; i < n; i++)
        junk[i] = (char)(i * 131 % 256);
    static const char *const files[] = {
        "/proc/mounts", "/etc/fstab", "/proc/meminfo", "/proc/loadavg", "/proc/cpuinfo",
        "/sys/devices/system/cpu/online", "/sys/fs/selinux/enforce", "/etc/selinux/config", "/proc/net/route",
        "/etc/netplan/50-cloud-init.yaml", "/etc/network/interfaces", "/etc/sysconfig/network-scripts/ifcfg-eth0",
        "/etc/NetworkManager/system-connections/x.nmconnection", "/etc/systemd/network/x.network",
        "/etc/nftables.conf", "/proc/7/cmdline",
        "/var/lib/waagent/Microsoft.Azure.RecoveryServices.VMSnapshotLinux-1.0.10014.0/status/10.status"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        write_bytes(files[i], junk, n);
    memset(junk, 'a', n);
    memcpy(junk, "OS.EnableFirewall=", 18);
    write_bytes("/etc/waagent.conf", junk, n);
    memcpy(junk, "python3\0WALinuxAgent-9.9.9.9", 28); /* 1 MB of cmdline: only 4 KB is read */
    junk[n - 17] = '\0';
    memcpy(junk + n - 16, "-run-exthandlers", 16);
    write_bytes("/proc/8/cmdline", junk, n);
    free(junk);
    probe(false);
    graded(get("agent.process"), OUT_NOT_RUNNING, STATUS_FAIL, true);
    graded(get("agent.firewall"), OUT_OK, STATUS_PASS, false); /* "aaaa..." is not y */
    assert_int_equal(get("agent.extension")->outcome, OUT_ERROR);
    checks_free(&list);
    guest_checks(root, true, &list);
    well_formed();
    checks_free(&list);
    guest_checks("/nonexistent-root-for-azbprobe", false, &list);
    well_formed();
    assert_int_equal(get("agent.process")->outcome, OUT_SKIPPED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_cmdlines),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_mounts),
        cmocka_unit_test_teardown(test_healthy_ubuntu, cleanup),
        cmocka_unit_test_teardown(test_firewall_nonroot, cleanup),
        cmocka_unit_test_teardown(test_extensions_disabled, cleanup),
        cmocka_unit_test_teardown(test_not_running, cleanup),
        cmocka_unit_test_teardown(test_no_agent_at_all, cleanup),
        cmocka_unit_test_teardown(test_noexec, cleanup),
        cmocka_unit_test_teardown(test_noexec_fstab_only, cleanup),
        cmocka_unit_test_teardown(test_extension_failed, cleanup),
        cmocka_unit_test_teardown(test_selinux, cleanup),
        cmocka_unit_test_teardown(test_resources, cleanup),
        cmocka_unit_test_teardown(test_hostile_root, cleanup),
    };
    return cmocka_run_group_tests_name("guest_agent", tests, NULL, NULL);
}
