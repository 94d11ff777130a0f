#!/usr/bin/python3
"""The serial of a finalized order is recorded durably before the first signature (DESIGN.md
invariant 2), now with the order's move to processing rather than in a commit of its own. With
a slow HSM (tools/slowhsm: 1.5 s a signature) and a finalize budget long enough for the request
to sign both the certificate and its first OCSP response: while the signature is in progress, another session already sees the order
processing with its serial and no certificate; the certificate then carries that serial. Then
the crash between that commit and the signature: the API worker is killed while the HSM signs,
and anvil-jobs (started only then) finishes the durable job with the recorded serial: exactly
one serial and one certificate for the order."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, order_url, ready_order  # noqa: E402

SIGN_US = 1500000


def seen_while_signing(s, oid, done):
    """The first (serial, status, certificates) row seen for the order while done is unset."""
    q = ("SELECT s.serial, o.status, (SELECT COUNT(*) FROM certificates c WHERE "
         "c.order_id = o.id) FROM serials s JOIN orders o ON o.id = s.order_id "
         "WHERE s.order_id = %d" % oid)
    while not done.is_set():
        rows = s.mysql_rows(q)
        if rows and not done.is_set():
            return rows[0]
        time.sleep(0.05)
    return None


def finalize_in_thread(c, s, oid, names, out, done):
    def run():
        try:
            r = c.finalize(finalize_url(s, oid), acme.make_csr(names)[1])
            out.append((r.status_code, r.json() if r.status_code == 200 else r.text[:200]))
        except Exception as e:  # noqa: BLE001  (the worker killed under it)
            out.append((0, str(e)))
        done.set()
    th = threading.Thread(target=run)
    th.start()
    return th


def main():
    proc.alarm(100)
    slow = issuance.slow_hsm(SIGN_US, 1)
    s = issuance.stack(config={"signer": {"module": slow},
                               "acme": {"finalize_budget_ms": 4500}}, jobs=True)
    s.jobs.stop()   # the request signs alone; anvil-jobs only for the crash below
    c = issuance.account(s)

    # --- the serial is visible to another session while the request signs ---
    names = ["durable.example.com"]
    oid = ready_order(s, c, names)
    out, done = [], threading.Event()
    t0 = time.time()
    th = finalize_in_thread(c, s, oid, names, out, done)
    seen = seen_while_signing(s, oid, done)
    seen_at = time.time() - t0
    th.join()
    took = time.time() - t0
    tap.ok(seen is not None, "the serials row is committed while the finalize is in progress "
           "(%s at %.2f s of %.2f s)" % (seen, seen_at, took))
    tap.is_(seen[1:] if seen else None, ["processing", "0"],
            "seen with the order processing and no certificate yet: before the signature")
    tap.ok(seen is not None and took - seen_at > SIGN_US / 1e6 / 2,
           "seen well before the signature ended (%.2f s before the answer)" % (took - seen_at))
    st, body = out[0] if out else (0, {})
    tap.is_((st, body.get("status") if isinstance(body, dict) else body), (200, "valid"),
            "the request signed within its budget: valid")
    cert_serial = body.get("certificate", "").rsplit("/", 1)[-1] if isinstance(body, dict) \
        else None
    tap.is_(cert_serial, seen[0] if seen else None,
            "the certificate carries the serial recorded before the signature")
    tap.is_(s.mysql_rows("SELECT (SELECT COUNT(*) FROM serials WHERE order_id = o.id), "
                         "o.status, o.serial = c.serial, j.state FROM orders o JOIN certificates c "
                         "ON c.order_id = o.id JOIN jobs j ON j.kind = 'finalize' AND "
                         "j.ref_id = o.id WHERE o.id = %d" % oid), [["1", "valid", "1", "done"]],
            "one serial for the order; the order valid with it, its finalize job done")

    # --- serial collisions inside finalize's transaction: a trigger refuses the next n
    # serials as duplicates (its counter is MyISAM: the refused INSERT does not undo it) ---
    s.mysql("CREATE TABLE collide_left (n INT NOT NULL) ENGINE=MyISAM; "
            "INSERT INTO collide_left VALUES (0)")
    s.mysql("DELIMITER //\n"
            "CREATE TRIGGER serial_collide BEFORE INSERT ON serials FOR EACH ROW BEGIN "
            "IF (SELECT n FROM collide_left) > 0 THEN UPDATE collide_left SET n = n - 1; "
            "SIGNAL SQLSTATE '23000' SET MYSQL_ERRNO = 1062, MESSAGE_TEXT = 'collision'; "
            "END IF; END//\nDELIMITER ;")
    s.mysql("UPDATE collide_left SET n = 2")
    names = ["collide.example.com"]
    oid = ready_order(s, c, names)
    r = c.finalize(finalize_url(s, oid), acme.make_csr(names)[1])
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "valid"),
            "two colliding serials: another is made in the same transaction, valid")
    tap.is_(s.mysql_rows("SELECT n, (SELECT COUNT(*) FROM serials WHERE order_id = %d), "
                         "(SELECT serial FROM serials WHERE order_id = %d) FROM collide_left"
                         % (oid, oid)),
            [["0", "1", body.get("certificate", "").rsplit("/", 1)[-1]]],
            "both collisions happened; one serial recorded, the certificate's")
    s.mysql("UPDATE collide_left SET n = 3")
    names = ["collide2.example.com"]
    oid = ready_order(s, c, names)
    r = c.finalize(finalize_url(s, oid), acme.make_csr(names)[1])
    tap.is_((r.status_code, r.headers.get("Retry-After", "").isdigit()), (503, True),
            "every serial colliding: 503 with Retry-After, nothing signed")
    tap.is_(s.mysql_rows("SELECT o.status, o.csr IS NULL, (SELECT COUNT(*) FROM serials WHERE "
                         "order_id = o.id), (SELECT COUNT(*) FROM jobs WHERE kind = 'finalize' "
                         "AND ref_id = o.id) FROM orders o WHERE o.id = %d" % oid),
            [["ready", "1", "0", "0"]], "and the transaction undone: still ready, no job")
    r = c.finalize(finalize_url(s, oid), acme.make_csr(names)[1])
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "valid"), "finalized again: valid")
    s.mysql("DROP TRIGGER serial_collide; DROP TABLE collide_left")

    # --- a crash between the commit and the signature: anvil-jobs reuses the serial ---
    names = ["crash.example.com"]
    oid = ready_order(s, c, names)
    out, done = [], threading.Event()
    th = finalize_in_thread(c, s, oid, names, out, done)
    seen = seen_while_signing(s, oid, done)
    tap.ok(seen is not None and seen[1:] == ["processing", "0"],
           "the serial is recorded before the signature (%s)" % (seen,))
    for pid in s.fcgi_worker_pids():
        os.kill(pid, signal.SIGKILL)
    th.join()
    tap.ok(out and out[0][0] != 200, "the request died with its worker (%s)"
           % (out[0] if out else None,))
    tap.is_(s.mysql_rows("SELECT o.status, j.state FROM orders o JOIN jobs j ON "
                         "j.kind = 'finalize' AND j.ref_id = o.id WHERE o.id = %d" % oid),
            [["processing", "queued"]], "the order is processing with its finalize job queued")
    s.jobs.start_runner()
    r = c.poll(order_url(s, oid), timeout=40)
    body = r.json() if r.status_code == 200 else {}
    tap.is_(body.get("status"), "valid", "anvil-jobs finished it")
    tap.is_(body.get("certificate", "").rsplit("/", 1)[-1], seen[0] if seen else None,
            "with the serial recorded before the crash")
    tap.is_(s.mysql_rows("SELECT (SELECT COUNT(*) FROM serials WHERE order_id = %d), "
                         "(SELECT COUNT(*) FROM certificates WHERE order_id = %d)" % (oid, oid)),
            [["1", "1"]], "exactly one serial and one certificate for the order")
    d = c.download(body.get("certificate", s.base + "/acme/cert/00"))
    tap.ok(d.status_code == 200 and issuance.openssl_verify(s, d.text)[0],
           "the certificate downloads and verifies")
    s.jobs.stop()
    issuance.check_sanitizers(s)


tap.run(main)
