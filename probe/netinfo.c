#include "probe/netinfo.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

bool netinfo_ifname(const char *local_ip, char *ifname, size_t size)
{
    struct in_addr want;
    struct ifaddrs *list = NULL;
    bool found = false;
    if (inet_pton(AF_INET, local_ip, &want) != 1 || getifaddrs(&list) != 0)
        return false;
    for (struct ifaddrs *i = list; i && !found; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
            continue;
        if (((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == want.s_addr) {
            snprintf(ifname, size, "%s", i->ifa_name);
            found = true;
        }
    }
    freeifaddrs(list);
    return found;
}

bool netinfo_route_source(const char *dst_ip, char *src, size_t size)
{
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(9)};
    if (inet_pton(AF_INET, dst_ip, &dst.sin_addr) != 1)
        return false;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in me;
    socklen_t len = sizeof me;
    bool ok = connect(fd, (struct sockaddr *)&dst, sizeof dst) == 0 &&
              getsockname(fd, (struct sockaddr *)&me, &len) == 0 &&
              inet_ntop(AF_INET, &me.sin_addr, src, (socklen_t)size) != NULL;
    close(fd);
    return ok;
}
