#!/usr/bin/python3
"""anvil-jobs leasing (migrations/0002 `jobs`): a job in flight carries its runner's lease; a
validation that outlives the lease keeps it by renewing (a second runner never takes it); two
runners sharing one queue run every job exactly once; one runner keeps 20 validations in
flight at once; a runner killed with a lease held loses
nothing (another takes the job over when the lease expires); SIGTERM gives leases back at once;
unknown kinds and vanished challenges fail without retrying; a runner that cannot issue
leaves finalize jobs queued (never failed: t/3790); a database restart in the middle of a validation loses nothing. Also --check on the jobs section."""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

LEASE = 4


def main():
    proc.alarm(88)
    web = HTTPTarget()
    s = start_or_skip(workers=1, jobs={"lease": LEASE, "poll_interval": 1,
                                       "validation": {"http01_port": web.port,
                                                      "timeout_ms": 20000}})
    exe = proc.builddir_path("jobs", "anvil-jobs")
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    acct = s.jobs.account(c)

    # --- --check ---
    r = subprocess.run([exe, "-c", s.config_path, "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    tap.is_(r.returncode, 0, "--check accepts the generated configuration")
    bad = os.path.join(s.dir, "bad.json")
    import json
    cfg = json.loads(open(s.config_path).read())
    cfg["jobs"]["lease"] = "long"
    cfg["jobs"]["validation"]["resolvers"] = ["nonsense"]
    with open(bad, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([exe, "-c", bad, "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    tap.ok(r.returncode != 0 and "jobs.lease" in r.stdout, "--check names a bad key: %s"
           % r.stdout.strip())
    cfg["jobs"]["lease"] = 5
    cfg["jobs"]["bogus"] = 1
    with open(bad, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([exe, "-c", bad, "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    tap.ok(r.returncode != 0 and "bogus" in r.stdout, "--check refuses an unknown key")

    def held(ident):
        """A challenge whose target answers only when the returned event is set."""
        ch = s.jobs.challenge(acct, "dns", ident, "http-01")
        path = web.challenge(ch["token"], ch["keyauth"])
        ev = threading.Event()
        web.delay[path] = ev
        return ch, path, ev

    def in_flight(ch, path):
        def probe():
            j = s.jobs.job_row(ch["id"])
            return j if web.count(path) >= 1 and j[2] != "NULL" else None
        return proc.wait_for(probe, 20, 0.05, "job of challenge %d in flight" % ch["id"])

    # --- a lease while in flight, renewed past its length, with a rival runner ready ---
    s.jobs.start_runner("rival")
    ch, path, ev = held("renew.example.test")
    s.jobs.queue(ch["id"])
    s.jobs.wake()
    j = in_flight(ch, path)
    tap.is_((j[0], j[1]), ("queued", "1"), "in flight: queued, first attempt")
    owner = j[2]
    tap.ok(owner != "NULL", "in flight: leased by %s" % owner)
    time.sleep(LEASE * 1.5 + 1)   # longer than one lease: only renewal keeps it
    j = s.jobs.job_row(ch["id"])
    tap.is_((j[1], j[2]), ("1", owner), "lease renewed: same owner, no second attempt")
    ev.set()
    row = s.jobs.wait_challenge(ch["id"])
    tap.is_(row["status"], "valid", "the long validation ends valid")
    j = s.jobs.job_row(ch["id"])
    tap.is_((j[0], j[1], j[2]), ("done", "1", "NULL"), "job done, lease cleared")
    tap.is_(web.count(path), 1, "the target was asked once")

    # --- two runners, one queue: every job exactly once ---
    chs = []
    for i in range(40):
        ch = s.jobs.challenge(acct, "dns", "many%d.example.test" % i, "http-01")
        web.challenge(ch["token"], ch["keyauth"])
        chs.append(ch)
    for ch in chs:
        s.jobs.queue(ch["id"])
    s.jobs.wake()
    s.jobs.wake(os.path.join(s.dir, "run", "rival.wake"))
    rows = [s.jobs.wait_challenge(ch["id"]) for ch in chs]
    tap.ok(all(r["status"] == "valid" for r in rows), "40 jobs over two runners: all valid")
    hits = [web.count("/.well-known/acme-challenge/" + ch["token"]) for ch in chs]
    tap.is_(sorted(set(hits)), [1], "each validated exactly once (one request per token)")
    att = {s.jobs.job_row(ch["id"])[1] for ch in chs}
    tap.is_(att, {"1"}, "each job claimed once")

    s.jobs.stop("rival")

    # --- one runner, one event loop, many validations in flight at once ---
    many = [held("slow%d.example.test" % i) for i in range(20)]
    for ch, path, ev in many:
        s.jobs.queue(ch["id"])
    s.jobs.wake()
    proc.wait_for(lambda: all(web.count(p) == 1 for _, p, _ in many), 20, 0.05,
                  "20 validations in flight")
    tap.ok(all(s.jobs.challenge_row(ch["id"])["status"] == "processing" for ch, _, _ in many),
           "20 targets asked before any answered: all in flight in one runner")
    for ch, path, ev in many:
        web.delay.pop(path)
        ev.set()
    rows = [s.jobs.wait_challenge(ch["id"]) for ch, _, _ in many]
    tap.ok(all(r["status"] == "valid" for r in rows), "... and all end valid")

    # --- a killed runner's lease is taken over when it expires ---
    ch, path, ev = held("killed.example.test")
    s.jobs.queue(ch["id"])
    s.jobs.wake()
    j = in_flight(ch, path)
    dead_owner = j[2]
    s.jobs.kill("anvil-jobs")
    web.delay.pop(path)
    ev.set()
    s.jobs.start_runner("heir")
    row = s.jobs.wait_challenge(ch["id"], timeout=LEASE * 4)
    tap.is_(row["status"], "valid", "validated by the next runner")
    j = s.jobs.job_row(ch["id"])
    tap.is_((j[0], j[1]), ("done", "2"), "second attempt finished the job")
    tap.ok(dead_owner != "NULL", "the dead runner had held it (%s)" % dead_owner)
    tap.is_(web.count(path), 2, "the target was asked once by each runner")

    # --- SIGTERM gives the lease back at once ---
    ch, path, ev = held("term.example.test")
    s.jobs.queue(ch["id"])
    s.jobs.wake(os.path.join(s.dir, "run", "heir.wake"))
    in_flight(ch, path)
    s.jobs.stop("heir")
    j = s.jobs.job_row(ch["id"])
    tap.is_((j[0], j[2], j[1]), ("queued", "NULL", "0"), "SIGTERM: lease released, attempt "
            "not counted")
    web.delay.pop(path)
    ev.set()
    s.jobs.start_runner()
    row = s.jobs.wait_challenge(ch["id"])
    tap.is_(row["status"], "valid", "the next runner finishes it")

    # --- failures without retry; finalize jobs only for runners that can issue ---
    log = open(s.jobs.log_path()).read()
    issues = "finalize jobs wait" not in log
    s.jobs.queue(777777, kind="finalize")   # queued first: claims go oldest first
    s.jobs.queue(999999, kind="no-such-kind")
    s.jobs.queue(888888)   # a validate job whose challenge does not exist
    s.jobs.wake()
    proc.wait_for(lambda: s.jobs.job_row(999999, "no-such-kind")[0] == "failed", 20, 0.1,
                  "unknown kind failed")
    j = s.jobs.job_row(999999, "no-such-kind")
    tap.is_((j[0], j[1]), ("failed", "1"), "unknown kind: failed after one attempt")
    proc.wait_for(lambda: s.jobs.job_row(888888)[0] == "failed", 20, 0.1, "missing failed")
    tap.is_(s.jobs.job_row(888888)[3], "no such challenge", "vanished challenge: failed")
    if not issues:
        # A runner that cannot issue leaves finalize jobs to one that can: attempting them
        # would only push their next attempt back (and once failed them after max_attempts,
        # stranding their orders in processing).
        j = s.jobs.job_row(777777, "finalize")
        tap.is_((j[0], j[1], j[2]), ("queued", "0", "NULL"),
                "finalize without issuance: left queued, never attempted, never failed")
    else:
        # With issuance, a finalize job for an order that does not exist has nothing to do.
        proc.wait_for(lambda: s.jobs.job_row(777777, "finalize")[0] != "queued", 20, 0.05,
                      "finalize job ran")
        j = s.jobs.job_row(777777, "finalize")
        tap.is_((j[0], j[1]), ("done", "1"), "finalize job for no order: done, nothing to do")

    # --- the database dies while a validation is in flight: the result is not lost ---
    ch, path, ev = held("dbdown.example.test")
    s.jobs.queue(ch["id"])
    s.jobs.wake()
    in_flight(ch, path)
    s.stop_db()
    web.delay.pop(path)
    ev.set()                      # the answer arrives while the database is down
    time.sleep(1)
    s.start_db()
    row = s.jobs.wait_challenge(ch["id"], timeout=LEASE * 5)
    tap.is_(row["status"], "valid", "database restart mid-validation: the challenge still "
            "ends valid")
    j = s.jobs.job_row(ch["id"])
    tap.is_(j[0], "done", "... and its job done (attempt %s)" % j[1])
    web.close()


tap.run(main)
