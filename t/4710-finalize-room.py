#!/usr/bin/python3
"""A runner claims 'finalize' jobs only within its free lanes (jobs.finalize_concurrency): two
runners with one lane each and four finalize jobs queued at once against a slow HSM (every
signature 0.5 s): neither ever holds more than one finalize lease, so the second runner takes
its share instead of finding them all leased by the first (which, before, claimed every due
finalize job and let them wait for its one lane); every order ends valid with one
certificate, each job done after one attempt."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
import jobs as jobslib  # noqa: E402

N = 4
SIGN_US = 500000


def main():
    proc.alarm(85)
    slow = issuance.slow_hsm(SIGN_US, 4)
    s = issuance.stack(config={"signer": {"module": slow}},
                       jobs={"finalize_concurrency": 1, "runner_id": "main"})
    time.sleep(0.5)
    with open(s.jobs.log_path()) as f:
        if "built without issuance" in f.read():
            tap.skip_all("anvil-jobs is built without issue/ (jobs/Makefile.inc)")
    s.jobs.start_runner("rival", finalize_concurrency=1, runner_id="rival")
    c = issuance.account(s)

    now = int(time.time())
    oids = []
    for i in range(N):
        name = "room%d.example.com" % i
        oid = issuance.ready_order(s, c, [name], status="processing")
        csr = acme.make_csr([name])[1]
        s.mysql("UPDATE orders SET csr = X'%s' WHERE id = %d" % (csr.hex(), oid))
        oids.append(oid)
    ids = ",".join(map(str, oids))

    with jobslib.LeasePeaks(s, kind="finalize") as leases:
        s.mysql("INSERT INTO jobs (kind, ref_id, state, run_after, created) SELECT 'finalize', "
                "id, 'queued', %d, %d FROM orders WHERE id IN (%s)" % (now, now, ids))
        s.jobs.wake()
        s.jobs.wake(os.path.join(s.dir, "run", "rival.wake"))

        def all_valid():
            rows = s.mysql_rows("SELECT COUNT(*) FROM orders WHERE id IN (%s) AND "
                                "status = 'valid'" % ids)
            return int(rows[0][0]) == N
        done = proc.wait_for(all_valid, 60, 0.1, "orders valid")

    peak = leases.peak
    tap.diag("peak finalize leases per runner: %r" % peak)
    tap.ok(done, "every order ends valid")
    tap.ok(peak and all(n <= 1 for n in peak.values()),
           "no runner held more finalize leases than its one lane")
    tap.is_(sorted(peak), ["main", "rival"], "both runners finalized some")
    n = s.mysql_rows("SELECT COUNT(*) FROM certificates WHERE order_id IN (%s)" % ids)
    tap.is_(n, [[str(N)]], "one certificate per order")
    jobs = s.mysql_rows("SELECT state, attempts FROM jobs WHERE kind = 'finalize' AND ref_id "
                        "IN (%s)" % ids)
    tap.is_(sorted(set(tuple(j) for j in jobs)), [("done", "1")],
            "every finalize job done after one attempt")
    s.jobs.stop("rival")
    for name in ("anvil-jobs", "rival"):
        log = open(s.jobs.log_path(name)).read()
        tap.ok("Sanitizer" not in log and "runtime error" not in log,
               "%s: no sanitizer report" % name) or tap.diag(log[-3000:])


tap.run(main)
