#!/usr/bin/python3
"""CT client benchmark: sequential submissions of one precertificate through t/ct-submit -n
ROUNDS against four RFC 6962 test logs (t/lib/ctlog.py; two operators, two logs each) under
the default policy (2 SCTs, 2 operators). Reports wall time per submission, the time to the
policy decision (the slowest kept SCT of each round), and the client's CPU time.

    tools/bench/ct-bench.py [--build DIR] [--rounds N] [--latency-ms LO,HI]

Build DIR (default build-bench, configured without sanitizers) must have t/ct-submit:
    mkdir build-bench && cd build-bench && ../configure && make t/ct-submit
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(top, "t", "lib"))
import ctlog  # noqa: E402
import ctpki  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(top, "build-bench"))
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--latency-ms", default="0,0")
    a = ap.parse_args()
    lo, hi = [float(x) for x in a.latency_ms.split(",")]
    d = tempfile.mkdtemp(prefix="ct-bench-")
    ca = ctpki.CA()
    root, iss = ca.write(d)
    pre, _ = ca.pair()
    pre_path = os.path.join(d, "pre.pem")
    with open(pre_path, "wb") as f:
        f.write(ctpki.pem(pre))
    logs = [ctlog.CTLog(name=n, roots=[ctpki.der(ca.root)]).start()
            for n in ("a1", "a2", "b1", "b2")]
    for lg in logs:
        lg.set(latency_ms=(lo, hi))
    conf = os.path.join(d, "ct.json")
    with open(conf, "w") as f:
        json.dump({"ct": {"logs": {lg.name: {"url": lg.url, "key": lg.key_b64(),
                                             "operator": lg.name[0]} for lg in logs},
                          "policies": {"p": {"log_timeout_ms": 2000, "deadline_ms": 3000}}}}, f)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "cpu_user_s=%U cpu_sys_s=%S max_rss_kb=%M",
                        os.path.join(a.build, "t", "ct-submit"), "-c", conf, "-p", "p", "-n",
                        str(a.rounds), pre_path, iss, root], capture_output=True, text=True,
                       env=env)
    took = time.monotonic() - t0
    decided = {}
    for line in r.stdout.splitlines():
        if " kept=1 " in line:
            rnd = int(line.split()[0].split("=")[1])
            ms = int(re.search(r" ms=(\d+)", line).group(1))
            decided[rnd] = max(decided.get(rnd, 0), ms)
    v = sorted(decided.values()) or [0]
    print("rounds=%d met=%d latency_ms=%s wall_s=%.2f per_submission_ms=%.1f "
          "decided_ms_p50=%d p90=%d max=%d %s" % (
              a.rounds, r.stdout.count("result=ok"), a.latency_ms, took,
              took * 1000 / a.rounds, v[len(v) // 2], v[int(len(v) * 0.9)], v[-1],
              (r.stderr.strip().splitlines() or [""])[-1]))
    for lg in logs:
        lg.stop()


if __name__ == "__main__":
    main()
