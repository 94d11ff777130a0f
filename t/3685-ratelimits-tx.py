#!/usr/bin/python3
"""Rate limits counted inside the transaction that creates what they count (issue 12, item 14).

Parallel requests (newOrder, newAuthz, newAccount) are lined up deterministically: a session holds LOCK TABLES on the table the
limit counts while N requests arrive, so each of them is inside the database when the lock goes.
Counted before the transaction, all N would read the same count and all pass; counted inside it,
behind the lock on the account's row (orders) or the network's row (accounts), exactly the limit
pass and the rest get 429 rateLimited with Retry-After.

Also: new_accounts_per_ip counts by REMOTE_ADDR (X-Forwarded-For is not trusted), an existing
key's newAccount is not counted, and certificates_per_domain groups names by the public suffix
list's registered domain (a.example.co.uk with b.example.co.uk, not example.co.uk with
other.co.uk)."""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from policy import ISSUERS  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"
N = 5
ORDERS, ACCOUNTS, PENDING = 2, 3, 3
PROFILES = {"default": {"issuer": "int", "validity_days": 90}}
LIMITS = {
    "new_orders": {"limit": ORDERS, "window": 3600},
    "pending_authorizations": {"limit": PENDING},
    "new_accounts_per_ip": {"limit": ACCOUNTS, "window": 3600},
    "certificates_per_domain": {"limit": 1, "window": 86400},
}
CONFIG = {"issuers": ISSUERS, "profiles": PROFILES, "acme": {"rate_limits": LIMITS}}


def is_limited(r, name):
    body = r.json() if r.headers.get("Content-Type", "").startswith("application/") else {}
    ra = r.headers.get("Retry-After", "")
    return (r.status_code == 429 and body.get("type") == ERR + "rateLimited" and
            name in body.get("detail", "") and ra.isdigit() and int(ra) >= 1)


def waiting(s, n):
    """n sessions of the API user inside a statement: with the table locked, each is blocked on
    LOCK TABLES (metadata lock) or behind the first on the account's row. The processlist, not
    INNODB_TRX: MariaDB's INNODB_TRX cache was seen to miss row-lock waiters for longer than the
    workers' database read_timeout, so the requests died with 503 before being seen."""
    user = s.config["database"]["user"]
    rows = s.mysql_rows(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '%s' AND "
        "COMMAND IN ('Query', 'Execute')" % user)
    return int(rows[0][0]) >= n


def parallel(s, table, fns):
    """Runs fns at once while `table` is locked, releases it once all wait; their results."""
    out = [None] * len(fns)

    def run(i):
        try:
            out[i] = fns[i]()
        except Exception as e:  # noqa: BLE001
            out[i] = e
    with s.mysql_session() as sess:
        sess.query("LOCK TABLES %s WRITE" % table)
        ts = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(fns))]
        for t in ts:
            t.start()
        proc.wait_for(lambda: waiting(s, len(fns)), 30, 0.05,
                      "%d requests waiting in the database" % len(fns))
        sess.query("UNLOCK TABLES")
    for t in ts:
        t.join(60)
    return out


def main():
    proc.alarm(170)
    s = start_or_skip(workers=N, config=CONFIG)

    # --- new_orders: N parallel newOrders of one account, limit ORDERS ---
    a = Client(s.directory_url, s.ca_file)
    tap.is_(a.new_account().status_code, 201, "an account")
    clients = []
    for _ in range(N):
        c = Client(s.directory_url, s.ca_file, key=a.key)
        c.kid = a.kid
        c.directory()
        clients.append(c)
    rs = parallel(s, "orders", [lambda c=c, i=i: c.new_order(["p%d.orders.example" % i])
                                for i, c in enumerate(clients)])
    codes = [getattr(r, "status_code", repr(r)) for r in rs]
    tap.is_(codes.count(201), ORDERS, "exactly %d of %d parallel newOrders created (%s)"
            % (ORDERS, N, codes))
    tap.ok(all(hasattr(r, "status_code") and (r.status_code == 201 or
                                              is_limited(r, "new_orders")) for r in rs),
           "the others: 429 rateLimited new_orders with Retry-After")
    n = s.mysql_rows("SELECT COUNT(*) FROM orders WHERE account_id = %s"
                     % a.kid.rsplit("/", 1)[1])[0][0]
    tap.is_(int(n), ORDERS, "the database holds %d orders of the account" % ORDERS)

    # --- pending_authorizations: N parallel newAuthz of one account, limit PENDING ---
    b = Client(s.directory_url, s.ca_file)
    tap.is_(b.new_account().status_code, 201, "another account")
    bs = []
    for _ in range(N):
        c = Client(s.directory_url, s.ca_file, key=b.key)
        c.kid = b.kid
        c.directory()
        bs.append(c)
    rs = parallel(s, "authorizations", [lambda c=c, i=i: c.new_authz("z%d.authz.example" % i)
                                        for i, c in enumerate(bs)])
    codes = [getattr(r, "status_code", repr(r)) for r in rs]
    tap.is_(codes.count(201), PENDING, "exactly %d of %d parallel newAuthz created (%s)"
            % (PENDING, N, codes))
    tap.ok(all(hasattr(r, "status_code") and (r.status_code == 201 or
                                              is_limited(r, "pending_authorizations"))
               for r in rs), "the others: 429 rateLimited pending_authorizations")

    # --- new_accounts_per_ip: N parallel newAccounts from 127.0.0.1, limit ACCOUNTS ---
    s.mysql("UPDATE accounts SET created_net = NULL")   # the count starts at 0
    fresh = [Client(s.directory_url, s.ca_file) for _ in range(N)]
    for c in fresh:
        c.directory()
    rs = parallel(s, "accounts", [lambda c=c: c.new_account() for c in fresh])
    codes = [getattr(r, "status_code", repr(r)) for r in rs]
    tap.is_(codes.count(201), ACCOUNTS, "exactly %d of %d parallel newAccounts created (%s)"
            % (ACCOUNTS, N, codes))
    tap.ok(all(is_limited(r, "new_accounts_per_ip") for r in rs
               if getattr(r, "status_code", 0) != 201),
           "the others: 429 rateLimited new_accounts_per_ip with Retry-After")
    x = Client(s.directory_url, s.ca_file)
    tap.ok(is_limited(x.new_account(), "new_accounts_per_ip"), "one more, alone: still limited")
    x.session.headers["X-Forwarded-For"] = "198.51.100.7"
    r = x.new_account()
    tap.ok(is_limited(r, "new_accounts_per_ip"),
           "X-Forwarded-For does not change the address counted")
    tap.is_(a.new_account().status_code, 200,
            "an existing key's newAccount is answered 200, not counted")
    nets = s.mysql_rows("SELECT DISTINCT created_net FROM accounts WHERE created_net IS NOT "
                        "NULL")
    tap.is_([r[0] for r in nets], ["127.0.0.1/32"], "accounts record the network 127.0.0.1/32")

    # --- certificates_per_domain: the public suffix list's registered domain ---
    s.mysql("UPDATE accounts SET created_net = NULL")
    d, e = Client(s.directory_url, s.ca_file), Client(s.directory_url, s.ca_file)
    tap.ok(d.new_account().status_code == 201 and e.new_account().status_code == 201,
           "two more accounts")
    r = d.new_order(["a.example.co.uk"])
    tap.is_(r.status_code, 201, "an order for a.example.co.uk")
    s.mysql("UPDATE orders SET status = 'valid' WHERE id = %s"
            % r.headers["Location"].rsplit("/", 1)[1])
    r = e.new_order(["b.example.co.uk"])
    tap.ok(is_limited(r, "certificates_per_domain"),
           "b.example.co.uk counts with a.example.co.uk (registered domain example.co.uk)")
    tap.is_(e.new_order(["other.co.uk"]).status_code, 201,
            "other.co.uk does not count with example.co.uk")
    doms = sorted(x[0] for x in s.mysql_rows("SELECT DISTINCT domain FROM order_domains"))
    tap.ok("example.co.uk" in doms and "co.uk" not in doms,
           "order_domains holds registered domains (%s)" % doms)

    # --- configuration ---
    bad = dict(s.config)
    bad["acme"] = dict(bad["acme"], rate_limits={
        "new_accounts_per_ip": {"limit": 3, "window": 60, "ipv6_prefix": 16}})
    s.write_config(bad)
    r = s.anvilctl("check", check=False)
    tap.ok(r.returncode != 0 and "acme.rate_limits.new_accounts_per_ip.ipv6_prefix" in
           r.stdout + r.stderr, "ipv6_prefix out of range named: %s"
           % (r.stdout + r.stderr).strip())
    import issuance
    issuance.check_sanitizers(s)


if __name__ == "__main__":
    tap.run(main)
