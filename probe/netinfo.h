/* Where traffic leaves from: the interface that owns a local address, and the source address
 * the kernel would pick for a destination (a connected UDP socket: no packet is sent). */
#ifndef AZB_NETINFO_H
#define AZB_NETINFO_H

#include <stdbool.h>
#include <stddef.h>

bool netinfo_ifname(const char *local_ip, char *ifname, size_t size);
bool netinfo_route_source(const char *dst_ip, char *src, size_t size);

#endif
