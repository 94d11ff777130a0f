#!/usr/bin/python3
"""SIGHUP (a log rotation, `systemctl reload`) never stops anvil-signer: it keeps serving, the
`log` section is applied again (debug lines appear after the level is raised), and a file that
no longer parses is refused with the signer still running on what it loaded."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402


def wait_log(p, text, what):
    return proc.wait_for(lambda: text in p.log_text(), 10, 0.05, what)


def main():
    proc.alarm(120)
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm, extra_issuers=False)
    conf["log"] = {"level": "info"}
    signer.ceremony(t, conf, hsm)
    p, sock = signer.start_signer(t, conf, hsm)
    path = os.path.join(t, "signer.json")
    c = signer.Client(sock)

    os.kill(p.pid, signal.SIGHUP)
    wait_log(p, "event=reload result=ok log_level=info", "reload logged")
    tap.ok(p.alive(), "SIGHUP: anvil-signer still running")
    tap.is_(c.health()[0], 0, "SIGHUP: health answers ok on the connection opened before")
    now = int(time.time())
    r = c.precert("default", signer.new_serial(), signer.spki_der(), [("dns", "hup.example.com")],
                  now, now + 86400) if conf["profiles"]["default"].get("ct") else \
        c.cert("default", signer.new_serial(), signer.spki_der(), [("dns", "hup.example.com")],
               now, now + 86400)
    tap.is_(r[0], 0, "SIGHUP: signing goes on")

    conf["log"] = {"level": "debug"}
    signer.write_config(t, conf, "signer.json")
    os.kill(p.pid, signal.SIGHUP)
    wait_log(p, "log_level=debug", "reload to debug logged")
    tap.ok(p.alive(), "SIGHUP with a new log level: still running")

    with open(path, "w") as f:
        f.write("{ not json")
    os.kill(p.pid, signal.SIGHUP)
    wait_log(p, "event=reload result=refused", "refused reload logged")
    tap.ok(p.alive(), "SIGHUP with a broken file: still running")
    tap.is_(signer.Client(sock).health()[0], 0, "SIGHUP with a broken file: a new connection is served")

    p.stop(signal.SIGTERM)
    tap.done()


if __name__ == "__main__":
    main()
