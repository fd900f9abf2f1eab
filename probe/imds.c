#include "probe/imds.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

/* Follow a path of object keys; NULL when any step is missing or not an object. */
static struct json_object *dig(struct json_object *o, const char *const *keys)
{
    for (; o && *keys; keys++) {
        struct json_object *next = NULL;
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, *keys, &next))
            return NULL;
        o = next;
    }
    return o;
}

static void copy_str(struct json_object *o, char *dst, size_t size)
{
    if (o && json_object_is_type(o, json_type_string))
        snprintf(dst, size, "%s", json_object_get_string(o));
}

static struct json_object *first(struct json_object *arr)
{
    if (!arr || !json_object_is_type(arr, json_type_array) || json_object_array_length(arr) == 0)
        return NULL;
    return json_object_array_get_idx(arr, 0);
}

/* https://ACCOUNT.blob.core.windows.net/vhds/x.vhd -> ACCOUNT.blob.core.windows.net */
static void add_vhd(struct imds_info *out, struct json_object *disk)
{
    static const char *const uri_path[] = {"vhd", "uri", NULL};
    struct json_object *uri = dig(disk, uri_path);
    if (!uri || !json_object_is_type(uri, json_type_string) || out->nvhd_hosts == IMDS_MAX_VHD_HOSTS)
        return;
    const char *s = json_object_get_string(uri);
    const char *p = strstr(s, "://");
    if (!p || !p[3])
        return;
    p += 3;
    size_t n = strcspn(p, "/:?#");
    if (n == 0 || n >= sizeof out->vhd_hosts[0])
        return;
    out->unmanaged_disks = true;
    for (size_t i = 0; i < out->nvhd_hosts; i++)
        if (strncmp(out->vhd_hosts[i], p, n) == 0 && out->vhd_hosts[i][n] == '\0')
            return;
    memcpy(out->vhd_hosts[out->nvhd_hosts], p, n);
    out->vhd_hosts[out->nvhd_hosts++][n] = '\0';
}

bool imds_parse(const char *json, size_t len, struct imds_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct json_tokener *tok = json_tokener_new_ex(32);
    if (!tok) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    struct json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        snprintf(err, errlen, "not JSON (%s)", json_tokener_error_desc(jerr));
        json_object_put(root);
        return false;
    }
    static const char *const compute[] = {"compute", NULL};
    struct json_object *c = dig(root, compute);
    if (!c || !json_object_is_type(c, json_type_object)) {
        snprintf(err, errlen, "no \"compute\" object");
        json_object_put(root);
        return false;
    }
    static const char *const k_loc[] = {"location", NULL}, *const k_env[] = {"azEnvironment", NULL},
                             *const k_id[] = {"vmId", NULL}, *const k_name[] = {"name", NULL},
                             *const k_rg[] = {"resourceGroupName", NULL}, *const k_subs[] = {"subscriptionId", NULL},
                             *const k_os[] = {"storageProfile", "osDisk", NULL},
                             *const k_data[] = {"storageProfile", "dataDisks", NULL},
                             *const k_nic[] = {"network", "interface", NULL};
    copy_str(dig(c, k_loc), out->location, sizeof out->location);
    copy_str(dig(c, k_env), out->az_environment, sizeof out->az_environment);
    copy_str(dig(c, k_id), out->vm_id, sizeof out->vm_id);
    copy_str(dig(c, k_name), out->name, sizeof out->name);
    copy_str(dig(c, k_rg), out->resource_group, sizeof out->resource_group);
    copy_str(dig(c, k_subs), out->subscription, sizeof out->subscription);
    add_vhd(out, dig(c, k_os));
    struct json_object *data = dig(c, k_data);
    if (data && json_object_is_type(data, json_type_array))
        for (size_t i = 0; i < json_object_array_length(data); i++)
            add_vhd(out, json_object_array_get_idx(data, i));

    struct json_object *nic = first(dig(root, k_nic));
    static const char *const k_mac[] = {"macAddress", NULL}, *const k_ips[] = {"ipv4", "ipAddress", NULL},
                             *const k_priv[] = {"privateIpAddress", NULL},
                             *const k_sub[] = {"ipv4", "subnet", NULL}, *const k_addr[] = {"address", NULL},
                             *const k_pfx[] = {"prefix", NULL};
    copy_str(dig(nic, k_mac), out->mac, sizeof out->mac);
    copy_str(dig(first(dig(nic, k_ips)), k_priv), out->private_ip, sizeof out->private_ip);
    struct json_object *sub = first(dig(nic, k_sub));
    char addr[48] = "", pfx[8] = "";
    copy_str(dig(sub, k_addr), addr, sizeof addr);
    copy_str(dig(sub, k_pfx), pfx, sizeof pfx);
    if (addr[0])
        snprintf(out->subnet, sizeof out->subnet, "%s/%s", addr, pfx[0] ? pfx : "?");
    json_object_put(root);
    return true;
}
