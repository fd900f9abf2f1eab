/* Live blame source (--arm): the NIC's effective NSGs and effective routes read from Azure Resource
 * Manager with the VM's managed identity, synchronously, after the probes ran.
 *
 *   1. token   GET {imds}/metadata/identity/oauth2/token?api-version=2018-02-01&resource={endpoint}/
 *   2. vm      GET {endpoint}/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Compute/
 *              virtualMachines/{vm}?api-version=2024-07-01 -> properties.networkProfile.networkInterfaces
 *   3. nic     GET {nicId}?api-version=2024-05-01, primary first, until one has IMDS's MAC (else IP)
 *   4. nsg     POST {nicId}/effectiveNetworkSecurityGroups?api-version=2024-05-01
 *   5. routes  POST {nicId}/effectiveRouteTable?api-version=2024-05-01
 * Steps 4 and 5 are long-running: 200 with the body, or 202 + Location (or Azure-AsyncOperation),
 * polled with GET honouring Retry-After until 200. Both are started before either is polled.
 *
 * Never through a proxy (IMDS must not be proxied; for ARM the direct path is the one the NSG
 * and route verdicts are about, and proxy variables of the probe's environment must not decide
 * where the token goes). Every request is bounded by timeout_ms, the whole fetch by total_ms
 * (monotonic clock), every body by body_cap. The bearer token is only sent to the endpoint's own
 * origin (a poll URL on another host is refused), never logged (no CURLOPT_VERBOSE), and every
 * text in struct arm_result is scrubbed of it. Failures are data: arm_fetch never exits. */
#ifndef AZB_ARM_H
#define AZB_ARM_H

#include <stdbool.h>
#include <stddef.h>

#define ARM_ID_MAX       512
#define ARM_URL_MAX      2048
#define ARM_MAX_NICS     16
#define ARM_BODY_CAP     (16u << 20)
#define ARM_TOTAL_MS     45000L
#define ARM_API_COMPUTE  "2024-07-01"
#define ARM_API_NETWORK  "2024-05-01"
#define ARM_API_IMDS_TOKEN "2018-02-01"

#define ARM_ACTION_NSG    "Microsoft.Network/networkInterfaces/effectiveNetworkSecurityGroups/action"
#define ARM_ACTION_ROUTES "Microsoft.Network/networkInterfaces/effectiveRouteTable/action"

struct arm_request {
    char imds_base[256];        /* "http://169.254.169.254" (cfg->imds) */
    char endpoint[256];         /* "https://management.azure.com", no trailing slash */
    char subscription[64], resource_group[128], vm_name[128];
    char mac[32];               /* IMDS's, any separators; "" = unknown */
    char private_ip[64];        /* IMDS's; "" = unknown */
    const char *ca_blob;        /* PEM trust store (http_client_ca), NULL = libcurl's default */
    size_t ca_len;
    long timeout_ms;            /* each request */
    long total_ms;              /* the whole fetch, 0 = ARM_TOTAL_MS */
    size_t body_cap;            /* 0 = ARM_BODY_CAP */
};

enum arm_step { ARM_STEP_TOKEN = 0, ARM_STEP_VM, ARM_STEP_NIC, ARM_STEP_NSG, ARM_STEP_ROUTES, ARM_STEPS };

enum arm_status {
    ARM_OK = 0,
    ARM_NOT_RUN,        /* an earlier step failed, or the request lacks a fact */
    ARM_NO_IDENTITY,    /* IMDS: no managed identity (400/404 "Identity not found", 500 unknown) */
    ARM_IMDS_ERROR,     /* IMDS answered something else, or not at all */
    ARM_UNAUTHORIZED,   /* ARM 401: the token was refused */
    ARM_FORBIDDEN,      /* ARM 403: the identity lacks a permission */
    ARM_THROTTLED,      /* 429 (retry_after_s says when) */
    ARM_TIMEOUT,        /* a request or the whole fetch ran out of time */
    ARM_NETWORK,        /* no TCP/TLS/HTTP exchange (curl error) */
    ARM_HTTP,           /* another HTTP status */
    ARM_NOT_FOUND,      /* 404, or no NIC of the VM matches IMDS's MAC/IP */
    ARM_MALFORMED,      /* not the JSON expected, too large, or a refused poll URL */
    ARM_NOMEM,
};

struct arm_step_result {
    enum arm_status status;
    long http_status;           /* last HTTP status of the step, 0 if none */
    long ms;                    /* time spent (all polls included) */
    int polls;                  /* GETs of the poll URL (steps 4-5) */
    char error_code[96];        /* ARM/IMDS error code: "AuthorizationFailed", "invalid_request" */
    char request_id[96];        /* x-ms-request-id of the last answer */
    char detail[256];           /* one line, token-free */
};

struct arm_result {
    enum arm_status status;     /* ARM_OK when both effective bodies are there */
    char reason[768];           /* one line for a "skipped blame source" note, "" when ARM_OK */
    struct arm_step_result step[ARM_STEPS];
    long retry_after_s;         /* from a 429, -1 if none */
    long duration_ms;
    char nic_id[ARM_ID_MAX];
    char match[64];             /* how the NIC was chosen: "MAC 000D3A4B5C6D", "IP 10.0.1.4", "only NIC" */
    char *nic_json, *nsg_json, *routes_json;   /* NUL-terminated; any may be NULL on failure */
    size_t nic_len, nsg_len, routes_len;
};

/* Run the five steps. Returns out->status (also filled on failure, with whatever did arrive:
 * e.g. the NSGs without the routes). Call arm_result_free afterwards in every case. */
int arm_fetch(const struct arm_request *req, struct arm_result *out);
void arm_result_free(struct arm_result *r);

const char *arm_step_name(enum arm_step s);     /* "IMDS token", "GET VM", ... */
const char *arm_status_name(enum arm_status s); /* "ok", "no_identity", ... */

/* ---- Pure parts (unit-tested) ------------------------------------------------------------------ */

/* The access_token of an IMDS token answer into tok. 0, or -1 with a token-free reason in err. */
int arm_parse_token(const char *json, size_t len, char *tok, size_t toksize, char *err, size_t errlen);

/* NIC ids of a VM (properties.networkProfile.networkInterfaces[].id), primary first, then in
 * document order. Returns how many (<= max), or -1 when the JSON is not a VM. */
int arm_vm_nic_ids(const char *json, size_t len, char ids[][ARM_ID_MAX], size_t max);

/* How well a NIC (ARM GET or flat `az network nic show`) matches IMDS's MAC / IPv4: 2 = MAC,
 * 1 = private IP of an ip configuration, 0 = neither, -1 = not a NIC. */
int arm_nic_match(const char *json, size_t len, const char *mac, const char *ip);

/* "00-0D-3A-4B-5C-6D", "00:0d:3a:..", "000D3A4B5C6D" -> "000D3A4B5C6D"; false if not 12 hex digits. */
bool arm_mac_normalize(const char *in, char out[13]);

/* Retry-After: delta-seconds or an HTTP-date (now = time(NULL)). Seconds >= 0, or -1. */
long arm_retry_after(const char *value, long now);

/* One raw header line ("Name: value\r\n"): when its name is name (case-insensitive), the trimmed
 * value into out and true. */
bool arm_header(const char *line, size_t len, const char *name, char *out, size_t size);

/* Scheme, host and port of both URLs are equal (the token may be sent to b). */
bool arm_same_origin(const char *a, const char *b);

/* An ARM/IMDS error answer: {"error":{"code","message"}} or {"error":"..","error_description":".."}
 * -> code and message (either may stay ""). */
void arm_error_body(const char *json, size_t len, char *code, size_t codesize, char *msg, size_t msgsize);

/* The one-line reason for a failed step (what failed, why, what to do). */
void arm_describe(enum arm_step step, const struct arm_step_result *s, long retry_after_s,
                  const char *endpoint, char *out, size_t size);

/* Replace every occurrence of secret in s (NUL-terminated, edited in place) by "[redacted]" when
 * it fits, else by '*'s. Secrets shorter than 8 characters are ignored. Returns how many. */
size_t arm_redact(char *s, size_t size, const char *secret);

#endif
