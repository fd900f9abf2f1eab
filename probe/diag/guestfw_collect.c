/* Reading the guest firewall: the live ruleset through nft and iptables-save (read-only listing
 * commands, run without a shell, 2 s and 4 MB each), or a collected bundle under --root:
 *     <root>/nft-ruleset.json    `nft -j list ruleset`
 *     <root>/iptables-save.txt   `iptables-save` (all loaded tables, security included)
 * Nothing here changes the firewall. */
#include "probe/diag/guestfw.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe/sysfile.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *find_binary(const char *name, char *path, size_t size)
{
    static const char *const dirs[] = { "/usr/sbin", "/sbin" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, size, "%s/%s", dirs[i], name);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

/* Reads the child's stdout until EOF, the deadline or the size cap. *why is set on a failure. */
static char *drain(int fd, size_t *len, const char **why)
{
    size_t cap = 65536, got = 0;
    char *buf = malloc(cap + 1);
    long long deadline = now_ms() + GUESTFW_TIMEOUT_MS;
    while (buf) {
        long long left = deadline - now_ms();
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (left <= 0 || poll(&pfd, 1, (int)left) == 0) {
            *why = "timed out";
            break;
        }
        if (got == cap) {
            if (cap >= GUESTFW_MAX_OUTPUT) {
                *why = "output over 4 MB";
                break;
            }
            char *bigger = realloc(buf, cap * 2 + 1);
            if (!bigger) {
                *why = "out of memory";
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (buf)
        buf[got] = '\0';
    *len = got;
    return buf;
}

static int spawn_reader(const char *path, char *const argv[], pid_t *pid, int *rfd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
    int rc = posix_spawn(pid, path, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return -1;
    }
    *rfd = p[0];
    return 0;
}

/* Runs path argv; returns its stdout when it exited 0 in time, else NULL with *why. */
static char *run_listing(const char *path, char *const argv[], size_t *len, const char **why)
{
    pid_t pid;
    int fd;
    *why = NULL;
    if (spawn_reader(path, argv, &pid, &fd) != 0) {
        *why = "could not start";
        return NULL;
    }
    char *out = drain(fd, len, why);
    close(fd);
    if (*why)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!*why && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        *why = "failed (not root?)";
    if (*why) {
        free(out);
        return NULL;
    }
    return out;
}

typedef int (*loader_fn)(struct guestfw *, const char *, size_t, const char *, char *, size_t);

static void note_add(char *note, size_t size, const char *text)
{
    size_t used = strlen(note);
    if (used < size)
        snprintf(note + used, size - used, "%s%s", used ? "; " : "", text);
}

static void load_text(struct guestfw *fw, loader_fn load, const char *label, char *text, size_t len, char *note,
                      size_t notesize)
{
    char err[256], line[300];
    if (load(fw, text, len, label, err, sizeof err) == 0) {
        snprintf(line, sizeof line, "%s read", label);
        note_add(note, notesize, line);
    } else {
        note_add(note, notesize, err);
    }
    free(text);
}

static void collect_live(struct guestfw *fw, const char *name, char *const argv[], loader_fn load, char *note,
                         size_t notesize)
{
    char path[64], label[96];
    if (!find_binary(name, path, sizeof path)) {
        snprintf(label, sizeof label, "%s not installed", name);
        note_add(note, notesize, label);
        return;
    }
    snprintf(label, sizeof label, "%s", name);
    for (size_t i = 1; argv[i]; i++) {
        size_t used = strlen(label);
        snprintf(label + used, sizeof label - used, " %s", argv[i]);
    }
    size_t len = 0;
    const char *why;
    char *out = run_listing(path, argv, &len, &why);
    if (!out) {
        char line[160];
        snprintf(line, sizeof line, "%s: %s", label, why);
        note_add(note, notesize, line);
        return;
    }
    load_text(fw, load, label, out, len, note, notesize);
}

static void collect_file(struct guestfw *fw, const char *root, const char *file, loader_fn load, char *note,
                         size_t notesize)
{
    size_t len = 0;
    char *text = sysfile_read(root, file, GUESTFW_MAX_OUTPUT, &len);
    if (!text) {
        char line[160];
        snprintf(line, sizeof line, "%s: %s", file + 1, strerror(errno));
        note_add(note, notesize, line);
        return;
    }
    load_text(fw, load, file + 1, text, len, note, notesize);
}

void guestfw_collect(struct guestfw *fw, const char *root, char *note, size_t notesize)
{
    if (note && notesize)
        note[0] = '\0';
    char scratch[512];
    if (!note || notesize == 0) {
        note = scratch;
        notesize = sizeof scratch;
        note[0] = '\0';
    }
    if (root && *root) {
        collect_file(fw, root, "/nft-ruleset.json", guestfw_load_nft_json, note, notesize);
        collect_file(fw, root, "/iptables-save.txt", guestfw_load_iptables_save, note, notesize);
        return;
    }
    char *nft_argv[] = { "nft", "-j", "list", "ruleset", NULL };
    char *ipt_argv[] = { "iptables-save", NULL };
    collect_live(fw, "nft", nft_argv, guestfw_load_nft_json, note, notesize);
    collect_live(fw, "iptables-save", ipt_argv, guestfw_load_iptables_save, note, notesize);
}
