#include "probe/exports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void note_input(struct exports *x, const struct azj_input *in)
{
    size_t used = strlen(x->inputs);
    if (used >= sizeof x->inputs)
        return;
    if (in->routes)
        snprintf(x->inputs + used, sizeof x->inputs - used, "%s%s: %s (%zu routes)", used ? "; " : "", in->file,
                 in->shape ? in->shape : "?", in->routes);
    else
        snprintf(x->inputs + used, sizeof x->inputs - used, "%s%s: %s (%zu NSGs, %zu rules, %zu prefixes)",
                 used ? "; " : "", in->file, in->shape ? in->shape : "?", in->nsgs, in->rules, in->prefixes);
}

static int failed(const struct azj_error *e, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", e->msg);
    return 2;
}

int exports_load(const struct config *cfg, struct exports *x, char *err, size_t errlen)
{
    struct azj_error e;
    memset(x, 0, sizeof *x);
    if (cfg->nnsg && !(x->nsg = nsg_set_new())) {
        snprintf(err, errlen, "out of memory");
        return 3;
    }
    for (size_t i = 0; i < cfg->nnsg; i++) {
        memset(&e, 0, sizeof e);
        if (nsg_load(x->nsg, cfg->nsg_files[i], &e) != AZJ_OK)
            return failed(&e, err, errlen);
    }
    if (cfg->nic_file[0]) {
        memset(&e, 0, sizeof e);
        if (nic_load(&x->nic, cfg->nic_file, &e) != AZJ_OK)
            return failed(&e, err, errlen);
        x->have_nic = true;
        if (x->nsg)
            nsg_set_attach_nic(x->nsg, &x->nic);
    }
    for (size_t i = 0; x->nsg && i < x->nsg->ninputs; i++)
        note_input(x, &x->nsg->inputs[i]);
    if (cfg->routes_file[0]) {
        memset(&e, 0, sizeof e);
        if (routes_load(&x->routes, cfg->routes_file, &e) != AZJ_OK)
            return failed(&e, err, errlen);
        x->have_routes = true;
        note_input(x, &x->routes.input);
    }
    if (cfg->service_tags[0]) {
        char msg[512];
        if (!(x->tags = servicetags_load_file(cfg->service_tags, msg, sizeof msg))) {
            snprintf(err, errlen, "--service-tags: %s", msg);
            return 2;
        }
    }
    return 0;
}

const struct servicetags *exports_tags(struct exports *x, const char *cloud)
{
    if (!x->tags) {
        char msg[256];
        x->tags = servicetags_load_builtin(cloud, msg, sizeof msg);
    }
    return x->tags;
}

void exports_free(struct exports *x)
{
    nsg_set_free(x->nsg);
    routes_free(&x->routes); /* also after a failed load */
    servicetags_free(x->tags);
    memset(x, 0, sizeof *x);
}
