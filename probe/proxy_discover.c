/* Finding every proxy setting a consumer could see, all under --root: this shell, /etc/environment,
 * waagent.conf, the agent's systemd unit (with drop-ins and EnvironmentFile=, in systemd's order)
 * and the running agent's own environment, which is what extensions inherit. Every read is
 * bounded; whatever is missing or unreadable becomes a problem, never a failure. */
#include "probe/proxy.h"
#include "probe/guest.h"
#include "probe/sysfile.h"
#include "probe/waagent_conf.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TEXT_MAX (1u << 20)      /* configuration files */
#define ENVIRON_MAX (256u << 10) /* a process environment */
#define MAX_DROPINS 64
#define MAX_ENV_FILES 16

static const char *const unit_dirs[] = {"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
                                        "/lib/systemd/system"}; /* systemd's precedence, highest first */
static const char *const unit_names[] = {"walinuxagent.service", "waagent.service"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))


/* A file under root; NULL when absent. Other failures (permissions) are problems. */
static char *read_text(const char *root, const char *path, size_t max, size_t *len, struct proxy_config *c,
                       enum proxy_source s)
{
    char *text = sysfile_read(root, path, max, len);
    if (!text && errno != ENOENT && errno != ENOTDIR)
        proxy_add_problem(c, s, path, 0, "cannot read %s: %s", path, strerror(errno));
    else if (text && *len >= max)
        proxy_add_problem(c, s, path, 0, "longer than %zu bytes: only the start was read", max);
    return text;
}

/* Values longer than proxy_env holds are cut by the parser; say so. NUL-separated entries. */
static void long_values(const char *buf, size_t len, struct proxy_config *c, enum proxy_source s,
                        const char *where)
{
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        const char *entry_end = z ? z : end;
        const char *eq = memchr(p, '=', (size_t)(entry_end - p));
        for (int v = 0; eq && v < PV_COUNT; v++) {
            const char *name = proxy_var_name((enum proxy_var)v);
            if (strlen(name) == (size_t)(eq - p) && memcmp(name, p, (size_t)(eq - p)) == 0 &&
                entry_end - eq - 1 >= PROXY_VALUE_MAX)
                proxy_add_problem(c, s, where, 0, "%s is longer than %d bytes: cut", name, PROXY_VALUE_MAX - 1);
        }
        p = entry_end + 1;
    }
}

static void discover_shell(char *const *envp, struct proxy_config *c)
{
    struct proxy_env *e = &c->env[PSRC_SHELL];
    if (!envp)
        return;
    e->present = true;
    snprintf(e->where, sizeof e->where, "environment");
    for (; *envp; envp++) {
        size_t n = strlen(*envp);
        proxy_env_from_environ(*envp, n, e);
        long_values(*envp, n, c, PSRC_SHELL, e->where);
    }
}

static void discover_etc_environment(const char *root, struct proxy_config *c)
{
    struct proxy_env *e = &c->env[PSRC_ETC_ENVIRONMENT];
    size_t len;
    snprintf(e->where, sizeof e->where, "/etc/environment");
    char *text = read_text(root, "/etc/environment", TEXT_MAX, &len, c, PSRC_ETC_ENVIRONMENT);
    if (!text)
        return;
    e->present = true;
    proxy_env_from_file(text, len, e, c);
    free(text);
}

/* The first of the agent's configuration paths that exists, as the agent's OS layer picks it. */
static void discover_waagent(const char *root, struct proxy_config *c)
{
    for (size_t i = 0; i < waagent_conf_npaths; i++) {
        const char *conf = waagent_conf_paths[i];
        size_t len;
        char *text = sysfile_read(root, conf, TEXT_MAX, &len);
        if (!text && (errno == ENOENT || errno == ENOTDIR))
            continue;
        snprintf(c->waagent.path, sizeof c->waagent.path, "%s", conf);
        if (!text) {
            proxy_add_problem(c, PSRC_WAAGENT_CONF, conf, 0, "cannot read %s: %s", conf, strerror(errno));
            return;
        }
        waagent_proxy_parse(text, len, &c->waagent, c);
        free(text);
        return;
    }
}

/* ---- the agent's systemd unit ---------------------------------------------------------------- */

struct dropin {
    char name[256];
    size_t dir; /* index in unit_dirs: the highest-precedence directory holding this name */
};

static int dropin_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dropin *)a)->name, ((const struct dropin *)b)->name);
}

static bool conf_name(const char *n)
{
    size_t len = strlen(n);
    return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".conf") == 0;
}

/* <unit>.d/NAME.conf across all directories: a name in a higher directory masks the same name below;
 * the survivors apply in name order whatever their directory (systemd.unit(5)). */
static size_t collect_dropins(const char *root, const char *unit, struct dropin *d, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < COUNT(unit_dirs); i++) {
        char rel[600], full[4096 + 700];
        snprintf(rel, sizeof rel, "%s/%s.d", unit_dirs[i], unit);
        sysfile_path(root, rel, full, sizeof full);
        DIR *dir = opendir(full);
        for (struct dirent *de; dir && (de = readdir(dir)) != NULL;) {
            bool seen = false;
            for (size_t j = 0; j < n && !seen; j++)
                seen = strcmp(d[j].name, de->d_name) == 0;
            if (seen || !conf_name(de->d_name) || strlen(de->d_name) >= sizeof d[0].name || n >= max)
                continue;
            snprintf(d[n].name, sizeof d[n].name, "%s", de->d_name);
            d[n++].dir = i;
        }
        if (dir)
            closedir(dir);
    }
    qsort(d, n, sizeof d[0], dropin_cmp);
    return n;
}

/* What the unit files built up, and where it came from. */
struct unit_state {
    struct proxy_env *e;
    char files[MAX_ENV_FILES][512]; /* EnvironmentFile= paths in order, '-' kept */
    size_t nfiles;
    char contributors[512];         /* files that set a proxy variable */
};

static void note_contributor(struct unit_state *st, const char *path, const char (*before)[PROXY_VALUE_MAX])
{
    bool changed = false;
    for (int v = 0; v < PV_COUNT && !changed; v++)
        changed = strcmp(before[v], st->e->value[v]) != 0;
    size_t n = strlen(st->contributors);
    if (changed && !strstr(st->contributors, path))
        snprintf(st->contributors + n, sizeof st->contributors - n, "%s%s", n ? ", " : "", path);
}

static void apply_unit_file(const char *root, const char *path, struct unit_state *st, struct proxy_config *c)
{
    size_t len;
    char *text = read_text(root, path, TEXT_MAX, &len, c, PSRC_AGENT_UNIT);
    if (!text)
        return;
    char before[PV_COUNT][PROXY_VALUE_MAX], files[MAX_ENV_FILES][512];
    memcpy(before, st->e->value, sizeof before);
    snprintf(st->e->where, sizeof st->e->where, "%s", path); /* problems name the file being read */
    size_t n = proxy_env_from_unit(text, len, st->e, files, MAX_ENV_FILES, c);
    free(text);
    for (size_t i = 0; i < n; i++) {
        if (!files[i][0]) /* "EnvironmentFile=" reset the list */
            st->nfiles = 0;
        else if (st->nfiles < MAX_ENV_FILES)
            snprintf(st->files[st->nfiles++], sizeof st->files[0], "%.511s", files[i]);
    }
    note_contributor(st, path, (const char (*)[PROXY_VALUE_MAX])before);
}

/* EnvironmentFile= values override Environment= ones, whatever their order in the unit. */
static void apply_env_files(const char *root, struct unit_state *st, struct proxy_config *c)
{
    for (size_t i = 0; i < st->nfiles; i++) {
        bool optional = st->files[i][0] == '-';
        const char *path = st->files[i] + optional;
        size_t len;
        char *text = sysfile_read(root, path, TEXT_MAX, &len);
        if (!text) {
            if (!optional || (errno != ENOENT && errno != ENOTDIR))
                proxy_add_problem(c, PSRC_AGENT_UNIT, path, 0, "EnvironmentFile=%s cannot be read (%s)%s", path,
                            strerror(errno), optional ? "" : ": systemd does not start the agent");
            continue;
        }
        char before[PV_COUNT][PROXY_VALUE_MAX];
        memcpy(before, st->e->value, sizeof before);
        snprintf(st->e->where, sizeof st->e->where, "%s", path);
        proxy_env_from_file(text, len, st->e, c);
        free(text);
        note_contributor(st, path, (const char (*)[PROXY_VALUE_MAX])before);
    }
}

/* Drop-ins written for the other unit name are a classic mistake (walinuxagent vs waagent). */
static void foreign_dropins(const char *root, size_t unit, struct proxy_config *c)
{
    const char *other = unit_names[1 - unit];
    struct dropin d[MAX_DROPINS];
    size_t n = collect_dropins(root, other, d, MAX_DROPINS);
    if (n == 0)
        return;
    char path[600];
    snprintf(path, sizeof path, "%s/%s.d/%.255s", unit_dirs[d[0].dir], other, d[0].name);
    proxy_add_problem(c, PSRC_AGENT_UNIT, path, 0, "this drop-in is for %s, but the agent's unit is %s: systemd "
                "does not apply it", other, unit_names[unit]);
}

/* The unit file: the first name that has one, from the highest-precedence directory. */
static bool find_unit(const char *root, size_t *unit, char *path, size_t size)
{
    for (size_t u = 0; u < COUNT(unit_names); u++)
        for (size_t i = 0; i < COUNT(unit_dirs); i++) {
            char rel[600], full[4096 + 700];
            snprintf(rel, sizeof rel, "%s/%s", unit_dirs[i], unit_names[u]);
            sysfile_path(root, rel, full, sizeof full);
            struct stat sb;
            if (stat(full, &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            *unit = u;
            snprintf(path, size, "%s", rel);
            return true;
        }
    return false;
}

/* Without the unit file (a bundle that kept only /etc), the drop-ins still say what the agent gets. */
static bool find_dropins_only(const char *root, size_t *unit)
{
    struct dropin d[MAX_DROPINS];
    for (size_t u = 0; u < COUNT(unit_names); u++)
        if (collect_dropins(root, unit_names[u], d, MAX_DROPINS) > 0) {
            *unit = u;
            return true;
        }
    return false;
}

static void discover_unit(const char *root, struct proxy_config *c)
{
    size_t unit;
    char main_path[600] = "";
    bool have_unit = find_unit(root, &unit, main_path, sizeof main_path);
    if (!have_unit && !find_dropins_only(root, &unit))
        return;
    struct unit_state st;
    memset(&st, 0, sizeof st);
    st.e = &c->env[PSRC_AGENT_UNIT];
    st.e->present = true;
    if (have_unit)
        apply_unit_file(root, main_path, &st, c);
    struct dropin d[MAX_DROPINS];
    size_t n = collect_dropins(root, unit_names[unit], d, MAX_DROPINS);
    for (size_t i = 0; i < n; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s.d/%.255s", unit_dirs[d[i].dir], unit_names[unit], d[i].name);
        apply_unit_file(root, path, &st, c);
    }
    apply_env_files(root, &st, c);
    snprintf(st.e->where, sizeof st.e->where, "%.511s", st.contributors[0] ? st.contributors : main_path);
    if (have_unit)
        foreign_dropins(root, unit, c);
}

/* ---- the running agent ----------------------------------------------------------------------- */

/* The running agent (the same scan as the agent.process check): the process extensions inherit. */
static int find_agent(const char *root, char *cmdline, size_t size)
{
    struct guest_agent_procs *procs = calloc(1, sizeof *procs);
    if (!procs)
        return 0;
    guest_agent_scan(root, procs);
    int pid = guest_agent_pick(procs);
    for (size_t i = 0; i < procs->count; i++)
        if (procs->p[i].pid == pid)
            proxy_redact(procs->p[i].cmdline, cmdline, size);
    free(procs);
    return pid;
}

static void discover_process(const char *root, struct proxy_config *c)
{
    c->agent_pid = find_agent(root, c->agent_cmdline, sizeof c->agent_cmdline);
    if (!c->agent_pid)
        return;
    struct proxy_env *e = &c->env[PSRC_AGENT_PROCESS];
    char rel[64];
    size_t len;
    snprintf(rel, sizeof rel, "/proc/%d/environ", c->agent_pid);
    snprintf(e->where, sizeof e->where, "%s", rel);
    char *buf = sysfile_read(root, rel, ENVIRON_MAX, &len);
    if (!buf) {
        int err = errno;
        proxy_add_problem(c, PSRC_AGENT_PROCESS, rel, 0, "cannot read the running agent's environment (%s)%s", strerror(err),
                    err == EACCES || err == EPERM ? ": run as root to see what extensions inherit" : "");
        return;
    }
    e->present = true;
    proxy_env_from_environ(buf, len, e);
    long_values(buf, len, c, PSRC_AGENT_PROCESS, rel);
    free(buf);
}

void proxy_discover(const char *root, char *const *shell_environ, struct proxy_config *out)
{
    memset(out, 0, sizeof *out);
    if (!root)
        root = "";
    discover_shell(shell_environ, out);
    discover_etc_environment(root, out);
    discover_waagent(root, out);
    discover_unit(root, out);
    discover_process(root, out);
}
