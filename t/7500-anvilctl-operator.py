#!/usr/bin/python3
"""The operator's anvilctl on a real stack (issue 13): after certbot gets a certificate,
`cert list` (by name, by account) and `cert show` report it with its published OCSP status, and
`status` finds every daemon up and the issuer's responses published. `revoke --serial` goes the
way of ACME revocation: `openssl ocsp` at the certificate's OCSP URL answers revoked and its CRL
lists it within ocsp.revocation_bound_seconds, and the audit line names the operator's uid.
`revoke --key-of` revokes every certificate of a key and blocks it; `revoke --account` every
certificate of an account; block-key/unblock-key; account show/deactivate; order show; jobs
list/retry; bad input: exit 2."""
import json
import os
import pwd
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import issuance  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

BOUND = 60


def run(argv, env=None, timeout=60):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                          timeout=timeout, universal_newlines=True)


def urls(cert_pem):
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID
    with open(cert_pem, "rb") as f:
        c = x509.load_pem_x509_certificate(f.read())
    aia = c.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ocsp = [d.access_location.value for d in aia
            if d.access_method == AuthorityInformationAccessOID.OCSP]
    cdp = c.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return ocsp[0], [n.value for dp in cdp for n in (dp.full_name or [])][0]


def main():
    proc.alarm(240)
    exe = shutil.which("certbot")
    if not exe:
        tap.skip_all("certbot not installed (Debian package certbot)")
    port = proc.free_port()
    s = start_or_skip(workers=2, signer=True, jobs={"validation": {"http01_port": port}},
                      config={"acme": {"default_profile": "e2e"},
                              "ocsp": {"revocation_bound_seconds": BOUND},
                              "profiles": {"e2e": {"issuer": "int-ec", "validity_days": 90,
                                                   "ct": False}}})
    me = "uid=%d(%s)" % (os.getuid(), pwd.getpwuid(os.getuid()).pw_name)

    def ctl(*args):
        return s.anvilctl(*args, check=False)

    def ctl_json(*args):
        r = ctl(*args)
        try:
            return r.returncode, json.loads(r.stdout)
        except ValueError:
            tap.diag("anvilctl %s: %d %s %s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
            return r.returncode, None

    # --- a certificate from a real client ---
    work = os.path.join(s.dir, "certbot")
    cfg = os.path.join(work, "config")
    env = dict(os.environ, REQUESTS_CA_BUNDLE=s.ca_file)
    common = ["--server", s.directory_url, "--config-dir", cfg,
              "--work-dir", os.path.join(work, "work"), "--logs-dir", os.path.join(work, "logs"),
              "--non-interactive"]
    r = run([exe, "certonly", "--standalone", "--http-01-port", str(port),
             "--http-01-address", "127.0.0.1", "--agree-tos", "--no-eff-email",
             "-m", "op@example.org", "--cert-name", "op", "-d", "op.example.test"] + common, env)
    if not tap.is_(r.returncode, 0, "certbot certonly"):
        tap.diag(r.stdout[-3000:])
        return
    live = os.path.join(cfg, "live", "op")
    cert, chain = os.path.join(live, "cert.pem"), os.path.join(live, "chain.pem")
    root = s.config["issuers"]["root"]["cert"]
    serial = run(["openssl", "x509", "-in", cert, "-noout", "-serial"]).stdout.strip() \
        .split("=", 1)[1]
    hexserial = "%x" % int(serial, 16)
    hexserial = "0" * (len(hexserial) % 2) + hexserial

    # --- cert list / show ---
    rc, lst = ctl_json("cert", "list", "--name", "op.example.test", "--json")
    tap.ok(rc == 0 and lst is not None and [c["serial"] for c in lst] == [hexserial],
           "cert list --name: the certificate")
    account = lst[0]["account"] if lst else 0
    rc, lst = ctl_json("cert", "list", "--account", str(account), "--json")
    tap.ok(rc == 0 and lst is not None and hexserial in [c["serial"] for c in lst],
           "cert list --account: the certificate")
    rc, lst = ctl_json("cert", "list", "--name", "other.example.test", "--json")
    tap.is_((rc, lst), (0, []), "cert list --name of a name never issued: empty")
    r = ctl("cert", "list", "--name", "op.example.test")
    tap.ok(r.returncode == 0 and hexserial in r.stdout, "cert list (text): the serial")
    # openssl's form (upper case) is accepted
    rc, show = ctl_json("cert", "show", serial, "--json")
    tap.ok(rc == 0 and show is not None and show["serial"] == hexserial and
           show["names"] == ["op.example.test"] and show["status"] == "good" and
           show["issuer"] == "int-ec", "cert show: serial, names, status good, issuer")
    tap.ok(show and show["ocsp"]["published"] == "good" and show["ocsp"]["this_update"],
           "cert show: its OCSP response is published (good)")
    spki = show["spki_sha256"] if show else ""
    r = ctl("cert", "show", hexserial, "--pem")
    tap.is_(r.stdout.strip(), open(cert).read().strip(), "cert show --pem: certbot's certificate")
    r = ctl("cert", "show", "00")
    tap.ok(r.returncode != 0, "cert show of an unknown serial: an error")
    rc, order = ctl_json("order", "show", str(show["order"] if show else 0), "--json")
    tap.ok(rc == 0 and order and order["serial"] == hexserial and order["status"] == "valid" and
           order["authorizations"][0]["identifier"] == "op.example.test",
           "order show: valid, its serial, its authorization")
    rc, acct = ctl_json("account", "show", str(account), "--json")
    tap.ok(rc == 0 and acct and acct["status"] == "valid" and
           acct["contact"] == ["mailto:op@example.org"] and acct["certificates"] >= 1,
           "account show: valid, contact, certificates")

    # --- status ---
    rc, st = ctl_json("status", "--json")
    if not tap.ok(rc == 0 and st and st["ok"], "status: exit 0, ok"):
        tap.diag(json.dumps(st))
    d = (st or {}).get("daemons", {})
    for name in ("database", "anvil-signer", "anvil-fcgi", "anvil-jobs"):
        tap.ok(d.get(name, {}).get("ok"), "status: %s ok (%s)" % (name,
                                                                 d.get(name, {}).get("detail")))
    fr = (st or {}).get("freshness", {}).get("int-ec", {})
    tap.ok(fr.get("ocsp_oldest_this_update") and fr.get("ocsp_past_next_update") == 0,
           "status: int-ec's OCSP responses published, none past nextUpdate")
    tap.ok(fr.get("crl_shards", 0) >= 1, "status: int-ec's CRL shards counted")
    r = ctl("status")
    tap.ok(r.returncode == 0 and "anvil-signer" in r.stdout and "OK" in r.stdout,
           "status (text)")

    # --- revoke by serial: OCSP and CRL ---
    ocsp_url, crl_url = urls(cert)
    t0 = time.time()
    r = ctl("revoke", "--serial", serial, "--reason", "keyCompromise")
    if not tap.is_(r.returncode, 0, "revoke --serial --reason keyCompromise"):
        tap.diag(r.stdout + r.stderr)
    tap.ok("revoked %s" % hexserial in r.stdout, "it says what it revoked")
    tap.ok("audit revoke serial=%s reason=1 by=%s" % (hexserial, me) in r.stderr,
           "audit line with the operator's uid")
    ca = os.path.join(s.dir, "crl-ca.pem")
    with open(ca, "w") as f:
        f.write(open(chain).read() + open(root).read())

    def published():
        o = run(["openssl", "ocsp", "-issuer", chain, "-cert", cert, "-url", ocsp_url,
                 "-CAfile", root, "-no_nonce"]).stdout
        if "%s: revoked" % cert not in o or "Response verify OK" not in o:
            return None
        import requests
        path = os.path.join(s.dir, "shard.crl")
        with open(path, "wb") as f:
            f.write(requests.get(crl_url, timeout=10).content)
        c = run(["openssl", "crl", "-inform", "DER", "-in", path, "-CAfile", ca, "-verify",
                 "-noout", "-text"]).stdout
        return (o, c) if serial.upper() in c.replace(":", "").upper() else None
    try:
        o, c = proc.wait_for(published, BOUND + 30, 0.5, "revocation published")
        took = time.time() - t0
    except TimeoutError:
        o, c, took = "", "", None
    tap.ok(took is not None and took <= BOUND,
           "openssl ocsp: revoked, and the CRL lists it, within %d s (took %s)"
           % (BOUND, "%.1f s" % took if took is not None else "longer"))
    tap.ok("Reason: keyCompromise" in o, "OCSP: reason keyCompromise")
    tap.ok("Key Compromise" in c, "CRL: reason Key Compromise")
    rc, show = ctl_json("cert", "show", hexserial, "--json")
    tap.ok(show and show["status"] == "revoked" and show["revoked_reason"] == "keyCompromise"
           and show["ocsp"]["published"] == "revoked", "cert show: revoked, published")
    r = ctl("revoke", "--serial", hexserial)
    tap.ok(r.returncode == 1 and "revoked already" in r.stderr, "again: revoked already, exit 1")
    r = ctl("block-key", spki)
    tap.ok(r.returncode == 0 and "blocked already" in r.stdout,
           "keyCompromise blocked the key (block-key: blocked already)")

    # --- revoke every certificate of a key ---
    c1 = issuance.account(s)
    a1, _, _, _ = issuance.issue(s, c1, ["k1.example.com"])
    a2, key, _, _ = issuance.issue(s, c1, ["k2.example.com"])
    b1, _, _, _ = issuance.issue(s, c1, ["k3.example.com"], key=key)
    from cryptography.hazmat.primitives import serialization
    pub = os.path.join(s.dir, "key.pub")
    with open(pub, "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    r = ctl("revoke", "--key-of", pub, "--dry-run")
    tap.ok(r.returncode == 0 and r.stdout.count("would revoke") == 2, "--dry-run: two would be")
    r = ctl("revoke", "--key-of", pub, "--reason", "superseded")
    tap.ok(r.returncode == 0 and r.stdout.count("revoked ") == 2,
           "revoke --key-of: both certificates of the key")
    states = {issuance.serial_hex(x): None for x in (a1, a2, b1)}
    for h in states:
        states[h] = ctl_json("cert", "show", h, "--json")[1]["status"]
    tap.is_([states[issuance.serial_hex(x)] for x in (a1, a2, b1)],
            ["good", "revoked", "revoked"], "the key's two revoked, the other key's left")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM blocked_keys"), [["1"]],
            "superseded blocks no further key")

    # --- revoke by account ---
    r = ctl("revoke", "--account", str(issuance.account_id(c1)), "--reason", "5")
    tap.ok(r.returncode == 0 and "1 revoked" in r.stderr and "2 revoked already" in r.stderr,
           "revoke --account: the one left (two revoked already)")
    tap.is_(ctl_json("cert", "show", issuance.serial_hex(a1), "--json")[1]["revoked_reason"],
            "cessationOfOperation", "with its reason")

    # --- block-key / unblock-key ---
    k = "ab" * 32
    r = ctl("block-key", k, "--reason", "test")
    tap.ok(r.returncode == 0 and "audit block-key spki_sha256=%s" % k in r.stderr and me in r.stderr,
           "block-key: audited")
    tap.is_(s.mysql_rows("SELECT reason FROM blocked_keys WHERE spki_sha256 = UNHEX('%s')" % k),
            [["test"]], "the key is in blocked_keys")
    r = ctl("unblock-key", k)
    tap.ok(r.returncode == 0 and "audit unblock-key" in r.stderr, "unblock-key: audited")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM blocked_keys WHERE spki_sha256 = UNHEX('%s')" % k),
            [["0"]], "gone")
    tap.is_(ctl("unblock-key", k).returncode, 0, "unblock-key again: a no-op")

    # --- jobs ---
    rc, jobs = ctl_json("jobs", "list", "--json")
    tap.is_((rc, jobs), (0, []), "jobs list: nothing stuck or failed")
    s.mysql("UPDATE jobs SET state = 'failed', last_error = 'test' ORDER BY id DESC LIMIT 1")
    rc, jobs = ctl_json("jobs", "list", "--json")
    tap.ok(rc == 0 and jobs and jobs[0]["state"] == "failed" and jobs[0]["last_error"] == "test",
           "jobs list: a failed job")
    if jobs:
        r = ctl("jobs", "retry", str(jobs[0]["id"]))
        tap.ok(r.returncode == 0 and "audit jobs-retry job=%d" % jobs[0]["id"] in r.stderr,
               "jobs retry: audited")
        tap.is_(s.mysql_rows("SELECT state, attempts FROM jobs WHERE id = %d" % jobs[0]["id"])
                [0][0] in ("queued", "done", "failed"), True, "requeued")
    tap.is_(ctl("jobs", "retry", "999999999").returncode, 1, "jobs retry of no job: exit 1")

    # --- account deactivate ---
    r = ctl("account", "deactivate", str(issuance.account_id(c1)))
    tap.ok(r.returncode == 0 and "audit account-deactivate" in r.stderr, "account deactivate")
    tap.ok(c1.new_order(["x.example.com"]).status_code in (401, 403),
           "the deactivated account's requests are refused")

    # --- bad input ---
    for args in (["revoke"], ["revoke", "--serial", "zz"], ["revoke", "--serial", "01",
                 "--account", "1"], ["revoke", "--serial", "01", "--reason", "certificateHold"],
                 ["cert", "list", "--limit", "0"], ["block-key", "abc"], ["jobs", "retry"]):
        tap.is_(ctl(*args).returncode, 2, "%s: exit 2" % " ".join(args))


tap.run(main)
