#!/usr/bin/python3
"""Finalize against a slow HSM (tools/slowhsm: every signature takes 0.5 s, one session; a
certificate is two: itself and its first OCSP response) with a finalize budget of 300 ms: the
answer is `processing` + Retry-After, never a 500; anvil-jobs finishes the durable 'finalize'
job and a later poll of the order finds it `valid`, its certificate verifying against the
ceremony root (seeds 000 and 004). A burst of orders: every finalize answers 200, and every
order ends valid."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, order_url, ready_order  # noqa: E402

BURST = 4


def main():
    proc.alarm(150)
    slow = issuance.slow_hsm(500000, 1)
    s = issuance.stack(config={"signer": {"module": slow},
                               "acme": {"finalize_budget_ms": 300}}, jobs=True)
    time.sleep(0.5)
    with open(s.jobs.log_path()) as f:
        if "built without issuance" in f.read():
            tap.skip_all("anvil-jobs is built without issue/ (jobs/Makefile.inc)")
    c = issuance.account(s)

    names = ["slow.example.com"]
    oid = ready_order(s, c, names)
    t0 = time.time()
    r = c.finalize(finalize_url(s, oid), acme.make_csr(names)[1])
    took = time.time() - t0
    body = r.json() if r.status_code == 200 else {}
    tap.is_((r.status_code, body.get("status")), (200, "processing"),
            "a signature slower than the budget: 200 processing")
    tap.ok(r.headers.get("Retry-After", "").isdigit(), "with Retry-After")
    tap.ok(took < 2.5, "answered within the budget, not after the HSM (%.2f s)" % took)
    first = s.mysql_rows("SELECT serial FROM serials WHERE order_id = %d" % oid)
    tap.is_(len(first), 1, "the serial was recorded before the signature")
    r = c.poll(order_url(s, oid), timeout=30)
    body = r.json() if r.status_code == 200 else {}
    tap.is_(body.get("status"), "valid", "anvil-jobs finished it: a later poll finds it valid")
    d = c.download(body.get("certificate", s.base + "/acme/cert/00"))
    tap.is_(body.get("certificate", "").rsplit("/", 1)[-1], first[0][0] if first else None,
            "anvil-jobs reused the serial recorded by the request")
    tap.is_(d.status_code, 200, "its certificate downloads")
    tap.ok(d.status_code == 200 and issuance.openssl_verify(s, d.text)[0],
           "and verifies against the ceremony root")
    tap.is_(s.mysql_rows("SELECT state FROM jobs WHERE kind = 'finalize' AND ref_id = %d" % oid),
            [["done"]], "the finalize job is done")

    # A burst: every finalize answers 200 (none 500/503), every order ends valid.
    oids = [ready_order(s, c, ["burst%d.example.com" % i]) for i in range(BURST)]
    clients = [issuance.account(s) for _ in range(BURST)]
    for i, cl in enumerate(clients):
        s.mysql("UPDATE orders SET account_id = %d WHERE id = %d" % (issuance.account_id(cl),
                                                                   oids[i]))
    statuses = [None] * BURST

    def one(i):
        rr = clients[i].finalize(finalize_url(s, oids[i]),
                                 acme.make_csr(["burst%d.example.com" % i])[1])
        statuses[i] = (rr.status_code, rr.json().get("status") if rr.status_code == 200 else
                       rr.text[:200])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(BURST)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    tap.ok(all(st is not None and st[0] == 200 for st in statuses),
           "burst of %d finalizes: all 200 (%s)" % (BURST, statuses))
    final = []
    for i, oid_i in enumerate(oids):
        try:
            rr = clients[i].poll(order_url(s, oid_i), timeout=40)
            final.append(rr.json().get("status"))
        except TimeoutError as e:
            final.append(str(e))
    tap.is_(final, ["valid"] * BURST, "every order of the burst ends valid")
    s.jobs.stop()
    with open(s.jobs.log_path()) as f:
        log = f.read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-jobs exited without a sanitizer report")
    issuance.check_sanitizers(s)


tap.run(main)
