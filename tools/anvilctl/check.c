#include "config.h"
#include <stdio.h>
#include "fcgi/conf.h"
#include "tools/anvilctl/ctl.h"

/* anvilctl check: validates the sections anvil-fcgi uses (log, database, fcgi, acme, nonce)
 * with the same code anvil-fcgi runs at start and on reload. Exit 0 valid, 1 not. */
int
ctl_check(struct ctl *ctl, int argc, char **argv)
{
	struct fcgi_conf c;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: anvilctl check\n");
		return 2;
	}
	if (fcgi_conf_parse(&ctl->conf, ctl->config, &c) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
		return 1;
	}
	fcgi_conf_free(&c);
	printf("%s: configuration OK\n", ctl->config_path);
	return 0;
}
