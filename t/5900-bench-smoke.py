#!/usr/bin/python3
"""anvil-bench (tools/bench) against a real stack: a burst of 2 and a 1-second closed loop at 2
flows, each a complete issuance with http-01 answered by the tool's own responder (anvil-jobs
validates against it through the mock DNS), then the same with --ocsp, where a flow ends only
with a good OCSP response for its certificate from the leaf's AIA URL (nginx and anvil-ocsp of
the stack). Not a timing test: it checks that the tool completes and checks its certificates,
reports no errors, and writes its JSON report; and, with anvil-ocsp stopped, that a flow whose
certificate was issued and checked still counts as failed, at the ocsp step."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

PROFILE = {"issuer": "int-ec", "validity_days": 90, "ct": False}


def bench(s, port, extra):
    out = os.path.join(s.dir, "bench.json")
    argv = [proc.builddir_path("tools", "bench", "anvil-bench"), "--directory", s.directory_url,
            "--cacert", s.ca_file, "--http01-port", str(port), "--poll-cap-ms", "50",
            "--drain-seconds", "30", "--timeout", "20", "--json", out] + extra
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    text = r.stdout.decode("utf-8", "replace")
    res = None
    if os.path.exists(out):
        with open(out) as f:
            res = json.load(f)
        os.unlink(out)
    return r.returncode, res, text


def main():
    proc.alarm(200)
    exe = proc.builddir_path("tools", "bench", "anvil-bench")
    if not os.access(exe, os.X_OK):
        tap.skip_all("tools/bench/anvil-bench is not built")
    port = proc.free_port()
    s = start_or_skip(workers=2, signer=True,
                      jobs={"validation": {"http01_port": port}},
                      config={"acme": {"default_profile": "bench"},
                              "profiles": {"bench": PROFILE}})
    for name, extra, want in (("burst of 2", ["--burst", "2"], 2),
                              ("closed loop, 2 flows, 1 s", ["--concurrency", "2", "--seconds",
                                                             "1"], 2),
                              ("--ocsp, burst of 2", ["--burst", "2", "--ocsp"], 2),
                              ("--ocsp, closed loop, 2 flows, 1 s",
                               ["--concurrency", "2", "--seconds", "1", "--ocsp"], 2)):
        rc, res, text = bench(s, port, extra)
        if not tap.ok(rc == 0 and res is not None, "%s: anvil-bench exits 0 with a report" % name):
            tap.diag(text[-3000:])
            continue
        tap.ok(res["completed"] >= want and res["failed"] == 0 and res["unfinished"] == 0,
               "%s: %d flows completed, none failed" % (name, res["completed"]))
        tap.is_(res["errors_by_status"], {}, "%s: no error answers" % name)
        tap.ok(res["http01_served"] >= res["completed"],
               "%s: the responder answered every validation" % name)
        tap.ok(res["steps"]["flow"]["n"] == res["completed"] and
               res["steps"]["flow"]["p50_ms"] > 0, "%s: flow latencies recorded" % name)
        ocsp = "--ocsp" in extra
        tap.is_(res.get("ocsp"), ocsp, "%s: the report says whether flows fetched OCSP" % name)
        if ocsp:
            tap.ok(res["steps"]["ocsp"]["n"] == res["completed"] and
                   res["steps"]["ocsp"]["p50_ms"] > 0,
                   "%s: every completed flow has an ocsp step (n=%d)" %
                   (name, res["steps"]["ocsp"]["n"]))
        else:
            tap.is_(res["steps"]["ocsp"]["n"], 0, "%s: no ocsp step without --ocsp" % name)

    # The certificate is issued and checked, but no relying party can get its status: with
    # --ocsp the flow must fail there (nginx answers 502 without anvil-ocsp).
    s.responder.stop()
    rc, res, text = bench(s, port, ["--burst", "1", "--ocsp"])
    if tap.ok(rc != 0 and res is not None, "anvil-ocsp stopped: anvil-bench exits non-zero "
              "with a report"):
        tap.ok(res["completed"] == 0 and res["failed"] == 1,
               "anvil-ocsp stopped: the flow counts as failed (completed %d, failed %d)" %
               (res["completed"], res["failed"]))
        tap.is_(res["steps"]["cert"]["n"], 1, "anvil-ocsp stopped: the certificate itself was "
                "downloaded and checked")
        tap.is_(res["errors_by_step"], {"ocsp 502 ocsp: HTTP status not 200": 1},
                "anvil-ocsp stopped: the error is at the ocsp step, with its reason")
        tap.ok("error: ocsp 502 ocsp: HTTP status not 200: 1" in text,
               "anvil-ocsp stopped: the table names the reason")
    else:
        tap.diag(text[-3000:])
    s.stop()


if __name__ == "__main__":
    tap.run(main)
