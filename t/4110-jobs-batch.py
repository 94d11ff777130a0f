#!/usr/bin/python3
"""Batch claims (db_job_claim leases up to DB_JOB_CLAIM_MAX due jobs in one transaction): two
runners of different jobs.concurrency (5 and 3) share 30 validations queued at once whose
targets hold their answer; at no moment does a runner hold more leases than its free room,
both fill their room, no job is leased twice (each target asked once, every job done after
exactly one attempt) and every challenge ends valid. Then the poll fallback alone (no wake-up)
still finds a queued job."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import jobs as jobslib  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

N = 30
CAP = {"main": 5, "rival": 3}


def main():
    proc.alarm(80)
    web = HTTPTarget()
    s = start_or_skip(workers=1, jobs={"lease": 20, "poll_interval": 1, "concurrency": CAP["main"],
                                       "runner_id": "main",
                                       "validation": {"http01_port": web.port,
                                                      "timeout_ms": 30000}})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    acct = s.jobs.account(c)
    s.jobs.start_runner("rival", concurrency=CAP["rival"], runner_id="rival")

    held = []
    for i in range(N):
        ch = s.jobs.challenge(acct, "dns", "batch%d.example.test" % i, "http-01")
        path = web.challenge(ch["token"], ch["keyauth"])
        ev = threading.Event()
        web.delay[path] = ev
        held.append((ch, path, ev))
    ids = ",".join(str(ch["id"]) for ch, _, _ in held)

    with jobslib.LeasePeaks(s) as leases:
        s.mysql("INSERT INTO jobs (kind, ref_id, state, run_after, created) VALUES %s"
                % ", ".join("('validate', %d, 'queued', UNIX_TIMESTAMP(), UNIX_TIMESTAMP())"
                            % ch["id"] for ch, _, _ in held))
        s.jobs.wake()
        s.jobs.wake(os.path.join(s.dir, "run", "rival.wake"))
        # Let the targets answer a few at a time, so both runners claim again and again while
        # the rest of the queue waits.
        released = 0
        deadline = time.time() + 50
        while released < N and time.time() < deadline:
            asked = [i for i, (_, p, ev) in enumerate(held)
                     if web.count(p) >= 1 and not ev.is_set()]
            for i in asked[:2]:
                held[i][2].set()
                released += 1
            time.sleep(0.1)
        rows = [s.jobs.wait_challenge(ch["id"]) for ch, _, _ in held]

    peak = leases.peak
    tap.diag("peak leases per runner: %r" % peak)
    tap.ok(set(peak) <= set(CAP), "only the two runners held leases")
    tap.ok(all(peak.get(o, 0) <= CAP[o] for o in CAP),
           "no runner ever held more leases than its concurrency")
    tap.ok(all(peak.get(o, 0) == CAP[o] for o in CAP), "each runner filled its room")
    tap.ok(all(r["status"] == "valid" for r in rows), "%d validations over two runners: all "
           "valid" % N)
    hits = [web.count(p) for _, p, _ in held]
    tap.is_(sorted(set(hits)), [1], "each target asked once: no job leased twice")
    jobs = s.mysql_rows("SELECT state, attempts, lease_owner FROM jobs WHERE kind = 'validate' "
                        "AND ref_id IN (%s)" % ids)
    tap.is_(sorted(set(tuple(j) for j in jobs)), [("done", "1", "NULL")],
            "every job done after exactly one attempt, lease cleared")

    # --- no wake-up at all: the poll (one plain read, then a claim) still finds the job ---
    ch = s.jobs.challenge(acct, "dns", "polled.example.test", "http-01")
    web.challenge(ch["token"], ch["keyauth"])
    s.jobs.queue(ch["id"])
    row = s.jobs.wait_challenge(ch["id"], timeout=10)
    tap.is_(row["status"], "valid", "a job queued without a wake-up is found by the poll")
    tap.is_(s.jobs.job_row(ch["id"])[:2], ["done", "1"], "... once")

    s.jobs.stop("rival")
    for name in ("main", "rival"):
        log = open(s.jobs.log_path("anvil-jobs" if name == "main" else name)).read()
        tap.ok("Sanitizer" not in log and "runtime error" not in log,
               "runner %s: no sanitizer report" % name) or tap.diag(log[-3000:])
    web.close()


tap.run(main)
