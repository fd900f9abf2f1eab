/* IMDS instance metadata (GET /metadata/instance, JSON): the few fields azbprobe uses. Pure. */
#ifndef AZB_IMDS_H
#define AZB_IMDS_H

#include <stdbool.h>
#include <stddef.h>

#define IMDS_MAX_VHD_HOSTS 8

struct imds_info {
    char location[64];
    char az_environment[64];
    char vm_id[64];
    char name[128];
    char resource_group[128];
    char subscription[64];
    char private_ip[64];   /* first NIC, first IPv4 address */
    char subnet[64];       /* address/prefix */
    char mac[32];
    bool unmanaged_disks;  /* a disk with a vhd.uri (storage account disks) */
    char vhd_hosts[IMDS_MAX_VHD_HOSTS][256];
    size_t nvhd_hosts;
};

/* Parse the JSON text. Returns false with a reason in err when it is not instance metadata. */
bool imds_parse(const char *json, size_t len, struct imds_info *out, char *err, size_t errlen);

#endif
