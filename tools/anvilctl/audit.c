/* anvilctl audit verify: walks a whole audit chain (lib/auditchain.h) and names the first
 * record that breaks it. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "lib/auditchain.h"
#include "tools/anvilctl/ctl.h"

static int
signer_chain_path(struct ctl *ctl, char *out, size_t outsz)
{
	json_object *signer = NULL;
	const char *dir = NULL;

	if (conf_get_object(&ctl->conf, ctl->config, "", "signer", 1, &signer) != AE_OK ||
	    conf_get_string(&ctl->conf, signer, "signer", "state_dir", 1, &dir) != AE_OK) {
		fprintf(stderr, "anvilctl: %s: %s\n", ctl->config_path, ctl->conf.err);
		return -1;
	}
	if (snprintf(out, outsz, "%s/audit.chain", dir) >= (int)outsz) {
		fprintf(stderr, "anvilctl: signer.state_dir is too long\n");
		return -1;
	}
	return 0;
}

int
ctl_audit_cmd(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "signer", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	char signer_path[PATH_MAX];
	const char *path = NULL;
	struct audit_verify v;
	int ch, signer = 0, json = 0, rc;
	FILE *f;
	anvil_err e;

	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		fprintf(stderr, "usage: anvilctl audit verify [--signer | FILE] [--json]\n");
		return 2;
	}
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 's')
			signer = 1;
		else if (ch == 'j')
			json = 1;
		else
			return 2;
	}
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc || (signer && path != NULL)) {
		fprintf(stderr, "usage: anvilctl audit verify [--signer | FILE] [--json]\n");
		return 2;
	}
	if (signer) {
		if (signer_chain_path(ctl, signer_path, sizeof(signer_path)) != 0)
			return 1;
		path = signer_path;
	} else if (path == NULL) {
		path = ctl_audit_path(ctl);
	}
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "anvilctl: %s: %s\n", path, strerror(errno));
		return 1;
	}
	e = auditchain_verify(f, &v);
	fclose(f);
	rc = e == AE_OK ? 0 : 1;
	if (json) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "file", json_object_new_string(path));
		json_object_object_add(o, "ok", json_object_new_boolean(rc == 0));
		json_object_object_add(o, "records", json_object_new_int64((int64_t)v.records));
		json_object_object_add(o, "head", json_object_new_string(v.head));
		if (rc != 0) {
			json_object_object_add(o, "bad_line", json_object_new_int64(
			    (int64_t)v.bad_line));
			json_object_object_add(o, "error", json_object_new_string(
			    e == AE_IO ? "read error" : v.why));
		}
		ctl_json_print(o);
		json_object_put(o);
	} else if (rc == 0) {
		printf("%s: %llu records, chain whole; head %s\n", path,
		    (unsigned long long)v.records, v.records ? v.head : "(empty)");
	} else if (e == AE_IO) {
		fprintf(stderr, "anvilctl: %s: read error after %llu records\n", path,
		    (unsigned long long)v.records);
	} else {
		printf("%s: BROKEN at line %llu: %s (%llu records before it verify)\n", path,
		    (unsigned long long)v.bad_line, v.why, (unsigned long long)v.records);
	}
	return rc;
}
