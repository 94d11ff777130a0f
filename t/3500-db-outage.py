#!/usr/bin/python3
"""A database outage is a 503 + Retry-After problem document, never a 500; nonces are still
issued (they touch no database); when MariaDB is back, requests succeed again without
restarting anvil-fcgi."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

import requests  # noqa: E402


def check_unavailable(r, name):
    ok = tap.is_(r.status_code, 503, "%s: 503 (not 500)" % name)
    ok &= tap.ok(r.headers.get("Content-Type", "").startswith("application/problem+json"),
                 "%s: problem document" % name)
    ra = r.headers.get("Retry-After", "")
    ok &= tap.ok(ra.isdigit() and int(ra) >= 1, "%s: Retry-After (%r)" % (name, ra))
    try:
        ptype = r.json().get("type", "")
    except ValueError:
        ptype = ""
    ok &= tap.ok(ptype.startswith("urn:ietf:params:acme:error:"), "%s: ACME problem type (%r)"
                 % (name, ptype))
    if not ok:
        tap.diag("%r %r" % (r.headers, r.text[:300]))


def main():
    proc.alarm(85)
    s = start_or_skip(workers=2)
    try:
        import acme
    except ImportError:
        tap.skip_all("t/lib/acme.py not there yet")

    c = acme.Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account(contact=["mailto:outage@example.org"]).status_code, 201, "account")
    tap.is_(c.post_as_get(c.kid).status_code, 200, "account POST-as-GET before the outage")
    master, workers = s.fcgi_master_pid(), s.fcgi_worker_pids()

    s.stop_db()
    h = requests.head(c.url("newNonce"), verify=s.ca_file, timeout=10)
    tap.is_(h.status_code, 200, "newNonce still answers during the outage")
    tap.ok(h.headers.get("Replay-Nonce"), "newNonce: Replay-Nonce during the outage")
    # Each worker meets the outage on its own connection: ask more often than there are workers.
    for i in range(3):
        check_unavailable(c.post_as_get(c.kid), "account POST-as-GET, database down (%d)" % i)
    new = acme.Client(s.directory_url, s.ca_file)
    check_unavailable(new.new_account(contact=["mailto:new@example.org"]),
                      "newAccount, database down")

    s.start_db()
    t0 = time.time()

    def back():
        r = c.post_as_get(c.kid)
        return r if r.status_code == 200 else None
    r = proc.wait_for(back, 30, 0.2, "account requests to succeed again")
    tap.diag("first success %.1f s after the database was back" % (time.time() - t0))
    tap.is_(r.json().get("status"), "valid", "account POST-as-GET succeeds again")
    # Another worker whose reconnect failed while the server was starting does not try again
    # within that second (db_connect's hold-off); past it, every worker must answer.
    time.sleep(1.1)
    for i in range(4):
        tap.is_(c.post_as_get(c.kid).status_code, 200, "and keeps succeeding (%d)" % i)
    r = new.new_account(contact=["mailto:new@example.org"])
    tap.is_(r.status_code, 201, "newAccount succeeds again")
    tap.is_(s.fcgi_master_pid(), master, "anvil-fcgi was not restarted")
    tap.is_(s.fcgi_worker_pids(), workers, "no worker was replaced")


tap.run(main)
