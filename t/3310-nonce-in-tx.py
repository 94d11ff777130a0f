#!/usr/bin/python3
"""The nonce of newOrder, a challenge and finalize is redeemed by the request's first transaction
(db_defer_first), not by a durable commit of its own; replay protection is the same as for every
other request (RFC 8555 §6.5). A replay of a successful request is badNonce and writes nothing; a
nonce whose transaction rolled back, or that met no transaction (an error first, a POST-as-GET),
is spent before the answer all the same; two requests holding one nonce at once (both inside
their transactions, on two workers) let exactly one through."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, problem, ready_order  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

USED = "the nonce has already been used"


def main():
    proc.alarm(110)
    s = issuance.stack(config={"acme": {"authz_reuse": 0, "default_profile": "rsa",
                                        "finalize_budget_ms": 3000}}, workers=2)
    c = issuance.account(s)
    key = bytes.fromhex(s.config["nonce"]["key"])

    def spent(nonce):
        """Whether the replay table holds nonce (its plaintext is the key, lib/nonce.h)."""
        raw = acme.b64u_decode(nonce)
        nid = AESGCM(key).decrypt(raw[:12], raw[12:], None)
        return s.mysql("SELECT COUNT(*) FROM nonces WHERE id = UNHEX('%s')" % nid.hex()) \
            .strip() == "1"

    def count(table, where="1"):
        return int(s.mysql("SELECT COUNT(*) FROM %s WHERE %s" % (table, where)).strip())

    def order_status(oid):
        return s.mysql("SELECT status FROM orders WHERE id = %d" % oid).strip()

    def logged(send):
        """send(), with the server's general log on: (its response, the statement each nonce
        INSERT followed on its connection)."""
        r, rows = s.general_log(send)
        last, before = {}, []
        for row in rows:
            tid, arg = row[0], row[-1]
            if arg.startswith("INSERT INTO nonces"):
                before.append(last.get(tid))
            last[tid] = arg
        return r, before

    def replayed(r, name):
        """badNonce for a nonce already spent, with the answer's own headers gone."""
        ok = problem(r, 400, "badNonce") and r.json().get("detail") == USED and \
            "Location" not in r.headers and r.headers.get("Replay-Nonce")
        if not tap.ok(ok, name):
            tap.diag("got %d %s" % (r.status_code, r.text[:300]))

    # --- newOrder: the replay (another payload, same nonce) creates nothing ---
    n = c.nonce()
    r, ins = logged(lambda: c.new_order(["one.example.com"], nonce=n))
    tap.is_(r.status_code, 201, "newOrder: 201")
    tap.is_(ins, ["START TRANSACTION"], "newOrder: the nonce INSERT opens the transaction")
    order = r.json()
    tap.ok(spent(n), "newOrder: its nonce is spent (committed with the order)")
    before = (count("orders"), count("authorizations"), count("challenges"))
    replayed(c.new_order(["two.example.com"], nonce=n), "newOrder replayed: badNonce")
    tap.is_((count("orders"), count("authorizations"), count("challenges")), before,
            "newOrder replayed: no order, authorization or challenge created")

    # --- challenge response: the replay, on another pending challenge, queues nothing ---
    a = c.get_authz(order["authorizations"][0]).json()
    ch = c.challenge_of(a, "http-01")
    r2 = c.new_order(["three.example.com"])
    ch2 = c.challenge_of(c.get_authz(r2.json()["authorizations"][0]).json(), "http-01")
    n = c.nonce()
    r, ins = logged(lambda: c.respond_challenge(ch["url"], nonce=n))
    tap.is_((r.status_code, r.json().get("status")), (200, "processing"),
            "challenge response: 200 processing (no anvil-jobs here)")
    tap.is_(ins, ["START TRANSACTION"], "challenge response: the nonce INSERT opens the "
            "transaction")
    jobs = count("jobs")
    replayed(c.respond_challenge(ch2["url"], nonce=n), "challenge response replayed: badNonce")
    tap.is_(count("jobs"), jobs, "challenge response replayed: no validation queued")
    tap.is_(s.mysql("SELECT IF(chall_attempted <=> 'http-01', chall_status, 'pending') FROM "
                    "authorizations WHERE token_http01 = '%s'" % ch2["token"]).strip(),
            "pending", "challenge response replayed: the other challenge is still pending")

    # --- a read-only POST-as-GET of a challenge: spent at the end, refused after ---
    n = c.nonce()
    r, ins = logged(lambda: c.post_as_get(ch2["url"], nonce=n))
    tap.is_(r.status_code, 200, "challenge POST-as-GET: 200")
    tap.ok(len(ins) == 1 and ins[0] != "START TRANSACTION",
           "challenge POST-as-GET: one nonce INSERT, on its own")
    tap.ok(spent(n), "challenge POST-as-GET: the nonce was spent without a transaction")
    replayed(c.post_as_get(ch2["url"], nonce=n), "challenge POST-as-GET replayed: badNonce")
    replayed(c.respond_challenge(ch2["url"], nonce=n),
             "its nonce on a challenge response: badNonce")
    tap.is_(count("jobs"), jobs, "... and nothing queued")

    # --- finalize: the replay, on another ready order, changes nothing ---
    names = ["fin.example.com"]
    oid, oid2 = ready_order(s, c, names), ready_order(s, c, names)
    _, csr = acme.make_csr(names)
    n = c.nonce()
    r, ins = logged(lambda: c.finalize(finalize_url(s, oid), csr, nonce=n))
    tap.is_((r.status_code, r.json().get("status")), (200, "valid"), "finalize: 200 valid")
    tap.is_(ins, ["START TRANSACTION"], "finalize: the nonce INSERT opens the first transaction")
    rows = (count("jobs"), count("serials"), count("certificates"))
    replayed(c.finalize(finalize_url(s, oid2), csr, nonce=n), "finalize replayed: badNonce")
    tap.is_(order_status(oid2), "ready", "finalize replayed: the other order is still ready")
    tap.is_((count("jobs"), count("serials"), count("certificates")), rows,
            "finalize replayed: no job, serial or certificate")

    # --- finalize refused before any transaction (orderNotReady): spent all the same ---
    n = c.nonce()
    # (another CSR: the same one is a retry, answered with the order)
    tap.ok(problem(c.finalize(finalize_url(s, oid), acme.make_csr(names)[1], nonce=n), 403,
                   "orderNotReady"), "finalize of a valid order: 403 orderNotReady")
    tap.ok(spent(n), "orderNotReady: the nonce was spent")
    replayed(c.finalize(finalize_url(s, oid2), csr, nonce=n),
             "its nonce on a ready order: badNonce")
    tap.is_(order_status(oid2), "ready", "... which stays ready")

    # --- a transaction that rolls back (the job insert fails after the order turned
    # processing): nothing of it stays, and its nonce is spent after the rollback ---
    s.mysql("DELIMITER //\nCREATE TRIGGER t3310 BEFORE INSERT ON jobs FOR EACH ROW "
            "IF NEW.kind = 'finalize' AND NEW.ref_id = %d THEN "
            "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 't3310'; END IF//" % oid2)
    n = c.nonce()
    r = c.finalize(finalize_url(s, oid2), csr, nonce=n)
    tap.is_(r.status_code, 500, "finalize whose transaction fails: 500 (injected failure)")
    tap.is_(order_status(oid2), "ready", "rolled back: the order is ready, not processing")
    tap.is_(count("jobs", "ref_id = %d" % oid2), 0, "rolled back: no job")
    tap.ok(spent(n), "rolled back: the nonce was spent on its own")
    s.mysql("DROP TRIGGER t3310")
    replayed(c.finalize(finalize_url(s, oid2), csr, nonce=n),
             "its nonce again, with the failure gone: badNonce")
    tap.is_(order_status(oid2), "ready", "... and the order is still ready")

    # --- one nonce, two requests inside their transactions at once (two workers): the
    # replay table is locked until both wait on it, then exactly one gets through ---
    def race(name, send, check):
        twin = acme.Client(s.directory_url, s.ca_file, key=c.key)
        twin.kid = c.kid
        n = c.nonce()
        out = [None, None]

        def go(i, cl):
            try:
                out[i] = send(i, cl, n)
            except Exception as e:  # noqa: BLE001 - reported below
                out[i] = e
        with s.mysql_session() as lock:
            lock.query("LOCK TABLES nonces WRITE")
            ts = [threading.Thread(target=go, args=(i, cl)) for i, cl in enumerate((c, twin))]
            for t in ts:
                t.start()
            time.sleep(1.5)
            busy = s.mysql("SELECT COUNT(*) FROM information_schema.processlist WHERE "
                           "info LIKE 'INSERT INTO nonces%'").strip()
            lock.query("UNLOCK TABLES")
        for t in ts:
            t.join(30)
        tap.is_(busy, "2", "%s: both requests waited on the replay table" % name)
        codes = sorted(getattr(r, "status_code", -1) for r in out)
        good = [r for r in out if getattr(r, "status_code", 0) in (200, 201)]
        bad = [r for r in out if getattr(r, "status_code", 0) == 400]
        if not tap.ok(len(good) == 1 and len(bad) == 1 and problem(bad[0], 400, "badNonce"),
                      "%s: one through, one badNonce" % name):
            tap.diag("got %r %r" % (codes, [getattr(r, "text", r) for r in out]))
        check()

    orders = count("orders")
    race("newOrder", lambda i, cl, n: cl.new_order(["race%d.example.com" % i], nonce=n),
         lambda: tap.is_(count("orders"), orders + 1, "newOrder race: one order created"))
    ra, rb = ready_order(s, c, names), ready_order(s, c, names)
    race("finalize", lambda i, cl, n: cl.finalize(finalize_url(s, (ra, rb)[i]), csr, nonce=n),
         lambda: tap.is_(sorted((order_status(ra), order_status(rb))), ["ready", "valid"],
                         "finalize race: one order valid, the other still ready"))

    # The next request of the client works (no state left on the worker's db handle).
    tap.is_(c.new_order(["after.example.com"]).status_code, 201, "a fresh nonce still works")
    issuance.check_sanitizers(s)


tap.run(main)
