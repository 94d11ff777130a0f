#!/usr/bin/python3
"""A delegated OCSP responder per issuer (issue 10 item 7, optional part): the ceremony makes a
responder key on the token and a short-lived certificate issued by the intermediate (end entity,
digitalSignature, id-kp-OCSPSigning, ocsp-nocheck), keeps it while it has more than a third of
its life left; the signer then signs that issuer's OCSP responses with the responder key and
sends the responder certificate along, so `openssl ocsp` verifies them through the delegation;
an issuer without a responder still signs its responses itself, with no certificate attached.
Bad configurations are named."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return r.returncode, r.stdout


def main():
    proc.alarm(150)
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm)
    pki = os.path.join(t, "pki")
    rpath = pki + "/int-ec-ocsp.pem"
    conf["issuers"]["int-ec"].update({"ocsp_responder_key_label": "anvil-int-ec-ocsp",
                                      "ocsp_responder_cert": rpath,
                                      "ocsp_responder_days": 7})
    out = signer.ceremony(t, conf, hsm)
    tap.ok("wrote %s (OCSP responder of int-ec, 7 days)" % rpath in out,
           "the ceremony issues the responder certificate") or tap.diag(out)
    rc_ = x509.load_pem_x509_certificate(open(rpath, "rb").read())
    ica = x509.load_pem_x509_certificate(open(pki + "/int-ec.pem", "rb").read())
    eku = rc_.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    tap.ok(list(eku) == [x509.oid.ExtendedKeyUsageOID.OCSP_SIGNING], "EKU id-kp-OCSPSigning")
    tap.ok(rc_.extensions.get_extension_for_class(x509.OCSPNoCheck) is not None, "ocsp-nocheck")
    bc = rc_.extensions.get_extension_for_class(x509.BasicConstraints)
    ku = rc_.extensions.get_extension_for_class(x509.KeyUsage).value
    tap.ok(bc.critical and not bc.value.ca and ku.digital_signature and not ku.key_cert_sign,
           "an end entity for signatures only")
    tap.is_(rc_.issuer, ica.subject, "issued by the intermediate")
    na = getattr(rc_, "not_valid_after_utc", None) or rc_.not_valid_after
    nb = getattr(rc_, "not_valid_before_utc", None) or rc_.not_valid_before
    days = (na - nb).total_seconds() / 86400
    tap.ok(6.9 < days < 7.1, "valid ocsp_responder_days (%.2f days)" % days)
    rc, txt = openssl("verify", "-CAfile", pki + "/root.pem", "-untrusted", pki + "/int-ec.pem",
                      "-purpose", "ocsphelper", rpath)
    tap.is_(rc, 0, "it chains to the root") or tap.diag(txt)
    before = open(rpath).read()
    out = signer.ceremony(t, conf, hsm)
    tap.ok("is valid; kept" in out and open(rpath).read() == before,
           "run again: the valid certificate is kept") or tap.diag(out)

    p, sock = signer.start_signer(t, conf, hsm)
    c = signer.Client(sock)
    now = int(time.time())
    serial = signer.new_serial()
    spki = signer.spki_der()
    ids = [("dns", "ocsp.example.com")]
    tap.is_(c.precert("default", serial, spki, ids, now, now + 86400)[0], 0, "precertificate")
    st, _, der = c.cert("default", serial, spki, ids, now, now + 86400,
                        sct=signer.fake_sct_list())
    tap.is_(st, 0, "certificate")
    with open(t + "/leaf.pem", "wb") as f:
        f.write(x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM))
    st, _, resp = c.ocsp("int-ec", serial, next_update=now + 86400)
    tap.is_(st, 0, "OCSP signed")
    with open(t + "/resp.der", "wb") as f:
        f.write(resp)
    r = ocsp.load_der_ocsp_response(resp)
    tap.ok(len(r.certificates) == 1 and r.certificates[0] == rc_,
           "the responder certificate rides along")
    rc, txt = openssl("ocsp", "-respin", t + "/resp.der", "-issuer", pki + "/int-ec.pem",
                      "-cert", t + "/leaf.pem", "-CAfile", pki + "/root.pem",
                      "-verify_other", pki + "/int-ec.pem")
    tap.ok(rc == 0 and "Response verify OK" in txt and "leaf.pem: good" in txt,
           "openssl ocsp verifies it through the delegation") or tap.diag(txt)
    # The freshness check accepts the delegation too (files only: no database here).
    odir = os.path.join(t, "ocsp", "int-ec")
    os.makedirs(odir)
    with open(os.path.join(odir, serial.hex()), "wb") as f:
        f.write(resp)
    conf["ocsp"] = {"dir": os.path.join(t, "ocsp")}
    r = signer.anvilctl(t, conf, hsm, "check-freshness", "--no-db", "--issuer", "int-ec",
                        check=False)
    out = r.stdout.decode()
    tap.ok(r.returncode == 0 and "ocsp_files=1 " in out,
           "anvilctl check-freshness verifies a delegated response") or tap.diag(out)
    with open(os.path.join(odir, serial.hex()), "wb") as f:
        f.write(resp[:-1] + bytes([resp[-1] ^ 1]))
    r = signer.anvilctl(t, conf, hsm, "check-freshness", "--no-db", "--issuer", "int-ec",
                        check=False)
    tap.ok(r.returncode == 2 and b"signature does not verify" in r.stdout,
           "... and refuses a broken one") or tap.diag(r.stdout.decode())
    del conf["ocsp"]
    # An issuer without a responder signs itself and attaches nothing.
    s2 = signer.new_serial()
    tap.is_(c.cert("rsa", s2, spki, [("dns", "a.example.org")], now, now + 86400)[0], 0,
            "no-CT certificate by int-rsa")
    st, _, resp2 = c.ocsp("int-rsa", s2, next_update=now + 86400)
    r2 = ocsp.load_der_ocsp_response(resp2)
    tap.ok(st == 0 and len(r2.certificates) == 0, "int-rsa: signed by the issuer, no certificate")
    c.close()
    p.stop()

    # Configuration mistakes are named.
    def check(mutate):
        import copy
        cf = copy.deepcopy(conf)
        mutate(cf)
        path = signer.write_config(t, cf, "bad.json")
        r = subprocess.run([proc.builddir_path("ca", "anvil-signer"), "-c", path, "--check"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=hsm.env())
        return r.returncode, r.stdout.decode()
    rc, txt = check(lambda cf: cf["issuers"]["int-ec"].pop("ocsp_responder_cert"))
    tap.ok(rc != 0 and "issuers.int-ec.ocsp_responder_cert" in txt,
           "a responder key without its certificate path") or tap.diag(txt)
    rc, txt = check(lambda cf: cf["issuers"]["root"].update(
        {"ocsp_responder_key_label": "x", "ocsp_responder_cert": "/nonexistent"}))
    tap.ok(rc != 0 and "issuers.root.ocsp_responder_key_label" in txt,
           "a root with a responder") or tap.diag(txt)
    rc, txt = check(lambda cf: cf["issuers"]["int-ec"].update(
        {"ocsp_responder_key_label": "anvil-int-ec"}))
    tap.ok(rc != 0 and "must differ from key_label" in txt,
           "the responder sharing the issuer's key") or tap.diag(txt)
    # A signer whose responder certificate is gone does not start, and says which key.
    os.rename(rpath, rpath + ".away")
    p2 = proc.Proc([proc.builddir_path("ca", "anvil-signer"), "-c",
                    signer.write_config(t, conf, "signer.json")], t + "/signer2.log",
                   env=hsm.env())
    proc.wait_for(lambda: not p2.alive(), 30, 0.1, "the signer to refuse to start")
    tap.ok("issuers.int-ec.ocsp_responder_cert" in p2.log_text(),
           "a missing responder certificate stops the signer, naming the key") \
        or tap.diag(p2.log_text())


tap.run(main)
