#!/usr/bin/python3
"""certbot (Debian) gets real certificates from the whole stack over http-01 (--standalone on
the port anvil-jobs validates): an ECDSA certificate for two names and an RSA one; each is
checked with `openssl verify` against the ceremony root (with certbot's chain.pem as the
intermediates), for its SANs and its key type. `certbot renew --force-renewal` gives the ECDSA
lineage a new certificate with a new serial and a new key; `certbot revoke --reason
keycompromise` revokes the RSA one and the database records it (status revoked, reason 1);
renewing it with the same key (--reuse-key) is then refused (badPublicKey: the key is blocked)."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import issuance  # noqa: E402
from stack import start_or_skip  # noqa: E402



def run(argv, env=None, timeout=60):
    return proc.run_client(argv, env, timeout)


def load(path):
    from cryptography import x509
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def sans(cert):
    from cryptography import x509
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return sorted(ext.value.get_values_for_type(x509.DNSName))


def check_cert(s, live, names, key_kind, what):
    """openssl verify (root = the ceremony root, chain.pem untrusted), SANs, key type; returns
    the certificate or None."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    cert_pem, chain_pem = os.path.join(live, "cert.pem"), os.path.join(live, "chain.pem")
    if not tap.ok(os.path.exists(cert_pem) and os.path.exists(chain_pem),
                  "%s: cert.pem and chain.pem saved" % what):
        return None
    r = proc.run(["openssl", "verify", "-CAfile", s.config["issuers"]["root"]["cert"],
                  "-untrusted", chain_pem, cert_pem], check=False)
    if not tap.is_(r.returncode, 0, "%s: openssl verify against the ceremony root" % what):
        tap.diag(r.stdout.decode("utf-8", "replace"))
    cert = load(cert_pem)
    tap.is_(sans(cert), sorted(names), "%s: SANs" % what)
    pub = cert.public_key()
    if key_kind == "ec":
        tap.ok(isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1",
               "%s: P-256 key" % what)
    else:
        tap.ok(isinstance(pub, rsa.RSAPublicKey) and pub.key_size == 2048,
               "%s: RSA 2048 key" % what)
    row = s.mysql_rows("SELECT status FROM certificates WHERE serial = '%s'"
                       % issuance.serial_hex(cert))
    tap.is_(row, [["good"]], "%s: stored, good" % what)
    return cert


def main():
    proc.alarm(110)
    exe = shutil.which("certbot")
    if not exe:
        tap.skip_all("certbot not installed (Debian package certbot)")
    port = proc.free_port()
    # The signer's "default" profile asks for CT (this stack runs no CT logs): a CT-less one.
    s = start_or_skip(workers=2, signer=True, jobs={"validation": {"http01_port": port}},
                      config={"acme": {"default_profile": "e2e"},
                              "profiles": {"e2e": {"issuer": "int-ec", "validity_days": 90,
                                                   "ct": False}}})
    work = os.path.join(s.dir, "certbot")
    cfg = os.path.join(work, "config")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=s.ca_file)
    common = ["--server", s.directory_url, "--config-dir", cfg,
              "--work-dir", os.path.join(work, "work"), "--logs-dir", os.path.join(work, "logs"),
              "--non-interactive"]

    def certbot(args, name):
        r = run([exe] + args + common, env)
        if not tap.is_(r.returncode, 0, "certbot %s" % name):
            tap.diag(r.stdout[-3000:])
            log = os.path.join(work, "logs", "letsencrypt.log")
            if os.path.exists(log):
                with open(log) as f:
                    tap.diag(f.read()[-5000:])
        return r.returncode == 0

    standalone = ["certonly", "--standalone", "--http-01-port", str(port),
                  "--http-01-address", "127.0.0.1", "--agree-tos", "--no-eff-email",
                  "-m", "e2e@example.org"]

    # --- ECDSA, two names ---
    ec_names = ["a.example.test", "b.example.test"]
    certbot(standalone + ["--cert-name", "ec", "--key-type", "ecdsa",
                          "--elliptic-curve", "secp256r1", "-d", ec_names[0], "-d", ec_names[1]],
            "certonly --key-type ecdsa (2 names)")
    ec_cert = check_cert(s, os.path.join(cfg, "live", "ec"), ec_names, "ec", "ECDSA")

    # --- RSA ---
    rsa_names = ["rsa.example.test"]
    certbot(standalone + ["--cert-name", "rsa", "--key-type", "rsa", "--rsa-key-size", "2048",
                          "-d", rsa_names[0]], "certonly --key-type rsa")
    rsa_cert = check_cert(s, os.path.join(cfg, "live", "rsa"), rsa_names, "rsa", "RSA")

    # --- renew --force-renewal: a new certificate, a new serial ---
    if ec_cert is not None:
        certbot(["renew", "--force-renewal", "--no-random-sleep-on-renew", "--cert-name", "ec"],
                "renew --force-renewal")
        new = check_cert(s, os.path.join(cfg, "live", "ec"), ec_names, "ec", "renewed ECDSA")
        if new is not None:
            tap.ok(new.serial_number != ec_cert.serial_number,
                   "renewal: new serial (%x -> %x)" % (ec_cert.serial_number, new.serial_number))
            tap.ok(new.public_key().public_numbers() != ec_cert.public_key().public_numbers(),
                   "renewal: new key")
        accounts = s.mysql_rows("SELECT COUNT(DISTINCT account_id), COUNT(*) FROM certificates")
        tap.is_(accounts, [["1", "3"]], "three certificates, all for certbot's one account")

    # --- revoke with a reason ---
    if rsa_cert is not None:
        certbot(["revoke", "--cert-path", os.path.join(cfg, "live", "rsa", "cert.pem"),
                 "--reason", "keycompromise", "--no-delete-after-revoke"],
                "revoke --reason keycompromise")
        row = s.mysql_rows("SELECT status, revoked_reason, revoked_at IS NOT NULL FROM "
                           "certificates WHERE serial = '%s'" % issuance.serial_hex(rsa_cert))
        tap.is_(row, [["revoked", "1", "1"]], "revoked, reason keyCompromise (1), time recorded")
        if ec_cert is not None:
            row = s.mysql_rows("SELECT status FROM certificates WHERE serial = '%s'"
                               % issuance.serial_hex(ec_cert))
            tap.is_(row, [["good"]], "the other certificates stay good")
        # The compromised key is blocked: renewing with the same key is refused.
        r = run([exe, "renew", "--force-renewal", "--no-random-sleep-on-renew", "--reuse-key",
                 "--cert-name", "rsa"] + common, env)
        tap.ok(r.returncode != 0, "renew --reuse-key with the compromised key fails")
        with open(os.path.join(work, "logs", "letsencrypt.log")) as f:
            log = f.read()
        tap.ok("badPublicKey" in log, "certbot was told badPublicKey")
        n = s.mysql_rows("SELECT COUNT(*) FROM certificates")
        tap.is_(n, [["3"]], "no certificate issued for the blocked key")


if __name__ == "__main__":
    tap.run(main)
