#!/usr/bin/python3
"""Every problem document of the account API, provoked over raw HTTP through nginx and checked:
status, type, Content-Type application/problem+json, a fresh Replay-Nonce, Link rel="index",
the "status" member, "algorithms" on badSignatureAlgorithm, Allow on 405, Retry-After on 503.

One entry per case in CASES: (name, status, type, request). A request is a function of the
context that returns a requests.Response."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import fcgi_client  # noqa: E402
from acme import JOSE, Client, b64u, b64u_json, generate_key, jwk_of, make_jws  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"
ALGORITHMS = ["ES256", "ES384", "RS256", "EdDSA"]


class Ctx:
    def __init__(self, s):
        self.s = s
        self.base = s.base
        self.c = Client(s.directory_url, s.ca_file)          # has an account
        self.c.new_account()
        self.fresh = Client(s.directory_url, s.ca_file)      # has none

    def url(self, path):
        return self.base + path

    def raw(self, method, path, body=None, ctype=JOSE):
        headers = {"Content-Type": ctype} if ctype else {}
        return self.c.session.request(method, self.url(path), data=body, headers=headers,
                                      verify=self.s.ca_file, timeout=10)

    def jws_body(self, protected, payload, key=None, alg="ES256", signature=None):
        return json.dumps(make_jws(protected, payload, key=key or self.fresh.key, alg=alg,
                                   signature=signature))

    def new_account_url(self):
        return self.url("/acme/new-account")


def rsa1024_jwk():
    from cryptography.hazmat.primitives.asymmetric import rsa
    return jwk_of(rsa.generate_private_key(public_exponent=65537, key_size=1024))


def off_curve_jwk():
    j = jwk_of(generate_key("ES256"))
    j["y"] = b64u(b"\x01" * 32)
    return j


def with_header(x):
    jws = x.fresh.build(x.new_account_url(), {}, use_jwk=True)
    jws["header"] = {"kid": "x"}
    return x.raw("POST", NA, json.dumps(jws))


def reused_nonce(x):
    n = x.c.nonce()
    x.c.post_as_get(x.c.kid, nonce=n)
    return x.c.post_as_get(x.c.kid, nonce=n)


def nonce_of_other_key(x):
    # A well-formed nonce that this server's key did not make.
    return x.c.post_as_get(x.c.kid, nonce=b64u(os.urandom(44)))


NA = "/acme/new-account"
CASES = [
    # routing and HTTP
    ("unknown path", 404, "malformed", lambda x: x.raw("GET", "/acme/nope")),
    ("unknown account sub-resource", 404, "malformed",
     lambda x: x.raw("POST", "/acme/acct/1/keys", "{}")),
    ("account id not a number", 404, "malformed", lambda x: x.raw("POST", "/acme/acct/x1", "{}")),
    ("GET on newAccount", 405, "malformed", lambda x: x.raw("GET", NA)),
    ("GET on an account URL", 405, "malformed", lambda x: x.raw("GET", "/acme/acct/1")),
    ("HEAD on keyChange", 405, "malformed", lambda x: x.raw("HEAD", "/acme/key-change")),
    ("POST on the directory", 405, "malformed", lambda x: x.raw("POST", "/acme/directory", "{}")),
    ("POST on newNonce", 405, "malformed", lambda x: x.raw("POST", "/acme/new-nonce", "{}")),
    ("PUT on newAccount", 405, "malformed", lambda x: x.raw("PUT", NA, "{}")),
    ("Content-Type application/json", 415, "malformed",
     lambda x: x.raw("POST", NA, "{}", ctype="application/json")),
    ("no Content-Type", 415, "malformed", lambda x: x.raw("POST", NA, "{}", ctype=None)),
    ("newOrder with a body that is not a JWS", 400, "malformed",
     lambda x: x.raw("POST", "/acme/new-order", "{}")),
    ("revokeCert with a body that is not a JWS", 400, "malformed",
     lambda x: x.raw("POST", "/acme/revoke-cert", "{}")),
    # JWS structure
    ("empty body", 400, "malformed", lambda x: x.raw("POST", NA, "")),
    ("body not JSON", 400, "malformed", lambda x: x.raw("POST", NA, "not json")),
    ("JSON array body", 400, "malformed", lambda x: x.raw("POST", NA, "[1,2]")),
    ("compact serialization", 400, "malformed", lambda x: x.raw("POST", NA, "a.b.c")),
    ("JWS without signature", 400, "malformed",
     lambda x: x.raw("POST", NA, json.dumps({"protected": b64u_json({"alg": "ES256"}),
                                             "payload": ""}))),
    ("JWS with an unprotected header", 400, "malformed", with_header),
    ("JWS general serialization", 400, "malformed",
     lambda x: x.raw("POST", NA, json.dumps({"payload": "", "signatures": []}))),
    ("protected not base64url", 400, "malformed",
     lambda x: x.raw("POST", NA, json.dumps({"protected": "!!", "payload": "",
                                             "signature": ""}))),
    ("payload not JSON", 400, "malformed",
     lambda x: x.fresh.post(x.new_account_url(), b"not json", use_jwk=True)),
    ("newAccount as POST-as-GET", 400, "malformed",
     lambda x: x.fresh.post(x.new_account_url(), None, use_jwk=True)),
    # algorithms
    ("alg none", 400, "badSignatureAlgorithm",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True, alg_override="none",
                            signature=b"")),
    ("alg HS256", 400, "badSignatureAlgorithm",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True, alg_override="HS256")),
    ("alg RS512", 400, "badSignatureAlgorithm",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True, alg_override="RS512")),
    ("alg ES256 with an Ed25519 key", 400, "badSignatureAlgorithm",
     lambda x: Client(x.s.directory_url, x.s.ca_file, alg="EdDSA").post(
         x.new_account_url(), {}, use_jwk=True, alg_override="ES256")),
    # jwk / kid
    ("both jwk and kid", 400, "malformed",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            extra_protected={"kid": x.c.kid})),
    ("neither jwk nor kid", 400, "malformed",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            extra_protected={"jwk": None})),
    ("kid on newAccount", 400, "malformed", lambda x: x.c.post(x.new_account_url(), {})),
    ("jwk on an account URL", 400, "malformed",
     lambda x: x.c.post_as_get(x.c.kid, use_jwk=True)),
    ("jwk on keyChange", 400, "malformed",
     lambda x: x.c.post(x.url("/acme/key-change"), {}, use_jwk=True)),
    ("unknown kid", 400, "accountDoesNotExist",
     lambda x: x.c.post_as_get(x.url("/acme/acct/987654"), kid=x.url("/acme/acct/987654"))),
    ("kid of another server", 400, "malformed",
     lambda x: x.c.post_as_get(x.c.kid, kid="https://example.org/acme/acct/1")),
    ("kid not a URL", 400, "malformed", lambda x: x.c.post_as_get(x.c.kid, kid="1")),
    # url
    ("url of another resource", 403, "unauthorized",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            url_override=x.url("/acme/new-order"))),
    ("url with another host", 403, "unauthorized",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            url_override="https://example.org" + NA)),
    ("url with a trailing slash", 403, "unauthorized",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            url_override=x.new_account_url() + "/")),
    ("no url", 400, "malformed",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            extra_protected={"url": None})),
    # nonces
    ("no nonce", 400, "badNonce",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True, nonce=False)),
    ("garbage nonce", 400, "badNonce",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True, nonce="not-a-nonce")),
    ("nonce used twice", 400, "badNonce", reused_nonce),
    ("nonce not made by this server", 400, "badNonce", nonce_of_other_key),
    # signature and keys
    ("signature of other bytes", 400, "malformed",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            signature=os.urandom(64))),
    ("signature by another key (kid)", 400, "malformed",
     lambda x: x.c.post_as_get(x.c.kid, key=generate_key("ES256"), alg="ES256")),
    ("jwk with a private member", 400, "badPublicKey",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            extra_protected={"jwk": dict(x.fresh.jwk, d=b64u(b"\x01" * 32))})),
    ("RSA key of 1024 bits", 400, "badPublicKey",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            extra_protected={"jwk": rsa1024_jwk()})),
    ("EC point not on the curve", 400, "badPublicKey",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            extra_protected={"jwk": off_curve_jwk()})),
    ("unknown kty", 400, "badPublicKey",
     lambda x: x.fresh.post(x.new_account_url(), {}, use_jwk=True,
                            extra_protected={"jwk": {"kty": "oct", "k": "AAAA"}})),
    # account resources
    ("onlyReturnExisting without an account", 400, "accountDoesNotExist",
     lambda x: x.fresh.new_account(only_existing=True)),
    ("invalid contact", 400, "invalidContact",
     lambda x: x.fresh.new_account(contact=["mailto:nobody"])),
    ("unsupported contact", 400, "unsupportedContact",
     lambda x: x.fresh.new_account(contact=["xmpp:a@example.org"])),
    ("other account's URL", 403, "unauthorized",
     lambda x: x.other.post_as_get(x.c.kid)),
]


def check(name, r, status, typ):
    ctype = r.headers.get("Content-Type", "")
    try:
        body = r.json()
    except ValueError:
        body = {}
    if r.request.method == "HEAD":  # no body to look at
        good = r.status_code == status and ctype.startswith("application/problem+json")
    else:
        good = (r.status_code == status and ctype.startswith("application/problem+json") and
                body.get("type") == ERR + typ and body.get("status") == status and
                isinstance(body.get("detail"), str))
    if not tap.ok(good, "%s: %d %s" % (name, status, typ)):
        tap.diag("got %d %s %s" % (r.status_code, ctype, r.text[:300]))
    nonce = r.headers.get("Replay-Nonce", "")
    tap.ok(len(nonce) == 59, "%s: a fresh Replay-Nonce" % name)
    tap.ok('rel="index"' in r.headers.get("Link", ""), "%s: Link rel=index" % name)
    if typ == "badSignatureAlgorithm":
        tap.is_(body.get("algorithms"), ALGORITHMS, "%s: algorithms listed" % name)
    if status == 405:
        tap.ok(r.headers.get("Allow") in ("POST", "GET, HEAD"), "%s: Allow %s"
               % (name, r.headers.get("Allow")))
    return body


def main():
    proc.alarm(120)
    s = start_or_skip(workers=2)
    x = Ctx(s)
    other = Client(s.directory_url, s.ca_file)
    other.new_account()
    x.other = other
    accounts_before = s.mysql("SELECT COUNT(*) FROM accounts").strip()
    for name, status, typ, request in CASES:
        check(name, request(x), status, typ)
    tap.is_(s.mysql("SELECT COUNT(*) FROM accounts").strip(), accounts_before,
            "no refused request created an account")

    # A badNonce response carries a nonce that works.
    r = x.c.post_as_get(x.c.kid, nonce="bad")
    check("badNonce for retry", r, 400, "badNonce")
    r = x.c.post_as_get(x.c.kid, nonce=r.headers["Replay-Nonce"])
    tap.is_(r.status_code, 200, "the badNonce response's Replay-Nonce is accepted")

    # Request bytes are never echoed into details.
    marker = "MARKER<script>"
    r = x.c.post_as_get(x.c.kid, kid="https://example.org/" + marker)
    tap.ok(marker not in r.text, "request bytes are not echoed in the problem")

    # The directory has no Link index; newNonce answers HEAD 200 and GET 204, never cached.
    r = x.c.session.get(s.directory_url, verify=s.ca_file)
    tap.ok("Link" not in r.headers, "the directory has no Link rel=index")
    tap.ok(len(r.headers.get("Replay-Nonce", "")) == 59, "the directory carries a nonce")
    for method, status in (("HEAD", 200), ("GET", 204)):
        r = x.c.session.request(method, x.url("/acme/new-nonce"), verify=s.ca_file)
        tap.is_(r.status_code, status, "newNonce %s: %d" % (method, status))
        tap.is_(r.headers.get("Cache-Control"), "no-store", "newNonce %s: no-store" % method)
        tap.ok(len(r.headers.get("Replay-Nonce", "")) == 59, "newNonce %s: nonce" % method)
        tap.ok('rel="index"' in r.headers.get("Link", ""), "newNonce %s: Link index" % method)

    # Past nginx, straight to the FastCGI socket: anvil-fcgi's own caps and parsing.
    def direct(body, length=None, name=""):
        params = {"REQUEST_METHOD": "POST", "REQUEST_URI": NA, "CONTENT_TYPE": JOSE,
                  "CONTENT_LENGTH": str(len(body)) if length is None else length}
        status, headers, raw = fcgi_client.request(s.config["fcgi"]["socket"], params, body)
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = {}
        good = (headers.get("content-type") == "application/problem+json" and
                doc.get("type") == ERR + "malformed" and len(headers.get("replay-nonce", "")) == 59)
        tap.ok(good, "direct %s: a malformed problem with a nonce" % name)
        return status
    tap.is_(direct(b"x" * (64 * 1024 + 1), name="body over JWS_MAX"), 413,
            "direct: a body over JWS_MAX is 413")
    tap.is_(direct(b"{}", length="12abc", name="CONTENT_LENGTH not a number"), 400,
            "direct: a CONTENT_LENGTH that is not a number is 400")
    tap.is_(direct(b"{}", length="-1", name="negative CONTENT_LENGTH"), 400,
            "direct: a negative CONTENT_LENGTH is 400")
    tap.is_(direct(b"{}", length="99", name="CONTENT_LENGTH over the body"), 400,
            "direct: a body shorter than CONTENT_LENGTH is 400")
    tap.is_(direct(b"{}", length="99999999999999999999", name="huge CONTENT_LENGTH"), 413,
            "direct: a CONTENT_LENGTH beyond int64 is refused")
    r = x.raw("POST", NA, "x" * (64 * 1024 + 10))
    tap.is_(r.status_code, 413, "through nginx: a body over 64 KiB is 413 (nginx's cap)")
    tap.ok(r.headers.get("Content-Type", "").startswith("application/problem+json"),
           "through nginx: 413 is a problem document")

    # The database down: 503 + Retry-After, never 500; back when it is back.
    n = x.c.nonce()
    s.stop_db()
    r = x.c.post_as_get(x.c.kid, nonce=n)
    check("database down", r, 503, "serverInternal")
    tap.ok(r.headers.get("Retry-After", "").isdigit(), "database down: Retry-After")
    r = x.c.session.get(s.directory_url, verify=s.ca_file)
    tap.is_(r.status_code, 200, "the directory needs no database")
    s.start_db()

    def recovered():
        return x.c.post_as_get(x.c.kid).status_code == 200
    tap.ok(proc.wait_for(recovered, 30, 0.2, "recovery"), "requests succeed once it is back")

    # Workers and master exit normally: any ASan, UBSan or LeakSanitizer report is in the log.
    s.stop_fcgi()
    log = open(os.path.join(s.dir, "run", "anvil-fcgi.log")).read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-fcgi exited without a sanitizer report")


tap.run(main)
