#!/usr/bin/python3
"""Final certificates through a durable queue (seed 003): every certificate of a CT profile is
queued in the transaction that stores it, one 'ct-final' job per log of its policy's
final_certificates, and anvil-jobs submits it with add-chain. Issuance never waits for the
queue (certificates are issued while no anvil-jobs runs); the final certificate appears in
both test logs' get-entries; the queue survives SIGKILL of anvil-jobs in the middle of its
drain and drains after the restart; each log receives at most ct.final_rate_per_second
certificates a second (plus a one-second burst) from one anvil-jobs."""
import base64
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import ctlog  # noqa: E402
import issuance  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

RATE = 2
N = 8


def final_entries(lg):
    """{cert DER: SCT timestamp (ms)} of the log's X509 entries."""
    size = lg._sth()["tree_size"]
    out = {}
    start = 0
    while start < size:
        got = lg._entries({"start": [str(start)], "end": [str(size - 1)]})["entries"]
        for e in got:
            et, ts, body = ctlog.parse_entry(base64.b64decode(e["leaf_input"]))
            if et == ctlog.X509_ENTRY:
                out[body] = ts
        start += len(got)
    return out


def wait_for(pred, secs):
    deadline = time.time() + secs
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.3)
    return pred()


def main():
    proc.alarm(300)
    logs = {n: ctlog.CTLog(name=n).start() for n in ("google", "other")}

    def prepare(s):
        s.config["ct"] = {
            "logs": {n: {"url": lg.url, "key": lg.key_b64(), "operator": n}
                     for n, lg in logs.items()},
            "policies": {"p": {"final_certificates": ["google", "other"]}},
            "profiles": {"default": "p", "shortlived": "p"},
            "final_rate_per_second": RATE}
        s.config["acme"]["finalize_budget_ms"] = 3000

    s = issuance.stack(before_start=prepare, jobs={"retry_backoff": 1, "max_attempts": 100})
    c = issuance.account(s)

    cert, _, _, _ = issuance.issue(s, c, ["final.example.com"], profile="default")
    der = cert.public_bytes(serialization.Encoding.DER)
    tap.ok(wait_for(lambda: all(der in final_entries(lg) for lg in logs.values()), 60),
           "the final certificate appears in both logs' get-entries")
    tap.is_(s.mysql_rows("SELECT state, COUNT(*) FROM jobs WHERE kind = 'ct-final' GROUP BY "
                         "state"), [["done", "2"]], "its two ct-final jobs are done")

    # Issuance does not wait for the queue: certificates are issued with no anvil-jobs at all.
    s.jobs.kill("anvil-jobs")
    ders = []
    for i in range(N):
        cert, _, _, r = issuance.issue(s, c, ["q%d.example.com" % i], profile="default")
        ders.append(cert.public_bytes(serialization.Encoding.DER))
    tap.ok(len(ders) == N, "%d certificates issued while no anvil-jobs runs" % N)
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM jobs WHERE kind = 'ct-final' AND state = "
                         "'queued'"), [[str(2 * N)]], "%d ct-final jobs queued" % (2 * N))

    # Drain, SIGKILL in the middle (one log hanging, so jobs are leased and in flight),
    # restart: everything is logged in the end, the dead runner's leases taken over.
    logs["other"].set(mode="hang")
    s.jobs.start_runner()
    wait_for(lambda: int(s.mysql_rows("SELECT COUNT(*) FROM jobs WHERE kind = 'ct-final' AND "
                                      "state = 'done'")[0][0]) >= 5, 30)
    s.jobs.kill("anvil-jobs")
    leased = int(s.mysql_rows("SELECT COUNT(*) FROM jobs WHERE kind = 'ct-final' AND state = "
                              "'queued' AND lease_until > UNIX_TIMESTAMP()")[0][0])
    tap.ok(leased >= 1, "killed with %d jobs leased and in flight" % leased)
    logs["other"].set(mode="ok")
    restarted_ms = int(time.time() * 1000)
    s.jobs.start_runner()

    def drained():
        return all(all(d in final_entries(lg) for d in ders) for lg in logs.values())
    tap.ok(wait_for(drained, 150), "after SIGKILL and a restart the queue drains: every final "
           "certificate is in both logs")
    tap.is_(s.mysql_rows("SELECT state, COUNT(*) FROM jobs WHERE kind = 'ct-final' GROUP BY "
                         "state"), [["done", str(2 * N + 2)]], "every ct-final job is done")

    # The per-log rate of one runner (the restarted one): in any second, at most RATE
    # certificates plus a burst of RATE.
    for n, lg in logs.items():
        ts = sorted(t for d, t in final_entries(lg).items() if d in ders and t >= restarted_ms)
        worst = max(sum(1 for u in ts if t <= u < t + 1000) for t in ts) if ts else 0
        tap.ok(worst <= 2 * RATE, "log %s: at most %d final certificates in any second (%d)"
               % (n, 2 * RATE, worst))
    s.jobs.stop()
    log = open(s.jobs.log_path()).read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-jobs exited without a sanitizer report") or tap.diag(log[-3000:])
    for lg in logs.values():
        lg.stop()


tap.run(main)
