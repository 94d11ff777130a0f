#!/usr/bin/python3
"""Multi-row reads (db_exec_rows, db/db.h) behind the order, authorization and orders-list
objects: an order of 100 identifiers, some of them reused authorizations older than the new
ones, lists every authorization once, in id order, in newOrder's answer (made from the rows it
inserted, without reading them back) and in the order's POST-as-GET (read in one statement);
an authorization lists every challenge once; the orders list pages through every order once;
and an order linked to more authorizations than an order can have is refused, not truncated."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from policy import ISSUERS  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"
PROFILES = {"default": {"issuer": "int", "validity_days": 90, "public": True,
                        "max_names": 100}}
CONFIG = {"issuers": ISSUERS, "profiles": PROFILES,
          "acme": {"orders_page_size": 4, "poll_after": 3}}


def tail_id(url):
    return int(url.rsplit("/", 1)[1])


def main():
    proc.alarm(110)
    s = start_or_skip(workers=1, config=CONFIG)
    base = s.base
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")

    def authz_urls(order_id):
        return [base + "/acme/authz/%s" % r[0] for r in s.mysql_rows(
            "SELECT authz_id FROM order_authorizations WHERE order_id = %d ORDER BY authz_id"
            % order_id)]

    # Three valid authorizations to reuse: their ids are lower than the new ones', while
    # their names sort after most of the new names, so identifier order is not id order.
    r = c.new_order(["zz1.example.com", "zz2.example.com", "zz3.example.com"])
    tap.is_(r.status_code, 201, "first order: 201")
    reused = r.json().get("authorizations", [])
    for u in reused:
        s.mysql("UPDATE authorizations SET status = 'valid' WHERE id = %d" % tail_id(u))

    names = ["n%03d.example.com" % i for i in range(97)] + \
        ["zz1.example.com", "zz2.example.com", "zz3.example.com"]
    r = c.new_order(names)
    tap.is_(r.status_code, 201, "order of 100 identifiers: 201")
    created = r.json()
    loc = r.headers.get("Location", "")
    oid = tail_id(loc)
    stored = authz_urls(oid)
    tap.is_(len(stored), 100, "100 authorizations linked")
    got = created.get("authorizations", [])
    tap.is_(got, stored, "newOrder lists every authorization once, in id order")
    tap.is_(got[:3], reused, "the reused (older) authorizations first")
    tap.is_(len(set(got)), 100, "no authorization twice")

    r = c.get_order(loc)
    tap.is_(r.status_code, 200, "order POST-as-GET: 200")
    tap.is_(r.json().get("authorizations"), stored,
            "POST-as-GET lists the same 100, in id order")
    tap.is_(r.json(), created, "POST-as-GET answers the object newOrder answered")
    tap.is_(r.headers.get("Retry-After"), "3", "pending: Retry-After, as at creation")

    # Every challenge of an authorization, once, in type order: they are the authorization's
    # row (migration 0009), their ids computed from its id and the type's index.
    au = got[50]
    r = c.get_authz(au)
    tap.is_(r.status_code, 200, "authorization POST-as-GET: 200")
    toks = s.mysql_rows("SELECT token_http01, token_dns01, token_tlsalpn01 FROM authorizations "
                        "WHERE id = %d" % tail_id(au))[0]
    rows = [(str((1 << 60) + 4 * tail_id(au) + i), t, toks[i])
            for i, t in enumerate(("http-01", "dns-01", "tls-alpn-01")) if toks[i] != "NULL"]
    chs = r.json().get("challenges", [])
    tap.is_(len(rows), 3, "three challenges stored with their authorization")
    tap.is_([tail_id(ch["url"]) for ch in chs], [int(x[0]) for x in rows],
            "the authorization lists every challenge once, in id order")
    tap.is_([(ch["type"], ch["token"]) for ch in chs], [(x[1], x[2]) for x in rows],
            "each with its own type and token")

    # The orders list: pages of 4 through all of the account's orders, each once.
    for i in range(6):
        tap.is_(c.new_order(["p%d.example.com" % i]).status_code, 201, "order %d" % i)
    want = [base + "/acme/order/%s" % x[0] for x in s.mysql_rows(
        "SELECT id FROM orders WHERE account_id = (SELECT account_id FROM orders WHERE id = %d) "
        "ORDER BY id" % oid)]
    seen, url, pages = [], c.kid + "/orders", 0
    while url and pages < 10:
        r = c.post_as_get(url)
        if not tap.is_(r.status_code, 200, "orders page %d: 200" % pages):
            break
        page = r.json().get("orders", [])
        tap.ok(len(page) <= 4, "page %d has at most 4 orders" % pages)
        seen += page
        url = r.links.get("next", {}).get("url")
        pages += 1
    tap.is_(len(want), 8, "8 orders stored")
    tap.is_(seen, want, "the pages list every order once, in id order")
    tap.is_(pages, 2, "two pages")

    # More rows than an order can have: refused (500), never a truncated list.
    r = c.new_order(["extra.example.com"])
    extra = tail_id(r.json()["authorizations"][0])
    s.mysql("INSERT INTO order_authorizations (order_id, authz_id) VALUES (%d, %d)"
            % (oid, extra))
    r = c.get_order(loc)
    tap.is_(r.status_code, 500, "an order with 101 authorizations: 500, not a truncated list")
    tap.is_(r.json().get("type"), ERR + "serverInternal", "serverInternal")
    s.mysql("DELETE FROM order_authorizations WHERE order_id = %d AND authz_id = %d"
            % (oid, extra))
    tap.is_(c.get_order(loc).status_code, 200, "back to 100: 200")


if __name__ == "__main__":
    tap.run(main)
