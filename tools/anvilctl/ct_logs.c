/* anvilctl ct-logs: asks every log of the `ct` section for its signed tree head, all at once,
 * and verifies it with the configured key: a wrong URL, a wrong key or a log that is down
 * shows here, before issuance depends on it (doc/ct.md). */
#include "config.h"
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "ct/conf.h"
#include "ct/response.h"
#include "ct/sth.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/num.h"
#include "tools/anvilctl/ctl.h"

static const char *const state_names[] = { "usable", "readonly", "retired" };

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	if (n != 0 && size > SIZE_MAX / n)
		return 0;
	return buf_append(arg, p, size * n) == AE_OK ? size * n : 0;
}

/* One log's verdict on its answer; returns 1 when the tree head verifies. */
static int
report(const struct ct_log *l, CURL *h, CURLcode rc, struct buf *body)
{
	struct ct_sth sth;
	long code = 0;
	char why[160];
	uint64_t now = clock_wall_ms();

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK)
		snprintf(why, sizeof(why), "%s", rc == CURLE_WRITE_ERROR ? "answer too large" :
		    curl_easy_strerror(rc));
	else if (code != 200)
		snprintf(why, sizeof(why), "HTTP status %ld", code);
	else if (ct_sth_parse((const char *)body->data, body->len, &sth, why, sizeof(why)) ==
	    AE_OK && ct_sth_verify(&sth, &l->key, now, why, sizeof(why)) == AE_OK) {
		printf("log=%s operator=%s state=%s tree_size=%llu sth_age_s=%lld result=ok\n",
		    l->name, l->operator_name, state_names[l->state],
		    (unsigned long long)sth.tree_size,
		    (long long)((int64_t)now - (int64_t)sth.timestamp) / 1000);
		return 1;
	}
	printf("log=%s operator=%s state=%s result=error why=%s\n", l->name, l->operator_name,
	    state_names[l->state], why);
	return 0;
}

int
ctl_ct_logs(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { { "timeout-ms", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 } };
	struct ct_conf *c = calloc(1, sizeof(*c));
	CURL *hs[CT_LOGS_MAX] = { 0 };
	struct buf bodies[CT_LOGS_MAX];
	CURLM *m = NULL;
	int64_t timeout = 5000;
	int ch, running, bad = 0, rc = 1;

	for (size_t i = 0; i < CT_LOGS_MAX; i++)
		buf_init(&bodies[i], CT_RESPONSE_MAX);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 't' || num_parse_i64(optarg, 100, 600000, &timeout) != AE_OK) {
			fprintf(stderr, "usage: anvilctl ct-logs [--timeout-ms 100..600000]\n");
			rc = 2;
			goto out;
		}
	}
	if (c == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		goto out;
	if (ct_conf_parse(&ctl->conf, ctl->config, c) != AE_OK) {
		fprintf(stderr, "anvilctl: %s\n", ctl->conf.err);
		goto cleanup;
	}
	if (c->nlogs == 0) {
		fprintf(stderr, "anvilctl: %s: no logs in a ct section\n", ctl->config_path);
		goto cleanup;
	}
	if ((m = curl_multi_init()) == NULL)
		goto cleanup;
	for (size_t i = 0; i < c->nlogs; i++) {
		char url[CT_URL_MAX + 32];
		snprintf(url, sizeof(url), "%s/ct/v1/get-sth", c->logs[i].url);
		if ((hs[i] = curl_easy_init()) == NULL ||
		    curl_easy_setopt(hs[i], CURLOPT_URL, url) != CURLE_OK ||
		    curl_easy_setopt(hs[i], CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
		    curl_easy_setopt(hs[i], CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
		    curl_easy_setopt(hs[i], CURLOPT_TIMEOUT_MS, (long)timeout) != CURLE_OK ||
		    curl_easy_setopt(hs[i], CURLOPT_USERAGENT, "anvilctl/" PACKAGE_VERSION) !=
		    CURLE_OK ||
		    curl_easy_setopt(hs[i], CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
		    curl_easy_setopt(hs[i], CURLOPT_WRITEDATA, &bodies[i]) != CURLE_OK ||
		    curl_multi_add_handle(m, hs[i]) != CURLM_OK)
			goto cleanup;
	}
	do {
		if (curl_multi_perform(m, &running) != CURLM_OK ||
		    (running > 0 && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK))
			goto cleanup;
	} while (running > 0);
	for (CURLMsg *msg; (msg = curl_multi_info_read(m, &running)) != NULL;) {
		for (size_t i = 0; i < c->nlogs; i++) {
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == hs[i] &&
			    !report(&c->logs[i], hs[i], msg->data.result, &bodies[i]) &&
			    c->logs[i].state == CT_LOG_USABLE)
				bad++;
		}
	}
	/* Only usable logs take submissions: a retired log that is gone is not an error. */
	rc = bad == 0 ? 0 : 1;
cleanup:
	for (size_t i = 0; i < CT_LOGS_MAX; i++) {
		if (hs[i] != NULL) {
			if (m != NULL)
				curl_multi_remove_handle(m, hs[i]);
			curl_easy_cleanup(hs[i]);
		}
	}
	if (m != NULL)
		curl_multi_cleanup(m);
	curl_global_cleanup();
out:
	for (size_t i = 0; i < CT_LOGS_MAX; i++)
		buf_free(&bodies[i]);
	if (c != NULL)
		ct_conf_free(c);
	free(c);
	return rc;
}
