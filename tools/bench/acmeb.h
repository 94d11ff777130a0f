/* anvil-bench: complete ACME flows (newOrder .. certificate) from one thread, libcurl multi,
 * with http-01 answered by a responder inside the same event loop. Shared declarations of the
 * tool's parts: the flow state machine (acmeb_flow.c), one HTTP exchange and the setup requests
 * (acmeb_xfer.c), the responder (acmeb_http01.c), keys, CSRs and chain checks (acmeb_cert.c),
 * statistics and reports (acmeb_report.c), the driver (acmeb_main.c). */
#ifndef ANVIL_ACMEB_H
#define ANVIL_ACMEB_H
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <time.h>
#include "lib/buf.h"
#include "lib/jwk.h"

#define ACMEB_BODY_MAX (256 * 1024) /* any ACME response, PEM chains included */
#define ACMEB_NONCE_MAX 128
#define ACMEB_URL_MAX 512
#define ACMEB_TOKEN_MAX 128
#define ACMEB_NAME_MAX 96
#define ACMEB_KEYAUTH_MAX (ACMEB_TOKEN_MAX + JWK_THUMBPRINT_LEN + 2)
#define ACMEB_CTYPE_MAX 96
#define ACMEB_RETRIES_MAX 10        /* 503/429/badNonce retries of one flow before it fails */
#define ACMEB_CONNECT_TO_MAX 8      /* --connect-to targets (front-end sets of one base_url) */
#define ACMEB_CONNECT_TO_LEN 255
#define ACMEB_OCSP_MAX (16 * 1024)  /* an OCSP response (Anvil's are about 500 bytes) */

/* The timed steps of a flow, in order; STEP_FLOW is the whole flow. */
enum step {
	STEP_NONCE,       /* newNonce, only when a slot has no fresh nonce */
	STEP_NEW_ORDER,
	STEP_AUTHZ,
	STEP_CHALLENGE,
	STEP_AUTHZ_POLL,  /* challenge response to authorization valid, sleeps included */
	STEP_FINALIZE,
	STEP_ORDER_POLL,  /* finalize response to order valid, sleeps included */
	STEP_CERT,        /* download, parse and check */
	STEP_OCSP,        /* --ocsp: GET of the leaf's AIA OCSP URL, response checked */
	STEP_FLOW,
	STEP_COUNT
};

struct opts {
	const char *directory;
	const char *cacert;
	const char *json_path;
	const char *pids;       /* name=pid[+pid...],... */
	const char *label;      /* free text copied into the report (e.g. "anvil") */
	int insecure;
	int ocsp;               /* a flow ends with a good OCSP response for its certificate */
	int64_t concurrency;
	int64_t seconds;
	int64_t burst;          /* > 0: burst mode */
	int64_t connections;    /* cap on connections to the server (flows queue for one) */
	int64_t http01_port;
	int64_t poll_cap_ms;
	int64_t poll_default_ms; /* when a poll answer has no Retry-After */
	int64_t retry_cap_ms;    /* 503/429 Retry-After is honoured up to this */
	int64_t accounts;
	int64_t keys;
	int64_t drain_seconds;
	int64_t timeout_s;       /* one request */
	/* --connect-to HOST:PORT:ADDR:PORT (libcurl CURLOPT_CONNECT_TO), one list each: flow slot
	 * i connects to target i mod n, so flows spread over several hosts serving one URL. */
	struct curl_slist *connect_to[ACMEB_CONNECT_TO_MAX];
	size_t nconnect_to;
};

struct account {
	EVP_PKEY *key;
	char kid[ACMEB_URL_MAX];
	char thumbprint[JWK_THUMBPRINT_LEN + 1];
};

struct dir_urls {
	char new_nonce[ACMEB_URL_MAX];
	char new_account[ACMEB_URL_MAX];
	char new_order[ACMEB_URL_MAX];
};

/* Statistics of a run (acmeb_report.c). */
struct samples {
	double *v;  /* seconds */
	size_t n, cap;
};

struct stats {
	struct samples step[STEP_COUNT];
	long started, completed, completed_in_window, failed, unfinished, requests;
	json_object *by_status;  /* "500" -> n, "transport" -> n */
	json_object *by_type;    /* ACME problem type (or a local reason) -> n */
	json_object *by_where;   /* "step status type" -> n */
};

struct flow;

/* The shared state of one run, owned by acmeb_main.c. */
struct run {
	const struct opts *o;
	struct dir_urls dir;
	struct account *accounts;
	size_t naccounts;
	EVP_PKEY **keys;
	size_t nkeys;
	struct flow **flows;
	size_t nflows;
	CURLM *multi;
	struct stats st;
	char run_id[16];
	uint64_t seq;            /* flows started, names are unique per run */
	double t0, t_end;
	double t_last_ok;         /* when the last flow completed */
	int accepting;           /* start new flows when a slot frees */
};

/* --- acmeb_flow.c --- */
struct flow *flow_new(struct run *r, size_t slot);
void flow_free(struct flow *f);
/* Setup (before the clock): a newNonce on the multi handle, which also opens the slot's
 * connection; flow_primed() takes its CURLMSG_DONE and returns 0 when a nonce came back. */
void flow_prime(struct flow *f);
int flow_primed(struct flow *f, CURLcode result);
/* Starts a new complete flow on an idle slot. */
void flow_start(struct flow *f, double now);
/* A transfer of f's handle finished (result from CURLMSG_DONE). */
void flow_on_done(struct flow *f, CURLcode result, double now);
/* Wakes a flow whose poll or retry delay is over; returns its wake time or 0 when not sleeping. */
double flow_wake_at(const struct flow *f);
void flow_wake(struct flow *f, double now);
int flow_idle(const struct flow *f);
/* Abandons an in-flight flow at the end of the drain period (counted unfinished). */
void flow_abandon(struct flow *f);
/* The key authorization for token if an active flow waits for it, else NULL. */
const char *flows_keyauth(struct run *r, const char *token, size_t len);
/* Blocking setup requests (directory, accounts) on one easy handle. */
int setup_directory(struct run *r);
int setup_account(struct run *r, struct account *a);
void curl_common(CURL *h, const struct opts *o);
double now_s(void);

/* --- acmeb_http01.c --- */
struct http01;
struct http01 *http01_open(int64_t port, struct run *r);
void http01_close(struct http01 *s);
/* Fills up to max poll entries (listener and connections); returns how many. */
unsigned http01_fds(struct http01 *s, struct curl_waitfd *fds, unsigned max);
/* Acts on the revents curl_multi_poll filled in. */
void http01_service(struct http01 *s, struct curl_waitfd *fds, unsigned n, double now);
void http01_counts(const struct http01 *s, long *served, long *not_found, long *bad);

/* --- acmeb_cert.c --- */
EVP_PKEY *key_gen_p256(void);
/* base64url DER CSR for one DNS name (malloc'd). */
char *csr_b64(EVP_PKEY *key, const char *name);
/* 0 when pem parses as a chain whose leaf carries exactly the SAN name and key's public key and
 * (with an issuer in the chain) verifies with the next certificate's key; else a static reason.
 * On success, when leaf_out/issuer_out are not NULL, the leaf and the issuer (NULL when the
 * chain has none) are handed over: the caller frees them. */
const char *chain_check(const char *pem, size_t len, const char *name, EVP_PKEY *key,
    X509 **leaf_out, X509 **issuer_out);

/* --- acmeb_ocsp.c --- */
/* The RFC 5019 GET URL (AIA OCSP URL + percent-encoded base64 request) for leaf, and its
 * SHA-1 CertID (*id_out, freed by the caller); NULL, or a static reason. */
const char *ocsp_request_url(X509 *leaf, X509 *issuer, char *url, size_t urlsz,
    OCSP_CERTID **id_out);
/* NULL when der is a successful OCSP response, verified with issuer, saying id is good with
 * thisUpdate <= now + a small skew and now < nextUpdate; else a static reason. */
const char *ocsp_check(const unsigned char *der, size_t len, X509 *issuer, OCSP_CERTID *id,
    time_t now);

/* --- acmeb_report.c --- */
void stats_init(struct stats *s);
void stats_free(struct stats *s);
void stats_add(struct stats *s, enum step step, double seconds);
/* One error event: step, HTTP status (0 = transport), problem type or local reason. */
void stats_error(struct stats *s, enum step step, long status, const char *type);
const char *step_name(enum step s);
/* CPU seconds (user+system) of the named pid groups of --pids: parse once, sample twice. */
struct cpuset;
struct cpuset *cpu_parse(const char *spec);
void cpu_sample(struct cpuset *c, int which);
void cpu_free(struct cpuset *c);
/* The report: JSON to json_path (or stdout) and a table to the other stream. */
int report_write(struct run *r, struct cpuset *cpu, double elapsed, double window,
    struct http01 *h);

#endif
