#include "probe/cli.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probe/proxy.h"
#include "targets/catalog.h"

enum opt_id {
    OPT_REGION = 256, OPT_CLOUD, OPT_TARGET, OPT_ACCOUNT, OPT_DNS, OPT_WIRESERVER, OPT_IMDS,
    OPT_CACERT, OPT_TIMEOUT, OPT_PORTS, OPT_FORMAT, OPT_OUTPUT, OPT_ROOT, OPT_LIST, OPT_PARALLEL,
    OPT_PROXY, OPT_NO_PROXY, OPT_INTERFACE, OPT_NO_DHCP, OPT_NSG, OPT_ROUTES, OPT_NIC, OPT_TAGS,
    OPT_ARM, OPT_ARM_ENDPOINT,
    OPT_HELP = 'h', OPT_VERSION = 'V', OPT_VERBOSE = 'v', OPT_QUIET = 'q',
};

struct option_doc {
    const char *name;
    int id;
    const char *arg; /* NULL: no argument */
    const char *help;
};

/* The one option table. */
static const struct option_doc options[] = {
    {"region", OPT_REGION, "NAME", "Azure region (ARM name, e.g. northeurope); default: IMDS compute.location"},
    {"cloud", OPT_CLOUD, "CLOUD", "AzureCloud|AzureChinaCloud|AzureUSGovernment; default: region, IMDS, AzureCloud"},
    {"target", OPT_TARGET, "HOST", "storage host to probe like a storage endpoint (repeatable)"},
    {"storage-account", OPT_ACCOUNT, "NAME", "probe NAME.blob.<cloud storage suffix> (repeatable)"},
    {"dns-server", OPT_DNS, "IP[:PORT]", "resolver to use instead of resolv.conf's (repeatable)"},
    {"wireserver", OPT_WIRESERVER, "IP", "WireServer address (default 168.63.129.16)"},
    {"imds-endpoint", OPT_IMDS, "URL", "IMDS base URL (default http://169.254.169.254)"},
    {"cacert", OPT_CACERT, "FILE", "extra CA bundle (PEM) trusted besides the system store"},
    {"proxy", OPT_PROXY, "URL", "the generic client's HTTP proxy (overrides its environment)"},
    {"no-proxy", OPT_NO_PROXY, "LIST", "hosts that bypass --proxy (curl's no_proxy syntax)"},
    {"timeout", OPT_TIMEOUT, "SECONDS", "per-probe timeout, fractions allowed (default 5)"},
    {"ports", OPT_PORTS, "LIST", "storage ports, comma-separated (default 443,8443)"},
    {"format", OPT_FORMAT, "FMT", "report format: text|markdown|json (default text)"},
    {"output", OPT_OUTPUT, "FILE", "write the report to FILE instead of stdout"},
    {"root", OPT_ROOT, "DIR", "read system files (resolv.conf, /proc, ...) under DIR"},
    {"interface", OPT_INTERFACE, "IFACE", "interface for the live DHCP probe (default: the default route's)"},
    {"no-dhcp", OPT_NO_DHCP, NULL, "do not send the DHCP DISCOVER that looks for option 245"},
    {"nsg", OPT_NSG, "FILE", "NSG export (az network nsg show, ARM, or nic list-effective-nsg); repeatable"},
    {"routes", OPT_ROUTES, "FILE", "effective routes export (az network nic show-effective-route-table)"},
    {"nic", OPT_NIC, "FILE", "NIC export (az network nic show): its NSG, subnet and ASGs"},
    {"service-tags", OPT_TAGS, "FILE", "ServiceTags_*.json to use instead of the built-in snapshot"},
    {"arm", OPT_ARM, NULL, "read the NIC's effective NSGs and routes from ARM with the VM's managed identity"},
    {"arm-endpoint", OPT_ARM_ENDPOINT, "URL", "ARM endpoint for --arm (default: the cloud's management endpoint)"},
    {"parallel", OPT_PARALLEL, "N", "at most N probes in flight (default 64)"},
    {"list-regions", OPT_LIST, NULL, "print the region catalog and exit"},
    {"verbose", OPT_VERBOSE, NULL, "log progress and protocol detail to stderr"},
    {"quiet", OPT_QUIET, NULL, "no progress on stderr"},
    {"help", OPT_HELP, NULL, "show this help and exit"},
    {"version", OPT_VERSION, NULL, "show the version and exit"},
};
#define NOPTIONS (sizeof options / sizeof options[0])

size_t cli_option_count(void) { return NOPTIONS; }
const char *cli_option_long(size_t i) { return i < NOPTIONS ? options[i].name : NULL; }

void cli_usage(FILE *out)
{
    fputs("Usage: azbprobe [OPTION]...\n"
          "Check, from inside an Azure Linux VM, what Azure VM Backup needs from the network.\n\n",
          out);
    for (size_t i = 0; i < NOPTIONS; i++) {
        char left[48];
        const struct option_doc *o = &options[i];
        int sh = o->id < 256 ? o->id : 0;
        snprintf(left, sizeof left, "%s%c%s--%s%s%s", sh ? "-" : "", sh ? sh : ' ', sh ? ", " : "  ",
                 o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(out, "  %-28s %s\n", sh ? left : left + 1, o->help);
    }
    fputs("\nExit status: 0 all required checks passed (warnings allowed), 1 a required check failed,\n"
          "2 usage or input error, 3 internal error.\n",
          out);
}

static int usage_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int usage_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 2;
}

bool cli_parse_timeout(const char *s, long *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > 300)
        return false;
    long r = (long)(v * 1000.0 + 0.5);
    if (r < 1)
        return false;
    *ms = r;
    return true;
}

bool cli_parse_ports(const char *s, int *ports, size_t max, size_t *n)
{
    size_t k = 0;
    const char *p = s;
    if (!*p)
        return false;
    for (;;) {
        char *end;
        if (!isdigit((unsigned char)*p))
            return false;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || v < 1 || v > 65535 || k == max)
            return false;
        for (size_t i = 0; i < k; i++)
            if (ports[i] == v)
                return false;
        ports[k++] = (int)v;
        if (*end == '\0')
            break;
        if (*end != ',')
            return false;
        p = end + 1;
    }
    *n = k;
    return true;
}

bool cli_valid_ipv4(const char *s)
{
    struct in_addr a;
    return inet_pton(AF_INET, s, &a) == 1;
}

/* RFC 1123 host name: labels of 1..63 letters, digits and hyphens, 253 characters at most;
 * an IP literal is accepted too. */
bool cli_valid_hostname(const char *s)
{
    struct in6_addr a6;
    size_t len = strlen(s), label = 0;
    if (cli_valid_ipv4(s) || inet_pton(AF_INET6, s, &a6) == 1)
        return true;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if (isalnum(ch) || ch == '-' || ch == '_') {
            if ((label == 0 && ch == '-') || ++label > 63)
                return false;
        } else {
            return false;
        }
    }
    if (s[len - 1] == '-')
        return false;
    return label > 0 || s[len - 1] == '.';
}

/* Storage account names: 3-24 lower-case letters and digits. */
bool cli_valid_account(const char *s)
{
    size_t len = strlen(s);
    if (len < 3 || len > 24)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static int set_region(struct config *cfg, const char *v, char *err, size_t errlen)
{
    if (catalog_region(v)) {
        snprintf(cfg->region, sizeof cfg->region, "%s", catalog_region(v)->name);
        return 0;
    }
    const char *sug[3];
    size_t n = catalog_suggest(v, sug, 3);
    char list[160] = "";
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(list);
        snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", sug[i]);
    }
    return usage_error(err, errlen, "--region: unknown region '%.64s'%s%s (see --list-regions)", v,
                       n ? "; did you mean " : "", list);
}

static int add_string(char **arr, size_t *n, const char *v, const char *opt, char *err,
                      size_t errlen)
{
    if (*n == CFG_MAX_TARGETS)
        return usage_error(err, errlen, "%s: more than %d values", opt, CFG_MAX_TARGETS);
    arr[*n] = strdup(v);
    if (!arr[*n])
        return usage_error(err, errlen, "out of memory");
    (*n)++;
    return 0;
}

static int check_root(const char *v, char *err, size_t errlen)
{
    struct stat st;
    if (stat(v, &st) != 0)
        return usage_error(err, errlen, "--root: cannot use '%.200s': %s", v, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return usage_error(err, errlen, "--root: '%.200s' is not a directory", v);
    if (access(v, R_OK | X_OK) != 0)
        return usage_error(err, errlen, "--root: cannot read '%.200s': %s", v, strerror(errno));
    return 0;
}

/* An input file option: a readable regular file, copied into dst. */
static int input_file(const char *opt, const char *v, char *dst, size_t size, char *err, size_t errlen)
{
    struct stat st;
    if (strlen(v) >= size)
        return usage_error(err, errlen, "%s: path too long", opt);
    if (stat(v, &st) != 0 || access(v, R_OK) != 0)
        return usage_error(err, errlen, "%s: cannot read '%.200s': %s", opt, v, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return usage_error(err, errlen, "%s: '%.200s' is not a regular file", opt, v);
    snprintf(dst, size, "%s", v);
    return 0;
}

static int set_option(struct config *cfg, int id, const char *v, char *err, size_t errlen)
{
    switch (id) {
    case OPT_REGION:
        return set_region(cfg, v, err, errlen);
    case OPT_CLOUD: {
        const struct cloud *c = catalog_cloud(v);
        if (!c)
            return usage_error(err, errlen,
                               "--cloud: unknown cloud '%.64s' (AzureCloud, AzureChinaCloud, AzureUSGovernment)", v);
        snprintf(cfg->cloud, sizeof cfg->cloud, "%s", c->name);
        return 0;
    }
    case OPT_TARGET:
        if (!cli_valid_hostname(v))
            return usage_error(err, errlen, "--target: '%.200s' is not a host name or IP address", v);
        return add_string(cfg->targets, &cfg->ntargets, v, "--target", err, errlen);
    case OPT_ACCOUNT:
        if (!cli_valid_account(v))
            return usage_error(err, errlen,
                               "--storage-account: '%.64s' is not a storage account name (3-24 lower-case letters and digits)", v);
        return add_string(cfg->accounts, &cfg->naccounts, v, "--storage-account", err, errlen);
    case OPT_DNS:
        if (cfg->ndns == RESOLV_MAX_SERVERS)
            return usage_error(err, errlen, "--dns-server: more than %d servers", RESOLV_MAX_SERVERS);
        if (!dns_server_parse(v, &cfg->dns[cfg->ndns]))
            return usage_error(err, errlen, "--dns-server: '%.64s' is not IP[:PORT]", v);
        cfg->ndns++;
        return 0;
    case OPT_WIRESERVER:
        if (!cli_valid_ipv4(v))
            return usage_error(err, errlen, "--wireserver: '%.64s' is not an IPv4 address", v);
        snprintf(cfg->wireserver, sizeof cfg->wireserver, "%s", v);
        return 0;
    case OPT_IMDS:
        if (strncmp(v, "http://", 7) != 0 || strlen(v) < 8 || strlen(v) >= sizeof cfg->imds ||
            strpbrk(v, " \t\r\n"))
            return usage_error(err, errlen, "--imds-endpoint: '%.200s' is not an http:// URL", v);
        snprintf(cfg->imds, sizeof cfg->imds, "%s", v);
        while (strlen(cfg->imds) > 7 && cfg->imds[strlen(cfg->imds) - 1] == '/')
            cfg->imds[strlen(cfg->imds) - 1] = '\0';
        return 0;
    case OPT_CACERT:
        if (access(v, R_OK) != 0 || strlen(v) >= sizeof cfg->cacert)
            return usage_error(err, errlen, "--cacert: cannot read '%.200s': %s", v, strerror(errno));
        snprintf(cfg->cacert, sizeof cfg->cacert, "%s", v);
        return 0;
    case OPT_PROXY: {
        struct proxy_url u;
        char why[160], shown[PROXY_VALUE_MAX];
        proxy_redact(v, shown, sizeof shown);
        if (strlen(v) >= sizeof cfg->proxy || !proxy_url_parse(v, &u, why, sizeof why))
            return usage_error(err, errlen, "--proxy: '%.200s' is not a usable proxy URL: %s", shown,
                               strlen(v) >= sizeof cfg->proxy ? "too long" : why);
        snprintf(cfg->proxy, sizeof cfg->proxy, "%s", v);
        return 0;
    }
    case OPT_NO_PROXY:
        if (strlen(v) >= sizeof cfg->no_proxy || strpbrk(v, " \t\r\n"))
            return usage_error(err, errlen, "--no-proxy: '%.200s' is not a comma-separated host list", v);
        snprintf(cfg->no_proxy, sizeof cfg->no_proxy, "%s", v);
        return 0;
    case OPT_TIMEOUT:
        if (!cli_parse_timeout(v, &cfg->timeout_ms))
            return usage_error(err, errlen,
                               "--timeout: '%.64s' is not a number of seconds above 0 and at most 300", v);
        return 0;
    case OPT_PORTS:
        if (!cli_parse_ports(v, cfg->ports, CFG_MAX_PORTS, &cfg->nports))
            return usage_error(err, errlen,
                               "--ports: '%.64s' is not a list of distinct ports 1-65535 (at most %d)", v, CFG_MAX_PORTS);
        return 0;
    case OPT_FORMAT:
        if (strcmp(v, "text") == 0)
            cfg->format = FORMAT_TEXT;
        else if (strcmp(v, "markdown") == 0 || strcmp(v, "md") == 0)
            cfg->format = FORMAT_MARKDOWN;
        else if (strcmp(v, "json") == 0)
            cfg->format = FORMAT_JSON;
        else
            return usage_error(err, errlen, "--format: '%.64s' is not text, markdown or json", v);
        return 0;
    case OPT_OUTPUT:
        if (!*v || strlen(v) >= sizeof cfg->output)
            return usage_error(err, errlen, "--output: '%.200s' is not a usable file name", v);
        snprintf(cfg->output, sizeof cfg->output, "%s", v);
        return 0;
    case OPT_ROOT:
        if (strlen(v) >= sizeof cfg->root)
            return usage_error(err, errlen, "--root: path too long");
        if (check_root(v, err, errlen))
            return 2;
        snprintf(cfg->root, sizeof cfg->root, "%s", v);
        while (strlen(cfg->root) > 1 && cfg->root[strlen(cfg->root) - 1] == '/')
            cfg->root[strlen(cfg->root) - 1] = '\0';
        if (strcmp(cfg->root, "/") == 0)
            cfg->root[0] = '\0'; /* the live system, as without --root */
        return 0;
    case OPT_PARALLEL: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (end == v || *end || errno || n < 1 || n > 1024)
            return usage_error(err, errlen, "--parallel: '%.64s' is not a number from 1 to 1024", v);
        cfg->parallel = (int)n;
        return 0;
    }
    case OPT_INTERFACE: {
        size_t n = strlen(v);
        if (n == 0 || n >= 16 || strpbrk(v, "/ \t\r\n:") || strcmp(v, ".") == 0 || strcmp(v, "..") == 0)
            return usage_error(err, errlen, "--interface: '%.64s' is not an interface name", v);
        snprintf(cfg->interface, sizeof cfg->interface, "%s", v);
        return 0;
    }
    case OPT_NO_DHCP: cfg->no_dhcp = true; return 0;
    case OPT_NSG:
        if (cfg->nnsg == sizeof cfg->nsg_files / sizeof cfg->nsg_files[0])
            return usage_error(err, errlen, "--nsg: more than %zu files", cfg->nnsg);
    {
        char path[4096];
        if (input_file("--nsg", v, path, sizeof path, err, errlen))
            return 2;
        if (!(cfg->nsg_files[cfg->nnsg] = strdup(path)))
            return usage_error(err, errlen, "out of memory");
        cfg->nnsg++;
        return 0;
    }
    case OPT_ARM: cfg->arm = true; return 0;
    case OPT_ARM_ENDPOINT:
        if (strncmp(v, "https://", 8) != 0 || strlen(v) < 9 || strlen(v) >= sizeof cfg->arm_endpoint ||
            strpbrk(v, " \t\r\n?#"))
            return usage_error(err, errlen, "--arm-endpoint: '%.200s' is not an https:// URL", v);
        snprintf(cfg->arm_endpoint, sizeof cfg->arm_endpoint, "%s", v);
        while (strlen(cfg->arm_endpoint) > 8 && cfg->arm_endpoint[strlen(cfg->arm_endpoint) - 1] == '/')
            cfg->arm_endpoint[strlen(cfg->arm_endpoint) - 1] = '\0';
        return 0;
    case OPT_ROUTES:
        return input_file("--routes", v, cfg->routes_file, sizeof cfg->routes_file, err, errlen);
    case OPT_NIC:
        return input_file("--nic", v, cfg->nic_file, sizeof cfg->nic_file, err, errlen);
    case OPT_TAGS:
        return input_file("--service-tags", v, cfg->service_tags, sizeof cfg->service_tags, err, errlen);
    case OPT_LIST: cfg->list_regions = true; return 0;
    case OPT_VERBOSE: cfg->verbose++; return 0;
    case OPT_QUIET: cfg->quiet = true; return 0;
    case OPT_HELP: cfg->help = true; return 0;
    case OPT_VERSION: cfg->version = true; return 0;
    }
    return usage_error(err, errlen, "internal: unhandled option %d", id);
}

static void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->imds, sizeof cfg->imds, "%s", DEFAULT_IMDS);
    cfg->timeout_ms = 5000;
    cfg->ports[0] = 443;
    cfg->ports[1] = 8443;
    cfg->nports = 2;
    cfg->parallel = 64;
}

int cli_parse(int argc, char **argv, struct config *cfg, char *err, size_t errlen)
{
    struct option longopts[NOPTIONS + 1];
    char shortopts[2 * NOPTIONS + 2] = ":";
    size_t ns = 1;
    for (size_t i = 0; i < NOPTIONS; i++) {
        longopts[i] = (struct option){options[i].name, options[i].arg ? required_argument : no_argument,
                                      NULL, options[i].id};
        if (options[i].id < 256)
            shortopts[ns++] = (char)options[i].id;
    }
    longopts[NOPTIONS] = (struct option){0, 0, 0, 0};
    shortopts[ns] = '\0';

    config_defaults(cfg);
    optind = 0; /* glibc: a full reset, also of a half-read option group */
    opterr = 0;
    int id;
    while ((optopt = 0, id = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (id == '?' && optopt)
            return usage_error(err, errlen, "unknown option '-%c' (see --help)", optopt);
        if (id == '?')
            return usage_error(err, errlen, "unknown option '%.64s' (see --help)", argv[optind - 1]);
        if (id == ':')
            return usage_error(err, errlen, "option '%.64s' needs a value", argv[optind - 1]);
        int rc = set_option(cfg, id, optarg, err, errlen);
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error(err, errlen, "unexpected argument '%.64s' (see --help)", argv[optind]);
    return 0;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < cfg->ntargets; i++)
        free(cfg->targets[i]);
    for (size_t i = 0; i < cfg->naccounts; i++)
        free(cfg->accounts[i]);
    for (size_t i = 0; i < cfg->nnsg; i++)
        free(cfg->nsg_files[i]);
    cfg->nnsg = 0;
    cfg->ntargets = cfg->naccounts = 0;
}
