#!/usr/bin/python3
"""dev/up's CT (issue 11 item 7) on the real stack: Stack(ct=True) as dev/stack.py starts it
(its DEV_CONFIG) runs two RFC 6962 test logs of two operators as daemons and a CT profile
"ct" beside the default profile "dev", which stays without CT: Debian's certbot gets a
certificate without SCTs from it. After dev/up's switch (--default-profile ct, the same
function) certbot gets a certificate whose embedded SCTs, one per operator, OpenSSL's own CT
code validates; the final certificate then appears in both logs' get-entries."""
import base64
import importlib.util
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import ctlog  # noqa: E402
import ctstack  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def devstack():
    path = os.path.join(os.environ.get("ANVIL_SRCDIR", os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")), "dev", "stack.py")
    spec = importlib.util.spec_from_file_location("devstack", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def log_has(url, der):
    import requests
    size = requests.get(url + "/ct/v1/get-sth", timeout=5).json()["tree_size"]
    if size == 0:
        return False
    got = requests.get(url + "/ct/v1/get-entries", params={"start": 0, "end": size - 1},
                       timeout=5).json()["entries"]
    return any(ctlog.parse_entry(base64.b64decode(e["leaf_input"]))[2] == der for e in got)


def main():
    proc.alarm(200)
    exe = shutil.which("certbot")
    if not exe:
        tap.skip_all("certbot not installed (Debian package certbot)")
    dev = devstack()
    port = proc.free_port()
    cfg = dict(dev.DEV_CONFIG, jobs={"validation": {"http01_port": port}})
    s = start_or_skip(workers=2, signer=True, jobs={"validation": {"http01_port": port}},
                      config=cfg, ct=True)
    tap.is_(sorted(s.ct_procs), ["testlog-a", "testlog-b"], "two test logs run as daemons")
    ops = {lg["operator"] for lg in s.config["ct"]["logs"].values()}
    tap.is_(len(ops), 2, "of two operators")
    tap.is_((s.config["acme"]["default_profile"],
             s.config["profiles"]["dev"]["ct"], s.config["profiles"]["ct"]["ct"]),
            ("dev", False, True), "the default profile dev has no CT; the profile ct has")

    work = os.path.join(s.dir, "certbot")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=s.ca_file)
    common = ["--server", s.directory_url, "--config-dir", os.path.join(work, "config"),
              "--work-dir", os.path.join(work, "work"), "--logs-dir", os.path.join(work, "logs"),
              "--non-interactive", "certonly", "--standalone", "--http-01-port", str(port),
              "--http-01-address", "127.0.0.1", "--agree-tos", "--no-eff-email",
              "-m", "dev@example.org", "--key-type", "ecdsa"]

    def certbot(name, host):
        r = proc.run_client([exe] + common + ["--cert-name", name, "-d", host], env, 90)
        if not tap.is_(r.returncode, 0, "certbot certonly (%s)" % name):
            tap.diag(r.stdout[-3000:])
            return None
        live = os.path.join(work, "config", "live", name)
        with open(os.path.join(live, "cert.pem"), "rb") as f:
            return x509.load_pem_x509_certificate(f.read()), live

    got = certbot("plain", "plain.example.test")
    tap.ok(got is not None and SCT_OID not in [e.oid for e in got[0].extensions],
           "the default profile: a certificate without SCTs")

    dev.set_default_profile(s, "ct")
    got = certbot("ct", "www.example.test")
    if got is None:
        tap.ok(False, "a certificate with embedded SCTs")
        return
    cert, live = got
    tap.ok(SCT_OID in [e.oid for e in cert.extensions],
           "after --default-profile ct: a certificate with embedded SCTs")
    cnf = ctstack.ossl_conf(s, os.path.join(s.dir, "ctlogs.cnf"))
    r = proc.run([proc.builddir_path("t", "ct-ossl-check"), cnf, os.path.join(live, "cert.pem"),
                  os.path.join(live, "chain.pem")], check=False)
    out = r.stdout.decode()
    tap.ok(r.returncode == 0 and out.count("status=valid") == 2,
           "OpenSSL's CT code validates two SCTs") or tap.diag(out)
    der = cert.public_bytes(serialization.Encoding.DER)
    urls = [lg["url"] for lg in s.config["ct"]["logs"].values()]
    deadline = time.time() + 60
    while time.time() < deadline and not all(log_has(u, der) for u in urls):
        time.sleep(0.5)
    tap.ok(all(log_has(u, der) for u in urls),
           "the final certificate appears in both test logs' get-entries")


tap.run(main)
