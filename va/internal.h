/* The validation engine's insides, shared by the files of va/ only. One task is one attempt at
 * one challenge; it moves through phases, one network operation at a time, and every callback
 * from c-ares, curl or the TLS socket only records what happened and sets `wake`: the engine
 * then advances woken tasks from va_run_once, so no callback re-enters a task. */
#ifndef ANVIL_VA_INTERNAL_H
#define ANVIL_VA_INTERNAL_H
#include <stdint.h>
#include <ares.h>
#include <curl/curl.h>
#include <openssl/ssl.h>
#include "lib/buf.h"
#include "va/va.h"

#define VA_ADDRS_MAX 16
#define VA_DNS_ANSWER_MAX 65536
#define VA_URL_MAX 2048
#define VA_TASKS_MAX 100000

/* A task's DNS slots: the target's A and AAAA (dns-01's TXT in the first), and CAA. */
#define VA_SLOT_A 0
#define VA_SLOT_AAAA 1
#define VA_SLOT_CAA 2
#define VA_DNS_SLOTS 3

struct va_addr {
	int family;
	uint8_t b[16];
};

enum va_phase { PH_START, PH_CAA, PH_RESOLVE, PH_HTTP, PH_TXT, PH_TLS };

struct va_query;

struct va_dns_slot {
	struct va_query *q;     /* outstanding, or NULL */
	int status;             /* ARES_* of the answer */
	uint8_t *abuf;          /* copy of the answer */
	int alen;
};

struct va_task {
	struct va *va;
	struct va_task *prev, *next;
	va_done_fn cb;
	void *arg;

	char type[16];
	char keyauth[128];
	char ident_type[8];
	char ident[256];
	int wildcard;
	char profile[65];
	int64_t account_id;
	int caa_only;
	const struct va_policy *policy;

	enum va_phase phase;
	int wake;
	int64_t deadline;       /* ms, monotonic */
	struct va_dns_slot dns[VA_DNS_SLOTS];
	int addrs_ahead;        /* the identifier's A and AAAA asked for with its CAA */

	/* the current target: host name (or IP literal), port, resolved addresses */
	char host[256];
	int64_t port;
	int scheme_https;
	char url[VA_URL_MAX];
	struct va_addr addrs[VA_ADDRS_MAX];
	size_t naddrs;
	struct va_addr used;

	char caa_name[256];     /* the CAA tree-climbing position */

	/* http-01 */
	CURL *easy;
	CURLSH *dnscache;       /* the easy handle's own DNS cache: where its pin lives */
	struct curl_slist *resolve;
	struct buf body;
	int body_over;
	int hops;
	int curl_done;
	CURLcode curl_res;
	char curl_err[CURL_ERROR_SIZE];

	/* tls-alpn-01 */
	int fd;
	SSL *ssl;
	short events;           /* what the handshake waits for */

	json_object *records;
	int finished;           /* set by va_fail/va_succeed; the engine completes the task */
	int valid;
	json_object *problem;
};

struct va {
	const struct va_conf *conf;
	ares_channel ch;
	CURLM *multi;
	SSL_CTX *tls;
	struct va_task *head, *tail;
	size_t ntasks;
	struct curl_waitfd *wait;   /* VA_EXTRA_MAX entries, reused by every wait */
};

int64_t va_now_ms(void);
void va_fail(struct va_task *t, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void va_succeed(struct va_task *t);
json_object *va_record_new(struct va_task *t);
/* "1.2.3.4" or "::1" */
void va_addr_str(const struct va_addr *a, char *out, size_t outsz);
int va_addr_parse(const char *s, struct va_addr *a);
/* 1 when the policy allows connecting to a. */
int va_policy_allows(const struct va_policy *p, const struct va_addr *a);

/* resolve.c */
anvil_err va_dns_query(struct va_task *t, int slot, const char *name, int type);
void va_dns_cancel(struct va_task *t);
void va_dns_cancel_slot(struct va_task *t, int slot);
/* 1 while the slot's answer is still to come. */
int va_dns_waiting(const struct va_task *t, int slot);
/* Starts resolving t->host (A and AAAA) or, for an IP literal, takes it as it is. */
void va_target_begin(struct va_task *t);
/* With the first CAA query: the identifier's A and AAAA, when the method will connect to it,
 * so the answers are in when CAA allows it (one round trip and one resolver socket fewer). */
void va_target_ahead(struct va_task *t);
void va_target_step(struct va_task *t);
const char *va_dns_strerror(int status);

/* http01.c, dns01.c, tlsalpn.c, caa.c */
void va_http_begin(struct va_task *t);
void va_http_step(struct va_task *t);
void va_http_cleanup(struct va_task *t);
void va_http_redirect_target(struct va_task *t);
void va_dns01_begin(struct va_task *t);
void va_dns01_step(struct va_task *t);
void va_tls_begin(struct va_task *t);
void va_tls_step(struct va_task *t);
void va_tls_cleanup(struct va_task *t);
void va_caa_begin(struct va_task *t);
void va_caa_step(struct va_task *t);
/* After CAA: the challenge's own method. */
void va_method_begin(struct va_task *t);
/* Called when the target address is known and allowed. */
void va_method_connect(struct va_task *t);

#endif
