#!/usr/bin/python3
"""anvilctl ct-logs fetches every configured log's signed tree head at once and verifies it
with the configured key: a wrong key, a log that is down or a URL where nothing listens is
named, and fails the command when the log is usable; a retired log's trouble is only
reported."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import ctlog  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402

ENV = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def main():
    proc.alarm(60)
    t = proc.tmpdir()
    logs = {n: ctlog.CTLog(name=n).start() for n in ("a1", "b1", "c1")}
    stranger = ctlog.CTLog()
    stranger.server.server_close()

    def run(mutate=None):
        ct = {"logs": {n: {"url": lg.url, "key": lg.key_b64(), "operator": n[0].upper()}
                       for n, lg in logs.items()}, "policies": {}}
        if mutate:
            mutate(ct)
        path = os.path.join(t, "anvil.json")
        with open(path, "w") as f:
            json.dump({"ct": ct}, f)
        r = proc.run([proc.builddir_path("tools", "anvilctl", "anvilctl"), "-c", path,
                      "ct-logs", "--timeout-ms", "3000"], check=False, env=ENV)
        out = r.stdout.decode()
        lines = {ln.split()[0][4:]: ln for ln in out.splitlines() if ln.startswith("log=")}
        return r.returncode, lines, out

    rc, lines, out = run()
    tap.ok(rc == 0 and len(lines) == 3 and all("result=ok" in v and "tree_size=0" in v
                                                for v in lines.values()),
           "three logs answer with a tree head their configured key verifies") or tap.diag(out)

    rc, lines, out = run(lambda ct: ct["logs"]["b1"].__setitem__("key", stranger.key_b64()))
    tap.ok(rc == 1 and "tree head signature does not verify with the configured key" in
           lines.get("b1", "") and "result=ok" in lines.get("a1", ""),
           "a log configured with another key is named") or tap.diag(out)

    logs["c1"].set(mode="down")
    rc, lines, out = run()
    tap.ok(rc == 1 and "why=HTTP status 503" in lines.get("c1", ""), "a log that is down is "
           "named and fails the check") or tap.diag(out)
    rc, lines, out = run(lambda ct: ct["logs"]["c1"].__setitem__("state", "retired"))
    tap.ok(rc == 0 and "state=retired result=error" in lines.get("c1", ""),
           "a retired log's trouble is reported but does not fail the check") or tap.diag(out)
    logs["c1"].set(mode="ok")

    port = proc.free_port()
    rc, lines, out = run(lambda ct: ct["logs"]["a1"].__setitem__(
        "url", "http://127.0.0.1:%d/" % port))
    tap.ok(rc == 1 and "result=error" in lines.get("a1", ""),
           "a URL where nothing listens is named") or tap.diag(out)
    rc, lines, out = run(lambda ct: ct["logs"]["a1"].__setitem__("key", "AAAA"))
    tap.ok(rc == 1 and "ct.logs.a1.key" in out, "a bad key in the section stops the command, "
           "naming it") or tap.diag(out)
    for lg in logs.values():
        lg.stop()


tap.run(main)
