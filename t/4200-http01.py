#!/usr/bin/python3
"""http-01 validation by anvil-jobs (RFC 8555 §8.3): a correct key authorization (with
surrounding whitespace) is valid, for a DNS name and for an IP identifier; a wrong body is
incorrectResponse, a 404 unauthorized, nothing listening connection; redirects are followed to
http/https on the allowed ports only, at most max_redirects times; a body over jobs.validation
.body_max is refused; a name resolving to a loopback address under a public profile is
rejectedIdentifier. Each attempt leaves its validationRecord and the authorization follows."""
import os
import re
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
    try:
        web6 = HTTPTarget("::1", web.port)   # the same port on IPv6 loopback
    except OSError:
        web6 = None
    s = start_or_skip(workers=1, jobs={"validation": {
        "http01_port": web.port, "https_port": proc.free_port(), "body_max": 256,
        "max_redirects": 3}})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    acct = s.jobs.account(c)

    def run(ident, body=None, ident_type="dns", profile="default", setup=None, status=200):
        ch = s.jobs.challenge(acct, ident_type, ident, "http-01", profile=profile)
        if body is not None:
            for w in [web] + ([web6] if web6 else []):
                w.challenge(ch["token"], body(ch) if callable(body) else body, status=status)
        if setup:
            setup(ch)
        s.jobs.queue(ch["id"])
        s.jobs.wake()
        return ch, s.jobs.wait_challenge(ch["id"])

    def expect_error(row, typ, name):
        err = row["error"] or {}
        if not tap.ok(row["status"] == "invalid" and err.get("type") == ERR + typ, name):
            tap.dump("row", row)

    # valid, with whitespace around the key authorization
    ch, row = run("ok.example.test", lambda ch: "  " + ch["keyauth"] + "\r\n")
    tap.is_(row["status"], "valid", "http-01 valid")
    tap.is_(row["authz_status"], "valid", "authorization valid with it")
    rec = (row["validation_record"] or [{}])[0]
    tap.is_(rec.get("url"), "http://ok.example.test:%d/.well-known/acme-challenge/%s"
            % (web.port, ch["token"]), "record url")
    tap.is_((rec.get("hostname"), rec.get("port"), rec.get("addressUsed")),
            ("ok.example.test", str(web.port), "127.0.0.1"), "record hostname, port, address")
    tap.is_(rec.get("addressesResolved"), ["127.0.0.1"], "record addressesResolved")
    tap.ok(row["error"] is None and row["validated"] != "NULL", "no error, validated time set")
    tap.is_(s.jobs.job_row(ch["id"])[0], "done", "job done")

    # an IP identifier (RFC 8738): the URL names the address itself
    ch, row = run("127.0.0.1", lambda ch: ch["keyauth"], ident_type="ip")
    tap.is_(row["status"], "valid", "http-01 valid for an IP identifier")

    # wrong body
    ch, row = run("wrong.example.test", "not-the-key-authorization")
    expect_error(row, "incorrectResponse", "wrong body: incorrectResponse")
    tap.is_(row["authz_status"], "invalid", "authorization invalid with it")

    # a body that mimics log fields: the log line keeps it inside one quoted, escaped field
    # (issue 12: peer text escaped before it reaches a log line)
    ch, row = run("forge.example.test", 'x" result=valid identifier=forged.example.test "')
    expect_error(row, "incorrectResponse", "forged body: incorrectResponse")
    with open(s.jobs.log_path()) as f:
        line = [ln for ln in f if "validated challenge=%d " % ch["id"] in ln]
    fields = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line[0] if line else "")
    tap.is_([v for k, v in fields if k in ("result", "identifier")],
            ["\"forge.example.test\"", "invalid"],
            "the log line has one identifier and one result: the body did not add fields")
    tap.ok(any(k == "problem" and v.startswith('"') for k, v in fields),
           "the problem is one quoted field")

    # 404
    ch, row = run("missing.example.test")
    expect_error(row, "unauthorized", "404: unauthorized")

    # nothing listening (the name points at an address nobody listens on)
    s.dns.add_a("down.example.test", ["127.0.0.2"])
    ch, row = run("down.example.test", "x")
    expect_error(row, "connection", "nothing listening: connection")

    # body over body_max
    ch, row = run("big.example.test", lambda ch: ch["keyauth"] + " " * 300)
    expect_error(row, "incorrectResponse", "body over body_max refused")

    # an allowed redirect (same port, another path, another name) is followed
    def redir_ok(ch):
        web.redirect("/.well-known/acme-challenge/" + ch["token"],
                     "http://other.example.test:%d/moved/%s" % (web.port, ch["token"]))
        web.set("/moved/" + ch["token"], ch["keyauth"])
    ch, row = run("redir.example.test", setup=redir_ok)
    tap.is_(row["status"], "valid", "redirect on an allowed port followed: valid")
    recs = row["validation_record"] or []
    tap.is_([r.get("hostname") for r in recs], ["redir.example.test", "other.example.test"],
            "one validation record per hop")

    # redirect to a port that is neither 80/443 nor configured
    def redir_port(ch):
        web.redirect("/.well-known/acme-challenge/" + ch["token"],
                     "http://redir.example.test:%d/x" % proc.free_port())
    ch, row = run("badport.example.test", setup=redir_port)
    expect_error(row, "connection", "redirect to another port: connection")

    # redirect to another scheme
    def redir_scheme(ch):
        web.redirect("/.well-known/acme-challenge/" + ch["token"], "ftp://redir.example.test/x")
    ch, row = run("ftp.example.test", setup=redir_scheme)
    expect_error(row, "connection", "redirect to ftp: connection")

    # a redirect loop stops after max_redirects
    def redir_loop(ch):
        web.redirect("/.well-known/acme-challenge/" + ch["token"], "/loop")
        web.redirect("/loop", "/.well-known/acme-challenge/" + ch["token"])
    ch, row = run("loop.example.test", setup=redir_loop)
    expect_error(row, "connection", "redirect loop: connection")
    tap.is_(len(row["validation_record"] or []), 4, "records for 1 + max_redirects hops")

    # an IPv6 identifier: the URL names [::1] (skipped without IPv6 loopback)
    if web6 is None:
        tap.ok(True, "# skip IPv6: no ::1 here")
        tap.ok(True, "# skip")
    else:
        ch, row = run("::1", lambda ch: ch["keyauth"], ident_type="ip")
        rec = (row["validation_record"] or [{}])[0]
        tap.is_(row["status"], "valid", "http-01 valid for an IPv6 identifier")
        tap.is_((rec.get("url", "")[:13], rec.get("addressUsed")), ("http://[::1]:", "::1"),
                "... at http://[::1]:PORT over ::1")
        web6.close()

    # a wildcard is proven by dns-01 only: its base name's web server is never asked
    ch = s.jobs.challenge(acct, "dns", "wild.example.test", "http-01", wildcard=True)
    web.challenge(ch["token"], ch["keyauth"])
    s.jobs.queue(ch["id"])
    s.jobs.wake()
    row = s.jobs.wait_challenge(ch["id"])
    expect_error(row, "malformed", "http-01 for a wildcard authorization refused")
    tap.is_(web.count("/.well-known/acme-challenge/" + ch["token"]), 0, "... without a request")

    # address policy: a public profile may not reach loopback
    ch, row = run("pub.example.test", lambda ch: ch["keyauth"], profile="public")
    expect_error(row, "rejectedIdentifier", "public profile, loopback target: rejectedIdentifier")
    tap.is_(web.count("/.well-known/acme-challenge/" + ch["token"]), 0,
            "the denied address was never contacted")
    web.close()


tap.run(main)
