#!/usr/bin/python3
"""A challenge response chosen by InnoDB as a deadlock victim is run again inside the request
(db_deadlock_retry), not answered 503: the transaction is idempotent and InnoDB rolled it back
whole, the nonce INSERT with it, so the retry spends the nonce once more and only once.

The deadlock is made, not waited for: a side session is made the heavier transaction (InnoDB
rolls back the one that changed fewer rows) by inserting ballast rows, then inserts the very job
row the response will queue (jobs_kind_ref), so the response, having updated its authorization,
waits on it; the side session then asks for the authorization's row, which the response holds.
The side session must win (its client would die on a deadlock error) and the server must count
one deadlock; the response still answers 200, the challenge ends valid, its validation was queued
once, and the nonce, replayed, is badNonce.

The same for finalize's second transaction, the one after the signature (db_cert_issued): the
side session holds every gap of cert_status, the request inserts its certificate and waits there;
the side session then reads the certificates for update. Only that transaction runs again: the
finalize answers valid at once (not processing, left to anvil-jobs), with one certificate and one
certificate signature.

And for anvil-jobs' finish of a validation (db_va_finish, one statement outside a transaction,
which db_exec runs again): the side session holds the job's row while the target holds its
answer, then asks for the authorization once the finish waits: the challenge turns valid on its
first attempt, the target asked once (not a second attempt after jobs.retry_backoff)."""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client, make_csr  # noqa: E402
from issuance import finalize_url, ready_order  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

BALLAST = 3000
# The side session's wait, from the server itself (an anonymous block, no procedure is stored;
# the processlist, not the lock tables, which are a cache refreshed only after 0.1 s without a
# read): until another connection runs the statement starting with %s.
AWAIT = ("DELIMITER //\nBEGIN NOT ATOMIC DECLARE n INT DEFAULT 0; WHILE n < 2000 AND NOT EXISTS "
         "(SELECT 1 FROM information_schema.PROCESSLIST WHERE id <> CONNECTION_ID() AND info "
         "LIKE CONCAT(%s, '%%')) DO DO SLEEP(0.002); SET n = n + 1; END WHILE; END //\n"
         "DELIMITER ;\n")


def side_closes_cycle(sess, wait_for, then):
    """sess waits for a statement of the request (which then waits for sess), then runs then,
    a locking read of what the request holds: True when sess got it (the request the victim)."""
    try:
        sess.query(AWAIT % ("'" + wait_for + "'") + then, timeout=25)
        return True
    except (RuntimeError, TimeoutError) as e:
        tap.diag("side session: %s" % e)
        return False


def main():
    proc.alarm(90)
    web = HTTPTarget()
    s = start_or_skip(workers=2, signer=True, jobs={"validation": {"http01_port": web.port}},
                      config={"acme": {"validation_wait_ms": 5000, "authz_reuse": 0,
                                       "default_profile": "rsa"}})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account")
    s.mysql("CREATE TABLE IF NOT EXISTS t_ballast (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB")

    r = c.new_order(["deadlock.example.test"])
    tap.is_(r.status_code, 201, "order")
    authz_url = r.json()["authorizations"][0]
    aid = int(authz_url.rsplit("/", 1)[1])
    ch = c.challenge_of(c.get_authz(authz_url).json(), "http-01")
    cid = int(ch["url"].rsplit("/", 1)[1])
    web.challenge(ch["token"], c.key_authorization(ch["token"]).encode())

    def deadlocks():
        return int(s.mysql_rows("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")[0][1])

    before = deadlocks()
    sess = s.mysql_session()
    sess.query("START TRANSACTION; INSERT INTO t_ballast SELECT seq FROM seq_1_to_%d; "
               "INSERT INTO jobs (kind, ref_id, state, run_after, created) "
               "VALUES ('validate', %d, 'queued', 0, 0)" % (BALLAST, cid))

    nonce = c.nonce()
    out = []

    def respond():
        r = c.respond_challenge(ch["url"], nonce=nonce)
        out.append((r.status_code, r.json() if r.headers.get("Content-Type", "").endswith(
            "json") else r.text[:300]))
    th = threading.Thread(target=respond)
    th.start()
    # The response is in its transaction, its authorization updated, at the job row we hold.
    # Whichever of the two waits second closes the cycle, within milliseconds, as one with
    # anvil-jobs does (DB_DEADLOCK_WITHIN_MS).
    won = side_closes_cycle(sess, "INSERT INTO jobs (kind, ref_id, state, run_after, attempts, "
                            "created, waiter)", "SELECT id FROM authorizations WHERE id = %d "
                            "FOR UPDATE" % aid)
    tap.ok(won, "the heavier side session got the authorization: the response was the victim")
    tap.ok(deadlocks() > before, "InnoDB detected a deadlock (Innodb_deadlocks %d -> %d)"
           % (before, deadlocks()))
    if won:
        sess.query("ROLLBACK")
    sess.close()
    th.join(30)

    st, body = out[0] if out else (0, None)
    if not tap.is_(st, 200, "the deadlock victim's response is run again: 200, not 503"):
        tap.diag("%s" % (body,))
    status = body.get("status") if isinstance(body, dict) else None
    if status == "processing":
        status = c.poll(ch["url"], timeout=20).json().get("status")
    tap.is_(status, "valid", "the challenge ends valid")
    tap.is_(s.mysql_rows("SELECT COUNT(*), MAX(state) FROM jobs WHERE kind = 'validate' AND "
                         "ref_id = %d" % cid), [["1", "done"]], "one validation job, done")

    r = c.respond_challenge(ch["url"], nonce=nonce)
    tap.ok(r.status_code == 400 and r.json().get("type", "").endswith(":badNonce"),
           "the nonce was spent, once: replayed, badNonce (%d %s)" % (r.status_code,
                                                                       r.text[:200]))
    log = open(os.path.join(s.dir, "run", "anvil-fcgi.log")).read()
    lines = [ln for ln in log.splitlines() if "deadlock victim" in ln]
    if tap.ok(lines, "the worker logged the retry"):
        tap.diag(lines[0])

    # --- finalize: the transaction after the signature ---
    def signatures():
        log = open(os.path.join(s.dir, "run", "anvil-signer.log")).read()
        return log.count("event=sign what=cert ")

    oid = ready_order(s, c, ["fin-deadlock.example.test"])
    _, csr = make_csr(["fin-deadlock.example.test"])
    before, signed = deadlocks(), signatures()
    sess = s.mysql_session()
    sess.query("START TRANSACTION; INSERT INTO t_ballast SELECT seq FROM seq_1_to_%d; "
               "SELECT COUNT(*) FROM cert_status FOR UPDATE" % BALLAST)
    out = []

    def finalize():
        r = c.finalize(finalize_url(s, oid), csr)
        out.append((r.status_code, r.json() if r.headers.get("Content-Type", "").endswith(
            "json") else r.text[:300]))
    th = threading.Thread(target=finalize)
    th.start()
    won = side_closes_cycle(sess, "INSERT INTO cert_status", "SELECT COUNT(*) FROM certificates "
                            "FOR UPDATE")
    tap.ok(won, "finalize: the heavier side session got the certificates: the request was the "
           "victim")
    tap.ok(deadlocks() > before, "finalize: InnoDB detected a deadlock")
    if won:
        sess.query("ROLLBACK")
    sess.close()
    th.join(30)
    st, body = out[0] if out else (0, None)
    if not tap.is_((st, body.get("status") if isinstance(body, dict) else body), (200, "valid"),
                   "finalize: the transaction after the signature ran again: valid at once"):
        tap.diag("%s" % (body,))
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM certificates WHERE order_id = %d" % oid),
            [["1"]], "finalize: one certificate")
    tap.is_(signatures() - signed, 1, "finalize: signed once")

    # --- anvil-jobs: the validation's finish, one statement ---
    r = c.new_order(["finish-deadlock.example.test"])
    authz_url = r.json()["authorizations"][0]
    aid = int(authz_url.rsplit("/", 1)[1])
    ch = c.challenge_of(c.get_authz(authz_url).json(), "http-01")
    cid = int(ch["url"].rsplit("/", 1)[1])
    path = web.challenge(ch["token"], c.key_authorization(ch["token"]).encode())
    ev = threading.Event()
    web.delay[path] = ev
    th = threading.Thread(target=lambda: c.respond_challenge(ch["url"]))
    th.start()
    proc.wait_for(lambda: web.count(path) >= 1, 20, 0.05, "validation at the target")
    before = deadlocks()
    sess = s.mysql_session()
    sess.query("START TRANSACTION; INSERT INTO t_ballast SELECT seq FROM seq_1_to_%d; "
               "SELECT id FROM jobs WHERE kind = 'validate' AND ref_id = %d FOR UPDATE"
               % (BALLAST, cid))
    ev.set()
    # The job is the statement's constant table, read (and locked) first.
    won = side_closes_cycle(sess, "UPDATE authorizations a JOIN jobs j", "SELECT id FROM "
                            "authorizations WHERE id = %d FOR UPDATE" % aid)
    tap.ok(won, "finish: the heavier side session got the authorization: the finish was the "
           "victim")
    tap.ok(deadlocks() > before, "finish: InnoDB detected a deadlock")
    if won:
        sess.query("ROLLBACK")
    sess.close()
    th.join(30)
    row = s.jobs.wait_challenge(cid, timeout=20)
    tap.is_(row["status"], "valid", "finish: the challenge is valid")
    tap.is_((s.jobs.job_row(cid)[:2], web.count(path)), (["done", "1"], 1),
            "finish: run again at once: one attempt, the target asked once")
    jlog = open(s.jobs.log_path()).read()
    tap.ok("deadlock victim" in jlog, "finish: anvil-jobs logged the retry")
    s.mysql("DROP TABLE t_ballast")


tap.run(main)
