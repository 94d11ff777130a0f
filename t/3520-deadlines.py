#!/usr/bin/python3
"""Every wait of a request ends inside its budget (issue 12 item 8). A table held locked by
another session: newOrder answers 503 + Retry-After after database.lock_wait_timeout (2 s here)
instead of waiting for the lock past nginx's timeout (the server's own default is a day for a
table lock, 50 s for a row). A signer whose listen backlog is full (a stand-in that never
accepts): finalize answers 200 processing within its budget instead of blocking in connect(),
and anvil-jobs issues the order once the signer is back. Config: budgets that cannot end
before nginx's fastcgi_read_timeout (fcgi.nginx_read_timeout) are refused, naming the key."""
import copy
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, order_url, ready_order  # noqa: E402

LOCK_WAIT = 2
BOUND = 12       # generous: lock wait or budget, plus a loaded machine


def check(s, edit):
    cfg = copy.deepcopy(s.config)
    edit(cfg)
    path = os.path.join(s.dir, "budget.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([proc.builddir_path("fcgi", "anvil-fcgi"), "-c", path, "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True)
    return r.returncode, r.stdout.strip()


def main():
    proc.alarm(180)
    # read_timeout well past the lock wait: the lock wait, not the client's read timeout, must
    # end the wait.
    s = issuance.stack(config={"database": {"lock_wait_timeout": LOCK_WAIT, "read_timeout": 20},
                               "acme": {"finalize_budget_ms": 1000}}, jobs=True)
    c = issuance.account(s)

    # --- configuration: every budget inside nginx's timeout ---
    rc, out = check(s, lambda cfg: cfg["acme"].update(finalize_budget_ms=28000))
    tap.ok(rc != 0 and "acme.finalize_budget_ms" in out and "nginx_read_timeout" in out,
           "finalize_budget_ms + lock wait past nginx's 30 s refused: %s" % out)
    rc, out = check(s, lambda cfg: cfg["acme"].update(validation_wait_ms=28000))
    tap.ok(rc != 0 and "acme.validation_wait_ms" in out,
           "validation_wait_ms past nginx's timeout refused: %s" % out)
    rc, out = check(s, lambda cfg: cfg["database"].update(read_timeout=40))
    tap.ok(rc != 0 and "database.read_timeout" in out,
           "database.read_timeout past nginx's timeout refused: %s" % out)
    rc, out = check(s, lambda cfg: (cfg["acme"].update(finalize_budget_ms=28000),
                                    cfg.setdefault("fcgi", {}).update(nginx_read_timeout=60)))
    tap.is_(rc, 0, "... accepted with fcgi.nginx_read_timeout 60 (%s)" % out)

    # --- a lock held by another session ---
    done = {}

    def new_order():
        t0 = time.time()
        try:
            done["r"] = c.new_order(["locked.example.com"])
        except Exception as e:  # noqa: BLE001
            done["r"] = e
        done["took"] = time.time() - t0
    with s.mysql_session() as sess:
        sess.query("LOCK TABLES orders WRITE")
        th = threading.Thread(target=new_order, daemon=True)
        th.start()
        th.join(BOUND)
        sess.query("UNLOCK TABLES")
    th.join(40)
    r = done.get("r")
    tap.ok("took" in done and done["took"] < BOUND,
           "newOrder behind a held table lock answered within %d s (%.1f s)"
           % (BOUND, done.get("took", -1)))
    tap.ok(isinstance(r, object) and getattr(r, "status_code", None) == 503 and
           r.headers.get("Retry-After", "").isdigit(),
           "... 503 with Retry-After (%s)" % (getattr(r, "status_code", r),))
    tap.ok(r is not None and hasattr(r, "headers") and "Replay-Nonce" in r.headers,
           "... answered by anvil-fcgi, not by nginx giving up")
    r = c.new_order(["unlocked.example.com"])
    tap.is_(r.status_code, 201, "the lock gone, newOrder works")

    # --- a signer that never accepts, its backlog full ---
    s.stop_signer()
    path = s.signer_socket
    if os.path.exists(path):
        os.unlink(path)
    fake = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    fake.bind(path)
    os.chmod(path, 0o666)
    fake.listen(0)
    held = []
    for _ in range(64):
        h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        h.setblocking(False)
        try:
            h.connect(path)
        except BlockingIOError:
            h.close()
            break
        held.append(h)
    tap.ok(len(held) >= 1, "the stand-in's backlog is full (%d queued)" % len(held))
    oid = ready_order(s, c, ["backlog.example.com"])
    t0 = time.time()
    try:
        r = c.finalize(finalize_url(s, oid), acme.make_csr(["backlog.example.com"])[1])
    except Exception as e:  # noqa: BLE001
        r = e
    took = time.time() - t0
    st = getattr(r, "status_code", None)
    tap.ok(took < BOUND, "finalize against a full signer backlog answered within %d s "
           "(%.1f s)" % (BOUND, took))
    tap.is_((st, r.json().get("status") if st == 200 else str(r)[:200]), (200, "processing"),
            "... 200 processing")
    for h in held:
        h.close()
    fake.close()
    os.unlink(path)
    s.start_signer()
    r = c.poll(order_url(s, oid), timeout=60)
    tap.is_(r.json().get("status") if r.status_code == 200 else r.text[:200], "valid",
            "the signer back: anvil-jobs issues the order")
    issuance.check_sanitizers(s)


tap.run(main)
