#!/usr/bin/python3
"""anvilctl check-freshness (issue 10 item 6): a Nagios check that reads the served files.
Fresh responses and CRLs: exit 0; thresholds as options give WARNING (1) and CRITICAL (2); a
response file replaced by an expired one (validly signed), one with a broken signature, one for
another serial, rows past nextUpdate in the database, a revocation the file does not show after
the bound, a missing CRL shard and a shard the CRL builder left overdue: CRITICAL, naming what;
--no-db checks the files alone; an unknown issuer: UNKNOWN (3)."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import crl as crllib  # noqa: E402
import proc  # noqa: E402
import signer as signerlib  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

VALIDITY = 2 * 86400
BACKDATE = 80000   # lets this test have the signer sign an already expired response


def main():
    proc.alarm(300)
    s = start_or_skip(signer=True, jobs=True, start=False)
    odir = os.path.join(s.dir, "state", "ocsp")
    s.config["ocsp"] = {"dir": odir, "validity_seconds": VALIDITY,
                        "backdate_seconds": BACKDATE}
    s.write_config()
    s.start()
    shards = crllib.conf_issuer(s)["crl_shards"]
    proc.wait_for(lambda: all(crllib.fetch(s, crllib.ISSUER, n) is not None
                              for n in range(shards)), 60, 0.2, "every shard published")
    os.makedirs(os.path.join(odir, crllib.ISSUER), exist_ok=True)
    c = signerlib.Client(s.signer_socket)

    def respond(cert, this_update, next_update, status=0, revoked_at=0):
        st, _, der = c.ocsp(cert["issuer"], cert["serial"], status=status,
                            revoked_at=revoked_at, this_update=this_update,
                            next_update=next_update)
        assert st == 0, "ocsp: %d" % st
        return der

    def publish(cert, der):
        path = os.path.join(odir, cert["issuer"], cert["hex"])
        with open(path + ".tmp", "wb") as f:
            f.write(der)
        os.replace(path + ".tmp", path)

    now = int(time.time())
    certs = []
    fresh = {}
    for i in range(3):
        cert = crllib.sign(s)
        tu = now - 60
        fresh[cert["hex"]] = respond(cert, tu, tu + VALIDITY)
        publish(cert, fresh[cert["hex"]])
        crllib.add_status(s, cert, refresh_at=tu + VALIDITY // 2, this_update=tu,
                          next_update=tu + VALIDITY)
        certs.append(cert)

    def check(*args):
        r = s.anvilctl("check-freshness", *args, check=False)
        return r.returncode, r.stdout

    rc, out = check()
    tap.is_(rc, 0, "fresh responses and CRLs: exit 0") or tap.diag(out)
    tap.ok(out.startswith("FRESHNESS OK - ") and "crl_files=%d" % shards in out and
           "int-ec_ocsp_past_next_update=0" in out, "one Nagios line with perfdata") \
        or tap.diag(out)
    rc, out = check("--no-db")
    tap.is_(rc, 0, "--no-db: the files alone") or tap.diag(out)
    tap.ok("ocsp_files=3 " in out, "--no-db: the 3 response files of the directory sample") \
        or tap.diag(out)

    rc, out = check("--ocsp-warn", "30")
    tap.is_(rc, 1, "responses older than --ocsp-warn: WARNING") or tap.diag(out)
    rc, out = check("--ocsp-warn", "30", "--ocsp-crit", "40")
    tap.is_(rc, 2, "older than --ocsp-crit: CRITICAL") or tap.diag(out)
    proc.wait_for(lambda: int(s.mysql_rows("SELECT MAX(this_update) FROM crl_shards")[0][0])
                  < time.time() - 1, 10, 0.2, "CRLs a second old")
    rc, out = check("--crl-warn", "0")
    tap.is_(rc, 1, "CRL shards older than --crl-warn: WARNING") or tap.diag(out)
    rc, out = check("--crl-warn", "0", "--crl-crit", "0")
    tap.is_(rc, 2, "older than --crl-crit: CRITICAL") or tap.diag(out)

    # A response file replaced with an expired (but validly signed) one.
    victim = certs[0]
    now = int(time.time())
    publish(victim, respond(victim, now - BACKDATE - 100, now - 50))
    rc, out = check()
    tap.is_(rc, 2, "an expired response file: CRITICAL") or tap.diag(out)
    tap.ok("response %s: past its nextUpdate" % victim["hex"] in out,
           "the message names the response and why") or tap.diag(out)
    rc, out = check("--no-db")
    tap.is_(rc, 2, "--no-db sees it too (from the file)") or tap.diag(out)
    publish(victim, fresh[victim["hex"]])
    rc, out = check()
    tap.is_(rc, 0, "restored: OK again") or tap.diag(out)

    # A broken signature, and the response of another serial under this name.
    bad = bytearray(fresh[victim["hex"]])
    bad[-1] ^= 0x01
    publish(victim, bytes(bad))
    rc, out = check()
    tap.ok(rc == 2 and "signature does not verify" in out, "a broken signature: CRITICAL") \
        or tap.diag(out)
    publish(victim, fresh[certs[1]["hex"]])
    rc, out = check()
    tap.ok(rc == 2 and "answers for another certificate" in out,
           "another serial's response: CRITICAL") or tap.diag(out)
    publish(victim, fresh[victim["hex"]])
    os.unlink(os.path.join(odir, victim["issuer"], victim["hex"]))
    rc, out = check()
    tap.ok(rc == 2 and "no response file" in out, "a certificate without its file: CRITICAL") \
        or tap.diag(out)
    publish(victim, fresh[victim["hex"]])

    # The database: rows past nextUpdate.
    now = int(time.time())
    s.mysql("UPDATE cert_status SET ocsp_next_update = %d, ocsp_refresh_at = %d WHERE serial "
            "= '%s'" % (now - 10, now - 100, certs[2]["hex"]))
    rc, out = check()
    tap.ok(rc == 2 and "1 responses past their nextUpdate (database)" in out,
           "rows past nextUpdate in the database: CRITICAL") or tap.diag(out)
    s.mysql("UPDATE cert_status SET ocsp_next_update = %d, ocsp_refresh_at = %d WHERE serial "
            "= '%s'" % (now - 60 + VALIDITY, now - 60 + VALIDITY // 2, certs[2]["hex"]))
    # Revoked longer ago than the bound while the file still says good.
    s.mysql("UPDATE cert_status SET status = 'revoked', revoked_at = %d, ocsp_refresh_at = 0 "
            "WHERE serial = '%s'" % (now - 120, certs[2]["hex"]))
    rc, out = check()
    tap.ok(rc == 2 and "says good, revoked" in out,
           "a revocation the response file misses after the bound: CRITICAL") or tap.diag(out)
    s.mysql("UPDATE cert_status SET status = 'good', revoked_at = NULL, ocsp_refresh_at = %d "
            "WHERE serial = '%s'" % (now - 60 + VALIDITY // 2, certs[2]["hex"]))
    rc, out = check()
    tap.is_(rc, 0, "OK again") or tap.diag(out)

    # CRLs: a shard missing, a shard the builder left overdue.
    path = os.path.join(s.dir, "state", "crl", crllib.ISSUER, "1.crl")
    shutil.move(path, path + ".away")
    rc, out = check()
    tap.ok(rc == 2 and "CRL shard 1: not published" in out, "a missing CRL shard: CRITICAL") \
        or tap.diag(out)
    shutil.move(path + ".away", path)
    s.jobs.stop("anvil-jobs")
    s.mysql("UPDATE crl_shards SET due_at = %d WHERE issuer = '%s' AND shard = 2"
            % (int(time.time()) - 120, crllib.ISSUER))
    rc, out = check()
    tap.ok(rc == 2 and "is anvil-jobs running?" in out,
           "a shard overdue longer than the revocation bound: CRITICAL") or tap.diag(out)
    s.jobs.start_runner()
    try:
        proc.wait_for(lambda: check()[0] == 0, 60, 0.5, "the builder caught up")
        tap.ok(True, "anvil-jobs back: OK again")
    except TimeoutError:
        tap.ok(False, "anvil-jobs back: OK again")
        tap.diag(check()[1])
        tap.diag(s.mysql("SELECT * FROM crl_shards"))

    rc, out = check("--issuer", "nope")
    tap.is_(rc, 3, "an unknown issuer: UNKNOWN") or tap.diag(out)
    c.close()


tap.run(main)
