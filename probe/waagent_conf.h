/* waagent.conf as the Linux guest agent reads it (azurelinuxagent/common/conf.py,
 * ConfigurationProvider.load): lines that start with '#' or have no '=' are skipped (an indented
 * "# x = y" is NOT a comment to the agent), the line is split on its first '=', the key is stripped,
 * the value is the text before the first '#' with '"' and ' ' stripped from both ends and then
 * whitespace (so a quote before a CR survives), the literal "None" means unset, and the last
 * assignment wins. Every assignment is kept, in file order, so callers can name the line the agent
 * uses and the earlier ones it ignores. The backup extension reads the same file with a stricter
 * parser of its own; that one lives in proxy_waagent.c. */
#ifndef AZB_WAAGENT_CONF_H
#define AZB_WAAGENT_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define WAAGENT_CONF_TEXT_MAX (1u << 20) /* a longer file is read up to here */
#define WAAGENT_CONF_MAX_ENTRIES 4096    /* assignments kept; later ones are counted, not stored */

/* Where the agent's OS layer looks, in the order waagent_conf_find tries them: the default, CoreOS,
 * Clear Linux, FreeBSD. */
extern const char *const waagent_conf_paths[];
extern const size_t waagent_conf_npaths;

struct waagent_entry {
    const char *key;   /* stripped, NUL-terminated; points into the parser's own copy */
    size_t key_len;    /* its length in the file: more than strlen(key) when the key holds a NUL
                          byte, and such a key then equals no real key */
    const char *value; /* processed as the agent does; "" when none */
    size_t value_len;  /* the processed value's length in the file (a NUL byte inside ends the C
                          string earlier: value_len > strlen(value) then) */
    bool none;         /* the literal None: the key is unset again */
    int line;          /* 1-based */
    int prev_line;     /* the previous assignment to the same key, 0 when this is the first */
};

struct waagent_conf {
    bool present;      /* a file was found (and read, when read_errno is 0) */
    int read_errno;    /* found but unreadable (EACCES...): 0 otherwise */
    bool empty;        /* the agent refuses an empty file ("Can't not parse empty configuration") */
    bool cut;          /* longer than WAAGENT_CONF_TEXT_MAX: only the start was read */
    char path[256];    /* as under the root, "" when none was found */
    char *text;        /* owned copy, split in place */
    struct waagent_entry *entries;
    size_t count;
    size_t dropped;    /* assignments beyond WAAGENT_CONF_MAX_ENTRIES */
    int lines;
};

/* Parse len bytes (need not be NUL-terminated; NULL means empty). Returns false only when out of
 * memory (out is then empty but valid). Any earlier content of out is NOT freed: start from a
 * zeroed struct or call waagent_conf_free first. */
bool waagent_conf_parse(const char *text, size_t len, struct waagent_conf *out);
void waagent_conf_free(struct waagent_conf *c);

/* The first known path under root that exists (readable or not), copied to path_out; false when
 * none does. The agent itself takes one fixed path per distribution; this is the best guess from
 * outside. */
bool waagent_conf_find(const char *root, char *path_out, size_t size);

/* waagent_conf_find, then read and parse. Always leaves out valid; false when no file was found
 * or it could not be read (out->present and out->read_errno tell which). */
bool waagent_conf_load(const char *root, struct waagent_conf *out);

/* Whether this assignment is to key (a key holding a NUL byte is to none). */
bool waagent_entry_is(const struct waagent_entry *e, const char *key);

/* The assignment the agent uses for key (the last one, a "None" included), or NULL. */
const struct waagent_entry *waagent_conf_entry(const struct waagent_conf *c, const char *key);

/* The agent's getters. String: the value, or def when absent or None (an empty value is "").
 * Switch: 'y'/'n' in any case, anything else -> def. Integer: Python int() (sign, digits, single
 * underscores between digits, surrounding blanks), anything else -> def. */
const char *waagent_conf_str(const struct waagent_conf *c, const char *key, const char *def);
bool waagent_conf_bool(const struct waagent_conf *c, const char *key, bool def);
long waagent_conf_int(const struct waagent_conf *c, const char *key, long def);

/* Python int() of a C string; false when Python would raise. Values beyond +-1e9 are capped. */
bool waagent_python_int(const char *s, long *out);

#endif
