#!/usr/bin/python3
"""The address policy of validation targets (jobs.policies): a profile without a policy of its
own falls back to "default"; public profiles (deny_private) never contact private, loopback or
link-local addresses, whether a name resolves there, an IP identifier names one, or a redirect
leads there; an internal profile reaches exactly its allow_networks. A denied target is
rejectedIdentifier and is never contacted."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"


def main():
    proc.alarm(85)
    web = HTTPTarget()
    s = start_or_skip(workers=1, jobs={
        "validation": {"http01_port": web.port},
        "policies": {
            # The stack's generated default lets tests reach loopback; here "default" is the
            # public-CA default and the internal profiles list their networks.
            "default": {"allow_networks": None, "deny_private": True},
            "internal": {"allow_networks": ["127.0.0.0/8", "10.0.0.0/8"]},
            "lab": {"allow_networks": ["10.0.0.0/8"]},
            "open": {"deny_private": False},
        }})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    acct = s.jobs.account(c)

    def run(ident, profile, ident_type="dns", setup=None):
        ch = s.jobs.challenge(acct, ident_type, ident, "http-01", profile=profile)
        path = web.challenge(ch["token"], ch["keyauth"])
        if setup:
            setup(ch)
        s.jobs.queue(ch["id"])
        s.jobs.wake()
        return path, s.jobs.wait_challenge(ch["id"])

    def rejected(res, name):
        path, row = res
        err = row["error"] or {}
        if not tap.ok(row["status"] == "invalid" and err.get("type") == ERR +
                      "rejectedIdentifier" and web.count(path) == 0, name):
            tap.dump("row", row)

    def valid(res, name):
        if not tap.is_(res[1]["status"], "valid", name):
            tap.dump("row", res[1])

    rejected(run("pub.example.test", "default"), "default profile: loopback name rejected")
    rejected(run("127.0.0.1", "default", ident_type="ip"),
             "default profile: loopback IP identifier rejected")
    rejected(run("unknown.example.test", "no-such-profile"),
             "a profile without a policy gets the default")
    for addr in ("10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.1.1", "100.64.0.1"):
        s.dns.add_a("p%s.example.test" % addr.replace(".", "-"), [addr])
        rejected(run("p%s.example.test" % addr.replace(".", "-"), "default"),
                 "default profile: %s rejected" % addr)
    valid(run("in.example.test", "internal"), "internal profile reaches 127.0.0.0/8")
    valid(run("127.0.0.1", "internal", ident_type="ip"), "internal profile: IP identifier")
    rejected(run("lab.example.test", "lab"), "lab profile: loopback outside its networks")
    valid(run("open.example.test", "open"), "deny_private false: loopback allowed")

    # a redirect into a network the profile may not reach is refused at that hop
    def redir(ch):
        web.redirect("/.well-known/acme-challenge/" + ch["token"],
                     "http://inner.example.test:%d/x" % web.port)
    s.dns.add_a("inner.example.test", ["192.168.5.5"])
    path, row = run("hop.example.test", "internal", setup=redir)
    err = row["error"] or {}
    if not tap.ok(row["status"] == "invalid" and err.get("type") == ERR + "rejectedIdentifier"
                  and "inner.example.test" in err.get("detail", ""),
                  "redirect to a denied network: rejectedIdentifier naming the hop"):
        tap.dump("row", row)
    tap.is_(len(row["validation_record"] or []), 1, "only the first hop was contacted")
    web.close()


tap.run(main)
