#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/log.h"
#include "tools/anvilctl/ctl.h"

/* One entry per command: its function, a one-line summary for `anvilctl --help`, and the
 * full help `anvilctl COMMAND --help` prints (without reading the configuration). */
static const struct command {
	const char *name;
	int (*fn)(struct ctl *, int, char **);
	const char *summary;
	const char *help;
} commands[] = {
	{ "status", ctl_status, "is every daemon up; queues; OCSP/CRL freshness",
	  "usage: anvilctl status [--json]\n\n"
	  "Reaches each configured daemon as its clients do: the database (a query), anvil-signer\n"
	  "(health, and stats when signer.permissions grants them to this uid), anvil-fcgi and\n"
	  "anvil-ocsp (a connect to their sockets, the PID file), anvil-jobs (its PID file, and\n"
	  "whether due jobs wait unclaimed for over 60 s). Then the job queues by kind and state,\n"
	  "and per issuer the freshness of the published OCSP responses and CRL shards.\n"
	  "Exit 0 when all is well, 1 when something is down or a relying party would see a stale\n"
	  "response.\n" },
	{ "revoke", ctl_revoke, "revoke by serial, by account, or every certificate of a key",
	  "usage: anvilctl revoke (--serial SERIAL | --account ID | --key SPKI_SHA256 |\n"
	  "                        --key-of FILE) [--reason REASON] [--dry-run]\n\n"
	  "Revokes through the path of ACME revokeCert: the OCSP response and CRL shard are due at\n"
	  "once and anvil-jobs is woken (jobs.wake_socket) to publish them within\n"
	  "ocsp.revocation_bound_seconds. --account and --key revoke every unexpired certificate\n"
	  "of the account or key. --key-of takes the key from a PEM certificate, CSR or public key.\n"
	  "REASON: unspecified (default), keyCompromise, affiliationChanged, superseded,\n"
	  "cessationOfOperation, privilegeWithdrawn, or the RFC 5280 code. keyCompromise also\n"
	  "blocks the key(s) for future issuance. Each revocation is written to the audit log\n"
	  "(syslog authpriv, and stderr) with the operator's uid.\n" },
	{ "block-key", ctl_block_key, "refuse a key for issuance (blocked_keys)",
	  "usage: anvilctl block-key (SPKI_SHA256 | --key-of FILE) [--reason TEXT]\n\n"
	  "Finalize refuses a CSR with this key (badPublicKey). SPKI_SHA256: the SHA-256 of the\n"
	  "DER SubjectPublicKeyInfo in hex, as `anvilctl cert show` prints it. Audited.\n" },
	{ "unblock-key", ctl_block_key, "allow a blocked key again",
	  "usage: anvilctl unblock-key (SPKI_SHA256 | --key-of FILE)\n\nAudited.\n" },
	{ "cert", ctl_cert, "show a certificate; list by account, name or key",
	  "usage: anvilctl cert show SERIAL [--json] [--pem]\n"
	  "       anvilctl cert list [--account ID | --name NAME | --key SPKI_SHA256] [--expired]\n"
	  "                          [--limit N] [--json]\n\n"
	  "show: the stored certificate (names, validity, status, key hash) and its published\n"
	  "OCSP status (this_update, next_update; pending: revoked, not yet published); --pem\n"
	  "prints the certificate. SERIAL in hex, colons and upper case accepted.\n"
	  "list: unexpired certificates (--expired: all) of an account, of a key, or naming a\n"
	  "DNS name (through the orders of its registered domain); without a filter, the latest\n"
	  "to expire. At most --limit (default 1000).\n" },
	{ "account", ctl_account, "show or deactivate an ACME account",
	  "usage: anvilctl account show ID [--json]\n"
	  "       anvilctl account deactivate ID [--json]\n\n"
	  "deactivate: the account's requests are refused from then on (RFC 8555 7.3.6); its\n"
	  "certificates stay valid (anvilctl revoke --account ID for those). Audited.\n" },
	{ "order", ctl_order, "show an order and its authorizations",
	  "usage: anvilctl order show ID [--json]\n" },
	{ "jobs", ctl_jobs, "list stuck and failed jobs; retry them",
	  "usage: anvilctl jobs list [--stuck-after SECONDS] [--limit N] [--json]\n"
	  "       anvilctl jobs retry ID...\n\n"
	  "list: failed jobs (jobs.max_attempts ran out) and queued jobs due for over\n"
	  "--stuck-after seconds (default 300) that no runner holds.\n"
	  "retry: queues them again, due now, attempts reset, and wakes anvil-jobs. Audited.\n" },
	{ "migrate", ctl_migrate, "apply pending schema migrations",
	  "usage: anvilctl migrate [--status] [--dir DIR]\n\n"
	  "Applies migrations from DIR (default $ANVIL_MIGRATIONS_DIR, else the installed ones).\n"
	  "--status only reports. Run before starting new binaries (doc/install.md).\n" },
	{ "eab", ctl_eab, "External Account Binding keys: add, list, revoke",
	  "usage: anvilctl eab add [--kid KID] [--alg HS256|HS384|HS512]\n"
	  "                        [--expires DURATION|TIME|never] [--accounts N|unlimited]\n"
	  "                        [--profiles NAME,...] [--json]\n"
	  "       anvilctl eab list [--json]\n"
	  "       anvilctl eab revoke KID\n\n"
	  "add: prints the new HMAC key (base64url, as certbot's --eab-hmac-key takes it) once.\n"
	  "KID: A-Z a-z 0-9 . _ ~ - (default: 16 random characters, printed to stderr).\n"
	  "--expires: 30d, 12h, 90m, 3600s, a time YYYY-MM-DDTHH:MM:SSZ, or never (default 30d):\n"
	  "newAccount with the key is refused after. --accounts: how many accounts the key may\n"
	  "create (default 1, single-use). --profiles: the profiles (of the profiles section) the\n"
	  "bound accounts may order; default every profile.\n"
	  "list: kid, created, expires, limit, used, state (active, used, expired, revoked),\n"
	  "profiles.\n"
	  "revoke: newAccount with the key is refused from then on; accounts it bound stay\n"
	  "(anvilctl account deactivate for those). add and revoke are audited.\n" },
	{ "audit", ctl_audit_cmd, "verify an audit chain (anvilctl's or the signer's)",
	  "usage: anvilctl audit verify [--signer | FILE] [--json]\n\n"
	  "Checks every record of the chain: its hash, its link to the record before, its seq.\n"
	  "Without FILE: anvilctl's own chain (log.audit_file, default " ANVIL_LOGDIR
	  "/anvilctl-audit.chain);\n--signer: the signer's (signer.state_dir/audit.chain). Exit 0 when "
	  "the chain is whole,\n1 naming the first broken record (edited, deleted, inserted, moved or "
	  "torn).\nCompare the head hash it prints with the last audit_hash in the system log: a\n"
	  "chain cut at its end verifies by itself (doc/audit.md).\n" },
	{ "check", ctl_check, "validate the configuration file",
	  "usage: anvilctl check\n" },
	{ "init", ctl_init, "key ceremony: create the CA hierarchy",
	  "usage: anvilctl init\n\n"
	  "Creates the keys in the HSM (signer.hsm) and the certificates of the configured issuers\n"
	  "that do not exist yet (doc/signer.md).\n" },
	{ "ceremony", ctl_ceremony, "an intermediate under an external root: CSR, import",
	  "usage: anvilctl ceremony csr --issuer NAME [--out FILE]\n"
	  "       anvilctl ceremony import --issuer NAME [--root ROOT_PEM] CERT_PEM\n\n"
	  "For a root that is not on this token (offline, or a corporate PKI): the issuer NAME is\n"
	  "an intermediate of the configuration whose parent is that root.\n"
	  "csr: finds the key (issuers.NAME.key_label/key_id) on the token or generates it\n"
	  "(key_type), and prints a CSR for issuers.NAME.subject signed by it, asking for\n"
	  "basicConstraints CA:TRUE, pathlen:0 and keyUsage keyCertSign, cRLSign.\n"
	  "import: checks that CERT_PEM is a CA certificate for that HSM key, issued by the root\n"
	  "(--root, or the file at the root's issuers.ROOT.cert), and installs it at\n"
	  "issuers.NAME.cert with its chain (and the root at issuers.ROOT.cert the first time).\n"
	  "Nothing is overwritten. anvilctl init then keeps both. Audited.\n" },
	{ "hsm", ctl_hsm, "the HSM's slots, tokens and keys; test the signer's login",
	  "usage: anvilctl hsm slots [--json]\n"
	  "       anvilctl hsm keys [--token LABEL] [--json]\n"
	  "       anvilctl hsm login-test\n\n"
	  "Through libp11, with the signer's module (signer.module), token (signer.token_label\n"
	  "or signer.slot_id) and PIN (signer.pin, passed unchanged: CloudHSM's USER:PASSWORD\n"
	  "works). slots: every slot and its token, the signer's marked. keys: the private and\n"
	  "public keys of the signer's token (or --token LABEL; the login uses signer.pin), with\n"
	  "the issuers that use each. login-test: logs in as the signer will; exit 1 and a message\n"
	  "naming signer.pin when it fails.\n" },
	{ "bench-signer", ctl_bench_signer, "HSM and signer speed test",
	  "usage: anvilctl bench-signer [-s SECONDS] [-n MAX_SESSIONS] [-C CLIENTS] [-R REPEAT]\n"
	  "                             [-i ISSUER] [--raw-only]\n" },
	{ "check-freshness", ctl_check_freshness, "Nagios check of published OCSP responses and CRLs",
	  "usage: anvilctl check-freshness [--ocsp-warn S] [--ocsp-crit S] [--crl-warn S]\n"
	  "         [--crl-crit S] [--sample N] [--past-refresh-warn N] [--issuer NAME] [--no-db]\n"
	  "exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (doc/crl.md \"Freshness\")\n" },
	{ "ratelimit", ctl_ratelimit, "rate limit exemption of an account",
	  "usage: anvilctl ratelimit exempt|unexempt|status ACCOUNT_ID\n" },
	{ "ct-logs", ctl_ct_logs, "fetch and verify each CT log's tree head",
	  "usage: anvilctl ct-logs [--timeout-ms MS]\n\n"
	  "Fetches every configured log's signed tree head at once and verifies it with the\n"
	  "log's configured key, so a wrong URL or key shows before issuance depends on it.\n" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
	fprintf(f, "usage: anvilctl [-c CONFIG] COMMAND [ARGS]\n"
	    "       anvilctl COMMAND --help\n\n"
	    "  -c, --config CONFIG  deployment file (default %s/anvil.json, or $ANVIL_CONFIG)\n"
	    "  -h, --help           this text\n"
	    "  -V, --version        the version\n\ncommands:\n", ANVIL_SYSCONFDIR);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
}

/* Commands that can change state: the audit chain is opened before they run, so nothing
 * changes that could not be audited. */
static const char *const audited_commands[] = { "revoke", "block-key", "unblock-key",
	"account", "jobs", "eab", "ceremony", NULL };

static int
is_audited(const char *name)
{
	for (size_t i = 0; audited_commands[i] != NULL; i++)
		if (strcmp(name, audited_commands[i]) == 0)
			return 1;
	return 0;
}

/* -h or --help among a command's arguments (before any "--"). */
static int
wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl;
	const char *env = getenv("ANVIL_CONFIG");
	int ch, rc = 2;

	memset(&ctl, 0, sizeof(ctl));
	ctl.config_path = env ? env : ANVIL_SYSCONFDIR "/anvil.json";
	log_init("anvilctl", 0, LOG_LVL_INFO);
	while ((ch = getopt_long(argc, argv, "+c:hV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl.config_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("anvilctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
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
	if (strcmp(argv[0], "help") == 0) {
		for (size_t i = 0; argc > 1 && i < NCOMMANDS; i++)
			if (strcmp(argv[1], commands[i].name) == 0) {
				fputs(commands[i].help, stdout);
				return 0;
			}
		usage(argc > 1 ? stderr : stdout);
		return argc > 1 ? 2 : 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		if (wants_help(argc, argv)) {
			fputs(commands[i].help, stdout);
			return 0;
		}
		if (argc > 1 && strcmp(argv[1], "--version") == 0) {
			printf("anvilctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 0;
		}
		if (conf_load(&ctl.conf, ctl.config_path, &ctl.config) != AE_OK) {
			fprintf(stderr, "anvilctl: %s\n", ctl.conf.err);
			return 1;
		}
		/* Commands parse their own options with getopt_long; 0 makes glibc start afresh (the
		 * "+" above would otherwise stay in force: options after operands unseen). */
		optind = 0;
		if (is_audited(argv[0]) && ctl_audit_open(&ctl) != 0) {
			json_object_put(ctl.config);
			return 1;
		}
		rc = commands[i].fn(&ctl, argc, argv);
		if (ctl_audit_close() != 0 && rc == 0)
			rc = 1;
		json_object_put(ctl.config);
		return rc;
	}
	fprintf(stderr, "anvilctl: unknown command '%s'\n", argv[0]);
	usage(stderr);
	return 2;
}
