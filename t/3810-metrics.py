#!/usr/bin/python3
"""Prometheus metrics (issue 14 item 2): /metrics passes `promtool check metrics`; the
workers' counters add up across the prefork pool (shared memory: requests spread over several
workers are all counted); the issuance counters equal the certificates the database holds;
finalize outcomes, problem types, orders by status, validations by type and result (anvil-jobs,
through the counters table), the signer's figures, the job queues; and the location is not
public: with an allow-list that leaves out loopback, nginx answers 403 while /health still
answers."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import issuance  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

import requests  # noqa: E402

CERTS = 4
NONCES = 30
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$')


def parse(text):
    """{(name, frozenset of label pairs): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError("not an exposition line: %r" % line)
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(m, name, **labels):
    return m.get((name, frozenset(labels.items())))


def main():
    proc.alarm(600)
    promtool = shutil.which("promtool")
    if promtool is None:
        tap.skip_all("promtool not installed (Debian package prometheus)")
    web = HTTPTarget()
    s = start_or_skip(workers=3, signer=True, jobs={"validation": {
        "http01_port": web.port, "https_port": proc.free_port()}})
    url = s.base + "/metrics"

    def scrape():
        r = requests.get(url, verify=s.ca_file, timeout=20)
        if r.status_code != 200:
            raise RuntimeError("/metrics: %d %s" % (r.status_code, r.text[:300]))
        return r

    r = scrape()
    tap.ok(r.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"),
           "/metrics: text exposition format 0.0.4")
    before = parse(r.text)
    tap.is_(value(before, "anvil_metrics_shared"), 1.0, "the workers' counters are shared")

    # Requests spread over three workers: every one is counted once.
    for _ in range(NONCES):
        requests.head(s.base + "/acme/new-nonce", verify=s.ca_file, timeout=10)
    # A problem: a JWS that is not one.
    bad = requests.post(s.base + "/acme/new-account", data=b"{}", verify=s.ca_file, timeout=10,
                        headers={"Content-Type": "application/jose+json"})
    c = issuance.account(s)
    for i in range(CERTS):
        issuance.issue(s, c, ["m%d.example.com" % i])

    # Validations by anvil-jobs: one valid, one invalid (a wrong body).
    vc = Client(s.directory_url, s.ca_file)
    vc.new_account()
    acct = s.jobs.account(vc)
    results = []
    for name, good in (("ok.example.test", True), ("bad.example.test", False)):
        ch = s.jobs.challenge(acct, "dns", name, "http-01")
        web.challenge(ch["token"], ch["keyauth"] if good else "wrong")
        s.jobs.queue(ch["id"])
        s.jobs.wake()
        results.append(s.jobs.wait_challenge(ch["id"])["status"])
    tap.is_(results, ["valid", "invalid"], "two validations decided (valid, invalid)")

    def counted():
        m = parse(scrape().text)
        return (value(m, "anvil_validations_total", type="http-01", result="valid") == 1 and
                value(m, "anvil_validations_total", type="http-01", result="invalid") == 1)
    try:
        proc.wait_for(counted, 20, 0.2, "validations counted")
        ok = True
    except TimeoutError:
        ok = False
    tap.ok(ok, "validations by type and result reach /metrics (anvil-jobs' heartbeat)")

    r = scrape()
    text = r.text
    p = subprocess.run([promtool, "check", "metrics"], input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
    if not tap.is_(p.returncode, 0, "promtool check metrics passes"):
        tap.diag(p.stdout[-3000:])
    m = parse(text)

    got = sum(value(m, "anvil_http_requests_total", route="new-nonce", status=st) or 0
              for st in ("200", "204")) - sum(
        value(before, "anvil_http_requests_total", route="new-nonce", status=st) or 0
        for st in ("200", "204"))
    # issuance.account and the ACME client fetch nonces too: at least ours, all of them.
    nonce_log = sum(1 for line in open(s.nginx.access_log) if "/acme/new-nonce" in line)
    tap.is_(int(got), nonce_log, "new-nonce requests counted across 3 workers = nginx's "
            "access log (%d)" % nonce_log)
    tap.ok(got >= NONCES, "at least the %d HEAD new-nonce sent" % NONCES)

    db_certs = int(s.mysql("SELECT COUNT(*) FROM certificates").split()[-1])
    issued = (value(m, "anvil_certificates_issued_total", by="worker") or 0) + \
        (value(m, "anvil_certificates_issued_total", by="anvil-jobs") or 0)
    tap.is_(db_certs, CERTS, "the database holds %d certificates" % CERTS)
    tap.is_(int(issued), db_certs, "anvil_certificates_issued_total = the database's count")
    tap.is_(value(m, "anvil_finalize_total", outcome="issued"), float(CERTS),
            "anvil_finalize_total{outcome=issued}")
    db_valid = int(s.mysql("SELECT COUNT(*) FROM orders WHERE status = 'valid'").split()[-1])
    tap.is_(value(m, "anvil_orders", status="valid"), float(db_valid),
            "anvil_orders{status=valid} = the database's count")
    tap.ok((value(m, "anvil_problems_total", type="malformed") or 0) >= 1,
           "anvil_problems_total{type=malformed} counts the bad JWS (%d)" % bad.status_code)
    tap.is_(value(m, "anvil_http_request_duration_seconds_count", route="finalize"),
            value(m, "anvil_http_request_duration_seconds_bucket", route="finalize", le="+Inf"),
            "finalize latency histogram: count = +Inf bucket")
    tap.ok((value(m, "anvil_http_request_duration_seconds_count", route="finalize") or 0)
           >= CERTS, "finalize latency histogram counts every finalize")
    tap.ok((value(m, "anvil_signer_signatures_total") or 0) >= 2 * CERTS,
           "signer signatures (certificate + OCSP per certificate)")
    tap.ok((value(m, "anvil_signer_replies_total", op="cert") or 0) >= CERTS and
           (value(m, "anvil_signer_replies_total", op="ocsp") or 0) >= CERTS,
           "signer replies by operation: cert and ocsp")
    for fam in ("anvil_signer_queue_length", "anvil_signer_busy_total",
                "anvil_signer_hsm_errors_total", "anvil_signer_relogins_total",
                "anvil_signer_hsm_latency_avg_seconds", "anvil_db_errors_total",
                "anvil_db_connects_total", "anvil_jobs_heartbeat_age_seconds",
                "anvil_ct_final_backlog"):
        tap.ok(value(m, fam) is not None, "%s present" % fam)
    tap.ok(any(k[0] == "anvil_jobs_queued" and ("kind", "validate") in k[1] for k in m),
           "job queue depth per kind (validate)")
    tap.ok(any(k[0] == "anvil_ocsp_oldest_response_age_seconds" for k in m),
           "OCSP freshness per issuer")
    tap.is_(value(m, "anvil_up", source="database"), 1.0, "database source up")
    tap.is_(value(m, "anvil_up", source="signer"), 1.0, "signer source up")

    # Not public: an allow-list without loopback.
    s.nginx.stop()
    s.nginx_vars["MONITOR_ALLOW"] = "allow 192.0.2.1;"
    s.nginx.render(s._nginx_values())
    s.nginx.start(s.ports["api"])
    for path in ("/metrics", "/status", "/status/data"):
        r = requests.get(s.base + path, verify=s.ca_file, timeout=10)
        tap.is_(r.status_code, 403, "%s outside the allow-list: 403" % path)
    r = requests.get(s.base + "/health", verify=s.ca_file, timeout=10)
    tap.is_(r.status_code, 200, "/health stays public")
    s.stop()
    web.close()
    tap.done()


main()
