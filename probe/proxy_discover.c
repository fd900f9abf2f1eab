/* Finding every proxy setting a consumer could see, all under --root: this shell, /etc/environment,
 * waagent.conf, the agent's systemd unit (with drop-ins and EnvironmentFile=, in systemd's order)
 * and the running agent's own environment, which is what extensions inherit. Every read is
 * bounded; whatever is missing or unreadable becomes a problem, never a failure. */
#include "probe/proxy.h"
#include "probe/sysfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define TEXT_MAX (1u << 20)      /* configuration files */
#define CMDLINE_MAX 4096u        /* enough to recognise the agent */
#define ENVIRON_MAX (256u << 10) /* a process environment */
#define MAX_DROPINS 64
#define MAX_ENV_FILES 16

static const char *const unit_dirs[] = {"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
                                        "/lib/systemd/system"}; /* systemd's precedence, highest first */
static const char *const unit_names[] = {"walinuxagent.service", "waagent.service"};
static const char *const conf_paths[] = {"/etc/waagent.conf", "/usr/share/oem/waagent.conf",
                                         "/usr/share/defaults/waagent/waagent.conf", "/usr/local/etc/waagent.conf"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void add_problem(struct proxy_config *c, enum proxy_source s, const char *where, int line,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void add_problem(struct proxy_config *c, enum proxy_source s, const char *where, int line,
                        const char *fmt, ...)
{
    if (!c || c->nproblems >= PROXY_MAX_PROBLEMS)
        return;
    struct proxy_problem *p = &c->problems[c->nproblems++];
    p->source = s;
    p->line = line;
    snprintf(p->where, sizeof p->where, "%s", where ? where : "");
    if (c->nproblems == PROXY_MAX_PROBLEMS) { /* the last slot says the list is incomplete */
        p->line = 0;
        snprintf(p->text, sizeof p->text, "more problems were found and not listed");
        return;
    }
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    proxy_redact(tmp, p->text, sizeof p->text);
    for (char *q = p->text; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
}

/* A file under root; NULL when absent. Other failures (permissions) are problems. */
static char *read_text(const char *root, const char *path, size_t max, size_t *len, struct proxy_config *c,
                       enum proxy_source s)
{
    char *text = sysfile_read(root, path, max, len);
    if (!text && errno != ENOENT && errno != ENOTDIR)
        add_problem(c, s, path, 0, "cannot read %s: %s", path, strerror(errno));
    else if (text && *len >= max)
        add_problem(c, s, path, 0, "longer than %zu bytes: only the start was read", max);
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
                add_problem(c, s, where, 0, "%s is longer than %d bytes: cut", name, PROXY_VALUE_MAX - 1);
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
    for (size_t i = 0; i < COUNT(conf_paths); i++) {
        size_t len;
        char *text = sysfile_read(root, conf_paths[i], TEXT_MAX, &len);
        if (!text && (errno == ENOENT || errno == ENOTDIR))
            continue;
        snprintf(c->waagent.path, sizeof c->waagent.path, "%s", conf_paths[i]);
        if (!text) {
            add_problem(c, PSRC_WAAGENT_CONF, conf_paths[i], 0, "cannot read %s: %s", conf_paths[i], strerror(errno));
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
                add_problem(c, PSRC_AGENT_UNIT, path, 0, "EnvironmentFile=%s cannot be read (%s)%s", path,
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
    add_problem(c, PSRC_AGENT_UNIT, path, 0, "this drop-in is for %s, but the agent's unit is %s: systemd "
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

static bool all_digits(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 10)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static bool arg_sep(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '\n';
}

/* 2: the agent's -run-exthandlers process, 1: its -daemon, 0: anything else. Words are split at
 * NULs and blanks: a process may rewrite its argv into one string. */
static int agent_kind(const char *buf, size_t len)
{
    bool agent = false;
    int kind = 0;
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *q = p;
        while (q < end && !arg_sep(*q))
            q++;
        size_t n = (size_t)(q - p);
        if (memmem(p, n, "waagent", 7) || memmem(p, n, "WALinuxAgent", 12))
            agent = true;
        const char *w = p;
        while (w < q && *w == '-')
            w++;
        if (w > p && (size_t)(q - w) == 15 && memcmp(w, "run-exthandlers", 15) == 0)
            kind = 2;
        else if (w > p && (size_t)(q - w) == 6 && memcmp(w, "daemon", 6) == 0 && kind < 1)
            kind = 1;
        p = q + 1;
    }
    return agent ? kind : 0;
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
    proxy_redact(tmp, out, size);
}

/* The lowest pid of the preferred kind, so the choice does not depend on readdir order. */
static int find_agent(const char *root, char *cmdline, size_t size)
{
    char full[4096 + 16];
    sysfile_path(root, "/proc", full, sizeof full);
    DIR *dir = opendir(full);
    long best = 0;
    int best_kind = 0;
    for (struct dirent *de; dir && (de = readdir(dir)) != NULL;) {
        if (!all_digits(de->d_name))
            continue;
        char rel[64];
        size_t len;
        long pid = strtol(de->d_name, NULL, 10);
        snprintf(rel, sizeof rel, "/proc/%ld/cmdline", pid);
        char *buf = sysfile_read(root, rel, CMDLINE_MAX, &len);
        int kind = buf ? agent_kind(buf, len) : 0;
        if (kind && (kind > best_kind || (kind == best_kind && pid < best))) {
            best = pid;
            best_kind = kind;
            printable_cmdline(buf, len, cmdline, size);
        }
        free(buf);
    }
    if (dir)
        closedir(dir);
    return best > 0 && best <= 0x7fffffff ? (int)best : 0;
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
        add_problem(c, PSRC_AGENT_PROCESS, rel, 0, "cannot read the running agent's environment (%s)%s", strerror(err),
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
