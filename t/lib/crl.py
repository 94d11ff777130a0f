"""Helpers for the CRL and freshness tests (72xx): certificates signed straight through the
signer's socket (so these tests need no ACME flow), their cert_status rows, a revocation done
the way the revocation transaction does it (cert_status revoked + crl_shards due_at = 0, then a
wake-up), and the published CRLs fetched over HTTP from nginx and checked with OpenSSL.

    s = start_or_skip(signer=True, jobs=True)
    cert = sign(s)                       # dict: serial (bytes), hex, shard, pem, not_after
    add_status(s, cert); revoke(s, cert, reason=1)
    der = fetch(s, "int-ec", shard)      # bytes, or None while not published
"""
import os
import subprocess
import time

import proc
import signer as signerlib

ISSUER = "int-ec"


def conf_issuer(s, name=ISSUER):
    return s.config["issuers"][name]


def shard_of(serial, shards):
    return int.from_bytes(serial[-4:], "big") % shards if shards > 1 else 0


def sign(s, profile="default", names=("crl.example.com",), validity=86400):
    """A real certificate of the profile (CT profiles: precertificate first, fake SCTs)."""
    from cryptography import x509
    c = signerlib.Client(s.signer_socket)
    serial = signerlib.new_serial()
    now = int(time.time())
    spki = signerlib.spki_der()
    ids = [("dns", n) for n in names]
    st, _, _ = c.precert(profile, serial, spki, ids, now, now + validity)
    assert st == 0, "precert: %d" % st
    st, _, der = c.cert(profile, serial, spki, ids, now, now + validity,
                        sct=signerlib.fake_sct_list())
    assert st == 0, "cert: %d" % st
    c.close()
    cert = x509.load_der_x509_certificate(der)
    iss = s.config["profiles"][profile]["issuer"]
    from cryptography.hazmat.primitives.serialization import Encoding
    return {"serial": serial, "hex": serial.lstrip(b"\0").hex(), "issuer": iss,
            "shard": shard_of(serial, conf_issuer(s, iss).get("crl_shards", 1)),
            "not_after": now + validity, "der": der,
            "pem": cert.public_bytes(Encoding.PEM).decode()}


def add_status(s, cert, refresh_at=None, this_update=0, next_update=0):
    """The row ocsp-core's issuance writes for a signed serial."""
    s.mysql("INSERT INTO cert_status (serial, issuer, shard, not_after, ocsp_this_update, "
            "ocsp_next_update, ocsp_refresh_at) VALUES ('%s', '%s', %d, %d, %d, %d, %d)"
            % (cert["hex"], cert["issuer"], cert["shard"], cert["not_after"], this_update,
               next_update, refresh_at if refresh_at is not None else int(time.time()) + 86400))


def revoke(s, cert, reason=1, wake=True):
    """As the revocation transaction does: status, and the shard due at once, in one
    transaction; then a wake-up for anvil-jobs."""
    now = int(time.time())
    s.mysql("START TRANSACTION; UPDATE cert_status SET status = 'revoked', revoked_at = %d, "
            "revoked_reason = %s, ocsp_refresh_at = 0 WHERE serial = '%s'; "
            "INSERT INTO crl_shards (issuer, shard, due_at) VALUES ('%s', %d, 0) "
            "ON DUPLICATE KEY UPDATE due_at = 0; COMMIT"
            % (now, "NULL" if reason is None else str(reason), cert["hex"], cert["issuer"],
               cert["shard"]))
    if wake:
        s.jobs.wake()
    return now


def url(s, issuer, shard):
    return "%s%d.crl" % (conf_issuer(s, issuer)["crl_url"], shard)


def fetch(s, issuer, shard):
    import requests
    r = requests.get(url(s, issuer, shard), timeout=5)
    if r.status_code != 200:
        return None
    assert r.headers.get("Content-Type") == "application/pkix-crl", r.headers
    return r.content


def load(der):
    from cryptography import x509
    return x509.load_der_x509_crl(der)


def number(crl):
    from cryptography import x509
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def bundle(s, tmp):
    """root + intermediates as one PEM file, for -CAfile."""
    path = os.path.join(tmp, "cas.pem")
    with open(path, "w") as out:
        for iss in s.config["issuers"].values():
            with open(iss["cert"]) as f:
                out.write(f.read())
    return path


def openssl_crl_verify(s, der, tmp):
    """(ok, output) of `openssl crl -verify` against the CA bundle."""
    path = os.path.join(tmp, "x.crl")
    with open(path, "wb") as f:
        f.write(der)
    r = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-verify",
                        "-CAfile", bundle(s, tmp)], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return r.returncode == 0 and "verify OK" in r.stdout, r.stdout


def openssl_verify_crl_check(s, cert, der, tmp):
    """Output of `openssl verify -crl_check` of the certificate with this CRL."""
    crl_pem = os.path.join(tmp, "crl.pem")
    subprocess.run(["openssl", "crl", "-inform", "DER", "-outform", "PEM", "-out", crl_pem],
                   input=der, check=True)
    cpath = os.path.join(tmp, "leaf.pem")
    with open(cpath, "w") as f:
        f.write(cert["pem"])
    r = subprocess.run(["openssl", "verify", "-crl_check", "-CAfile", bundle(s, tmp),
                        "-CRLfile", crl_pem, cpath], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return r.returncode, r.stdout


def wait_listed(s, cert, timeout):
    """Waits until the served CRL of the certificate's shard lists it; returns (seconds, CRL)."""
    t0 = time.time()

    def probe():
        der = fetch(s, cert["issuer"], cert["shard"])
        if der is None:
            return None
        crl = load(der)
        e = crl.get_revoked_certificate_by_serial_number(int.from_bytes(cert["serial"], "big"))
        return (der, crl) if e is not None else None
    der, crl = proc.wait_for(probe, timeout, 0.1, "serial %s in the CRL" % cert["hex"])
    return time.time() - t0, der, crl
