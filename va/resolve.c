/* DNS through c-ares: one query per slot of a task, answers copied into the task, and the
 * resolution of a validation target (A and AAAA at once) with the address policy applied to the
 * address that will be used. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <sys/socket.h>
#include "va/internal.h"

struct va_query {
	struct va_task *task;   /* NULL once the task is gone: the answer is dropped */
	int slot;
};

const char *
va_dns_strerror(int status)
{
	switch (status) {
	case ARES_ENOTFOUND: return "NXDOMAIN";
	case ARES_ENODATA: return "no records";
	case ARES_ESERVFAIL: return "SERVFAIL";
	case ARES_EREFUSED: return "REFUSED";
	case ARES_ETIMEOUT: return "timeout";
	case ARES_ECONNREFUSED: return "connection refused";
	case ARES_EFORMERR: return "FORMERR";
	case ARES_EBADRESP: return "malformed response";
	default: return "lookup failed";
	}
}

static void
on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct va_query *q = arg;
	struct va_task *t = q->task;

	(void)timeouts;
	if (t != NULL) {
		struct va_dns_slot *s = &t->dns[q->slot];

		s->q = NULL;
		s->status = status;
		free(s->abuf);
		s->abuf = NULL;
		s->alen = 0;
		if (status == ARES_SUCCESS && abuf != NULL && alen > 0 &&
		    alen <= VA_DNS_ANSWER_MAX) {
			if ((s->abuf = malloc((size_t)alen)) != NULL) {
				memcpy(s->abuf, abuf, (size_t)alen);
				s->alen = alen;
			} else {
				s->status = ARES_ENOMEM;
			}
		}
		/* Each phase's step waits for its own slots: others may still be out. */
		t->wake = 1;
	}
	free(q);
}

anvil_err
va_dns_query(struct va_task *t, int slot, const char *name, int type)
{
	struct va_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return AE_NOMEM;
	q->task = t;
	q->slot = slot;
	t->dns[slot].q = q;
	t->dns[slot].status = ARES_SUCCESS;
	/* May answer at once (bad name, no servers): on_answer only records, so that is safe. */
	ares_query(t->va->ch, name, C_IN, type, on_answer, q);
	return AE_OK;
}

void
va_dns_cancel_slot(struct va_task *t, int slot)
{
	if (t->dns[slot].q != NULL)
		t->dns[slot].q->task = NULL;
	t->dns[slot].q = NULL;
}

void
va_dns_cancel(struct va_task *t)
{
	for (int i = 0; i < VA_DNS_SLOTS; i++)
		va_dns_cancel_slot(t, i);
}

int
va_dns_waiting(const struct va_task *t, int slot)
{
	return t->dns[slot].q != NULL;
}

/* An IP literal, bracketed or not, as an address. */
static int
literal(const char *host, struct va_addr *a)
{
	char tmp[64];
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		return va_addr_parse(tmp, a);
	}
	return va_addr_parse(host, a);
}

static void
use_address(struct va_task *t)
{
	char s[INET6_ADDRSTRLEN];

	va_addr_str(&t->used, s, sizeof(s));
	if (!va_policy_allows(t->policy, &t->used)) {
		va_fail(t, "rejectedIdentifier", "%s resolves to %s, which profile %s may not reach",
		    t->host, s, t->profile);
		return;
	}
	va_method_connect(t);
}

void
va_target_begin(struct va_task *t)
{
	t->naddrs = 0;
	if (literal(t->host, &t->used) == 0) {
		t->addrs[0] = t->used;
		t->naddrs = 1;
		use_address(t);
		return;
	}
	t->phase = PH_RESOLVE;
	/* The first hop's addresses were asked for with the CAA lookup (va_target_ahead). */
	if (t->addrs_ahead && strcmp(t->host, t->ident) == 0) {
		t->addrs_ahead = 0;
		va_target_step(t);
		return;
	}
	t->addrs_ahead = 0;
	if (va_dns_query(t, VA_SLOT_A, t->host, ns_t_a) != AE_OK ||
	    va_dns_query(t, VA_SLOT_AAAA, t->host, ns_t_aaaa) != AE_OK)
		va_fail(t, "serverInternal", "out of memory");
}

void
va_target_ahead(struct va_task *t)
{
	struct va_addr a;

	if (t->caa_only || t->wildcard || strcmp(t->ident_type, "dns") != 0 ||
	    (strcmp(t->type, "http-01") != 0 && strcmp(t->type, "tls-alpn-01") != 0) ||
	    literal(t->ident, &a) == 0)
		return;
	if (va_dns_query(t, VA_SLOT_A, t->ident, ns_t_a) != AE_OK ||
	    va_dns_query(t, VA_SLOT_AAAA, t->ident, ns_t_aaaa) != AE_OK) {
		/* Asked again, the ordinary way, if CAA lets the validation go on. */
		va_dns_cancel_slot(t, VA_SLOT_A);
		va_dns_cancel_slot(t, VA_SLOT_AAAA);
		return;
	}
	t->addrs_ahead = 1;
}

static void
collect(struct va_task *t, struct va_dns_slot *s, int family)
{
	struct ares_addrttl a4[VA_ADDRS_MAX];
	struct ares_addr6ttl a6[VA_ADDRS_MAX];
	int n = VA_ADDRS_MAX;

	if (s->status != ARES_SUCCESS || s->abuf == NULL)
		return;
	if (family == AF_INET) {
		if (ares_parse_a_reply(s->abuf, s->alen, NULL, a4, &n) != ARES_SUCCESS)
			return;
		for (int i = 0; i < n && t->naddrs < VA_ADDRS_MAX; i++) {
			struct va_addr *d = &t->addrs[t->naddrs++];
			memset(d, 0, sizeof(*d));
			d->family = AF_INET;
			memcpy(d->b, &a4[i].ipaddr, 4);
		}
	} else {
		if (ares_parse_aaaa_reply(s->abuf, s->alen, NULL, a6, &n) != ARES_SUCCESS)
			return;
		for (int i = 0; i < n && t->naddrs < VA_ADDRS_MAX; i++) {
			struct va_addr *d = &t->addrs[t->naddrs++];
			memset(d, 0, sizeof(*d));
			d->family = AF_INET6;
			memcpy(d->b, &a6[i].ip6addr, 16);
		}
	}
}

void
va_target_step(struct va_task *t)
{
	const struct va_dns_slot *a = &t->dns[VA_SLOT_A], *aaaa = &t->dns[VA_SLOT_AAAA];

	if (va_dns_waiting(t, VA_SLOT_A) || va_dns_waiting(t, VA_SLOT_AAAA))
		return;
	t->naddrs = 0;
	collect(t, &t->dns[VA_SLOT_A], AF_INET);
	collect(t, &t->dns[VA_SLOT_AAAA], AF_INET6);
	if (t->naddrs == 0) {
		int st = a->status != ARES_SUCCESS ? a->status : aaaa->status;

		if (st == ARES_SUCCESS || st == ARES_ENODATA)
			va_fail(t, "dns", "No valid IP addresses found for %s", t->host);
		else
			va_fail(t, "dns", "DNS problem: %s looking up A/AAAA for %s",
			    va_dns_strerror(st), t->host);
		return;
	}
	/* IPv4 first: the address list is in the validation record either way. */
	t->used = t->addrs[0];
	use_address(t);
}
