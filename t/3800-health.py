#!/usr/bin/python3
"""Health (issue 14 item 1): /health answers while a worker does; /health/ready is 200 with the
database, the signer and anvil-jobs' heartbeat all fine, and 503 naming the check that failed:
within 2 s of the signer being stopped (the feature), when the database is down, when
anvil-jobs stops beating. Each check reports its latency."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

import requests  # noqa: E402

proc.alarm(600)
s = start_or_skip(signer=True, jobs=True)
H = s.base + "/health"
R = s.base + "/health/ready"


def get(url):
    return requests.get(url, verify=s.ca_file, timeout=10)


def failing(r, check):
    """check: a name, or (name, a word its detail must hold)."""
    name, word = check if isinstance(check, tuple) else (check, "")
    try:
        c = r.json().get("checks", {}).get(name, {})
    except ValueError:
        return False
    return c.get("ok") is False and word in c.get("detail", "")


def poll(url, status, timeout, what, check=None):
    """The first answer with status (and, given check, that check failing) within timeout
    (None if none); polled, never slept on."""
    seen = []

    def probe():
        r = get(url)
        seen.append(r)
        return r.status_code == status and (check is None or failing(r, check))
    try:
        proc.wait_for(probe, timeout, 0.05, what)
        return seen[-1]
    except TimeoutError:
        tap.diag("%s: last answer %s %s" % (what, seen[-1].status_code if seen else None,
                                            seen[-1].text[:600] if seen else ""))
        return None


r = get(H)
tap.is_(r.status_code, 200, "/health: 200")
tap.is_(r.json().get("status"), "alive", "/health: alive")
tap.ok(r.headers.get("Content-Type", "").startswith("application/json"), "/health: JSON")

r = poll(R, 200, 30, "ready")
tap.ok(r is not None, "/health/ready: 200 once anvil-jobs has beaten")
doc = r.json() if r is not None else {}
checks = doc.get("checks", {})
tap.is_(doc.get("status"), "ready", "ready: status ready")
for name in ("database", "signer", "jobs"):
    c = checks.get(name, {})
    tap.ok(c.get("ok") is True, "ready: check %s ok (%r)" % (name, c))
    tap.ok(isinstance(c.get("latency_ms"), (int, float)) and c["latency_ms"] >= 0,
           "ready: check %s has its latency" % name)
tap.ok("queue_max" in checks.get("signer", {}), "ready: the signer's queue is looked at")

r = requests.post(R, verify=s.ca_file, timeout=10, data=b"")
tap.is_(r.status_code, 405, "POST /health/ready: 405")

# The signer stops: not ready within 2 s of it being gone.
s.stop_signer()
t0 = time.monotonic()
r = poll(R, 503, 2.0, "503 after the signer stopped", "signer")
tap.ok(r is not None, "signer stopped: 503 within 2 s (%.2f s)" % (time.monotonic() - t0))
doc = r.json() if r is not None else {}
tap.is_(doc.get("status"), "not ready", "signer stopped: not ready")
tap.ok(doc.get("checks", {}).get("signer", {}).get("ok") is False,
       "signer stopped: the signer check names it (%r)" % doc.get("checks", {}).get("signer"))
tap.ok(doc.get("checks", {}).get("database", {}).get("ok") is True,
       "signer stopped: the database check still passes")
tap.is_(get(H).status_code, 200, "signer stopped: /health (liveness) still 200")

s.start_signer()
tap.ok(poll(R, 200, 30, "ready after the signer came back") is not None,
       "signer back: 200 again")

# The database goes away.
s.db.stop()
r = poll(R, 503, 20, "503 with the database down", "database")
tap.ok(r is not None, "database down: 503")
doc = r.json() if r is not None else {}
db = doc.get("checks", {}).get("database", {})
tap.ok(db.get("ok") is False and db.get("detail"),
       "database down: the database check names it (%r)" % db)
tap.is_(get(H).status_code, 200, "database down: /health still 200")
s.db.start()
tap.ok(poll(R, 200, 60, "ready after the database came back") is not None,
       "database back: 200 again")

# anvil-jobs stops: its heartbeat goes stale.
s.jobs.stop()
r = poll(R, 503, 30, "503 with anvil-jobs stopped", ("jobs", "stale"))
tap.ok(r is not None, "anvil-jobs stopped: 503 once its heartbeat is stale")
doc = r.json() if r is not None else {}
j = doc.get("checks", {}).get("jobs", {})
tap.ok(j.get("ok") is False and "stale" in j.get("detail", ""),
       "anvil-jobs stopped: the jobs check names it (%r)" % j)
s.stop()
tap.done()
