#!/usr/bin/python3
"""No order is stranded in `processing` (issue 12 item 4). With max_attempts 2, a signer outage
that outlasts many attempts: the finalize job keeps being retried with backoff (attempts and
age in its row and in anvil-jobs' log line, never `failed`), and the order ends valid once the
signer is back. An order that expires while issuance cannot proceed turns invalid with a
serverInternal problem instead of staying processing. The sweep: orders in processing whose job
was failed (as an older release left them) or deleted are queued again and end valid."""
import hashlib
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, order_url, ready_order  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402


def job(s, oid):
    rows = s.mysql_rows("SELECT state, attempts, last_error, created FROM jobs WHERE "
                        "kind = 'finalize' AND ref_id = %d" % oid)
    return rows[0] if rows else None


def order_row(s, oid):
    return s.mysql_rows("SELECT status, error FROM orders WHERE id = %d" % oid)[0]


def processing(s, c, name):
    """A fresh order finalized while the signer is down: 200 processing."""
    oid = ready_order(s, c, [name])
    r = c.finalize(finalize_url(s, oid), acme.make_csr([name])[1])
    st = r.json().get("status") if r.status_code == 200 else r.text[:200]
    tap.is_((r.status_code, st), (200, "processing"),
            "%s: finalize with the signer down answers 200 processing" % name)
    return oid


def main():
    proc.alarm(240)
    s = issuance.stack(jobs={"max_attempts": 2, "retry_backoff": 1, "poll_interval": 1,
                             "sweep_interval": 1})
    proc.wait_for(lambda: os.path.exists(s.jobs.log_path()), 10, 0.1, "anvil-jobs log")
    with open(s.jobs.log_path()) as f:
        if "finalize jobs wait" in f.read():
            tap.skip_all("anvil-jobs cannot issue here (jobs/Makefile.inc)")
    c = issuance.account(s)

    # --- an outage longer than max_attempts ---
    s.stop_signer()
    oid = processing(s, c, "outage.example.com")
    proc.wait_for(lambda: int(job(s, oid)[1]) >= 4, 90, 0.2,
                  "the finalize job of order %d attempted 4 times" % oid)
    j = job(s, oid)
    tap.is_(j[0], "queued", "after %s attempts (max_attempts 2) the job is still queued" % j[1])
    tap.is_(order_row(s, oid)[0], "processing", "... and its order processing")
    tap.ok(j[2] not in ("NULL", ""), "last_error says why: %s" % j[2])
    with open(s.jobs.log_path()) as f:
        lines = [ln for ln in f if "kind=finalize ref=%d " % oid in ln]
    m = [re.search(r"attempt=(\d+) age=(\d+)s retry_in=(\d+)s", ln) for ln in lines]
    m = [x for x in m if x]
    tap.ok(len(m) >= 3, "each retry logs attempt, age and backoff (%d lines)" % len(m))
    delays = [int(x.group(3)) for x in m]
    tap.ok(delays == sorted(delays) and delays[-1] > delays[0],
           "the backoff grows: %s" % delays)
    s.start_signer()
    r = c.poll(order_url(s, oid), timeout=90)
    body = r.json() if r.status_code == 200 else {}
    tap.is_(body.get("status"), "valid", "the signer is back: the order ends valid")
    tap.is_(job(s, oid)[0], "done", "its job done")
    d = c.download(body.get("certificate", s.base + "/acme/cert/00"))
    tap.ok(d.status_code == 200 and issuance.openssl_verify(s, d.text)[0],
           "its certificate downloads and verifies")

    # --- a key blocked after finalize accepted it, before anvil-jobs finishes the order: the
    # key policy is checked again below both doors (issue/policy.c) ---
    s.stop_signer()
    key = acme.generate_csr_key("ES256")
    oid = ready_order(s, c, ["blocked-later.example.com"])
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["blocked-later.example.com"], key=key)[1])
    tap.is_((r.status_code, r.json().get("status") if r.status_code == 200 else r.text[:200]),
            (200, "processing"), "finalize accepts the key, the signer down: processing")
    spki = hashlib.sha256(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    r = s.anvilctl("block-key", spki, "--reason", "compromised meanwhile", check=False)
    tap.is_(r.returncode, 0, "anvilctl block-key blocks it meanwhile")
    s.start_signer()
    proc.wait_for(lambda: order_row(s, oid)[0] != "processing", 60, 0.2,
                  "order %d decided" % oid)
    r = c.post_as_get(order_url(s, oid))
    body = r.json() if r.status_code == 200 else {}
    err = body.get("error", {})
    tap.is_(body.get("status"), "invalid", "anvil-jobs ends the order invalid")
    tap.is_(err.get("type"), issuance.ERR + "badPublicKey", "with a badPublicKey problem")
    tap.ok("blocked" in err.get("detail", ""), "which says the key is blocked: %s"
           % err.get("detail"))
    tap.ok("certificate" not in body, "no certificate URL")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM certificates WHERE order_id = %d" % oid), [["0"]],
            "no certificate stored")
    tap.is_(job(s, oid)[0], "done", "its job done")

    # --- an order that expires while issuance cannot proceed ---
    s.stop_signer()
    oid = processing(s, c, "expires.example.com")
    s.mysql("UPDATE orders SET expires = UNIX_TIMESTAMP() - 1 WHERE id = %d" % oid)
    proc.wait_for(lambda: order_row(s, oid)[0] != "processing", 60, 0.2,
                  "order %d decided" % oid)
    r = c.post_as_get(order_url(s, oid))
    body = r.json() if r.status_code == 200 else {}
    err = body.get("error", {})
    tap.is_(body.get("status"), "invalid", "expired while the signer was down: invalid")
    tap.is_(err.get("type"), issuance.ERR + "serverInternal", "with a serverInternal problem")
    tap.ok("expired" in err.get("detail", ""), "which says so: %s" % err.get("detail"))
    tap.is_(job(s, oid)[0], "done", "its job done")

    # --- the sweep: processing orders that lost their job ---
    failed = processing(s, c, "failed-job.example.com")
    lost = processing(s, c, "lost-job.example.com")
    s.jobs.stop()
    s.mysql("UPDATE jobs SET state = 'failed', last_error = 'given up' WHERE kind = 'finalize' "
            "AND ref_id = %d" % failed)
    s.mysql("DELETE FROM jobs WHERE kind = 'finalize' AND ref_id = %d" % lost)
    s.start_signer()
    s.jobs.start_runner()
    for oid, what in ((failed, "failed"), (lost, "deleted")):
        r = c.poll(order_url(s, oid), timeout=60)
        tap.is_(r.json().get("status") if r.status_code == 200 else r.text[:200], "valid",
                "an order in processing whose job was %s ends valid" % what)
        tap.is_(job(s, oid)[0], "done", "... its job queued again and done")
    with open(s.jobs.log_path()) as f:
        log = f.read()
    tap.ok(all("order=%d: in processing without a finalize job: queued again" % o in log
               for o in (failed, lost)), "the sweep logs each order it queued again")
    s.jobs.stop()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-jobs without a sanitizer report")
    issuance.check_sanitizers(s)


tap.run(main)
