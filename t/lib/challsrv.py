"""Validation targets for the tests: a plain HTTP server whose answers per path the test sets
(http-01), counting the requests it gets."""
import http.server
import threading


class HTTPTarget:
    """http.server on 127.0.0.1 (port chosen by the OS). routes[path] = (status, body bytes,
    headers dict); anything else is 404. hits[path] counts requests, connections the TCP
    connections accepted. keep_alive: answer without "Connection: close", as most web servers
    do, so that a client could send its next request on the same connection."""

    def __init__(self, host="127.0.0.1", port=0, keep_alive=False):
        import socket
        target = self
        self.routes = {}
        self.hits = {}
        self.delay = {}   # path -> threading.Event the handler waits for before answering
        self.lock = threading.Lock()
        self.connections = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                with target.lock:
                    target.connections += 1
                super().setup()

            def do_GET(self):
                with target.lock:
                    target.hits[self.path] = target.hits.get(self.path, 0) + 1
                    route = target.routes.get(self.path)
                    ev = target.delay.get(self.path)
                if ev is not None:
                    ev.wait(60)
                status, body, headers = route or (404, b"not found", {})
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    if not keep_alive:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the validator gave up or died: that is the test's business

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            # socketserver's default backlog is 5: a burst of validations (t/4100's 40 over
            # two runners) overflows it, the kernel drops SYNs and a connect waits 1 s, 3 s,
            # 7 s for retransmissions; on a loaded machine past the validator's 5 s connect
            # timeout, and the challenge turns invalid without the target having been asked.
            request_queue_size = 128

        self.server = Server((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, path, body, status=200, headers=None):
        if isinstance(body, str):
            body = body.encode()
        with self.lock:
            self.routes[path] = (status, body, headers or {})

    def challenge(self, token, body, status=200, headers=None):
        path = "/.well-known/acme-challenge/" + token
        self.set(path, body, status, headers)
        return path

    def redirect(self, path, location, status=302):
        self.set(path, b"", status, {"Location": location})

    def count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def close(self):
        self.server.shutdown()


class TLSALPNTarget:
    """A TLS server on 127.0.0.1 answering tls-alpn-01 (RFC 8737): per SNI name, a self-made
    certificate set with add(); names it does not know get a plain certificate without ALPN."""

    def __init__(self, host="127.0.0.1"):
        import socket
        import ssl
        import tempfile
        self._ssl = ssl
        self.dir = tempfile.mkdtemp(prefix="anvil-alpn-", dir="/tmp")
        self.contexts = {}
        self.hits = {}
        self.lock = threading.Lock()
        self.default = self._context("default.invalid", None, alpn=["http/1.1"])
        self.default.sni_callback = self._sni
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _sni(self, sslsock, name, ctx):
        with self.lock:
            self.hits[name] = self.hits.get(name, 0) + 1
            c = self.contexts.get(name)
        if c is not None:
            sslsock.context = c

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handshake, args=(conn,), daemon=True).start()

    def _handshake(self, conn):
        try:
            s = self.default.wrap_socket(conn, server_side=True)
            s.settimeout(5)
            try:
                s.recv(1)
            except OSError:
                pass
            s.close()
        except (OSError, self._ssl.SSLError):
            conn.close()

    def _context(self, name, keyauth, alpn=("acme-tls/1",), ip=None, critical=True,
                 digest=None, extra_san=None):
        import datetime
        import hashlib
        import ipaddress
        import os
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID, ObjectIdentifier
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        sans = [x509.IPAddress(ipaddress.ip_address(ip)) if ip else x509.DNSName(name)]
        if extra_san:
            sans.append(x509.DNSName(extra_san))
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme-tls")]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme-tls")]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=7))
             .add_extension(x509.SubjectAlternativeName(sans), critical=False))
        if keyauth is not None or digest is not None:
            d = digest if digest is not None else hashlib.sha256(keyauth.encode()).digest()
            value = b"\x04\x20" + d   # DER OCTET STRING of the 32-byte digest
            b = b.add_extension(x509.UnrecognizedExtension(
                ObjectIdentifier("1.3.6.1.5.5.7.1.31"), value), critical=critical)
        cert = b.sign(key, hashes.SHA256())
        base = os.path.join(self.dir, "%s-%d" % (name, len(self.contexts)))
        with open(base + ".pem", "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        ctx = self._ssl.SSLContext(self._ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = self._ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(base + ".pem")
        ctx.set_alpn_protocols(list(alpn))
        return ctx

    def add(self, sni, keyauth, **kw):
        """Serves a tls-alpn-01 certificate for keyauth to SNI sni. kw: alpn (offered
        protocols), ip (SAN iPAddress instead of dNSName sni), critical, digest (raw bytes
        instead of SHA-256(keyauth)), extra_san."""
        ctx = self._context(sni, keyauth, **kw)
        with self.lock:
            self.contexts[sni] = ctx

    def count(self, sni):
        with self.lock:
            return self.hits.get(sni, 0)

    def close(self):
        import shutil
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)
