#!/usr/bin/python3
"""The worker's wake socket (t/4150) when anvil-fcgi's workers and anvil-jobs drop to another
user (fcgi.user, jobs.user): the worker binds it before dropping root, in a runtime directory
that user could not write, owned by fcgi.user/fcgi.group with mode 0660, and anvil-jobs, running
as that user, still wakes it: the challenge answer is `valid` with a recheck longer than the
wait. The socket goes when the worker does."""
import os
import pwd
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402


def main():
    proc.alarm(80)
    if os.geteuid() != 0:
        tap.skip_all("needs root to switch users")
    nobody = pwd.getpwnam("nobody")
    web = HTTPTarget()
    s = start_or_skip(workers=1, signer=True, start=False,
                      jobs={"user": "nobody", "validation": {"http01_port": web.port}},
                      config={"fcgi": {"user": "nobody"},
                              "acme": {"validation_wait_ms": 4000,
                                       "validation_recheck_ms": 30000, "authz_reuse": 0,
                                       "default_profile": "rsa"}})
    run = os.path.dirname(s.jobs.wake_socket)
    # nobody may reach the runtime directory but not write to it.
    for d in (s.dir, run):
        os.chmod(d, 0o755)
    s.start()
    pid = s.fcgi_worker_pids()[0]
    sock = os.path.join(run, "anvil-fcgi.%d.wake" % pid)
    st = os.lstat(sock) if os.path.exists(sock) else None
    tap.ok(st is not None and stat.S_ISSOCK(st.st_mode),
           "the worker bound its socket in a directory fcgi.user cannot write")
    tap.is_(st and (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
            (nobody.pw_uid, nobody.pw_gid, 0o660), "owned by fcgi.user and fcgi.group, 0660")

    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account")
    r = c.new_order(["drop.example.test"])
    tap.is_(r.status_code, 201, "order") or tap.diag(r.text)
    a = c.get_authz(r.json()["authorizations"][0]).json()
    ch = c.challenge_of(a, "http-01")
    web.challenge(ch["token"], c.key_authorization(ch["token"]).encode())
    r = c.respond_challenge(ch["url"])
    tap.is_(r.json().get("status"), "valid",
            "anvil-jobs as jobs.user wakes the worker: valid in the answer") \
        or tap.dump("challenge", r.json())

    s.stop_fcgi()
    tap.ok(not os.path.exists(sock), "the socket is removed with the worker (by the master)")


tap.run(main)
