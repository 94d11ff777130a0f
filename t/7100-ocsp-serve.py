#!/usr/bin/python3
"""OCSP serving through nginx and anvil-ocsp (issue 10, doc/ocsp.md), OpenSSL as the relying
party: responses the real signer made for certificates issued in this test are published under
ocsp.dir/<issuer>/<serial>; `openssl ocsp` over POST with SHA-1 and SHA-256 CertIDs gets them
and verifies them against the chain; GET (RFC 6960 A.1, any percent-encoding) returns the same
bytes with RFC 5019 caching headers; unknown serial or issuer: unauthorized; garbage, truncated,
oversized: malformedRequest; the responder works with the database stopped, links no database
client and no PKCS#11 code."""
import base64
import datetime
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from email.utils import parsedate_to_datetime

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import issuance  # noqa: E402
import responder  # noqa: E402
import signer as signerlib  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.x509 import ocsp  # noqa: E402

UNAUTHORIZED = bytes.fromhex("30030a0106")
MALFORMED = bytes.fromhex("30030a0101")
VALIDITY = 4 * 86400


def sign_response(s, issuer, serial, status=0, revoked_at=0, reason=0xff):
    """A response from the real signer (op 5), published where the responder looks."""
    now = int(time.time())
    b = serial.to_bytes((serial.bit_length() + 7) // 8, "big")
    st, _, der = signerlib.Client(s.signer_socket).ocsp(
        issuer, b, status=status, revoked_at=revoked_at, reason=reason, this_update=now - 60,
        next_update=now - 60 + VALIDITY)
    assert st == 0, (st, der)
    responder.publish(s, issuer, serial, der)
    return der


def utc_ts(resp, name):
    """A time of an OCSP response as a Unix timestamp (cryptography before 43 has only the
    naive UTC properties). The SingleResponses (one per CertID hash) share their times."""
    resp = next(iter(resp.responses))
    t = getattr(resp, name + "_utc", None)
    if t is None:
        t = getattr(resp, name).replace(tzinfo=datetime.timezone.utc)
    return t.timestamp()


def openssl_ocsp(args):
    r = subprocess.run(["openssl", "ocsp"] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    return r.returncode, r.stdout.decode("utf-8", "replace")


def fetch(url, data=None, headers=None):
    """(status, headers, body) over plain HTTP, with the path exactly as given."""
    import http.client
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    path = url[len("%s://%s" % (u.scheme, u.netloc)):]
    h = dict(headers or {})
    if data is not None:
        h.setdefault("Content-Type", "application/ocsp-request")
    c.request("POST" if data is not None else "GET", path, body=data, headers=h)
    r = c.getresponse()
    body = r.read()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    c.close()
    return out


def main():
    proc.alarm(120)
    s = issuance.stack()
    tap.ok(s.responder.running(), "the stack started anvil-ocsp")
    c = issuance.account(s)
    d = os.path.join(s.dir, "ocsp-test")
    os.makedirs(d, exist_ok=True)

    cert, _, chain, _ = issuance.issue(s, c, ["ocsp.example.com"], profile="rsa")
    issuer = s.config["profiles"]["rsa"]["issuer"]
    blocks = issuance.split_pem(chain)
    leaf, inter = os.path.join(d, "leaf.pem"), os.path.join(d, "int.pem")
    with open(leaf, "w") as f:
        f.write(blocks[0])
    with open(inter, "w") as f:
        f.write(blocks[1])
    root = s.config["issuers"]["root"]["cert"]
    aia = [a.access_location.value for a in
           cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
           if a.access_method == x509.oid.AuthorityInformationAccessOID.OCSP]
    tap.is_(aia, [s.ocsp_url], "the certificate's OCSP URL is the stack's responder")

    # Without a response file (issuance wrote one: take it away): unauthorized, never a guess.
    path = os.path.join(s.config["ocsp"]["dir"], issuer, responder.serial_name(cert.serial_number))
    if os.path.exists(path):
        os.unlink(path)
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf, "-url", s.ocsp_url,
                            "-CAfile", root, "-no_nonce"])
    tap.ok("unauthorized" in out, "no response file yet: unauthorized") or tap.diag(out)

    der = sign_response(s, issuer, cert.serial_number)

    # POST, SHA-1 (OpenSSL's default) and SHA-256 CertIDs.
    for hashopt in ([], ["-sha256"]):
        rc, out = openssl_ocsp(hashopt + ["-issuer", inter, "-cert", leaf, "-url", s.ocsp_url,
                                          "-CAfile", root, "-no_nonce", "-respout",
                                          os.path.join(d, "resp.der")])
        name = "POST %s" % (hashopt[0] if hashopt else "-sha1")
        tap.ok("Response verify OK" in out, "%s: openssl ocsp verifies the response" % name) \
            or tap.diag(out)
        tap.ok(rc == 0 and "%s: good" % leaf in out, "%s: status good" % name) or tap.diag(out)
        with open(os.path.join(d, "resp.der"), "rb") as f:
            tap.ok(f.read() == der, "%s: the published bytes" % name)
    # With a nonce (OpenSSL's default): precomputed responses carry none; OpenSSL warns only.
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf, "-url", s.ocsp_url,
                            "-CAfile", root])
    tap.ok(rc == 0 and "Response verify OK" in out and "good" in out,
           "a request with a nonce gets the precomputed response") or tap.diag(out)

    # GET: the base64 of the request in the path, percent-encoded in several ways.
    for hashopt in ([], ["-sha256"]):
        req = os.path.join(d, "req.der")
        openssl_ocsp(hashopt + ["-issuer", inter, "-cert", leaf, "-no_nonce", "-reqout", req])
        with open(req, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        name = "GET %s" % (hashopt[0] if hashopt else "-sha1")
        variants = {
            "all reserved characters encoded": urllib.parse.quote(b64, safe=""),
            "as is ('/' and '+' raw)": b64,
            "every character encoded": "".join("%%%02X" % ord(ch) for ch in b64),
            "no padding, lowercase escapes": re.sub(
                "%[0-9A-F]{2}", lambda m: m.group(0).lower(),
                urllib.parse.quote(b64.rstrip("="), safe="")),
            "after a doubled slash": "/" + urllib.parse.quote(b64, safe="/"),
        }
        for what, path in variants.items():
            st, h, body = fetch(s.ocsp_url + path)
            if not tap.ok(st == 200 and body == der, "%s, %s: the published bytes" %
                          (name, what)):
                tap.diag("%d %r" % (st, body[:20]))
        st, h, body = fetch(s.ocsp_url + urllib.parse.quote(b64, safe=""))
        now = time.time()
        resp = ocsp.load_der_ocsp_response(body)
        tu, nu = utc_ts(resp, "this_update"), utc_ts(resp, "next_update")
        tap.is_(h.get("content-type"), "application/ocsp-response", "%s: Content-Type" % name)
        tap.is_(parsedate_to_datetime(h["last-modified"]).timestamp(), tu,
                "%s: Last-Modified is thisUpdate" % name)
        tap.is_(parsedate_to_datetime(h["expires"]).timestamp(), nu,
                "%s: Expires is nextUpdate" % name)
        cc = [p.strip() for p in h.get("cache-control", "").split(",")]
        ma = [int(p[8:]) for p in cc if p.startswith("max-age=")]
        tap.ok(len(ma) == 1 and 0 < ma[0] <= nu - now and
               {"public", "no-transform", "must-revalidate"} <= set(cc),
               "%s: Cache-Control max-age bounded by nextUpdate (%s)" % (name, h.get(
                   "cache-control")))
        etag = h.get("etag", "")
        tap.ok(len(etag) > 2 and etag[0] == etag[-1] == '"', "%s: an ETag" % name)
        st2, h2, body2 = fetch(s.ocsp_url + urllib.parse.quote(b64, safe=""),
                               headers={"If-None-Match": etag})
        tap.ok(st2 == 304 and body2 == b"" and h2.get("etag") == etag,
               "%s: If-None-Match with the ETag: 304" % name)

    # A new response (refresh, revocation) replaces the file: the responder serves it at once.
    der2 = sign_response(s, issuer, cert.serial_number, status=1,
                         revoked_at=int(time.time()) - 120, reason=1)
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf, "-url", s.ocsp_url,
                            "-CAfile", root, "-no_nonce"])
    tap.ok("Response verify OK" in out and "revoked" in out and "keyCompromise" in out,
           "a replaced file is served at once (revoked, keyCompromise)") or tap.diag(out)
    with open(os.path.join(d, "req.der"), "rb") as f:
        req_der = f.read()
    st, h, body = fetch(s.ocsp_url, data=req_der)
    tap.ok(body == der2, "POST: the replaced bytes at once")
    # GET answers pass through nginx's one-second micro-cache (and its open_file_cache).
    get_url = s.ocsp_url + urllib.parse.quote(base64.b64encode(req_der).decode(), safe="")
    try:
        proc.wait_for(lambda: fetch(get_url)[2] == der2, 10, 0.1, "the new bytes over GET")
        tap.ok(True, "GET: the replaced bytes within the micro-cache's second")
    except TimeoutError as e:
        tap.ok(False, "GET: the replaced bytes within the micro-cache's second: %s" % e)

    # Unknown serial (a real certificate of ours with no file) and unknown issuer.
    cert2, _, chain2, _ = issuance.issue(s, c, ["nofile.example.com"], profile="rsa")
    leaf2 = os.path.join(d, "leaf2.pem")
    with open(leaf2, "w") as f:
        f.write(issuance.split_pem(chain2)[0])
    path2 = os.path.join(s.config["ocsp"]["dir"], issuer,
                         responder.serial_name(cert2.serial_number))
    if os.path.exists(path2):
        os.unlink(path2)   # issuance published one: a serial without a file is what is tested
    for hashopt in ([], ["-sha256"]):
        rc, out = openssl_ocsp(hashopt + ["-issuer", inter, "-cert", leaf2, "-url", s.ocsp_url,
                                          "-no_nonce"])
        tap.ok("unauthorized (6)" in out, "unknown serial %s: unauthorized" %
               (hashopt or ["-sha1"])[0]) or tap.diag(out)
    # A certificate of another CA: its issuer hashes match no issuer of ours.
    other_ca, other_leaf = os.path.join(d, "other-ca.pem"), os.path.join(d, "other-leaf.pem")
    proc.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", os.path.join(d, "o.key"),
              "-subj", "/CN=other", "-days", "2", "-out", other_ca])
    proc.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", os.path.join(d, "ol.key"),
              "-subj", "/CN=leaf", "-days", "2", "-CA", other_ca, "-CAkey",
              os.path.join(d, "o.key"), "-set_serial", str(cert.serial_number),
              "-out", other_leaf])
    rc, out = openssl_ocsp(["-issuer", other_ca, "-cert", other_leaf, "-url", s.ocsp_url,
                            "-no_nonce"])
    tap.ok("unauthorized (6)" in out, "unknown issuer (same serial as ours): unauthorized") \
        or tap.diag(out)
    # The root is one of our issuers, but responses exist for what intermediates issued.
    rc, out = openssl_ocsp(["-issuer", root, "-cert", inter, "-url", s.ocsp_url, "-no_nonce"])
    tap.ok("unauthorized (6)" in out, "the intermediate, asked of the root: unauthorized")

    # A file that is not a response for its serial: internalError, never the wrong answer.
    path2 = responder.publish(s, issuer, cert2.serial_number, der2)  # cert's response
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf2, "-url", s.ocsp_url, "-no_nonce"])
    tap.ok("internalerror (2)" in out, "a file holding another serial's response: "
           "internalError") or tap.diag(out)
    responder.publish(s, issuer, cert2.serial_number, b"\x30\x03garbage")
    for i in range(2):
        rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf2, "-url", s.ocsp_url,
                                "-no_nonce"])
        tap.ok("internalerror (2)" in out, "a garbage file: internalError (%d)" % i) \
            or tap.diag(out)
    sign_response(s, issuer, cert2.serial_number)
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf2, "-url", s.ocsp_url, "-no_nonce"])
    tap.ok("good" in out, "replaced by a real response: good") or tap.diag(out)
    os.unlink(path2)
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf2, "-url", s.ocsp_url, "-no_nonce"])
    tap.ok("unauthorized (6)" in out, "removed (expired past the grace): unauthorized") \
        or tap.diag(out)
    with open(s.responder.log) as f:
        tap.ok(f.read().count("is not a usable OCSP response") == 2,
               "each bad file logged once")

    # Malformed: garbage, truncated, two CertIDs, oversized, wrong Content-Type, bad GETs.
    with open(os.path.join(d, "req.der"), "rb") as f:
        good = f.read()
    two = os.path.join(d, "two.der")
    openssl_ocsp(["-issuer", inter, "-cert", leaf, "-cert", leaf2, "-no_nonce", "-reqout", two])
    with open(two, "rb") as f:
        two_der = f.read()
    cases = {
        "garbage": b"\x00garbage\xff",
        "empty sequence": b"\x30\x00",
        "truncated": good[:-3],
        "trailing byte": good + b"\x00",
        "two CertIDs": two_der,
        "oversized (8 KiB)": b"\x30\x82\x1f\xfc" + b"\x00" * 0x1ffc,
    }
    for what, body in cases.items():
        st, h, got = fetch(s.ocsp_url, data=body)
        tap.ok(st == 200 and got == MALFORMED and
               h.get("content-type") == "application/ocsp-response",
               "POST %s: malformedRequest" % what) or tap.diag("%d %r" % (st, got[:40]))
    st, h, got = fetch(s.ocsp_url, data=good, headers={"Content-Type": "text/plain"})
    tap.is_((st, got), (200, MALFORMED), "POST with another Content-Type: malformedRequest")
    st, h, got = fetch(s.ocsp_url, data=b"\x30" * 20000)
    tap.ok(st == 413, "POST over nginx's cap for /ocsp/: 413 (%d)" % st)
    b64 = base64.b64encode(good).decode()
    for what, path in {"not base64": "not-base64!", "truncated base64": b64[:-6],
                       "an escaped '!'": "%21" + b64, "empty": "",
                       "base64 of garbage": base64.b64encode(b"\x01\x02\x03").decode()}.items():
        st, h, got = fetch(s.ocsp_url + path)
        tap.is_((st, got), (200, MALFORMED), "GET %s: malformedRequest" % what)

    import http.client
    u = urllib.parse.urlsplit(s.ocsp_url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("PUT", "/ocsp/", body=good)
    r = conn.getresponse()
    tap.ok(r.status == 405 and "POST" in (r.getheader("Allow") or ""), "PUT: 405 with Allow")
    r.read()
    conn.request("HEAD", get_url)
    r = conn.getresponse()
    tap.ok(r.status == 200 and r.getheader("Content-Length") == str(len(der2)) and
           r.getheader("ETag"), "HEAD: the GET's headers")
    conn.close()

    # A worker that dies is replaced; requests keep being answered.
    workers = s.responder.pids()[1:]
    os.kill(workers[0], signal.SIGKILL)
    proc.wait_for(lambda: len(s.responder.pids()) == 2 and workers[0] not in s.responder.pids(),
                  10, 0.05, "a new anvil-ocsp worker")
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf, "-url", s.ocsp_url,
                            "-CAfile", root, "-no_nonce"])
    tap.ok("Response verify OK" in out and "revoked" in out,
           "a killed worker is replaced and OCSP answers") or tap.diag(out)

    # Configuration errors name the key.
    import copy
    import json
    exe = proc.builddir_path(responder.EXE)
    for what, edit, key in (
            ("a missing ocsp.dir", lambda c: c["ocsp"].update(dir="/nonexistent/ocsp"),
             "ocsp.dir"),
            ("an unreadable issuer certificate",
             lambda c: c["issuers"][issuer].update(cert="/nonexistent.pem"),
             "issuers.%s.cert" % issuer),
            ("no ocsp.responder", lambda c: c["ocsp"].pop("responder"), "ocsp.responder")):
        cfg = copy.deepcopy(s.config)
        edit(cfg)
        path = os.path.join(d, "bad.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = subprocess.run([exe, "-c", path, "--check"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        tap.ok(r.returncode == 1 and key in r.stdout, "--check with %s: exit 1 naming %s" %
               (what, key)) or tap.diag(r.stdout)
    r = subprocess.run([exe, "-c", s.config_path, "--check"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    tap.is_(r.returncode, 0, "--check with the stack's configuration: 0")

    # SIGHUP: a bad file is refused (the workers stay), a good one replaces them.
    master = s.responder.proc.pid
    before = s.responder.pids()[1:]
    cfg = copy.deepcopy(s.config)
    cfg["ocsp"]["responder"]["workers"] = "two"
    s.write_config(cfg)
    os.kill(master, signal.SIGHUP)
    proc.wait_for(lambda: "reload refused" in open(s.responder.log).read(), 10, 0.05,
                  "the refused reload")
    tap.is_(s.responder.pids()[1:], before, "SIGHUP with a bad file: the workers stay")
    cfg["ocsp"]["responder"]["workers"] = 2
    s.write_config(cfg)
    os.kill(master, signal.SIGHUP)
    after = proc.wait_for(lambda: (lambda p: p if len(p) == 2 and not set(p) & set(before)
                                   else None)(s.responder.pids()[1:]), 10, 0.05,
                          "two new workers")
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf, "-url", s.ocsp_url,
                            "-CAfile", root, "-no_nonce"])
    tap.ok(len(after) == 2 and "Response verify OK" in out and "revoked" in out,
           "SIGHUP: a new generation of workers answers") or tap.diag(out)

    # No database: the responder never needed it.
    s.stop_db()
    rc, out = openssl_ocsp(["-issuer", inter, "-cert", leaf, "-url", s.ocsp_url,
                            "-CAfile", root, "-no_nonce"])
    tap.ok("Response verify OK" in out and "revoked" in out,
           "MariaDB stopped: OCSP still answers") or tap.diag(out)
    libs = proc.run(["ldd", exe]).stdout.decode()
    syms = proc.run(["nm", exe], check=False).stdout.decode()
    tap.ok("mariadb" not in libs and "mysql" not in libs, "anvil-ocsp links no database client")
    tap.ok(" p11_" not in syms and "C_GetFunctionList" not in syms,
           "anvil-ocsp contains no PKCS#11 code")

    s.responder.stop()
    with open(s.responder.log) as f:
        log = f.read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-ocsp exited without a sanitizer report") or tap.diag(log[-3000:])



tap.run(main)
