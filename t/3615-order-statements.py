#!/usr/bin/python3
"""Round trips of the order requests (issue 15), from the server's general log: every
POST-as-GET (order, authorization, challenge, certificate) is two statements, the signing
account read with the resource (the order with its authorizations) and the nonce, and answers
an unknown account, a deactivated one, a bad signature, url or nonce, a missing resource and
another account's as it did with the account read alone; newOrder reads the
account's EAB profile scope with the account, not in a statement of its own, and writes an
order's links and registered domains 16 to a statement; finalize reads the
order once and checks the CSR key's blocked and account-key conditions inside its write (no
key look-up on the way to a certificate), and still refuses a blocked key (badPublicKey) and an
account's key (badCSR) with nothing written and no serial spent."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, order_url, problem, ready_order  # noqa: E402


def main():
    proc.alarm(110)
    s = issuance.stack(config={"acme": {"authz_reuse": 0, "default_profile": "rsa",
                                        "finalize_budget_ms": 3000}}, workers=1)
    c = issuance.account(s)

    def logged(send):
        """send(), with the general log on: (its response, the statements of the worker's
        session that redeemed the request's nonce, in order)."""
        r, rows = s.general_log(send)
        tids = {row[0] for row in rows if row[-1].startswith("INSERT INTO nonces")}
        return r, [row[-1] for row in rows if row[0] in tids]

    def reads(stmts, table):
        return [x for x in stmts if x.startswith("SELECT") and
                (" FROM %s " % table in x or " JOIN %s " % table in x)]

    def two(st, table, name):
        """st is the account read joined with table's, and the nonce."""
        one = reads(st, table)
        ok = len(st) == 2 and len(one) == 1 and " FROM accounts " in one[0] and \
            any(x.startswith("INSERT INTO nonces") for x in st)
        if not tap.ok(ok, name):
            tap.diag("\n".join(st))

    # --- the order by POST-as-GET: one read of account, order and authorizations, nonce ---
    names = ["one.example.com", "two.example.com", "three.example.com"]
    oid = ready_order(s, c, names)
    r, st = logged(lambda: c.post_as_get(order_url(s, oid)))
    tap.is_(r.status_code, 200, "order POST-as-GET: 200")
    azs = r.json().get("authorizations", [])
    tap.is_((len(azs), azs), (3, sorted(azs, key=lambda u: int(u.rsplit("/", 1)[1]))),
            "it lists the 3 authorizations in id order")
    tap.is_(len(reads(st, "authorizations")), 1, "the order's authorizations come in that read")
    two(st, "orders", "2 statements: the account with the order, the nonce")

    # An order without links (only ever a damaged one) is still answered whole.
    bare = ready_order(s, c, ["bare.example.com"])
    s.mysql("DELETE FROM order_authorizations WHERE order_id = %d" % bare)
    r, st = logged(lambda: c.post_as_get(order_url(s, bare)))
    tap.is_((r.status_code, r.json().get("identifiers"), r.json().get("authorizations")),
            (200, [{"type": "dns", "value": "bare.example.com"}], []),
            "an order without links: 200, its identifiers, no authorizations")
    tap.is_(len(st), 2, "... after 2 statements")

    # --- authorization and challenge by POST-as-GET ---
    r, st = logged(lambda: c.get_authz(azs[0]))
    tap.is_((r.status_code, r.json().get("status")), (200, "valid"), "authz POST-as-GET: 200")
    two(st, "authorizations", "2 statements: the account with the authorization, the nonce")
    curl = r.json()["challenges"][0]["url"]
    r, st = logged(lambda: c.post_as_get(curl))
    tap.is_((r.status_code, r.json().get("status")), (200, "valid"),
            "challenge POST-as-GET: 200")
    tap.ok('<%s>;rel="up"' % azs[0] in r.headers.get("Link", ""), "with its Link rel=up")
    two(st, "authorizations", "2 statements: the account with the challenge's row, the nonce")

    # --- the same answers as with the account read alone ---
    other = issuance.account(s)
    # (A challenge id below 2^60 is one of the old challenges table: looked up there first.)
    for what, url, missing in (("order", order_url(s, oid), 999999999),
                               ("authorization", azs[0], 999999999),
                               ("challenge", curl, (1 << 60) + 4 * 999999999)):
        r, st = logged(lambda: other.post_as_get(url))
        tap.ok(problem(r, 403, "unauthorized") and "another account" in r.json()["detail"],
               "another account's %s: 403 unauthorized" % what)
        tap.is_(len(st), 2, "... after 2 statements")
        gone = url[:url.rindex("/") + 1] + str(missing)
        r, st = logged(lambda: c.post_as_get(gone))
        tap.is_((r.status_code, r.json().get("detail")), (404, "no such %s" % what),
                "a missing %s: 404" % what)
        tap.is_(len(st), 2, "... after 2 statements")
    r = c.post_as_get(azs[0], kid=c.kid.rsplit("/", 1)[0] + "/999999999")
    tap.ok(problem(r, 400, "accountDoesNotExist"), "an unknown kid: accountDoesNotExist")
    r = c.post_as_get(azs[0], signature=b"\x01" * 64)
    tap.ok(problem(r, 400, "malformed") and "signature" in r.json()["detail"],
           "a bad signature: malformed")
    r = c.post_as_get(azs[0], url_override=azs[1])
    tap.ok(problem(r, 403, "unauthorized") and "url" in r.json()["detail"],
           "another url in the JWS: unauthorized")
    r = c.post_as_get(azs[0], nonce="AAAA")
    tap.ok(problem(r, 400, "badNonce"), "a bad nonce: badNonce")
    n = c.nonce()
    tap.is_(c.post_as_get(azs[0], nonce=n).status_code, 200, "a nonce once")
    tap.ok(problem(c.post_as_get(azs[0], nonce=n), 400, "badNonce"), "... and not twice")
    d = issuance.account(s)
    doid = ready_order(s, d, ["deact.example.com"])
    daz = d.get_order(order_url(s, doid)).json()["authorizations"][0]
    tap.is_(d.post(d.kid, {"status": "deactivated"}).status_code, 200, "an account deactivated")
    for what, url in (("order", order_url(s, doid)), ("authorization", daz)):
        r = d.post_as_get(url)
        tap.ok(problem(r, 403, "unauthorized") and "deactivated" in r.json()["detail"],
               "its %s: 403 unauthorized, the account is deactivated" % what)

    # --- newOrder: the EAB scope comes with the account ---
    r, st = logged(lambda: c.new_order(["new.example.com"]))
    tap.is_(r.status_code, 201, "newOrder: 201")
    eab = reads(st, "eab_keys")
    tap.ok(len(eab) == 1 and " FROM accounts " in eab[0],
           "newOrder reads eab_keys once, joined to the account look-up")

    # --- newOrder of 20 names: links and domains 16 to a statement ---
    many = ["n%02d.example%02d.com" % (i, i) for i in range(20)]
    r, st = logged(lambda: c.new_order(many))
    tap.is_(r.status_code, 201, "newOrder of 20 names: 201")
    links = [x for x in st if x.startswith("INSERT INTO order_authorizations")]
    doms = [x for x in st if x.startswith("INSERT IGNORE INTO order_domains")]
    tap.is_((len(links), len(doms)), (2, 2), "2 statements each for its links and its domains")
    oid = int(r.headers["Location"].rsplit("/", 1)[1])
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM order_authorizations WHERE order_id = %d" % oid),
            [["20"]], "20 links stored")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM order_domains WHERE order_id = %d" % oid),
            [["20"]], "20 registered domains stored")
    r = c.post_as_get(order_url(s, oid))
    tap.is_(len(r.json().get("authorizations", [])), 20, "the order lists 20 authorizations")

    # --- finalize: refusals by the key conditions of the write ---
    blocked_key = acme.generate_csr_key("ES256")
    der = blocked_key.public_key().public_bytes(
        acme.serialization.Encoding.DER, acme.serialization.PublicFormat.SubjectPublicKeyInfo)
    s.mysql("INSERT INTO blocked_keys (spki_sha256, reason, created) VALUES (UNHEX('%s'), "
            "'test', 0)" % hashlib.sha256(der).hexdigest())
    fin = ["fin.example.com"]
    oid = ready_order(s, c, fin)
    r = c.finalize(finalize_url(s, oid), acme.make_csr(fin, key=blocked_key)[1])
    tap.ok(problem(r, 400, "badPublicKey") and "blocked" in r.json().get("detail", ""),
           "a blocked key: badPublicKey, the detail says blocked")
    r = c.finalize(finalize_url(s, oid), acme.make_csr(fin, key=c.key)[1])
    tap.ok(problem(r, 400, "badCSR") and "account key" in r.json().get("detail", ""),
           "the account's key: badCSR, the detail says account key")
    tap.is_(s.mysql_rows("SELECT status, csr IS NULL FROM orders WHERE id = %d" % oid),
            [["ready", "1"]], "after both the order is still ready, no CSR stored")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM serials WHERE order_id = %d" % oid), [["0"]],
            "no serial spent")

    # --- finalize that issues: one order read, no key look-up of its own ---
    r, st = logged(lambda: c.finalize(finalize_url(s, oid), acme.make_csr(fin)[1]))
    tap.is_((r.status_code, r.json().get("status")), (200, "valid"), "finalize: 200 valid")
    tap.is_(len(reads(st, "orders")), 1, "finalize reads the order once")
    tap.ok(len(reads(st, "orders")) == 1 and " FROM accounts " in reads(st, "orders")[0] and
           len(reads(st, "accounts")) == 1, "... together with the signing account (one read)")
    tap.is_(reads(st, "blocked_keys"), [], "no separate key look-up")
    tap.ok(any(x.startswith("UPDATE orders SET status = 'processing'") and "blocked_keys" in x
               for x in st), "the key conditions ride the order's move to processing")

    # --- the certificate by POST-as-GET ---
    cert = r.json()["certificate"]
    r, st = logged(lambda: c.download(cert))
    tap.ok(r.status_code == 200 and r.text.startswith("-----BEGIN CERTIFICATE-----"),
           "certificate POST-as-GET: 200, PEM")
    two(st, "certificates", "2 statements: the account with the certificate, the nonce")
    r, st = logged(lambda: other.download(cert))
    tap.ok(problem(r, 403, "unauthorized"), "another account's certificate: 403 unauthorized")
    tap.is_(len(st), 2, "... after 2 statements")
    r, st = logged(lambda: c.download(cert[:cert.rindex("/") + 1] + "ab"))
    tap.is_((r.status_code, r.json().get("detail")), (404, "no such certificate"),
            "a missing certificate: 404")
    tap.is_(len(st), 2, "... after 2 statements")
    issuance.check_sanitizers(s)
    s.stop()


if __name__ == "__main__":
    tap.run(main)
