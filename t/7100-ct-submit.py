#!/usr/bin/python3
"""ct/'s client (through t/ct-submit) against real RFC 6962 test logs (t/lib/ctlog.py) of two
operators plus an informational one: the SCTs it keeps, embedded in a certificate with the
precertificate's TBS, are validated by OpenSSL's own CT code (t/ct-ossl-check); racing keeps
the first SCT of a group and cancels the rest; a log down, answering garbage, a wrong
signature, an SCT of an unknown log, a timestamp from the future, an oversized answer or no
answer at all is refused and the policy is met by the other log of that operator, or, when
both logs of an operator fail, not met with a message naming the policy and each log; per-log
timeouts and the overall deadline end a submission; a log failing often, or answering 429 with
Retry-After, is skipped; connections are reused across submissions; Chrome's 3 SCTs for long
lifetimes; a log's temporal interval; final certificates reach their logs' get-entries."""
import base64
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import ctlog  # noqa: E402
import ctpki  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

# Loopback only: a proxy from the environment must not see the test logs.
ENV = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


def split_list(data):
    """The SCTs of a SignedCertificateTimestampList (RFC 6962 3.3)."""
    out, off = [], 2
    while off < len(data):
        n = int.from_bytes(data[off:off + 2], "big")
        out.append(data[off + 2:off + 2 + n])
        off += 2 + n
    return out


class Run:
    def __init__(self, r, took):
        self.rc = r.returncode
        self.out = r.stdout
        self.err = r.stderr
        self.took = took
        self.rounds = {}
        self.results = []
        for line in r.stdout.splitlines():
            if line.startswith("round="):
                f = dict(kv.split("=", 1) for kv in line.split(" why=")[0].split())
                f["why"] = line.split(" why=", 1)[1] if " why=" in line else ""
                self.rounds.setdefault(int(f["round"]), {})[f["log"]] = f
            elif line.startswith("result="):
                self.results.append(line)

    def log(self, name, rnd=1):
        return self.rounds.get(rnd, {}).get(name, {})

    def kept(self, rnd=1):
        return sorted(n for n, f in self.rounds.get(rnd, {}).items() if f["kept"] == "1")


def main():
    proc.alarm(240)
    t = proc.tmpdir()
    ca = ctpki.CA()
    root_pem, issuer_pem = ca.write(t)
    names = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "i1": "C"}
    logs = {n: ctlog.CTLog(name=n, roots=[ctpki.der(ca.root)]).start() for n in names}

    def reset():
        for lg in logs.values():
            lg.set(mode="ok", latency_ms=0, error_rate=0)

    def config(**ct_extra):
        ct = {
            "logs": {n: {"url": lg.url + "/", "key": lg.key_b64(), "operator": names[n]}
                     for n, lg in logs.items()},
            "policies": {
                "two": {"logs": ["a1", "a2", "b1", "b2"], "informational": ["i1"],
                        "final_certificates": ["a1", "b1"],
                        "log_timeout_ms": 3000, "deadline_ms": 6000},
                "pair": {"logs": ["a1", "b1"]},
                "hurry": {"logs": ["a1", "a2", "b1", "b2"], "log_timeout_ms": 500,
                          "deadline_ms": 5000},
                "deadline": {"logs": ["a1", "a2", "b1", "b2"], "log_timeout_ms": 800,
                             "deadline_ms": 800},
            },
        }
        ct.update(ct_extra)
        path = os.path.join(t, "ct-%d.json" % time.monotonic_ns())
        with open(path, "w") as f:
            json.dump({"ct": ct}, f)
        return path

    conf = config()

    def submit(leaf_pem, policy="two", conf_path=None, args=()):
        out = os.path.join(t, "list.bin")
        if os.path.exists(out):
            os.unlink(out)
        argv = [proc.builddir_path("t", "ct-submit"), "-c", conf_path or conf, "-p", policy,
                "-o", out] + list(args) + [leaf_pem, issuer_pem, root_pem]
        start = time.monotonic()
        r = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=60)
        run = Run(r, time.monotonic() - start)
        run.list = open(out, "rb").read() if os.path.exists(out) else None
        if r.returncode not in (0, 1):
            tap.diag(r.stdout + r.stderr)
        return run

    def precert(days=90, name="ct.example.test"):
        pre, final = ca.pair(name, days)
        path = os.path.join(t, "pre-%s-%d.pem" % (name, days))
        with open(path, "wb") as f:
            f.write(ctpki.pem(pre))
        return pre, final, path

    def ossl_check(cert, log_names):
        cpath = os.path.join(t, "cert.pem")
        with open(cpath, "wb") as f:
            f.write(ctpki.pem(cert))
        lpath = os.path.join(t, "ctlogs.cnf")
        with open(lpath, "w") as f:
            f.write("enabled_logs = %s\n" % ",".join(log_names))
            for n in log_names:
                f.write("[%s]\ndescription = %s\nkey = %s\n" % (n, n, logs[n].key_b64()))
        r = subprocess.run([proc.builddir_path("t", "ct-ossl-check"), lpath, cpath, issuer_pem],
                           capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    # --- the normal case, checked by OpenSSL as a relying party -----------------------------
    pre, final, pre_path = precert()
    r = submit(pre_path, args=["-d"])
    tap.ok(r.rc == 0 and r.results == ["result=ok list_bytes=%d" % len(r.list or b"")],
           "two operators: the policy is met") or tap.diag(r.out + r.err)
    kept = r.kept()
    tap.ok(len(kept) == 2 and {names[k] for k in kept} == {"A", "B"},
           "one SCT kept per operator (%s)" % kept)
    cert = final(r.list)
    rc, out = ossl_check(cert, ["a1", "a2", "b1", "b2"])
    tap.ok(rc == 0 and out.count("status=valid") == 2,
           "OpenSSL's SCT_LIST_validate accepts both embedded SCTs") or tap.diag(out)
    rc, out = ossl_check(cert, ["a1", "a2"] if "a1" in kept or "a2" in kept else ["b1"])
    tap.ok(rc != 0 and "unknown_log" in out,
           "and does not when a log is missing from its list (the check has teeth)")
    tampered = bytearray(r.list)
    tampered[-5] ^= 0x40
    rc, out = ossl_check(final(bytes(tampered)), ["a1", "a2", "b1", "b2"])
    tap.ok(rc != 0 and "status=invalid" in out, "a tampered SCT list fails OpenSSL's check")
    tap.ok(r.log("i1").get("info") == "1" and r.log("i1").get("outcome") == "ok",
           "the informational log got the precertificate (-d waits for it)")
    for k in kept:
        st = logs[k]._sth()
        entries = logs[k]._entries({"start": ["0"], "end": [str(st["tree_size"] - 1)]})
        found = [ctlog.parse_entry(base64.b64decode(e["leaf_input"]))
                 for e in entries["entries"]]
        tbs = ctlog.tbs_without_poison(pre)
        tap.ok(any(et == ctlog.PRECERT_ENTRY and body[1] == tbs for et, _, body in found),
               "log %s: get-entries holds the precertificate entry" % k)
        sth_data = (b"\x00\x01" + st["timestamp"].to_bytes(8, "big") +
                    st["tree_size"].to_bytes(8, "big") + base64.b64decode(st["sha256_root_hash"]))
        sig = base64.b64decode(st["tree_head_signature"])[4:]
        logs[k].key.public_key().verify(sig, sth_data, ec.ECDSA(hashes.SHA256()))
        tap.ok(True, "log %s: get-sth is signed over its Merkle tree head" % k)

    sizes = {n: logs[n]._sth()["tree_size"] for n in kept}
    r2 = submit(pre_path)
    first = {sct[1:33]: sct for sct in split_list(r.list)}
    again = {sct[1:33]: sct for sct in split_list(r2.list or b"")}
    tap.ok(r2.rc == 0 and {n: logs[n]._sth()["tree_size"] for n in kept} == sizes and
           all(first[i] == sct for i, sct in again.items() if i in first),
           "a resubmission is the same entry: the logs do not grow and answer the same SCTs")

    r3 = submit(pre_path, policy="pair", args=["-n", "3"])
    conns = [r3.log(n, rnd).get("connects") for rnd in (1, 2, 3) for n in ("a1", "b1")]
    tap.ok(r3.rc == 0 and conns == ["1", "1", "0", "0", "0", "0"],
           "each log's connection is reused by the next submission (new connections per "
           "round: %s)" % conns) or tap.diag(r3.out)

    # --- the final certificate goes to the policy's final_certificates logs ----------------
    cert_path = os.path.join(t, "final.pem")
    with open(cert_path, "wb") as f:
        f.write(ctpki.pem(cert))
    r = submit(cert_path)
    tap.ok(r.rc == 0 and set(r.rounds[1]) == {"a1", "b1"} and
           all(f["outcome"] == "ok" for f in r.rounds[1].values()),
           "the final certificate is submitted (add-chain) to a1 and b1 only") or \
        tap.diag(r.out + r.err)
    for k in ("a1", "b1"):
        st = logs[k]._sth()
        entries = logs[k]._entries({"start": ["0"], "end": [str(st["tree_size"] - 1)]})
        found = [ctlog.parse_entry(base64.b64decode(e["leaf_input"]))
                 for e in entries["entries"]]
        tap.ok(any(et == ctlog.X509_ENTRY and body == ctpki.der(cert) for et, _, body in found),
               "log %s: get-entries holds the final certificate" % k)
    logs["b1"].set(mode="down")
    r = submit(cert_path)
    tap.ok(r.rc == 1 and "b1: HTTP status 503" in r.results[0],
           "a final certificate needs every one of its logs (b1 down: not done)")
    reset()

    # --- racing -----------------------------------------------------------------------------
    logs["a1"].set(latency_ms=1500)
    logs["b2"].set(latency_ms=1500)
    r = submit(pre_path)
    tap.ok(r.rc == 0 and r.kept() == ["a2", "b1"], "the faster log of each group is kept "
           "(%s)" % r.kept()) or tap.diag(r.out)
    tap.ok(r.log("a1").get("outcome") == "cancelled" and
           r.log("b2").get("outcome") == "cancelled",
           "the slower requests are cancelled, not waited for") or tap.diag(r.out)
    reset()

    # --- one log of an operator failing in each way: the other log of B meets the policy ----
    cases = [("down", "HTTP status 503"),
             ("garbage", "bad answer: response is not one JSON object"),
             ("badsig", "SCT signature does not verify"),
             ("foreign", "SCT log id is not this log's key"),
             ("future", "SCT timestamp is in the future"),
             ("huge", "answer over 4096 bytes")]
    # b2 answers a second late so that b1's answer is always the first of group B.
    logs["b2"].set(latency_ms=1000)
    for mode, why in cases:
        logs["b1"].set(mode=mode)
        r = submit(pre_path)
        b1 = r.log("b1")
        tap.ok(r.rc == 0 and "b2" in r.kept() and b1.get("outcome") == "failed" and
               b1.get("kept") == "0" and why in b1.get("why", ""),
               "b1 %s: refused (%s), b2 meets the policy" % (mode, b1.get("why"))) or \
            tap.diag(r.out + r.err)
        if r.rc == 0:
            rc, out = ossl_check(final(r.list), list(names))
            tap.ok(rc == 0, "b1 %s: the SCTs kept pass OpenSSL's check" % mode) or tap.diag(out)
    reset()

    # --- both logs of an operator failing: a clear error, no list ---------------------------
    logs["b1"].set(mode="down")
    logs["b2"].set(mode="badsig")
    r = submit(pre_path)
    tap.ok(r.rc == 1 and r.list is None and r.results and
           'CT policy "two" not met: ' in r.results[0] and "of 2 operators" in r.results[0] and
           "b1: HTTP status 503" in r.results[0] and
           "b2: SCT signature does not verify" in r.results[0],
           "operator B entirely failing: not met, naming the policy and each log") or \
        tap.diag(r.out + r.err)
    reset()

    # --- an informational log's trouble never matters ---------------------------------------
    logs["i1"].set(mode="down")
    r = submit(pre_path, args=["-d"])
    tap.ok(r.rc == 0 and r.log("i1").get("outcome") == "failed",
           "the informational log down: the policy is still met")
    logs["i1"].set(mode="hang")
    r = submit(pre_path)
    tap.ok(r.rc == 0 and r.log("i1").get("outcome") == "pending",
           "a hanging informational log is not waited for") or tap.diag(r.out)
    reset()

    # --- timeouts inside the deadline -------------------------------------------------------
    logs["b1"].set(mode="hang")
    r = submit(pre_path, policy="hurry")
    tap.ok(r.rc == 0 and "b2" in r.kept(), "b1 hanging: b2 answers and the policy is met")
    logs["b2"].set(mode="hang")
    r = submit(pre_path, policy="hurry")
    tap.ok(r.rc == 1 and "b1: no answer within" in r.results[0] and
           "b2: no answer within" in r.results[0],
           "both B logs hanging: each times out after log_timeout_ms, the policy is not met") or \
        tap.diag(r.out)
    tap.ok(r.took < 5.0 + 10, "and ct-submit returns within the deadline (%.1f s)" % r.took)
    logs["b1"].set(mode="ok", latency_ms=3000)
    logs["b2"].set(mode="ok", latency_ms=3000)
    r = submit(pre_path, policy="deadline")
    tap.ok(r.rc == 1 and r.results and "not met" in r.results[0],
           "B logs slower than the 800 ms deadline: not met") or tap.diag(r.out)
    tap.ok(r.took < 0.8 + 10, "the deadline ends the submission (%.1f s)" % r.took)
    reset()

    # --- backoff ----------------------------------------------------------------------------
    bconf = config(backoff_after_failures=2, backoff_max_seconds=60)
    logs["b1"].set(mode="down")
    logs["b2"].set(latency_ms=1000)  # b1's failure always comes first: it is counted
    r = submit(pre_path, conf_path=bconf, args=["-n", "4"])
    outcomes = [r.log("b1", n).get("outcome") for n in (1, 2, 3, 4)]
    tap.ok(r.rc == 0 and outcomes == ["failed", "failed", "skipped", "skipped"],
           "a log failing twice in a row is skipped afterwards (%s)" % outcomes) or \
        tap.diag(r.out)
    tap.ok(all("b2" in r.kept(n) for n in (3, 4)), "and its operator's other log is used")
    logs["b2"].set(mode="down", latency_ms=0)
    r = submit(pre_path, conf_path=bconf, args=["-n", "3"])
    tap.ok(r.log("b1", 3).get("outcome") == "failed" and r.log("b2", 3).get("outcome") ==
           "failed", "when skipping would leave the policy unmeetable, backed-off logs are "
           "asked anyway")
    reset()
    logs["b1"].set(mode="ratelimit")
    logs["b2"].set(latency_ms=1000)
    r = submit(pre_path, args=["-n", "2"])
    tap.ok(r.rc == 0 and r.log("b1", 1).get("why") == "HTTP status 429" and
           r.log("b1", 2).get("outcome") == "skipped",
           "a log answering 429 with Retry-After is left alone at once (%s, then %s)" %
           (r.log("b1", 1).get("why"), r.log("b1", 2).get("outcome"))) or tap.diag(r.out)
    reset()

    # --- Chrome: more than 180 days needs 3 SCTs -------------------------------------------
    pre_l, final_l, pre_l_path = precert(days=200, name="long.example.test")
    r = submit(pre_l_path)
    tap.ok(r.rc == 0 and len(r.kept()) == 3 and {names[k] for k in r.kept()} == {"A", "B"},
           "a 200-day certificate gets 3 SCTs from 2 operators (%s)" % r.kept())
    if r.rc == 0:
        rc, out = ossl_check(final_l(r.list), list(names))
        tap.ok(rc == 0 and out.count("status=valid") == 3,
               "OpenSSL validates all three") or tap.diag(out)

    # --- a temporal interval excludes a log -------------------------------------------------
    tconf_path = config()
    cfg = json.load(open(tconf_path))
    cfg["ct"]["logs"]["a1"]["not_after_end"] = "2020-01-01T00:00:00Z"
    with open(tconf_path, "w") as f:
        json.dump(cfg, f)
    r = submit(pre_path, conf_path=tconf_path)
    tap.ok(r.rc == 0 and "a1" not in r.rounds.get(1, {}),
           "a log whose interval excludes the notAfter is not submitted to")
    for lg in logs.values():
        lg.stop()


tap.run(main)
