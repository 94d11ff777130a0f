#!/usr/bin/python3
"""ACME accounts end to end through nginx (RFC 8555 §7.1-7.3): directory, newAccount (every
account key algorithm, existing key, onlyReturnExisting, terms of service, contacts, external
account binding), POST-as-GET, contact update, orders list, deactivation, keyChange; and a
configuration reload that makes EAB required."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import ALGS, Client, generate_key, jwk_of, thumbprint  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"


def problem(r, status, typ, name):
    ok = r.status_code == status and \
        r.headers.get("Content-Type", "").startswith("application/problem+json") and \
        r.json().get("type") == ERR + typ
    if not tap.ok(ok, name):
        tap.diag("got %d %s %s" % (r.status_code, r.headers.get("Content-Type"), r.text))
    return ok


def main():
    proc.alarm(120)
    s = start_or_skip(workers=2)
    base = s.base

    def client(alg="ES256", key=None):
        return Client(s.directory_url, s.ca_file, key=key, alg=alg)

    # --- directory ---
    d = client().directory()
    for name, path in (("newNonce", "new-nonce"), ("newAccount", "new-account"),
                       ("newOrder", "new-order"), ("revokeCert", "revoke-cert"),
                       ("keyChange", "key-change")):
        tap.is_(d.get(name), base + "/acme/" + path, "directory %s" % name)
    tap.is_(d["meta"].get("termsOfService"), s.config["acme"]["terms_of_service"],
            "meta.termsOfService")
    tap.is_(d["meta"].get("website"), s.config["acme"]["website"], "meta.website")
    tap.is_(d["meta"].get("caaIdentities"), s.config["acme"]["caa_identities"],
            "meta.caaIdentities")
    tap.is_(d["meta"].get("externalAccountRequired"), False, "meta.externalAccountRequired")

    # --- newAccount with every algorithm, then the same key again ---
    accounts = {}
    for alg in ALGS:
        c = client(alg)
        r = c.new_account(contact=["mailto:admin@example.org"])
        tap.is_(r.status_code, 201, "%s newAccount: 201" % alg)
        loc = r.headers.get("Location", "")
        tap.ok(loc.startswith(base + "/acme/acct/"), "%s newAccount: Location %s" % (alg, loc))
        body = r.json()
        tap.is_(body.get("status"), "valid", "%s account status valid" % alg)
        tap.is_(body.get("contact"), ["mailto:admin@example.org"], "%s contact returned" % alg)
        tap.is_(body.get("orders"), loc + "/orders", "%s orders URL" % alg)
        r = c.new_account(contact=["mailto:other@example.org"])
        tap.is_((r.status_code, r.headers.get("Location")), (200, loc),
                "%s same key again: 200 with the same Location" % alg)
        tap.is_(r.json().get("contact"), ["mailto:admin@example.org"],
                "%s same key again: the existing account, unchanged" % alg)
        r = c.new_account(only_existing=True, tos=None)
        tap.is_((r.status_code, r.headers.get("Location")), (200, loc),
                "%s onlyReturnExisting finds it" % alg)
        accounts[alg] = c
    rows = s.mysql_rows("SELECT thumbprint, status FROM accounts WHERE id = %d"
                        % int(accounts["ES256"].kid.rsplit("/", 1)[1]))
    tap.is_(rows, [[thumbprint(accounts["ES256"].jwk), "valid"]],
            "stored under the RFC 7638 thumbprint of the key")

    # --- onlyReturnExisting, terms of service ---
    c = client()
    problem(c.new_account(only_existing=True), 400, "accountDoesNotExist",
            "onlyReturnExisting with an unknown key: accountDoesNotExist")
    r = c.new_account(tos=None)
    problem(r, 400, "malformed", "terms of service configured and not agreed: malformed")
    tap.ok('rel="terms-of-service"' in r.headers.get("Link", ""),
           "the refusal links the terms of service")
    problem(c.new_account(tos=False), 400, "malformed", "termsOfServiceAgreed false: malformed")
    problem(c.new_account(tos="yes"), 400, "malformed", "termsOfServiceAgreed not a boolean")
    tap.is_(s.mysql("SELECT COUNT(*) FROM accounts").strip(), str(len(ALGS)),
            "refused requests created no account")

    # --- contacts ---
    bad = [
        (["tel:+15555550100"], "unsupportedContact", "a tel: contact"),
        (["https://example.org/"], "unsupportedContact", "an https: contact"),
        (["mailto:"], "invalidContact", "an empty mailto"),
        (["mailto:no-at-sign.example.org"], "invalidContact", "mailto without @"),
        (["mailto:a@example.org?subject=hi"], "invalidContact", "mailto with hfields"),
        (["mailto:a@example.org,b@example.org"], "invalidContact", "two addresses in one URI"),
        (["mailto:a@localhost"], "invalidContact", "a domain that is not a FQDN"),
        (["mailto:a@-bad-.example.org"], "invalidContact", "a label starting with a hyphen"),
        (["mailto:a b@example.org"], "invalidContact", "a space in the address"),
        (["mailto:a@example.org%0d%0aBcc:x@y.org"], "invalidContact", "percent-encoded CRLF"),
        (["mailto:.a@example.org"], "invalidContact", "a local part starting with a dot"),
        (["mailto:a@1.2.3.4"], "invalidContact", "an address literal"),
        (["mailto:%s@example.org" % ("a" * 65)], "invalidContact", "a local part over 64"),
        (["mailto:a%d@example.org" % i for i in range(5)], "invalidContact",
         "more than acme.max_contacts (4)"),
        ("mailto:a@example.org", "malformed", "contact not an array"),
        ([42], "malformed", "a contact that is not a string"),
    ]
    for contact, typ, name in bad:
        problem(c.new_account(contact=contact), 400, typ, "newAccount with %s: %s" % (name, typ))
    r = c.new_account(contact=["mailto:a.b+tag@mail.example.org", "mailto:c@example.org"])
    tap.is_(r.status_code, 201, "newAccount with two good contacts")
    tap.is_(r.json().get("contact"), ["mailto:a.b+tag@mail.example.org", "mailto:c@example.org"],
            "both contacts returned")
    r2 = client().new_account(contact=[])
    tap.is_(r2.status_code, 201, "newAccount with an empty contact list")
    tap.ok("contact" not in r2.json(), "no contact member when there is none")

    # --- POST-as-GET, update, orders, authorization by kid ---
    r = c.post_as_get(c.kid)
    tap.is_(r.status_code, 200, "POST-as-GET of the account")
    tap.is_(r.json().get("status"), "valid", "POST-as-GET shows the account")
    r = c.post(c.kid, {"contact": ["mailto:new@example.org"]})
    tap.is_((r.status_code, r.json().get("contact")), (200, ["mailto:new@example.org"]),
            "contact update answered with the new contact")
    tap.is_(c.post_as_get(c.kid).json().get("contact"), ["mailto:new@example.org"],
            "contact update stored")
    problem(c.post(c.kid, {"contact": ["tel:123"]}), 400, "unsupportedContact",
            "contact update with a bad scheme refused")
    tap.is_(c.post_as_get(c.kid).json().get("contact"), ["mailto:new@example.org"],
            "a refused update changed nothing")
    r = c.post(c.kid, {"contact": []})
    tap.ok(r.status_code == 200 and "contact" not in r.json(), "contacts removed")
    r = c.post(c.kid, {"termsOfServiceAgreed": True, "orders": "x"})
    tap.is_(r.status_code, 200, "fields a client cannot change are ignored")
    problem(c.post(c.kid, {"status": "valid"}), 400, "malformed",
            "status other than deactivated refused")
    r = c.post_as_get(c.kid + "/orders")
    tap.is_((r.status_code, r.json()), (200, {"orders": []}), "orders list (empty for now)")
    problem(c.post(c.kid + "/orders", {}), 400, "malformed", "orders list wants POST-as-GET")
    other = accounts["ES256"]
    problem(c.post_as_get(other.kid), 403, "unauthorized", "another account's URL: unauthorized")
    problem(c.post_as_get(other.kid + "/orders"), 403, "unauthorized",
            "another account's orders: unauthorized")
    problem(c.post_as_get(base + "/acme/acct/999999", kid=base + "/acme/acct/999999"), 400,
            "accountDoesNotExist", "unknown kid: accountDoesNotExist")
    problem(c.post_as_get(c.kid, kid="https://elsewhere.example/acme/acct/1"), 400, "malformed",
            "kid that is not an account URL of ours: malformed")

    # --- keyChange ---
    k = client("ES256")
    k.new_account()
    old_key, old_kid = k.key, k.kid
    new_key = generate_key("EdDSA")
    r = k.key_change(new_key, "EdDSA")
    tap.is_(r.status_code, 200, "keyChange to an Ed25519 key: 200")
    tap.is_(r.headers.get("Location"), old_kid, "keyChange answers with the account URL")
    tap.is_(k.post_as_get(k.kid).status_code, 200, "the new key signs for the account")
    r = k.post_as_get(k.kid, key=old_key, alg="ES256")
    tap.ok(r.status_code >= 400, "the old key no longer does (%d)" % r.status_code)
    n = client("EdDSA", key=new_key)
    r = n.new_account(only_existing=True)
    tap.is_((r.status_code, r.headers.get("Location")), (200, old_kid),
            "newAccount with the new key finds the account")
    o = client("ES256", key=old_key)
    problem(o.new_account(only_existing=True), 400, "accountDoesNotExist",
            "the old key has no account any more")
    # the new key is another account's key: 409 with that account's Location
    r = k.key_change(other.key, other.alg)
    tap.is_(r.status_code, 409, "keyChange to another account's key: 409")
    tap.is_(r.headers.get("Location"), other.kid, "409 names the account holding the key")
    # oldKey not the current key
    problem(k.key_change(generate_key("ES256"), "ES256", old_jwk=jwk_of(old_key)), 403,
            "unauthorized", "keyChange with a stale oldKey: unauthorized")
    problem(k.key_change(generate_key("ES256"), "ES256", account=other.kid), 403,
            "unauthorized", "keyChange naming another account: unauthorized")
    problem(k.key_change(generate_key("ES256"), "ES256", inner_url=base + "/acme/new-account"),
            400, "malformed", "keyChange inner url differs from the outer: malformed")
    problem(k.key_change(generate_key("ES256"), "ES256",
                         inner_extra={"jwk": None, "kid": k.kid}), 400, "malformed",
            "keyChange inner JWS with a kid instead of a jwk: malformed")
    problem(k.key_change(generate_key("ES256"), "ES256", inner_payload={"account": k.kid}),
            400, "malformed", "keyChange without oldKey: malformed")
    problem(k.post(k.url("keyChange"), {"not": "a jws"}), 400, "malformed",
            "keyChange payload that is not a JWS: malformed")
    tap.is_(k.post_as_get(k.kid).status_code, 200, "failed keyChanges left the key alone")

    # --- deactivation ---
    r = k.post(k.kid, {"status": "deactivated"})
    tap.is_((r.status_code, r.json().get("status")), (200, "deactivated"), "deactivation")
    problem(k.post_as_get(k.kid), 403, "unauthorized", "deactivated account: 403 unauthorized "
            "(a 401 would need WWW-Authenticate)")
    problem(n.new_account(), 403, "unauthorized",
            "newAccount with a deactivated account's key: unauthorized")
    tap.is_(s.mysql("SELECT status FROM accounts WHERE id = %s"
                    % k.kid.rsplit("/", 1)[1]).strip(), "deactivated", "stored as deactivated")

    # --- external account binding ---
    def eab_add(kid, alg="HS256"):
        out = s.anvilctl("eab", "add", "--kid", kid, "--alg", alg).stdout.strip()
        return (kid, out, alg)

    e1 = eab_add("team-a")
    tap.ok(len(e1[1]) == 43, "anvilctl eab add prints a 32-byte base64url key")
    r = s.anvilctl("eab", "add", "--kid", "team-a", check=False)
    tap.ok(r.returncode == 1 and "exists" in r.stderr, "a kid cannot be added twice")
    c1 = client()
    r = c1.new_account(eab=e1)
    tap.is_(r.status_code, 201, "newAccount with an EAB: 201")
    tap.is_(s.mysql("SELECT account_id FROM eab_keys WHERE kid = 'team-a'").strip(),
            c1.kid.rsplit("/", 1)[1], "the EAB key is bound to the account")
    tap.is_(s.mysql("SELECT eab_kid FROM accounts WHERE id = %s"
                    % c1.kid.rsplit("/", 1)[1]).strip(), "team-a", "the account records its EAB")
    problem(client().new_account(eab=e1), 403, "unauthorized",
            "an EAB key binds one account by default")
    for alg in ("HS384", "HS512"):
        e = eab_add("team-" + alg.lower(), alg)
        tap.is_(client().new_account(eab=e).status_code, 201, "EAB with %s" % alg)
    e2 = eab_add("team-b")
    c2 = client()
    wrong_mac = (e2[0], "A" * 43, "HS256")
    problem(c2.new_account(eab=wrong_mac), 403, "unauthorized", "EAB with a wrong MAC key")
    problem(c2.new_account(eab=("nobody", e2[1], "HS256")), 403, "unauthorized",
            "EAB with an unknown kid")
    problem(c2.new_account(eab=(e2[0], e2[1], "HS512")), 403, "unauthorized",
            "EAB with another MAC algorithm than its key's")
    bad = c2.eab_binding(e2[0], e2[1], jwk=jwk_of(generate_key("ES256")))
    problem(c2.new_account(extra={"externalAccountBinding": bad}), 403, "unauthorized",
            "EAB binding another key than the account key")
    bad = c2.eab_binding(e2[0], e2[1], url=base + "/acme/new-order")
    problem(c2.new_account(extra={"externalAccountBinding": bad}), 403, "unauthorized",
            "EAB with another url than newAccount")
    bad = c2.eab_binding(e2[0], e2[1], extra_protected={"nonce": c2.nonce()})
    problem(c2.new_account(extra={"externalAccountBinding": bad}), 400, "malformed",
            "EAB with a nonce: malformed")
    problem(c2.new_account(extra={"externalAccountBinding": "x"}), 400, "malformed",
            "EAB that is not a JWS: malformed")
    tap.is_(s.mysql("SELECT account_id IS NULL, accounts_bound FROM eab_keys "
                    "WHERE kid = 'team-b'").strip(), "1\t0", "refused bindings left the key unbound")
    tap.is_(c2.new_account(eab=e2).status_code, 201, "and it still binds when used right")

    # --- the master: pid file; a reload with an invalid file keeps the running generation ---
    pid_file = s.config["fcgi"]["pid_file"]
    tap.is_(open(pid_file).read().strip(), str(s.fcgi_master_pid()), "fcgi.pid_file holds the "
            "master's PID")
    good = dict(s.config)
    workers = s.wait_workers()
    s.write_config(dict(good, fcgi=dict(good["fcgi"], workers=0)))
    s.reload_fcgi()
    log = os.path.join(s.dir, "run", "anvil-fcgi.log")
    proc.wait_for(lambda: "reload refused" in open(log).read(), 20, 0.05, "reload refused")
    tap.ok("fcgi.workers" in [ln for ln in open(log) if "reload refused" in ln][-1],
           "an invalid reload is refused, naming the key")
    tap.is_(sorted(s.fcgi_worker_pids()), sorted(workers), "the running workers stay")
    tap.is_(c.post_as_get(c.kid).status_code, 200, "and keep serving")
    s.write_config(good)

    # --- reload: EAB becomes required ---
    cfg = dict(s.config)
    cfg["acme"] = dict(cfg["acme"], external_account_required=True)
    old_workers = s.fcgi_worker_pids()
    s.write_config(cfg)
    s.reload_fcgi()
    s.wait_workers(exclude=old_workers)
    d = client().directory(refresh=True)
    tap.is_(d["meta"].get("externalAccountRequired"), True,
            "after reload: meta.externalAccountRequired true")
    problem(client().new_account(), 400, "externalAccountRequired",
            "no EAB when required: externalAccountRequired")
    tap.is_(accounts["ES384"].new_account().status_code, 200,
            "existing accounts still found without EAB")
    tap.is_(client().new_account(eab=eab_add("team-c")).status_code, 201,
            "with an EAB: 201")

    # Workers and master exit normally: any ASan, UBSan or LeakSanitizer report is in the log.
    s.stop_fcgi()
    log = open(os.path.join(s.dir, "run", "anvil-fcgi.log")).read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-fcgi exited without a sanitizer report")


tap.run(main)
