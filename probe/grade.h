/* Grading (pure: no I/O): add the derived checks, cross-read related results, then give every
 * check its status, whether it is required, and why. The rules follow what backups really need:
 * the WireServer (80) and HostGAPlugin (32526) are required; storage 443 is required only when
 * that host path fails too or the VM has unmanaged disks; 8443 is historical and never fails
 * the run on its own. */
#ifndef AZB_GRADE_H
#define AZB_GRADE_H

#include "probe/run.h"

#define CLOCK_SKEW_LIMIT_S 300

void grade_run(struct run *r);
enum status grade_verdict(const struct check_list *l);
/* Network checks are those of the paths the backup uses (WireServer, DNS, storage, proxies,
 * routes, DHCP); the rest (agent, guest, clock) are where to look when the network is fine. */
bool grade_is_network(const struct check *c);
/* No network check failed. */
bool grade_network_ok(const struct check_list *l);
int grade_exit_code(const struct check_list *l);

#endif
