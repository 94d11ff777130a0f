#!/usr/bin/python3
"""revokeCert (RFC 8555 §7.6) through nginx: by the issuing account, by another account that
holds valid authorizations for every name, and by the certificate's own key; the reasons a
subscriber may give (and the ones refused: badRevocationReason); alreadyRevoked; a
keyCompromise revocation blocks the key for future finalize; the revocation is stored where
OCSP and CRL refresh will find it."""
import os
import sys
import time

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
    proc.alarm(85)
    s = issuance.stack()
    c = issuance.account(s)
    other = issuance.account(s)

    def row(cert):
        return s.mysql_rows("SELECT status, revoked_reason, revoked_at IS NOT NULL FROM "
                            "certificates WHERE serial = '%s'" % issuance.serial_hex(cert))

    # --- reasons a subscriber may not give ---
    cert, key, _, _ = issuance.issue(s, c, ["reasons.example.com"])
    for reason in (2, 6, 7, 8, 10, 11, -1, "1", 1.5):
        r = c.revoke(der(cert), reason=reason)
        if not tap.ok(problem(r, 400, "badRevocationReason"),
                      "reason %r: badRevocationReason" % (reason,)):
            tap.diag("%d %s" % (r.status_code, r.text))
    tap.is_(row(cert), [["good", "NULL", "0"]], "still good after the refused reasons")

    # --- by the issuing account (kid), superseded ---
    t0 = int(time.time())
    r = c.revoke(der(cert), reason=4)
    tap.is_((r.status_code, r.text), (200, ""), "issuing account revokes (superseded): 200")
    tap.is_(row(cert), [["revoked", "4", "1"]], "stored: revoked, reason 4, revoked_at set")
    at = int(s.mysql_rows("SELECT revoked_at FROM certificates WHERE serial = '%s'"
                          % issuance.serial_hex(cert))[0][0])
    tap.ok(t0 - 2 <= at <= int(time.time()) + 2, "revoked_at is now")
    tap.ok(problem(c.revoke(der(cert), reason=4), 400, "alreadyRevoked"), "again: alreadyRevoked")
    tap.ok(problem(c.revoke(der(cert)), 400, "alreadyRevoked"),
           "again without a reason: alreadyRevoked")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM blocked_keys"), [["0"]],
            "superseded blocks no key")

    # --- no reason: unspecified (0) ---
    cert0, _, _, _ = issuance.issue(s, c, ["unspecified.example.com"])
    tap.is_(c.revoke(der(cert0)).status_code, 200, "no reason given: 200")
    tap.is_(row(cert0), [["revoked", "0", "1"]], "stored as unspecified (0)")

    # --- another account: refused without authorizations, accepted with them ---
    names = ["a.example.net", "b.example.net"]
    cert2, _, _, _ = issuance.issue(s, c, names)
    tap.ok(problem(other.revoke(der(cert2), reason=5), 403, "unauthorized"),
           "an unrelated account: unauthorized")
    ready_order(s, other, names[:1])  # valid authorization for one name only
    tap.ok(problem(other.revoke(der(cert2), reason=5), 403, "unauthorized"),
           "an account with authorizations for only some names: unauthorized")
    ready_order(s, other, names[1:])
    r = other.revoke(der(cert2), reason=5)
    tap.is_(r.status_code, 200, "an account holding valid authorizations for every name: 200")
    tap.is_(row(cert2), [["revoked", "5", "1"]], "stored: cessationOfOperation")

    # --- by the certificate's key (jwk), keyCompromise blocks the key ---
    cert3, key3, _, _ = issuance.issue(s, c, ["kc.example.com"])
    stranger = acme.generate_key("ES256")
    tap.ok(problem(c.revoke(der(cert3), reason=1, key=stranger), 403, "unauthorized"),
           "a jwk that is not the certificate's key: unauthorized")
    r = c.revoke(der(cert3), reason=1, key=key3)
    tap.is_(r.status_code, 200, "revoked with the certificate's own key (keyCompromise): 200")
    tap.is_(row(cert3), [["revoked", "1", "1"]], "stored: keyCompromise")
    spki = s.mysql_rows("SELECT HEX(spki_sha256) FROM certificates WHERE serial = '%s'"
                        % issuance.serial_hex(cert3))[0][0]
    tap.is_(s.mysql_rows("SELECT HEX(spki_sha256), reason FROM blocked_keys"),
            [[spki, "keyCompromise"]], "the key is blocked")
    oid = ready_order(s, c, ["again.example.com"])
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["again.example.com"], key=key3)[1])
    tap.ok(problem(r, 400, "badPublicKey") and "compromised" in r.json().get("detail", ""),
           "finalize with the compromised key: badPublicKey")
    tap.ok(problem(c.revoke(der(cert3), reason=1, key=key3), 400, "alreadyRevoked"),
           "again by key: alreadyRevoked")

    # --- RSA certificate revoked by its key (RS256 JWS) ---
    cert4, key4, _, _ = issuance.issue(s, c, ["rsa-kc.example.com"], key_type="RSA2048")
    tap.is_(c.revoke(der(cert4), reason=9, key=key4, alg="RS256").status_code, 200,
            "RSA certificate revoked by its key (privilegeWithdrawn): 200")

    # --- malformed requests ---
    cert5, _, _, _ = issuance.issue(s, c, ["other.example.com"])
    tampered = bytearray(der(cert5))
    tampered[-3] ^= 1
    tap.is_(c.revoke(bytes(tampered)).status_code, 404,
            "a certificate with our serial but other bytes: 404")
    tap.ok(problem(c.post(c.url("revokeCert"), {"reason": 1}), 400, "malformed"),
           "no certificate member: malformed")
    tap.ok(problem(c.post(c.url("revokeCert"), {"certificate": "!!"}), 400, "malformed"),
           "certificate not base64url: malformed")
    tap.ok(problem(c.revoke(b"\x30\x03\x02\x01\x01"), 400, "malformed"),
           "not a certificate: malformed")
    tap.is_(row(cert5), [["good", "NULL", "0"]], "untouched by the malformed requests")
    tap.is_(c.session.get(c.url("revokeCert"), verify=s.ca_file).status_code, 405,
            "GET revokeCert: 405")
    issuance.check_sanitizers(s)


tap.run(main)
