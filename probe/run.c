#include "probe/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void run_own(struct run *r, void *p)
{
    if (r->nowned == r->capowned) {
        size_t cap = r->capowned ? r->capowned * 2 : 64;
        void **n = realloc(r->owned, cap * sizeof *n);
        if (!n)
            return; /* a small leak beats a crash at exit */
        r->owned = n;
        r->capowned = cap;
    }
    r->owned[r->nowned++] = p;
}

void run_progress(const struct run *r, const struct check *c)
{
    if (!r->cfg->verbose || r->cfg->quiet)
        return;
    fprintf(stderr, "azbprobe: %-24s %s%s%.0d %s (%ld ms)\n", c->id, c->target, c->port ? ":" : "", c->port,
            outcome_name(c->outcome), c->duration_ms);
}

struct consumer_path *run_add_consumer(struct run *r)
{
    if (r->nconsumers == r->capconsumers) {
        size_t cap = r->capconsumers ? r->capconsumers * 2 : 16;
        struct consumer_path *n = realloc(r->consumers, cap * sizeof *n);
        if (!n)
            return NULL;
        r->consumers = n;
        r->capconsumers = cap;
    }
    struct consumer_path *c = &r->consumers[r->nconsumers++];
    memset(c, 0, sizeof *c);
    return c;
}
