/* guest_checks: read what several checks share once (waagent.conf, the agent's processes, the
 * service name), then run the checks in report order. */
#include "probe/guest_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const unit_dirs[] = {"/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system",
                                        "/lib/systemd/system"};

/* walinuxagent.service on Debian and Ubuntu, waagent.service elsewhere: the fix names the real one. */
static void find_unit(struct guest_ctx *g)
{
    static const char *const names[] = {"walinuxagent", "waagent"};
    for (size_t n = 0; n < 2; n++)
        for (size_t d = 0; d < sizeof unit_dirs / sizeof unit_dirs[0]; d++) {
            char path[128];
            snprintf(path, sizeof path, "%s/%s.service", unit_dirs[d], names[n]);
            if (guest_exists(g->root, path)) {
                snprintf(g->unit, sizeof g->unit, "%s", names[n]);
                return;
            }
        }
}

/* Lib.Dir must be an absolute path to be looked up under the root; anything else keeps the default. */
static void find_lib_dir(struct guest_ctx *g)
{
    const char *lib = waagent_conf_str(&g->conf, "Lib.Dir", "/var/lib/waagent");
    if (lib[0] != '/' || strlen(lib) >= sizeof g->lib_dir || strstr(lib, ".."))
        lib = "/var/lib/waagent";
    snprintf(g->lib_dir, sizeof g->lib_dir, "%s", lib);
    size_t n = strlen(g->lib_dir);
    while (n > 1 && g->lib_dir[n - 1] == '/')
        g->lib_dir[--n] = '\0';
}

void guest_checks(const char *root, bool running_as_root, struct check_list *out)
{
    struct guest_ctx g;
    memset(&g, 0, sizeof g);
    g.root = root ? root : "";
    g.as_root = running_as_root;
    waagent_conf_load(g.root, &g.conf);
    find_lib_dir(&g);
    find_unit(&g);
    guest_agent_scan(g.root, &g.procs);
    size_t first = out->count;
    g.agent_installed = g.procs.count > 0 || g.conf.present || g.unit[0] || guest_is_dir(g.root, g.lib_dir);
    guest_agent_checks(&g, out);
    guest_extension_check(&g, out);
    guest_system_checks(&g, out);
    guest_static_check(&g, out);
    for (size_t i = first; i < out->count; i++)
        guest_finish(&out->items[i]);
    waagent_conf_free(&g.conf);
}
