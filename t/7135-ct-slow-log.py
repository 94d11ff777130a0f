#!/usr/bin/python3
"""Seed 000's case: one CT operator's logs time out under load. A burst of finalize requests
for orders of a CT profile gets no 500: every answer is `processing` (with Retry-After) or
`valid`; anvil-jobs' finalize jobs keep gathering SCTs for the same precertificates, and once
the operator's logs answer again every order ends `valid`, one serial each, its certificate
carrying an SCT from each operator. An order whose SCTs could not be gathered within
ct.sct_give_up_seconds turns `invalid` with a problem naming the policy.

ANVIL_CT_BURST sets the number of orders (default 40; the issue's case is 100)."""
import concurrent.futures
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import acme  # noqa: E402
import ctlog  # noqa: E402
import issuance  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from issuance import finalize_url, order_url, ready_order  # noqa: E402
from cryptography import x509  # noqa: E402

SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def main():
    n = int(os.environ.get("ANVIL_CT_BURST", "40"))
    proc.alarm(300 + 3 * n)
    logs = {"g1": ctlog.CTLog(name="g1").start(), "g2": ctlog.CTLog(name="g2").start(),
            "o1": ctlog.CTLog(name="o1").start(), "o2": ctlog.CTLog(name="o2").start()}
    ops = {"g1": "google", "g2": "google", "o1": "other", "o2": "other"}

    def prepare(s):
        s.config["ct"] = {
            "logs": {k: {"url": lg.url, "key": lg.key_b64(), "operator": ops[k]}
                     for k, lg in logs.items()},
            "policies": {"two": {"log_timeout_ms": 300, "deadline_ms": 1200}},
            "profiles": {"default": "two", "shortlived": "two"},
            "backoff_after_failures": 2, "backoff_max_seconds": 5}
        s.config["acme"]["finalize_budget_ms"] = 2000

    s = issuance.stack(before_start=prepare, workers=4,
                       jobs={"retry_backoff": 1, "max_attempts": 1000,
                             "finalize_concurrency": 4})
    c = issuance.account(s)

    # The other operator's logs time out (they answer after 5 s; the client waits 300 ms).
    for k in ("o1", "o2"):
        logs[k].set(latency_ms=5000)
    orders = []
    for i in range(n):
        name = "burst%d.example.com" % i
        orders.append((ready_order(s, c, [name], profile="default"),
                       acme.make_csr([name])[1]))

    def fin(item):
        oid, csr = item
        r = c.finalize(finalize_url(s, oid), csr)
        return r.status_code, (r.json().get("status") if r.status_code == 200 else r.text), \
            r.headers.get("Retry-After", "")

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        answers = list(ex.map(fin, orders))
    codes = [a[0] for a in answers]
    tap.is_(codes.count(500), 0, "%d finalize requests with one operator's logs timing out: "
            "no 500" % n)
    bad = [a for a in answers if a[0] != 200 or a[1] not in ("processing", "valid")]
    tap.ok(not bad, "every answer is 200 processing or valid") or tap.diag(str(bad[:5]))
    tap.ok(all(a[2].isdigit() for a in answers if a[1] == "processing"),
           "processing answers carry Retry-After")
    rows = s.mysql_rows("SELECT COUNT(*) FROM orders o JOIN cert_status cs ON cs.serial = "
                        "o.serial OR cs.serial = (SELECT serial FROM serials WHERE order_id "
                        "= o.id) WHERE o.profile = 'default'")
    tap.ok(int(rows[0][0]) >= 1, "precertificates signed meanwhile have status rows (%s)"
           % rows[0][0])

    # The logs recover: anvil-jobs finishes every order.
    for k in ("o1", "o2"):
        logs[k].set(latency_ms=0)
    ids = ",".join(str(o[0]) for o in orders)
    deadline = time.time() + 120 + 2 * n
    states = []
    while time.time() < deadline:
        states = s.mysql_rows("SELECT status, COUNT(*) FROM orders WHERE id IN (%s) GROUP BY "
                              "status" % ids)
        if states == [["valid", str(n)]]:
            break
        time.sleep(1)
    tap.is_(states, [["valid", str(n)]], "once the logs answer, every order ends valid")
    tap.is_(s.mysql_rows("SELECT COUNT(*), COUNT(DISTINCT order_id) FROM serials WHERE "
                         "order_id IN (%s)" % ids), [[str(n), str(n)]],
            "one serial per order")
    r = c.post_as_get(order_url(s, orders[-1][0]))
    cert = None
    if r.status_code == 200 and r.json().get("certificate"):
        d = c.download(r.json()["certificate"])
        cert = x509.load_pem_x509_certificate(issuance.split_pem(d.text)[0].encode())
    tap.ok(cert is not None and SCT_OID in [e.oid for e in cert.extensions],
           "its certificate carries the SCT list")
    other_entries = sum(logs[k]._sth()["tree_size"] for k in ("o1", "o2"))
    tap.ok(other_entries >= n, "the recovered operator's logs got the precertificates (%d)"
           % other_entries)

    # Give-up: an order whose SCTs stay out of reach past ct.sct_give_up_seconds (3600 s by
    # default; its serial is backdated here) turns invalid, naming the policy. Its notBefore
    # is fixed so the backdated serial does not change the precertificate.
    for k in ("o1", "o2"):
        logs[k].set(mode="down")
    oid = ready_order(s, c, ["giveup.example.com"], profile="default",
                      not_before=int(time.time()) - 30)
    r = c.finalize(finalize_url(s, oid), acme.make_csr(["giveup.example.com"])[1])
    tap.is_((r.status_code, r.json().get("status") if r.status_code == 200 else r.text),
            (200, "processing"), "both logs of an operator down: processing")
    s.mysql("UPDATE serials SET created = created - 4000 WHERE order_id = %d" % oid)
    deadline = time.time() + 60
    body = {}
    while time.time() < deadline:
        r = c.post_as_get(order_url(s, oid))
        body = r.json() if r.status_code == 200 else {}
        if body.get("status") != "processing":
            break
        time.sleep(0.5)
    tap.is_(body.get("status"), "invalid", "past ct.sct_give_up_seconds: invalid")
    detail = body.get("error", {}).get("detail", "")
    tap.ok("policy two" in detail, "its problem names the policy: %s" % detail[:200])
    issuance.check_sanitizers(s)
    for lg in logs.values():
        lg.stop()


tap.run(main)
