#!/usr/bin/python3
"""The LSB init scripts (issue 13, for systems without systemd): built from
init/lsb/anvil-daemon.in for anvil-signer, anvil-fcgi, anvil-jobs and anvil-ocsp, pointed at a
test stack through their defaults file. `start` starts each daemon (the signer first: it returns
once its socket is up), `status` reports it running, the stack then issues a certificate through
them, `reload` gives anvil-fcgi a new generation of workers, a second `start` starts nothing
more, `stop` stops each and `status` then says 3 (not running). A configuration that does not
validate: `start` fails and names nothing as started."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import issuance  # noqa: E402
import jobs as jobslib  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from stack import children_of, pid_alive  # noqa: E402

ORDER = ["anvil-signer", "anvil-ocsp", "anvil-jobs", "anvil-fcgi"]
EXE = {"anvil-signer": "ca/anvil-signer", "anvil-fcgi": "fcgi/anvil-fcgi",
       "anvil-jobs": "jobs/anvil-jobs", "anvil-ocsp": "ocsp/anvil-ocsp"}


def main():
    proc.alarm(240)
    for n in ORDER:
        if not os.path.exists(proc.builddir_path("init", "lsb", n)):
            tap.skip_all("init/lsb/%s not built" % n)
    if not os.path.exists("/lib/lsb/init-functions"):
        tap.skip_all("/lib/lsb/init-functions missing (Debian package lsb-base)")
    s = issuance.stack(jobs=True)
    daemons = [n for n in ORDER if n != "anvil-ocsp" or s.responder.running()]
    # The stack's own daemons make way for the init scripts'.
    s.stop_fcgi()
    jobslib.stop(s)
    if "anvil-ocsp" in daemons:
        s.responder.stop()
    s.stop_signer()
    d = os.path.join(s.dir, "init")
    os.makedirs(d)

    def defaults(n, config=s.config_path):
        path = os.path.join(d, n + ".default")
        with open(path, "w") as f:
            f.write("DAEMON=%s\nCONFIG=%s\nDAEMON_USER=root\nDAEMON_GROUP=root\n"
                    "PIDFILE=%s\nLOGFILE=%s\nSETUP_DIRS=no\n"
                    % (proc.builddir_path(EXE[n]), config, os.path.join(d, n + ".pid"),
                       os.path.join(d, n + ".log")))
            if n == "anvil-signer":
                f.write("READY_SOCKET=%s\n" % s.signer_socket)
        return path

    def script(n, action, config=s.config_path):
        env = dict(os.environ, ANVIL_INIT_DEFAULTS=defaults(n, config))
        env.update(s.signer_env if n == "anvil-signer" and getattr(s, "signer_env", None)
                   else {})
        return subprocess.run(["sh", proc.builddir_path("init", "lsb", n), action],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                              universal_newlines=True, timeout=90)

    def pid(n):
        try:
            return int(open(os.path.join(d, n + ".pid")).read())
        except (OSError, ValueError):
            return None

    started = []
    try:
        for n in daemons:
            r = script(n, "start")
            if tap.is_(r.returncode, 0, "%s start" % n):
                started.append(n)
            else:
                tap.diag(r.stdout)
                tap.diag(open(os.path.join(d, n + ".log")).read()[-2000:]
                         if os.path.exists(os.path.join(d, n + ".log")) else "")
            if n == "anvil-signer":
                tap.ok(os.path.exists(s.signer_socket), "the signer's socket is up when "
                       "start returns")
        for n in daemons:
            r = script(n, "status")
            tap.ok(r.returncode == 0 and "is running" in r.stdout, "%s status: running" % n)
            tap.ok(pid(n) and pid_alive(pid(n)), "%s: its PID file names the live process" % n)
        first = pid("anvil-fcgi")
        r = script("anvil-fcgi", "start")
        tap.ok(r.returncode == 0 and pid("anvil-fcgi") == first,
               "a second start starts nothing more")

        # The daemons the scripts started do the work.
        c = issuance.account(s)
        cert, _, _, _ = issuance.issue(s, c, ["init.example.com"])
        tap.ok(cert is not None, "a certificate issued through the daemons the scripts started")
        workers = set(children_of(first))
        r = script("anvil-fcgi", "reload")
        tap.is_(r.returncode, 0, "anvil-fcgi reload")
        try:
            proc.wait_for(lambda: workers and workers.isdisjoint(children_of(first)) and
                          children_of(first), 30, 0.2, "new workers")
            tap.ok(True, "reload: a new generation of workers")
        except TimeoutError:
            tap.ok(False, "reload: a new generation of workers")
        tap.is_(pid("anvil-fcgi"), first, "reload keeps the master")

        for n in reversed(daemons):
            p = pid(n)
            r = script(n, "stop")
            tap.is_(r.returncode, 0, "%s stop" % n)
            tap.ok(p and not pid_alive(p), "%s: the process is gone" % n)
            r = script(n, "status")
            tap.is_(r.returncode, 3, "%s status after stop: 3 (not running)" % n)
            started.remove(n)

        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            f.write('{"log": {"levle": "info"}}\n')
        r = script("anvil-fcgi", "start", config=bad)
        tap.ok(r.returncode != 0 and pid("anvil-fcgi") is None,
               "a configuration that does not validate: start fails, nothing runs")
    finally:
        for n in reversed(started):
            script(n, "stop")


tap.run(main)
