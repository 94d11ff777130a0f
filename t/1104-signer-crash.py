#!/usr/bin/python3
"""anvil-signer killed with SIGKILL in the middle of a load and restarted: callers that retry
get exactly one precertificate per serial (the same bytes on every answer), and after the
restart the journal still refuses a different precertificate for a serial signed before."""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402

THREADS = 4
PER_THREAD = 40


def main():
    proc.alarm(150)
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm, extra_issuers=False, queue_max=256)
    signer.ceremony(t, conf, hsm)
    p, sock = signer.start_signer(t, conf, hsm, log=os.path.join(t, "signer1.log"))
    now = int(time.time())
    got = {}       # serial -> list of DERs received
    reqs = {}      # serial -> request arguments
    lock = threading.Lock()
    done_count = [0]
    errors = []

    def worker(k):
        c = signer.Client(sock, timeout=10)
        for i in range(PER_THREAD):
            serial = signer.new_serial()
            args = ("default", serial, signer.spki_der(),
                    [("dns", "h%d-%d.example.com" % (k, i))], now, now + 86400)
            with lock:
                reqs[serial] = args
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    r = c.precert(*args, deadline_ms=signer.now_ms() + 10000)
                except OSError:
                    r = None
                if r is None or r[0] in (signer.AE["BUSY"], signer.AE["UNAVAILABLE"]):
                    c.close()
                    time.sleep(0.05)  # the signer is restarting: retry the same request
                    continue
                if r[0] != 0:
                    errors.append((serial.hex(), r[0]))
                    break
                with lock:
                    got.setdefault(serial, []).append(r[2])
                    done_count[0] += 1
                break
        c.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for th in threads:
        th.start()
    proc.wait_for(lambda: done_count[0] >= 30, 60, what="30 signatures")
    p.stop(sig=signal.SIGKILL)
    killed_at = done_count[0]
    p2, _ = signer.start_signer(t, conf, hsm, log=os.path.join(t, "signer2.log"))
    for th in threads:
        th.join()
    tap.ok(killed_at < THREADS * PER_THREAD, "killed mid-load (%d of %d signed)" %
           (killed_at, THREADS * PER_THREAD))
    tap.is_(errors, [], "no request failed for good")
    tap.is_(len(got), THREADS * PER_THREAD, "every serial got its precertificate")

    # Every caller asks once more: still one precertificate per serial, byte for byte.
    c = signer.Client(sock)
    again = {s: c.precert(*a)[2] for s, a in reqs.items()}
    distinct = [s for s in reqs if len(set(got.get(s, []) + [again[s]])) != 1]
    tap.is_(len(distinct), 0, "exactly one precertificate per serial across the crash")
    first = next(iter(reqs))
    a = list(reqs[first])
    a[5] -= 1
    tap.is_(signer.AE_NAME.get(c.precert(*a)[0]), "SIGNER_DUPLICATE",
            "after restart, a different precertificate for a signed serial is refused")
    st = c.stats()
    tap.ok(st["signed"] <= THREADS * PER_THREAD, "the restarted signer re-signed only what was "
           "lost (%d signatures)" % st["signed"])
    c.close()
    p2.stop()
    logs = p.log_text() + p2.log_text()
    tap.ok(hsm.pin not in logs, "the PIN appears in no output")


tap.run(main)
