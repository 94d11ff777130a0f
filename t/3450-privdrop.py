#!/usr/bin/python3
"""fcgi.user and jobs.user: the anvil-fcgi master stays root (it rereads its configuration), the workers that parse
hostile input run as the configured user with no supplementary groups, and still serve; a user
or group that does not exist stops the program at start, naming the key."""
import json
import os
import pwd
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from stack import start_or_skip  # noqa: E402


def ids(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                out[k] = v.split()
    return out


def main():
    proc.alarm(90)
    if os.geteuid() != 0:
        tap.skip_all("needs root to switch users")
    nobody = pwd.getpwnam("nobody")
    s = start_or_skip(workers=2, config={"fcgi": {"user": "nobody"}}, jobs={"user": "nobody"})
    workers = s.fcgi_worker_pids()
    tap.is_(len(workers), 2, "two workers")
    for pid in workers:
        st = ids(pid)
        tap.ok(st["Uid"] == [str(nobody.pw_uid)] * 4,
               "worker %d runs as nobody (real, effective, saved, fs)" % pid) or tap.dump("ids", st)
        tap.ok(st["Gid"] == [str(nobody.pw_gid)] * 4 and st["Groups"] == [str(nobody.pw_gid)],
               "worker %d has nobody's group and no other" % pid) or tap.dump("ids", st)
    tap.is_(ids(s.fcgi_master_pid())["Uid"][1], "0", "the master stays root")

    runner = s.jobs.runners["anvil-jobs"]
    st = ids(runner.pid)
    tap.ok(st["Uid"] == [str(nobody.pw_uid)] * 4 and st["Groups"] == [str(nobody.pw_gid)],
           "anvil-jobs runs as nobody after start-up") or tap.dump("ids", st)
    s.jobs.wake()
    tap.ok(proc.wait_for(lambda: runner.alive() and "runner" in runner.log_text(), 10),
           "the unprivileged runner is up and listening for wake-ups")

    c = Client(s.directory_url, s.ca_file)
    r = c.new_account(contact=["mailto:drop@example.com"])
    tap.is_(r.status_code, 201, "an unprivileged worker creates an account")

    exe = proc.builddir_path("fcgi", "anvil-fcgi")
    for key, value, named in (("user", "no-such-user-anvil", "fcgi.user"),
                              ("user", "root", "fcgi.user"),
                              ("group", "nogroup", "fcgi.group")):
        cfg = json.load(open(s.config_path))
        cfg["fcgi"].pop("user", None)
        cfg["fcgi"][key] = value
        path = os.path.join(s.dir, "bad-%s.json" % key)
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = subprocess.run([exe, "-c", path, "--check"], capture_output=True, text=True)
        tap.ok(r.returncode != 0 and named in r.stderr,
               "fcgi.%s = %r is refused at start, naming %s" % (key, value, named)) \
            or tap.diag(r.stderr)


tap.run(main)
