#!/usr/bin/python3
"""The CT client with the real signer: anvil-signer (SoftHSM2) signs a precertificate for a CT
profile (op 3), ct/ gets SCTs for it from two RFC 6962 test logs of two operators, the signer
embeds the SCT list in the final certificate (op 4, checked against its precertificate), and
OpenSSL's own CT code validates the embedded SCTs against the logs' keys: our TBS
reconstruction, the test log's and OpenSSL's agree on what the signer builds. The final
certificate then goes to the logs with add-chain and appears in their get-entries."""
import base64
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import ctlog  # noqa: E402
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

ENV = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def pem_of(der):
    return x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)


def main():
    proc.alarm(180)
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm, extra_issuers=False)
    signer.ceremony(t, conf, hsm)
    _, sock = signer.start_signer(t, conf, hsm)
    pki = os.path.join(t, "pki")
    root_der = x509.load_pem_x509_certificate(open(pki + "/root.pem", "rb").read()) \
        .public_bytes(serialization.Encoding.DER)
    logs = {n: ctlog.CTLog(name=n, roots=[root_der]).start() for n in ("google", "other")}
    ct_conf = os.path.join(t, "ct.json")
    signer.write_config(t, {"ct": {
        "logs": {n: {"url": lg.url, "key": lg.key_b64(), "operator": n}
                 for n, lg in logs.items()},
        "policies": {"p": {"final_certificates": ["google", "other"]}}}}, "ct.json")

    c = signer.Client(sock)
    serial = signer.new_serial()
    spki = signer.spki_der("ec")
    ids = [("dns", "ct.example.net"), ("dns", "www.ct.example.net")]
    now = int(time.time()) - 60
    st, _, pre = c.precert("default", serial, spki, ids, now, now + 90 * 86400 - 1)
    tap.is_(st, 0, "the signer signs a precertificate for the CT profile")
    pre_path = os.path.join(t, "pre.pem")
    with open(pre_path, "wb") as f:
        f.write(pem_of(pre))
    list_path = os.path.join(t, "list.bin")

    def submit(leaf):
        return subprocess.run([proc.builddir_path("t", "ct-submit"), "-c", ct_conf, "-p", "p",
                               "-o", list_path, leaf, pki + "/int-ec.pem", pki + "/root.pem"],
                              capture_output=True, text=True, env=ENV, timeout=60)

    r = submit(pre_path)
    tap.ok(r.returncode == 0 and r.stdout.count("kept=1") == 2,
           "both operators' logs give a verified SCT for the signer's precertificate") or \
        tap.diag(r.stdout + r.stderr)
    sct_list = open(list_path, "rb").read() if r.returncode == 0 else b""
    st, _, cert = c.cert("default", serial, spki, ids, now, now + 90 * 86400 - 1, sct=sct_list)
    tap.is_(st, 0, "the signer embeds the SCT list in the final certificate (op 4)")
    cert_path = os.path.join(t, "cert.pem")
    with open(cert_path, "wb") as f:
        f.write(pem_of(cert) if st == 0 else b"")
    cnf = os.path.join(t, "ctlogs.cnf")
    with open(cnf, "w") as f:
        f.write("enabled_logs = google,other\n")
        for n, lg in logs.items():
            f.write("[%s]\ndescription = %s\nkey = %s\n" % (n, n, lg.key_b64()))
    r2 = subprocess.run([proc.builddir_path("t", "ct-ossl-check"), cnf, cert_path,
                         pki + "/int-ec.pem"], capture_output=True, text=True)
    tap.ok(r2.returncode == 0 and r2.stdout.count("status=valid") == 2,
           "OpenSSL's SCT_LIST_validate accepts the SCTs in the signer's certificate") or \
        tap.diag(r2.stdout + r2.stderr)

    # The SCT extension's OCTET STRING in DER (two ECDSA SCTs: a length of 128..255, 81 NN):
    # strict parsers (python3-cryptography, Go's crypto/x509, so RFC 6962 logs) refuse anything
    # else.
    strict = True
    try:
        x509.load_der_x509_certificate(cert).extensions
    except ValueError:
        strict = False
    tap.ok(strict, "the final certificate is strict DER (SCT list of %d bytes)" % len(sct_list))
    r3 = submit(cert_path)
    check = tap.ok
    check(r3.returncode == 0 and r3.stdout.count("outcome=ok") == 2,
          "the final certificate is logged with add-chain in both logs") or \
        tap.diag(r3.stdout + r3.stderr)
    for n, lg in logs.items():
        size = lg._sth()["tree_size"]
        got = [ctlog.parse_entry(base64.b64decode(e["leaf_input"]))
               for e in lg._entries({"start": ["0"], "end": [str(size - 1)]})["entries"]]
        tap.ok(any(et == ctlog.PRECERT_ENTRY for et, _, _ in got),
               "log %s: get-entries holds the precertificate" % n)
        check(any(et == ctlog.X509_ENTRY and body == cert for et, _, body in got),
              "log %s: get-entries holds the certificate" % n)
    c.close()
    for lg in logs.values():
        lg.stop()


tap.run(main)
