#!/usr/bin/python3
"""uacme and dehydrated (Debian) get real certificates from the whole stack through their hook
scripts.

- uacme, http-01: its hook writes the key authorization into a webroot that a small HTTP server
  serves on the port anvil-jobs validates; an ECDSA certificate for two names, an RSA one, then
  `uacme -r 4 revoke` (superseded). uacme has no option or environment variable for a private CA
  (libcurl-gnutls with the compiled-in CA path /etc/ssl/certs), so it runs in a private mount
  namespace (unshare, root only) where /etc/ssl/certs holds the stack's TLS root. `-o` skips
  uacme's OCSP look-up of an existing certificate (OCSP responses come with a later issue).
- dehydrated, dns-01: its hook sets and clears the TXT records in pebble-challtestsrv (the DNS
  anvil-jobs asks) through the management API; an ECDSA certificate for a name and its
  wildcard (both TXT values at _acme-challenge at once); then http-01 into the same webroot
  (WELLKNOWN) for an RSA certificate; then `--revoke` of the first. It trusts the TLS root
  through curl's CURL_CA_BUNDLE.

Every certificate: `openssl verify` against the ceremony root with the served chain, SANs, key
type, and its row in the database."""
import functools
import http.server
import os
import shutil
import stat
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import issuance  # noqa: E402
from stack import start_or_skip  # noqa: E402



def run(argv, env=None, timeout=45):
    return proc.run_client(argv, env, timeout)


def write_exec(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def check_chain(s, pem_text, names, key_kind, what):
    """The leaf of pem_text (leaf + intermediates) verified against the ceremony root, its SANs
    and key type, its row good; returns the certificate or None."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    blocks = issuance.split_pem(pem_text)
    if not tap.ok(len(blocks) >= 2, "%s: leaf and chain (%d blocks)" % (what, len(blocks))):
        return None
    ok, out = issuance.openssl_verify(s, pem_text, tmpname="verify-" + what.replace(" ", "-"))
    if not tap.ok(ok, "%s: openssl verify against the ceremony root" % what):
        tap.diag(out)
    cert = x509.load_pem_x509_certificate(blocks[0].encode())
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    tap.is_(sorted(ext.value.get_values_for_type(x509.DNSName)), sorted(names),
            "%s: SANs" % what)
    pub = cert.public_key()
    if key_kind == "ec":
        tap.ok(isinstance(pub, ec.EllipticCurvePublicKey) and pub.curve.name == "secp256r1",
               "%s: P-256 key" % what)
    else:
        tap.ok(isinstance(pub, rsa.RSAPublicKey) and pub.key_size >= 2048,
               "%s: RSA key (%d bits)" % (what, getattr(pub, "key_size", 0)))
    tap.is_(s.mysql_rows("SELECT status FROM certificates WHERE serial = '%s'"
                         % issuance.serial_hex(cert)), [["good"]], "%s: stored, good" % what)
    return cert


def cert_row(s, cert):
    return s.mysql_rows("SELECT status, revoked_reason FROM certificates WHERE serial = '%s'"
                        % issuance.serial_hex(cert))


class Webroot:
    """http.server serving dir on 127.0.0.1:port (the http-01 target)."""

    def __init__(self, dir, port):
        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", port), functools.partial(Handler, directory=dir))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


UACME_HOOK = r"""#!/bin/sh
# uacme hook: METHOD TYPE IDENT TOKEN AUTH; http-01 only.
dir=%(dir)s
echo "$1 $2 $3" >> %(log)s
[ "$2" = http-01 ] || exit 1
case "$1" in
begin) printf '%%s' "$5" > "$dir/$4" ;;
done|failed) rm -f "$dir/$4" ;;
*) exit 1 ;;
esac
"""


def uacme(s, work, webroot):
    exe = shutil.which("uacme")
    unshare = shutil.which("unshare")
    if not exe:
        tap.ok(True, "# SKIP uacme not installed (Debian package uacme)")
        return
    if os.getuid() != 0 or not unshare or run([unshare, "--mount", "true"]).returncode != 0:
        tap.ok(True, "# SKIP uacme trusts only the system CA path; a private mount namespace "
                     "(root, unshare) is needed to give it the test root")
        return
    chall = os.path.join(webroot, ".well-known", "acme-challenge")
    cadir = os.path.join(work, "cacerts")
    os.makedirs(cadir)
    shutil.copy(s.ca_file, os.path.join(cadir, "anvil-tls-root.pem"))
    conf = os.path.join(work, "conf")
    hook = os.path.join(work, "hook.sh")
    hooklog = os.path.join(work, "hook.log")
    write_exec(hook, UACME_HOOK % {"dir": chall, "log": hooklog})
    # /etc/ssl/certs replaced by a directory holding only the stack's TLS root, for uacme alone.
    ns = [unshare, "--mount", "--propagation", "private", "sh", "-c",
          'mount --bind "$0" /etc/ssl/certs && exec "$@"', cadir]
    base = [exe, "-v", "-c", conf, "-a", s.directory_url, "-h", hook]

    def step(args, name):
        r = run(ns + base + args)
        if not tap.is_(r.returncode, 0, "uacme %s" % name):
            tap.diag(r.stdout[-4000:])
        return r.returncode == 0

    step(["-y", "new", "uacme@example.org"], "new")
    rows = s.mysql_rows("SELECT contact, status FROM accounts ORDER BY id DESC LIMIT 1")
    tap.is_(rows, [['["mailto:uacme@example.org"]', "valid"]], "uacme's account stored")

    names = ["u1.example.test", "u2.example.test"]
    certs = {}
    if step(["-t", "EC", "-o", "issue"] + names, "issue -t EC (2 names)"):
        with open(os.path.join(conf, names[0], "cert.pem")) as f:
            certs["ec"] = check_chain(s, f.read(), names, "ec", "uacme ECDSA")
    with open(hooklog) as f:
        calls = f.read().split("\n")
    tap.ok("begin http-01 u1.example.test" in calls and "done http-01 u2.example.test" in calls,
           "the hook served http-01 for both names")
    # -t only applies to new keys: a separate identifier gets a fresh RSA key.
    if step(["-t", "RSA", "-b", "2048", "-o", "issue", "ursa.example.test"], "issue -t RSA"):
        with open(os.path.join(conf, "ursa.example.test", "cert.pem")) as f:
            certs["rsa"] = check_chain(s, f.read(), ["ursa.example.test"], "rsa", "uacme RSA")

    if certs.get("ec") is not None:
        step(["-r", "4", "revoke", os.path.join(conf, names[0], "cert.pem")],
             "revoke -r 4 (superseded)")
        tap.is_(cert_row(s, certs["ec"]), [["revoked", "4"]], "revoked, reason superseded (4)")
        if certs.get("rsa") is not None:
            tap.is_(cert_row(s, certs["rsa"])[0][0], "good", "the RSA certificate stays good")


DEHYDRATED_HOOK = r"""#!/bin/sh
# dehydrated hook: dns-01 records in pebble-challtestsrv's management API.
mgmt=http://127.0.0.1:%(mgmt)d
echo "$1 $2" >> %(log)s
case "$1" in
deploy_challenge)
    curl -sSf -X POST -d "{\"host\":\"_acme-challenge.$2.\",\"value\":\"$4\"}" $mgmt/set-txt ;;
clean_challenge)
    curl -sSf -X POST -d "{\"host\":\"_acme-challenge.$2.\"}" $mgmt/clear-txt ;;
esac
exit 0
"""


def dehydrated(s, work, webroot):
    exe = shutil.which("dehydrated")
    if not exe:
        tap.ok(True, "# SKIP dehydrated not installed (Debian package dehydrated)")
        return
    os.makedirs(work)
    hook = os.path.join(work, "hook.sh")
    hooklog = os.path.join(work, "hook.log")
    write_exec(hook, DEHYDRATED_HOOK % {"mgmt": s.dns.mgmt_port, "log": hooklog})
    config = os.path.join(work, "config")
    with open(config, "w") as f:
        f.write('CA="%s"\nCHALLENGETYPE="dns-01"\nBASEDIR="%s"\nHOOK="%s"\n'
                'KEY_ALGO="prime256v1"\nCONTACT_EMAIL="dehydrated@example.org"\n'
                'IP_VERSION=4\nRENEW_DAYS=30\nKEYSIZE=2048\n' % (s.directory_url, work, hook))
    env = dict(os.environ, CURL_CA_BUNDLE=s.ca_file)

    def step(args, name):
        r = run([exe, "-f", config] + args, env)
        if not tap.is_(r.returncode, 0, "dehydrated %s" % name):
            tap.diag(r.stdout[-4000:])
        return r.returncode == 0

    step(["--register", "--accept-terms"], "--register --accept-terms")
    rows = s.mysql_rows("SELECT contact, status FROM accounts ORDER BY id DESC LIMIT 1")
    tap.is_(rows, [['["mailto:dehydrated@example.org"]', "valid"]],
            "dehydrated's account stored")
    names = ["d.example.test", "*.d.example.test"]
    cert = None
    if step(["-c", "-d", " ".join(names)], "-c (dns-01, a name and its wildcard)"):
        live = os.path.join(work, "certs", names[0])
        with open(os.path.join(live, "fullchain.pem")) as f:
            cert = check_chain(s, f.read(), names, "ec", "dehydrated")
    with open(hooklog) as f:
        calls = f.read().split("\n")
    tap.ok("deploy_challenge d.example.test" in calls and "deploy_cert d.example.test" in calls,
           "the hook deployed the dns-01 records and the certificate")

    # http-01 with an RSA key: dehydrated writes the key authorization into WELLKNOWN itself.
    with open(config, "a") as f:
        f.write('WELLKNOWN="%s"\n' % os.path.join(webroot, ".well-known", "acme-challenge"))
    rsa_cert = None
    if step(["-c", "-t", "http-01", "-a", "rsa", "-d", "drsa.example.test"],
            "-c -t http-01 -a rsa"):
        with open(os.path.join(work, "certs", "drsa.example.test", "fullchain.pem")) as f:
            rsa_cert = check_chain(s, f.read(), ["drsa.example.test"], "rsa", "dehydrated RSA")
    with open(hooklog) as f:
        tap.ok("deploy_cert drsa.example.test" in f.read().split("\n"),
               "the hook deployed the RSA certificate")
    if cert is not None:
        step(["--revoke", os.path.join(work, "certs", names[0], "cert.pem")], "--revoke")
        row = cert_row(s, cert)
        tap.ok(row and row[0][0] == "revoked", "revoked (%r)" % (row,))
        if rsa_cert is not None:
            tap.is_(cert_row(s, rsa_cert)[0][0], "good", "the RSA certificate stays good")


def main():
    proc.alarm(110)
    port = proc.free_port()
    # The signer's "default" profile asks for CT (not implemented): issue under a CT-less one.
    s = start_or_skip(workers=2, signer=True, jobs={"validation": {"http01_port": port}},
                      config={"acme": {"default_profile": "e2e"},
                              "profiles": {"e2e": {"issuer": "int-ec", "validity_days": 90,
                                                   "ct": False, "allow_wildcard": True}}})
    work = os.path.join(s.dir, "clients")
    webroot = os.path.join(work, "www")
    os.makedirs(os.path.join(webroot, ".well-known", "acme-challenge"))
    web = Webroot(webroot, port)
    uacme(s, os.path.join(work, "uacme"), webroot)
    dehydrated(s, os.path.join(work, "dehydrated"), webroot)
    web.close()


if __name__ == "__main__":
    tap.run(main)
