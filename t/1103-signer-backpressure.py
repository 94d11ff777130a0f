#!/usr/bin/python3
"""Backpressure and resilience with the slow-HSM module (tools/slowhsm): a full queue answers
`busy` at once with an estimated wait; a request whose deadline passes while it queues is
dropped before the HSM and its serial stays unsigned; a session broken under the signer (as by
a device reset) is reopened and logged in again without a restart."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402


def slowhsm_path():
    return proc.builddir_path("tools", "slowhsm", ".libs", "anvil-slowhsm.so")


def main():
    proc.alarm(120)
    if not os.path.exists(slowhsm_path()):
        tap.skip_all("slow-HSM module not built")
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm, extra_issuers=False)
    signer.ceremony(t, conf, hsm)
    conf = signer.signer_config(t, hsm, module=slowhsm_path(), sessions=1, queue_max=2,
                                extra_issuers=False)
    fail_file = os.path.join(t, "reset-now")
    env = dict(os.environ, ANVIL_SLOWHSM_SIGN_US="1000000", ANVIL_SLOWHSM_MAX_CONCURRENT="1",
               ANVIL_SLOWHSM_FAIL_FILE=fail_file)
    p, sock = signer.start_signer(t, conf, hsm, env=env)
    now = int(time.time())

    # 8 requests at once on 8 connections: 1 on the HSM + 2 queued, the rest busy.
    results = [None] * 8
    barrier = threading.Barrier(8)

    def one(i):
        c = signer.Client(sock)
        c.connect()
        barrier.wait()
        results[i] = c.crl("int-ec", 1, [], deadline_ms=signer.now_ms() + 30000)
        c.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    busy = [r for r in results if r[0] == signer.AE["BUSY"]]
    oks = [r for r in results if r[0] == 0]
    tap.ok(len(busy) >= 1 and len(oks) >= 1 and len(busy) + len(oks) == 8,
           "full queue: %d busy, %d signed" % (len(busy), len(oks)))
    tap.ok(all(r[1] > 0 for r in busy), "busy carries an estimated wait (%s ms)" %
           ",".join(str(r[1]) for r in busy))
    tap.ok(len(oks) <= 3, "no more than sessions + queue_max were accepted")

    # Deadline: B queues behind A (1 signature = 1 s) with 150 ms to live.
    res = {}
    sa = signer.new_serial()

    def a():
        c = signer.Client(sock)
        res["a"] = c.precert("default", sa, signer.spki_der(), [("dns", "a.example.com")], now,
                             now + 86400, deadline_ms=signer.now_ms() + 30000)
        c.close()
    ta = threading.Thread(target=a)
    ta.start()
    # B must queue behind A: wait until A is at the HSM (the only session is busy), not for
    # a fixed time, which a loaded machine can overrun.
    proc.wait_for(lambda: signer.Client(sock).stats()["active"] == 1, 10,
                  what="request A at the HSM")
    sb = signer.new_serial()
    spki = signer.spki_der()
    cb = signer.Client(sock)
    rb = cb.precert("default", sb, spki, [("dns", "b.example.com")], now, now + 86400,
                    deadline_ms=signer.now_ms() + 150)
    ta.join()
    tap.is_(signer.AE_NAME.get(rb[0]), "SIGNER_DEADLINE", "a request past its deadline in the "
            "queue is dropped")
    tap.is_(res["a"][0], 0, "the request ahead of it was signed")
    st = cb.stats()
    tap.ok(st["deadline_dropped"] >= 1, "stats count the dropped request")
    r2 = cb.precert("default", sb, spki, [("dns", "b2.example.com")], now, now + 86400,
                    deadline_ms=signer.now_ms() + 30000)
    tap.is_(r2[0], 0, "the dropped request's serial was never signed (a different TBS is fine)")

    # Device reset: the next C_Sign finds its session closed; the signer reopens and retries.
    open(fail_file, "w").close()
    r3 = cb.crl("int-ec", 1, [], deadline_ms=signer.now_ms() + 30000)
    tap.is_(r3[0], 0, "signed after the session was reset under the signer")
    tap.ok(not os.path.exists(fail_file), "the reset really happened")
    st = cb.stats()
    tap.ok(st["sessions_reopened"] >= 1 and st["sessions_up"] == 1,
           "the session was reopened and logged in again")
    cb.close()
    tap.ok(p.alive(), "the daemon never restarted")
    rc = p.stop()
    log = p.log_text()
    tap.ok(rc == 0 and "Sanitizer" not in log, "the signer stops cleanly, no sanitizer report")
    tap.ok("event=hsm_session_reopen" in log, "the reopen is logged")
    tap.ok(hsm.pin not in log, "the PIN appears in no output")


tap.run(main)
