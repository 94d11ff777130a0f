/* anvil-signer: the only process that loads the PKCS#11 module and holds CA keys. It reads
 * its config, opens the token, checks that every issuer's certificate matches its key on the
 * token, replays its serial journal, then serves ca/PROTOCOL.md on a Unix socket. */
#include "config.h"
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "ca/hsmkey.h"
#include "ca/signer.h"
#include "ca/tbs.h"
#include "lib/clock.h"
#include "lib/log.h"

static volatile int stop_flag, hup_flag;
static const char *config_path;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_flag = 1;
	else
		stop_flag = 1;
}

/* SIGHUP (a log rotation, `systemctl reload`) must never stop signing. What can change safely
 * in a running signer is its logging: the `log` section is read again and applied (stderr is
 * the supervisor's to rotate; syslog needs no reopening). The keys, issuers, profiles and the
 * session pool stay as loaded: they change only with a restart, which finishes the requests in
 * hand first. A file that no longer parses is refused and logged; nothing changes then. */
static void
reload(struct signer *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	struct conf_ctx cc;
	json_object *root = NULL;
	enum log_level level;
	int use_syslog;

	(void)s;
	memset(&cc, 0, sizeof(cc));
	if (conf_load(&cc, config_path, &root) != AE_OK ||
	    conf_parse_log(&cc, root, &level, &use_syslog) != AE_OK) {
		log_err("event=reload result=refused error=\"%s\"", cc.err);
		json_object_put(root);
		return;
	}
	log_set_level(level);
	log_info("event=reload result=ok log_level=%s note=\"signer, issuers and profiles apply "
	    "at restart\"", names[level]);
	json_object_put(root);
}

static anvil_err
load_cert(const char *path, X509 **out)
{
	FILE *f = fopen(path, "r");

	*out = NULL;
	if (f == NULL)
		return AE_IO;
	*out = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return *out != NULL ? AE_OK : AE_PARSE;
}

/* The delegated OCSP responder of is: its certificate (issued by is for OCSP signing, still
 * valid) and its key on the token. */
static anvil_err
load_responder(struct signer *s, CK_SESSION_HANDLE sess, struct issuer *is)
{
	EVP_PKEY *pub = NULL;
	uint32_t xku;
	anvil_err e;

	if ((e = load_cert(is->responder_cert_path, &is->responder_cert)) != AE_OK) {
		log_err("event=responder_cert issuer=%s key=issuers.%s.ocsp_responder_cert path=%s "
		    "result=\"%s\" hint=\"run anvilctl init\"", is->name, is->name,
		    is->responder_cert_path, anvil_strerror(e));
		return e;
	}
	xku = X509_get_extended_key_usage(is->responder_cert);
	if (X509_check_issued(is->cert, is->responder_cert) != X509_V_OK ||
	    !(xku & XKU_OCSP_SIGN) || X509_cmp_time(X509_get0_notAfter(is->responder_cert),
	    NULL) <= 0) {
		log_err("event=responder_cert issuer=%s path=%s result=\"not an unexpired OCSP "
		    "signing certificate of this issuer\" hint=\"run anvilctl init\"", is->name,
		    is->responder_cert_path);
		return AE_CONFIG;
	}
	e = p11_public_key(&s->hsm, sess, is->responder_key_label, NULL, 0, &pub);
	if (e != AE_OK || EVP_PKEY_eq(pub, X509_get0_pubkey(is->responder_cert)) != 1) {
		log_err("event=responder_key issuer=%s key=issuers.%s.ocsp_responder_key_label "
		    "result=\"%s\"", is->name, is->name, e != AE_OK ? "key not found on the token" :
		    "token key does not match the certificate");
		EVP_PKEY_free(pub);
		return AE_SIGNER_HSM;
	}
	EVP_PKEY_free(pub);
	if (key_type_of(X509_get0_pubkey(is->responder_cert)) != is->key_type) {
		log_err("event=responder_key issuer=%s result=\"not a %s key like the issuer's\"",
		    is->name, key_type_name(is->key_type));
		return AE_CONFIG;
	}
	return hsmkey_wrap(X509_get0_pubkey(is->responder_cert), MAX_ISSUERS + is->index,
	    &is->responder_key);
}

/* Remembers pk as a CA key: no certificate is ever signed for it. */
static void
note_ca_key(struct signer *s, EVP_PKEY *pk)
{
	struct spki_id id;

	if (pk == NULL || s->nca_keys >= sizeof(s->ca_keys) / sizeof(s->ca_keys[0]) ||
	    spki_id_of_pkey(pk, &id) != AE_OK)
		return;  /* a key spki_key_of cannot read is no subject key either */
	for (size_t i = 0; i < s->nca_keys; i++)
		if (s->ca_keys[i].kt == id.kt && s->ca_keys[i].len == id.len &&
		    memcmp(s->ca_keys[i].id, id.id, id.len) == 0)
			return;
	s->ca_keys[s->nca_keys++] = id;
}

/* A root's key, when the token holds it (the ceremony's token), and its certificate, when its
 * file is there: both are CA keys the signer must never certify. */
static void
note_root_key(struct signer *s, CK_SESSION_HANDLE sess, const struct issuer *is)
{
	EVP_PKEY *pub = NULL;
	X509 *cert = NULL;

	if (p11_public_key(&s->hsm, sess, is->key_label, is->key_id_len ? is->key_id : NULL,
	    is->key_id_len, &pub) == AE_OK)
		note_ca_key(s, pub);
	EVP_PKEY_free(pub);
	if (is->cert_path != NULL && load_cert(is->cert_path, &cert) == AE_OK)
		note_ca_key(s, X509_get0_pubkey(cert));
	X509_free(cert);
	ERR_clear_error();  /* an offline root leaves nothing to find: not an error */
}

/* Loads each intermediate's certificate and binds its key on the token; roots stay offline
 * (their keys sign only in the ceremony). */
static anvil_err
load_issuers(struct signer *s)
{
	CK_SESSION_HANDLE sess;
	CK_RV rv = CKR_OK;
	anvil_err e;
	size_t nkeys = 0;

	if ((e = p11_session_open(&s->hsm, s->conf.pin, 0, &sess, &rv)) != AE_OK) {
		/* Never the PIN itself: only the PKCS#11 return value. */
		log_err("event=hsm_login result=failed rv=0x%lx", (unsigned long)rv);
		return e;
	}
	for (size_t i = 0; i < s->conf.nissuers; i++) {
		struct issuer *is = &s->conf.issuers[i];
		EVP_PKEY *hpub = NULL;
		if (is->parent == NULL) {
			note_root_key(s, sess, is);
			continue;
		}
		if ((e = load_cert(is->cert_path, &is->cert)) != AE_OK) {
			log_err("event=issuer_cert issuer=%s path=%s result=\"%s\" hint=\"run "
			    "anvilctl init\"", is->name, is->cert_path, anvil_strerror(e));
			goto out;
		}
		e = p11_public_key(&s->hsm, sess, is->key_label, is->key_id_len ? is->key_id : NULL,
		    is->key_id_len, &hpub);
		if (e != AE_OK || EVP_PKEY_eq(hpub, X509_get0_pubkey(is->cert)) != 1) {
			log_err("event=issuer_key issuer=%s result=\"%s\"", is->name,
			    e != AE_OK ? "key not found on the token" :
			    "token key does not match the certificate");
			EVP_PKEY_free(hpub);
			e = AE_SIGNER_HSM;
			goto out;
		}
		note_ca_key(s, hpub);
		EVP_PKEY_free(hpub);
		if (key_type_of(X509_get0_pubkey(is->cert)) != is->key_type) {
			log_err("event=issuer_key issuer=%s result=\"key_type differs from the "
			    "certificate\"", is->name);
			e = AE_CONFIG;
			goto out;
		}
		if ((e = hsmkey_wrap(X509_get0_pubkey(is->cert), i, &is->key)) != AE_OK ||
		    (is->responder_key_label != NULL && (e = load_responder(s, sess, is)) != AE_OK))
			goto out;
		if (is->responder_cert != NULL)
			note_ca_key(s, X509_get0_pubkey(is->responder_cert));
		nkeys++;
	}
	log_info("event=issuers_loaded count=%zu ca_keys=%zu", nkeys, s->nca_keys);
	/* A profile of an issuer whose certificate the signer does not hold (a root's), or whose
	 * extensions do not build, keeps building them per certificate: its requests are refused
	 * and audited as before, and the other profiles still sign. */
	for (size_t i = 0; i < s->conf.nprofiles; i++) {
		struct profile *p = &s->conf.profiles[i];
		if (p->issuer->cert != NULL && (e = tbs_profile_prepare(p)) != AE_OK) {
			ERR_clear_error();
			log_warn("event=profile_extensions profile=%s result=\"%s; its certificates "
			    "will be refused\"", p->name, anvil_strerror(e));
		}
	}
	e = AE_OK;
out:
	p11_session_close(&s->hsm, sess);
	return e;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: anvil-signer -c CONFIG [--check]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const sections[] = CONF_SECTIONS;
	static struct signer s;
	struct conf_ctx cc;
	json_object *root = NULL;
	const char *path = NULL;
	char err[512] = "";
	char audit_path[PATH_MAX];
	int ch, check = 0, rc = 1, use_syslog = 0;
	enum log_level level = LOG_LVL_INFO;
	struct sigaction sa;

	memset(&cc, 0, sizeof(cc));
	log_init("anvil-signer", 0, LOG_LVL_INFO);
	while ((ch = getopt_long(argc, argv, "c:nh", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'n': check = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (conf_load(&cc, path, &root) != AE_OK ||
	    conf_check_keys(&cc, root, "", sections) != AE_OK ||
	    signer_conf_parse(&cc, root, SIGNER_CONF_DAEMON, &s.conf) != AE_OK ||
	    ocsp_conf_parse(&cc, root, &s.ocsp, &s.crl) != AE_OK) {
		fprintf(stderr, "anvil-signer: %s\n", cc.err);
		goto out;
	}
	if (conf_parse_log(&cc, root, &level, &use_syslog) != AE_OK) {
		fprintf(stderr, "anvil-signer: %s\n", cc.err);
		goto out;
	}
	if (check) {
		printf("anvil-signer: %s: ok\n", path);
		rc = 0;
		goto out;
	}
	log_init("anvil-signer", use_syslog, level);
	config_path = path;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(077);
	s.started_ms = clock_wall_ms();
	if (journal_open(s.conf.state_dir, s.conf.journal_sync, &s.journal, err,
	    sizeof(err)) != AE_OK) {
		log_err("event=journal_open error=\"%s\"", err);
		goto out;
	}
	if (snprintf(audit_path, sizeof(audit_path), "%s/audit.chain", s.conf.state_dir) >=
	    (int)sizeof(audit_path) ||
	    auditchain_open(audit_path, s.conf.journal_sync, &s.audit, err, sizeof(err)) !=
	    AE_OK) {
		log_err("event=audit_open key=signer.state_dir error=\"%s\"", err);
		goto out;
	}
	if (p11_load(&s.hsm, &s.conf.hsm, err, sizeof(err)) != AE_OK) {
		log_err("event=hsm_load error=\"%s\"", err);
		goto out;
	}
	if (load_issuers(&s) != AE_OK)
		goto out;
	if (pool_start(&s.conf, &s.hsm, &s.pool, err, sizeof(err)) != AE_OK) {
		log_err("event=pool_start error=\"%s\"", err);
		goto out;
	}
	if (server_run(&s, &stop_flag, &hup_flag, reload) == AE_OK)
		rc = 0;
	log_info("event=stopped");
out:
	pool_stop(s.pool);
	if (s.hsm.f != NULL)
		p11_unload(&s.hsm);
	journal_close(s.journal);
	auditchain_close(s.audit);
	for (size_t i = 0; i < s.conf.nprofiles; i++)
		tbs_profile_release(&s.conf.profiles[i]);
	signer_conf_free(&s.conf);
	json_object_put(root);
	return rc;
}
