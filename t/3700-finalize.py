#!/usr/bin/python3
"""Finalize (RFC 8555 §7.4) and certificate download (§7.4.2) through nginx with the real
signer: orders are put into `ready` directly in the database so this test does not depend on
validation. Every CSR rejection is a row of data; successes are checked with `openssl verify`
against the ceremony's root, their SANs and key types; alternate chains; a CT profile (no CT
yet) turns the order invalid with a clear problem; a stopped signer answers processing +
Retry-After with the durable job recorded, never a 500."""
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, problem, ready_order  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402


def spki_sha256(key):
    pub = key.public_key() if hasattr(key, "public_key") else key
    return hashlib.sha256(pub.public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
                          ).hexdigest()


def main():
    proc.alarm(85)
    weak_key = acme.generate_csr_key("ES256")
    blocked_key = acme.generate_csr_key("ES256")

    def prepare(s):
        weak = os.path.join(s.dir, "weak-keys.txt")
        with open(weak, "w") as f:
            f.write("# test list\n%s\n" % spki_sha256(weak_key))
        pki = os.path.join(s.dir, "pki")
        s.config["acme"].update({
            "weak_keys_file": weak, "serial_prefix": 0x42, "finalize_budget_ms": 3000,
            "alternate_chains": {"int-rsa": [os.path.join(pki, "int-rsa-chain.pem")]}})

    s = issuance.stack(before_start=prepare)
    c = issuance.account(s)
    other = issuance.account(s)
    names = ["www.example.com", "example.com"]

    # --- orderNotReady ---
    oid = ready_order(s, c, names, status="pending", authz_status="pending")
    _, csr = acme.make_csr(names)
    tap.ok(problem(c.finalize(finalize_url(s, oid), csr), 403, "orderNotReady"),
           "finalize of a pending order: 403 orderNotReady")
    oid = ready_order(s, c, names, expires_in=-10)
    tap.ok(problem(c.finalize(finalize_url(s, oid), csr), 403, "orderNotReady"),
           "finalize of an expired order: 403 orderNotReady")

    # --- CSR rejections, as data: (name, CSR builder, status, problem type) ---
    oid = ready_order(s, c, names)
    s.mysql("INSERT INTO blocked_keys (spki_sha256, reason, created) VALUES (UNHEX('%s'), "
            "'test', 0)" % spki_sha256(blocked_key))
    good_key = acme.generate_csr_key("ES256")

    def bad_signature():
        _, der = acme.make_csr(names, key=good_key)
        der = bytearray(der)
        der[-5] ^= 0x40  # inside the signature value
        return bytes(der)

    cases = [
        ("an extra name", lambda: acme.make_csr(names + ["evil.example.net"])[1], 400, "badCSR"),
        ("a missing name", lambda: acme.make_csr(names[:1])[1], 400, "badCSR"),
        ("an IP instead of a name", lambda: acme.make_csr([names[0], "10.0.0.1"])[1], 400,
         "badCSR"),
        ("no subjectAltName", lambda: acme.make_csr(names, cn=names[0], san=False)[1], 400,
         "badCSR"),
        ("CN not in the SAN", lambda: acme.make_csr(names, cn="other.example.com")[1], 400,
         "badCSR"),
        ("a bad signature", bad_signature, 400, "badCSR"),
        ("RSA 1024", lambda: acme.make_csr(names, "RSA1024")[1], 400, "badPublicKey"),
        ("RSA with e=3", lambda: acme.make_csr(names, "RSA2048-E3")[1], 400, "badPublicKey"),
        ("ECDSA P-521", lambda: acme.make_csr(names, "ES521")[1], 400, "badPublicKey"),
        ("Ed25519", lambda: acme.make_csr(names, "Ed25519")[1], 400, "badPublicKey"),
        ("the account's own key", lambda: acme.make_csr(names, key=c.key)[1], 400, "badCSR"),
        ("another account's key", lambda: acme.make_csr(names, key=other.key)[1], 400, "badCSR"),
        ("a blocked key", lambda: acme.make_csr(names, key=blocked_key)[1], 400,
         "badPublicKey"),
        ("a key on the weak-key list", lambda: acme.make_csr(names, key=weak_key)[1], 400,
         "badPublicKey"),
        ("not DER", lambda: b"not a certificate request", 400, "badCSR"),
    ]
    for name, build, status, typ in cases:
        r = c.finalize(finalize_url(s, oid), build())
        if not tap.ok(problem(r, status, typ), "CSR with %s: %d %s" % (name, status, typ)):
            tap.diag("got %d %s" % (r.status_code, r.text))
    r = c.post(finalize_url(s, oid), {"csr": "***"})
    tap.ok(problem(r, 400, "badCSR"), "csr not base64url: badCSR")
    r = c.post(finalize_url(s, oid), {})
    tap.ok(problem(r, 400, "malformed"), "no csr member: malformed")
    r = c.post(finalize_url(s, oid), {"csr": "A" * 40000})
    tap.ok(r.status_code in (400, 413) and r.status_code != 500, "an oversized csr is refused "
           "(%d)" % r.status_code)
    r = other.finalize(finalize_url(s, oid), acme.make_csr(names)[1])
    tap.ok(problem(r, 403, "unauthorized"), "another account's order: unauthorized")
    tap.is_(s.mysql_rows("SELECT status, csr IS NULL FROM orders WHERE id = %d" % oid),
            [["ready", "1"]], "after every rejection the order is still ready, no CSR stored")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM serials"), [["0"]], "no serial spent")

    # --- success: ECDSA P-256, two names ---
    key, csr = acme.make_csr(names, "ES256", cn=names[0])
    r = c.finalize(finalize_url(s, oid), csr)
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "valid"), "finalize: 200, order valid")
    tap.is_(r.headers.get("Location"), issuance.order_url(s, oid), "Location is the order URL")
    tap.is_(len(body.get("authorizations", [])), len(names),
            "the order object lists its authorizations")
    tap.is_(body.get("finalize"), finalize_url(s, oid), "and its finalize URL")
    cert_url = body.get("certificate", "")
    tap.ok(cert_url.startswith(s.base + "/acme/cert/42"),
           "certificate URL names a serial with the configured prefix byte: %s" % cert_url)
    serial = cert_url.rsplit("/", 1)[1]
    tap.ok(len(serial) == 34, "serial: prefix byte + 128 random bits (%d hex digits)"
           % len(serial))
    d = c.download(cert_url)
    tap.is_(d.status_code, 200, "download: 200")
    tap.ok(d.headers.get("Content-Type", "").startswith("application/pem-certificate-chain"),
           "download: application/pem-certificate-chain")
    blocks = issuance.split_pem(d.text)
    tap.is_(len(blocks), 2, "default chain: leaf and intermediate")
    ok, out = issuance.openssl_verify(s, d.text)
    tap.ok(ok, "openssl verify against the ceremony root: %s" % out.strip())
    cert = x509.load_pem_x509_certificate(blocks[0].encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    tap.is_(sorted(sans.get_values_for_type(x509.DNSName)), sorted(names), "SANs are the order's")
    tap.is_([a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)],
            [names[0]], "the CSR's CN (not the alphabetically first name) is kept")
    tap.ok(isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and
           cert.public_key().public_numbers() == key.public_key().public_numbers(),
           "the certificate holds the CSR's P-256 key")
    tap.is_("%x" % cert.serial_number, serial, "the URL's serial is the certificate's")
    rows = s.mysql_rows("SELECT c.account_id, c.order_id, c.issuer, c.profile, c.status, "
                        "HEX(c.spki_sha256), o.status, o.serial FROM certificates c JOIN orders o "
                        "ON o.id = c.order_id WHERE c.serial = '%s'" % serial)
    tap.is_(rows, [[str(issuance.account_id(c)), str(oid), "int-rsa", "rsa", "good",
                    spki_sha256(key).upper(), "valid", serial]],
            "stored: certificate row and the order valid with its serial")
    tap.is_(s.mysql_rows("SELECT order_id FROM serials WHERE serial = '%s'" % serial),
            [[str(oid)]], "the serial was recorded for the order")
    tap.is_(s.mysql_rows("SELECT kind, state FROM jobs WHERE ref_id = %d AND kind = 'finalize'"
                         % oid), [["finalize", "done"]], "the durable finalize job is done")
    # A retry whose first attempt committed (its answer lost): the same CSR gets the order.
    r = c.finalize(finalize_url(s, oid), csr)
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status"), body.get("certificate")),
            (200, "valid", cert_url), "finalize again with the same CSR: 200, the valid order")
    tap.ok(problem(c.finalize(finalize_url(s, oid), acme.make_csr(names)[1]), 403,
                   "orderNotReady"), "finalize again with another CSR: orderNotReady")
    tap.ok(problem(other.finalize(finalize_url(s, oid), csr), 403, "unauthorized"),
           "another account's retry with the same CSR: unauthorized")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM serials WHERE order_id = %d" % oid), [["1"]],
            "the retries spent no serial")

    # --- a pending order whose authorizations are all valid (certbot finalizes without
    # reading the order): ready and processing in finalize's one write; the answer is the
    # order object, byte for byte what a POST-as-GET of it answers ---
    pend = ["pending.example.com", "www.pending.example.com"]
    poid = ready_order(s, c, pend, status="pending", authz_status="valid")
    r = c.finalize(finalize_url(s, poid), acme.make_csr(pend)[1])
    tap.is_((r.status_code, r.json().get("status")), (200, "valid"),
            "stored pending, authorizations valid: finalize issues")
    g = c.get_order(issuance.order_url(s, poid))
    tap.is_(r.text, g.text, "finalize's answer is the order object a POST-as-GET answers")
    pd = c.download(r.json().get("certificate", ""))
    pc = x509.load_pem_x509_certificate(issuance.split_pem(pd.text)[0].encode()) \
        if pd.status_code == 200 else None
    tap.is_(pc and [a.value for a in pc.subject.get_attributes_for_oid(
        x509.NameOID.COMMON_NAME)], [sorted(pend)[0]],
        "a CSR without a CN: the CN is the order's first name")
    poid = ready_order(s, c, pend, status="pending", authz_status="pending")
    tap.ok(problem(c.finalize(finalize_url(s, poid), acme.make_csr(pend)[1]), 403,
                   "orderNotReady"), "an authorization still pending: orderNotReady")
    tap.is_(s.mysql_rows("SELECT status, csr IS NULL FROM orders WHERE id = %d" % poid),
            [["pending", "1"]], "and the order stays pending, no CSR stored")

    # --- alternate chain ---
    links = d.headers.get("Link", "")
    alt = cert_url + "/1"
    tap.ok('<%s>;rel="alternate"' % alt in links, "default chain links the alternate")
    d1 = c.download(alt)
    tap.is_((d1.status_code, len(issuance.split_pem(d1.text))), (200, 3),
            "alternate chain: leaf, intermediate, root")
    tap.ok('<%s>;rel="alternate"' % cert_url in d1.headers.get("Link", ""),
           "the alternate links the default")
    tap.is_(issuance.split_pem(d1.text)[0], blocks[0], "same leaf in both chains")
    tap.is_(c.download(cert_url + "/2").status_code, 404, "no third chain: 404")

    # --- download: only the owner, only POST-as-GET ---
    tap.ok(problem(other.download(cert_url), 403, "unauthorized"),
           "another account may not download it")
    tap.is_(c.session.get(cert_url, verify=s.ca_file).status_code, 405, "plain GET: 405")
    tap.is_(c.post(cert_url, {}).status_code, 400, "POST with a payload: 400")
    tap.is_(c.download(s.base + "/acme/cert/0123456789abcdef").status_code, 404,
            "unknown serial: 404")

    # --- RSA 2048, and an IP identifier with the internal profile ---
    rnames = ["rsa.example.org"]
    cert2, key2, pem2, _ = issuance.issue(s, c, rnames, key_type="RSA2048")
    tap.ok(isinstance(cert2.public_key(), rsa.RSAPublicKey) and cert2.public_key().key_size == 2048,
           "RSA 2048 certificate")
    tap.ok(issuance.openssl_verify(s, pem2, "v2")[0], "RSA certificate verifies")
    inames = ["host.corp.test", "10.1.2.3"]
    cert3, _, pem3, _ = issuance.issue(s, c, inames, profile="internal", key_type="ES384")
    san3 = cert3.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    tap.is_(([str(i) for i in san3.get_values_for_type(x509.IPAddress)],
             san3.get_values_for_type(x509.DNSName)), (["10.1.2.3"], ["host.corp.test"]),
            "internal profile: DNS and IP SANs")
    tap.ok(isinstance(cert3.public_key(), ec.EllipticCurvePublicKey) and
           cert3.public_key().curve.name == "secp384r1", "P-384 key")
    tap.ok(issuance.openssl_verify(s, pem3, "v3")[0], "internal certificate verifies")

    # --- a notBefore accepted at newOrder that aged past the backdating: a clear 400 before
    # any serial is spent, not the signer's refusal as a 500 (issue 12) ---
    oid = ready_order(s, c, ["old.example.com"], not_before=int(time.time()) - 3700)
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["old.example.com"])[1])
    tap.ok(problem(r, 400, "malformed") and "notBefore" in r.text,
           "a notBefore past the backdating by now: 400 malformed (%d)" % r.status_code)
    tap.is_(s.mysql_rows("SELECT status, (SELECT COUNT(*) FROM serials WHERE order_id = %d) "
                         "FROM orders WHERE id = %d" % (oid, oid)), [["ready", "0"]],
            "the order stays ready, no serial spent")
    oid = ready_order(s, c, ["soon.example.com"], not_before=int(time.time()) + 600)
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["soon.example.com"])[1])
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "valid"),
            "a notBefore 10 minutes ahead is signed")

    # --- a CT profile while CT is not available: invalid with a clear problem ---
    oid = ready_order(s, c, ["ct.example.com"], profile="default")
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["ct.example.com"])[1])
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "invalid"),
            "CT profile without CT: the order turns invalid")
    tap.ok("Certificate Transparency" in body.get("error", {}).get("detail", ""),
           "its error says why: %s" % body.get("error"))
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM serials WHERE order_id = %d" % oid), [["0"]],
            "no serial spent on it")

    # --- a reload reaches newOrder's profiles and finalize's alike: a worker holds one profile
    # set, its master's, parsed once per load of the file (fcgi/conf.h) ---
    import copy
    orig = copy.deepcopy(s.config)
    cfg = copy.deepcopy(s.config)
    cfg["profiles"]["rsa"]["key_types"] = ["rsa-2048", "rsa-3072", "rsa-4096"]
    cfg["acme"]["profile_descriptions"] = {"rsa": "RSA subject keys only"}
    s.write_config(cfg)
    s.reload_fcgi()

    def reloaded():
        # Several answers in a row: every worker serving is of the new generation.
        return all(c.directory(refresh=True)["meta"].get("profiles", {}).get("rsa") ==
                   "RSA subject keys only" for _ in range(6))
    proc.wait_for(reloaded, 20, 0.1, "the reloaded profiles in the directory")
    oid = ready_order(s, c, ["reload.example.com"])
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["reload.example.com"])[1])
    tap.ok(problem(r, 400, "badPublicKey"), "after the reload finalize refuses an ECDSA key of "
           "the profile that no longer accepts one: %d %s" % (r.status_code, r.text[:160]))
    oid = ready_order(s, c, ["reload-rsa.example.com"])
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["reload-rsa.example.com"],
                                                       key_type="RSA2048")[1])
    tap.is_((r.status_code, r.json().get("status")), (200, "valid"),
            "and issues for an RSA key")
    s.write_config(orig)
    s.reload_fcgi()
    proc.wait_for(lambda: all(c.directory(refresh=True)["meta"].get("profiles", {}).get("rsa")
                              != "RSA subject keys only" for _ in range(6)), 20, 0.1,
                  "the first configuration again")

    # --- the signer down: processing + Retry-After, the job durable, never a 500 ---
    s.stop_signer()
    oid = ready_order(s, c, ["later.example.com"])
    _, later_csr = acme.make_csr(["later.example.com"])
    r = c.finalize(finalize_url(s, oid), later_csr)
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "processing"),
            "signer down: 200 processing")
    tap.ok(r.headers.get("Retry-After", "").isdigit(), "with Retry-After")
    tap.is_(s.mysql_rows("SELECT o.status, o.csr IS NOT NULL, j.state FROM orders o JOIN jobs j "
                         "ON j.kind = 'finalize' AND j.ref_id = o.id WHERE o.id = %d" % oid),
            [["processing", "1", "queued"]], "CSR stored and the finalize job queued")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM serials WHERE order_id = %d" % oid), [["1"]],
            "its serial is recorded already, before any signature (reused when it finishes)")
    r = c.post_as_get(issuance.order_url(s, oid))
    tap.ok(r.status_code != 500, "polling the order is no 500 (%d)" % r.status_code)
    r = c.finalize(finalize_url(s, oid), later_csr)
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "processing"),
            "a retried finalize of the processing order, same CSR: 200 processing")
    tap.ok(r.headers.get("Retry-After", "").isdigit(), "with Retry-After")
    tap.ok(problem(c.finalize(finalize_url(s, oid), acme.make_csr(["later.example.com"])[1]),
                   403, "orderNotReady"), "another CSR: orderNotReady")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM serials WHERE order_id = %d" % oid), [["1"]],
            "the retry recorded no second serial")

    # --- the issuance keys are validated with the rest of the file (--check) ---
    import copy
    import json
    for name, acme_over, key in (
            ("serial_prefix 0", {"serial_prefix": 0}, "acme.serial_prefix"),
            ("serial_prefix 256", {"serial_prefix": 256}, "acme.serial_prefix"),
            ("finalize_budget_ms a string", {"finalize_budget_ms": "2s"},
             "acme.finalize_budget_ms"),
            ("alternate chains of an unknown issuer", {"alternate_chains": {"nope": ["/x.pem"]}},
             "acme.alternate_chains.nope"),
            ("a relative weak_keys_file", {"weak_keys_file": "weak.txt"}, "acme.weak_keys_file"),
            # Below what issuance needs (a default notBefore lies 60 s before the serial's
            # record): every issuance would fail at the signer.
            ("backdate_seconds 59", {"profiles": {"rsa": {"backdate_seconds": 59}}},
             "profiles.rsa.backdate_seconds")):
        bad = copy.deepcopy(s.config)
        for k, val in acme_over.get("profiles", {}).items():
            bad["profiles"][k].update(val)
        acme_over = {k: val for k, val in acme_over.items() if k != "profiles"}
        bad["acme"].update(acme_over)
        path = os.path.join(s.dir, "bad.json")
        with open(path, "w") as f:
            json.dump(bad, f)
        r = proc.run([proc.builddir_path("fcgi", "anvil-fcgi"), "-c", path, "--check"],
                     check=False)
        out = r.stdout.decode("utf-8", "replace")
        if not tap.ok(r.returncode != 0 and key in out, "--check refuses %s, naming %s"
                      % (name, key)):
            tap.diag(out)
    issuance.check_sanitizers(s)


tap.run(main)
