#!/usr/bin/python3
"""ACME Renewal Information (RFC 9773) through nginx: renewalInfo in the directory; the
suggested window of a certificate (inside its validity, in its last third) with Retry-After;
a revoked certificate's window lies in the past; unknown and malformed identifiers; and
newOrder's "replaces": only a certificate of the same account, and only once
(alreadyReplaced)."""
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import problem  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def utc(cert, attr):
    """A validity bound as a timestamp (cryptography < 42 has only the naive UTC one)."""
    v = getattr(cert, attr + "_utc", None)
    if v is None:
        v = getattr(cert, attr).replace(tzinfo=datetime.timezone.utc)
    return v.timestamp()


def finalize_like_get(s, c, created, certid):
    """Finalize answers with the order object GET answers (fcgi/order_view.c): "replaces"
    included, and every field the same but the status and the certificate URL, which may
    advance between the two answers."""
    oid = int(created.headers["Location"].rsplit("/", 1)[1])
    # Its authorization is the reused valid one, or made valid here: finalize needs it ready.
    s.mysql("UPDATE authorizations a JOIN order_authorizations oa ON oa.authz_id = a.id "
            "SET a.status = 'valid' WHERE oa.order_id = %d" % oid)
    _, csr = acme.make_csr(["ari.example.com"])
    f = c.finalize(issuance.finalize_url(s, oid), csr)
    tap.is_(f.status_code, 200, "finalize of the order that replaces: 200")
    fin = f.json() if f.status_code == 200 else {}
    tap.is_(fin.get("replaces"), certid, "finalize's order names what it replaces")
    tap.is_(f.headers.get("Location"), issuance.order_url(s, oid), "finalize: Location")
    g = c.get_order(issuance.order_url(s, oid))
    got = g.json() if g.status_code == 200 else {}
    tap.is_(got.get("replaces"), certid, "GET's order names it too")
    moving = ("status", "certificate")
    tap.is_(sorted(k for k in fin if k not in moving), sorted(k for k in got if k not in moving),
            "finalize and GET answer the same fields")
    diff = [k for k in set(fin) | set(got) if k not in moving and fin.get(k) != got.get(k)]
    if not tap.ok(fin and not diff, "finalize's order equals GET's field by field, "
                  "status and certificate aside"):
        tap.diag("finalize: %s\nGET: %s" % (fin, got))
    tap.ok(fin.get("status") in ("processing", "valid") and
           (fin.get("status") != "valid" or fin.get("certificate") == got.get("certificate")),
           "the status finalize answered (%s) and its certificate URL agree with GET"
           % fin.get("status"))


def main():
    proc.alarm(85)
    s = issuance.stack()
    c = issuance.account(s)
    other = issuance.account(s)
    tap.is_(c.directory().get("renewalInfo"), s.base + "/acme/renewal-info",
            "directory: renewalInfo")

    cert, _, _, _ = issuance.issue(s, c, ["ari.example.com"])
    certid = acme.ari_certid(cert)
    r = c.renewal_info(certid)
    tap.is_(r.status_code, 200, "renewalInfo: 200")
    tap.ok(r.headers.get("Content-Type", "").startswith("application/json"), "JSON")
    tap.ok(r.headers.get("Retry-After", "").isdigit(), "Retry-After: %s"
           % r.headers.get("Retry-After"))
    w = r.json().get("suggestedWindow", {})
    nb = utc(cert, "not_valid_before")
    na = utc(cert, "not_valid_after")
    start, end = ts(w.get("start", "1970-01-01T00:00:00Z")), ts(w.get("end", "1970-01-01T00:00:00Z"))
    tap.ok(nb < start < end < na, "the window lies inside the validity")
    tap.ok(start >= nb + (na - nb) * 2 / 3 - 2, "and in its last third")
    tap.is_(c.session.head(c.url("renewalInfo") + "/" + certid, verify=s.ca_file).status_code,
            200, "HEAD: 200")
    tap.is_(c.post(c.url("renewalInfo") + "/" + certid, {}).status_code, 405, "POST: 405")

    aki, ser = certid.split(".")
    for name, cid, status in (
            ("unknown serial", aki + "." + acme.b64u(b"\x01" + b"\x00" * 16), 404),
            ("other AKI", acme.b64u(b"\x00" * 20) + "." + ser, 404),
            ("no dot", aki + ser, 400),
            ("two dots", certid + ".AA", 400),
            ("not base64url", aki + ".+/=", 400),
            ("negative serial", aki + "." + acme.b64u(b"\x80\x01"), 400),
            ("empty", ".", 400)):
        r = c.renewal_info(cid)
        tap.is_(r.status_code, status, "%s: %d" % (name, status))

    # --- revoked: renew now ---
    cert2, _, _, _ = issuance.issue(s, c, ["revoked-ari.example.com"])
    tap.is_(c.revoke(cert2.public_bytes(serialization.Encoding.DER), reason=4).status_code, 200,
            "revoked")
    r = c.renewal_info(acme.ari_certid(cert2))
    w = r.json().get("suggestedWindow", {}) if r.status_code == 200 else {}
    tap.ok(r.status_code == 200 and ts(w["start"]) < ts(w["end"]) <= time.time() + 1,
           "a revoked certificate's window is now (in the past): %s" % w)

    # --- replaces in newOrder (RFC 9773 §5) ---
    r = c.new_order(["ari.example.com"], profile="rsa")
    if r.status_code != 201:
        tap.diag("newOrder is not available here (%d %s): replaces not tested"
                 % (r.status_code, r.text[:200]))
    else:
        tap.ok(problem(other.new_order(["ari.example.com"], profile="rsa", replaces=certid),
                       403, "unauthorized"), "replaces a certificate of another account: "
               "unauthorized")
        unknown = aki + "." + acme.b64u(b"\x01" + b"\x00" * 16)
        tap.ok(problem(c.new_order(["ari.example.com"], profile="rsa", replaces=unknown),
                       400, "malformed"), "replaces an unknown certificate: malformed")
        r = c.new_order(["ari.example.com"], profile="rsa", replaces=certid)
        tap.is_(r.status_code, 201, "replaces our certificate: 201")
        tap.is_(r.json().get("replaces") if r.status_code == 201 else None, certid,
                "the order names what it replaces")
        tap.ok(problem(c.new_order(["ari.example.com"], profile="rsa", replaces=certid),
                       409, "alreadyReplaced"), "replacing it again: 409 alreadyReplaced")
        if r.status_code == 201:
            finalize_like_get(s, c, r, certid)
    issuance.check_sanitizers(s)


tap.run(main)
