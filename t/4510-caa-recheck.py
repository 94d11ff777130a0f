#!/usr/bin/python3
"""CAA is checked again at finalize when the authorization's check is too old (issue 12 item 7,
CA/B Forum BR 3.2.2.8): a public profile re-checks an authorization validated more than 8 hours
ago, through va/ in anvil-jobs (anvil-fcgi answers processing and leaves it to the finalize
job). A CAA record added since forbids issuance: the order turns invalid with a `caa` problem;
without one it is issued. A fresh authorization is issued at once, in the request. The window
is per profile (profiles.NAME.caa_recheck_seconds); a non-public profile does not re-check."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, order_url, ready_order  # noqa: E402

HOURS9 = 9 * 3600


def validated_order(s, c, name, profile, age):
    """A ready order whose authorization was validated (http-01) age seconds ago."""
    return ready_order(s, c, [name], profile=profile, validated_ago=age)


def finalize(s, c, oid, name):
    r = c.finalize(finalize_url(s, oid), acme.make_csr([name])[1])
    return r.status_code, (r.json().get("status") if r.status_code == 200 else r.text[:200])


def final(s, c, oid):
    r = c.poll(order_url(s, oid), timeout=60)
    return r.json() if r.status_code == 200 else {"status": r.text[:200]}


def main():
    proc.alarm(200)
    profiles = {"pub": {"issuer": "int-ec", "validity_days": 90, "public": True},
                "pub60": {"issuer": "int-ec", "validity_days": 90, "public": True,
                          "caa_recheck_seconds": 60}}

    def add_profiles(s):
        s.config["profiles"].update(profiles)
    s = issuance.stack(before_start=add_profiles, jobs={"poll_interval": 1})
    proc.wait_for(lambda: os.path.exists(s.jobs.log_path()), 10, 0.1, "anvil-jobs log")
    with open(s.jobs.log_path()) as f:
        if "finalize jobs wait" in f.read():
            tap.skip_all("anvil-jobs cannot issue here")
    c = issuance.account(s)
    forbid = [("issue", "other-ca.example")]

    # A fresh authorization: no re-check, issued within the request.
    s.dns.add_caa("fresh.caa.test", forbid)
    oid = validated_order(s, c, "fresh.caa.test", "pub", 60)
    tap.is_(finalize(s, c, oid, "fresh.caa.test"), (200, "valid"),
            "authorization validated a minute ago: issued in the request, no CAA re-check")

    # 9 hours old, CAA forbids us now.
    s.dns.add_caa("old.caa.test", forbid)
    oid = validated_order(s, c, "old.caa.test", "pub", HOURS9)
    tap.is_(finalize(s, c, oid, "old.caa.test"), (200, "processing"),
            "authorization validated 9 h ago: processing (the re-check is anvil-jobs')")
    body = final(s, c, oid)
    err = body.get("error", {})
    tap.is_(body.get("status"), "invalid", "a CAA record added since: the order is invalid")
    tap.is_(err.get("type"), issuance.ERR + "caa", "... with a caa problem (%s)"
            % err.get("detail"))

    # 9 hours old, CAA permits: issued after the re-check.
    s.dns.add_caa("oldok.caa.test", [("issue", "anvil.invalid")])
    oid = validated_order(s, c, "oldok.caa.test", "pub", HOURS9)
    tap.is_(finalize(s, c, oid, "oldok.caa.test")[0], 200, "finalize answers 200")
    tap.is_(final(s, c, oid).get("status"), "valid", "CAA still permits us: issued")
    with open(s.jobs.log_path()) as f:
        log = f.read()
    tap.ok("order %d: CAA checked again for oldok.caa.test" % oid in log,
           "anvil-jobs logs the re-check")

    # The window is the profile's: 60 s.
    s.dns.add_caa("short.caa.test", forbid)
    oid = validated_order(s, c, "short.caa.test", "pub60", 120)
    finalize(s, c, oid, "short.caa.test")
    body = final(s, c, oid)
    tap.is_((body.get("status"), body.get("error", {}).get("type")),
            ("invalid", issuance.ERR + "caa"),
            "caa_recheck_seconds 60: a check 2 minutes old is repeated, and refuses")

    # A non-public profile does not re-check.
    s.dns.add_caa("private.caa.test", forbid)
    oid = validated_order(s, c, "private.caa.test", "rsa", HOURS9)
    tap.is_(finalize(s, c, oid, "private.caa.test"), (200, "valid"),
            "a non-public profile: no re-check, issued")
    s.jobs.stop()
    with open(s.jobs.log_path()) as f:
        log = f.read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-jobs without a sanitizer report")
    issuance.check_sanitizers(s)


tap.run(main)
