#!/usr/bin/python3
"""tls-alpn-01 validation by anvil-jobs (RFC 8737, RFC 8738 for IP identifiers) against a
Python TLS server with self-made acme-tls/1 certificates: the right certificate is valid (SNI the
domain, or the reverse-DNS name for an IP); a wrong digest, a non-critical acmeIdentifier, a
second SAN or no acmeIdentifier is unauthorized; no acme-tls/1 ALPN is tls; nothing listening is
connection."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import TLSALPNTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"


def main():
    proc.alarm(85)
    tls = TLSALPNTarget()
    s = start_or_skip(workers=1, jobs={"validation": {"tls_alpn01_port": tls.port}})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    acct = s.jobs.account(c)

    def run(ident, setup=None, ident_type="dns"):
        ch = s.jobs.challenge(acct, ident_type, ident, "tls-alpn-01")
        if setup:
            setup(ch)
        s.jobs.queue(ch["id"])
        s.jobs.wake()
        return ch, s.jobs.wait_challenge(ch["id"])

    def expect_error(row, typ, name):
        err = row["error"] or {}
        if not tap.ok(row["status"] == "invalid" and err.get("type") == ERR + typ, name):
            tap.dump("row", row)

    ch, row = run("alpn.example.test", lambda ch: tls.add("alpn.example.test", ch["keyauth"]))
    tap.is_(row["status"], "valid", "tls-alpn-01 valid")
    tap.is_(row["authz_status"], "valid", "authorization valid")
    rec = (row["validation_record"] or [{}])[0]
    tap.is_((rec.get("hostname"), rec.get("port"), rec.get("addressUsed")),
            ("alpn.example.test", str(tls.port), "127.0.0.1"), "validation record")

    rev = "1.0.0.127.in-addr.arpa"
    ch, row = run("127.0.0.1", lambda ch: tls.add(rev, ch["keyauth"], ip="127.0.0.1"),
                  ident_type="ip")
    tap.is_(row["status"], "valid", "IP identifier valid (SNI %s)" % rev)
    tap.ok(tls.count(rev) >= 1, "the reverse-DNS name was the SNI")

    ch, row = run("digest.example.test", lambda ch: tls.add(
        "digest.example.test", None, digest=hashlib.sha256(b"something else").digest()))
    expect_error(row, "unauthorized", "wrong digest: unauthorized")
    tap.is_(row["authz_status"], "invalid", "authorization invalid")

    ch, row = run("noncrit.example.test", lambda ch: tls.add(
        "noncrit.example.test", ch["keyauth"], critical=False))
    expect_error(row, "unauthorized", "acmeIdentifier not critical: unauthorized")

    ch, row = run("twosan.example.test", lambda ch: tls.add(
        "twosan.example.test", ch["keyauth"], extra_san="other.example.test"))
    expect_error(row, "unauthorized", "a second SAN: unauthorized")

    ch, row = run("noext.example.test", lambda ch: tls.add("noext.example.test", None))
    expect_error(row, "unauthorized", "no acmeIdentifier: unauthorized")

    ch, row = run("noalpn.example.test", lambda ch: tls.add(
        "noalpn.example.test", ch["keyauth"], alpn=["http/1.1"]))
    expect_error(row, "tls", "acme-tls/1 not negotiated: tls")

    s.dns.add_a("down.example.test", ["127.0.0.2"])
    ch, row = run("down.example.test")
    expect_error(row, "connection", "nothing listening: connection")
    tls.close()


tap.run(main)
