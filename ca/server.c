#include "config.h"
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <sys/time.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "ca/signer.h"
#include "lib/log.h"
#include "lib/usock.h"

#define IDLE_TIMEOUT_MS 300000  /* a pooled client connection may sit idle this long */
#define READ_TIMEOUT_MS 10000   /* once a frame started, the rest must follow this fast */
#define MAX_PEERS 1024

struct server {
	struct signer *s;
	pthread_mutex_t mu;
	pthread_cond_t gone;
	int64_t nconns;
	struct { uid_t uid; int64_t n; } peers[MAX_PEERS];
	size_t npeers;
	int fds[10000];  /* open connections, to shut them down at exit */
	volatile int *stop;
};

struct conn {
	struct server *srv;
	int fd;
	size_t slot;
	struct peer peer;
};

/* Buffered input: one recv takes whatever the peer sent (usually a whole frame), so a request
 * costs one poll and one recv. */
struct inbuf {
	uint8_t *data;
	size_t len, off, cap;
};

/* Makes at least n unread bytes available; 0 on success, -1 on EOF, error or timeout. */
static int
fill(int fd, struct inbuf *in, size_t n, int timeout_ms, volatile int *stop)
{
	int waited = 0;

	if (in->off > 0 && in->len - in->off < n) {
		memmove(in->data, in->data + in->off, in->len - in->off);
		in->len -= in->off;
		in->off = 0;
	}
	if (n > in->cap) {
		size_t ncap = n < 65536 ? 65536 : n;
		uint8_t *p = realloc(in->data, ncap);
		if (p == NULL)
			return -1;
		in->data = p;
		in->cap = ncap;
	}
	while (in->len - in->off < n) {
		/* A blocking recv with a 250 ms receive timeout (set at accept) instead of poll +
		 * recv: one system call per request, and a stop request is still noticed. */
		ssize_t got = recv(fd, in->data + in->len, in->cap - in->len, 0);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (*stop || (waited += 250) >= timeout_ms)
				return -1;
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		in->len += (size_t)got;
	}
	return 0;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
send_reply(int fd, uint8_t op, uint32_t id, anvil_err st, uint32_t retry_ms, const void *data,
    size_t len)
{
	struct reply r = { op, id, (uint16_t)st, retry_ms, data, len };
	struct buf b;
	int rc = -1;

	buf_init(&b, PROTO_FRAME_MAX + 64);
	if (proto_encode_reply(&r, &b) == AE_OK)
		rc = write_all(fd, b.data, b.len);
	buf_free(&b);
	return rc;
}

static void
send_error(int fd, uint8_t op, uint32_t id, anvil_err st, uint32_t retry_ms)
{
	const char *m = anvil_strerror(st);
	(void)send_reply(fd, op, id, st, retry_ms, m, strlen(m));
}

static int
peer_allowed(const struct signer_conf *sc, const struct peer *p)
{
	for (size_t i = 0; i < sc->n_allow_uids; i++)
		if (sc->allow_uids[i] == p->uid)
			return 1;
	for (size_t i = 0; i < sc->n_allow_gids; i++)
		if (sc->allow_gids[i] == p->gid)
			return 1;
	return 0;
}

/* Counts connections per uid; returns 0 when the peer is over its cap. */
static int
peer_enter(struct server *srv, uid_t uid)
{
	size_t i;
	int ok = 0;

	pthread_mutex_lock(&srv->mu);
	for (i = 0; i < srv->npeers && srv->peers[i].uid != uid; i++)
		;
	if (i == srv->npeers && srv->npeers < MAX_PEERS) {
		srv->peers[i].uid = uid;
		srv->peers[i].n = 0;
		srv->npeers++;
	}
	if (i < srv->npeers && srv->peers[i].n < srv->s->conf.max_conns_per_peer) {
		srv->peers[i].n++;
		ok = 1;
	}
	pthread_mutex_unlock(&srv->mu);
	return ok;
}

static void
peer_leave(struct server *srv, uid_t uid)
{
	pthread_mutex_lock(&srv->mu);
	for (size_t i = 0; i < srv->npeers; i++)
		if (srv->peers[i].uid == uid)
			srv->peers[i].n--;
	pthread_mutex_unlock(&srv->mu);
}

static void
serve(struct conn *c)
{
	struct inbuf in = { NULL, 0, 0, 0 };
	struct buf out;

	buf_init(&out, PROTO_FRAME_MAX);
	for (;;) {
		struct request req;
		uint32_t len, retry_ms = 0;
		const char *msg = NULL;
		const uint8_t *hdr, *body;
		anvil_err e;

		if (fill(c->fd, &in, 4, IDLE_TIMEOUT_MS, c->srv->stop) != 0)
			break;
		hdr = in.data + in.off;
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
		if (len > PROTO_FRAME_MAX || len < 14) {
			/* A frame we will not read: say why, then hang up. */
			send_error(c->fd, 0, 0, len > PROTO_FRAME_MAX ? AE_TOOBIG : AE_SIGNER_PROTO, 0);
			break;
		}
		if (fill(c->fd, &in, 4 + (size_t)len, READ_TIMEOUT_MS, c->srv->stop) != 0)
			break;
		body = in.data + in.off + 4;
		in.off += 4 + (size_t)len;
		if ((e = proto_decode_request(body, len, &req)) != AE_OK) {
			log_info("event=bad_request peer_uid=%u result=%s", (unsigned)c->peer.uid,
			    anvil_strerror(e));
			send_error(c->fd, body[1], 0, e, 0);
			break;
		}
		buf_reset(&out);
		e = ops_handle(c->srv->s, &c->peer, &req, &out, &retry_ms, &msg);
		proto_request_free(&req);
		if (e == AE_OK ? send_reply(c->fd, req.op, req.id, e, 0, out.data, out.len) :
		    send_reply(c->fd, req.op, req.id, e, retry_ms, msg, strlen(msg)))
			break;
	}
	free(in.data);
	buf_free(&out);
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;

	serve(c);
	peer_leave(srv, c->peer.uid);
	pthread_mutex_lock(&srv->mu);
	srv->fds[c->slot] = -1;
	srv->nconns--;
	pthread_cond_broadcast(&srv->gone);
	pthread_mutex_unlock(&srv->mu);
	close(c->fd);
	free(c);
	return NULL;
}

static anvil_err
listen_socket(const struct signer_conf *sc, int *out)
{
	struct sockaddr_un sa;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int fd = -1;
	anvil_err e = AE_IO;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sc->socket_path);
	if (sc->socket_owner != NULL) {
		struct passwd *pw = getpwnam(sc->socket_owner);
		if (pw == NULL) {
			log_err("event=config key=signer.socket_owner error=\"no such user\"");
			return AE_CONFIG;
		}
		uid = pw->pw_uid;
	}
	if (sc->socket_group != NULL) {
		struct group *gr = getgrnam(sc->socket_group);
		if (gr == NULL) {
			log_err("event=config key=signer.socket_group error=\"no such group\"");
			return AE_CONFIG;
		}
		gid = gr->gr_gid;
	}
	/* A socket file left by a previous run (a crash) is replaced. */
	unlink(sc->socket_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    usock_set_perms(sc->socket_path, sc->socket_mode, uid, gid) != 0 ||
	    listen(fd, 512) != 0) {
		log_err("event=listen path=%s errno=\"%s\"", sc->socket_path, strerror(errno));
		goto out;
	}
	*out = fd;
	fd = -1;
	e = AE_OK;
out:
	if (fd >= 0)
		close(fd);
	return e;
}

static void
accept_one(struct server *srv, int lfd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct conn *c = NULL;
	pthread_attr_t attr;
	pthread_t tid;
	size_t slot = 0;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0) {
		close(fd);
		return;
	}
	if (!peer_allowed(&srv->s->conf, &(struct peer){ cred.pid, cred.uid, cred.gid })) {
		log_warn("event=peer_refused uid=%u gid=%u pid=%ld", (unsigned)cred.uid,
		    (unsigned)cred.gid, (long)cred.pid);
		send_error(fd, 0, 0, AE_SIGNER_PERM, 0);
		close(fd);
		return;
	}
	pthread_mutex_lock(&srv->mu);
	if (srv->nconns < srv->s->conf.max_conns)
		for (slot = 0; slot < sizeof(srv->fds) / sizeof(srv->fds[0]) &&
		    srv->fds[slot] >= 0; slot++)
			;
	else
		slot = sizeof(srv->fds) / sizeof(srv->fds[0]);
	pthread_mutex_unlock(&srv->mu);
	if (slot == sizeof(srv->fds) / sizeof(srv->fds[0]) || !peer_enter(srv, cred.uid)) {
		if (slot != sizeof(srv->fds) / sizeof(srv->fds[0]))
			log_warn("event=peer_over_cap uid=%u", (unsigned)cred.uid);
		send_error(fd, 0, 0, AE_BUSY, 1000);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		peer_leave(srv, cred.uid);
		close(fd);
		return;
	}
	{
		struct timeval tv = { 0, 250000 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	c->srv = srv;
	c->fd = fd;
	c->slot = slot;
	c->peer = (struct peer){ cred.pid, cred.uid, cred.gid };
	pthread_mutex_lock(&srv->mu);
	srv->fds[slot] = fd;
	srv->nconns++;
	pthread_mutex_unlock(&srv->mu);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, conn_main, c) != 0) {
		pthread_mutex_lock(&srv->mu);
		srv->fds[slot] = -1;
		srv->nconns--;
		pthread_mutex_unlock(&srv->mu);
		peer_leave(srv, cred.uid);
		close(fd);
		free(c);
	}
	pthread_attr_destroy(&attr);
}

anvil_err
server_run(struct signer *s, volatile int *stop, volatile int *hup,
    void (*reload)(struct signer *s))
{
	struct server *srv = calloc(1, sizeof(*srv));
	int lfd = -1;
	anvil_err e = AE_NOMEM;

	if (srv == NULL)
		return e;
	srv->s = s;
	srv->stop = stop;
	pthread_mutex_init(&srv->mu, NULL);
	pthread_cond_init(&srv->gone, NULL);
	for (size_t i = 0; i < sizeof(srv->fds) / sizeof(srv->fds[0]); i++)
		srv->fds[i] = -1;
	if ((e = listen_socket(&s->conf, &lfd)) != AE_OK)
		goto out;
	log_info("event=ready socket=%s sessions=%lld queue_max=%lld", s->conf.socket_path,
	    (long long)s->conf.sessions, (long long)s->conf.queue_max);
	while (!*stop) {
		struct pollfd pfd = { lfd, POLLIN, 0 };
		if (poll(&pfd, 1, 250) > 0)
			accept_one(srv, lfd);
		if (*hup) {
			*hup = 0;
			reload(s);
		}
	}
	/* Wake every connection thread and wait until none is left. */
	pthread_mutex_lock(&srv->mu);
	for (size_t i = 0; i < sizeof(srv->fds) / sizeof(srv->fds[0]); i++)
		if (srv->fds[i] >= 0)
			shutdown(srv->fds[i], SHUT_RDWR);
	while (srv->nconns > 0)
		pthread_cond_wait(&srv->gone, &srv->mu);
	pthread_mutex_unlock(&srv->mu);
	unlink(s->conf.socket_path);
	e = AE_OK;
out:
	if (lfd >= 0)
		close(lfd);
	pthread_cond_destroy(&srv->gone);
	pthread_mutex_destroy(&srv->mu);
	free(srv);
	return e;
}
