#!/usr/bin/python3
"""revokeCert by an account that is not the certificate's (issue 12, item 15), Boulder's rules:
it must hold a valid, unexpired authorization for every name of the certificate, the identifier
itself (a wildcard name needs a wildcard authorization; the base name's own does not do, nor
the other way round); the revocation is stored as cessationOfOperation whatever reason it
asked, so its keyCompromise neither blocks the key nor stops the subscriber from using it. Only
the certificate's own key (or its subscriber) revokes for keyCompromise and blocks the key."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, problem, ready_order  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def main():
    proc.alarm(120)
    s = issuance.stack()
    c = issuance.account(s)

    def row(cert):
        return s.mysql_rows("SELECT status, revoked_reason FROM certificates WHERE serial = "
                            "'%s'" % issuance.serial_hex(cert))

    def blocked():
        return int(s.mysql_rows("SELECT COUNT(*) FROM blocked_keys")[0][0])

    # --- a wildcard name needs a wildcard authorization ---
    wild, _, _, _ = issuance.issue(s, c, ["*.w.corp.test"], profile="internal")
    h = issuance.account(s)
    ready_order(s, h, ["w.corp.test"], profile="internal")
    tap.ok(problem(h.revoke(der(wild), reason=5), 403, "unauthorized"),
           "*.w.corp.test with only w.corp.test's authorization: unauthorized")
    tap.is_(row(wild), [["good", "NULL"]], "still good")
    ready_order(s, h, ["*.w.corp.test"], profile="internal")
    r = h.revoke(der(wild), reason=5)
    tap.is_(r.status_code, 200, "with a wildcard authorization for w.corp.test: 200")
    tap.is_(row(wild), [["revoked", "5"]], "stored: cessationOfOperation")

    # --- a wildcard authorization does not cover the base name ---
    base, _, _, _ = issuance.issue(s, c, ["base.corp.test"], profile="internal")
    h2 = issuance.account(s)
    ready_order(s, h2, ["*.base.corp.test"], profile="internal")
    tap.ok(problem(h2.revoke(der(base), reason=5), 403, "unauthorized"),
           "base.corp.test with only *.base.corp.test's authorization: unauthorized")

    # --- expired, deactivated or pending authorizations do not count ---
    names = ["x.example.org", "y.example.org"]
    cert, key, _, _ = issuance.issue(s, c, names)
    h3 = issuance.account(s)
    ready_order(s, h3, names, expires_in=-60)
    tap.ok(problem(h3.revoke(der(cert), reason=5), 403, "unauthorized"),
           "expired authorizations: unauthorized")
    ready_order(s, h3, names, status="pending", authz_status="deactivated")
    ready_order(s, h3, names, status="pending", authz_status="pending")
    tap.ok(problem(h3.revoke(der(cert), reason=5), 403, "unauthorized"),
           "deactivated or pending authorizations: unauthorized")
    tap.is_(row(cert), [["good", "NULL"]], "still good")

    # --- keyCompromise from an authorization holder: revoked, the key not blocked ---
    ready_order(s, h3, names)
    before = blocked()
    r = h3.revoke(der(cert), reason=1)
    tap.is_(r.status_code, 200, "an authorization holder asking keyCompromise: 200")
    tap.is_(row(cert), [["revoked", "5"]],
            "stored as cessationOfOperation, not keyCompromise (Boulder's rule)")
    tap.is_(blocked(), before, "no key blocked")
    oid = ready_order(s, c, ["again.example.org"])
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["again.example.org"], key=key)[1])
    tap.ok(r.status_code == 200 and not problem(r, 400, "badPublicKey"),
           "the subscriber still gets a certificate for the same key (%d)" % r.status_code)

    # --- the certificate's own key still revokes for keyCompromise and blocks it ---
    cert2, key2, _, _ = issuance.issue(s, c, ["kc.example.org"])
    r = c.revoke(der(cert2), reason=1, key=key2)
    tap.is_(r.status_code, 200, "revoked with the certificate's key (keyCompromise): 200")
    tap.is_(row(cert2), [["revoked", "1"]], "stored: keyCompromise")
    tap.is_(blocked(), before + 1, "that key is blocked")
    issuance.check_sanitizers(s)


tap.run(main)
