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

    # --- orders, authorizations, challenges (RFC 8555 §7.4, §7.5) ---

    def new_order(self, identifiers, profile=None, not_before=None, not_after=None,
                  replaces=None, extra=None, **kw):
        """newOrder. identifiers: strings (an address is an "ip" identifier, anything else
        "dns") or {"type","value"} dicts. Returns the response (Location is the order URL)."""
        payload = {"identifiers": [ident(i) for i in identifiers]}
        if profile is not None:
            payload["profile"] = profile
        if not_before is not None:
            payload["notBefore"] = not_before
        if not_after is not None:
            payload["notAfter"] = not_after
        if replaces is not None:
            payload["replaces"] = replaces
        payload.update(extra or {})
        return self.post(self.url("newOrder"), payload, **kw)

    def new_authz(self, identifier, **kw):
        """newAuthz (RFC 8555 §7.4.1, pre-authorization) for one identifier."""
        return self.post(self.url("newAuthz"), {"identifier": ident(identifier)}, **kw)

    def get_order(self, url, **kw):
        return self.post_as_get(url, **kw)

    def get_authz(self, url, **kw):
        return self.post_as_get(url, **kw)

    def deactivate_authz(self, url, **kw):
        return self.post(url, {"status": "deactivated"}, **kw)

    def respond_challenge(self, url, **kw):
        """Tells the server the challenge is ready to be validated (payload {})."""
        return self.post(url, {}, **kw)

    def key_authorization(self, token):
        """RFC 8555 §8.1: token || '.' || base64url(JWK thumbprint of the account key)."""
        return "%s.%s" % (token, thumbprint(self.jwk))

    def dns01_txt(self, token):
        """RFC 8555 §8.4: the TXT record value for _acme-challenge."""
        return b64u(hashlib.sha256(self.key_authorization(token).encode()).digest())

    def challenge_of(self, authz, typ):
        """The challenge object of type typ in an authorization object (dict), or None."""
        for ch in authz.get("challenges", []):
            if ch.get("type") == typ:
                return ch
        return None

    def poll(self, url, until=("valid", "invalid"), timeout=30, max_sleep=2.0):
        """POST-as-GET url until its status is in until, honouring Retry-After (capped at
        max_sleep). Returns the last response; raises TimeoutError after timeout seconds."""
        import time
        deadline = time.time() + timeout
        while True:
            r = self.post_as_get(url)
            if r.status_code != 200 or r.json().get("status") in until:
                return r
            if time.time() >= deadline:
                raise TimeoutError("%s still %s after %ss" % (url, r.json().get("status"),
                                                              timeout))
            try:
                wait = float(r.headers.get("Retry-After", "1"))
            except ValueError:
                wait = 1.0
            time.sleep(max(0.05, min(wait, max_sleep, deadline - time.time())))


    # --- finalize, download, revocation, renewal information (RFC 8555 §7.4-7.6, RFC 9773) ---

    def finalize(self, order, csr_der, **kw):
        """POSTs {"csr": ...} to the order's finalize URL (order: the order object, a dict, or
        the finalize URL itself)."""
        url = order["finalize"] if isinstance(order, dict) else order
        return self.post(url, {"csr": b64u(csr_der)}, **kw)

    def download(self, cert_url, **kw):
        """The certificate chain, by POST-as-GET."""
        return self.post_as_get(cert_url, **kw)

    def revoke(self, cert_der, reason=None, key=None, **kw):
        """revokeCert: signed by the account (kid), or with key (jwk) when given."""
        payload = {"certificate": b64u(cert_der)}
        if reason is not None:
            payload["reason"] = reason
        if key is not None:
            return self.post(self.url("revokeCert"), payload, use_jwk=True, key=key, **kw)
        return self.post(self.url("revokeCert"), payload, **kw)

    def renewal_info(self, certid):
        """GET renewalInfo/CERTID (no JWS)."""
        return self.session.get(self.url("renewalInfo") + "/" + certid, verify=self.ca_file,
                                timeout=10)


def ident(i):
    """An ACME identifier object from a string ("ip" for an address, else "dns") or a dict."""
    if isinstance(i, dict):
        return i
    import ipaddress
    try:
        ipaddress.ip_address(i)
        return {"type": "ip", "value": i}
    except ValueError:
        return {"type": "dns", "value": i}


CSR_KEY_TYPES = ("ES256", "ES384", "ES521", "RSA2048", "RSA3072", "RSA4096", "RSA1024",
                 "RSA2048-E3", "Ed25519")


def generate_csr_key(key_type="ES256"):
    """A subject key: ES256/ES384/ES521 (P-256/384/521), RSA<bits>, RSA2048-E3 (e = 3),
    Ed25519."""
    if key_type == "ES521":
        return ec.generate_private_key(ec.SECP521R1())
    if key_type in ("ES256", "ES384"):
        return generate_key(key_type)
    if key_type == "RSA2048-E3":
        return rsa.generate_private_key(public_exponent=3, key_size=2048)
    if key_type.startswith("RSA"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[3:]))
    if key_type == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError("no key type %r" % key_type)


def make_csr(names, key_type="ES256", key=None, cn=None, san=True):
    """(key, DER CSR) for names (DNS names and IP address strings, all in the SAN unless
    san=False); cn: the subject commonName (default: none)."""
    import ipaddress
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    key = key if key is not None else generate_csr_key(key_type)
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else []))
    if san:
        gens = []
        for n in names:
            try:
                gens.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                gens.append(x509.DNSName(n))
        b = b.add_extension(x509.SubjectAlternativeName(gens), critical=False)
    algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = b.sign(key, algo)
    return key, csr.public_bytes(serialization.Encoding.DER)


def ari_certid(cert):
    """The RFC 9773 certificate identifier of a cryptography x509.Certificate."""
    from cryptography import x509
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    n = cert.serial_number
    raw = n.to_bytes((n.bit_length() + 8) // 8, "big")  # DER INTEGER content: sign bit clear
    if len(raw) > 1 and raw[0] == 0 and raw[1] < 0x80:
        raw = raw[1:]
    return b64u(aki.key_identifier) + "." + b64u(raw)


def _alg_of(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ES384" if key.curve.key_size == 384 else "ES256"
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    return "EdDSA"
