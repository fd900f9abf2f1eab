/* dhcp.live245 and dhcp.lease245: the fabric (WireServer) address from DHCP option 245.
 *
 * The live probe sends the guest agent's own DISCOVER (never REQUEST, RELEASE or DECLINE: a
 * DISCOVER commits no lease, RFC 2131 section 3.1) and captures the OFFER with libpcap, which
 * works while the VM's DHCP client holds port 68. A child process opens the capture as root,
 * then drops to nobody before it reads a single packet, and hands the parsed reply back through
 * a pipe: the parser never runs with privileges (the mtr pattern). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe/dhcp_packet.h"
#include "probe/engine.h"
#include "probe/lease.h"
#include "probe/probes.h"
#include "probe/routes.h"
#include "probe/sysfile.h"

#define NOBODY 65534

enum capture_status { CAP_OFFER, CAP_NO_OFFER, CAP_NO_PRIVILEGE, CAP_ERROR };

/* What the capture child reports: written once, in one write (smaller than PIPE_BUF). */
struct capture_result {
    enum capture_status status;
    int tries;
    uint32_t xid;
    struct dhcp_reply reply;
    char error[200];
};

struct dhcp_probe {
    struct run *run;
    size_t check, job;
    char iface[IF_NAMESIZE + 1];
    uint8_t mac[6];
    pid_t child;
    int fd;
    struct capture_result res;
    size_t got;
};

/* ---- the capture child (never returns) ---- */

static void report(int fd, const struct capture_result *res)
{
    ssize_t n = write(fd, res, sizeof *res);
    (void)n;
    _exit(0);
}

static void drop_privileges(int fd, struct capture_result *res)
{
    if (geteuid() != 0)
        return;
    if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0 || setuid(0) == 0) {
        res->status = CAP_ERROR;
        snprintf(res->error, sizeof res->error, "could not drop privileges before reading packets: %s", strerror(errno));
        report(fd, res);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static pcap_t *open_capture(const char *iface, struct capture_result *res)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(iface, errbuf);
    if (!p) {
        res->status = CAP_ERROR;
        snprintf(res->error, sizeof res->error, "pcap: %s", errbuf);
        return NULL;
    }
    pcap_set_snaplen(p, 2048);
    pcap_set_promisc(p, 0);
    pcap_set_immediate_mode(p, 1);
    pcap_set_timeout(p, 100);
    int rc = pcap_activate(p);
    if (rc < 0) {
        res->status = (rc == PCAP_ERROR_PERM_DENIED) ? CAP_NO_PRIVILEGE : CAP_ERROR;
        snprintf(res->error, sizeof res->error, "%s", pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    struct bpf_program prog; /* BOOTREPLY to the client port only */
    if (pcap_compile(p, &prog, "udp and dst port 68 and udp[8] = 2", 1, PCAP_NETMASK_UNKNOWN) != 0 ||
        pcap_setfilter(p, &prog) != 0) {
        res->status = CAP_ERROR;
        snprintf(res->error, sizeof res->error, "pcap filter: %s", pcap_geterr(p));
        pcap_close(p);
        return NULL;
    }
    pcap_freecode(&prog);
    pcap_setnonblock(p, 1, errbuf);
    return p;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

static bool send_discover(pcap_t *p, const uint8_t mac[6], uint32_t xid, bool broadcast)
{
    uint8_t dhcp[DHCP_BOOTP_MIN], frame[DHCP_FRAME_HDR + DHCP_BOOTP_MIN];
    size_t n = dhcp_build_discover(dhcp, sizeof dhcp, mac, xid, broadcast);
    size_t f = dhcp_build_frame(frame, sizeof frame, mac, dhcp, n);
    return f && pcap_inject(p, frame, f) == (int)f;
}

/* The agent's retry shape: a first DISCOVER, a second with the broadcast flag at half time. */
static void capture_child(int fd, const char *iface, const uint8_t mac[6], long timeout_ms)
{
    struct capture_result res;
    memset(&res, 0, sizeof res);
    pcap_t *p = open_capture(iface, &res);
    if (!p)
        report(fd, &res);
    drop_privileges(fd, &res);
    while (res.xid == 0 && getrandom(&res.xid, sizeof res.xid, 0) != sizeof res.xid)
        res.xid = (uint32_t)now_ms() ^ (uint32_t)getpid();
    long start = now_ms(), deadline = start + timeout_ms;
    struct pollfd pfd = {.fd = pcap_get_selectable_fd(p), .events = POLLIN};
    for (;;) {
        long now = now_ms();
        if (res.tries == 0 || (res.tries == 1 && now >= start + timeout_ms / 2)) {
            if (!send_discover(p, mac, res.xid, res.tries > 0)) {
                res.status = CAP_ERROR;
                snprintf(res.error, sizeof res.error, "sending the DISCOVER failed: %s", pcap_geterr(p));
                report(fd, &res);
            }
            res.tries++;
        }
        if (now >= deadline)
            break;
        long wait = (res.tries == 1 ? start + timeout_ms / 2 : deadline) - now;
        poll(&pfd, 1, (int)(wait > 0 ? wait : 0));
        struct pcap_pkthdr *h;
        const u_char *data;
        while (pcap_next_ex(p, &h, &data) == 1) {
            struct dhcp_reply reply;
            if (dhcp_parse_frame_for(data, h->caplen, res.xid, mac, &reply) == DHCP_OK && reply.msg_type == 2) {
                res.status = CAP_OFFER;
                res.reply = reply;
                report(fd, &res);
            }
        }
    }
    res.status = CAP_NO_OFFER;
    report(fd, &res);
}

/* ---- the parent side ---- */

static bool read_mac(const char *iface, uint8_t mac[6])
{
    char path[128], *text;
    snprintf(path, sizeof path, "/sys/class/net/%s/address", iface);
    size_t len;
    if (!(text = sysfile_read_abs(path, 64, &len)))
        return false;
    unsigned m[6];
    bool ok = sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6;
    for (int i = 0; ok && i < 6; i++)
        mac[i] = (uint8_t)m[i];
    free(text);
    return ok;
}

static void ip(uint32_t a, char *buf, size_t size)
{
    dhcp_ip_str(a, buf, size);
}

/* A live 245 is the WireServer address the checks use (after --wireserver): when it differs
 * from what they started with, probe it too. */
static void use_live_address(struct run *r, const char *addr)
{
    struct facts *f = &r->facts;
    if (r->cfg->wireserver[0])
        return;
    bool differs = strcmp(f->wireserver, addr) != 0;
    snprintf(f->wireserver, sizeof f->wireserver, "%s", addr);
    snprintf(f->wireserver_source, sizeof f->wireserver_source, "DHCP option 245 (live)");
    if (differs) {
        probe_host_add(r, HOST_WIRESERVER);
        probe_host_add(r, HOST_HOSTGAPLUGIN);
    }
}

static void describe_offer(struct dhcp_probe *p, struct check *c)
{
    const struct dhcp_reply *d = &p->res.reply;
    char a[16], b[16];
    ip(d->yiaddr, a, sizeof a);
    check_ev(c, "offered_address", "%s", a);
    if (d->has_server_id) {
        ip(d->server_id, b, sizeof b);
        check_ev(c, "server", "%s", b);
    }
    if (d->has_router) {
        ip(d->router, b, sizeof b);
        check_ev(c, "router", "%s", b);
    }
    char dns[80] = "";
    for (size_t i = 0; i < d->dns_count; i++) {
        ip(d->dns[i], b, sizeof b);
        size_t used = strlen(dns);
        snprintf(dns + used, sizeof dns - used, "%s%s", i ? ", " : "", b);
    }
    if (dns[0])
        check_ev(c, "dns", "%s", dns);
    if (d->has_lease_time)
        check_ev(c, "lease_time", "%u", d->lease_time);
    if (d->domain[0])
        check_ev(c, "domain", "%s", d->domain);
    if (d->route_count)
        check_ev(c, "classless_routes", "%zu (option 121)", d->route_count);
    if (d->has_245) {
        ip(d->opt245, b, sizeof b);
        check_ev(c, "address", "%s", b);
        c->outcome = OUT_OK;
        check_summary(c, "the DHCP server offers option 245 = %s on %s (the WireServer address)", b, p->iface);
        use_live_address(p->run, b);
    } else {
        c->outcome = OUT_NO_245;
        check_summary(c, "the DHCP OFFER on %s has no option 245%s: without the host address the agent cannot "
                         "download or run extensions", p->iface, d->malformed_245 ? " of length 4" : "");
    }
}

static void finish(struct dhcp_probe *p)
{
    struct run *r = p->run;
    struct check *c = &r->checks.items[p->check];
    check_ev(c, "tries", "%d", p->res.tries);
    check_ev(c, "xid", "0x%08x", p->res.xid);
    switch (p->got == sizeof p->res ? p->res.status : CAP_ERROR) {
    case CAP_OFFER:
        describe_offer(p, c);
        break;
    case CAP_NO_OFFER:
        c->outcome = OUT_NO_OFFER;
        check_summary(c, "no DHCP OFFER on %s after %d DISCOVER%s: DHCP does not answer in the guest", p->iface,
                      p->res.tries, p->res.tries == 1 ? "" : "s");
        break;
    case CAP_NO_PRIVILEGE:
        c->outcome = OUT_SKIPPED;
        check_summary(c, "not run: capturing DHCP needs root or CAP_NET_RAW; run sudo azbprobe (or setcap "
                         "cap_net_raw+ep on it)");
        check_ev(c, "error", "%s", p->res.error);
        break;
    case CAP_ERROR:
        c->outcome = OUT_ERROR;
        check_summary(c, "the DHCP probe on %s failed: %s", p->iface, p->got ? p->res.error : "no result");
        break;
    }
    c->duration_ms = (long)(engine_now_ms() - engine_job(r->engine, p->job)->started_ms);
    run_progress(r, c);
}

static void end_child(struct dhcp_probe *p, bool kill_it)
{
    if (p->fd >= 0) {
        engine_watch(p->run->engine, p->fd, 0, NULL, NULL);
        close(p->fd);
        p->fd = -1;
    }
    if (p->child > 0) {
        if (kill_it)
            kill(p->child, SIGKILL); /* our own child, by pid */
        waitpid(p->child, NULL, 0);
        p->child = 0;
    }
}

static void on_pipe(void *arg, int fd, short revents)
{
    (void)revents;
    struct dhcp_probe *p = arg;
    ssize_t n = read(fd, (char *)&p->res + p->got, sizeof p->res - p->got);
    if (n > 0) {
        p->got += (size_t)n;
        if (p->got < sizeof p->res)
            return;
    }
    end_child(p, false);
    finish(p);
    engine_job_done(p->run->engine, engine_job(p->run->engine, p->job));
}

static void start(struct engine *e, struct job *j)
{
    struct dhcp_probe *p = j->ctx;
    struct check *c = &p->run->checks.items[p->check];
    int fds[2];
    if (!read_mac(p->iface, p->mac)) {
        c->outcome = OUT_ERROR;
        check_summary(c, "interface %s: no MAC address in /sys/class/net (does it exist?)", p->iface);
        engine_job_done(e, j);
        return;
    }
    if (pipe2(fds, O_CLOEXEC) != 0 || (p->child = fork()) < 0) {
        c->outcome = OUT_ERROR;
        check_summary(c, "the DHCP probe could not start: %s", strerror(errno));
        engine_job_done(e, j);
        return;
    }
    if (p->child == 0) {
        close(fds[0]);
        capture_child(fds[1], p->iface, p->mac, p->run->cfg->timeout_ms - 100);
    }
    close(fds[1]);
    p->fd = fds[0];
    engine_watch(e, p->fd, POLLIN, on_pipe, p);
}

static void cancel(struct engine *e, struct job *j)
{
    struct dhcp_probe *p = j->ctx;
    end_child(p, true);
    p->res.status = CAP_NO_OFFER;
    p->got = sizeof p->res;
    finish(p);
    engine_job_done(e, j);
}

static const struct job_ops dhcp_ops = {"dhcp", start, cancel};

void probe_dhcp_live(struct run *r)
{
    const struct config *cfg = r->cfg;
    char iface[IF_NAMESIZE + 1] = "";
    if (cfg->interface[0]) {
        snprintf(iface, sizeof iface, "%.16s", cfg->interface);
    } else {
        size_t len;
        char *text = sysfile_read_abs("/proc/net/route", 1 << 20, &len);
        struct route_table *t = calloc(1, sizeof *t);
        if (text && t) {
            routes_parse(text, len, t);
            routes_default_iface(t, iface, sizeof iface);
        }
        free(t);
        free(text);
    }
    size_t i = checks_add(&r->checks, "dhcp.live245", iface[0] ? iface : NULL, 67);
    if (i == (size_t)-1)
        return;
    struct check *c = &r->checks.items[i];
    c->required = true;
    snprintf(c->path, sizeof c->path, "direct");
    check_why(c, "Azure hands the WireServer address to the guest in DHCP option 245: \"If the VM can't get the "
                 "host or fabric address from DHCP response 245, it can't download or run any extensions\" "
                 "(ExtensionSnapshotFailedNoNetwork); keep DHCP enabled in the guest");
    if (cfg->no_dhcp || !iface[0]) {
        check_summary(c, cfg->no_dhcp ? "not run: --no-dhcp" : "not run: no default route to find the interface (use --interface)");
        return;
    }
    check_ev(c, "interface", "%s", iface);
    struct dhcp_probe *p = calloc(1, sizeof *p);
    if (!p)
        return;
    run_own(r, p);
    p->run = r;
    p->check = i;
    p->fd = -1;
    snprintf(p->iface, sizeof p->iface, "%s", iface);
    p->job = engine_add(r->engine, &dhcp_ops, p, NULL, 0);
}

/* dhcp.lease245, read at plan time: it also decides the WireServer address the checks start with. */
void probe_dhcp_lease(struct run *r)
{
    struct lease_list *l = calloc(1, sizeof *l);
    size_t i = checks_add(&r->checks, "dhcp.lease245", NULL, 0);
    if (!l || i == (size_t)-1) {
        free(l);
        return;
    }
    struct check *c = &r->checks.items[i];
    lease_find(r->cfg->root, (long long)time(NULL), l);
    const struct lease245 *best = l->count && l->item[0].found ? &l->item[0] : NULL;
    if (best) {
        check_ev(c, "address", "%s", best->address);
        check_ev(c, "file", "%s", best->file);
        check_ev(c, "interface", "%s", best->iface);
        check_ev(c, "format", "%s", best->format);
        check_ev(c, "expired", "%s", best->expired ? "yes" : "no");
        if (best->note[0])
            check_ev(c, "note", "%s", best->note);
    }
    check_ev(c, "leases_read", "%zu", l->count);
    if (l->count == 0) {
        c->outcome = OUT_SKIPPED;
        check_summary(c, "no DHCP lease file found (dhclient, networkd, NetworkManager, WireServerEndpoint)");
    } else if (best && !best->expired) {
        c->outcome = OUT_OK;
        check_summary(c, "option 245 = %s in %s (%s, %s)", best->address, best->file, best->format,
                      best->iface[0] ? best->iface : "interface unknown");
        if (!r->cfg->wireserver[0]) {
            snprintf(r->facts.wireserver, sizeof r->facts.wireserver, "%s", best->address);
            snprintf(r->facts.wireserver_source, sizeof r->facts.wireserver_source, "DHCP option 245 (lease file)");
        }
    } else {
        c->outcome = OUT_NO_245;
        if (best)
            check_summary(c, "only an expired lease holds option 245 (%s in %s)", best->address, best->file);
        else
            check_summary(c, "no lease file holds option 245 (the agent then asks DHCP itself, or uses 168.63.129.16)");
    }
    check_why(c, "the guest agent reads option 245 from the DHCP client's lease when its WireServer probe fails; "
                 "a missing lease is normal on distributions whose agent asks DHCP itself");
    free(l);
}
