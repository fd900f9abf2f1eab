/* HTTP proxies as each Azure consumer sees them. Three consumers decide independently whether to
 * use a proxy (see README "Proxies"): the guest agent (waagent.conf HttpProxy.Host+Port, else its
 * own process environment, no_proxy by plain suffix), the backup snapshot extension (waagent.conf
 * only, and inverted: a proxy only when Host is set and Port is NOT, then on port 443), and
 * generic libcurl/curl clients (the environment, curl's no_proxy rules). This module finds every
 * configured proxy (all under --root) and decides, purely, the path each consumer takes.
 * Credentials are kept for use but never leave this module unredacted. */
#ifndef AZB_PROXY_H
#define AZB_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#define PROXY_VALUE_MAX 512

struct proxy_config;

enum proxy_source {
    PSRC_CLI,             /* --proxy URL, --no-proxy LIST */
    PSRC_SHELL,           /* this process's environment */
    PSRC_ETC_ENVIRONMENT, /* <root>/etc/environment */
    PSRC_AGENT_UNIT,      /* the agent's systemd unit and drop-ins: Environment=, EnvironmentFile= */
    PSRC_AGENT_PROCESS,   /* /proc/<pid>/environ of the running agent (what extensions inherit) */
    PSRC_WAAGENT_CONF,    /* HttpProxy.Host / HttpProxy.Port */
    PSRC_COUNT
};
const char *proxy_source_name(enum proxy_source s); /* "command line", "this shell", ... */

enum proxy_var {
    PV_HTTPS_LOWER, PV_HTTPS_UPPER, PV_HTTP_LOWER, PV_HTTP_UPPER, PV_ALL_LOWER, PV_ALL_UPPER,
    PV_NO_LOWER, PV_NO_UPPER, PV_COUNT
};
const char *proxy_var_name(enum proxy_var v); /* "https_proxy", "HTTPS_PROXY", ... "NO_PROXY" */

struct proxy_url {
    char scheme[16];        /* "http" or "https" ("http" when the value had none) */
    bool scheme_given;
    char host[256];         /* IPv6 literal without brackets */
    int port;               /* 0 when the value had none */
    bool has_credentials;
    char user[128], password[128]; /* for CURLOPT_PROXYUSERPWD only; never printed */
    char redacted[PROXY_VALUE_MAX]; /* scheme://user:***@host:port, for every output */
};

/* Parse [scheme://][user[:password]@]host[:port] the way curl reads a proxy value. Returns false
 * with a reason in err that names the problem but never the password: empty or missing host
 * ("http://:80"), a scheme other than http/https ("ftp://x"), port 0 or above 65535 or not a
 * number, an IPv6 literal without brackets, spaces or control characters. */
bool proxy_url_parse(const char *value, struct proxy_url *out, char *err, size_t errlen);

/* Record a problem found in a source (printf-style; redacted and made printable; the last slot
 * of the bounded list says that more were found). */
void proxy_add_problem(struct proxy_config *c, enum proxy_source s, const char *where, int line,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Copy in to out with the password of any "scheme://user:password@" replaced by "***". */
void proxy_redact(const char *in, char *out, size_t size);

/* The proxy variables of one environment (one source). */
struct proxy_env {
    bool present;                         /* the source exists and was read */
    char where[512];                      /* file path, "/proc/1234/environ", "environment" */
    char value[PV_COUNT][PROXY_VALUE_MAX];/* "" when unset */
    int line[PV_COUNT];                   /* line where set (files), 0 otherwise */
};

struct waagent_proxy {
    bool present;
    char path[512];
    /* as the guest agent reads it (azurelinuxagent/common/conf.py): split on the first '=',
     * key and value stripped, value cut at '#', quotes stripped, "None" = unset, last one wins */
    char host[256];
    int host_line;          /* 0: not set */
    char port_raw[64];
    int port;               /* 0: unset or not an integer (the agent then goes direct) */
    int port_line;
    /* as the backup extension reads it (VMBackup WaagentLib.py: line.split()[0].split('=')):
     * "HttpProxy.Host = x" (spaces around '=') breaks its parser and it goes direct */
    bool vmb_ok;
    char vmb_error[256];
    char vmb_host[256];     /* "" when unset */
    bool vmb_port_set;
};

struct proxy_problem {
    enum proxy_source source;
    char where[512];
    int line;               /* 0: not line-specific */
    char text[256];         /* redacted */
};

#define PROXY_MAX_PROBLEMS 32

struct proxy_config {
    struct proxy_env env[PSRC_COUNT];  /* used for SHELL, ETC_ENVIRONMENT, AGENT_UNIT, AGENT_PROCESS */
    struct waagent_proxy waagent;
    bool cli_set;                      /* --proxy given */
    struct proxy_url cli;
    char cli_no_proxy[PROXY_VALUE_MAX];/* --no-proxy LIST (for the generic client with --proxy) */
    int agent_pid;                     /* 0: no running agent found */
    char agent_cmdline[256];
    struct proxy_problem problems[PROXY_MAX_PROBLEMS];
    size_t nproblems;
};

/* Discovery, all under root ("" = /): <root>/etc/environment; the agent's unit files
 * (walinuxagent.service, waagent.service under /etc/systemd/system, /run/systemd/system,
 * /usr/lib/systemd/system, /lib/systemd/system, with NAME.service.d drop-ins ending .conf, Environment=
 * and EnvironmentFile=); the running agent's /proc/<pid>/environ (cmdline containing waagent or
 * WALinuxAgent with -daemon or -run-exthandlers; the -run-exthandlers one preferred); waagent.conf
 * (/etc/waagent.conf, /usr/share/oem/waagent.conf, /usr/share/defaults/waagent/waagent.conf,
 * /usr/local/etc/waagent.conf: the first that exists). shell_environ is the process environment
 * (NULL to ignore). Reads are bounded; bad lines become problems with source and line; never fails.
 * The caller sets cli/cli_set/cli_no_proxy afterwards. */
void proxy_discover(const char *root, char *const *shell_environ, struct proxy_config *out);

/* The pure parsers behind discovery (len bytes, need not be NUL-terminated). */
void proxy_env_from_environ(const char *buf, size_t len, struct proxy_env *e);       /* NUL-separated */
void proxy_env_from_file(const char *text, size_t len, struct proxy_env *e,
                         struct proxy_config *problems_to);                          /* /etc/environment */
/* systemd unit text: Environment= assignments (quoted, several per line) into e; the paths of
 * EnvironmentFile= (a leading '-' means optional) into files. Returns the number of files; an
 * empty entry means "EnvironmentFile=" reset the list (forget files from earlier units). */
size_t proxy_env_from_unit(const char *text, size_t len, struct proxy_env *e, char files[][512],
                           size_t max_files, struct proxy_config *problems_to);
void waagent_proxy_parse(const char *text, size_t len, struct waagent_proxy *w,
                         struct proxy_config *problems_to);

enum consumer { CONSUMER_AGENT, CONSUMER_BACKUP, CONSUMER_CLIENT, CONSUMER_COUNT };
const char *consumer_name(enum consumer c); /* "guest agent", "backup extension", "generic client" */

struct proxy_path {
    bool direct;
    struct proxy_url proxy;   /* !direct: where to CONNECT (port filled: 1080 curl default,
                                 443 for the backup extension's inverted case) */
    enum proxy_source source; /* the source that decided */
    char why[256];            /* one line, redacted: "HttpProxy.Host and HttpProxy.Port set in
                                 /etc/waagent.conf (lines 12, 13)", "no_proxy entry .core.windows.net
                                 matches", "HttpProxy.Host set without HttpProxy.Port: the agent goes
                                 direct", ... */
};

/* Pure: the path consumer c takes to host (https or http URL).
 * Guest agent: no_proxy (then NO_PROXY) of its environment matched agent-style -> direct; else
 *   waagent.conf Host+Port both set -> that proxy (Host without Port -> direct, env NOT consulted);
 *   else its environment: https: https_proxy then HTTPS_PROXY; http: http_proxy then HTTP_PROXY;
 *   a value without scheme or without port -> direct (Python urlparse); credentials dropped.
 *   Its environment = AGENT_PROCESS if present, else AGENT_UNIT, else none.
 * Backup extension: waagent.conf through VMBackup's parser only; parse failure -> direct;
 *   vmb_host set and port NOT set -> proxy vmb_host:443; otherwise direct. Never the environment.
 * Generic client: --proxy (with --no-proxy) if given; else this shell's environment, or
 *   /etc/environment when the shell has no proxy variable; curl rules: https: https_proxy,
 *   HTTPS_PROXY, all_proxy, ALL_PROXY; http: http_proxy (lower case only), all_proxy, ALL_PROXY;
 *   no_proxy then NO_PROXY with curl matching; no scheme -> http, no port -> 1080. */
void proxy_decide(const struct proxy_config *cfg, enum consumer c, const char *host, bool https,
                  struct proxy_path *out);

/* no_proxy matching. Agent: comma list, spaces removed; an IPv4 host matches an entry that is the
 * same address or a CIDR (mask 1-32) containing it; a name matches when it ends with the entry
 * (case-insensitive, no dot boundary, no wildcard). Curl: "*" alone matches all; an entry matches
 * the host itself or any host in that domain (dot boundary), a leading dot ignored; IP and CIDR. */
bool noproxy_match_agent(const char *list, const char *host);
bool noproxy_match_curl(const char *list, const char *host);

#endif
