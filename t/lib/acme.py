"""A raw ACME (RFC 8555) client for the tests.

Every JWS is built here, by hand, so tests can also build the wrong ones: another algorithm in
the header than the key's, a different url, no nonce, both jwk and kid, a MAC, a bad signature.

    c = Client(stack.directory_url, stack.ca_file)          # ES256 key generated
    r = c.new_account(contact=["mailto:a@example.org"])     # sets c.kid on 200/201
    r = c.post_as_get(c.kid)
    r = c.post(c.kid, {"contact": []})
    r = c.key_change(generate_key("EdDSA"), "EdDSA")        # on 200 the client uses the new key

post() returns the requests.Response as it came (no retry on badNonce: tests look at it). The
client remembers the Replay-Nonce of the last response and uses it for the next request, and
falls back to a HEAD newNonce when it has none.
"""
import base64
import hashlib
import hmac
import json

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

ALGS = ("ES256", "ES384", "RS256", "EdDSA")
JOSE = "application/jose+json"


# --- encoding ----------------------------------------------------------------------------------

def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":")))


def _int_b64u(n, length=None):
    length = length or (n.bit_length() + 7) // 8
    return b64u(n.to_bytes(length, "big"))


# --- keys --------------------------------------------------------------------------------------

def generate_key(alg="ES256"):
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError("no key type for alg %r" % alg)


def jwk_of(key):
    """The public JWK of a private (or public) key, members as RFC 7638 lists them."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, ec.EllipticCurvePublicKey):
        size = (pub.curve.key_size + 7) // 8
        nums = pub.public_numbers()
        crv = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[pub.curve.name]
        return {"crv": crv, "kty": "EC", "x": _int_b64u(nums.x, size), "y": _int_b64u(nums.y, size)}
    if isinstance(pub, rsa.RSAPublicKey):
        nums = pub.public_numbers()
        return {"e": _int_b64u(nums.e), "kty": "RSA", "n": _int_b64u(nums.n)}
    if isinstance(pub, ed25519.Ed25519PublicKey):
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64u(raw)}
    raise ValueError("unsupported key type")


def thumbprint(jwk):
    """RFC 7638 SHA-256 thumbprint, base64url."""
    members = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
    canon = {k: jwk[k] for k in members[jwk["kty"]]}
    return b64u(hashlib.sha256(json.dumps(canon, sort_keys=True, separators=(",", ":"))
                               .encode()).digest())


def sign(key, alg, data):
    """The JWS signature of data (bytes): ECDSA as fixed-length R||S (RFC 7518 §3.4)."""
    if alg in ("ES256", "ES384"):
        h = hashes.SHA256() if alg == "ES256" else hashes.SHA384()
        der = key.sign(data, ec.ECDSA(h))
        r, s = utils.decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "EdDSA":
        return key.sign(data)
    raise ValueError("cannot sign with alg %r" % alg)


def hmac_sign(key_bytes, alg, data):
    h = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    return hmac.new(key_bytes, data, h).digest()


def encode_payload(payload):
    """None: POST-as-GET (""); dict/list: JSON; str/bytes: as given."""
    if payload is None:
        return ""
    if isinstance(payload, (dict, list, bool, int)):
        return b64u_json(payload)
    return b64u(payload)


def make_jws(protected, payload, key=None, alg=None, hmac_key=None, signature=None):
    """A flattened JWS (dict). protected is used as given; the signature is computed with key
    and alg (or hmac_key), unless signature (bytes) is given."""
    p64 = b64u_json(protected)
    pl64 = encode_payload(payload)
    signing_input = ("%s.%s" % (p64, pl64)).encode()
    if signature is None:
        if hmac_key is not None:
            signature = hmac_sign(hmac_key, alg or protected["alg"], signing_input)
        else:
            signature = sign(key, alg or protected["alg"], signing_input)
    return {"protected": p64, "payload": pl64, "signature": b64u(signature)}


# --- the client --------------------------------------------------------------------------------

class Client:
    def __init__(self, directory_url, ca_file, key=None, alg="ES256"):
        self.directory_url = directory_url
        self.session = requests.Session()
        self.ca_file = ca_file  # passed on every call: REQUESTS_CA_BUNDLE would beat session.verify
        self.alg = alg
        self.key = key if key is not None else generate_key(alg)
        self.kid = None
        self.last_nonce = None
        self._dir = None

    @property
    def jwk(self):
        return jwk_of(self.key)

    def directory(self, refresh=False):
        if self._dir is None or refresh:
            r = self.session.get(self.directory_url, verify=self.ca_file, timeout=10)
            r.raise_for_status()
            self._dir = r.json()
        return self._dir

    def url(self, name):
        return self.directory()[name]

    def _remember(self, r):
        n = r.headers.get("Replay-Nonce")
        if n:
            self.last_nonce = n
        return r

    def nonce(self):
        """A fresh nonce from newNonce (HEAD)."""
        r = self.session.head(self.url("newNonce"), verify=self.ca_file, timeout=10)
        r.raise_for_status()
        return r.headers["Replay-Nonce"]

    def _next_nonce(self):
        n, self.last_nonce = self.last_nonce, None
        return n or self.nonce()

    def build(self, url, payload, kid=None, use_jwk=False, nonce=None, url_override=None,
              alg_override=None, key=None, alg=None, extra_protected=None, signature=None):
        """The JWS post() would send (dict). nonce=False leaves the nonce out; an
        extra_protected value of None removes that member."""
        key = key if key is not None else self.key
        alg = alg or (self.alg if key is self.key else None) or _alg_of(key)
        protected = {"alg": alg_override or alg, "url": url_override or url}
        if nonce is not False:
            protected["nonce"] = nonce or self._next_nonce()
        if use_jwk or (kid is None and self.kid is None):
            protected["jwk"] = jwk_of(key)
        else:
            protected["kid"] = kid or self.kid
        for k, v in (extra_protected or {}).items():
            if v is None:
                protected.pop(k, None)
            else:
                protected[k] = v
        return make_jws(protected, payload, key=key, alg=alg, signature=signature)

    def post(self, url, payload, kid=None, use_jwk=False, nonce=None, url_override=None,
             alg_override=None, key=None, alg=None, extra_protected=None, raw_body=None,
             content_type=JOSE, signature=None):
        """POSTs a JWS (or raw_body, as given) to url and returns the response."""
        if raw_body is None:
            body = json.dumps(self.build(url, payload, kid=kid, use_jwk=use_jwk, nonce=nonce,
                                         url_override=url_override, alg_override=alg_override,
                                         key=key, alg=alg, extra_protected=extra_protected,
                                         signature=signature))
        else:
            body = raw_body
        headers = {"Content-Type": content_type} if content_type else {}
        return self._remember(self.session.post(url, data=body, headers=headers,
                                                verify=self.ca_file, timeout=30))

    def post_as_get(self, url, **kw):
        return self.post(url, None, **kw)

    def eab_binding(self, eab_kid, b64key, alg="HS256", url=None, jwk=None, payload=None,
                    extra_protected=None):
        """The externalAccountBinding member (RFC 8555 §7.3.4) for newAccount."""
        protected = {"alg": alg, "kid": eab_kid, "url": url or self.url("newAccount")}
        protected.update(extra_protected or {})
        return make_jws(protected, payload if payload is not None else (jwk or self.jwk),
                        hmac_key=b64u_decode(b64key), alg=alg)

    def new_account(self, contact=None, tos=True, only_existing=False, eab=None, extra=None,
                    **kw):
        """newAccount with this client's key; eab is (kid, b64key, alg). Sets self.kid from
        Location on 200/201."""
        payload = {}
        if contact is not None:
            payload["contact"] = contact
        if tos is not None:
            payload["termsOfServiceAgreed"] = tos
        if only_existing:
            payload["onlyReturnExisting"] = True
        if eab is not None:
            payload["externalAccountBinding"] = self.eab_binding(*eab)
        payload.update(extra or {})
        r = self.post(self.url("newAccount"), payload, use_jwk=True, **kw)
        if r.status_code in (200, 201) and r.headers.get("Location"):
            self.kid = r.headers["Location"]
        return r

    def key_change(self, new_key, new_alg, account=None, old_jwk=None, inner_url=None,
                   inner_extra=None, inner_payload=None, **kw):
        """keyChange (RFC 8555 §7.3.5) to new_key; on 200 the client uses the new key."""
        url = self.url("keyChange")
        inner_protected = {"alg": new_alg, "jwk": jwk_of(new_key), "url": inner_url or url}
        inner_protected.update(inner_extra or {})
        payload = inner_payload if inner_payload is not None else {
            "account": account or self.kid, "oldKey": old_jwk or self.jwk}
        inner = make_jws(inner_protected, payload, key=new_key, alg=new_alg)
        r = self.post(url, inner, **kw)
        if r.status_code == 200:
            self.key, self.alg = new_key, new_alg
        return r


def _alg_of(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES384" if key.curve.key_size == 384 else "ES256"
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    return "EdDSA"
