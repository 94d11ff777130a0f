/* anvil-bench: the built-in http-01 responder, a small non-blocking HTTP/1.1 server on
 * 127.0.0.1:PORT serviced from the same event loop as the ACME transfers (its sockets are extra
 * fds of curl_multi_poll). It answers GET /.well-known/acme-challenge/TOKEN with the key
 * authorization of the flow waiting for TOKEN, 404 otherwise, one request per connection
 * (Connection: close). Requests are capped at REQ_MAX bytes and IDLE_S seconds. */
#include "config.h"
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "tools/bench/acmeb.h"

#define REQ_MAX 4096
#define RESP_MAX (ACMEB_KEYAUTH_MAX + 256)
#define CONNS_MAX 1024
#define IDLE_S 10.0
#define PREFIX "/.well-known/acme-challenge/"

struct hconn {
	int fd;
	double deadline;
	size_t in_len, out_len, out_off;
	char in[REQ_MAX];
	char out[RESP_MAX];
};

struct http01 {
	struct run *r;
	int lfd;
	struct hconn *c[CONNS_MAX];
	unsigned n;
	long served, not_found, bad;
};

struct http01 *
http01_open(int64_t port, struct run *r)
{
	struct http01 *s = calloc(1, sizeof(*s));
	struct sockaddr_in a;
	int one = 1;

	if (s == NULL)
		return NULL;
	s->r = r;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		goto fail;
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->lfd, 1024) != 0) {
		fprintf(stderr, "anvil-bench: http-01 responder on 127.0.0.1:%lld: %s\n",
		    (long long)port, strerror(errno));
		goto fail;
	}
	return s;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	free(s);
	return NULL;
}

static void
conn_close(struct http01 *s, unsigned i)
{
	close(s->c[i]->fd);
	free(s->c[i]);
	s->c[i] = s->c[--s->n];
}

void
http01_close(struct http01 *s)
{
	if (s == NULL)
		return;
	while (s->n > 0)
		conn_close(s, s->n - 1);
	close(s->lfd);
	free(s);
}

void
http01_counts(const struct http01 *s, long *served, long *not_found, long *bad)
{
	*served = s->served;
	*not_found = s->not_found;
	*bad = s->bad;
}

unsigned
http01_fds(struct http01 *s, struct curl_waitfd *fds, unsigned max)
{
	unsigned k = 0;
	if (max == 0)
		return 0;
	fds[k].fd = s->lfd;
	fds[k].events = s->n < CONNS_MAX ? CURL_WAIT_POLLIN : 0;
	fds[k++].revents = 0;
	for (unsigned i = 0; i < s->n && k < max; i++, k++) {
		fds[k].fd = s->c[i]->fd;
		fds[k].events = s->c[i]->out_len > 0 ? CURL_WAIT_POLLOUT : CURL_WAIT_POLLIN;
		fds[k].revents = 0;
	}
	return k;
}

static void
respond(struct http01 *s, struct hconn *c, int status, const char *body)
{
	int n = snprintf(c->out, sizeof(c->out),
	    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", status, status == 200 ? "OK" :
	    status == 404 ? "Not Found" : "Bad Request", strlen(body), body);
	c->out_len = n > 0 && (size_t)n < sizeof(c->out) ? (size_t)n : 0;
	c->out_off = 0;
	if (status == 200)
		s->served++;
	else if (status == 404)
		s->not_found++;
	else
		s->bad++;
}

/* A complete request head in c->in: answers it. */
static void
handle(struct http01 *s, struct hconn *c)
{
	const char *p = c->in, *end = c->in + c->in_len, *sp, *tok;
	const char *keyauth;

	if (c->in_len < 4 || memcmp(p, "GET ", 4) != 0) {
		respond(s, c, 400, "");
		return;
	}
	p += 4;
	if ((size_t)(end - p) < sizeof(PREFIX) - 1 || memcmp(p, PREFIX, sizeof(PREFIX) - 1) != 0) {
		respond(s, c, 404, "");
		return;
	}
	tok = p + sizeof(PREFIX) - 1;
	if ((sp = memchr(tok, ' ', (size_t)(end - tok))) == NULL) {
		respond(s, c, 400, "");
		return;
	}
	keyauth = flows_keyauth(s->r, tok, (size_t)(sp - tok));
	respond(s, c, keyauth != NULL ? 200 : 404, keyauth != NULL ? keyauth : "");
}

static int
conn_read(struct http01 *s, struct hconn *c)
{
	for (;;) {
		ssize_t n;
		if (c->in_len >= sizeof(c->in) - 1) {
			respond(s, c, 400, "");
			return 0;
		}
		n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1;
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		if (strstr(c->in, "\r\n\r\n") != NULL || strstr(c->in, "\n\n") != NULL) {
			handle(s, c);
			return 0;
		}
	}
}

/* 1 when everything was written (close), 0 to wait, -1 on error. */
static int
conn_write(struct hconn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->out_off += (size_t)n;
	}
	return 1;
}

static void
accept_all(struct http01 *s, double now)
{
	while (s->n < CONNS_MAX) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct hconn *c;
		if (fd < 0)
			return;
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			return;
		}
		c->fd = fd;
		c->deadline = now + IDLE_S;
		s->c[s->n++] = c;
	}
}

void
http01_service(struct http01 *s, struct curl_waitfd *fds, unsigned n, double now)
{
	/* Connections by fd: the array may be reordered while closing, so look each one up. */
	for (unsigned k = 1; k < n; k++) {
		if (fds[k].revents == 0)
			continue;
		for (unsigned i = 0; i < s->n; i++) {
			struct hconn *c = s->c[i];
			int rc = 0;
			if (c->fd != fds[k].fd)
				continue;
			if (c->out_len == 0 && conn_read(s, c) < 0)
				rc = -1;
			if (rc == 0 && c->out_len > 0)
				rc = conn_write(c);
			if (rc != 0)
				conn_close(s, i);
			break;
		}
	}
	for (unsigned i = 0; i < s->n;) {
		if (s->c[i]->deadline < now)
			conn_close(s, i);
		else
			i++;
	}
	if (n > 0 && fds[0].revents != 0)
		accept_all(s, now);
}
