#!/usr/bin/python3
"""Issuance with CT through the real stack (nginx, anvil-fcgi, anvil-signer on SoftHSM2,
MariaDB) and two RFC 6962 test logs of two operators (t/lib/ctlog.py): finalize of an order of
a CT profile signs a precertificate, gives it a cert_status row and a published OCSP response,
gathers one SCT per operator and answers `valid` with a certificate whose embedded SCTs
OpenSSL's own CT code validates; the logs hold the precertificate. A profile without CT sends
nothing to any log and carries neither poison nor SCT list. With one operator's log down the
order stays `processing` with Retry-After (never a 500), and its precertificate already has
its status row and OCSP response; once the log answers, anvil-jobs' finalize job ends it
`valid` with the same serial."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import acme  # noqa: E402
import ctlog  # noqa: E402
import issuance  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from issuance import finalize_url, order_url, ready_order, serial_hex  # noqa: E402
from cryptography import x509  # noqa: E402

SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
POISON_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.3")


def ct_section(logs, extra=None):
    sec = {"logs": {n: {"url": lg.url, "key": lg.key_b64(), "operator": n}
                    for n, lg in logs.items()},
           "policies": {"two": {"log_timeout_ms": 400, "deadline_ms": 1500}},
           "profiles": {"default": "two", "shortlived": "two"}}
    sec.update(extra or {})
    return sec


def entries(lg):
    size = lg._sth()["tree_size"]
    if size == 0:
        return []
    return [ctlog.parse_entry(__import__("base64").b64decode(e["leaf_input"]))
            for e in lg._entries({"start": ["0"], "end": [str(size - 1)]})["entries"]]


def ossl_check(s, logs, cert_pem, issuer_pem):
    d = os.path.join(s.dir, "ossl")
    os.makedirs(d, exist_ok=True)
    cnf = os.path.join(d, "ctlogs.cnf")
    with open(cnf, "w") as f:
        f.write("enabled_logs = %s\n" % ",".join(logs))
        for n, lg in logs.items():
            f.write("[%s]\ndescription = %s\nkey = %s\n" % (n, n, lg.key_b64()))
    leaf, iss = os.path.join(d, "leaf.pem"), os.path.join(d, "issuer.pem")
    with open(leaf, "w") as f:
        f.write(cert_pem)
    with open(iss, "w") as f:
        f.write(issuer_pem)
    return proc.run([proc.builddir_path("t", "ct-ossl-check"), cnf, leaf, iss], check=False)


def main():
    proc.alarm(200)
    logs = {n: ctlog.CTLog(name=n).start() for n in ("google", "other")}

    def prepare(s):
        s.config["ct"] = ct_section(logs)
        s.config["acme"]["finalize_budget_ms"] = 3000

    # anvil-jobs finishes what a request left processing, retrying soon.
    s = issuance.stack(before_start=prepare, jobs={"retry_backoff": 1, "max_attempts": 100})
    c = issuance.account(s)

    # --- a CT profile: precertificate, SCTs from both operators, certificate ---
    names = ["ct.example.com", "www.ct.example.com"]
    cert, _, pem, r = issuance.issue(s, c, names, profile="default")
    tap.is_(r.json().get("status"), "valid", "finalize of a CT profile's order: valid")
    exts = [e.oid for e in cert.extensions]
    tap.ok(SCT_OID in exts and POISON_OID not in exts,
           "the certificate carries an SCT list and no poison")
    blocks = issuance.split_pem(pem)
    rr = ossl_check(s, logs, blocks[0], blocks[1])
    out = rr.stdout.decode()
    tap.ok(rr.returncode == 0 and out.count("status=valid") == 2,
           "OpenSSL's CT code validates two SCTs, one per operator") or tap.diag(out)
    ok, vout = issuance.openssl_verify(s, pem)
    tap.ok(ok, "the certificate verifies against the root") or tap.diag(vout)
    serial = serial_hex(cert)
    for n, lg in logs.items():
        got = entries(lg)
        tap.ok(any(et == ctlog.PRECERT_ENTRY for et, _, _ in got),
               "log %s holds the precertificate" % n)
    tap.is_(s.mysql_rows("SELECT COUNT(*), MIN(ocsp_this_update) > 0 FROM cert_status "
                         "WHERE serial = '%s'" % serial), [["1", "1"]],
            "one cert_status row for the serial, with a published response")
    ocsp_file = os.path.join(s.dir, "state", "ocsp", "int-ec", serial)
    tap.ok(os.path.exists(ocsp_file), "its OCSP response is on disk")

    # --- a profile without CT: nothing sent anywhere ---
    sizes = {n: lg._sth()["tree_size"] for n, lg in logs.items()}
    stats = {n: lg.stats() for n, lg in logs.items()}
    cert2, _, _, r = issuance.issue(s, c, ["plain.example.com"], profile="rsa")
    exts = [e.oid for e in cert2.extensions]
    tap.ok(SCT_OID not in exts and POISON_OID not in exts,
           "a profile without CT: neither SCT list nor poison")
    tap.is_({n: lg._sth()["tree_size"] for n, lg in logs.items()}, sizes,
            "a profile without CT: the logs got nothing")
    tap.is_({n: lg.stats() for n, lg in logs.items()}, stats,
            "a profile without CT: no request reached any log")

    # --- one operator's log down: processing + Retry-After, precertificate answered for ---
    logs["other"].set(mode="down")
    oid = ready_order(s, c, ["slow.example.com"], profile="default")
    _, csr = acme.make_csr(["slow.example.com"])
    r = c.finalize(finalize_url(s, oid), csr)
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "processing"),
            "a log down: 200 processing, not a 500") or tap.diag(r.text)
    tap.ok(r.headers.get("Retry-After", "").isdigit(), "with Retry-After")
    rows = s.mysql_rows("SELECT s.serial, cs.ocsp_this_update > 0 FROM serials s JOIN "
                        "cert_status cs ON cs.serial = s.serial WHERE s.order_id = %d" % oid)
    tap.ok(len(rows) == 1 and rows[0][1] == "1",
           "the precertificate has its cert_status row and a published response") or \
        tap.diag(str(rows))
    pre_serial = rows[0][0] if rows else ""
    tap.ok(os.path.exists(os.path.join(s.dir, "state", "ocsp", "int-ec", pre_serial)),
           "the precertificate's OCSP response is on disk")
    logs["other"].set(mode="ok")
    deadline = time.time() + 90
    while time.time() < deadline:
        r = c.post_as_get(order_url(s, oid))
        if r.status_code != 200 or r.json().get("status") != "processing":
            break
        time.sleep(0.5)
    body = r.json() if r.status_code == 200 else {}
    tap.is_(body.get("status"), "valid", "once the log answers, the order ends valid")
    if body.get("certificate"):
        d = c.download(body["certificate"])
        cert3 = x509.load_pem_x509_certificate(issuance.split_pem(d.text)[0].encode())
        tap.is_(serial_hex(cert3), pre_serial, "with the serial of its precertificate")
    else:
        tap.ok(False, "with the serial of its precertificate")
    issuance.check_sanitizers(s)
    for lg in logs.values():
        lg.stop()


tap.run(main)
