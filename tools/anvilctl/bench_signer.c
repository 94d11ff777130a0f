/* Placeholder until the real command lands (another engineer owns this file). */
#include "config.h"
#include <stdio.h>
#include "tools/anvilctl/ctl.h"

int
ctl_bench_signer(struct ctl *ctl, int argc, char **argv)
{
	(void)ctl;
	(void)argc;
	(void)argv;
	fprintf(stderr, "anvilctl: not implemented\n");
	return 1;
}
