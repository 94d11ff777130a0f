#include "config.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include "ca/hsmkey.h"
#include "ca/signer.h"
#include "ca/spki.h"
#include "ca/tbs.h"
#include "lib/clock.h"
#include "lib/hex.h"
#include "lib/log.h"

static int
sign_x509(struct job *j)
{
	return X509_sign(j->arg, j->issuer->key, hsmkey_md(j->issuer->key_type)) > 0;
}

struct ocsp_job {
	const struct ocsp_req *req;
	OCSP_BASICRESP *bs;   /* built by the connection thread */
	int tried;
};

static int
sign_ocsp(struct job *j)
{
	struct ocsp_job *oj = j->arg;

	/* OCSP_basic_sign leaks its responder id when called twice on one response: a retry after
	 * a session reopen signs a freshly built one. */
	if (oj->tried++) {
		OCSP_BASICRESP_free(oj->bs);
		oj->bs = NULL;
		if (tbs_build_ocsp(j->issuer, oj->req, &oj->bs) != AE_OK)
			return 0;
	}
	/* The issuer answers for its own certificates, or its delegated responder does, with
	 * its certificate riding along so relying parties can check the delegation; the key hash
	 * is the smallest responder id. */
	if (j->issuer->responder_key != NULL)
		return OCSP_basic_sign(oj->bs, j->issuer->responder_cert, j->issuer->responder_key,
		    hsmkey_md(j->issuer->key_type), NULL, OCSP_RESPID_KEY) == 1;
	return OCSP_basic_sign(oj->bs, j->issuer->cert, j->issuer->key,
	    hsmkey_md(j->issuer->key_type), NULL, OCSP_NOCERTS | OCSP_RESPID_KEY) == 1;
}

static int
sign_crl(struct job *j)
{
	return X509_CRL_sign(j->arg, j->issuer->key, hsmkey_md(j->issuer->key_type)) > 0;
}

/* Whether a subject key (as tbs_lint read it) is one of the signer's CA keys (any issuer's,
 * not only the profile's, in any encoding). */
static int
is_ca_key(const struct signer *s, const struct spki_id *id)
{
	for (size_t i = 0; i < s->nca_keys; i++)
		if (s->ca_keys[i].kt == id->kt && s->ca_keys[i].len == id->len &&
		    memcmp(s->ca_keys[i].id, id->id, id->len) == 0)
			return 1;
	return 0;
}

/* Every signature is checked with the public key relying parties will use before anything
 * signed leaves the signer or enters its journal: a faulty HSM (or a key on the token that
 * does not match the certificate) must not hand out an object nobody can verify, nor a
 * certificate whose serial is then spent. */
static anvil_err
bad_signature(const char *what, const char *issuer)
{
	ERR_clear_error();
	log_err("event=bad_signature what=%s issuer=%s result=\"the HSM returned a signature "
	    "that does not verify\"", what, issuer);
	return AE_SIGNER_HSM;
}

static const char *
op_name(int op)
{
	switch (op) {
	case OP_PRECERT: return "precert";
	case OP_CERT: return "cert";
	case OP_OCSP: return "ocsp";
	case OP_CRL: return "crl";
	case OP_HEALTH: return "health";
	case OP_STATS: return "stats";
	default: return "unknown";
	}
}

/* Every operation, refused ones included, becomes a record of the audit chain before its
 * answer leaves: a signature the chain cannot hold is not handed out (the caller's retry gets
 * the journaled bytes once the file is writable again). The log line repeats the record with
 * its seq and hash, an independent copy of the chain's head (doc/audit.md). */
static anvil_err
audit(struct signer *s, const struct peer *peer, const struct request *req,
    const char *profile, const char *issuer, const uint8_t *serial, size_t slen, anvil_err e,
    const struct job *j, uint64_t t0, int replay)
{
	char sh[2 * PROTO_SERIAL_MAX + 1], pn[PROTO_NAME_MAX * 4 + 1], ossl[256];
	char text[AUDIT_TEXT_MAX];
	char hash[AUDIT_HASH_HEX] = "-";
	unsigned long oe;
	uint64_t seq = 0;
	anvil_err ae;

	/* A crypto failure is a bug or a broken issuer: keep OpenSSL's reason for the operator. */
	while ((oe = ERR_get_error()) != 0)
		if (e == AE_CRYPTO) {
			ERR_error_string_n(oe, ossl, sizeof(ossl));
			log_err("event=openssl_error error=\"%s\"", ossl);
		}
	hex_encode(serial, slen, sh);
	log_escape(pn, sizeof(pn), profile, strlen(profile));
	snprintf(text, sizeof(text), "event=sign what=%s serial=%s profile=\"%s\" issuer=%s "
	    "requester_uid=%u requester_pid=%ld request_id=%u result=%s%s code=%d duration_us=%llu "
	    "queue_us=%llu hsm_us=%llu", op_name(req->op), sh, pn, issuer ? issuer : "-",
	    (unsigned)peer->uid, (long)peer->pid, req->id, e == AE_OK ? "ok" : "refused",
	    replay ? " replay=1" : "", (int)e, (unsigned long long)(clock_mono_us() - t0),
	    (unsigned long long)(j ? j->queued_us : 0), (unsigned long long)(j ? j->hsm_us : 0));
	ae = auditchain_append(s->audit, text, &seq, hash);
	if (ae != AE_OK)
		log_err("event=audit_chain_failed key=signer.state_dir result=\"%s; signing stops "
		    "until the audit file is writable and the signer restarted\"",
		    anvil_strerror(ae));
	log_audit("%s audit_seq=%llu audit_hash=%s", text, (unsigned long long)seq, hash);
	return ae;
}

/* What an operation answers once audited: its own result, or AE_IO (and nothing) when the
 * record could not be written. */
static anvil_err
audited(anvil_err e, anvil_err ae, struct buf *out)
{
	if (ae == AE_OK)
		return e;
	buf_reset(out);
	return AE_IO;
}

static anvil_err
der_out(struct buf *out, unsigned char *der, int n)
{
	anvil_err e = n > 0 ? buf_append(out, der, (size_t)n) : AE_CRYPTO;
	OPENSSL_free(der);
	return e;
}

static anvil_err
handle_cert(struct signer *s, const struct peer *peer, struct request *req, struct buf *out,
    uint32_t *retry_ms, const char **msg)
{
	struct cert_req *r = &req->u.cert;
	int precert = req->op == OP_PRECERT, kind = precert ? J_PRECERT : J_CERT, reserved = 0;
	struct profile *p = conf_profile(&s->conf, r->profile);
	struct job j;
	struct spki_id key;
	X509 *x = NULL;
	uint8_t hash[32], *der = NULL;
	unsigned char *enc = NULL;
	size_t derlen = 0;
	uint64_t t0 = clock_mono_us();
	int replay = 0, n;
	anvil_err e = AE_SIGNER_PROFILE;

	memset(&j, 0, sizeof(j));
	if (p == NULL)
		goto out;
	/* The journal before any check of the clock: a retry of what was signed (the caller's
	 * answer lost, its order finished by anvil-jobs an hour later) gets the journaled bytes,
	 * or a signed certificate would exist only here while its order turned invalid. */
	if ((e = tbs_assemble_cert(p, r, precert, &x)) != AE_OK ||
	    (e = tbs_hash(x, hash)) != AE_OK)
		goto out;
	e = journal_reserve(s->journal, kind, r->serial, r->serial_len, hash, &der, &derlen);
	if (e == AE_EXISTS) {
		/* A retry of what was already signed gets the same bytes. */
		replay = 1;
		e = buf_append(out, der, derlen);
		goto out;
	}
	if (e == AE_BUSY)
		*retry_ms = 100;
	if (e != AE_OK)
		goto out;
	reserved = 1;
	free(der);
	der = NULL;
	if ((e = tbs_lint(p, x, precert, time(NULL), &key)) != AE_OK)
		goto out;
	if (is_ca_key(s, &key)) {
		e = AE_SIGNER_KEY;
		*msg = "the subject key is a CA key of this signer";
		goto out;
	}
	if (!precert && p->ct) {
		/* The final certificate must be its precertificate but for poison and SCTs. */
		if (journal_get(s->journal, J_PRECERT, r->serial, r->serial_len, &der,
		    &derlen) != AE_OK) {
			e = AE_SIGNER_MISMATCH;
			*msg = "no precertificate was signed for this serial";
			goto out;
		}
		e = tbs_match_precert_der(der, derlen, x);
		free(der);
		der = NULL;
		if (e != AE_OK)
			goto out;
	}
	j.fn = sign_x509;
	j.arg = x;
	j.issuer = p->issuer;
	j.deadline_ms = req->deadline_ms;
	if ((e = pool_run(s->pool, &j, retry_ms)) != AE_OK)
		goto out;
	/* Encoded once: the signature is checked on the bytes journaled and answered. */
	if ((n = i2d_X509(x, &enc)) <= 0) {
		e = AE_CRYPTO;
		goto out;
	}
	if (!tbs_der_signature_ok(enc, (size_t)n, X509_get0_pubkey(p->issuer->cert),
	    hsmkey_md(p->issuer->key_type))) {
		e = bad_signature(op_name(req->op), p->issuer->name);
		goto out;
	}
	if ((e = journal_commit(s->journal, kind, r->serial, r->serial_len, enc,
	    (size_t)n)) != AE_OK) {
		log_err("event=journal_commit_failed result=%s", anvil_strerror(e));
		goto out;
	}
	reserved = 0;
	e = der_out(out, enc, n);
	enc = NULL;
out:
	if (reserved)
		journal_release(s->journal, kind, r->serial, r->serial_len);
	e = audited(e, audit(s, peer, req, r->profile, p ? p->issuer->name : NULL, r->serial,
	    r->serial_len, e, j.fn ? &j : NULL, t0, replay), out);
	OPENSSL_free(enc);
	free(der);
	X509_free(x);
	return e;
}

static struct issuer *
signing_issuer(struct signer *s, const char *name)
{
	struct issuer *is = conf_issuer(&s->conf, name);
	return is != NULL && is->key != NULL ? is : NULL;
}

/* Clocks of the signer and its callers are one host's: a little slack for the time a request
 * spends queued, no more. */
#define TIME_SKEW 300

/* thisUpdate may lie back_s in the past (plus the skew), never ahead; the validity at most
 * max_s. */
static int
times_ok(uint64_t this_update, uint64_t next_update, int64_t back_s, int64_t max_s)
{
	int64_t now = (int64_t)time(NULL);
	int64_t tu = (int64_t)this_update, nu = (int64_t)next_update;

	if (this_update > INT64_MAX / 2 || next_update > INT64_MAX / 2)
		return 0;
	return tu >= now - back_s - TIME_SKEW && tu <= now + TIME_SKEW && nu > tu &&
	    nu - tu <= max_s;
}

/* Whether the journal shows a precertificate or certificate of this serial signed by this
 * issuer: the signer vouches only for what it signed. Only the journaled certificate's issuer
 * Name is read (tbs_der_issuer): decoding it whole cost more than the OCSP signature. */
static anvil_err
signed_here(struct signer *s, const struct issuer *is, const uint8_t *serial, size_t slen)
{
	static const int kinds[] = { J_CERT, J_PRECERT };
	const X509_NAME *want = X509_get_subject_name(is->cert);
	const uint8_t *wder = NULL;
	size_t wlen = 0;
	anvil_err e = AE_SIGNER_UNSIGNED;

	if (!X509_NAME_get0_der(want, &wder, &wlen))
		return AE_CRYPTO;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && e == AE_SIGNER_UNSIGNED; k++) {
		uint8_t *der = NULL;
		size_t derlen = 0, nlen;
		const unsigned char *name, *p;
		X509_NAME *n;

		if (journal_get(s->journal, kinds[k], serial, slen, &der, &derlen) != AE_OK)
			continue;
		if (tbs_der_issuer(der, derlen, &name, &nlen) != AE_OK)
			e = AE_INTERNAL;
		else if (nlen == wlen && memcmp(name, wder, wlen) == 0)
			e = AE_OK;
		else {
			/* Another encoding of the same name still is this issuer's. */
			p = name;
			if ((n = d2i_X509_NAME(NULL, &p, (long)nlen)) == NULL)
				e = AE_INTERNAL;
			else if (X509_NAME_cmp(n, want) == 0)
				e = AE_OK;
			X509_NAME_free(n);
		}
		free(der);
	}
	return e;
}

static anvil_err
handle_ocsp(struct signer *s, const struct peer *peer, struct request *req, struct buf *out,
    uint32_t *retry_ms)
{
	struct ocsp_req *r = &req->u.ocsp;
	struct issuer *is = signing_issuer(s, r->issuer);
	struct ocsp_job oj = { r, NULL, 0 };
	OCSP_RESPONSE *resp = NULL;
	unsigned char *der = NULL;
	struct job j;
	uint64_t t0 = clock_mono_us();
	anvil_err e = AE_SIGNER_PROFILE;

	memset(&j, 0, sizeof(j));
	if (is == NULL)
		goto out;
	e = AE_SIGNER_VALIDITY;
	if (!times_ok(r->this_update, r->next_update, s->ocsp.backdate, s->ocsp.validity))
		goto out;
	if ((e = signed_here(s, is, r->serial, r->serial_len)) != AE_OK ||
	    (e = tbs_build_ocsp(is, r, &oj.bs)) != AE_OK)
		goto out;
	j.fn = sign_ocsp;
	j.arg = &oj;
	j.issuer = is;
	j.deadline_ms = req->deadline_ms;
	if ((e = pool_run(s->pool, &j, retry_ms)) != AE_OK)
		goto out;
	if (ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), OCSP_resp_get0_tbs_sigalg(oj.bs),
	    OCSP_resp_get0_signature(oj.bs), OCSP_resp_get0_respdata(oj.bs),
	    X509_get0_pubkey(is->responder_key != NULL ? is->responder_cert : is->cert)) != 1) {
		e = bad_signature("ocsp", is->name);
		goto out;
	}
	e = AE_CRYPTO;
	if ((resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, oj.bs)) != NULL)
		e = der_out(out, der, i2d_OCSP_RESPONSE(resp, &der));
out:
	e = audited(e, audit(s, peer, req, "-", is ? is->name : NULL, r->serial, r->serial_len,
	    e, j.fn ? &j : NULL, t0, 0), out);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(oj.bs);
	return e;
}

static anvil_err
handle_crl(struct signer *s, const struct peer *peer, struct request *req, struct buf *out,
    uint32_t *retry_ms)
{
	struct crl_req *r = &req->u.crl;
	struct issuer *is = signing_issuer(s, r->issuer);
	X509_CRL *crl = NULL;
	unsigned char *der = NULL;
	uint8_t num[8];
	struct job j;
	uint64_t t0 = clock_mono_us();
	anvil_err e = AE_SIGNER_PROFILE;

	memset(&j, 0, sizeof(j));
	for (int i = 0; i < 8; i++)
		num[i] = (uint8_t)(r->number >> (8 * (7 - i)));
	if (is == NULL)
		goto out;
	e = AE_SIGNER_VALIDITY;
	/* A CRL is signed when it is built: thisUpdate is now. */
	if (!times_ok(r->this_update, r->next_update, 0, s->crl.validity) ||
	    (e = tbs_build_crl(is, r, &crl)) != AE_OK)
		goto out;
	j.fn = sign_crl;
	j.arg = crl;
	j.issuer = is;
	j.deadline_ms = req->deadline_ms;
	if ((e = pool_run(s->pool, &j, retry_ms)) != AE_OK)
		goto out;
	if (X509_CRL_verify(crl, X509_get0_pubkey(is->cert)) != 1) {
		e = bad_signature("crl", is->name);
		goto out;
	}
	e = der_out(out, der, i2d_X509_CRL(crl, &der));
out:
	e = audited(e, audit(s, peer, req, "-", is ? is->name : NULL, num, sizeof(num), e,
	    j.fn ? &j : NULL, t0, 0), out);
	X509_CRL_free(crl);
	return e;
}

/* Successful replies per signing op, for stats' signed_by_op (the metrics' signatures by
 * operation); connection threads answer concurrently. */
static _Atomic uint64_t signed_by_op[OP_CRL + 1];

static anvil_err
handle_stats(struct signer *s, int health, struct buf *out)
{
	anvil_err e;

	struct pool_stats st;

	pool_get_stats(s->pool, &st);
	if (health && (journal_failed(s->journal) || auditchain_failed(s->audit)))
		return AE_IO;  /* signing stopped: journal_sync_failed or audit_chain_failed logged */
	if (health)
		return st.sessions_up > 0 || st.signed_ok > 0 ?
		    buf_printf(out, "ok sessions=%llu", (unsigned long long)st.sessions) :
		    AE_SIGNER_HSM;
	e = buf_printf(out, "{\"uptime_s\":%llu,\"signed\":%llu,\"failed\":%llu,\"busy\":%llu,"
	    "\"deadline_dropped\":%llu,\"sessions\":%llu,\"sessions_up\":%llu,"
	    "\"sessions_reopened\":%llu,\"active\":%llu,\"queue_len\":%llu,\"queue_max\":%llu,"
	    "\"queue_delay_p50_us\":%llu,\"queue_delay_p99_us\":%llu,\"hsm_avg_us\":%llu,"
	    "\"journal_records\":%llu,\"journal_failed\":%s}",
	    (unsigned long long)((clock_wall_ms() - s->started_ms) / 1000),
	    (unsigned long long)st.signed_ok, (unsigned long long)st.failed,
	    (unsigned long long)st.busy, (unsigned long long)st.deadline,
	    (unsigned long long)st.sessions, (unsigned long long)st.sessions_up,
	    (unsigned long long)st.reopened, (unsigned long long)st.active,
	    (unsigned long long)st.queue_len,
	    (unsigned long long)st.queue_max, (unsigned long long)st.qdelay_p50_us,
	    (unsigned long long)st.qdelay_p99_us, (unsigned long long)st.hsm_avg_us,
	    (unsigned long long)journal_count(s->journal),
	    journal_failed(s->journal) ? "true" : "false");
	if (e != AE_OK)
		return e;
	/* Replaces the closing brace. */
	out->len--;
	return buf_printf(out, ",\"signed_by_op\":{\"precert\":%llu,\"cert\":%llu,\"ocsp\":%llu,"
	    "\"crl\":%llu}}",
	    (unsigned long long)atomic_load(&signed_by_op[OP_PRECERT]),
	    (unsigned long long)atomic_load(&signed_by_op[OP_CERT]),
	    (unsigned long long)atomic_load(&signed_by_op[OP_OCSP]),
	    (unsigned long long)atomic_load(&signed_by_op[OP_CRL]));
}

anvil_err
ops_handle(struct signer *s, const struct peer *peer, struct request *req, struct buf *out,
    uint32_t *retry_ms, const char **msg)
{
	anvil_err e;

	*msg = NULL;
	if (!signer_conf_permits(&s->conf, peer->uid, req->op)) {
		log_warn("event=op_refused uid=%u op=%s", (unsigned)peer->uid, op_name(req->op));
		*msg = anvil_strerror(AE_SIGNER_PERM);
		return AE_SIGNER_PERM;
	}
	switch (req->op) {
	case OP_PRECERT:
	case OP_CERT:
		e = handle_cert(s, peer, req, out, retry_ms, msg);
		break;
	case OP_OCSP:
		e = handle_ocsp(s, peer, req, out, retry_ms);
		break;
	case OP_CRL:
		e = handle_crl(s, peer, req, out, retry_ms);
		break;
	case OP_HEALTH:
	case OP_STATS:
		e = handle_stats(s, req->op == OP_HEALTH, out);
		break;
	default:
		e = AE_SIGNER_PROTO;
	}
	if (e == AE_OK && req->op >= OP_PRECERT && req->op <= OP_CRL)
		atomic_fetch_add(&signed_by_op[req->op], 1);
	if (e != AE_OK && *msg == NULL)
		*msg = anvil_strerror(e);
	return e;
}
