/* anvil-bench: complete ACME flows against a server, from one thread with libcurl multi, with
 * http-01 answered by a responder in the same event loop (acmeb_http01.c). Closed loop: N
 * flows at once for S seconds, each slot starting its next flow when one ends; burst: N flows
 * started together, run until all end. Accounts, certificate keys, connections and first nonces
 * are made before the clock starts. Prints one JSON object and a table (acmeb_report.c).
 *
 *   anvil-bench --directory URL [--cacert FILE | --insecure] [--concurrency N --seconds S |
 *       --burst N] [--http01-port P] [--poll-cap-ms MS] [--pids name=pid+pid,...] [--json F]
 *       [--connect-to HOST:PORT:ADDR:PORT ...]
 */
#include "config.h"
#include <getopt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/num.h"
#include "tools/bench/acmeb.h"

#define POLL_FDS_MAX 1100

static void
usage(void)
{
	fprintf(stderr,
	    "usage: anvil-bench --directory URL [--cacert FILE | --insecure]\n"
	    "         [--concurrency N --seconds S | --burst N] [--http01-port PORT]\n"
	    "         [--poll-cap-ms MS] [--poll-default-ms MS] [--retry-cap-ms MS]\n"
	    "         [--accounts N] [--keys N] [--connections N] [--drain-seconds S]\n"
	    "         [--timeout S]\n"
	    "         [--pids name=pid[+pid...],...] [--label TEXT] [--json FILE]\n"
	    "         [--connect-to HOST:PORT:ADDR:PORT ...] [--ocsp]\n"
	    "--insecure skips TLS verification (for Pebble's test certificate only).\n"
	    "--connect-to (up to %d): flow slot i connects to the (i mod n)-th ADDR:PORT for the\n"
	    "URLs of HOST:PORT, as behind a load balancer (URLs, SNI, certificate unchanged).\n"
	    "--ocsp: a flow ends with a good OCSP response for its certificate from the leaf's\n"
	    "AIA URL (RFC 5019 GET), verified with the chain's issuer (step \"ocsp\").\n",
	    ACMEB_CONNECT_TO_MAX);
	exit(2);
}

static void
num_opt(const char *arg, int64_t min, int64_t max, int64_t *out)
{
	if (num_parse_i64(arg, min, max, out) != AE_OK) {
		fprintf(stderr, "anvil-bench: %s is not in %lld..%lld\n", arg, (long long)min,
		    (long long)max);
		exit(2);
	}
}

/* Kept as libcurl's CURLOPT_CONNECT_TO string; checked here for shape only (four fields,
 * port numbers), so a typo stops the run before any flow instead of failing every one. */
static void
connect_to_opt(const char *arg, struct opts *o)
{
	size_t len = strnlen(arg, ACMEB_CONNECT_TO_LEN + 1), colons = 0;
	const char *last = NULL;
	int64_t port;

	for (size_t i = 0; i < len; i++)
		if (arg[i] == ':') {
			colons++;
			last = arg + i;
		}
	if (o->nconnect_to >= ACMEB_CONNECT_TO_MAX || len == 0 || len > ACMEB_CONNECT_TO_LEN ||
	    colons != 3 || num_parse_i64(last + 1, 1, 65535, &port) != AE_OK) {
		fprintf(stderr, "anvil-bench: --connect-to wants HOST:PORT:ADDR:PORT (IPv4 or a "
		    "name, at most %d of them)\n", ACMEB_CONNECT_TO_MAX);
		exit(2);
	}
	if ((o->connect_to[o->nconnect_to] = curl_slist_append(NULL, arg)) == NULL) {
		fprintf(stderr, "anvil-bench: out of memory\n");
		exit(2);
	}
	o->nconnect_to++;
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "directory", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'k' },
		{ "insecure", no_argument, NULL, 'K' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 'd' },
		{ "burst", required_argument, NULL, 'b' },
		{ "http01-port", required_argument, NULL, 'p' },
		{ "poll-cap-ms", required_argument, NULL, 'P' },
		{ "poll-default-ms", required_argument, NULL, 'D' },
		{ "retry-cap-ms", required_argument, NULL, 'R' },
		{ "accounts", required_argument, NULL, 'a' },
		{ "keys", required_argument, NULL, 'y' },
		{ "connections", required_argument, NULL, 'n' },
		{ "drain-seconds", required_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "pids", required_argument, NULL, 'i' },
		{ "label", required_argument, NULL, 'l' },
		{ "json", required_argument, NULL, 'j' },
		{ "connect-to", required_argument, NULL, 'C' },
		{ "ocsp", no_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->concurrency = 1;
	o->seconds = 10;
	o->http01_port = 5002;
	o->poll_cap_ms = 1000;
	o->poll_default_ms = 1000;
	o->retry_cap_ms = 2000;
	o->accounts = 64;
	o->keys = 64;
	o->drain_seconds = 30;
	o->timeout_s = 30;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': o->directory = optarg; break;
		case 'k': o->cacert = optarg; break;
		case 'K': o->insecure = 1; break;
		case 'c': num_opt(optarg, 1, 1000, &o->concurrency); break;
		case 'd': num_opt(optarg, 1, 3600, &o->seconds); break;
		case 'b': num_opt(optarg, 1, 20000, &o->burst); break;
		case 'n': num_opt(optarg, 1, 1000, &o->connections); break;
		case 'p': num_opt(optarg, 1, 65535, &o->http01_port); break;
		case 'P': num_opt(optarg, 0, 60000, &o->poll_cap_ms); break;
		case 'D': num_opt(optarg, 0, 60000, &o->poll_default_ms); break;
		case 'R': num_opt(optarg, 0, 60000, &o->retry_cap_ms); break;
		case 'a': num_opt(optarg, 1, 10000, &o->accounts); break;
		case 'y': num_opt(optarg, 1, 10000, &o->keys); break;
		case 'w': num_opt(optarg, 1, 3600, &o->drain_seconds); break;
		case 't': num_opt(optarg, 1, 600, &o->timeout_s); break;
		case 'i': o->pids = optarg; break;
		case 'l': o->label = optarg; break;
		case 'j': o->json_path = optarg; break;
		case 'C': connect_to_opt(optarg, o); break;
		case 'O': o->ocsp = 1; break;
		default: usage();
		}
	}
	if (optind != argc || o->directory == NULL || (o->cacert != NULL && o->insecure))
		usage();
}

/* Accounts, keys, flows with an open connection and a nonce each. */
static int
setup(struct run *r, size_t nflows)
{
	const struct opts *o = r->o;
	unsigned char rnd[4];
	size_t pending, conns;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	snprintf(r->run_id, sizeof(r->run_id), "r%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3]);
	if (setup_directory(r) != 0)
		return -1;
	r->naccounts = (size_t)o->accounts < nflows ? (size_t)o->accounts : nflows;
	r->nkeys = (size_t)o->keys < nflows ? (size_t)o->keys : nflows;
	if ((r->accounts = calloc(r->naccounts, sizeof(*r->accounts))) == NULL ||
	    (r->keys = calloc(r->nkeys, sizeof(*r->keys))) == NULL ||
	    (r->flows = calloc(nflows, sizeof(*r->flows))) == NULL)
		return -1;
	for (size_t i = 0; i < r->naccounts; i++)
		if (setup_account(r, &r->accounts[i]) != 0)
			return -1;
	for (size_t i = 0; i < r->nkeys; i++)
		if ((r->keys[i] = key_gen_p256()) == NULL)
			return -1;
	/* More flows than connections (a large burst) queue for a connection inside libcurl. */
	conns = o->connections > 0 ? (size_t)o->connections : 512;
	if (conns > nflows)
		conns = nflows;
	curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conns);
	/* With --ocsp each slot also keeps a connection to the OCSP server: a cache sized for
	 * the ACME connections alone would close them in turn, and the ACME side would pay TLS
	 * handshakes a real client does not. */
	curl_multi_setopt(r->multi, CURLMOPT_MAXCONNECTS, (long)(o->ocsp ? 2 * conns : conns) + 8);
	for (size_t i = 0; i < nflows; i++) {
		if ((r->flows[i] = flow_new(r, i)) == NULL)
			return -1;
		r->nflows++;
		flow_prime(r->flows[i]);
	}
	for (pending = nflows; pending > 0;) {
		CURLMsg *m;
		int running, left;
		curl_multi_perform(r->multi, &running);
		while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
			struct flow *f = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			if (flow_primed(f, m->data.result) != 0) {
				fprintf(stderr, "anvil-bench: newNonce failed during setup\n");
				return -1;
			}
			pending--;
		}
		if (pending > 0)
			curl_multi_poll(r->multi, NULL, 0, 100, NULL);
	}
	return 0;
}

/* The event loop: flows, their sleeps, and the responder. Returns the end time. */
static double
drive(struct run *r, struct http01 *h)
{
	const struct opts *o = r->o;
	static struct curl_waitfd fds[POLL_FDS_MAX];
	double deadline = o->burst > 0 ? r->t0 + (double)o->seconds + (double)o->drain_seconds :
	    r->t_end + (double)o->drain_seconds;
	double now = now_s(), last = now;

	for (;;) {
		double next = now + 0.05;
		int busy = 0, running, left;
		unsigned n;
		CURLMsg *m;

		if (r->accepting && now >= r->t_end)
			r->accepting = 0;
		for (size_t i = 0; i < r->nflows; i++) {
			struct flow *f = r->flows[i];
			double w = flow_wake_at(f);
			if (w > 0 && w <= now) {
				if (flow_idle(f))
					flow_start(f, now);
				else
					flow_wake(f, now);
				w = flow_wake_at(f);
			}
			if (w > 0 && w < next)
				next = w;
			if (!flow_idle(f))
				busy = 1;
		}
		if (!busy && !r->accepting)
			break;
		if (now >= deadline) {
			for (size_t i = 0; i < r->nflows; i++)
				flow_abandon(r->flows[i]);
			break;
		}
		n = http01_fds(h, fds, POLL_FDS_MAX);
		curl_multi_poll(r->multi, fds, n, next > now ? (int)((next - now) * 1000.0) : 0, NULL);
		now = now_s();
		http01_service(h, fds, n, now);
		curl_multi_perform(r->multi, &running);
		while ((m = curl_multi_info_read(r->multi, &left)) != NULL) {
			struct flow *f = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
			now = now_s();
			flow_on_done(f, m->data.result, now);
			last = now;
		}
		now = now_s();
	}
	return last > r->t0 ? last : now;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct run r;
	struct http01 *h = NULL;
	struct cpuset *cpu = NULL;
	size_t nflows;
	double t_done, window;
	int rc = 1;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	parse_opts(argc, argv, &o);
	r.o = &o;
	stats_init(&r.st);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	nflows = (size_t)(o.burst > 0 ? o.burst : o.concurrency);
	if ((cpu = cpu_parse(o.pids)) == NULL || (r.multi = curl_multi_init()) == NULL)
		goto out;
	if ((h = http01_open(o.http01_port, &r)) == NULL)
		goto out;
	if (setup(&r, nflows) != 0) {
		fprintf(stderr, "anvil-bench: setup failed against %s\n", o.directory);
		goto out;
	}
	cpu_sample(cpu, 0);
	r.t0 = now_s();
	r.t_end = o.burst > 0 ? r.t0 : r.t0 + (double)o.seconds;
	r.accepting = o.burst == 0;
	for (size_t i = 0; i < r.nflows; i++)
		flow_start(r.flows[i], r.t0);
	t_done = drive(&r, h);
	cpu_sample(cpu, 1);
	window = o.burst > 0 ? t_done - r.t0 : (double)o.seconds;
	if (report_write(&r, cpu, t_done - r.t0, window, h) != 0)
		goto out;
	rc = r.st.failed == 0 && r.st.unfinished == 0 && r.st.completed > 0 ? 0 : 1;
out:
	for (size_t i = 0; i < r.nflows; i++)
		flow_free(r.flows[i]);
	free(r.flows);
	for (size_t i = 0; r.accounts != NULL && i < r.naccounts; i++)
		EVP_PKEY_free(r.accounts[i].key);
	free(r.accounts);
	for (size_t i = 0; r.keys != NULL && i < r.nkeys; i++)
		EVP_PKEY_free(r.keys[i]);
	free(r.keys);
	if (r.multi != NULL)
		curl_multi_cleanup(r.multi);
	http01_close(h);
	cpu_free(cpu);
	stats_free(&r.st);
	for (size_t i = 0; i < o.nconnect_to; i++)
		curl_slist_free_all(o.connect_to[i]);
	curl_global_cleanup();
	return rc;
}
