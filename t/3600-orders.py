#!/usr/bin/python3
"""Orders through nginx (RFC 8555 §7.1.3, §7.4, §7.1.6; RFC 8738; the ACME profiles draft;
RFC 9773 "replaces"): newOrder for dns, wildcard and ip identifiers, identifier errors, profiles,
notBefore/notAfter, the order object and its status as authorizations change, expiry, reuse of
valid authorizations, and the paginated orders list. Validation itself is not the subject here:
authorizations are made valid or invalid in SQL."""
import calendar
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from policy import ISSUERS  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"

# Issuers and profiles as the signer reads them; anvil-fcgi reads the same sections for the
# name policy (no signer runs here).
PROFILES = {
    "default": {"issuer": "int", "validity_days": 90, "public": True, "backdate_seconds": 3600,
                "ip_ranges": ["192.0.2.0/24", "2001:db8::/32"], "max_names": 20},
    "internal": {"issuer": "int", "validity_days": 365, "dns_suffixes": ["corp.test"],
                 "allow_wildcard": True, "ip_ranges": ["10.0.0.0/8"]},
}
CONFIG = {"issuers": ISSUERS, "profiles": PROFILES,
          "acme": {"order_lifetime": 86400, "authz_lifetime": 43200, "orders_page_size": 3,
                   "poll_after": 3, "profile_descriptions": {"internal": "corp.test only"}}}


def problem(r, status, typ, name):
    ok = r.status_code == status and \
        r.headers.get("Content-Type", "").startswith("application/problem+json") and \
        r.json().get("type") == ERR + typ
    if not tap.ok(ok, name):
        tap.diag("got %d %s %s" % (r.status_code, r.headers.get("Content-Type"), r.text))
    return ok


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def parse_time(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def main():
    proc.alarm(85)
    s = start_or_skip(workers=2, config=CONFIG)
    base = s.base

    def client():
        c = Client(s.directory_url, s.ca_file)
        tap.is_(c.new_account().status_code, 201, "account created")
        return c

    def authz_id(url):
        return int(url.rsplit("/", 1)[1])

    def set_authz(url, status):
        s.mysql("UPDATE authorizations SET status = '%s' WHERE id = %d" % (status, authz_id(url)))

    # --- directory ---
    d = Client(s.directory_url, s.ca_file).directory()
    tap.is_(d.get("newOrder"), base + "/acme/new-order", "directory newOrder")
    tap.is_(d.get("newAuthz"), base + "/acme/new-authz", "directory newAuthz")
    profs = d["meta"].get("profiles", {})
    tap.is_(sorted(profs), ["default", "internal"], "meta.profiles lists the profiles")
    tap.is_(profs.get("internal"), "corp.test only", "meta.profiles description from config")

    c = client()

    # --- newOrder: dns and ip, normalised, sorted, deduplicated ---
    now = int(time.time())
    r = c.new_order(["www.Example.COM", "example.com", "example.com", "192.0.2.7",
                     "2001:DB8:0:0::1"])
    tap.is_(r.status_code, 201, "newOrder: 201")
    loc = r.headers.get("Location", "")
    tap.ok(loc.startswith(base + "/acme/order/"), "newOrder: Location %s" % loc)
    o = r.json()
    tap.is_(o.get("status"), "pending", "new order pending")
    tap.is_(o.get("identifiers"), [
        {"type": "dns", "value": "example.com"}, {"type": "dns", "value": "www.example.com"},
        {"type": "ip", "value": "192.0.2.7"}, {"type": "ip", "value": "2001:db8::1"}],
        "identifiers lowercased, canonical, sorted, deduplicated")
    tap.is_(len(o.get("authorizations", [])), 4, "one authorization per identifier")
    tap.is_(o.get("finalize"), loc + "/finalize", "finalize URL")
    tap.is_(o.get("profile"), "default", "default profile")
    exp = parse_time(o["expires"])
    tap.ok(now + 43200 - 5 <= exp <= now + 43200 + 5,
           "order expires with its authorizations (authz_lifetime < order_lifetime)")
    tap.is_(r.headers.get("Retry-After"), "3", "Retry-After on a pending order")
    for u in o["authorizations"]:
        tap.ok(u.startswith(base + "/acme/authz/"), "authorization URL %s" % u)

    types = {}
    for u in o["authorizations"]:
        a = c.get_authz(u).json()
        types[a["identifier"]["value"]] = sorted(ch["type"] for ch in a["challenges"])
    tap.is_(types.get("example.com"), ["dns-01", "http-01", "tls-alpn-01"],
            "dns: http-01, dns-01, tls-alpn-01")
    tap.is_(types.get("2001:db8::1"), ["http-01", "tls-alpn-01"], "ip: http-01, tls-alpn-01")

    # --- order GET: POST-as-GET only ---
    r = c.get_order(loc)
    tap.is_(r.status_code, 200, "order POST-as-GET: 200")
    tap.is_(r.json().get("status"), "pending", "order still pending")
    tap.is_(r.headers.get("Retry-After"), "3", "Retry-After while pending")
    r = c.session.get(loc, verify=s.ca_file, timeout=10)
    tap.is_(r.status_code, 405, "plain GET of an order: 405")
    tap.is_(r.headers.get("Allow"), "POST", "Allow: POST")
    problem(c.post(loc, {}), 400, "malformed", "POST {} to an order: malformed")
    other = client()
    problem(other.get_order(loc), 403, "unauthorized", "another account's order: 403")
    problem(c.get_order(base + "/acme/order/999999"), 404, "malformed", "no such order: 404")

    # --- status: pending -> ready when every authorization is valid ---
    for u in o["authorizations"]:
        set_authz(u, "valid")
    r = c.get_order(loc)
    tap.is_(r.json().get("status"), "ready", "all authorizations valid: ready")
    tap.ok("Retry-After" not in r.headers, "no Retry-After once ready")
    tap.is_(s.mysql_rows("SELECT status FROM orders WHERE id = %s" % loc.rsplit("/", 1)[1]),
            [["ready"]], "ready is stored")

    # --- reuse of valid authorizations ---
    r = c.new_order(["example.com", "new.example.com"])
    tap.is_(r.status_code, 201, "second order: 201")
    o2 = r.json()
    tap.ok(o["authorizations"][0] in o2["authorizations"], "valid authorization reused")
    tap.is_(o2["status"], "pending", "order with one new name is pending")
    r = c.new_order(["example.com", "www.example.com"])
    tap.is_(r.json().get("status"), "ready", "order of reused valid authorizations is ready at once")
    r = other.new_order(["example.com"])
    tap.ok(o["authorizations"][0] not in r.json()["authorizations"],
           "another account's authorization is not reused")

    # --- status: invalid when an authorization fails, with an error ---
    r = c.new_order(["fail.example.com"])
    floc, fo = r.headers["Location"], r.json()
    set_authz(fo["authorizations"][0], "invalid")
    r = c.get_order(floc)
    tap.is_(r.json().get("status"), "invalid", "failed authorization: order invalid")
    err = r.json().get("error", {})
    tap.ok(err.get("type", "").startswith(ERR), "invalid order has an error: %s" % err)
    tap.is_(err.get("identifier"), {"type": "dns", "value": "fail.example.com"},
            "error names the identifier")

    # --- expiry ---
    r = c.new_order(["old.example.com"])
    eloc = r.headers["Location"]
    s.mysql("UPDATE orders SET expires = %d WHERE id = %s" % (int(time.time()) - 10,
                                                              eloc.rsplit("/", 1)[1]))
    tap.is_(c.get_order(eloc).json().get("status"), "invalid", "expired order: invalid")
    r = c.new_order(["stale.example.com"])
    au = r.json()["authorizations"][0]
    s.mysql("UPDATE authorizations SET expires = %d WHERE id = %d" % (int(time.time()) - 10,
                                                                      authz_id(au)))
    tap.is_(c.get_authz(au).json().get("status"), "expired", "authorization past expiry: expired")
    tap.is_(c.get_order(r.headers["Location"]).json().get("status"), "invalid",
            "order with an expired authorization: invalid")

    # --- wildcard ---
    r = c.new_order(["*.corp.test", "corp.test"], profile="internal")
    tap.is_(r.status_code, 201, "wildcard order in a profile that allows it: 201")
    w = r.json()
    tap.is_(w.get("profile"), "internal", "profile recorded")
    tap.is_(w.get("identifiers"), [{"type": "dns", "value": "corp.test"},
                                   {"type": "dns", "value": "*.corp.test"}],
            "wildcard and base name are two identifiers")
    wild = [c.get_authz(u).json() for u in w["authorizations"]]
    wa = [a for a in wild if a.get("wildcard")]
    tap.is_(len(wa), 1, "one wildcard authorization")
    if wa:
        tap.is_(wa[0]["identifier"], {"type": "dns", "value": "corp.test"},
                "wildcard authorization identifier without *.")
        tap.is_([ch["type"] for ch in wa[0]["challenges"]], ["dns-01"], "wildcard: only dns-01")

    # --- identifier errors ---
    bad = [
        ([{"type": "email", "value": "a@example.com"}], 400, "unsupportedIdentifier", "email type"),
        (["a..example.com"], 400, "rejectedIdentifier", "empty label"),
        (["ex_ample.com"], 400, "rejectedIdentifier", "underscore"),
        (["www.*.example.com"], 400, "rejectedIdentifier", "wildcard not leftmost"),
        (["*example.com"], 400, "rejectedIdentifier", "partial wildcard label"),
        (["example.com."], 400, "rejectedIdentifier", "trailing dot"),
        (["-a.example.com"], 400, "rejectedIdentifier", "label starts with -"),
        (["a" * 64 + ".example.com"], 400, "rejectedIdentifier", "label of 64"),
        ([("a" * 60 + ".") * 5 + "com"], 400, "rejectedIdentifier", "name over 253"),
        (["localhost"], 400, "rejectedIdentifier", "single label in a public profile"),
        (["*.example.com"], 400, "rejectedIdentifier", "wildcard in a profile without them"),
        (["198.51.100.1"], 400, "rejectedIdentifier", "ip outside the profile's ranges"),
        ([{"type": "dns", "value": "1.2.3.4"}], 400, "rejectedIdentifier", "address as dns"),
        ([{"type": "ip", "value": "1.2.3"}], 400, "malformed", "bad ip"),
        ([{"type": "ip", "value": "fe80::1%eth0"}], 400, "malformed", "ip with zone"),
        ([{"type": "dns"}], 400, "malformed", "no value"),
        ([{"type": "dns", "value": 5}], 400, "malformed", "value not a string"),
        ([], 400, "malformed", "empty identifiers"),
        (["n%d.example.com" % i for i in range(21)], 400, "rejectedIdentifier",
         "more names than max_names"),
    ]
    for ids, status, typ, what in bad:
        problem(c.new_order(ids), status, typ, "newOrder %s: %s" % (what, typ))
    problem(c.new_order(["x.example.org"], profile="internal"), 400, "rejectedIdentifier",
            "name outside the profile's suffixes")
    problem(c.post(c.url("newOrder"), {"identifiers": "example.com"}), 400, "malformed",
            "identifiers not an array")
    problem(c.new_order(["example.com"], profile="nosuch"), 400, "invalidProfile",
            "unknown profile: invalidProfile")
    problem(c.new_order(["example.com"], profile=7), 400, "invalidProfile",
            "profile not a string: invalidProfile")

    # --- notBefore / notAfter within the profile ---
    now = int(time.time())
    r = c.new_order(["nb.example.com"], not_before=rfc3339(now + 3600),
                    not_after=rfc3339(now + 3600 + 30 * 86400))
    tap.is_(r.status_code, 201, "notBefore/notAfter within the profile: 201")
    tap.is_(r.json().get("notBefore"), rfc3339(now + 3600), "notBefore echoed")
    tap.is_(r.json().get("notAfter"), rfc3339(now + 3600 + 30 * 86400), "notAfter echoed")
    r = c.new_order(["nb.example.com"], not_before=time.strftime(
        "%Y-%m-%dT%H:%M:%S.25+02:00", time.gmtime(now + 3600 + 7200)))
    tap.is_(r.status_code, 201, "notBefore with a fraction and an offset: 201")
    tap.is_(r.json().get("notBefore"), rfc3339(now + 3600), "offset applied, answered in UTC")
    problem(c.new_order(["nb.example.com"], not_after=rfc3339(now + 91 * 86400)), 400,
            "malformed", "notAfter beyond the profile's validity")
    problem(c.new_order(["nb.example.com"], not_before=rfc3339(now - 7200)), 400,
            "malformed", "notBefore beyond the profile's backdating")
    problem(c.new_order(["nb.example.com"], not_before=rfc3339(now + 7200),
                        not_after=rfc3339(now + 3600)), 400, "malformed",
            "notAfter before notBefore")
    problem(c.new_order(["nb.example.com"], not_before=rfc3339(now + 7200)), 400,
            "malformed", "notBefore beyond the signer's hour ahead (within the order lifetime)")
    problem(c.new_order(["nb.example.com"], not_before="tomorrow"), 400, "malformed",
            "notBefore not RFC 3339")
    r = c.new_order(["nb.example.com"], profile="internal")
    problem(r, 400, "rejectedIdentifier", "profile decides the policy")

    # --- replaces (RFC 9773): checked by fcgi/renewal.c (its tests issue real certificates) ---
    problem(c.new_order(["renew.example.com"], replaces="aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"),
            400, "malformed", "replaces naming no certificate of this server")
    problem(c.new_order(["renew.example.com"], replaces="not an id"), 400, "malformed",
            "replaces not a certificate identifier")

    # --- orders list, paginated (orders_page_size 3) ---
    p = client()
    made = []
    for i in range(7):
        r = p.new_order(["list%d.example.com" % i])
        made.append(r.headers["Location"])
    seen, url, pages = [], p.kid + "/orders", 0
    while url and pages < 10:
        r = p.post_as_get(url)
        pages += 1
        if r.status_code != 200:
            tap.diag(r.text)
            break
        seen += r.json()["orders"]
        link = r.links.get("next", {}).get("url")
        url = link
    tap.is_(pages, 3, "7 orders in pages of 3: 3 pages")
    tap.is_(seen, made, "every order listed once, in creation order")
    problem(p.post_as_get(p.kid + "/orders?cursor=abc"), 400, "malformed", "bad cursor")
    # RFC 8555 §7.1.2.1: invalid orders SHOULD NOT be listed; an expired pending one is invalid.
    gone = [made[1], made[4]]
    s.mysql("UPDATE orders SET status = 'invalid' WHERE id = %s" % made[1].rsplit("/", 1)[1])
    s.mysql("UPDATE orders SET expires = %d WHERE id = %s" % (int(time.time()) - 10,
                                                              made[4].rsplit("/", 1)[1]))
    seen, url, pages = [], p.kid + "/orders", 0
    while url and pages < 10:
        r = p.post_as_get(url)
        pages += 1
        if r.status_code != 200:
            break
        seen += r.json()["orders"]
        url = r.links.get("next", {}).get("url")
    tap.is_(seen, [u for u in made if u not in gone],
            "the orders list leaves out an invalid order and an expired pending one")
    r = c.post_as_get(p.kid + "/orders")
    problem(r, 403, "unauthorized", "another account's orders list: 403")

    # --- newOrder needs an account and a payload ---
    problem(c.post_as_get(c.url("newOrder")), 400, "malformed", "POST-as-GET newOrder")
    r = c.session.get(c.url("newOrder"), verify=s.ca_file, timeout=10)
    tap.is_(r.status_code, 405, "plain GET newOrder: 405")

    # --- authz_reuse 0 turns reuse off (reload) ---
    cfg = dict(s.config)
    cfg["acme"] = dict(cfg["acme"], authz_reuse=0)
    s.write_config(cfg)
    s.reload_fcgi()
    deadline = time.time() + 15
    reused = True
    while time.time() < deadline:
        r = c.new_order(["example.com"])
        if r.status_code == 201 and o["authorizations"][0] not in r.json()["authorizations"]:
            reused = False
            break
        time.sleep(0.3)
    tap.ok(not reused, "authz_reuse 0: a valid authorization is not reused")


if __name__ == "__main__":
    tap.run(main)
