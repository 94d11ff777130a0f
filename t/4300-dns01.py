#!/usr/bin/python3
"""dns-01 validation by anvil-jobs (RFC 8555 §8.4) against pebble-challtestsrv as the only
resolver: the right TXT value at _acme-challenge.<domain> is valid (also for a wildcard
authorization, among other TXT values); a wrong value is incorrectResponse; no TXT record is
unauthorized; a resolver that does not answer is dns. dns-01 for an IP identifier is refused."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"


def main():
    proc.alarm(85)
    s = start_or_skip(workers=1, jobs=True)
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    acct = s.jobs.account(c)

    def run(ident, txt=None, wildcard=False, ident_type="dns", extra=()):
        ch = s.jobs.challenge(acct, ident_type, ident, "dns-01", wildcard=wildcard)
        for v in extra:
            s.dns.set_txt("_acme-challenge." + ident, v)
        if txt is not None:
            s.dns.set_txt("_acme-challenge." + ident, txt(ch) if callable(txt) else txt)
        s.jobs.queue(ch["id"])
        s.jobs.wake()
        return ch, s.jobs.wait_challenge(ch["id"])

    def expect_error(row, typ, name):
        err = row["error"] or {}
        if not tap.ok(row["status"] == "invalid" and err.get("type") == ERR + typ, name):
            tap.dump("row", row)

    ch, row = run("dns.example.test", lambda ch: ch["dns_value"])
    tap.is_(row["status"], "valid", "dns-01 valid")
    tap.is_(row["authz_status"], "valid", "authorization valid")
    tap.is_(row["validation_record"], [{"hostname": "dns.example.test"}], "validation record")

    ch, row = run("wild.example.test", lambda ch: ch["dns_value"], wildcard=True)
    tap.is_(row["status"], "valid", "dns-01 valid for a wildcard authorization")

    ch, row = run("wrong.example.test", "bm90LXRoZS1kaWdlc3Q")
    expect_error(row, "incorrectResponse", "wrong TXT value: incorrectResponse")
    tap.is_(row["authz_status"], "invalid", "authorization invalid")

    ch, row = run("none.example.test")
    expect_error(row, "unauthorized", "no TXT record: unauthorized")

    ch, row = run("127.0.0.1", ident_type="ip")
    tap.is_(row["status"], "invalid", "dns-01 for an IP identifier: invalid")

    # A resolver that never answers: the lookup times out (dns).
    dead = proc.free_port()
    s.jobs.stop()
    s.jobs.start_runner(validation={"resolvers": ["127.0.0.1:%d" % dead]})
    ch = s.jobs.challenge(acct, "dns", "lost.example.test", "dns-01")
    s.jobs.queue(ch["id"])
    s.jobs.wake()
    row = s.jobs.wait_challenge(ch["id"])
    expect_error(row, "dns", "resolver not answering: dns")
    tap.ok("lost.example.test" in (row["error"] or {}).get("detail", ""),
           "detail names the looked-up name")


tap.run(main)
