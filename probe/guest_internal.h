/* Shared by the guest_*.c files only: the run's context (waagent.conf and the agent processes are
 * read once and used by several checks) and small bounded text helpers. */
#ifndef AZB_GUEST_INTERNAL_H
#define AZB_GUEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "probe/check.h"
#include "probe/guest.h"
#include "probe/waagent_conf.h"

#define GUEST_TEXT_MAX (1u << 20)   /* configuration files */
#define GUEST_SMALL_MAX (64u << 10) /* /proc and /sys files, status files */
#define GUEST_MAX_FILES 128         /* files read from one directory */
#define GUEST_EV_MAX 1024           /* one evidence value */

struct guest_ctx {
    const char *root;
    bool as_root;
    struct waagent_conf conf;  /* conf.path is "" when no waagent.conf was found */
    char lib_dir[256];         /* Lib.Dir, default /var/lib/waagent */
    struct guest_agent_procs procs;
    bool agent_installed;      /* a process, the lib dir, a unit file or waagent.conf exists */
    char unit[32];             /* "walinuxagent" or "waagent": the service's name on this distro */
};

void guest_agent_checks(struct guest_ctx *g, struct check_list *out);     /* guest_agent.c */
void guest_extension_check(struct guest_ctx *g, struct check_list *out);  /* guest_extension.c */
void guest_system_checks(struct guest_ctx *g, struct check_list *out);    /* guest_system.c */
void guest_static_check(struct guest_ctx *g, struct check_list *out);     /* guest_static.c */

/* A new check; NULL when out of memory (the pointer is valid until the next checks_add). */
struct check *guest_new(struct check_list *out, const char *id, const char *target);
/* Outcome, required (the check is a hard prerequisite: its failure fails the run), and the status
 * they imply: OK pass, skipped skip (never required), required fail, else warn. */
void guest_set(struct check *c, enum outcome o, bool required);
/* Start why with what the grade means for the run: "required: ", "warning only: ", "informational: "
 * or "not checked: " (the check texts leave it out, so it always matches the final status). */
void guest_finish(struct check *c);
/* Append "; text" to an evidence value (created when absent), capped at GUEST_EV_MAX. */
void guest_ev_add(struct check *c, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A file under root, or NULL with *err = errno (ENOENT for absent). */
char *guest_read(const struct guest_ctx *g, const char *path, size_t max, size_t *len, int *err);
/* Whether root+path is a directory / exists. */
bool guest_is_dir(const char *root, const char *path);
bool guest_exists(const char *root, const char *path);

/* Names in root+dir that start with prefix and end with suffix (either may be ""), no dot files,
 * sorted; at most max. Returns the count, or -1 with *err when the directory cannot be opened. */
int guest_list_dir(const char *root, const char *dir, const char *prefix, const char *suffix,
                   char (*names)[256], size_t max, int *err);

/* Lines of a buffer: CR before LF (and a lone final CR) removed; NUL bytes stay in the line. */
struct guest_lines {
    const char *p, *end;
    int no;
};
void guest_lines_init(struct guest_lines *l, const char *text, size_t len);
bool guest_lines_next(struct guest_lines *l, const char **ls, const char **le);

void guest_trim(const char **p, const char **e);
bool guest_eq(const char *p, const char *e, const char *word);   /* exact */
bool guest_ieq(const char *p, const char *e, const char *word);  /* ASCII case-insensitive */
/* [p, e) made printable (controls and NULs -> '?'), cut with "..." to fit. */
void guest_printable(const char *p, const char *e, char *out, size_t size);
/* Whether [p, e) holds an IPv4 address (four dotted numbers 0-255, not inside a longer token). */
bool guest_has_ipv4(const char *p, const char *e);

/* KEY=VALUE files in shell syntax (ifcfg, os-release, /etc/default): "export " allowed, value in
 * single or double quotes or bare up to a blank or " #". Lines that are not assignments are skipped.
 * Returns false at the end. */
bool guest_kv_next(struct guest_lines *l, char *key, size_t ksize, char *val, size_t vsize, int *line);

#endif
