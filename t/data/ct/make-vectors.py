#!/usr/bin/python3
"""Writes the known vectors of t/7001-ct-sct.c (run once; the outputs are committed, since
ECDSA signatures are randomised). The SCTs are made here with python3-cryptography and the
test log's own DER walk (t/lib/ctlog.py), not with Anvil's code:

    issuer.der precert.der cert.der     a CA, a precertificate and a certificate it issued
    log-ec.b64 log-rsa.b64              two log keys (base64 DER SubjectPublicKeyInfo)
    log-ec.id log-rsa.id                their log ids, hex
    sct-pre-ec.bin                      the EC log's SCT for the precertificate
    sct-cert-rsa.bin                    the RSA log's SCT for the certificate (x509_entry)
    response-pre-ec.json                sct-pre-ec as the log answered it
    list.bin                            SignedCertificateTimestampList of the two SCTs
    sth-ec.json                         a get-sth answer of the EC log (tree_size 7)
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402

import ctlog  # noqa: E402
import ctpki  # noqa: E402

TS = 1767225600123  # 2026-01-01T00:00:00.123Z


def sct(key, alg, etype, signed_entry):
    spki = ctlog.spki_der(key.public_key())
    data = ctlog.u(0, 1) + ctlog.u(0, 1) + ctlog.u(TS, 8) + ctlog.u(etype, 2) + signed_entry + \
        ctlog.vec(b"", 2)
    if alg == 3:
        sig = key.sign(data, ec.ECDSA(hashes.SHA256()))
    else:
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    log_id = hashlib.sha256(spki).digest()
    binary = b"\x00" + log_id + ctlog.u(TS, 8) + ctlog.vec(b"", 2) + bytes([4, alg]) + \
        ctlog.vec(sig, 2)
    js = {"sct_version": 0, "id": ctlog.b64(log_id), "timestamp": TS, "extensions": "",
          "signature": ctlog.b64(bytes([4, alg]) + ctlog.vec(sig, 2))}
    return spki, log_id, binary, js


def main():
    out = os.path.dirname(os.path.abspath(__file__))
    ca = ctpki.CA()
    pre, final = ca.pair("vector.example.test", 90)
    _, fin = ca.pair("final.example.test", 90)
    cert = fin(ctlog.vec(ctlog.vec(b"\x00" * 60, 2), 2))  # a final certificate, not poisoned
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(65537, 2048)
    ikh = hashlib.sha256(ctlog.spki_der(ca.key.public_key())).digest()
    pre_entry = ikh + ctlog.vec(ctlog.tbs_without_poison(pre), 3)
    cert_entry = ctlog.vec(ctpki.der(cert), 3)
    ec_spki, ec_id, ec_bin, ec_js = sct(ec_key, 3, 1, pre_entry)
    rsa_spki, rsa_id, rsa_bin, _ = sct(rsa_key, 1, 0, cert_entry)
    root = hashlib.sha256(b"anvil").digest()
    sth_sig = ec_key.sign(b"\x00\x01" + ctlog.u(TS, 8) + ctlog.u(7, 8) + root,
                          ec.ECDSA(hashes.SHA256()))
    sth = {"tree_size": 7, "timestamp": TS, "sha256_root_hash": ctlog.b64(root),
           "tree_head_signature": ctlog.b64(bytes([4, 3]) + ctlog.vec(sth_sig, 2))}
    files = {
        "issuer.der": ctpki.der(ca.cert), "precert.der": ctpki.der(pre),
        "cert.der": ctpki.der(cert),
        "log-ec.b64": ctlog.b64(ec_spki).encode(), "log-rsa.b64": ctlog.b64(rsa_spki).encode(),
        "log-ec.id": ec_id.hex().encode(), "log-rsa.id": rsa_id.hex().encode(),
        "sct-pre-ec.bin": ec_bin, "sct-cert-rsa.bin": rsa_bin,
        "response-pre-ec.json": json.dumps(ec_js).encode(),
        "list.bin": ctlog.vec(ctlog.vec(ec_bin, 2) + ctlog.vec(rsa_bin, 2), 2),
        "sth-ec.json": json.dumps(sth).encode(),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
