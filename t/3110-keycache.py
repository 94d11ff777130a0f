#!/usr/bin/python3
"""The workers' account key cache (lib/keycache.h) behind nginx: once every worker has the
account's key cached, a keyChange, an UPDATE of the stored key behind the server's back (what
another worker or an operator does) and a deactivation take effect at the next request in every
worker. The old key never verifies again; the new one does at once."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client, generate_key, jwk_of, thumbprint  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"
WORKERS = 2
ROUNDS = 4 * WORKERS  # enough sequential requests for each worker to serve some


def rounds(c, key, alg):
    """(status, problem type) of ROUNDS POST-as-GETs of the account signed by key."""
    out = set()
    for _ in range(ROUNDS):
        r = c.post_as_get(c.kid, key=key, alg=alg)
        typ = r.json().get("type", "") if r.status_code >= 400 else ""
        out.add((r.status_code, typ.replace(ERR, "")))
    return out


def store_key(s, acct_id, key):
    """Replaces the account's key in the database, as accounts.jwk holds it (RFC 7638 JSON)."""
    jwk = jwk_of(key)
    text = json.dumps(jwk, sort_keys=True, separators=(",", ":"))
    s.mysql("UPDATE accounts SET jwk = '%s', thumbprint = '%s' WHERE id = %d"
            % (text, thumbprint(jwk), acct_id))


def main():
    proc.alarm(120)
    s = start_or_skip(workers=WORKERS)
    c = Client(s.directory_url, s.ca_file, alg="ES256")
    tap.is_(c.new_account().status_code, 201, "account created")
    acct_id = int(c.kid.rsplit("/", 1)[1])
    k1 = c.key
    tap.is_(rounds(c, k1, "ES256"), {(200, "")}, "every worker serves the account (key cached)")

    k2 = generate_key("ES256")
    tap.is_(c.key_change(k2, "ES256").status_code, 200, "keyChange to a new key")
    tap.is_(rounds(c, k1, "ES256"), {(400, "malformed")},
            "after keyChange the old key fails in every worker")
    tap.is_(rounds(c, k2, "ES256"), {(200, "")}, "the new key works in every worker")

    # Another writer changes the stored key: no worker may keep verifying with k2.
    k3 = generate_key("ES256")
    store_key(s, acct_id, k3)
    tap.is_(rounds(c, k2, "ES256"), {(400, "malformed")},
            "key changed in the database: the cached key fails in every worker")
    tap.is_(rounds(c, k3, "ES256"), {(200, "")}, "the key from the database works")
    # And back: an entry for k3 must not answer for k2's text, nor the reverse.
    store_key(s, acct_id, k2)
    tap.is_(rounds(c, k3, "ES256"), {(400, "malformed")}, "changed back: k3 fails")
    tap.is_(rounds(c, k2, "ES256"), {(200, "")}, "changed back: k2 works again")
    # A different key type for the same account: the alg no longer fits the cached key's.
    k4 = generate_key("EdDSA")
    store_key(s, acct_id, k4)
    tap.is_(rounds(c, k2, "ES256"), {(400, "badSignatureAlgorithm")},
            "an Ed25519 key stored: ES256 requests are refused")
    tap.is_(rounds(c, k4, "EdDSA"), {(200, "")}, "the Ed25519 key works")

    r = c.post(c.kid, {"status": "deactivated"}, key=k4, alg="EdDSA")
    tap.is_(r.status_code, 200, "deactivation")
    tap.is_(rounds(c, k4, "EdDSA"), {(403, "unauthorized")},
            "deactivated: refused in every worker although the key is cached")
    s.mysql("UPDATE accounts SET status = 'valid' WHERE id = %d" % acct_id)
    tap.is_(rounds(c, k4, "EdDSA"), {(200, "")}, "valid again in the database: served again")

    # Workers exit normally: a leak of cached keys or any sanitizer report is in the log.
    s.stop_fcgi()
    log = open(os.path.join(s.dir, "run", "anvil-fcgi.log")).read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-fcgi exited without a sanitizer report")


tap.run(main)
