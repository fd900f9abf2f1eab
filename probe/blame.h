/* Blame (pure): explain every failed network check of a graded run with a struct blame. */
#ifndef AZB_BLAME_H
#define AZB_BLAME_H

#include "probe/run.h"

void blame_run(struct run *r);

#endif
