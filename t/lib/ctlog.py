#!/usr/bin/python3
"""A Certificate Transparency log that speaks RFC 6962, for tests and the dev stack.

It is a real log as far as a submitter or a monitor can tell: a P-256 signing key, SCTs signed
over the RFC 6962 section 3.2 data (for precertificates: the issuer key hash and the TBS without
the poison, cut out by a DER walk of its own, independent of Anvil's and OpenSSL's code), the
same SCT again for the same submission, a Merkle tree over every entry (section 2.1) behind
get-sth, get-entries, get-roots. Entries are merged at once (no MMD wait).

What a real log does when it is in trouble can be switched on at run time, through methods or
the control endpoint (POST /ct-test/control with a JSON object, GET /ct-test/stats):

    latency_ms   [lo, hi]  each add-chain/add-pre-chain answer waits a random time in between
    error_rate   0..1      that share of submissions answers HTTP 503
    mode         "ok"        normal
                 "down"      every request answers 503
                 "hang"      submissions get no answer (the connection stays open, up to 60 s)
                 "garbage"   200 with bytes that are not JSON
                 "badsig"    a well-formed SCT whose signature does not verify
                 "foreign"   an SCT signed by another key, with that key's log id
                 "future"    a correctly signed SCT dated an hour ahead
                 "huge"      200 with a 64 KiB JSON body
                 "ratelimit" 429 with Retry-After: 30 (a log under load)

In-process (tests):

    log = CTLog(roots=[root_der]); log.start(); log.url; log.key_b64(); log.set(mode="down")

Standalone (dev/up):

    python3 t/lib/ctlog.py --port 8601 --key /path/log1.pem [--roots ROOTS.pem] \
        [--latency-ms 100,500] [--error-rate 0.1] [--mode ok]

prints "ctlog url=... key=BASE64 log_id=BASE64" once it listens; the key file is created
(mode 0600) when it does not exist, so a restarted log keeps its identity.
"""
import argparse
import base64
import hashlib
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

POISON = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.3")
X509_ENTRY, PRECERT_ENTRY = 0, 1
REQUEST_MAX = 1 << 20
ENTRIES_MAX = 256  # per get-entries answer
MODES = ("ok", "down", "hang", "garbage", "badsig", "foreign", "future", "huge", "ratelimit")


def u(n, size):
    return n.to_bytes(size, "big")


def vec(b, size):
    return u(len(b), size) + b


def spki_der(pub):
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def b64(b):
    return base64.b64encode(b).decode()


def mth(hashes_):
    """Merkle Tree Hash (RFC 6962 2.1) over leaf hashes."""
    n = len(hashes_)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes_[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes_[:k]) + mth(hashes_[k:])).digest()


def _tlv(b, off):
    """(tag, header length, content length) of the DER element at off."""
    tag, n = b[off], b[off + 1]
    if n < 0x80:
        return tag, 2, n
    k = n & 0x7f
    return tag, 2 + k, int.from_bytes(b[off + 2:off + 2 + k], "big")


def _der(tag, content):
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + content


def _children(b):
    off, out = 0, []
    while off < len(b):
        _, h, n = _tlv(b, off)
        out.append(b[off:off + h + n])
        off += h + n
    return out


POISON_DER = bytes.fromhex("060a2b06010401d679020403")


def tbs_without_poison(cert):
    """The precertificate's TBSCertificate without the poison extension (RFC 6962 3.2), by a
    DER walk of our own: a second implementation beside OpenSSL's i2d_re_X509_tbs."""
    tbs = cert.tbs_certificate_bytes
    _, h, _ = _tlv(tbs, 0)
    fields = _children(tbs[h:])
    out = []
    for f in fields:
        if f[0] == 0xa3:  # [3] EXPLICIT Extensions
            _, fh, _ = _tlv(f, 0)
            seq = f[fh:]
            _, sh, _ = _tlv(seq, 0)
            exts = [e for e in _children(seq[sh:]) if not e[_tlv(e, 0)[1]:].startswith(POISON_DER)]
            f = _der(0xa3, _der(0x30, b"".join(exts)))
        out.append(f)
    return _der(0x30, b"".join(out))


def load_or_make_key(path):
    if path and os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return key


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A submitter that cancels a request resets its connection: routine, not an error.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class CTError(Exception):
    def __init__(self, status, msg, headers=None):
        super().__init__(msg)
        self.status = status
        self.headers = headers or {}


class CTLog:
    def __init__(self, key=None, port=0, host="127.0.0.1", roots=None, name="ctlog"):
        self.name = name
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        self.spki = spki_der(self.key.public_key())
        self.log_id = hashlib.sha256(self.spki).digest()
        self.foreign_key = ec.generate_private_key(ec.SECP256R1())
        self.roots = list(roots or [])  # DER
        self.lock = threading.Lock()
        self.leaves = []       # MerkleTreeLeaf bytes
        self.leaf_hashes = []
        self.extra = []        # extra_data bytes
        self.done = {}         # sha256(leaf DER) -> SCT JSON (the same SCT for a resubmission)
        self.counts = {}
        self.latency_ms = (0, 0)
        self.error_rate = 0.0
        self.mode = "ok"
        self.unhang = threading.Event()
        log = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real logs: submitters reuse
            # Headers and body are two writes: with Nagle, a reused connection waits 40 ms
            # for the client's delayed ACK before the body leaves.
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def do_GET(self):
                log._serve(self, "GET")

            def do_POST(self):
                log._serve(self, "POST")

        self.server = _Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.url = "http://%s:%d" % (host, self.port)
        self.thread = None

    # --- control ----------------------------------------------------------------------------

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.unhang.set()
        self.server.shutdown()
        self.server.server_close()

    def key_b64(self):
        return b64(self.spki)

    def set(self, mode=None, latency_ms=None, error_rate=None):
        with self.lock:
            if mode is not None:
                if mode not in MODES:
                    raise ValueError("mode must be one of " + ", ".join(MODES))
                self.mode = mode
                if mode != "hang":
                    self.unhang.set()
                    self.unhang = threading.Event()
            if latency_ms is not None:
                lo, hi = (latency_ms, latency_ms) if isinstance(latency_ms, (int, float)) \
                    else latency_ms
                self.latency_ms = (float(lo), float(hi))
            if error_rate is not None:
                self.error_rate = float(error_rate)

    def stats(self):
        with self.lock:
            return {"name": self.name, "counts": dict(self.counts), "tree_size": len(self.leaves),
                    "mode": self.mode, "latency_ms": list(self.latency_ms),
                    "error_rate": self.error_rate}

    # --- HTTP -------------------------------------------------------------------------------

    def _serve(self, h, method):
        url = urlparse(h.path)
        path = url.path
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1
            mode = self.mode
        try:
            n = int(h.headers.get("Content-Length") or 0)
            if n < 0 or n > REQUEST_MAX:
                h.close_connection = True  # the body is not read: the stream is lost
                raise CTError(413, "request too large")
            body = h.rfile.read(n) if n else b""
            if path == "/ct-test/control" and method == "POST":
                self.set(**json.loads(body or b"{}"))
                return self._json(h, 200, self.stats())
            if path == "/ct-test/stats":
                return self._json(h, 200, self.stats())
            if mode == "down":
                raise CTError(503, "log is down")
            if path in ("/ct/v1/add-chain", "/ct/v1/add-pre-chain") and method == "POST":
                return self._submission(h, path.endswith("pre-chain"), body)
            if method != "GET":
                raise CTError(405, "method not allowed")
            if path == "/ct/v1/get-sth":
                return self._json(h, 200, self._sth())
            if path == "/ct/v1/get-roots":
                return self._json(h, 200, {"certificates": [b64(r) for r in self.roots]})
            if path == "/ct/v1/get-entries":
                return self._json(h, 200, self._entries(parse_qs(url.query)))
            raise CTError(404, "no such endpoint")
        except CTError as e:
            self._json(h, e.status, {"error_message": str(e)}, e.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except (ValueError, KeyError, TypeError) as e:
            self._json(h, 400, {"error_message": "bad request: %s" % e})

    def _json(self, h, status, obj, headers=None):
        self._raw(h, status, json.dumps(obj).encode(), headers=headers)

    def _raw(self, h, status, data, ctype="application/json", headers=None):
        try:
            h.send_response(status)
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _submission(self, h, pre, body):
        with self.lock:
            lo, hi = self.latency_ms
            rate = self.error_rate
            mode = self.mode
            unhang = self.unhang
        if hi > 0:
            time.sleep(random.uniform(lo, hi) / 1000.0)
        if mode == "hang":
            unhang.wait(60)
            h.close_connection = True
            return
        if rate > 0 and random.random() < rate:
            raise CTError(503, "injected error")
        if mode == "garbage":
            return self._raw(h, 200, b"<html>\xff not json {\"sct_version\": 0", "text/html")
        if mode == "ratelimit":
            raise CTError(429, "too many requests", {"Retry-After": "30"})
        if mode == "huge":
            return self._raw(h, 200, json.dumps({"pad": "x" * 65536}).encode())
        chain = json.loads(body)["chain"]
        if not isinstance(chain, list) or len(chain) < 2:
            raise CTError(400, "chain must hold the leaf and its issuer")
        ders = [base64.b64decode(c, validate=True) for c in chain]
        certs = [x509.load_der_x509_certificate(d) for d in ders]
        leaf, issuer = certs[0], certs[1]
        poisoned = any(e.oid == POISON for e in leaf.extensions)
        if poisoned != pre:
            raise CTError(400, "add-pre-chain takes precertificates, add-chain certificates")
        for a, b in zip(certs, certs[1:]):
            if not _issued(a, b):
                raise CTError(400, "chain does not verify")
        if self.roots:
            top = certs[-1]
            roots = [x509.load_der_x509_certificate(r) for r in self.roots]
            if ders[-1] not in self.roots and not any(
                    top.issuer == r.subject and _issued(top, r) for r in roots):
                raise CTError(400, "chain does not end at an accepted root")
        if pre:
            ikh = hashlib.sha256(spki_der(issuer.public_key())).digest()
            signed_entry = ikh + vec(tbs_without_poison(leaf), 3)
            extra = vec(ders[0], 3) + vec(b"".join(vec(d, 3) for d in ders[1:]), 3)
        else:
            signed_entry = vec(ders[0], 3)
            extra = vec(b"".join(vec(d, 3) for d in ders[1:]), 3)
        etype = PRECERT_ENTRY if pre else X509_ENTRY
        if mode in ("badsig", "foreign", "future"):
            return self._json(h, 200, self._sct(etype, signed_entry, mode))
        dedup = hashlib.sha256(ders[0]).digest()
        with self.lock:
            if dedup in self.done:
                return self._json(h, 200, self.done[dedup])
            sct = self._sct(etype, signed_entry, "ok")
            leaf_input = u(0, 1) + u(0, 1) + u(sct["timestamp"], 8) + u(etype, 2) + \
                signed_entry + vec(b"", 2)
            self.leaves.append(leaf_input)
            self.leaf_hashes.append(hashlib.sha256(b"\x00" + leaf_input).digest())
            self.extra.append(extra)
            self.done[dedup] = sct
        return self._json(h, 200, sct)

    def _sct(self, etype, signed_entry, mode):
        ts = int(time.time() * 1000)
        if mode == "future":
            ts += 3600 * 1000
        key, log_id = self.key, self.log_id
        if mode == "foreign":
            key = self.foreign_key
            log_id = hashlib.sha256(spki_der(key.public_key())).digest()
        signed_ts = ts + 1 if mode == "badsig" else ts
        data = u(0, 1) + u(0, 1) + u(signed_ts, 8) + u(etype, 2) + signed_entry + vec(b"", 2)
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
        return {"sct_version": 0, "id": b64(log_id), "timestamp": ts, "extensions": "",
                "signature": b64(bytes([4, 3]) + vec(sig, 2))}

    def _sth(self):
        with self.lock:
            size = len(self.leaves)
            root = mth(self.leaf_hashes)
        ts = int(time.time() * 1000)
        data = u(0, 1) + u(1, 1) + u(ts, 8) + u(size, 8) + root
        sig = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return {"tree_size": size, "timestamp": ts, "sha256_root_hash": b64(root),
                "tree_head_signature": b64(bytes([4, 3]) + vec(sig, 2))}

    def _entries(self, q):
        start, end = int(q["start"][0]), int(q["end"][0])
        if start < 0 or end < start:
            raise CTError(400, "need 0 <= start <= end")
        with self.lock:
            end = min(end, len(self.leaves) - 1, start + ENTRIES_MAX - 1)
            if start >= len(self.leaves):
                raise CTError(400, "start is past the tree size")
            return {"entries": [{"leaf_input": b64(self.leaves[i]),
                                 "extra_data": b64(self.extra[i])}
                                for i in range(start, end + 1)]}


def _issued(cert, by):
    """Whether by signed cert (python3-cryptography 38 of Debian 12 has no
    verify_directly_issued_by)."""
    if cert.issuer != by.subject:
        return False
    key = by.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       cert.signature_hash_algorithm)
        else:
            return False
        return True
    except InvalidSignature:
        return False


def parse_entry(leaf_input):
    """Decodes a get-entries leaf_input: (entry_type, timestamp, cert DER or (ikh, tbs))."""
    ts = int.from_bytes(leaf_input[2:10], "big")
    etype = int.from_bytes(leaf_input[10:12], "big")
    if etype == X509_ENTRY:
        n = int.from_bytes(leaf_input[12:15], "big")
        return etype, ts, leaf_input[15:15 + n]
    ikh = leaf_input[12:44]
    n = int.from_bytes(leaf_input[44:47], "big")
    return etype, ts, (ikh, leaf_input[47:47 + n])


def main():
    ap = argparse.ArgumentParser(description="RFC 6962 test log")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--key", help="PEM EC P-256 key file (created when missing)")
    ap.add_argument("--roots", help="PEM file of accepted roots (default: any)")
    ap.add_argument("--latency-ms", default="0", help="MS or LO,HI")
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--mode", default="ok", choices=MODES)
    ap.add_argument("--name", default="ctlog")
    a = ap.parse_args()
    roots = []
    if a.roots:
        with open(a.roots, "rb") as f:
            text = f.read()
        end = b"-----END CERTIFICATE-----"
        roots = [x509.load_pem_x509_certificate(block + end).public_bytes(
            serialization.Encoding.DER) for block in text.split(end) if b"-----BEGIN" in block]
    log = CTLog(load_or_make_key(a.key), a.port, a.host, roots, a.name)
    lat = [float(x) for x in a.latency_ms.split(",")]
    log.set(mode=a.mode, latency_ms=(lat[0], lat[-1]), error_rate=a.error_rate)
    print("ctlog url=%s key=%s log_id=%s" % (log.url, log.key_b64(), b64(log.log_id)),
          flush=True)
    try:
        log.server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
