#!/usr/bin/python3
"""Issuance with CT, HSM-bound (issue 11): the stack of t/lib/stack.py with the slow-HSM module
at --hsm-rate signatures/s on one signing unit, two RFC 6962 test logs of two operators
answering in --latency-ms (uniform), a CT profile with one SCT per operator. --orders orders,
made `ready` in SQL (validation is not measured here), are finalized from --threads threads at
once; each polls its order until `valid`. Reports the signatures per certificate (anvil-signer's
audit log), the certificates per second from the first finalize to the last `valid`, the
ceiling (HSM rate ÷ signatures per certificate) and the ratio, and the answers by status.

    ANVIL_BUILDDIR=build-bench tools/bench/ct-issue-bench.py [--hsm-rate 330] [--orders 1000]
        [--threads 96] [--workers 48] [--latency-ms 100,500]

Use a build without sanitizers, with tools/slowhsm built."""
import argparse
import collections
import json
import os
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "t", "lib"))
import acme  # noqa: E402
import ctlog  # noqa: E402
import issuance  # noqa: E402
import proc  # noqa: E402


def ready_orders(s, acct, n, profile, first):
    now = int(time.time())
    stmts = []
    names = ["ct%d.example.test" % i for i in range(first, first + n)]
    for name in names:
        ids = json.dumps([{"type": "dns", "value": name}], separators=(",", ":"))
        stmts += ["INSERT INTO orders (account_id, status, expires, identifiers, profile, created)"
                  " VALUES (%d, 'ready', %d, '%s', '%s', %d)" % (acct, now + 3600, ids, profile,
                                                                 now),
                  "SET @o = LAST_INSERT_ID()",
                  "INSERT INTO authorizations (account_id, identifier_type, identifier_value, "
                  "wildcard, status, expires, profile, created) VALUES (%d, 'dns', '%s', 0, "
                  "'valid', %d, '%s', %d)" % (acct, name, now + 3600, profile, now),
                  "INSERT INTO order_authorizations (order_id, authz_id) VALUES "
                  "(@o, LAST_INSERT_ID())",
                  "SELECT @o"]
    out = s.mysql(";\n".join(stmts) + ";")
    return list(zip([int(x) for x in out.split()], names))


def signatures(s):
    n = 0
    with open(s.signer_log) as f:
        for ln in f:
            # Issuance's signatures (not the CRL builder's, which signs at start).
            if "event=sign" in ln and "result=ok" in ln and "replay=1" not in ln and \
                    "what=crl" not in ln:
                n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hsm-rate", type=int, default=330)
    ap.add_argument("--orders", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=96)
    ap.add_argument("--workers", type=int, default=48)
    ap.add_argument("--latency-ms", default="100,500")
    a = ap.parse_args()
    lo, hi = (float(x) for x in a.latency_ms.split(","))
    slow = proc.builddir_path("tools", "slowhsm", ".libs", "anvil-slowhsm.so")
    if not os.path.exists(slow):
        sys.exit("build tools/slowhsm first")
    os.environ.update(ANVIL_SLOWHSM_SIGN_US=str(int(round(1e6 / a.hsm_rate))),
                      ANVIL_SLOWHSM_MAX_CONCURRENT="1")
    logs = {n: ctlog.CTLog(name=n).start() for n in ("a", "b")}
    for lg in logs.values():
        lg.set(latency_ms=(lo, hi))

    def prepare(s):
        s.config["signer"]["module"] = slow
        # Every daemon runs as one uid here: room for all the workers and lanes.
        s.config["signer"]["max_connections_per_peer"] = 256
        s.config["profiles"]["bench"] = {"issuer": "int-ec", "validity_days": 90, "ct": True}
        s.config["ct"] = {
            "logs": {n: {"url": lg.url, "key": lg.key_b64(), "operator": n}
                     for n, lg in logs.items()},
            "policies": {"p": {"log_timeout_ms": 1500, "deadline_ms": 2000}},
            "profiles": {"default": "p", "shortlived": "p", "bench": "p"}}
        s.config["acme"]["finalize_budget_ms"] = 3000

    s = issuance.stack(before_start=prepare, workers=a.workers,
                       jobs={"finalize_concurrency": 16, "retry_backoff": 1,
                             "max_attempts": 100})
    c = issuance.account(s)
    orders = []
    for k in range(0, a.orders, 200):
        orders += ready_orders(s, issuance.account_id(c), min(200, a.orders - k), "bench", k)
    statuses = collections.Counter()
    lock = threading.Lock()
    work = list(orders)
    done_at = []

    def worker():
        cl = acme.Client(s.directory_url, s.ca_file, key=c.key)
        cl.kid = c.kid
        while True:
            with lock:
                if not work:
                    return
                oid, name = work.pop()
            _, csr = acme.make_csr([name])
            r = cl.finalize(issuance.finalize_url(s, oid), csr)
            st = r.json().get("status") if r.status_code == 200 else None
            with lock:
                statuses["finalize %d %s" % (r.status_code, st)] += 1
            while st == "processing":
                time.sleep(min(float(r.headers.get("Retry-After", "1") or 1), 0.2))
                r = cl.post_as_get(issuance.order_url(s, oid))
                st = r.json().get("status") if r.status_code == 200 else None
                with lock:
                    statuses["poll %d %s" % (r.status_code, st)] += 1
            with lock:
                done_at.append((time.time(), st))

    before = signatures(s)
    t0 = time.time()
    ths = [threading.Thread(target=worker) for _ in range(a.threads)]
    for t in ths:
        t.start()
    while any(t.is_alive() for t in ths):
        time.sleep(5)
        with lock:
            print("progress: %.0f s, %d done" % (time.time() - t0, len(done_at)), flush=True)
    for t in ths:
        t.join()
    elapsed = max(t for t, _ in done_at) - t0
    valid = sum(1 for _, st in done_at if st == "valid")
    made = signatures(s) - before
    per = made / valid if valid else 0
    ceiling = a.hsm_rate / per if per else 0
    rate = valid / elapsed
    print("hsm_rate=%d orders=%d valid=%d seconds=%.1f certs_per_s=%.1f signatures=%d "
          "signatures_per_cert=%.2f ceiling=%.1f ratio=%.2f" % (
              a.hsm_rate, a.orders, valid, elapsed, rate, made, per, ceiling,
              rate / ceiling if ceiling else 0))
    print("answers: %s" % dict(statuses))
    s.stop()
    for lg in logs.values():
        lg.stop()


if __name__ == "__main__":
    main()
