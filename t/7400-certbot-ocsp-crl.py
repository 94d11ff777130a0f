#!/usr/bin/python3
"""What a relying party sees, end to end, with certbot and OpenSSL: a certificate certbot got
answers `good` at the OCSP URL of its AIA, over POST and GET, for CertIDs hashed with SHA-1 and
SHA-256, each response verified against the chain; its CRL distribution point serves a CRL that
verifies and does not list it. After `certbot revoke --reason keycompromise`, the OCSP URL answers
`revoked` (reason keyCompromise) and the CRL lists it, within ocsp.revocation_bound_seconds."""
import base64
import os
import shutil
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

BOUND = 60



def run(argv, env=None, timeout=60):
    return proc.run_client(argv, env, timeout)


def urls(cert_pem):
    """(OCSP URL, CRL URL) of a certificate."""
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID
    with open(cert_pem, "rb") as f:
        c = x509.load_pem_x509_certificate(f.read())
    aia = c.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ocsp = [d.access_location.value for d in aia
            if d.access_method == AuthorityInformationAccessOID.OCSP]
    cdp = c.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    crl = [n.value for dp in cdp for n in (dp.full_name or [])]
    return (ocsp[0] if ocsp else None), (crl[0] if crl else None)


class RelyingParty:
    def __init__(self, tmp, root, chain, cert):
        self.tmp, self.root, self.chain, self.cert = tmp, root, chain, cert

    def post(self, url, digest):
        """openssl ocsp over POST: (status line for the certificate, verified?, output)."""
        r = run(["openssl", "ocsp", "-" + digest, "-issuer", self.chain, "-cert", self.cert,
                 "-url", url, "-CAfile", self.root, "-no_nonce"])
        return self._status(r.stdout), "Response verify OK" in r.stdout, r.stdout

    def get(self, url, digest):
        """RFC 6960 Appendix A GET of a request made by openssl, then the response checked
        with openssl: (status line, verified?, output, HTTP response)."""
        import requests
        req = os.path.join(self.tmp, "req-%s.der" % digest)
        resp = os.path.join(self.tmp, "resp-%s.der" % digest)
        run(["openssl", "ocsp", "-" + digest, "-issuer", self.chain, "-cert", self.cert,
             "-no_nonce", "-reqout", req])
        with open(req, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        # Every '/', '+' and '=' percent-encoded, as many clients do.
        h = requests.get(url.rstrip("/") + "/" + urllib.parse.quote(b64, safe=""), timeout=10)
        with open(resp, "wb") as f:
            f.write(h.content)
        r = run(["openssl", "ocsp", "-" + digest, "-respin", resp, "-issuer", self.chain,
                 "-cert", self.cert, "-CAfile", self.root])
        return self._status(r.stdout), "Response verify OK" in r.stdout, r.stdout, h

    def crl(self, url):
        """Fetches the CRL: (verified?, text of `openssl crl -text`)."""
        import requests
        h = requests.get(url, timeout=10)
        path = os.path.join(self.tmp, "shard.crl")
        with open(path, "wb") as f:
            f.write(h.content)
        ca = os.path.join(self.tmp, "crl-ca.pem")
        with open(ca, "w") as f:
            f.write(open(self.chain).read() + open(self.root).read())
        r = run(["openssl", "crl", "-inform", "DER", "-in", path, "-CAfile", ca, "-verify",
                 "-noout", "-text"])
        return r.returncode == 0 and "verify OK" in r.stdout, r.stdout, h

    def _status(self, out):
        for line in out.splitlines():
            if line.startswith(self.cert + ":"):
                return line.split(":", 1)[1].strip()
        return None


def main():
    proc.alarm(170)
    exe = shutil.which("certbot")
    if not exe:
        tap.skip_all("certbot not installed (Debian package certbot)")
    port = proc.free_port()
    s = start_or_skip(workers=2, signer=True, jobs={"validation": {"http01_port": port}},
                      config={"acme": {"default_profile": "e2e"},
                              "ocsp": {"revocation_bound_seconds": BOUND},
                              "profiles": {"e2e": {"issuer": "int-ec", "validity_days": 90,
                                                   "ct": False}}})
    work = os.path.join(s.dir, "certbot")
    cfg = os.path.join(work, "config")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=s.ca_file)
    common = ["--server", s.directory_url, "--config-dir", cfg,
              "--work-dir", os.path.join(work, "work"), "--logs-dir", os.path.join(work, "logs"),
              "--non-interactive"]
    r = run([exe, "certonly", "--standalone", "--http-01-port", str(port),
             "--http-01-address", "127.0.0.1", "--agree-tos", "--no-eff-email",
             "-m", "rp@example.org", "--cert-name", "rp", "-d", "rp.example.test"] + common, env)
    if not tap.is_(r.returncode, 0, "certbot certonly"):
        tap.diag(r.stdout[-3000:])
        return
    live = os.path.join(cfg, "live", "rp")
    cert = os.path.join(live, "cert.pem")
    rp = RelyingParty(s.dir, s.config["issuers"]["root"]["cert"], os.path.join(live, "chain.pem"),
                      cert)
    ocsp_url, crl_url = urls(cert)
    tap.ok(ocsp_url and crl_url, "the certificate names an OCSP URL (%s) and a CRL (%s)"
           % (ocsp_url, crl_url))

    for digest in ("sha1", "sha256"):
        st, ok, out = rp.post(ocsp_url, digest)
        if not tap.is_(st, "good", "OCSP POST, %s CertID: good" % digest):
            tap.diag(out)
        tap.ok(ok, "OCSP POST, %s CertID: response verifies against the chain" % digest)
        st, ok, out, h = rp.get(ocsp_url, digest)
        if not tap.is_(st, "good", "OCSP GET, %s CertID: good" % digest):
            tap.diag(out)
        tap.ok(ok, "OCSP GET, %s CertID: response verifies" % digest)
        tap.is_(h.headers.get("Content-Type"), "application/ocsp-response",
                "OCSP GET: Content-Type")
    ok, text, h = rp.crl(crl_url)
    tap.ok(ok, "the CRL at the CRL distribution point verifies against the chain")
    serial = "%X" % int(run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout
                        .strip().split("=", 1)[1], 16)
    tap.ok(serial not in text.replace(":", "").upper(), "the CRL does not list the certificate")

    r = run([exe, "revoke", "--cert-path", cert, "--reason", "keycompromise",
             "--no-delete-after-revoke"] + common, env)
    revoked_at = time.time()
    if not tap.is_(r.returncode, 0, "certbot revoke --reason keycompromise"):
        tap.diag(r.stdout[-3000:])
        return

    def published():
        st, ok, _ = rp.post(ocsp_url, "sha1")
        if not (st or "").startswith("revoked"):
            return None
        crl_ok, text, _ = rp.crl(crl_url)
        return (st, text) if serial in text.replace(":", "").upper() else None
    try:
        st, text = proc.wait_for(published, BOUND + 30, 0.5, "revocation published")
        took = time.time() - revoked_at
    except TimeoutError:
        st, text, took = None, "", None
    tap.ok(took is not None and took <= BOUND,
           "revocation published to OCSP and the CRL within %d s (took %s s)"
           % (BOUND, "%.1f" % took if took is not None else "more than %d" % (BOUND + 30)))
    st, ok, out = rp.post(ocsp_url, "sha256")
    tap.ok((st or "").startswith("revoked"), "OCSP POST, sha256 CertID: revoked")
    tap.ok("Reason: keyCompromise" in out, "OCSP: reason keyCompromise")
    st, ok, out, _ = rp.get(ocsp_url, "sha1")
    tap.ok((st or "").startswith("revoked") and ok, "OCSP GET: revoked, verified")
    ok, text, h = rp.crl(crl_url)
    tap.ok(ok, "the new CRL verifies")
    tap.ok("Key Compromise" in text, "the CRL entry carries reason Key Compromise")
    tap.is_(h.headers.get("Content-Type"), "application/pkix-crl", "CRL Content-Type")


if __name__ == "__main__":
    tap.run(main)
