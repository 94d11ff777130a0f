"""OCSP publishing for the tests (7xxx): the response files under ocsp.dir, read and verified by
OpenSSL as a relying party would.

    st = ocspfiles.check(s, cert, issuer)  # openssl ocsp -respin FILE ...: {"status", "verified",
                                    #  "this_update", "next_update", "reason", "text"}
    row = ocspfiles.row(s, cert)       # the cert_status row as a dict
    ocspfiles.wait(s, cert, issuer, lambda st: st["status"] == "revoked", timeout)
"""
import datetime
import os
import re
import time

import proc
import issuance


def path(s, cert, issuer):
    return os.path.join(s.config["ocsp"]["dir"], issuer, issuance.serial_hex(cert))


def _time(text, label):
    m = re.search(r"%s: (.+)" % label, text)
    if not m:
        return None
    return int(datetime.datetime.strptime(m.group(1).strip(), "%b %d %H:%M:%S %Y GMT")
               .replace(tzinfo=datetime.timezone.utc).timestamp())


def check(s, cert, issuer):
    """The published response of cert (issued by issuer), as `openssl ocsp` reads and verifies
    it against the ceremony root (the issuer signs its own responses)."""
    f = path(s, cert, issuer)
    out = {"status": None, "verified": False, "this_update": None, "next_update": None,
           "reason": None, "text": "", "exists": os.path.exists(f)}
    if not out["exists"]:
        return out
    iss = s.config["issuers"][issuer]["cert"]
    root = s.config["issuers"]["root"]["cert"]
    r = proc.run(["openssl", "ocsp", "-respin", f, "-issuer", iss, "-CAfile", root,
                  "-verify_other", iss, "-serial", "0x" + issuance.serial_hex(cert),
                  "-resp_text"], check=False)
    text = r.stdout.decode("utf-8", "replace")
    out["text"] = text
    out["verified"] = r.returncode == 0 and "Response verify OK" in text
    m = re.search(r"^0x[0-9A-Fa-f]+: (good|revoked|unknown)$", text, re.M)
    out["status"] = m.group(1) if m else None
    out["this_update"] = _time(text, "This Update")
    out["next_update"] = _time(text, "Next Update")
    m = re.search(r"Reason: (\S+)", text)
    out["reason"] = m.group(1) if m else None
    return out


def row(s, cert):
    rows = s.mysql_rows("SELECT status, IFNULL(revoked_reason, -1), ocsp_this_update, "
                        "ocsp_next_update, ocsp_refresh_at, IFNULL(lease_owner, ''), shard, "
                        "issuer FROM cert_status WHERE serial = '%s'" % issuance.serial_hex(cert))
    if not rows:
        return None
    r = rows[0]
    return {"status": r[0], "reason": int(r[1]), "this_update": int(r[2]),
            "next_update": int(r[3]), "refresh_at": int(r[4]), "lease_owner": r[5],
            "shard": int(r[6]), "issuer": r[7]}


def wait(s, cert, issuer, pred, timeout):
    """Polls the published response until pred(check(...)) holds; returns (seconds, state) or
    (None, last state) after timeout."""
    t0 = time.time()
    st = check(s, cert, issuer)
    while not pred(st):
        if time.time() - t0 > timeout:
            return None, st
        time.sleep(0.2)
        st = check(s, cert, issuer)
    return time.time() - t0, st
