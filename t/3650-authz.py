#!/usr/bin/python3
"""Authorizations and challenges through nginx (RFC 8555 §7.1.4, §7.4.1, §7.5, §7.5.1, §7.5.2,
§8.2): the authorization object, POST-as-GET enforced (plain GET -> 405), deactivation,
pre-authorization (newAuthz), and the challenge response: the challenge turns processing, a
'validate' job is queued in the same transaction, and the answer is 200 with Link rel="up" and
Retry-After, or the final status when the validation finishes within acme.validation_wait_ms
(the validation result is written in SQL here, standing in for anvil-jobs)."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from policy import ISSUERS  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"
PROFILES = {
    "default": {"issuer": "int", "validity_days": 90, "allow_wildcard": True,
                "ip_ranges": ["192.0.2.0/24"]},
}
CONFIG = {"issuers": ISSUERS, "profiles": PROFILES,
          "acme": {"validation_wait_ms": 1500, "poll_after": 2}}


def problem(r, status, typ, name):
    ok = r.status_code == status and \
        r.headers.get("Content-Type", "").startswith("application/problem+json") and \
        r.json().get("type") == ERR + typ
    if not tap.ok(ok, name):
        tap.diag("got %d %s %s" % (r.status_code, r.headers.get("Content-Type"), r.text))
    return ok


def last_id(url):
    return int(url.rsplit("/", 1)[1])


def main():
    proc.alarm(85)
    s = start_or_skip(workers=3, config=CONFIG)
    base = s.base
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account")
    other = Client(s.directory_url, s.ca_file)
    tap.is_(other.new_account().status_code, 201, "second account")

    r = c.new_order(["a.example.com", "*.w.example.com", "192.0.2.9"])
    tap.is_(r.status_code, 201, "order")
    order_url, order = r.headers["Location"], r.json()
    authzs = {}
    for u in order["authorizations"]:
        r = c.get_authz(u)
        tap.is_(r.status_code, 200, "authorization POST-as-GET: 200")
        authzs[r.json()["identifier"]["value"]] = (u, r)

    # --- the authorization object ---
    u, r = authzs["a.example.com"]
    a = r.json()
    tap.is_(a.get("status"), "pending", "authorization pending")
    tap.is_(a.get("identifier"), {"type": "dns", "value": "a.example.com"}, "identifier")
    tap.ok(a.get("expires", "").endswith("Z"), "expires in RFC 3339 UTC")
    tap.ok("wildcard" not in a, "no wildcard member for an exact name")
    tap.is_(r.headers.get("Retry-After"), "2", "Retry-After on a pending authorization")
    for ch in a["challenges"]:
        tap.ok(ch["url"].startswith(base + "/acme/chall/"), "challenge url %s" % ch["type"])
        tap.is_(ch["status"], "pending", "challenge %s pending" % ch["type"])
        tap.ok(len(ch["token"]) == 22 and "=" not in ch["token"],
               "token of 128 bits, base64url (%s)" % ch["token"])
    tap.is_(len({ch["token"] for ch in a["challenges"]}), 3, "tokens differ")
    wu, wr = authzs["w.example.com"]
    tap.is_(wr.json().get("wildcard"), True, "wildcard: true")
    tap.is_([ch["type"] for ch in wr.json()["challenges"]], ["dns-01"], "wildcard: dns-01 only")
    iu, ir = authzs["192.0.2.9"]
    tap.is_(ir.json()["identifier"], {"type": "ip", "value": "192.0.2.9"}, "ip identifier")

    # --- POST-as-GET only; other accounts refused ---
    http01 = c.challenge_of(a, "http-01")
    for what, url in (("authorization", u), ("challenge", http01["url"]), ("order", order_url)):
        r = c.session.get(url, verify=s.ca_file, timeout=10)
        tap.is_(r.status_code, 405, "plain GET of an %s: 405" % what)
        tap.is_(r.headers.get("Allow"), "POST", "Allow: POST (%s)" % what)
    problem(other.get_authz(u), 403, "unauthorized", "another account's authorization: 403")
    problem(other.respond_challenge(http01["url"]), 403, "unauthorized",
            "another account's challenge: 403")
    problem(c.get_authz(base + "/acme/authz/99999"), 404, "malformed", "no such authorization")
    problem(c.respond_challenge(base + "/acme/chall/99999"), 404, "malformed",
            "no such challenge")
    r = c.post_as_get(http01["url"])
    tap.is_(r.status_code, 200, "challenge POST-as-GET: 200")
    tap.is_(r.json().get("status"), "pending", "challenge still pending")

    # --- challenge response: processing, job queued, Link up, Retry-After ---
    t0 = time.time()
    r = c.respond_challenge(http01["url"])
    took = time.time() - t0
    tap.is_(r.status_code, 200, "challenge response: 200 (never 202)")
    tap.is_(r.json().get("status"), "processing", "challenge processing")
    tap.is_(r.json().get("url"), http01["url"], "the challenge object")
    tap.ok(r.links.get("up", {}).get("url") == u, "Link rel=up to the authorization")
    tap.is_(r.headers.get("Retry-After"), "2", "Retry-After while processing")
    tap.ok(1.2 <= took < 5, "waited validation_wait_ms for a result (%.2fs)" % took)
    cid = last_id(http01["url"])
    tap.is_(s.mysql_rows("SELECT kind, ref_id, state FROM jobs WHERE kind = 'validate' AND "
                         "ref_id = %d" % cid), [["validate", str(cid), "queued"]],
            "a validate job is queued for the challenge")
    r = c.respond_challenge(http01["url"])
    tap.is_(r.json().get("status"), "processing", "second response: still processing")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM jobs WHERE ref_id = %d" % cid), [["1"]],
            "one job per challenge")
    problem(c.post(http01["url"], []), 400, "malformed", "challenge response not an object")
    r = c.get_authz(u)
    tap.is_(r.json().get("status"), "pending", "authorization pending while validating")
    tap.is_(r.headers.get("Retry-After"), "2", "authorization Retry-After while validating")

    # --- a validation that finishes within the wait is answered at once ---
    dns01 = c.challenge_of(wr.json(), "dns-01")
    wid = last_id(dns01["url"])

    def finish():
        time.sleep(0.4)
        # The challenge is its authorization's row (migration 0009).
        s.mysql("UPDATE authorizations SET chall_status = 'valid', "
                "chall_validated = UNIX_TIMESTAMP(), status = 'valid' WHERE id = %d "
                "AND chall_attempted = 'dns-01'" % last_id(wu))
    th = threading.Thread(target=finish)
    th.start()
    t0 = time.time()
    r = c.respond_challenge(dns01["url"])
    took = time.time() - t0
    th.join()
    tap.is_(r.json().get("status"), "valid", "result within the wait: valid in the answer")
    tap.ok(took < 1.4, "answered as soon as it was valid (%.2fs)" % took)
    tap.ok("validated" in r.json(), "validated time present")
    tap.ok("Retry-After" not in r.headers, "no Retry-After once valid")
    r = c.get_authz(wu)
    tap.is_(r.json().get("status"), "valid", "wildcard authorization valid")
    tap.is_([ch["status"] for ch in r.json()["challenges"]], ["valid"],
            "valid authorization lists the validated challenge")
    r = c.poll(wu, timeout=5)
    tap.is_(r.json().get("status"), "valid", "poll helper")

    # --- a failed validation shows its error ---
    tls = c.challenge_of(ir.json(), "tls-alpn-01")
    s.mysql("UPDATE authorizations SET chall_attempted = 'tls-alpn-01', chall_status = "
            "'invalid', chall_error = '{\"type\":\"%sconnection\",\"detail\":\"refused\","
            "\"status\":400}', status = 'invalid' WHERE id = %d" % (ERR, last_id(iu)))
    r = c.post_as_get(tls["url"])
    tap.is_(r.json().get("error", {}).get("type"), ERR + "connection", "challenge error shown")
    r = c.get_order(order_url)
    tap.is_(r.json().get("status"), "invalid", "order invalid after a failed authorization")
    tap.is_(r.json().get("error", {}).get("type"), ERR + "connection",
            "order error is the challenge's problem")
    problem(c.respond_challenge(c.challenge_of(ir.json(), "http-01")["url"]), 400, "malformed",
            "responding to a challenge of an invalid authorization")

    # --- deactivation (§7.5.2) ---
    r = c.new_order(["d.example.com"])
    durl = r.json()["authorizations"][0]
    dorder = r.headers["Location"]
    problem(c.post(durl, {"status": "valid"}), 400, "malformed", "only deactivated may be set")
    problem(other.deactivate_authz(durl), 403, "unauthorized", "another account cannot deactivate")
    r = c.deactivate_authz(durl)
    tap.is_(r.status_code, 200, "deactivation: 200")
    tap.is_(r.json().get("status"), "deactivated", "authorization deactivated")
    tap.is_(c.get_authz(durl).json().get("status"), "deactivated", "deactivation stored")
    problem(c.deactivate_authz(durl), 400, "malformed", "deactivating twice")
    tap.is_(c.get_order(dorder).json().get("status"), "invalid",
            "order with a deactivated authorization: invalid")
    r = c.get_authz(wu)
    r = c.deactivate_authz(wu)
    tap.is_(r.json().get("status"), "deactivated", "a valid authorization can be deactivated")
    r = c.new_order(["*.w.example.com"])
    tap.ok(wu not in r.json()["authorizations"], "a deactivated authorization is not reused")

    # --- newAuthz (§7.4.1) ---
    r = c.new_authz("pre.example.com")
    tap.is_(r.status_code, 201, "newAuthz: 201")
    loc = r.headers.get("Location", "")
    tap.ok(loc.startswith(base + "/acme/authz/"), "newAuthz Location")
    tap.is_(r.json().get("identifier"), {"type": "dns", "value": "pre.example.com"},
            "newAuthz identifier")
    tap.is_(r.json().get("status"), "pending", "newAuthz pending")
    tap.is_(sorted(ch["type"] for ch in r.json()["challenges"]),
            ["dns-01", "http-01", "tls-alpn-01"], "newAuthz challenges")
    tap.is_(c.get_authz(loc).status_code, 200, "pre-authorization readable")
    # newAuthz answers from what it wrote; a read gives the same challenges.
    tap.is_(c.get_authz(loc).json().get("challenges"), r.json().get("challenges"),
            "newAuthz's challenges are the stored ones")
    # An id of the challenges table before migration 0009 still answers, as that challenge.
    dns = c.challenge_of(r.json(), "dns-01")
    legacy = int(s.mysql("INSERT INTO challenges (authz_id, type, token) VALUES (%d, 'dns-01', "
                         "'%s'); SELECT LAST_INSERT_ID()" % (last_id(loc), dns["token"]))
                 .split()[-1])
    tap.ok(legacy < (1 << 60) <= last_id(dns["url"]), "new challenge ids above the old ones")
    lr = c.post_as_get(base + "/acme/chall/%d" % legacy)
    tap.is_((lr.status_code, lr.json().get("type"), lr.json().get("token"),
             lr.json().get("url", "").endswith("/acme/chall/%d" % legacy)),
            (200, "dns-01", dns["token"], True), "an old challenge id answers as itself")
    r = c.new_authz("192.0.2.10")
    tap.is_(r.status_code, 201, "newAuthz for an ip: 201")
    problem(c.new_authz("*.pre.example.com"), 400, "rejectedIdentifier", "newAuthz wildcard")
    problem(c.new_authz({"type": "email", "value": "x@example.com"}), 400,
            "unsupportedIdentifier", "newAuthz unsupported type")
    problem(c.post(c.url("newAuthz"), {}), 400, "malformed", "newAuthz without identifier")
    # A valid pre-authorization is used by a later order.
    s.mysql("UPDATE authorizations SET status = 'valid' WHERE id = %d" % last_id(loc))
    r = c.new_order(["pre.example.com"])
    tap.is_(r.json().get("status"), "ready", "order over a valid pre-authorization: ready")
    tap.is_(r.json().get("authorizations"), [loc], "the pre-authorization is the order's")


if __name__ == "__main__":
    tap.run(main)
