#!/usr/bin/python3
"""EAB keys with limits through nginx (anvilctl eab add|list|revoke, migration 0006): an
account limit holds under parallel newAccount requests (12 at once against a limit of 3:
exactly 3 accounts, the counter 3; and, deterministically, three registrations held on the
key's locked row after passing the pre-check: two created, the third refused by the count);
a key with --accounts unlimited binds many; expired and revoked keys are refused
(unauthorized, the detail says which); a key's profile scope is enforced at newOrder (the
problem names the profile) and other profiles are not; `eab list` and `--json` report each
key's state; anvilctl's argument checks (a past expiry, an unknown profile, a zero limit)."""
import json
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
PROFILES = {
    "default": {"issuer": "int", "validity_days": 90},
    "internal": {"issuer": "int", "validity_days": 365, "dns_suffixes": ["corp.test"]},
}


def problem(r, status, typ, name, detail=None):
    body = r.json() if r.headers.get("Content-Type", "").startswith(
        "application/problem+json") else {}
    ok = r.status_code == status and body.get("type") == ERR + typ and \
        (detail is None or detail in body.get("detail", ""))
    if not tap.ok(ok, name):
        tap.diag("got %d %s" % (r.status_code, r.text))
    return ok


def main():
    proc.alarm(150)
    # read_timeout above the stack's 5 s: the held-row race below keeps requests waiting on a
    # lock while the test polls for all three (lock_wait_timeout, 10 s, still bounds them).
    s = start_or_skip(workers=3, config={"issuers": ISSUERS, "profiles": PROFILES,
                                         "database": {"read_timeout": 20}})

    def client():
        return Client(s.directory_url, s.ca_file)

    def eab_add(*args):
        return s.anvilctl("eab", "add", *args).stdout.strip()

    # --- the account limit under parallel registrations ---
    key = eab_add("--kid", "fleet3", "--accounts", "3")
    clients = [client() for _ in range(12)]
    for c in clients:
        c.nonce()    # each thread then needs only its own POST
    results = [None] * len(clients)
    barrier = threading.Barrier(len(clients))

    def register(i):
        barrier.wait()
        try:
            results[i] = clients[i].new_account(eab=("fleet3", key, "HS256"))
        except Exception as e:    # noqa: BLE001 - reported below
            results[i] = e

    threads = [threading.Thread(target=register, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code if hasattr(r, "status_code") else str(r) for r in results)
    tap.is_(codes, [201] * 3 + [403] * 9, "12 parallel newAccount on a limit of 3: 3 created")
    refused = [r for r in results if getattr(r, "status_code", 0) == 403]
    tap.ok(all(r.json().get("type") == ERR + "unauthorized" for r in refused),
           "the others: unauthorized")
    tap.is_(s.mysql("SELECT COUNT(*) FROM accounts WHERE eab_kid = 'fleet3'").strip(), "3",
            "three accounts bound to the key")
    tap.is_(s.mysql("SELECT accounts_bound FROM eab_keys WHERE kid = 'fleet3'").strip(), "3",
            "the key counted three")
    problem(client().new_account(eab=("fleet3", key, "HS256")), 403, "unauthorized",
            "a fourth registration afterwards: unauthorized, naming the limit", "limit of 3")

    # --- the count inside the transaction, deterministically: the key's row is held locked
    # while three registrations (one per worker) pass every check before it and wait on it ---
    key2 = eab_add("--kid", "race2", "--accounts", "2")
    racers = [client() for _ in range(3)]
    for c in racers:
        c.nonce()
    out = [None] * len(racers)

    def go(i):
        try:
            out[i] = racers[i].new_account(eab=("race2", key2, "HS256"))
        except Exception as e:    # noqa: BLE001 - reported below
            out[i] = e

    with s.mysql_session() as lock:
        lock.query("BEGIN; SELECT kid FROM eab_keys WHERE kid = 'race2' FOR UPDATE")
        ts = [threading.Thread(target=go, args=(i,)) for i in range(len(racers))]
        for t in ts:
            t.start()
        # The processlist, not INNODB_TRX: MariaDB's INNODB_TRX cache was seen to miss waiting
        # transactions for seconds. The held row is all these statements can be waiting for.
        def waiting():
            return s.mysql("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE "
                           "INFO LIKE 'UPDATE eab_keys SET accounts_bound%'").strip() == "3"
        try:
            proc.wait_for(waiting, 30, 0.05, "three registrations waiting on the key's row")
        finally:
            lock.query("COMMIT")
    for t in ts:
        t.join(30)
    codes = sorted(getattr(r, "status_code", str(r)) for r in out)
    if not tap.is_(codes, [201, 201, 403],
                   "three registrations held on the row of a limit-2 key: two"):
        tap.diag(repr([getattr(r, "text", r) for r in out]))
    late = [r for r in out if getattr(r, "status_code", 0) == 403]
    tap.ok(len(late) == 1 and "can bind no more accounts" in late[0].json().get("detail", ""),
           "the third was refused by the count under the lock (it had passed the pre-check)")
    tap.is_(s.mysql("SELECT accounts_bound FROM eab_keys WHERE kid = 'race2'").strip(), "2",
            "the key counted two")

    # --- the default: single use ---
    key1 = eab_add("--kid", "once")
    tap.is_(client().new_account(eab=("once", key1, "HS256")).status_code, 201,
            "a default key binds one account")
    problem(client().new_account(eab=("once", key1, "HS256")), 403, "unauthorized",
            "and no second (single-use by default)", "limit of 1")

    # --- unlimited ---
    keyu = eab_add("--kid", "many", "--accounts", "unlimited", "--expires", "never")
    tap.is_([client().new_account(eab=("many", keyu, "HS256")).status_code for _ in range(5)],
            [201] * 5, "an unlimited key binds five accounts")

    # --- expired and revoked ---
    keye = eab_add("--kid", "old", "--expires", "1h")
    s.mysql("UPDATE eab_keys SET expires = UNIX_TIMESTAMP() - 60 WHERE kid = 'old'")
    problem(client().new_account(eab=("old", keye, "HS256")), 403, "unauthorized",
            "an expired key: unauthorized, saying expired", "expired")
    keyr = eab_add("--kid", "gone")
    s.anvilctl("eab", "revoke", "gone")
    problem(client().new_account(eab=("gone", keyr, "HS256")), 403, "unauthorized",
            "a revoked key: unauthorized, saying revoked", "revoked")
    r = s.anvilctl("eab", "revoke", "gone", check=False)
    tap.ok(r.returncode == 1 and "revoked already" in r.stderr, "revoking twice: an error")
    r = s.anvilctl("eab", "revoke", "nosuch", check=False)
    tap.ok(r.returncode == 1 and "no such key" in r.stderr, "revoking an unknown kid: an error")
    tap.is_(s.mysql("SELECT COUNT(*) FROM accounts WHERE eab_kid IN ('old', 'gone')").strip(),
            "0", "no account bound to the expired or revoked key")

    # --- the profile scope at newOrder ---
    keys = eab_add("--kid", "corp", "--profiles", "internal")
    c = client()
    tap.is_(c.new_account(eab=("corp", keys, "HS256")).status_code, 201, "scoped key binds")
    tap.is_(c.new_order(["host.corp.test"], profile="internal").status_code, 201,
            "newOrder in the key's profile: 201")
    problem(c.new_order(["host.example.com"], profile="default"), 403, "unauthorized",
            "newOrder for another profile: refused, naming it", "profile default")
    problem(c.new_order(["host.example.com"]), 403, "unauthorized",
            "newOrder without a profile (the default one): refused", "profile default")
    free = client()
    free.new_account(eab=("many", keyu, "HS256"))
    tap.is_(free.new_order(["host.example.com"], profile="default").status_code, 201,
            "an account of an unscoped key orders any profile")
    plain = client()
    plain.new_account()
    tap.is_(plain.new_order(["host2.example.com"]).status_code, 201,
            "an account without EAB orders as before")

    # --- eab list ---
    out = s.anvilctl("eab", "list").stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    tap.is_(rows.get("fleet3", [None] * 7)[3:6], ["3", "3", "used"], "list: fleet3 3/3 used")
    tap.is_(rows.get("many", [None] * 7)[2:6], ["never", "unlimited", "6", "active"],
            "list: many, never expires, unlimited, 6 used, active")
    tap.is_(rows.get("old", [None] * 7)[5], "expired", "list: old expired")
    tap.is_(rows.get("gone", [None] * 7)[5], "revoked", "list: gone revoked")
    tap.is_(rows.get("corp", [None] * 7)[6], "internal", "list: corp's scope")
    keys_json = {k["kid"]: k for k in json.loads(s.anvilctl("eab", "list", "--json").stdout)}
    tap.is_(sorted(keys_json), ["corp", "fleet3", "gone", "many", "old", "once", "race2"],
            "list --json: every key")
    f = keys_json.get("fleet3", {})
    tap.is_((f.get("max_accounts"), f.get("accounts"), f.get("state"), f.get("profiles")),
            (3, 3, "used", None), "list --json: fleet3")
    tap.is_(keys_json.get("corp", {}).get("profiles"), ["internal"], "list --json: scope")
    tap.ok(keys_json.get("gone", {}).get("revoked") is not None, "list --json: revoked time")
    tap.is_(keys_json.get("many", {}).get("max_accounts", 0), None,
            "list --json: unlimited is null")
    tap.ok("hmac_key" not in f, "list never shows the HMAC key")

    # --- add --json, a generated kid ---
    r = s.anvilctl("eab", "add", "--json", "--accounts", "2", "--expires", "2d")
    j = json.loads(r.stdout)
    tap.ok(len(j.get("hmac_key", "")) == 43 and len(j.get("kid", "")) == 16 and
           j.get("max_accounts") == 2 and j.get("state") == "active",
           "add --json: a generated kid, the key, the limit")

    # --- arguments ---
    for args, what in ((["--expires", "2000-01-01T00:00:00Z"], "an expiry in the past"),
                       (["--expires", "soon"], "an expiry that is no time"),
                       (["--accounts", "0"], "a limit of 0"),
                       (["--profiles", "nosuch"], "an unknown profile"),
                       (["--profiles", "internal,"], "an empty profile name")):
        r = s.anvilctl("eab", "add", *args, check=False)
        if not tap.is_(r.returncode, 2, "eab add with %s: a usage error" % what):
            tap.diag(r.stderr)
    r = s.anvilctl("eab", "add", "--profiles", "nosuch", check=False)
    tap.ok("profiles section" in r.stderr, "an unknown profile names the profiles section")


tap.run(main)
