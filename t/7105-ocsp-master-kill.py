#!/usr/bin/python3
"""kill -9 of the anvil-ocsp master: its workers notice (the parent-death signal is the drain's
SIGTERM) and exit, so the socket is free and a new master starts on it and answers (issue 12
item 10, as for anvil-fcgi in t/3410)."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import issuance  # noqa: E402
from stack import pid_alive  # noqa: E402



def answers_good(s, leaf, inter):
    r = subprocess.run(["openssl", "ocsp", "-issuer", inter, "-cert", leaf, "-url", s.ocsp_url,
                        "-no_nonce", "-noverify"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
    return "%s: good" % leaf in r.stdout


def main():
    proc.alarm(90)
    s = issuance.stack()
    c = issuance.account(s)
    cert, _, chain, _ = issuance.issue(s, c, ["kill.example.com"], profile="rsa")
    blocks = issuance.split_pem(chain)
    leaf, inter = os.path.join(s.dir, "leaf.pem"), os.path.join(s.dir, "int.pem")
    with open(leaf, "w") as f:
        f.write(blocks[0])
    with open(inter, "w") as f:
        f.write(blocks[1])
    tap.ok(answers_good(s, leaf, inter), "the issued certificate answers good")

    pids = s.responder.pids()
    master, workers = pids[0], pids[1:]
    tap.ok(len(workers) >= 1, "anvil-ocsp runs %d worker(s)" % len(workers))
    os.kill(master, signal.SIGKILL)
    try:
        proc.wait_for(lambda: not any(pid_alive(p) for p in workers), 15, 0.1,
                      "the orphaned workers exit")
        gone = True
    except TimeoutError:
        gone = False
    tap.ok(gone, "every worker exited after its master was killed")
    s.responder.proc = None
    tap.ok(s.responder.start(), "a new master starts on the same socket")
    tap.ok(answers_good(s, leaf, inter), "and answers")
    s.responder.stop()
    tap.done()


if __name__ == "__main__":
    main()
