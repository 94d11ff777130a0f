"""Helpers for the issuance tests (37xx): a stack with the signer, orders put into `ready`
directly in the database (so these tests do not depend on validation), and issuing a
certificate end to end through finalize and download.

    s = issuance.stack(config={...})          # Stack(signer=True), started
    c = issuance.account(s)                   # a registered acme.Client
    oid = issuance.ready_order(s, c, ["a.example.com"], profile="rsa")
    cert, key, pem = issuance.issue(s, c, ["a.example.com"])
"""
import json
import os
import secrets
import time

import proc
import acme
from stack import start_or_skip

ERR = "urn:ietf:params:acme:error:"


def slow_hsm(sign_us, max_concurrent):
    """The slow-HSM PKCS#11 module (tools/slowhsm) set to sign_us per signature on
    max_concurrent units, for the signer to load; skips the test when it or anvil-jobs is not
    built."""
    import tap
    slow = proc.builddir_path("tools", "slowhsm", ".libs", "anvil-slowhsm.so")
    if not os.path.exists(slow):
        tap.skip_all("slow-HSM module not built")
    if not os.access(proc.builddir_path("jobs", "anvil-jobs"), os.X_OK):
        tap.skip_all("anvil-jobs not built")
    os.environ.update(ANVIL_SLOWHSM_SIGN_US=str(sign_us),
                      ANVIL_SLOWHSM_MAX_CONCURRENT=str(max_concurrent))
    return slow


def stack(config=None, before_start=None, **kw):
    """A started Stack(signer=True); before_start(s) may edit s.config (written after)."""
    s = start_or_skip(signer=True, start=False, config=config, **kw)
    if before_start is not None:
        before_start(s)
        s.write_config()
    s.start()
    return s


def account(s, alg="ES256"):
    c = acme.Client(s.directory_url, s.ca_file, alg=alg)
    r = c.new_account(contact=["mailto:issuance@example.org"])
    assert r.status_code == 201, r.text
    return c


def account_id(c):
    return int(c.kid.rsplit("/", 1)[1])


def _sql_str(v):
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ready_order(s, c, names, profile="rsa", status="ready", authz_status="valid",
                expires_in=3600, not_before=None, validated_ago=0):
    """Creates an order (and valid authorizations for its names, each with its valid http-01
    or, for a wildcard, dns-01 challenge validated validated_ago seconds ago) for c's account
    directly in the database; returns the order id. not_before: the requested notBefore (Unix
    seconds)."""
    now = int(time.time())
    acct = account_id(c)
    ids = [acme.ident(n) for n in names]
    stmts = ["INSERT INTO orders (account_id, status, expires, identifiers, profile, created, "
             "not_before) VALUES (%d, '%s', %d, %s, '%s', %d, %s)"
             % (acct, status, now + expires_in, _sql_str(json.dumps(ids, separators=(",", ":"))),
                profile, now, "NULL" if not_before is None else "%d" % not_before),
             "SET @o = LAST_INSERT_ID()"]
    for i in ids:
        v, wild = i["value"], 0
        if v.startswith("*."):
            v, wild = v[2:], 1
        # As validation leaves a valid one (migration 0009: the challenges are the row's): the
        # valid challenge and when it (and CAA) was checked, which a public profile's CAA
        # re-check reads (issue/caa.c).
        ctype = "dns-01" if wild else "http-01"
        tokcol = "token_dns01" if wild else "token_http01"
        if authz_status == "valid":
            chall = ", '%s', '%s', 'valid', %d" % (secrets.token_hex(11), ctype,
                                                  now - validated_ago)
        else:
            chall = ", '%s', NULL, 'pending', NULL" % secrets.token_hex(11)
        stmts.append("INSERT INTO authorizations (account_id, identifier_type, identifier_value, "
                     "wildcard, status, expires, profile, created, %s, chall_attempted, "
                     "chall_status, chall_validated) VALUES (%d, '%s', %s, %d, '%s', %d, '%s', "
                     "%d%s)" % (tokcol, acct, i["type"], _sql_str(v), wild, authz_status,
                                now + expires_in, profile, now, chall))
        stmts.append("SET @a = LAST_INSERT_ID()")
        stmts.append("INSERT INTO order_authorizations (order_id, authz_id) VALUES (@o, @a)")
    stmts.append("SELECT @o")
    out = s.mysql(";\n".join(stmts) + ";")
    return int(out.strip().splitlines()[-1])


def finalize_url(s, oid):
    return "%s/acme/order/%d/finalize" % (s.base, oid)


def order_url(s, oid):
    return "%s/acme/order/%d" % (s.base, oid)


def split_pem(text):
    """The PEM blocks of a chain, in order."""
    out, cur = [], []
    for line in text.splitlines(True):
        cur.append(line)
        if line.startswith("-----END "):
            out.append("".join(cur))
            cur = []
    return out


def issue(s, c, names, profile="rsa", key_type="ES256", key=None):
    """Finalizes a fresh ready order for names; returns (x509 certificate, key, PEM chain
    text, finalize response)."""
    from cryptography import x509
    oid = ready_order(s, c, names, profile=profile)
    key, csr = acme.make_csr(names, key_type=key_type, key=key)
    r = c.finalize(finalize_url(s, oid), csr)
    if r.status_code != 200 or r.json().get("status") != "valid":
        raise RuntimeError("finalize: %d %s" % (r.status_code, r.text))
    d = c.download(r.json()["certificate"])
    if d.status_code != 200:
        raise RuntimeError("download: %d %s" % (d.status_code, d.text))
    cert = x509.load_pem_x509_certificate(split_pem(d.text)[0].encode())
    return cert, key, d.text, r


def openssl_verify(s, pem_chain, tmpname="verify"):
    """openssl verify of the leaf against the ceremony root with the rest as untrusted:
    (ok, output)."""
    blocks = split_pem(pem_chain)
    d = os.path.join(s.dir, tmpname)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "leaf.pem"), "w") as f:
        f.write(blocks[0])
    with open(os.path.join(d, "chain.pem"), "w") as f:
        f.write("".join(blocks[1:]))
    root = s.config["issuers"]["root"]["cert"]
    r = proc.run(["openssl", "verify", "-CAfile", root, "-untrusted",
                  os.path.join(d, "chain.pem"), os.path.join(d, "leaf.pem")], check=False)
    return r.returncode == 0, r.stdout.decode("utf-8", "replace")


def problem(r, status, typ):
    """Whether r is the problem document typ with status."""
    try:
        body = r.json()
    except ValueError:
        return False
    return r.status_code == status and \
        r.headers.get("Content-Type", "").startswith("application/problem+json") and \
        body.get("type") == ERR + typ


def check_sanitizers(s):
    """Stops anvil-fcgi (workers exit normally) and checks its log for ASan/UBSan/LSan
    reports."""
    import tap
    s.stop_fcgi()
    with open(os.path.join(s.dir, "run", "anvil-fcgi.log")) as f:
        log = f.read()
    if not tap.ok("Sanitizer" not in log and "runtime error" not in log,
                  "anvil-fcgi exited without a sanitizer report"):
        tap.diag(log[-4000:])


def serial_hex(cert):
    """certificates.serial of a certificate: lowercase hex of the serial's bytes."""
    h = "%x" % cert.serial_number
    return "0" * (len(h) % 2) + h
