#!/usr/bin/python3
"""An intermediate under an external root (anvilctl ceremony): openssl plays the offline root.
`ceremony csr` makes the intermediate's key on the SoftHSM2 token and a CSR signed by it;
`ceremony import` refuses a certificate for another key, one that is not a CA, one from another
root, and one without the root certificate; it installs the root-signed one with its chain;
`anvilctl init` then keeps the root as external (no root key is made on the token); the whole
stack starts on that hierarchy and certbot gets a certificate that `openssl verify` chains to
the offline root."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import binary, start_or_skip  # noqa: E402

EXT = """[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, digitalSignature, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leafish]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""


def openssl(*args):
    r = subprocess.run(["openssl"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stdout))
    return r.stdout


def make_root(d, name, cn):
    key, pem = os.path.join(d, name + ".key"), os.path.join(d, name + ".pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", pem, "-days", "3650", "-subj", cn,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return key, pem


def sign(d, csr, root_key, root_pem, out, section="ca"):
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write(EXT)
    path = os.path.join(d, out)
    openssl("x509", "-req", "-in", csr, "-CA", root_pem, "-CAkey", root_key, "-set_serial",
            "0x%x" % (0x1000 + len(os.listdir(d))), "-days", "365", "-sha256",
            "-extfile", ext, "-extensions", section, "-out", path)
    return path


def main():
    proc.alarm(200)
    exe = shutil.which("certbot")
    if not exe:
        tap.skip_all("certbot not installed (Debian package certbot)")
    port = proc.free_port()
    d = proc.tmpdir("anvil-s-")
    pki = os.path.join(d, "pki")
    offline = os.path.join(d, "offline")
    os.makedirs(offline)
    cfg = {
        "acme": {"default_profile": "e2e"},
        "issuers": {
            "root": {"key_label": "corp-root", "subject": "CN=Corp Root,O=Corp",
                     "cert": os.path.join(pki, "corp-root.pem")},
            "int-ec": {"key_label": "ext-int-ec", "subject": "CN=Anvil External E1,O=Anvil",
                       "cert": os.path.join(pki, "ext-int-ec.pem")},
            "int-rsa": None, "int-internal": None,
        },
        "profiles": {"default": None, "shortlived": None, "rsa": None, "internal": None,
                     "e2e": {"issuer": "int-ec", "validity_days": 90, "ct": False}},
    }
    s = start_or_skip(dir=d, start=False, workers=2, signer=True,
                      jobs={"validation": {"http01_port": port}}, config=cfg)

    def ctl(*args):
        # Full stacks, so that t/lsan.supp's libp11 line matches `hsm keys` (it says why).
        env = dict(s.signer_env)
        env["ASAN_OPTIONS"] = "fast_unwind_on_malloc=0" + \
            (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
        return subprocess.run([binary("tools/anvilctl/anvilctl"), "-c", s.config_path] +
                              list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=env)

    def refused(r, what, text):
        if not tap.ok(r.returncode == 1 and text in r.stderr, what):
            tap.diag("%d: %s" % (r.returncode, r.stderr))

    root_key, root_pem = make_root(offline, "root", "/CN=Corp Root/O=Corp")

    # --- the CSR, signed by the HSM key ---
    csr = os.path.join(offline, "int.csr")
    r = ctl("ceremony", "csr", "--issuer", "int-ec", "--out", csr)
    if not tap.is_(r.returncode, 0, "ceremony csr"):
        tap.diag(r.stdout + r.stderr)
        return
    out = openssl("req", "-in", csr, "-noout", "-verify", "-subject", "-text")
    tap.ok("verify OK" in out or "Certificate request self-signature verify OK" in out,
           "the CSR's signature (by the HSM key) verifies")
    tap.ok("CN = Anvil External E1" in out, "the CSR has the configured subject")
    tap.ok("CA:TRUE" in out and "Certificate Sign" in out, "it asks for a CA certificate")
    r = ctl("ceremony", "csr", "--issuer", "int-ec")
    tap.ok(r.returncode == 0 and "BEGIN CERTIFICATE REQUEST" in r.stdout,
           "a second csr reuses the key and prints to stdout")
    r = ctl("ceremony", "csr", "--issuer", "root")
    refused(r, "csr for a root: refused", "is a root")
    r = ctl("ceremony", "csr", "--issuer", "nosuch")
    refused(r, "csr for an unknown issuer: refused", "no issuer 'nosuch'")

    # --- import: what is refused ---
    good = sign(offline, csr, root_key, root_pem, "int.pem")
    r = ctl("ceremony", "import", "--issuer", "int-ec", good)
    refused(r, "import without the root certificate: refused", "--root")
    other_key = os.path.join(offline, "other.key")
    other_csr = os.path.join(offline, "other.csr")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", other_key, "-out", other_csr, "-subj", "/CN=Anvil External E1/O=Anvil")
    r = ctl("ceremony", "import", "--issuer", "int-ec", "--root", root_pem,
            sign(offline, other_csr, root_key, root_pem, "other.pem"))
    refused(r, "a certificate for another key: refused", "not the HSM key")
    r = ctl("ceremony", "import", "--issuer", "int-ec", "--root", root_pem,
            sign(offline, csr, root_key, root_pem, "leafish.pem", "leafish"))
    refused(r, "a certificate that is not a CA: refused", "not a CA certificate")
    other_root_key, other_root = make_root(offline, "other-root", "/CN=Corp Root/O=Corp")
    r = ctl("ceremony", "import", "--issuer", "int-ec", "--root", root_pem,
            sign(offline, csr, other_root_key, other_root, "wrong-root.pem"))
    refused(r, "a certificate from another root: refused", "not issued by the root")
    tap.ok(not os.path.exists(cfg["issuers"]["int-ec"]["cert"]) and
           not os.path.exists(cfg["issuers"]["root"]["cert"]), "nothing installed by refusals")

    # --- import ---
    r = ctl("ceremony", "import", "--issuer", "int-ec", "--root", root_pem, good)
    if not tap.is_(r.returncode, 0, "import of the root-signed certificate"):
        tap.diag(r.stdout + r.stderr)
        return
    chain = os.path.join(pki, "ext-int-ec-chain.pem")
    tap.ok(all(os.path.exists(p) for p in (cfg["issuers"]["int-ec"]["cert"], chain,
                                          cfg["issuers"]["root"]["cert"])),
           "intermediate, chain and root installed")
    tap.ok("audit ceremony-import issuer=int-ec" in r.stderr, "the import is audited")
    r = ctl("ceremony", "import", "--issuer", "int-ec", good)
    tap.ok(r.returncode == 0 and "holds it already" in r.stdout, "importing again: a no-op")
    r = ctl("ceremony", "import", "--issuer", "int-ec", "--root", other_root, good)
    refused(r, "a --root other than the installed one: refused", "is not the root installed")

    # --- init keeps the external root; no root key on the token ---
    r = ctl("init")
    tap.ok(r.returncode == 0 and "external root" in r.stdout and "int-ec: " in r.stdout,
           "anvilctl init keeps the external root and the imported intermediate")
    if r.returncode != 0:
        tap.diag(r.stdout + r.stderr)
    r = ctl("hsm", "keys")
    if not tap.ok(r.returncode == 0 and "ext-int-ec" in r.stdout and "corp-root" not in r.stdout,
                  "the token holds the intermediate's key and no root key"):
        tap.diag(r.stdout + r.stderr)

    # --- the stack issues under it ---
    s.start()
    work = os.path.join(d, "certbot")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=s.ca_file)
    r = proc.run_client([exe, "certonly", "--standalone", "--http-01-port", str(port),
                         "--http-01-address", "127.0.0.1", "--agree-tos", "--no-eff-email",
                         "-m", "ext@example.org", "--key-type", "ecdsa", "-d", "ext.example.test",
                         "--server", s.directory_url, "--config-dir", os.path.join(work, "c"),
                         "--work-dir", os.path.join(work, "w"), "--logs-dir",
                         os.path.join(work, "l"), "--non-interactive"], env, 90)
    if not tap.is_(r.returncode, 0, "certbot gets a certificate"):
        tap.diag(r.stdout[-3000:])
        return
    live = os.path.join(work, "c", "live", "ext.example.test")
    r = subprocess.run(["openssl", "verify", "-CAfile", root_pem, "-untrusted",
                        os.path.join(live, "chain.pem"), os.path.join(live, "cert.pem")],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    if not tap.is_(r.returncode, 0, "openssl verify: the leaf chains to the offline root"):
        tap.diag(r.stdout)
    issuer = openssl("x509", "-in", os.path.join(live, "cert.pem"), "-noout", "-issuer")
    tap.ok("Anvil External E1" in issuer, "issued by the imported intermediate")


tap.run(main)
