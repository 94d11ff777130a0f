#!/usr/bin/python3
"""anvil-signer with SoftHSM2 signs every kind; OpenSSL parses and verifies each against the
chain the ceremony wrote; the ceremony is idempotent and refuses to overwrite; a retry gets the
same bytes; --check names a bad key; the PIN never appears in any output."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402


def openssl(*args, check=False):
    r = proc.run(["openssl"] + list(args), check=check)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def main():
    proc.alarm(120)
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm)
    outputs = []
    out = signer.ceremony(t, conf, hsm)
    outputs.append(out)
    pki = os.path.join(t, "pki")
    tap.ok(all(os.path.exists(os.path.join(pki, f)) for f in
               ("root.pem", "int-ec.pem", "int-ec-chain.pem", "int-rsa.pem",
                "int-internal.pem")), "ceremony wrote the root, intermediates and chains")
    rc, txt = openssl("verify", "-CAfile", pki + "/root.pem", pki + "/int-ec.pem")
    tap.ok(rc == 0, "intermediate verifies against the root")
    rc, txt = openssl("x509", "-in", pki + "/int-internal.pem", "-noout", "-text")
    tap.ok("Permitted:" in txt and "corp.test" in txt,
           "the internal intermediate carries name constraints")
    before = open(pki + "/int-ec.pem").read()
    out2 = signer.ceremony(t, conf, hsm)
    outputs.append(out2)
    tap.ok("exists and matches; kept" in out2 and open(pki + "/int-ec.pem").read() == before,
           "a second ceremony keeps keys and files")
    os.rename(pki + "/int-rsa.pem", pki + "/int-rsa.pem.keep")
    with open(pki + "/int-rsa.pem", "w") as f:
        f.write(before)
    r = signer.anvilctl(t, conf, hsm, "init", check=False)
    outputs.append(r.stdout.decode())
    tap.ok(r.returncode != 0 and b"refusing to overwrite" in r.stdout and
           open(pki + "/int-rsa.pem").read() == before,
           "a certificate that does not match its key is refused, not overwritten")
    os.replace(pki + "/int-rsa.pem.keep", pki + "/int-rsa.pem")

    # --check: valid, then an unknown key named with its dotted path.
    cfg = signer.write_config(t, conf, "check.json")
    r = proc.run([proc.builddir_path("ca", "anvil-signer"), "-c", cfg, "--check"], check=False)
    tap.is_(r.returncode, 0, "--check accepts the config")
    bad = dict(conf, profiles=dict(conf["profiles"]))
    bad["profiles"]["default"] = dict(conf["profiles"]["default"], validty_days=3)
    cfg = signer.write_config(t, bad, "bad.json")
    r = proc.run([proc.builddir_path("ca", "anvil-signer"), "-c", cfg, "--check"], check=False)
    tap.ok(r.returncode != 0 and b"profiles.default.validty_days: unknown key" in r.stdout,
           "--check names an unknown key")

    p, sock = signer.start_signer(t, conf, hsm)
    c = signer.Client(sock)
    now = int(time.time())
    serial = signer.new_serial()
    spki = signer.spki_der()
    ids = [("dns", "www.example.com"), ("dns", "example.com")]
    st, _, pre = c.precert("default", serial, spki, ids, now, now + 90 * 86400 - 1)
    tap.is_(signer.AE_NAME.get(st), "OK", "precertificate signed")
    with open(t + "/pre.der", "wb") as f:
        f.write(pre)
    rc, txt = openssl("x509", "-inform", "DER", "-in", t + "/pre.der", "-noout", "-text")
    tap.ok(rc == 0 and "CT Precertificate Poison: critical" in txt and "CA:FALSE" in txt and
           "DNS:www.example.com, DNS:example.com" in txt and "OCSP - URI:http://ocsp.pki.test/"
           in txt and "CA Issuers - URI:http://pki.test/int-ec.der" in txt and
           "Policy: 2.23.140.1.2.1" in txt and ".crl" in txt and
           "Authority Key Identifier" in txt and "Subject Key Identifier" in txt,
           "precertificate has SAN, KU/EKU, CA:FALSE, AIA, CRL DP, policy, SKI/AKI, poison")
    st2, _, pre2 = c.precert("default", serial, spki, ids, now, now + 90 * 86400 - 1)
    tap.ok(st2 == 0 and pre2 == pre, "a retry of the same precertificate gets the same bytes")

    sct = signer.fake_sct_list()
    st, _, cert = c.cert("default", serial, spki, ids, now, now + 90 * 86400 - 1, sct=sct)
    tap.is_(signer.AE_NAME.get(st), "OK", "certificate with SCT list signed")
    with open(t + "/cert.pem", "wb") as f:
        f.write(proc.run(["openssl", "x509", "-inform", "DER", "-outform", "PEM"],
                         input=cert).stdout)
    rc, txt = openssl("x509", "-in", t + "/cert.pem", "-noout", "-text")
    tap.ok("CT Precertificate SCTs" in txt and "Poison" not in txt,
           "certificate carries the SCT list and no poison")
    rc, txt = openssl("verify", "-CAfile", pki + "/root.pem", "-untrusted", pki + "/int-ec.pem",
                      t + "/cert.pem")
    tap.ok(rc == 0 and "OK" in txt, "certificate verifies against the ceremony chain")
    if rc != 0:
        tap.diag(txt)

    # RSA issuer, no CT: a certificate straight away.
    s2 = signer.new_serial()
    st, _, rcert = c.cert("rsa", s2, signer.spki_der("rsa2048"), [("dns", "rsa.example.net")],
                          now, now + 30 * 86400)
    with open(t + "/rsa.der", "wb") as f:
        f.write(rcert)
    proc.run(["openssl", "x509", "-inform", "DER", "-in", t + "/rsa.der", "-out",
              t + "/rsa.pem"], check=False)
    rc, txt = openssl("verify", "-CAfile", pki + "/root.pem", "-untrusted",
                      pki + "/int-rsa.pem", t + "/rsa.pem")
    _, txt2 = openssl("x509", "-in", t + "/rsa.pem", "-noout", "-text")
    tap.ok(st == 0 and rc == 0 and "sha256WithRSAEncryption" in txt2 and
           "Key Encipherment" in txt2, "RSA-2048 issuer signs; RSA subject gets keyEncipherment")

    # Internal profile: no CT, name-constrained intermediate, IP inside its range.
    s3 = signer.new_serial()
    st, _, icert = c.cert("internal", s3, signer.spki_der("ec384"),
                          [("dns", "*.svc.corp.test"), ("ip", "10.1.2.3")], now, now + 86400)
    with open(t + "/int.der", "wb") as f:
        f.write(icert)
    proc.run(["openssl", "x509", "-inform", "DER", "-in", t + "/int.der", "-out",
              t + "/int.pem"], check=False)
    rc, txt = openssl("verify", "-CAfile", pki + "/root.pem", "-untrusted",
                      pki + "/int-internal.pem", t + "/int.pem")
    tap.ok(st == 0 and rc == 0, "internal profile certificate verifies under name constraints")
    _, txt = openssl("x509", "-in", t + "/int.pem", "-noout", "-text")
    tap.ok("TLS Web Client Authentication" in txt and "IP Address:10.1.2.3" in txt,
           "internal profile: clientAuth EKU and an IP SAN")

    # OCSP: good and revoked, verified by openssl ocsp against the issuer.
    for status, word in ((0, "good"), (1, "revoked")):
        st, _, resp = c.ocsp("int-ec", serial, status=status,
                             revoked_at=now - 10 if status else 0, reason=1 if status else 0xff)
        with open(t + "/ocsp.der", "wb") as f:
            f.write(resp)
        rc, txt = openssl("ocsp", "-respin", t + "/ocsp.der", "-issuer", pki + "/int-ec.pem",
                          "-cert", t + "/cert.pem", "-VAfile", pki + "/int-ec.pem",
                          "-CAfile", pki + "/root.pem")
        tap.ok(st == 0 and "Response verify OK" in txt and ("cert.pem: " + word) in
               txt.replace(t + "/", ""), "OCSP response (%s) verifies" % word)
        if not ("Response verify OK" in txt):
            tap.diag(txt)

    # CRL with two entries and an issuing distribution point.
    st, _, crl = c.crl("int-ec", 17, [(serial, now - 100, 1), (s3, now - 50, 0xff)],
                       idp="http://pki.test/crl/int-ec/0.crl")
    with open(t + "/crl.der", "wb") as f:
        f.write(crl)
    rc, txt = openssl("crl", "-inform", "DER", "-in", t + "/crl.der", "-CAfile",
                      pki + "/int-ec-chain.pem", "-noout", "-text")
    tap.ok(st == 0 and rc == 0 and "verify OK" in txt and "X509v3 CRL Number:" in txt and
           "Key Compromise" in txt and "Issuing Distribution Point"
           in txt, "CRL verifies, with number, reasons and IDP")
    if rc != 0:
        tap.diag(txt)

    # bench-signer end to end (raw PKCS#11, the daemon through ca/client.c, whole issuances):
    # a smoke run, not a timed assertion.
    r = signer.anvilctl(t, conf, hsm, "bench-signer", "-s", "1", "-n", "1", "-R", "1", "-C", "2",
                        "-i", "int-ec", check=False)
    out = r.stdout.decode("utf-8", "replace")
    outputs.append(out)
    tap.ok(r.returncode == 0 and "# 1. raw PKCS#11" in out and "# 2. through the daemon" in out
           and "# 3. whole issuances" in out and "(errors)" not in out and "resident memory"
           in out, "anvilctl bench-signer runs all three parts against the daemon")
    if r.returncode != 0 or "(errors)" in out:
        tap.diag(out)

    st = c.stats()
    tap.ok(st is not None and st["signed"] >= 7 and st["sessions_up"] == 2, "stats answer")
    c.close()
    rc = p.stop()
    log = p.log_text()
    tap.ok(rc == 0 and "Sanitizer" not in log and "runtime error" not in log,
           "SIGTERM: the signer stops cleanly, no sanitizer report")
    tap.ok(log.count("event=sign what=") >= 7 and "requester_uid=" in log and "duration_us=" in
           log and 'profile="default"' in log, "an audit line for every signature")
    outputs.append(log)

    # The PIN from an environment variable (free-form, USER:PASSWORD shape) works; a wrong one
    # stops the start with the PKCS#11 code, never the PIN.
    envconf = dict(conf, signer=dict(conf["signer"], pin={"env": "ANVIL_TEST_PIN"}))
    p2, sock2 = signer.start_signer(t, envconf, hsm, env=dict(os.environ, ANVIL_TEST_PIN=hsm.pin),
                                    log=os.path.join(t, "signer-env.log"))
    tap.ok(signer.Client(sock2).health()[0] == 0, "PIN from an environment variable")
    p2.stop()
    outputs.append(p2.log_text())
    wrong = "crypto-user:wrong-" + hsm.pin[-6:]
    badconf = dict(conf, signer=dict(conf["signer"], pin=wrong))
    p3, _ = signer.start_signer(t, badconf, hsm, wait=False, log=os.path.join(t, "signer-bad.log"))
    proc.wait_for(lambda: not p3.alive(), 30, what="signer exit on a wrong PIN")
    log3 = p3.log_text()
    tap.ok(p3.p.returncode != 0 and "event=hsm_login result=failed rv=0xa0" in log3 and
           wrong not in log3, "a wrong PIN stops the start with CKR_PIN_INCORRECT, unechoed")
    outputs.append(log3)
    tap.ok(all(hsm.pin not in o for o in outputs) and hsm.pin.split(":")[1] not in log,
           "the PIN appears in no output")


tap.run(main)
