#!/usr/bin/python3
"""CAA checking by anvil-jobs before validation (RFC 8659, RFC 8657), with records in
pebble-challtestsrv: issue for us or for nobody-in-particular, another CA, tree climbing (the
closest record set wins), issuewild for wildcard authorizations, accounturi, validationmethods,
case-insensitive issuer names, and a profile with CAA off."""
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
    s = start_or_skip(workers=1, jobs={"policies": {"nocaa": {"caa": False}}})
    ours = s.config["jobs"]["validation"]["caa_identities"][0]
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    acct = s.jobs.account(c)
    other = Client(s.directory_url, s.ca_file)
    other.new_account()

    def run(ident, caa=(), at=None, wildcard=False, profile="default", name=None):
        if caa:
            s.dns.add_caa(at or ident, caa)
        ch = s.jobs.challenge(acct, "dns", ident, "dns-01", wildcard=wildcard, profile=profile)
        s.dns.set_txt("_acme-challenge." + ident, ch["dns_value"])
        s.jobs.queue(ch["id"])
        s.jobs.wake()
        row = s.jobs.wait_challenge(ch["id"])
        return row

    def valid(row, name):
        if not tap.is_(row["status"], "valid", name):
            tap.dump("row", row)

    def caa(row, name):
        err = row["error"] or {}
        if not tap.ok(row["status"] == "invalid" and err.get("type") == ERR + "caa", name):
            tap.dump("row", row)

    valid(run("none.caa.test"), "no CAA anywhere: valid")
    valid(run("ours.caa1.test", [("issue", ours)]), "issue for us: valid")
    valid(run("upper.caa1.test", [("issue", ours.upper())]), "issuer name compared "
          "case-insensitively")
    row = run("theirs.caa1.test", [("issue", "other-ca.example")])
    caa(row, "issue for another CA: caa")
    tap.is_(row["authz_status"], "invalid", "authorization invalid")
    tap.ok("theirs.caa1.test" in (row["error"] or {}).get("detail", ""), "detail names the "
           "record's owner")
    caa(run("nobody.caa1.test", [("issue", ";")]), "issue \";\" (nobody): caa")
    valid(run("iodef.caa1.test", [("iodef", "mailto:x@example.org")]),
          "only iodef: unrestricted")

    # tree climbing: the closest name with records decides
    caa(run("a.b.climb1.test", [("issue", "other-ca.example")], at="climb1.test"),
        "parent's record for another CA applies two labels down: caa")
    s.dns.add_caa("climb2.test", [("issue", "other-ca.example")])
    valid(run("sub.climb2.test", [("issue", ours)]),
          "the child's own record beats its parent's: valid")
    valid(run("x.climb3.test", [("issue", ours)], at="climb3.test"),
          "parent's record for us: valid")

    # issuewild
    s.dns.add_caa("wild1.test", [("issue", ours), ("issuewild", ";")])
    caa(run("wild1.test", wildcard=True), "issuewild \";\" forbids a wildcard: caa")
    valid(run("wild1.test"), "... while issue allows the name itself")
    valid(run("wild2.test", [("issue", ours)], wildcard=True),
          "a wildcard under issue (no issuewild): valid")
    s.dns.add_caa("wild3.test", [("issue", "other-ca.example"), ("issuewild", ours)])
    valid(run("wild3.test", wildcard=True), "issuewild for us beats issue for another CA")

    # RFC 8657
    valid(run("acct1.test", [("issue", "%s; accounturi=%s" % (ours, c.kid))]),
          "accounturi of this account: valid")
    caa(run("acct2.test", [("issue", "%s; accounturi=%s" % (ours, other.kid))]),
        "accounturi of another account: caa")
    valid(run("vm1.test", [("issue", "%s; validationmethods=http-01,dns-01" % ours)]),
          "validationmethods including dns-01: valid")
    caa(run("vm2.test", [("issue", "%s; validationmethods=http-01" % ours)]),
        "validationmethods without dns-01: caa")

    # a profile that does not check CAA
    valid(run("off.caa2.test", [("issue", "other-ca.example")], profile="nocaa"),
          "profile with caa off ignores CAA: valid")


tap.run(main)
