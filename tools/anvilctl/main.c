#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/log.h"
#include "tools/anvilctl/ctl.h"

static const struct command {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
	const char *usage;
} commands[] = {
	{ "migrate", ctl_migrate, "migrate [--status]       apply pending schema migrations" },
	{ "eab", ctl_eab, "eab add --kid KID [--alg HS256|HS384|HS512]   create an EAB key" },
	{ "check", ctl_check, "check                    validate the configuration file" },
	{ "init", ctl_init, "init                     key ceremony: create the CA hierarchy" },
	{ "bench-signer", ctl_bench_signer, "bench-signer [options]   HSM and signer speed test" },
	{ "check-freshness", ctl_check_freshness, "check-freshness [options]   Nagios check: "
	    "published OCSP responses and CRLs are fresh (0/1/2/3)" },
	{ "ratelimit", ctl_ratelimit, "ratelimit exempt|unexempt|status ACCOUNT_ID   rate limit exemption" },
	{ "ct-logs", ctl_ct_logs, "ct-logs [--timeout-ms MS]   fetch and verify each CT log's tree head" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: anvilctl [-c CONFIG] COMMAND [ARGS]\n\n"
	    "  -c CONFIG   deployment file (default %s/anvil.json, or $ANVIL_CONFIG)\n\n",
	    ANVIL_SYSCONFDIR);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].usage);
}

int
main(int argc, char **argv)
{
	struct ctl ctl;
	const char *env = getenv("ANVIL_CONFIG");
	int ch, rc = 2;

	memset(&ctl, 0, sizeof(ctl));
	ctl.config_path = env ? env : ANVIL_SYSCONFDIR "/anvil.json";
	log_init("anvilctl", 0, LOG_LVL_INFO);
	while ((ch = getopt(argc, argv, "+c:h")) != -1) {
		switch (ch) {
		case 'c':
			ctl.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		if (conf_load(&ctl.conf, ctl.config_path, &ctl.config) != AE_OK) {
			fprintf(stderr, "anvilctl: %s\n", ctl.conf.err);
			return 1;
		}
		optind = 1; /* commands parse their own options with getopt */
		rc = commands[i].fn(&ctl, argc, argv);
		json_object_put(ctl.config);
		return rc;
	}
	fprintf(stderr, "anvilctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
