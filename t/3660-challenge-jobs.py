#!/usr/bin/python3
"""The challenge response end to end with anvil-jobs (RFC 8555 §7.5.1): the worker queues the
validation, wakes anvil-jobs (jobs.wake_socket) and waits acme.validation_wait_ms, so a client
next to us gets the final status in the response; the authorization and the order follow
(pending -> ready, or invalid with the challenge's problem). http-01 against a local web server,
dns-01 for a wildcard through pebble-challtestsrv. A client that finalizes as soon as its
authorizations are valid, without reading the order (certbot), finds it ready."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client, make_csr  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"
def main():
    proc.alarm(85)
    web = HTTPTarget()
    # The signer's test profiles (t/lib/signer.py): "rsa" issues without CT, "internal" allows
    # wildcards under corp.test.
    s = start_or_skip(workers=2, signer=True, jobs={"validation": {"http01_port": web.port}},
                      config={"acme": {"validation_wait_ms": 5000, "authz_reuse": 0,
                                       "default_profile": "rsa"}})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account")

    # --- http-01: valid within the wait ---
    r = c.new_order(["ok.example.test"])
    tap.is_(r.status_code, 201, "order")
    order_url, order = r.headers["Location"], r.json()
    authz_url = order["authorizations"][0]
    a = c.get_authz(authz_url).json()
    ch = c.challenge_of(a, "http-01")
    web.challenge(ch["token"], c.key_authorization(ch["token"]).encode())
    t0 = time.time()
    r = c.respond_challenge(ch["url"])
    took = time.time() - t0
    tap.is_(r.status_code, 200, "challenge response: 200")
    if not tap.is_(r.json().get("status"), "valid", "validated within the wait: valid at once"):
        tap.dump("challenge", r.json())
    tap.ok(took < 4.5, "anvil-jobs was woken, not polled (%.2fs)" % took)
    tap.ok(r.json().get("validationRecord"), "validationRecord present")
    tap.is_(c.get_authz(authz_url).json().get("status"), "valid", "authorization valid")
    # Finalize at once, as certbot does, without reading the order first.
    _, csr = make_csr(["ok.example.test"])
    r = c.finalize(order, csr)
    if not tap.is_(r.status_code, 200, "finalize right after validation: 200, not orderNotReady"):
        tap.diag(r.text)
    r = c.poll(order_url, until=("valid", "invalid"), timeout=20)
    tap.is_(r.json().get("status"), "valid", "order valid")
    tap.ok(r.json().get("certificate", "").startswith(s.base + "/acme/cert/"), "certificate URL")

    # --- http-01 failing: the order carries the problem ---
    r = c.new_order(["bad.example.test"])
    order_url = r.headers["Location"]
    a = c.get_authz(r.json()["authorizations"][0]).json()
    ch = c.challenge_of(a, "http-01")
    web.challenge(ch["token"], b"not the key authorization")
    r = c.respond_challenge(ch["url"])
    if r.json().get("status") == "processing":
        r = c.poll(ch["url"], timeout=20)
    tap.is_(r.json().get("status"), "invalid", "wrong body: invalid")
    tap.is_(r.json().get("error", {}).get("type"), ERR + "incorrectResponse",
            "incorrectResponse")
    r = c.get_order(order_url)
    tap.is_(r.json().get("status"), "invalid", "order invalid")
    tap.is_(r.json().get("error", {}).get("type"), ERR + "incorrectResponse",
            "order error from the challenge")

    # --- dns-01 for a wildcard ---
    r = c.new_order(["*.wild.corp.test"], profile="internal")
    tap.is_(r.status_code, 201, "wildcard order")
    order_url = r.headers["Location"]
    a = c.get_authz(r.json()["authorizations"][0]).json()
    ch = c.challenge_of(a, "dns-01")
    s.dns.set_txt("_acme-challenge.wild.corp.test", c.dns01_txt(ch["token"]))
    r = c.respond_challenge(ch["url"])
    if r.json().get("status") == "processing":
        r = c.poll(ch["url"], timeout=20)
    if not tap.is_(r.json().get("status"), "valid", "dns-01 wildcard valid"):
        tap.dump("challenge", r.json())
    r = c.poll(order_url, until=("ready", "invalid"), timeout=10)
    tap.is_(r.json().get("status"), "ready", "wildcard order ready")
    web.close()


if __name__ == "__main__":
    tap.run(main)
