"""SoftHSM2 token, key ceremony and anvil-signer harness, plus a protocol client (ca/PROTOCOL.md).

Used by the 1xxx tests, the dev stack and later layers:

    hsm = SoftHSM(tmpdir)                    # private SOFTHSM2_CONF + token, random PIN
    conf = signer_config(tmpdir, hsm)        # a deployment dict with signer/issuers/profiles
    ceremony(tmpdir, conf)                   # anvilctl init
    proc, sock = start_signer(tmpdir, conf)  # anvil-signer on a Unix socket
    c = Client(sock); c.precert(...)
"""
import json
import os
import secrets
import socket
import struct
import time

import proc

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

# lib/err.h codes (the part the signer answers with).
AE = dict(OK=0, NOMEM=1, INTERNAL=2, IO=3, TOOBIG=4, PARSE=5, RANGE=6, CONFIG=7, NOTFOUND=8,
          EXISTS=9, TIMEOUT=10, UNAVAILABLE=11, BUSY=12, DENIED=13, CRYPTO=14,
          SIGNER_PROTO=300, SIGNER_PROFILE=301, SIGNER_CA=302, SIGNER_KEY=303,
          SIGNER_VALIDITY=304, SIGNER_NAME=305, SIGNER_MISMATCH=306, SIGNER_DUPLICATE=307,
          SIGNER_DEADLINE=308, SIGNER_HSM=309, SIGNER_PERM=310, SIGNER_SERIAL=311,
          SIGNER_CT=312, SIGNER_UNSIGNED=313)
AE_NAME = {v: k for k, v in AE.items()}

OP_HEALTH, OP_STATS, OP_PRECERT, OP_CERT, OP_OCSP, OP_CRL = 1, 2, 3, 4, 5, 6


class SoftHSM:
    """A private SoftHSM2 token directory; env() is what a process needs to see it."""

    def __init__(self, tmp, label="anvil", pin=None):
        self.dir = os.path.join(tmp, "softhsm")
        os.makedirs(os.path.join(self.dir, "tokens"), exist_ok=True)
        self.conf = os.path.join(self.dir, "softhsm2.conf")
        with open(self.conf, "w") as f:
            f.write("directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n" % self.dir)
        self.label = label
        # A PIN in the USER:PASSWORD shape of CloudHSM, to prove any format passes through.
        self.pin = pin or ("crypto-user:" + secrets.token_hex(12))
        self.so_pin = secrets.token_hex(8)
        proc.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                  "--pin", self.pin, "--so-pin", self.so_pin], env=self.env())
        self.pin_file = os.path.join(self.dir, "pin")
        with open(self.pin_file, "w") as f:
            f.write(self.pin + "\n")
        os.chmod(self.pin_file, 0o600)

    def env(self, base=None):
        e = dict(base if base is not None else os.environ)
        e["SOFTHSM2_CONF"] = self.conf
        return e


def signer_config(tmp, hsm, module=None, sessions=2, queue_max=64, allow_uids=None,
                  max_per_peer=16, extra_issuers=True, permissions=None):
    """A deployment file for the signer: one ECDSA and one RSA intermediate under one root,
    profiles default (CT), shortlived (CT, 7 days) and internal (no CT, name-constrained)."""
    state = os.path.join(tmp, "signer-state")
    os.makedirs(state, exist_ok=True)
    pki = os.path.join(tmp, "pki")
    os.makedirs(pki, exist_ok=True)
    issuers = {
        "root": {"key_label": "anvil-root", "key_type": "ecdsa-p256",
                 "subject": "CN=Anvil Test Root,O=Anvil", "cert": pki + "/root.pem",
                 "issuer_url": "http://pki.test/root.der"},
        "int-ec": {"key_label": "anvil-int-ec", "key_type": "ecdsa-p256",
                   "subject": "CN=Anvil Test E1,O=Anvil", "cert": pki + "/int-ec.pem",
                   "parent": "root", "ocsp_url": "http://ocsp.pki.test/",
                   "issuer_url": "http://pki.test/int-ec.der",
                   "crl_url": "http://pki.test/crl/int-ec/", "crl_shards": 4},
    }
    if extra_issuers:
        issuers["int-rsa"] = {"key_label": "anvil-int-rsa", "key_type": "rsa-2048",
                              "subject": "CN=Anvil Test R1,O=Anvil",
                              "cert": pki + "/int-rsa.pem", "parent": "root",
                              "ocsp_url": "http://ocsp.pki.test/",
                              "issuer_url": "http://pki.test/int-rsa.der"}
        issuers["int-internal"] = {"key_label": "anvil-int-internal", "key_type": "ecdsa-p256",
                                   "subject": "CN=Anvil Internal I1,O=Anvil",
                                   "cert": pki + "/int-internal.pem", "parent": "root",
                                   "permitted_dns": ["corp.test"],
                                   "ocsp_url": "http://ocsp.pki.test/"}
    profiles = {
        "default": {"issuer": "int-ec", "validity_days": 90, "ct": True, "public": True,
                    "key_types": ["ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072"],
                    "policies": ["2.23.140.1.2.1"]},
        "shortlived": {"issuer": "int-ec", "validity_days": 7, "ct": True,
                       "ekus": ["server_auth"], "public": True},
    }
    if extra_issuers:
        profiles["rsa"] = {"issuer": "int-rsa", "validity_days": 90, "ct": False}
        profiles["internal"] = {"issuer": "int-internal", "validity_days": 365, "ct": False,
                                "dns_suffixes": ["corp.test"], "ip_ranges": ["10.0.0.0/8"],
                                "ekus": ["server_auth", "client_auth"], "allow_wildcard": True}
    sconf = {
        "signer": {
            "socket": os.path.join(tmp, "signer.sock"),
            "socket_mode": "0666",
            "allow_uids": allow_uids if allow_uids is not None else [os.getuid()],
            "max_connections_per_peer": max_per_peer,
            "module": module or SOFTHSM_MODULE,
            "token_label": hsm.label,
            "pin": {"file": hsm.pin_file},
            "sessions": sessions,
            "queue_max": queue_max,
            "state_dir": state,
        },
        "issuers": issuers,
        "profiles": profiles,
        # anvilctl's audit chain (ceremony, eab...) in the test's directory, not the system's.
        "log": {"audit_file": os.path.join(tmp, "anvilctl-audit.chain")},
    }
    # Deny by default: this test process (and the daemons a stack runs as the same user) may
    # use every op; permissions adds or overrides entries.
    perms = {str(os.getuid()): ["health", "stats", "precert", "cert", "ocsp", "crl"]}
    perms.update(permissions or {})
    sconf["signer"]["permissions"] = perms
    return sconf


def write_config(tmp, conf, name="anvil.json"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(conf, f, indent=1)
    return path


def anvilctl(tmp, conf, hsm, *args, check=True, env=None):
    path = write_config(tmp, conf)
    return proc.run([proc.builddir_path("tools", "anvilctl", "anvilctl"), "-c", path] +
                    list(args), check=check, env=hsm.env(env))


def ceremony(tmp, conf, hsm):
    """anvilctl init; returns its output."""
    return anvilctl(tmp, conf, hsm, "init").stdout.decode("utf-8", "replace")


def start_signer(tmp, conf, hsm, env=None, wait=True, log=None):
    """Starts anvil-signer; returns (Proc, socket path) once the socket answers."""
    path = write_config(tmp, conf, "signer.json")
    sock = conf["signer"]["socket"]
    p = proc.Proc([proc.builddir_path("ca", "anvil-signer"), "-c", path],
                  log or os.path.join(tmp, "signer.log"), env=hsm.env(env))
    if wait:
        def ready():
            if not p.alive():
                raise RuntimeError("anvil-signer exited:\n" + p.log_text())
            return Client(sock).health()[0] == 0
        proc.wait_for(ready, 30, what="anvil-signer")
    return p, sock


# --- protocol client -------------------------------------------------------------------------

def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def _bytes(b):
    return struct.pack(">I", len(b)) + b


def now_ms():
    return int(time.time() * 1000)


def frame(op, body, deadline_ms=None, req_id=1, version=1):
    d = deadline_ms if deadline_ms is not None else now_ms() + 10000
    msg = struct.pack(">BBIQ", version, op, req_id, d) + body
    return struct.pack(">I", len(msg)) + msg


def cert_body(profile, serial, spki, idents, not_before, not_after, sct=None):
    b = _str(profile) + _bytes(serial) + _bytes(spki) + struct.pack(">H", len(idents))
    for t, v in idents:
        if t == "dns":
            b += b"\x01" + _bytes(v.encode())
        else:
            import ipaddress
            b += b"\x02" + _bytes(ipaddress.ip_address(v).packed)
    b += struct.pack(">QQ", not_before, not_after)
    if sct is not None:
        b += _bytes(sct)
    return b


def ocsp_body(issuer, serial, status=0, revoked_at=0, reason=0xff, this_update=None,
              next_update=None):
    tu = this_update or int(time.time())
    nu = next_update or tu + 3 * 86400
    return (_str(issuer) + _bytes(serial) + struct.pack(">BQB", status, revoked_at, reason) +
            struct.pack(">QQ", tu, nu))


def crl_body(issuer, number, entries, idp="", this_update=None, next_update=None):
    tu = this_update or int(time.time())
    nu = next_update or tu + 7 * 86400
    b = _str(issuer) + struct.pack(">QQQ", number, tu, nu) + _str(idp)
    b += struct.pack(">I", len(entries))
    for serial, when, reason in entries:
        b += _bytes(serial) + struct.pack(">QB", when, reason)
    return b


def fake_sct_list(n=2):
    """A syntactically valid SignedCertificateTimestampList (RFC 6962 3.3)."""
    scts = b""
    for i in range(n):
        sct = bytes([0]) + bytes([i + 1]) * 32 + struct.pack(">Q", now_ms()) + b"\x00\x00" + \
            b"\x04\x03" + struct.pack(">H", 8) + bytes(8)
        scts += struct.pack(">H", len(sct)) + sct
    return struct.pack(">H", len(scts)) + scts


class Client:
    def __init__(self, path, timeout=30):
        self.path = path
        self.timeout = timeout
        self.s = None
        self.next_id = 1

    def connect(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(self.timeout)
        self.s.connect(self.path)

    def close(self):
        if self.s:
            self.s.close()
        self.s = None

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("signer closed the connection")
            buf += chunk
        return buf

    def raw(self, data):
        """Sends raw bytes; returns (status, retry_ms, data) of the reply, or None on EOF."""
        if self.s is None:
            self.connect()
        try:
            self.s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the signer refused us at accept: its error frame is waiting to be read
        try:
            hdr = self._read(4)
        except ConnectionError:
            self.close()
            return None
        (n,) = struct.unpack(">I", hdr)
        body = self._read(n)
        ver, op, rid, status = struct.unpack(">BBIH", body[:8])
        off = 8
        retry = 0
        if status == AE["BUSY"]:
            (retry,) = struct.unpack(">I", body[off:off + 4])
            off += 4
        (dl,) = struct.unpack(">I", body[off:off + 4])
        data = body[off + 4:off + 4 + dl]
        if status in (AE["SIGNER_PROTO"], AE["TOOBIG"], AE["SIGNER_PERM"]):
            self.close()
        return status, retry, data

    def call(self, op, body, deadline_ms=None):
        rid = self.next_id
        self.next_id += 1
        return self.raw(frame(op, body, deadline_ms, rid))

    def health(self):
        try:
            r = self.call(OP_HEALTH, b"")
        finally:
            self.close()
        return r

    def stats(self):
        st, _, data = self.call(OP_STATS, b"")
        return json.loads(data) if st == 0 else None

    def precert(self, *a, deadline_ms=None, **kw):
        return self.call(OP_PRECERT, cert_body(*a, **kw), deadline_ms)

    def cert(self, *a, deadline_ms=None, **kw):
        if "sct" not in kw:
            kw["sct"] = b""
        return self.call(OP_CERT, cert_body(*a, **kw), deadline_ms)

    def ocsp(self, *a, deadline_ms=None, **kw):
        return self.call(OP_OCSP, ocsp_body(*a, **kw), deadline_ms)

    def crl(self, *a, deadline_ms=None, **kw):
        return self.call(OP_CRL, crl_body(*a, **kw), deadline_ms)


def new_serial():
    s = bytearray(secrets.token_bytes(16))
    s[0] = (s[0] & 0x7f) | 0x01
    return bytes(s)


def spki_der(kind="ec"):
    """A fresh subject public key (DER SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    if kind == "ec":
        k = ec.generate_private_key(ec.SECP256R1())
    elif kind == "ec384":
        k = ec.generate_private_key(ec.SECP384R1())
    elif kind == "ec521":
        k = ec.generate_private_key(ec.SECP521R1())
    elif kind.startswith("rsa"):
        k = rsa.generate_private_key(65537, int(kind[3:] or 2048))
    return k.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
