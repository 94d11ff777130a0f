#!/usr/bin/python3
"""kill -9 of the anvil-fcgi master under load (issue 12): its workers notice (the parent-death
signal is the drain's SIGTERM), the one holding a request finishes it and every worker exits,
so the socket is free and a new master starts on it. No request is answered 500 at any point:
while no master runs nginx answers 503 (its upstream is gone), before and after 200.

A worker is made to hold a request by locking the accounts table from another session, as in
t/3400."""
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import pid_alive, start_or_skip  # noqa: E402

import requests  # noqa: E402



def main():
    proc.alarm(85)
    s = start_or_skip(workers=3)
    import acme
    c = acme.Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account(contact=["mailto:kill@example.org"]).status_code, 201,
            "account created")
    c2 = acme.Client(s.directory_url, s.ca_file)
    tap.is_(c2.new_account(contact=["mailto:load@example.org"]).status_code, 201,
            "second account for the load")

    stop = threading.Event()
    statuses, errors = {}, []
    lock = threading.Lock()

    def loop():
        sess = requests.Session()
        nn = c2.url("newNonce")
        while not stop.is_set():
            try:
                for name, r in (("directory", sess.get(s.directory_url, verify=s.ca_file,
                                                       timeout=30)),
                                ("newNonce", sess.head(nn, verify=s.ca_file, timeout=30))):
                    with lock:
                        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(repr(e))

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    proc.wait_for(lambda: statuses.get(200, 0) > 10, 20, 0.02, "requests before the kill")

    master = s.fcgi_master_pid()
    workers = s.wait_workers(3)
    held = {}
    with s.mysql_session() as sess:
        sess.query("LOCK TABLES accounts WRITE")
        bg = threading.Thread(target=lambda: held.update(r=c.post_as_get(c.kid)), daemon=True)
        bg.start()
        busy = proc.wait_for(s.db_waiting_workers, 20, 0.02, "a worker waiting on the lock")[0]
        tap.ok(busy in workers, "the held request is in worker %d" % busy)
        os.kill(master, signal.SIGKILL)
        proc.wait_for(lambda: not s.fcgi.proc.alive(), 10, 0.02, "the master gone")
        idle = [p for p in workers if p != busy]
        proc.wait_for(lambda: not any(pid_alive(p) for p in idle), 20, 0.05,
                      "idle workers to notice their master's death")
        tap.ok(True, "the idle workers exited after the master's SIGKILL")
        tap.ok(pid_alive(busy), "the busy worker stays while its request is in hand")
        sess.query("UNLOCK TABLES")
        bg.join(30)
    r = held.get("r")
    tap.is_(r.status_code if r is not None else None, 200,
            "the request in hand is finished and answered 200")
    proc.wait_for(lambda: not pid_alive(busy), 20, 0.05, "the busy worker to exit")
    tap.ok(True, "then the busy worker exits too")

    n200 = statuses.get(200, 0)
    s.start_fcgi()
    tap.ok(s.fcgi.proc.alive() and s.fcgi_master_pid() != master,
           "a new master starts on the freed socket")
    proc.wait_for(lambda: statuses.get(200, 0) > n200 + 10, 20, 0.02,
                  "requests served by the new master")
    stop.set()
    for t in threads:
        t.join(30)
    tap.diag("statuses under load: %r" % statuses)
    tap.is_(statuses.get(500, 0), 0, "no request answered 500")
    tap.is_(sorted(set(statuses) - {200, 204, 503}), [],
            "only 200/204, and 503 while no master ran")
    tap.is_(errors, [], "no client error")
    tap.is_(c.post_as_get(c.kid).status_code, 200, "the account is served by the new workers")
    log = open(os.path.join(s.dir, "run", "anvil-fcgi.log")).read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log, "no sanitizer report")


tap.run(main)
