#!/usr/bin/python3
"""anvil-jobs runs several 'finalize' jobs at once (jobs.finalize_concurrency, each attempt on
its own thread with its own database and signer connections) while its loop keeps validating and
renewing leases: two orders left in `processing` with their CSR, against a slow HSM (every
signature 1.5 s, four signing units, two signer sessions), are finished together: the HSM signs
both at once, which a runner finishing one job after the other never does (with
finalize_concurrency 1 this test fails); every order ends valid with one certificate, signed
once, and its job done. A validation queued meanwhile is not held up behind them."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
import signer  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402

N = 2
SIGN_US = 1500000


def main():
    proc.alarm(85)
    slow = issuance.slow_hsm(SIGN_US, 4)
    web = HTTPTarget()
    s = issuance.stack(config={"signer": {"module": slow}},
                       jobs={"finalize_concurrency": 4, "validation": {"http01_port": web.port}})
    time.sleep(0.5)
    with open(s.jobs.log_path()) as f:
        if "built without issuance" in f.read():
            tap.skip_all("anvil-jobs is built without issue/ (jobs/Makefile.inc)")
    c = issuance.account(s)

    now = int(time.time())
    oids = []
    for i in range(N):
        name = "lane%d.example.com" % i
        oid = issuance.ready_order(s, c, [name], status="processing")
        csr = acme.make_csr([name])[1]
        s.mysql("UPDATE orders SET csr = X'%s' WHERE id = %d; INSERT INTO jobs (kind, ref_id, "
                "state, run_after, created) VALUES ('finalize', %d, 'queued', %d, %d)"
                % (csr.hex(), oid, oid, now, now))
        oids.append(oid)

    peak = {"leased": 0, "active": 0}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            n = int(s.mysql("SELECT COUNT(*) FROM jobs WHERE kind = 'finalize' AND state = "
                            "'queued' AND lease_owner IS NOT NULL").strip())
            peak["leased"] = max(peak["leased"], n)
            try:
                st = signer.Client(s.signer_socket).stats()
                peak["active"] = max(peak["active"], st["active"] if st else 0)
            except OSError:
                pass
            time.sleep(0.05)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.time()
    s.jobs.wake()

    # Meanwhile a validation: the loop is not blocked by the signing.
    acct = s.jobs.account(c)
    fx = s.jobs.challenge(acct, "dns", "meanwhile.example.test", "http-01")
    web.challenge(fx["token"], fx["keyauth"].encode())
    s.jobs.queue(fx["id"])
    s.jobs.wake()
    row = s.jobs.wait_challenge(fx["id"], timeout=30)
    validated_after = time.time() - t0

    def all_valid():
        rows = s.mysql_rows("SELECT COUNT(*) FROM orders WHERE id IN (%s) AND status = 'valid'"
                            % ",".join(map(str, oids)))
        return int(rows[0][0]) == N
    done = proc.wait_for(all_valid, 40, 0.1, "orders valid")
    took = time.time() - t0
    stop.set()
    th.join()

    tap.diag("finalize of %d orders (one 1.5 s signature each): %.1f s; peak leased finalize "
             "jobs %d, peak signer active %d; the validation queued meanwhile was decided "
             "after %.1f s" % (N, took, peak["leased"], peak["active"], validated_after))
    tap.ok(done, "every order ends valid")
    tap.ok(peak["active"] >= 2, "the HSM signed %d of them at once" % peak["active"])
    tap.is_(row["status"], "valid", "a validation queued meanwhile is decided")
    n = s.mysql_rows("SELECT COUNT(*) FROM certificates WHERE order_id IN (%s)"
                     % ",".join(map(str, oids)))
    tap.is_(n, [[str(N)]], "one certificate per order")
    jobs = s.mysql_rows("SELECT state, lease_owner FROM jobs WHERE kind = 'finalize' AND "
                        "ref_id IN (%s)" % ",".join(map(str, oids)))
    tap.ok(all(r[0] == "done" for r in jobs), "every finalize job is done") \
        or tap.dump("jobs", jobs)
    made = 0
    with open(s.signer_log) as f:
        for ln in f:
            if "event=sign what=cert" in ln and "result=ok" in ln and "replay=1" not in ln:
                made += 1
    tap.is_(made, N, "the HSM signed each certificate once")
    runner = s.jobs.runners["anvil-jobs"]
    s.jobs.stop()
    log = runner.log_text()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-jobs exited without a sanitizer report") or tap.diag(log[-3000:])


tap.run(main)
