#include "config.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "ca/client.h"
#include "lib/clock.h"

#define CONNECT_RETRY_MS 5   /* between connect()s to a signer whose backlog is full */

struct signer_client {
	char path[108];
	int fd;
	uint32_t next_id;
};

anvil_err
signer_client_new(const char *socket_path, struct signer_client **out)
{
	struct signer_client *c;

	if (strlen(socket_path) >= sizeof(c->path))
		return AE_TOOBIG;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return AE_NOMEM;
	snprintf(c->path, sizeof(c->path), "%s", socket_path);
	c->fd = -1;
	c->next_id = 1;
	*out = c;
	return AE_OK;
}

static void
disconnect(struct signer_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void
signer_client_free(struct signer_client *c)
{
	if (c == NULL)
		return;
	disconnect(c);
	free(c);
}

/* The socket is non-blocking, so that no step waits past the request's deadline: a Unix
 * stream connect() to a signer whose listen backlog is full blocks without a timeout (a
 * blocking one held an API worker until nginx gave up); a non-blocking one fails with EAGAIN
 * at once and is tried again until the deadline, then answered busy. */
static anvil_err
connect_signer(struct signer_client *c, uint64_t deadline_ms)
{
	struct sockaddr_un sa;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return AE_IO;
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || clock_wall_ms() + CONNECT_RETRY_MS >= deadline_ms) {
			anvil_err e = errno == EAGAIN ? AE_BUSY : AE_UNAVAILABLE;
			disconnect(c);
			return e;
		}
		(void)poll(NULL, 0, CONNECT_RETRY_MS);
	}
	return AE_OK;
}

/* Waits until at least n bytes are buffered in *in (a whole reply usually arrives in one
 * recv), before the deadline. */
static anvil_err
fill_until(int fd, struct buf *in, size_t n, uint64_t deadline_ms)
{
	anvil_err e;

	if (n > in->len && (e = buf_reserve(in, n - in->len < 65536 ? 65536 : n - in->len)) !=
	    AE_OK && (e = buf_reserve(in, n - in->len)) != AE_OK)
		return e;
	while (in->len < n) {
		uint64_t now = clock_wall_ms();
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t got;
		int r;
		if (now >= deadline_ms)
			return AE_TIMEOUT;
		r = poll(&pfd, 1, (int)(deadline_ms - now > 60000 ? 60000 : deadline_ms - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return AE_IO;
		if (r == 0)
			continue;
		got = recv(fd, in->data + in->len, in->cap - 1 - in->len, 0);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return AE_UNAVAILABLE;
		in->len += (size_t)got;
	}
	return AE_OK;
}

static anvil_err
send_all(int fd, const uint8_t *p, size_t n, uint64_t deadline_ms)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			uint64_t now = clock_wall_ms();

			if (now >= deadline_ms)
				return AE_TIMEOUT;
			(void)poll(&pfd, 1, (int)(deadline_ms - now > 60000 ? 60000 :
			    deadline_ms - now));
			continue;
		}
		if (w <= 0)
			return AE_UNAVAILABLE;
		p += w;
		n -= (size_t)w;
	}
	return AE_OK;
}

static anvil_err
exchange(struct signer_client *c, const struct buf *frame, struct request *req, struct buf *out,
    uint32_t *retry_ms)
{
	uint32_t len;
	struct buf in;
	struct reply r;
	anvil_err e;

	/* One request in flight per connection: nothing is buffered beyond this reply. */
	buf_init(&in, PROTO_FRAME_MAX + 4);
	if ((e = send_all(c->fd, frame->data, frame->len, req->deadline_ms)) != AE_OK ||
	    (e = fill_until(c->fd, &in, 4, req->deadline_ms)) != AE_OK)
		goto out;
	len = (uint32_t)in.data[0] << 24 | (uint32_t)in.data[1] << 16 |
	    (uint32_t)in.data[2] << 8 | in.data[3];
	if (len > PROTO_FRAME_MAX) {
		e = AE_SIGNER_PROTO;
		goto out;
	}
	if ((e = fill_until(c->fd, &in, 4 + (size_t)len, req->deadline_ms)) != AE_OK)
		goto out;
	if (in.len != 4 + (size_t)len) {
		e = AE_SIGNER_PROTO;
		goto out;
	}
	if ((e = proto_decode_reply(in.data + 4, len, &r)) != AE_OK)
		goto out;
	/* An error frame sent before hanging up carries id 0. */
	if (r.id != req->id && r.id != 0) {
		e = AE_SIGNER_PROTO;
		goto out;
	}
	e = (anvil_err)r.status;
	if (e == AE_BUSY && retry_ms != NULL)
		*retry_ms = r.retry_after_ms;
	if (e == AE_OK)
		e = buf_append(out, r.data, r.data_len);
out:
	buf_free(&in);
	return e;
}

anvil_err
signer_call(struct signer_client *c, struct request *req, struct buf *out, uint32_t *retry_ms)
{
	struct buf frame;
	anvil_err e;
	int fresh = 0;

	buf_init(&frame, PROTO_FRAME_MAX + 4);
	req->id = c->next_id++;
	if ((e = proto_encode_request(req, &frame)) != AE_OK)
		goto out;
	if (c->fd < 0) {
		if ((e = connect_signer(c, req->deadline_ms)) != AE_OK)
			goto out;
		fresh = 1;
	}
	e = exchange(c, &frame, req, out, retry_ms);
	if (e == AE_UNAVAILABLE && !fresh) {
		/* The signer closed an idle connection (restart): one more try on a new one. */
		disconnect(c);
		if ((e = connect_signer(c, req->deadline_ms)) == AE_OK)
			e = exchange(c, &frame, req, out, retry_ms);
	}
	/* After transport trouble or a frame the signer hung up on, the stream is out of step. */
	if (e == AE_TIMEOUT || e == AE_UNAVAILABLE || e == AE_IO || e == AE_SIGNER_PROTO ||
	    e == AE_TOOBIG || e == AE_SIGNER_PERM)
		disconnect(c);
out:
	buf_free(&frame);
	return e;
}
