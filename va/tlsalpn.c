/* tls-alpn-01 (RFC 8737; RFC 8738 for IP identifiers): a non-blocking TCP connect and TLS
 * handshake offering only ALPN "acme-tls/1", with SNI the domain (or, for an IP, its reverse
 * DNS name); the certificate must name exactly the identifier and carry the critical
 * acmeIdentifier extension holding SHA-256 of the key authorization. A handshake that fails or
 * does not select acme-tls/1 is `tls`; a certificate that does not prove control is
 * `unauthorized`. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include "va/internal.h"

#define ACME_TLS_ALPN "\x0a" "acme-tls/1"
#define ACME_IDENTIFIER_OID "1.3.6.1.5.5.7.1.31"

void
va_tls_cleanup(struct va_task *t)
{
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	t->ssl = NULL;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->events = 0;
}

/* RFC 8738 §6: 4.3.2.1.in-addr.arpa, or the nibble form under ip6.arpa. */
static void
reverse_name(const struct va_addr *a, char *out, size_t outsz)
{
	size_t o = 0;
	int n;

	out[0] = '\0';
	if (a->family == AF_INET) {
		snprintf(out, outsz, "%u.%u.%u.%u.in-addr.arpa", a->b[3], a->b[2], a->b[1], a->b[0]);
		return;
	}
	for (int i = 15; i >= 0; i--) {
		n = snprintf(out + o, outsz - o, "%x.%x.", a->b[i] & 0xf, a->b[i] >> 4);
		if (n < 0 || (size_t)n >= outsz - o)
			return;
		o += (size_t)n;
	}
	snprintf(out + o, outsz - o, "ip6.arpa");
}

static void
record(struct va_task *t)
{
	json_object *r = va_record_new(t), *res;
	char a[INET6_ADDRSTRLEN], port[16];

	if (r == NULL)
		return;
	snprintf(port, sizeof(port), "%lld", (long long)t->port);
	json_object_object_add(r, "hostname", json_object_new_string(t->ident));
	json_object_object_add(r, "port", json_object_new_string(port));
	if ((res = json_object_new_array()) != NULL) {
		for (size_t i = 0; i < t->naddrs; i++) {
			va_addr_str(&t->addrs[i], a, sizeof(a));
			json_object_array_add(res, json_object_new_string(a));
		}
		json_object_object_add(r, "addressesResolved", res);
	}
	va_addr_str(&t->used, a, sizeof(a));
	json_object_object_add(r, "addressUsed", json_object_new_string(a));
}

void
va_tls_begin(struct va_task *t)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char sni[300];

	record(t);
	t->phase = PH_TLS;
	memset(&ss, 0, sizeof(ss));
	if (t->used.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)t->port);
		memcpy(&s4->sin_addr, t->used.b, 4);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)t->port);
		memcpy(&s6->sin6_addr, t->used.b, 16);
		sl = sizeof(*s6);
	}
	if ((t->fd = socket(t->used.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0) {
		va_fail(t, "serverInternal", "socket: %s", strerror(errno));
		return;
	}
	if (connect(t->fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS) {
		va_fail(t, "connection", "Connecting to %s port %lld: %s", t->ident,
		    (long long)t->port, strerror(errno));
		return;
	}
	if (strcmp(t->ident_type, "ip") == 0)
		reverse_name(&t->used, sni, sizeof(sni));
	else
		snprintf(sni, sizeof(sni), "%s", t->ident);
	if ((t->ssl = SSL_new(t->va->tls)) == NULL || SSL_set_fd(t->ssl, t->fd) != 1 ||
	    SSL_set_tlsext_host_name(t->ssl, sni) != 1 ||
	    SSL_set_alpn_protos(t->ssl, (const unsigned char *)ACME_TLS_ALPN,
	    sizeof(ACME_TLS_ALPN) - 1) != 0) {
		va_fail(t, "serverInternal", "cannot set up TLS");
		return;
	}
	SSL_set_connect_state(t->ssl);
	t->events = POLLOUT;   /* connected when writable */
}

static int
san_is_identifier(struct va_task *t, X509 *cert)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	const GENERAL_NAME *g;
	int ok = 0;

	if (names == NULL || sk_GENERAL_NAME_num(names) != 1)
		goto out;
	g = sk_GENERAL_NAME_value(names, 0);
	if (strcmp(t->ident_type, "dns") == 0 && g->type == GEN_DNS) {
		const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
		int n = ASN1_STRING_length(g->d.dNSName);
		ok = n >= 0 && (size_t)n == strlen(t->ident) &&
		    strncasecmp((const char *)d, t->ident, (size_t)n) == 0;
	} else if (strcmp(t->ident_type, "ip") == 0 && g->type == GEN_IPADD) {
		struct va_addr a;
		int n = ASN1_STRING_length(g->d.iPAddress);
		ok = va_addr_parse(t->ident, &a) == 0 &&
		    n == (a.family == AF_INET ? 4 : 16) &&
		    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), a.b, (size_t)n) == 0;
	}
out:
	GENERAL_NAMES_free(names);
	return ok;
}

static void
verify(struct va_task *t)
{
	const unsigned char *alpn = NULL, *p;
	unsigned alen = 0;
	uint8_t digest[SHA256_DIGEST_LENGTH];
	ASN1_OBJECT *oid = NULL;
	ASN1_OCTET_STRING *inner = NULL;
	const ASN1_OCTET_STRING *data;
	X509_EXTENSION *ext;
	X509 *cert = NULL;
	int idx;

	SSL_get0_alpn_selected(t->ssl, &alpn, &alen);
	if (alen != sizeof(ACME_TLS_ALPN) - 2 || memcmp(alpn, ACME_TLS_ALPN + 1, alen) != 0) {
		va_fail(t, "tls", "%s port %lld did not negotiate ALPN acme-tls/1", t->ident,
		    (long long)t->port);
		goto out;
	}
	if ((cert = SSL_get1_peer_certificate(t->ssl)) == NULL) {
		va_fail(t, "tls", "%s sent no certificate", t->ident);
		goto out;
	}
	if (!san_is_identifier(t, cert)) {
		va_fail(t, "unauthorized", "The acme-tls/1 certificate for %s does not name exactly "
		    "the identifier", t->ident);
		goto out;
	}
	if ((oid = OBJ_txt2obj(ACME_IDENTIFIER_OID, 1)) == NULL) {
		va_fail(t, "serverInternal", "OID");
		goto out;
	}
	if ((idx = X509_get_ext_by_OBJ(cert, oid, -1)) < 0 ||
	    X509_get_ext_by_OBJ(cert, oid, idx) >= 0) {
		va_fail(t, "unauthorized", "The acme-tls/1 certificate for %s has %s acmeIdentifier "
		    "extension", t->ident, idx < 0 ? "no" : "more than one");
		goto out;
	}
	ext = X509_get_ext(cert, idx);
	if (!X509_EXTENSION_get_critical(ext)) {
		va_fail(t, "unauthorized", "The acmeIdentifier extension for %s is not critical",
		    t->ident);
		goto out;
	}
	data = X509_EXTENSION_get_data(ext);
	p = ASN1_STRING_get0_data(data);
	SHA256((const unsigned char *)t->keyauth, strlen(t->keyauth), digest);
	/* extnValue holds a DER OCTET STRING of the 32-byte digest, and nothing after it. */
	if ((inner = d2i_ASN1_OCTET_STRING(NULL, &p, ASN1_STRING_length(data))) == NULL ||
	    p != ASN1_STRING_get0_data(data) + ASN1_STRING_length(data) ||
	    ASN1_STRING_length(inner) != SHA256_DIGEST_LENGTH ||
	    memcmp(ASN1_STRING_get0_data(inner), digest, SHA256_DIGEST_LENGTH) != 0) {
		va_fail(t, "unauthorized", "The acmeIdentifier extension for %s does not match the "
		    "key authorization", t->ident);
		goto out;
	}
	va_succeed(t);
out:
	ASN1_OCTET_STRING_free(inner);
	ASN1_OBJECT_free(oid);
	X509_free(cert);
}

void
va_tls_step(struct va_task *t)
{
	int r, err, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (t->ssl == NULL)
		return;
	if (t->events == POLLOUT && !SSL_is_init_finished(t->ssl) &&
	    SSL_want(t->ssl) == SSL_NOTHING) {
		/* First wake-up: did the connect succeed? */
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
			va_fail(t, "connection", "Connecting to %s port %lld: %s", t->ident,
			    (long long)t->port, strerror(soerr ? soerr : errno));
			return;
		}
	}
	ERR_clear_error();
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->events = 0;
		verify(t);
		return;
	}
	err = SSL_get_error(t->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		t->events = POLLIN;
	} else if (err == SSL_ERROR_WANT_WRITE) {
		t->events = POLLOUT;
	} else {
		char msg[256];
		ERR_error_string_n(ERR_peek_last_error(), msg, sizeof(msg));
		va_fail(t, "tls", "TLS handshake with %s port %lld failed: %s", t->ident,
		    (long long)t->port, ERR_peek_last_error() ? msg : "connection closed");
	}
}
