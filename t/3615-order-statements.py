#!/usr/bin/python3
"""Round trips of the order requests (issue 15), from the server's general log: the order by
POST-as-GET reads the order and its authorizations in one statement; newOrder reads the
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

    # --- the order by POST-as-GET: account, nonce, one read of order and authorizations ---
    names = ["one.example.com", "two.example.com"]
    oid = ready_order(s, c, names)
    r, st = logged(lambda: c.post_as_get(order_url(s, oid)))
    tap.is_(r.status_code, 200, "order POST-as-GET: 200")
    tap.is_(len(r.json().get("authorizations", [])), 2, "it lists both authorizations")
    tap.is_(len(reads(st, "orders")), 1, "the order is read in one statement")
    tap.is_(len(reads(st, "authorizations")), 1, "... which reads its authorizations too")
    if not tap.is_(len(st), 3, "3 statements: account, nonce, order with authorizations"):
        tap.diag("\n".join(st))

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
    tap.is_(reads(st, "blocked_keys"), [], "no separate key look-up")
    tap.ok(any(x.startswith("UPDATE orders SET status = 'processing'") and "blocked_keys" in x
               for x in st), "the key conditions ride the order's move to processing")
    issuance.check_sanitizers(s)
    s.stop()


if __name__ == "__main__":
    tap.run(main)
