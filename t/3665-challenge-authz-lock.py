#!/usr/bin/python3
"""A challenge response serialises with a concurrent change of its authorization (RFC 8555
§7.5.1, §7.5.2): the challenge turns processing only if the authorization is still pending once
any transaction holding it has ended (db_chall_respond: one UPDATE of the authorization's row,
which carries its challenges since migration 0009). Another session deactivates the
authorization in an open transaction: the response waits for it, then leaves the challenge
pending with no validation queued (the answer is as when the deactivation comes first:
malformed, naming the authorization's state). Rolled back instead: the response goes through.
Without anvil-jobs, so the challenge stays as the response left it."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from stack import start_or_skip  # noqa: E402


def respond_in_thread(c, url, out):
    def run():
        r = c.respond_challenge(url)
        out.append((r.status_code, r.json() if r.status_code == 200 else r.text[:300]))
    th = threading.Thread(target=run)
    th.start()
    return th


def pending_challenge(s, c, name):
    r = c.new_order([name])
    assert r.status_code == 201, r.text
    authz_url = r.json()["authorizations"][0]
    a = c.get_authz(authz_url).json()
    ch = c.challenge_of(a, "http-01")
    return int(authz_url.rsplit("/", 1)[1]), int(ch["url"].rsplit("/", 1)[1]), ch["url"]


def state(s, aid, cid):
    # The challenge is its authorization's row (migration 0009).
    return s.mysql_rows("SELECT a.status, IF(a.chall_attempted <=> 'http-01', a.chall_status, "
                        "'pending'), (SELECT COUNT(*) FROM jobs j WHERE j.kind = 'validate' AND "
                        "j.ref_id = %d) FROM authorizations a WHERE a.id = %d" % (cid, aid))


def main():
    proc.alarm(60)
    s = start_or_skip(workers=2, signer=True,
                      config={"acme": {"validation_wait_ms": 100, "authz_reuse": 0,
                                       "default_profile": "rsa"}})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account")

    for outcome in ("COMMIT", "ROLLBACK"):
        aid, cid, url = pending_challenge(s, c, "lock-%s.example.test" % outcome.lower())
        sess = s.mysql_session()
        sess.query("START TRANSACTION; UPDATE authorizations SET status = 'deactivated' "
                   "WHERE id = %d" % aid)
        out = []
        th = respond_in_thread(c, url, out)
        th.join(1.0)
        tap.ok(th.is_alive(), "%s: the response waits for the transaction holding the "
               "authorization (%s)" % (outcome, out))
        sess.query(outcome)
        th.join(20)
        sess.close()
        st, body = out[0] if out else (0, None)
        if outcome == "COMMIT":
            tap.ok(st == 400 and "malformed" in str(body) and "deactivated" in str(body),
                   "deactivated meanwhile: answered as when the deactivation comes first "
                   "(malformed, the authorization is deactivated): %s %s" % (st, body))
            tap.is_(state(s, aid, cid), [["deactivated", "pending", "0"]],
                    "no validation queued for a deactivated authorization")
        else:
            tap.is_((st, body.get("status") if isinstance(body, dict) else body),
                    (200, "processing"), "the deactivation rolled back: processing")
            tap.is_(state(s, aid, cid), [["pending", "processing", "1"]],
                    "its validation is queued")


tap.run(main)
