#!/usr/bin/python3
"""anvil-jobs wakes the API worker waiting for a validation (jobs.waiter, migrations/0003): each
anvil-fcgi worker binds its own datagram socket next to jobs.wake_socket; the challenge response
records it with the job and reads the challenge when anvil-jobs signals the result, so the
answer is `valid` although acme.validation_recheck_ms is longer than the whole wait, after one
read. A lost datagram costs only latency: with a long recheck the answer is the row read at the
end of the wait (`processing` or, when it finished meanwhile, `valid`), with a short one the
recheck finds the result within the wait. A replaced worker's socket is removed. anvil-jobs only
sends to a worker-named socket in its own runtime directory, whatever jobs.waiter says."""
import os
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

# A challenge is its authorization's row (migration 0009, db/authz.c): every read of it is the
# authorization's with the challenge columns, in one statement.
CHALL_AUTHZ_GET = "chall_record FROM authorizations WHERE id = "


def main():
    proc.alarm(85)
    web = HTTPTarget()
    s = start_or_skip(workers=1, signer=True, jobs={"validation": {"http01_port": web.port}},
                      config={"acme": {"validation_wait_ms": 4000,
                                       "validation_recheck_ms": 30000, "authz_reuse": 0,
                                       "default_profile": "rsa"}})
    run = os.path.dirname(s.jobs.wake_socket)
    pid = s.fcgi_worker_pids()[0]
    sock = os.path.join(run, "anvil-fcgi.%d.wake" % pid)
    st = os.lstat(sock) if os.path.exists(sock) else None
    tap.ok(st is not None and stat.S_ISSOCK(st.st_mode),
           "the worker binds its wake socket next to jobs.wake_socket")
    tap.is_(st and oct(stat.S_IMODE(st.st_mode)), oct(0o660), "mode 0660")

    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account")

    def challenge(name):
        r = c.new_order([name])
        a = c.get_authz(r.json()["authorizations"][0]).json()
        ch = c.challenge_of(a, "http-01")
        web.challenge(ch["token"], c.key_authorization(ch["token"]).encode())
        return ch, int(ch["url"].rstrip("/").rsplit("/", 1)[1])

    # --- woken: valid at once, one re-read ---
    s.mysql("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1")
    ch, cid = challenge("wake.example.test")
    s.mysql("TRUNCATE TABLE mysql.general_log")
    r = c.respond_challenge(ch["url"])
    s.mysql("SET GLOBAL general_log = 0")
    if not tap.is_(r.json().get("status"), "valid",
                   "woken by anvil-jobs: valid in the answer, with the recheck (30 s) longer "
                   "than the wait (4 s)"):
        tap.dump("challenge", r.json())
    rows = s.mysql_rows("SELECT thread_id, command_type, argument FROM mysql.general_log")
    worker = [t for t, k, a in rows if a.startswith("INSERT INTO jobs")]
    mine = [a for t, k, a in rows if worker and t == worker[0] and k != "Prepare"]
    aid = (cid - (1 << 60)) // 4
    reads = [a for a in mine if CHALL_AUTHZ_GET in a and a.endswith("= %d" % aid)]
    tap.is_(len(reads), 1, "the worker read the challenge once, when woken: the response "
            "writes first (db_chall_respond)") or tap.dump("worker statements", mine)
    tap.ok(reads and not [a for a in mine if a.startswith("SELECT") and
                          ("FROM authorizations" in a or "FROM challenges" in a) and
                          CHALL_AUTHZ_GET not in a],
           "no other read of the authorization or challenge") or \
        tap.dump("worker statements", mine)
    tap.diag("challenge POST: %d statements executed on the worker's connection" % len(mine))
    tap.is_(s.mysql("SELECT waiter FROM jobs WHERE kind = 'validate' AND ref_id = %d"
                    % cid).strip(), sock, "the job recorded the worker's socket as its waiter")

    # --- a lost datagram: the answer is processing, the result is there ---
    moved = sock + ".moved"
    os.rename(sock, moved)
    ch, cid = challenge("lost.example.test")
    r = c.respond_challenge(ch["url"])
    # The response wrote first and read nothing yet: the row is read once at the end of the
    # wait, so the answer is processing, or valid when the validation finished meanwhile.
    tap.ok(r.json().get("status") in ("processing", "valid"),
           "datagram lost (socket unreachable), recheck later than the wait: the state at the "
           "end of the wait (%s)" % r.json().get("status"))
    tap.is_(s.jobs.wait_challenge(cid)["status"], "valid", "the validation itself was done")
    tap.is_(c.poll(ch["url"], timeout=20).json().get("status"), "valid", "the client polls: valid")
    os.rename(moved, sock)

    # --- a replaced worker's socket goes; a short recheck covers a lost datagram ---
    cfg = s.config
    cfg["acme"]["validation_recheck_ms"] = 50
    s.write_config(cfg)
    s.reload_fcgi()
    pid2 = s.wait_workers(1, exclude=[pid])[0]
    tap.ok(proc.wait_for(lambda: not os.path.exists(sock), 10, 0.05, "old socket removed"),
           "the replaced worker's socket is removed")
    sock2 = os.path.join(run, "anvil-fcgi.%d.wake" % pid2)
    tap.ok(proc.wait_for(lambda: os.path.exists(sock2), 10, 0.05, "new socket"),
           "the new worker has its own socket")
    os.rename(sock2, sock2 + ".moved")
    ch, cid = challenge("recheck.example.test")
    r = c.respond_challenge(ch["url"])
    tap.is_(r.json().get("status"), "valid",
            "datagram lost, recheck every 50 ms: valid within the wait")
    os.rename(sock2 + ".moved", sock2)

    # --- anvil-jobs sends only to worker sockets in its runtime directory ---
    acct = s.jobs.account(c)
    outside_dir = os.path.join(s.dir, "elsewhere")
    os.makedirs(outside_dir, exist_ok=True)
    targets = {}
    for label, path in (("inside", os.path.join(run, "anvil-fcgi.999999.wake")),
                        ("outside", os.path.join(outside_dir, "anvil-fcgi.999998.wake")),
                        ("misnamed", os.path.join(run, "other.999997.wake"))):
        rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        rx.bind(path)
        os.chmod(path, 0o666)
        fx = s.jobs.challenge(acct, "dns", label + ".example.test", "http-01")
        web.challenge(fx["token"], fx["keyauth"].encode())
        now = int(time.time())
        s.mysql("INSERT INTO jobs (kind, ref_id, state, run_after, created, waiter) VALUES "
                "('validate', %d, 'queued', %d, %d, '%s')" % (fx["id"], now, now, path))
        targets[label] = (rx, fx["id"], path)
    s.jobs.wake()
    for label, (rx, cid, path) in targets.items():
        s.jobs.wait_challenge(cid)
    time.sleep(0.5)
    got = {}
    for label, (rx, cid, path) in targets.items():
        rx.setblocking(False)
        try:
            got[label] = rx.recv(16)
        except BlockingIOError:
            got[label] = None
        rx.close()
        os.unlink(path)
    tap.ok(got["inside"] is not None, "a worker-named socket in the runtime directory is woken")
    tap.is_(got["outside"], None, "a waiter outside the runtime directory is not")
    tap.is_(got["misnamed"], None, "nor a socket of another name in it")


tap.run(main)
