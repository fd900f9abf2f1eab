#include "probe/run.h"

#include <stdlib.h>

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
