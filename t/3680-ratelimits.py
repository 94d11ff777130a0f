#!/usr/bin/python3
"""Application rate limits (acme.rate_limits): new orders per account, pending authorizations
per account, failed validations per account and name, certificates per registered domain. Each
is answered 429 rateLimited with Retry-After and a detail naming the limit; an account made
exempt with `anvilctl ratelimit exempt` is not limited; a configuration without the limits
limits nothing."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from policy import ISSUERS  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"
PROFILES = {"default": {"issuer": "int", "validity_days": 90}}
LIMITS = {
    "new_orders": {"limit": 3, "window": 3600},
    "pending_authorizations": {"limit": 5},
    "failed_validations": {"limit": 2, "window": 600},
    "certificates_per_domain": {"limit": 2, "window": 86400},
}
CONFIG = {"issuers": ISSUERS, "profiles": PROFILES,
          "acme": {"rate_limits": LIMITS, "poll_after": 4}}


def limited(r, name, what, max_retry):
    body = r.json() if r.headers.get("Content-Type", "").startswith("application/") else {}
    ok = r.status_code == 429 and body.get("type") == ERR + "rateLimited" and \
        name in body.get("detail", "")
    if not tap.ok(ok, "%s: 429 rateLimited naming %s" % (what, name)):
        tap.diag("got %d %s" % (r.status_code, r.text))
    ra = r.headers.get("Retry-After", "")
    tap.ok(ra.isdigit() and 1 <= int(ra) <= max_retry,
           "%s: Retry-After %r within 1..%d" % (what, ra, max_retry))


def main():
    proc.alarm(85)
    s = start_or_skip(workers=2, config=CONFIG)

    def client():
        c = Client(s.directory_url, s.ca_file)
        tap.is_(c.new_account().status_code, 201, "account")
        return c

    def acct_id(c):
        return int(c.kid.rsplit("/", 1)[1])

    # --- new orders per account ---
    a = client()
    for i in range(3):
        tap.is_(a.new_order(["o%d.a.example" % i]).status_code, 201, "order %d within the limit" % i)
    limited(a.new_order(["o3.a.example"]), "new_orders", "4th order in the window", 3600)
    tap.is_(client().new_order(["o3.a.example"]).status_code, 201,
            "another account is not limited by it")

    # --- pending authorizations per account ---
    b = client()
    tap.is_(b.new_order(["p%d.b.example" % i for i in range(4)]).status_code, 201,
            "4 pending authorizations")
    limited(b.new_order(["p4.b.example", "p5.b.example"]), "pending_authorizations",
            "6 pending authorizations", 4)
    tap.is_(b.new_authz("p6.b.example").status_code, 201, "newAuthz: the 5th pending one")
    limited(b.new_authz("p7.b.example"), "pending_authorizations", "newAuthz over the limit", 4)
    s.mysql("UPDATE authorizations SET status = 'valid' WHERE account_id = %d" % acct_id(b))
    tap.is_(b.new_order(["p4.b.example", "p5.b.example"]).status_code, 201,
            "fewer pending authorizations: allowed again")

    # --- failed validations per account and name ---
    f = client()
    for i in range(2):
        r = f.new_order(["fail.f.example"])
        tap.is_(r.status_code, 201, "order %d for a name that fails" % i)
        s.mysql("UPDATE authorizations SET status = 'invalid' WHERE account_id = %d"
                % acct_id(f))
    limited(f.new_order(["fail.f.example"]), "failed_validations",
            "a 3rd order after 2 failed validations", 600)
    limited(f.new_authz("fail.f.example"), "failed_validations", "newAuthz after failures", 600)
    tap.is_(f.new_order(["other.f.example"]).status_code, 201, "another name is not limited")

    # --- certificates per registered domain ---
    d = client()
    for i in range(2):
        r = d.new_order(["w%d.cert.example" % i])
        tap.is_(r.status_code, 201, "order %d in the registered domain" % i)
        s.mysql("UPDATE orders SET status = 'valid' WHERE id = %s"
                % r.headers["Location"].rsplit("/", 1)[1])
    e = client()
    limited(e.new_order(["x.www.cert.example"]), "certificates_per_domain",
            "a 3rd certificate for cert.example", 86400)
    tap.is_(e.new_order(["x.other.example"]).status_code, 201, "another domain is not limited")

    # --- exempt accounts ---
    out = s.anvilctl("ratelimit", "exempt", str(acct_id(a))).stdout
    tap.ok("exempt" in out, "anvilctl ratelimit exempt: %s" % out.strip())
    for i in range(3):
        tap.is_(a.new_order(["x%d.a.example" % i]).status_code, 201,
                "exempt account: order %d past the limit" % i)
    tap.is_(a.new_order(["x.cert.example"]).status_code, 201,
            "exempt account: no certificates_per_domain limit")
    out = s.anvilctl("ratelimit", "status", str(acct_id(a))).stdout
    tap.ok("exempt from" in out, "anvilctl ratelimit status: %s" % out.strip())
    s.anvilctl("ratelimit", "unexempt", str(acct_id(a)))
    limited(a.new_order(["y.a.example"]), "new_orders", "limited again after unexempt", 3600)
    r = s.anvilctl("ratelimit", "exempt", "abc", check=False)
    tap.is_(r.returncode, 2, "anvilctl ratelimit with a bad id: usage error")

    # --- configuration errors name the key ---
    bad = dict(s.config)
    bad["acme"] = dict(bad["acme"], rate_limits={"new_orders": {"limit": 3}})
    s.write_config(bad)
    r = s.anvilctl("check", check=False)
    tap.ok(r.returncode != 0 and "acme.rate_limits.new_orders" in r.stdout + r.stderr,
           "missing window named: %s" % (r.stdout + r.stderr).strip())
    bad["acme"] = dict(bad["acme"], rate_limits={"nosuch": {"limit": 3}})
    s.write_config(bad)
    r = s.anvilctl("check", check=False)
    tap.ok(r.returncode != 0 and "nosuch" in r.stdout + r.stderr, "unknown limit named")


if __name__ == "__main__":
    tap.run(main)
