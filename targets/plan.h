/* The plan: which probes run, in a deterministic order (platform endpoints first, then each
 * storage target: DNS through both resolvers, then TCP/TLS/HTTPS on every port). */
#ifndef AZB_PLAN_H
#define AZB_PLAN_H

struct run;

/* Region and cloud from the command line (IMDS may fill them later). */
void plan_resolve_location(struct run *r);
/* The initial jobs. */
void plan_build(struct run *r);
/* After IMDS answered (or failed): region and cloud from IMDS, and the targets that needed them. */
void plan_after_imds(struct run *r);

#endif
