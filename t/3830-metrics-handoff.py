#!/usr/bin/python3
"""Issuance finished by anvil-jobs is counted too (issue 14 item 2): against a slow HSM
(tools/slowhsm, 0.5 s a signature) with a 300 ms finalize budget, each finalize answers
`processing` (anvil_finalize_total{outcome="handed_off"}), anvil-jobs' lanes store the
certificates, and anvil_certificates_issued_total{by="anvil-jobs"} plus {by="worker"} equals the
certificates in the database once its heartbeat has carried the count."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import acme  # noqa: E402
import issuance  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from issuance import finalize_url, order_url, ready_order  # noqa: E402

import requests  # noqa: E402

ORDERS = 3


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r'^%s(\{([^}]*)\})? (\S+)$' % re.escape(name), line)
        if m and ",".join(sorted((m.group(2) or "").split(","))) == want:
            return float(m.group(3))
    return None


def main():
    proc.alarm(300)
    slow = issuance.slow_hsm(500000, 1)
    s = issuance.stack(config={"signer": {"module": slow},
                               "acme": {"finalize_budget_ms": 300}}, jobs=True)
    c = issuance.account(s)
    oids = []
    for i in range(ORDERS):
        names = ["handoff%d.example.com" % i]
        oid = ready_order(s, c, names)
        r = c.finalize(finalize_url(s, oid), acme.make_csr(names)[1])
        tap.is_((r.status_code, r.json().get("status")), (200, "processing"),
                "finalize %d: processing (handed to anvil-jobs)" % i)
        oids.append(oid)

    def all_valid():
        return all(c.post_as_get(order_url(s, o)).json().get("status") == "valid" for o in oids)
    proc.wait_for(all_valid, 120, 0.5, "every order valid")
    db_certs = int(s.mysql("SELECT COUNT(*) FROM certificates").split()[-1])
    tap.is_(db_certs, ORDERS, "the database holds %d certificates" % ORDERS)

    seen = {}

    def counted():
        text = requests.get(s.base + "/metrics", verify=s.ca_file, timeout=20).text
        seen["w"] = metric(text, "anvil_certificates_issued_total", by="worker") or 0
        seen["j"] = metric(text, "anvil_certificates_issued_total", by="anvil-jobs") or 0
        seen["h"] = metric(text, "anvil_finalize_total", outcome="handed_off")
        return seen["w"] + seen["j"] == db_certs
    try:
        proc.wait_for(counted, 20, 0.3, "issuance counted")
    except TimeoutError:
        pass
    tap.is_(int(seen.get("w", 0) + seen.get("j", 0)), db_certs,
            "anvil_certificates_issued_total (worker %s + anvil-jobs %s) = the database's count"
            % (seen.get("w"), seen.get("j")))
    tap.ok(seen.get("j", 0) >= 1, "anvil-jobs' lanes counted what they stored")
    tap.is_(seen.get("h"), float(ORDERS), "anvil_finalize_total{outcome=handed_off}")
    s.stop()
    tap.done()


main()
