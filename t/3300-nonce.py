#!/usr/bin/python3
"""Nonces (DESIGN.md "Nonces", RFC 8555 §6.5): stateless, authenticated with the shared
nonce.key, redeemed once by an INSERT into the replay table. A nonce spent through one worker is
refused by every other worker, after workers are killed and replaced, and after a full restart;
an unspent nonce survives a restart; a nonce made with another key, an expired one and one from
the future are refused."""
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client, b64u  # noqa: E402
from stack import start_or_skip  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

BAD_NONCE = "urn:ietf:params:acme:error:badNonce"


def forge(key_hex, issued_at):
    """A nonce in Anvil's format (lib/nonce.h) made with key_hex, issued at issued_at."""
    iv = os.urandom(12)
    pt = struct.pack(">q", issued_at) + os.urandom(8)
    return b64u(iv + AESGCM(bytes.fromhex(key_hex)).encrypt(iv, pt, None))


def is_bad_nonce(r, name):
    ok = r.status_code == 400 and r.headers.get("Content-Type", "").startswith(
        "application/problem+json") and r.json().get("type") == BAD_NONCE
    if not tap.ok(ok, name):
        tap.diag("got %d %s" % (r.status_code, r.text[:300]))
    return ok


def main():
    proc.alarm(120)
    s = start_or_skip(workers=2)
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    key = s.config["nonce"]["key"]

    # Spent once, refused after, whichever worker answers.
    n = c.nonce()
    tap.is_(c.post_as_get(c.kid, nonce=n).status_code, 200, "a fresh nonce is accepted")
    for i in range(6):
        is_bad_nonce(c.post_as_get(c.kid, nonce=n), "replay %d refused" % (i + 1))
    tap.ok(int(s.mysql("SELECT COUNT(*) FROM nonces").strip()) >= 1,
           "spent nonces are rows in the replay table")

    # One worker spends it, the other refuses it: stop each in turn so the other must answer.
    workers = s.wait_workers()
    tap.is_(len(workers), 2, "two workers")
    n = c.nonce()
    os.kill(workers[0], signal.SIGSTOP)
    try:
        tap.is_(c.post_as_get(c.kid, nonce=n).status_code, 200,
                "spent through worker %d" % workers[1])
    finally:
        os.kill(workers[0], signal.SIGCONT)
    os.kill(workers[1], signal.SIGSTOP)
    try:
        is_bad_nonce(c.post_as_get(c.kid, nonce=n),
                     "refused by worker %d, which never saw it" % workers[0])
    finally:
        os.kill(workers[1], signal.SIGCONT)

    # Kill every worker (whichever served it is among them): the replacements refuse it too.
    n = c.nonce()
    unspent = c.nonce()
    tap.is_(c.post_as_get(c.kid, nonce=n).status_code, 200, "spent before the workers die")
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    fresh = s.wait_workers(exclude=workers)
    tap.ok(not set(fresh) & set(workers), "the master replaced the killed workers")
    log = open(os.path.join(s.dir, "run", "anvil-fcgi.log")).read()
    tap.ok("died on signal 9; replacing it" in log, "the master logged the deaths")
    is_bad_nonce(c.post_as_get(c.kid, nonce=n), "refused by the replacement workers")

    # A full restart of anvil-fcgi: spent stays spent, unspent stays good.
    s.restart_fcgi()
    is_bad_nonce(c.post_as_get(c.kid, nonce=n), "refused after a restart")
    tap.is_(c.post_as_get(c.kid, nonce=unspent).status_code, 200,
            "a nonce issued before the restart is still good")

    # Nonces this server did not make, or not now.
    now = int(time.time())
    tap.is_(c.post_as_get(c.kid, nonce=forge(key, now)).status_code, 200,
            "the forge helper makes nonces the server accepts (format check)")
    is_bad_nonce(c.post_as_get(c.kid, nonce=forge(os.urandom(32).hex(), now)),
                 "a nonce made with another key")
    lifetime = s.config["nonce"]["lifetime"]
    is_bad_nonce(c.post_as_get(c.kid, nonce=forge(key, now - lifetime - 5)),
                 "a nonce older than nonce.lifetime")
    is_bad_nonce(c.post_as_get(c.kid, nonce=forge(key, now + 3600)),
                 "a nonce from the future")
    n = c.nonce()
    is_bad_nonce(c.post_as_get(c.kid, nonce=n[:-2] + ("AA" if n[-2:] != "AA" else "BB")),
                 "a nonce with a flipped tag")

    # A new key (reload): nonces of the old key are refused. Then a tiny lifetime.
    old = c.nonce()
    cfg = dict(s.config)
    cfg["nonce"] = {"key": os.urandom(32).hex(), "lifetime": 2}
    before = s.fcgi_worker_pids()
    s.write_config(cfg)
    s.reload_fcgi()
    s.wait_workers(exclude=before)
    is_bad_nonce(c.post_as_get(c.kid, nonce=old), "after a key change, old nonces are refused")
    n = c.nonce()
    time.sleep(4)
    is_bad_nonce(c.post_as_get(c.kid, nonce=n), "expired under nonce.lifetime = 2")
    tap.is_(c.post_as_get(c.kid, nonce=c.nonce()).status_code, 200,
            "a nonce used at once still works")

    # Workers and master exit normally: any ASan, UBSan or LeakSanitizer report is in the log.
    s.stop_fcgi()
    log = open(os.path.join(s.dir, "run", "anvil-fcgi.log")).read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-fcgi exited without a sanitizer report")


tap.run(main)
