/* Command line: one option table feeds parsing and --help (and the man page and README are
 * checked against it by tests/cli_test.sh). */
#ifndef AZB_CLI_H
#define AZB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "probe/config.h"

/* Fill cfg from argv. Returns 0 on success; 2 on a usage error, with a one-line message naming
 * the bad value and its option in err. cfg must be freed with config_free either way. */
int cli_parse(int argc, char **argv, struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);
void cli_usage(FILE *out);

/* The option table, for tests and documentation generators. */
size_t cli_option_count(void);
const char *cli_option_long(size_t i);

/* Value parsers (pure). Each returns false on bad input. */
bool cli_parse_timeout(const char *s, long *ms);
bool cli_parse_ports(const char *s, int *ports, size_t max, size_t *n);
bool cli_valid_hostname(const char *s);
bool cli_valid_account(const char *s);
bool cli_valid_ipv4(const char *s);

#endif
