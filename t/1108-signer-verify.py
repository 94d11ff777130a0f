#!/usr/bin/python3
"""anvil-signer verifies every signature it made before returning it (issue 12 item 11): behind a
faulty HSM (tools/slowhsm with ANVIL_SLOWHSM_CORRUPT_FILE: every signature comes back with one
bit flipped, the call itself succeeds) a certificate, a precertificate, an OCSP response and a
CRL, of an RSA and an ECDSA issuer, are all refused with SIGNER_HSM and logged; nothing bad is
journaled, so once the HSM is sound the same requests are signed and verify."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402


def code(r):
    return signer.AE_NAME.get(r[0], r[0]) if r is not None else "EOF"


def issuer_key(path):
    from cryptography import x509
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).public_key()


def verifies(der, issuer_pem):
    """Whether the certificate's signature verifies with the issuer's key."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    cert = x509.load_der_x509_certificate(der)
    key = issuer_key(issuer_pem)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes,
                       ec.ECDSA(cert.signature_hash_algorithm))
        else:
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(),
                       cert.signature_hash_algorithm)
        return True
    except Exception:
        return False


def main():
    proc.alarm(120)
    slow = proc.builddir_path("tools", "slowhsm", ".libs", "anvil-slowhsm.so")
    if not os.path.exists(slow):
        tap.skip_all("slow-HSM module not built")
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm)
    signer.ceremony(t, conf, hsm)
    conf = signer.signer_config(t, hsm, module=slow)
    corrupt = os.path.join(t, "corrupt")
    p, sock = signer.start_signer(t, conf, hsm,
                                  env=dict(os.environ, ANVIL_SLOWHSM_CORRUPT_FILE=corrupt))
    c = signer.Client(sock)
    now = int(time.time())
    spki = signer.spki_der()
    rsa_pem = conf["issuers"]["int-rsa"]["cert"]
    internal_pem = conf["issuers"]["int-internal"]["cert"]

    # Sound HSM: a certificate to ask OCSP for later.
    s0 = signer.new_serial()
    r = c.cert("rsa", s0, spki, [("dns", "sound.example.org")], now, now + 86400)
    tap.ok(code(r) == "OK" and verifies(r[2], rsa_pem), "a sound HSM: signed and verifies")

    open(corrupt, "w").close()
    s1, s2, s3 = signer.new_serial(), signer.new_serial(), signer.new_serial()
    rsa_req = ("rsa", s1, spki, [("dns", "faulty.example.org")], now, now + 86400)
    ec_req = ("internal", s2, spki, [("dns", "faulty.corp.test")], now, now + 86400)
    tap.is_(code(c.cert(*rsa_req)), "SIGNER_HSM", "faulty HSM: an RSA issuer's certificate "
            "refused")
    tap.is_(code(c.cert(*ec_req)), "SIGNER_HSM", "faulty HSM: an ECDSA issuer's certificate "
            "refused")
    tap.is_(code(c.precert("default", s3, spki, [("dns", "pre.example.com")], now,
                           now + 86400)), "SIGNER_HSM", "faulty HSM: a precertificate refused")
    tap.is_(code(c.ocsp("int-rsa", s0, next_update=now + 86400)), "SIGNER_HSM",
            "faulty HSM: an OCSP response refused")
    tap.is_(code(c.crl("int-ec", 7, [], this_update=now, next_update=now + 3600)),
            "SIGNER_HSM", "faulty HSM: a CRL refused")
    log = p.log_text()
    tap.ok(all("event=bad_signature what=%s" % w in log for w in ("cert", "precert", "ocsp",
                                                                    "crl")),
           "each bad signature is logged")

    os.unlink(corrupt)
    r = c.cert(*rsa_req)
    tap.ok(code(r) == "OK" and verifies(r[2], rsa_pem),
           "the HSM sound again: the same RSA request signed (nothing bad was journaled)")
    r = c.cert(*ec_req)
    tap.ok(code(r) == "OK" and verifies(r[2], internal_pem),
           "the same ECDSA request signed and verifies")
    tap.is_(code(c.ocsp("int-rsa", s0, next_update=now + 86400)), "OK", "OCSP signed again")
    tap.is_(code(c.crl("int-ec", 7, [], this_update=int(time.time()),
                       next_update=int(time.time()) + 3600)), "OK", "a CRL signed again")
    c.close()
    p.stop()
    log = p.log_text()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-signer without a sanitizer report")


tap.run(main)
