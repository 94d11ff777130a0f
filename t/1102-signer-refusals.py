#!/usr/bin/python3
"""Every refusal of anvil-signer, provoked over its socket and checked by code: unknown profile,
key type and size, a CA key of any issuer as subject key, RSA exponents and moduli outside
CA/B Forum BR 6.1.6, validity, backdating, names outside the policy or the issuer's
permitted_dns, a certificate differing from
its precertificate, a certificate without precertificate, a second different precertificate or
certificate for a serial, a deadline already past, malformed and oversized frames, a peer uid
outside the allow-list (run as nobody), and the per-peer connection cap."""
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402

AE = signer.AE


def code(r):
    return signer.AE_NAME.get(r[0], r[0]) if r is not None else "EOF"


def cert_spki(path):
    """The DER SubjectPublicKeyInfo of a PEM certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def rsa_numbers():
    from cryptography.hazmat.primitives.asymmetric import rsa
    pub = rsa.generate_private_key(65537, 2048).public_key().public_numbers()
    return pub.n, pub.e


def with_factor(n, p):
    """An odd number of n's size divisible by the odd prime p."""
    m = n - n % p
    return m if m % 2 else m - p


def _der(tag, body):
    n = len(body)
    if n < 128:
        head = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + head + body


def _int(v, negative=False):
    b = v.to_bytes((v.bit_length() + 7) // 8, "big")
    if b[0] & 0x80 and not negative:
        b = b"\x00" + b
    return _der(0x02, b)


def rsa_spki(n, e, negative=False):
    """An RSA SubjectPublicKeyInfo built by hand, so that any n and e can be sent. negative:
    the modulus without its leading zero byte (a negative INTEGER)."""
    alg = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    key = _der(0x30, _int(n, negative) + _int(e))
    return _der(0x30, alg + _der(0x03, b"\x00" + key))


def main():
    proc.alarm(150)
    t = proc.tmpdir()
    os.chmod(t, 0o755)  # nobody must reach the socket to be refused by credentials
    hsm = signer.SoftHSM(t)
    import pwd
    nobody = pwd.getpwnam("nobody").pw_uid
    # nobody may ask for health only; "daemon" is not allowed at all.
    binuid = pwd.getpwnam("bin").pw_uid
    # bin is admitted but not in the permissions table (deny by default: health only).
    conf = signer.signer_config(t, hsm, max_per_peer=3,
                                allow_uids=[os.getuid(), nobody, binuid],
                                permissions={str(nobody): ["health"]})
    # The bounds the signer enforces on OCSP and CRL times come from these sections.
    conf["ocsp"] = {"dir": t + "/ocsp", "validity_seconds": 2 * 86400, "backdate_seconds": 600}
    conf["crl"] = {"dir": t + "/crl", "validity_seconds": 86400, "interval_seconds": 3600}
    # A profile wider than its issuer's nameConstraints (int-internal: corp.test): the signer
    # enforces the issuer's permitted_dns itself.
    conf["profiles"]["loose"] = {"issuer": "int-internal", "validity_days": 30, "ct": False,
                                 "ip_ranges": ["10.0.0.0/8"], "allow_wildcard": True}
    signer.ceremony(t, conf, hsm)
    p, sock = signer.start_signer(t, conf, hsm)
    c = signer.Client(sock)
    now = int(time.time())
    spki = signer.spki_der()
    ids = [("dns", "www.example.com")]
    na = now + 90 * 86400 - 1

    def pre(**kw):
        a = dict(profile="default", serial=signer.new_serial(), spki=spki, idents=ids,
                 not_before=now, not_after=na)
        a.update(kw)
        return c.precert(a["profile"], a["serial"], a["spki"], a["idents"], a["not_before"],
                         a["not_after"], deadline_ms=a.get("deadline_ms"))

    tap.is_(code(pre(profile="nope")), "SIGNER_PROFILE", "unknown profile")
    tap.is_(code(pre(spki=signer.spki_der("ec521"))), "SIGNER_KEY", "P-521 outside the profile")
    tap.is_(code(c.cert("internal", signer.new_serial(), signer.spki_der("rsa4096"),
                        [("dns", "a.corp.test")], now, now + 86400)), "OK",
            "RSA-4096 allowed where the profile does not restrict")
    tap.is_(code(pre(spki=signer.spki_der("rsa1024"))), "SIGNER_KEY", "RSA-1024 refused")
    tap.is_(code(pre(spki=b"\x30\x03\x02\x01\x01")), "SIGNER_KEY", "garbage key refused")
    tap.is_(code(pre(not_after=now + 91 * 86400)), "SIGNER_VALIDITY", "validity over 90 days")
    tap.is_(code(pre(profile="shortlived", not_after=now + 8 * 86400)), "SIGNER_VALIDITY",
            "shortlived: 8 days refused")
    tap.is_(code(pre(profile="shortlived", not_after=now + 7 * 86400 - 1)), "OK",
            "shortlived: 7 days accepted")
    tap.is_(code(pre(not_before=now - 86400)), "SIGNER_VALIDITY", "backdated a day")
    tap.is_(code(pre(not_after=now - 1)), "SIGNER_VALIDITY", "notAfter before notBefore")
    tap.is_(code(pre(idents=[("dns", "under_score.example.com")])), "SIGNER_NAME",
            "malformed DNS name")
    tap.is_(code(pre(idents=[("dns", "intranet")])), "SIGNER_NAME",
            "single-label name in a public profile")
    tap.is_(code(pre(idents=[("ip", "192.0.2.1")])), "SIGNER_NAME",
            "IP identifier where the profile allows none")
    tap.is_(code(c.cert("internal", signer.new_serial(), spki, [("dns", "www.example.com")],
                        now, now + 86400)), "SIGNER_NAME", "internal: name outside corp.test")
    tap.is_(code(c.cert("internal", signer.new_serial(), spki, [("ip", "192.168.1.1")], now,
                        now + 86400)), "SIGNER_NAME", "internal: IP outside 10.0.0.0/8")
    tap.is_(code(c.cert("internal", signer.new_serial(), spki, [("dns", "db.corp.test")], now,
                        now + 86400, sct=signer.fake_sct_list())), "SIGNER_CT",
            "SCTs on a profile without CT")
    tap.is_(code(pre(profile="internal", idents=[("dns", "a.corp.test")], not_after=now + 10)),
            "SIGNER_CT", "a precertificate on a profile without CT")
    # Any key of any issuer, not only the profile's: the root's (on the token, offline) and
    # another intermediate's.
    tap.is_(code(pre(spki=cert_spki(conf["issuers"]["root"]["cert"]))), "SIGNER_KEY",
            "the root's key as subject key refused")
    tap.is_(code(c.cert("internal", signer.new_serial(),
                        cert_spki(conf["issuers"]["int-rsa"]["cert"]), [("dns", "k.corp.test")],
                        now, now + 86400)), "SIGNER_KEY",
            "another intermediate's key (int-rsa) refused by the internal profile")
    tap.is_(code(c.cert("internal", signer.new_serial(),
                        cert_spki(conf["issuers"]["int-ec"]["cert"]), [("dns", "k.corp.test")],
                        now, now + 86400)), "SIGNER_KEY",
            "another intermediate's key (int-ec) refused")
    # RSA keys: odd e >= 65537, a modulus without small factors (CA/B Forum BR 6.1.6).
    n0, e0 = rsa_numbers()

    def rsa_cert(n, e):
        return code(c.cert("rsa", signer.new_serial(), rsa_spki(n, e), [("dns", "r.example.org")],
                           now, now + 86400))
    tap.is_(rsa_cert(n0, e0), "OK", "RSA-2048 with e = 65537 accepted")
    tap.is_(rsa_cert(n0, 65539), "OK", "an odd e above 65537 accepted")
    tap.is_(rsa_cert(n0, 3), "SIGNER_KEY", "e = 3 refused")
    tap.is_(rsa_cert(n0, 65535), "SIGNER_KEY", "e = 65535 refused")
    tap.is_(rsa_cert(n0, 65537 + 2 ** 256), "SIGNER_KEY", "e above 2^256 refused")
    tap.is_(rsa_cert(n0 - 1, e0), "SIGNER_KEY", "an even modulus refused")
    tap.is_(rsa_cert(with_factor(n0, 3), e0), "SIGNER_KEY", "a modulus divisible by 3 refused")
    tap.is_(rsa_cert(with_factor(n0, 743), e0), "SIGNER_KEY",
            "a modulus divisible by 743 refused")
    tap.is_(code(c.cert("rsa", signer.new_serial(), rsa_spki(n0, e0, negative=True),
                        [("dns", "r.example.org")], now, now + 86400)), "SIGNER_KEY",
            "a negative modulus refused")
    # The issuer's permitted_dns, whatever the profile says.
    tap.is_(code(c.cert("loose", signer.new_serial(), spki, [("dns", "www.example.com")], now,
                        now + 86400)), "SIGNER_NAME",
            "a name outside the issuer's permitted_dns refused (the profile allows any)")
    tap.is_(code(c.cert("loose", signer.new_serial(), spki, [("dns", "notcorp.test")], now,
                        now + 86400)), "SIGNER_NAME", "permitted_dns matches whole labels")
    tap.is_(code(c.cert("loose", signer.new_serial(), spki,
                        [("dns", "corp.test"), ("dns", "*.a.corp.test"), ("ip", "10.1.2.3")],
                        now, now + 86400)), "OK",
            "names inside permitted_dns (and an IP, which DNS constraints do not restrict)")
    tap.is_(code(pre(serial=b"\x00\x01")), "SIGNER_SERIAL", "non-minimal serial")
    tap.is_(code(pre(serial=b"\xff" * 20)), "SIGNER_SERIAL", "negative 20-byte serial")

    # Precertificate / certificate consistency and one of each per serial.
    s1 = signer.new_serial()
    tap.is_(code(pre(serial=s1)), "OK", "precertificate for s1")
    sct = signer.fake_sct_list()
    tap.is_(code(c.cert("default", s1, spki, ids, now, na - 1, sct=sct)), "SIGNER_MISMATCH",
            "certificate with another validity than its precertificate")
    tap.is_(code(c.cert("default", s1, spki, [("dns", "other.example.com")], now, na, sct=sct)),
            "SIGNER_MISMATCH", "certificate with other names than its precertificate")
    tap.is_(code(c.cert("default", s1, signer.spki_der(), ids, now, na, sct=sct)),
            "SIGNER_MISMATCH", "certificate with another key than its precertificate")
    tap.is_(code(c.cert("default", signer.new_serial(), spki, ids, now, na, sct=sct)),
            "SIGNER_MISMATCH", "certificate without a precertificate")
    tap.is_(code(c.cert("default", s1, spki, ids, now, na, sct=b"\x00\x01\x00")), "SIGNER_CT",
            "malformed SCT list")
    tap.is_(code(pre(serial=s1, not_after=na - 5)), "SIGNER_DUPLICATE",
            "a second, different precertificate for s1")
    tap.is_(code(c.cert("default", s1, spki, ids, now, na, sct=sct)), "OK", "certificate for s1")
    tap.is_(code(c.cert("default", s1, spki, ids, now, na, sct=signer.fake_sct_list(1))),
            "SIGNER_DUPLICATE", "a second, different certificate for s1")
    s2 = signer.new_serial()
    tap.is_(code(c.cert("rsa", s2, spki, [("dns", "a.example.org")], now, now + 86400)), "OK",
            "no-CT certificate for s2")
    tap.is_(code(c.cert("rsa", s2, spki, [("dns", "b.example.org")], now, now + 86400)),
            "SIGNER_DUPLICATE", "a second, different no-CT certificate for s2")

    # Deadlines.
    s3 = signer.new_serial()
    tap.is_(code(pre(serial=s3, deadline_ms=signer.now_ms() - 1)), "SIGNER_DEADLINE",
            "a deadline in the past is refused")
    tap.is_(code(pre(serial=s3, not_after=na - 9)), "OK",
            "the serial of a refused (past-deadline) request was never signed")
    tap.is_(code(c.ocsp("root", s1)), "SIGNER_PROFILE", "OCSP by a root (offline) refused")
    tap.is_(code(c.ocsp("int-ec", s1, this_update=now, next_update=now)), "SIGNER_VALIDITY",
            "OCSP nextUpdate not after thisUpdate")

    # OCSP only for what this signer signed, for the issuer that signed it.
    tap.is_(code(c.ocsp("int-ec", s1, next_update=now + 86400)), "OK",
            "OCSP for a certificate it signed")
    tap.is_(code(c.ocsp("int-ec", s3, next_update=now + 86400)), "OK",
            "OCSP for a precertificate whose certificate never came")
    tap.is_(code(c.ocsp("int-ec", signer.new_serial(), next_update=now + 86400)),
            "SIGNER_UNSIGNED", "OCSP for a serial never signed")
    tap.is_(code(c.ocsp("int-ec", s2, next_update=now + 86400)), "SIGNER_UNSIGNED",
            "OCSP by int-ec for a serial int-rsa signed")
    tap.is_(code(c.ocsp("int-rsa", s2, next_update=now + 86400)), "OK",
            "OCSP by int-rsa for its own serial")
    # thisUpdate/nextUpdate within ocsp.validity_seconds (2 days) and ocsp.backdate_seconds
    # (600) plus the 300 s skew.
    tap.is_(code(c.ocsp("int-ec", s1, this_update=now, next_update=now + 2 * 86400)), "OK",
            "OCSP validity of exactly ocsp.validity_seconds")
    tap.is_(code(c.ocsp("int-ec", s1, this_update=now, next_update=now + 2 * 86400 + 1)),
            "SIGNER_VALIDITY", "OCSP validity over ocsp.validity_seconds")
    tap.is_(code(c.ocsp("int-ec", s1, this_update=now - 600, next_update=now + 86400)), "OK",
            "OCSP thisUpdate backdated by ocsp.backdate_seconds")
    tap.is_(code(c.ocsp("int-ec", s1, this_update=now - 2000, next_update=now + 86400)),
            "SIGNER_VALIDITY", "OCSP thisUpdate backdated beyond ocsp.backdate_seconds")
    tap.is_(code(c.ocsp("int-ec", s1, this_update=now + 3600, next_update=now + 86400)),
            "SIGNER_VALIDITY", "OCSP thisUpdate in the future")
    # CRLs: validity within crl.validity_seconds (1 day), thisUpdate now.
    tap.is_(code(c.crl("int-ec", 5, [], this_update=now, next_update=now + 86400)), "OK",
            "CRL validity of exactly crl.validity_seconds")
    tap.is_(code(c.crl("int-ec", 5, [], this_update=now, next_update=now + 86401)),
            "SIGNER_VALIDITY", "CRL validity over crl.validity_seconds")
    tap.is_(code(c.crl("int-ec", 5, [], this_update=now - 3600, next_update=now + 3600)),
            "SIGNER_VALIDITY", "CRL thisUpdate an hour in the past")
    tap.is_(code(c.crl("int-ec", 5, [], this_update=now + 3600, next_update=now + 7200)),
            "SIGNER_VALIDITY", "CRL thisUpdate in the future")
    tap.is_(code(c.crl("root", 5, [])), "SIGNER_PROFILE", "CRL by a root (offline) refused")

    # Malformed frames: an error reply, then the connection is closed.
    r = c.raw(struct.pack(">I", 20) + bytes(20))
    tap.is_(code(r), "SIGNER_PROTO", "a frame of version 0 is a protocol error")
    r = c.raw(signer.frame(signer.OP_PRECERT, b"\x00\x07default"))
    tap.is_(code(r), "SIGNER_PROTO", "a truncated precert body is a protocol error")
    r = c.raw(signer.frame(signer.OP_HEALTH, b"x"))
    tap.is_(code(r), "SIGNER_PROTO", "a leftover byte is a protocol error")
    r = c.raw(signer.frame(77, b""))
    tap.is_(code(r), "SIGNER_PROTO", "an unknown op is a protocol error")
    r = c.raw(struct.pack(">I", 64 * 1024 * 1024))
    tap.is_(code(r), "TOOBIG", "a frame over the cap is refused before reading it")
    r = c.raw(signer.frame(signer.OP_PRECERT, bytes(70000)))
    tap.is_(code(r), "TOOBIG", "a signing request over 64 KiB is refused")
    c.close()

    # A peer outside the allow-list (uid "daemon"), and nobody limited to health.
    # Each argument: an op, or op:hex body.
    script = ("import socket,struct,sys\n"
              "s=socket.socket(socket.AF_UNIX);s.connect(sys.argv[1])\n"
              "for a in sys.argv[2:]:\n"
              "  op,_,b=a.partition(':');b=bytes.fromhex(b)\n"
              "  s.sendall(struct.pack('>IBBIQ',14+len(b),1,int(op),1,2**62)+b)\n"
              "  d=s.recv(4096);print(struct.unpack('>BBIH',d[4:12])[3])\n"
              "if len(sys.argv)==2:\n"
              "  d=s.recv(64);print(struct.unpack('>BBIH',d[4:12])[3])\n")

    def as_user(user, *ops):
        r = subprocess.run(["setpriv", "--reuid=" + user, "--regid=nogroup", "--clear-groups",
                            "/usr/bin/python3", "-c", script, sock] + [str(o) for o in ops],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return r.stdout.decode().split()
    tap.is_(as_user("daemon"), [str(AE["SIGNER_PERM"])],
            "a peer uid outside the allow-list is refused")
    tap.is_(as_user("nobody", signer.OP_HEALTH, signer.OP_STATS, signer.OP_HEALTH),
            ["0", str(AE["SIGNER_PERM"]), "0"],
            "per-operation permissions: nobody may ask for health, not for stats")
    ocsp_req = "%d:%s" % (signer.OP_OCSP, signer.ocsp_body("int-ec", s1,
                                                           next_update=now + 86400).hex())
    crl_req = "%d:%s" % (signer.OP_CRL, signer.crl_body("int-ec", 9, [],
                                                        next_update=int(time.time()) + 3600).hex())
    tap.is_(as_user("bin", signer.OP_HEALTH, signer.OP_STATS, ocsp_req, crl_req),
            ["0"] + [str(AE["SIGNER_PERM"])] * 3,
            "deny by default: an admitted uid not in signer.permissions gets health only")
    tap.is_(as_user("nobody", ocsp_req), [str(AE["SIGNER_PERM"])],
            "a listed uid may not sign what is not listed for it")

    # Per-peer connection cap (3): the 4th concurrent connection is turned away.
    held = []
    for i in range(3):
        h = signer.Client(sock)
        h.connect()
        held.append(h)
    # The server counts a connection when it accepts it: make sure all three are served.
    for h in held:
        tap.is_(code(h.call(signer.OP_HEALTH, b"")), "OK", "held connection answers")
    extra = signer.Client(sock)
    r = extra.raw(signer.frame(signer.OP_HEALTH, b""))
    tap.is_(code(r), "BUSY", "a connection over the per-peer cap gets busy")
    for h in held:
        h.close()
    ok_again = proc.wait_for(lambda: signer.Client(sock).health()[0] == 0, 10)
    tap.ok(ok_again, "connections are accepted again once the peer closed its others")

    p.stop()
    # Without the table nobody could sign: a configuration error naming the key.
    del conf["signer"]["permissions"]
    path = signer.write_config(t, conf, "noperms.json")
    r = subprocess.run([proc.builddir_path("ca", "anvil-signer"), "-c", path, "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=hsm.env())
    tap.ok(r.returncode != 0 and b"signer.permissions" in r.stdout,
           "a signer section without permissions is refused, naming signer.permissions") \
        or tap.diag(r.stdout.decode())
    log = p.log_text()
    tap.ok("event=peer_refused" in log and "result=refused" in log, "refusals are logged")
    tap.ok(hsm.pin not in log, "the PIN appears in no output")


tap.run(main)
