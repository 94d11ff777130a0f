#!/usr/bin/python3
"""anvil-bench (tools/bench) against a real stack, two flows: a burst of 2 and a 1-second closed
loop at 2 flows, each a complete issuance with http-01 answered by the tool's own responder
(anvil-jobs validates against it through the mock DNS). Not a timing test: it checks that the
tool completes and checks its certificates, reports no errors, and writes its JSON report."""
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
    proc.alarm(100)
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
                                                             "1"], 2)):
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
    s.stop()


if __name__ == "__main__":
    tap.run(main)
