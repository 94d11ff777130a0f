#!/usr/bin/python3
"""OCSP publishing (DESIGN.md invariant 5, ocsp/README.md) on the real stack, OpenSSL as the
relying party: a certificate is handed out only with its first response published (good,
verified against the chain, thisUpdate backdated by ocsp.backdate_seconds), its cert_status row
stored with the CRL shard its CRL distribution point names; a response made due is re-signed by
anvil-jobs with a later thisUpdate; an ACME revocation (keyCompromise) is published as revoked
with its reason within ocsp.revocation_bound_seconds and marks its CRL shard due; an expired
certificate's row and file are dropped after the grace period, a revoked one only once its CRL
shard was published after its expiry. A response that cannot be written keeps the order
processing (the finalize job completes it once it can), never a certificate without its
response. A stack whose issuers name an OCSP URL but whose ocsp
section has no dir does not start, naming the key."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
import ocspfiles  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

BOUND = 12          # ocsp.revocation_bound_seconds
BACKDATE = 600
VALIDITY = 4 * 3600
ISSUER = "int-ec"


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def crldp_shard(cert):
    dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    url = dp[0].full_name[0].value
    return int(url.rsplit("/", 1)[1].split(".")[0])


def main():
    proc.alarm(150)
    if not os.access(proc.builddir_path("jobs", "anvil-jobs"), os.X_OK):
        tap.skip_all("anvil-jobs not built")
    s = issuance.stack(jobs={"poll_interval": 2, "max_attempts": 20}, config={
        "acme": {"finalize_budget_ms": 10000},
        "ocsp": {"revocation_bound_seconds": BOUND, "backdate_seconds": BACKDATE,
                 "validity_seconds": VALIDITY, "expired_grace_seconds": 60},
        "profiles": {"ec": {"issuer": ISSUER, "validity_days": 90, "ct": False}}})
    c = issuance.account(s)

    # --- the first response, before the certificate is handed out ---
    t0 = int(time.time())
    cert, _, _, _ = issuance.issue(s, c, ["ocsp.example.com"], profile="ec")
    st = ocspfiles.check(s, cert, ISSUER)
    tap.ok(st["exists"], "the response file exists when finalize answers valid")
    if not tap.is_(st["status"], "good", "openssl ocsp: good"):
        tap.diag(st["text"])
    tap.ok(st["verified"], "openssl ocsp: the response verifies against the chain")
    tap.ok(st["this_update"] is not None and
           t0 - BACKDATE - 2 <= st["this_update"] <= int(time.time()) - BACKDATE + 2,
           "thisUpdate is backdated by ocsp.backdate_seconds")
    tap.is_(st["next_update"] - st["this_update"] if st["next_update"] else None, VALIDITY,
            "nextUpdate - thisUpdate is ocsp.validity_seconds")
    row = ocspfiles.row(s, cert)
    tap.ok(row is not None and row["status"] == "good", "cert_status row stored, good")
    tap.is_(row["shard"], crldp_shard(cert), "its shard is the one in the CRL distribution point")
    tap.is_((row["this_update"], row["next_update"]), (st["this_update"], st["next_update"]),
            "the row records the published thisUpdate and nextUpdate")
    tap.is_(row["refresh_at"], row["this_update"] + VALIDITY // 2,
            "due again half way (ocsp.refresh_percent 50)")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM certificates c LEFT JOIN cert_status s "
                         "ON s.serial = c.serial WHERE s.serial IS NULL"), [["0"]],
            "no certificate without its cert_status row")

    # --- the response cannot be written: the certificate is not handed out ---
    blocker = os.path.join(s.config["ocsp"]["dir"], "int-rsa")
    with open(blocker, "w") as f:
        f.write("not a directory: int-rsa's responses cannot be written\n")
    oid = issuance.ready_order(s, c, ["blocked.example.com"], profile="rsa")
    _, csr = acme.make_csr(["blocked.example.com"])
    r = c.finalize(issuance.finalize_url(s, oid), csr)
    tap.ok(r.status_code == 200 and r.json().get("status") == "processing" and
           "Retry-After" in r.headers,
           "response not writable: finalize answers processing + Retry-After (no 500)")
    tap.is_(s.mysql_rows("SELECT COUNT(*) FROM certificates WHERE order_id = %d" % oid), [["0"]],
            "and no certificate is stored")
    os.unlink(blocker)
    o = c.poll(issuance.order_url(s, oid), timeout=30).json()
    tap.is_(o.get("status"), "valid", "writable again: the finalize job completes the order")
    d = c.download(o["certificate"])
    cert_b = x509.load_pem_x509_certificate(issuance.split_pem(d.text)[0].encode())
    st_b = ocspfiles.check(s, cert_b, "int-rsa")
    tap.ok(st_b["status"] == "good" and st_b["verified"], "with its response published")

    # --- refresh: a response made due is signed again, later ---
    time.sleep(1.1)
    s.mysql("UPDATE cert_status SET ocsp_refresh_at = 1 WHERE serial = '%s'"
            % issuance.serial_hex(cert))
    s.jobs.wake()
    took, st2 = ocspfiles.wait(s, cert, ISSUER, lambda x: x["this_update"] is not None and
                               x["this_update"] > st["this_update"], 2 * BOUND)
    tap.ok(took is not None, "a due response is re-signed by anvil-jobs")
    tap.ok(st2["status"] == "good" and st2["verified"], "the new response: good, verified")
    proc.wait_for(lambda: ocspfiles.row(s, cert)["lease_owner"] == "", 10, 0.1, "lease cleared")
    row2 = ocspfiles.row(s, cert)
    tap.ok(row2["this_update"] == st2["this_update"] and
           row2["refresh_at"] == st2["this_update"] + VALIDITY // 2,
           "the row records it, due again half way, lease cleared")

    # --- ACME revocation: published within the bound ---
    cert_r, key_r, _, _ = issuance.issue(s, c, ["revoked.example.com"], profile="ec")
    t_rev = int(time.time())
    r = c.revoke(der(cert_r), reason=1)
    tap.is_(r.status_code, 200, "revokeCert (keyCompromise): 200")
    rr = ocspfiles.row(s, cert_r)
    # Due at once, or already rebuilt by the CRL builder the revocation woke.
    shard_rows = s.mysql_rows("SELECT due_at, this_update FROM crl_shards WHERE issuer = '%s' "
                              "AND shard = %d" % (ISSUER, rr["shard"]))
    tap.ok(len(shard_rows) == 1 and (shard_rows[0][0] == "0" or
                                     int(shard_rows[0][1]) >= t_rev),
           "its CRL shard is due at once, or rebuilt since (%s)" % shard_rows)
    took, st3 = ocspfiles.wait(s, cert_r, ISSUER, lambda x: x["status"] == "revoked", BOUND)
    if not tap.ok(took is not None, "revoked in OCSP within %d s" % BOUND):
        tap.diag(st3["text"])
    else:
        tap.diag("published %.1f s after the revocation" % took)
    tap.is_(st3["reason"], "keyCompromise", "with its reason")
    tap.ok(st3["verified"], "and verifies")
    tap.is_(ocspfiles.check(s, cert, ISSUER)["status"], "good", "the other certificate: good")

    # --- expiry: dropped after the grace, a revoked one only after a CRL past its expiry ---
    cert_e, _, _, _ = issuance.issue(s, c, ["expired.example.com"], profile="ec")
    cert_x, _, _, _ = issuance.issue(s, c, ["expired-revoked.example.com"], profile="ec")
    tap.is_(c.revoke(der(cert_x), reason=4).status_code, 200, "revoke another (superseded)")
    ocspfiles.wait(s, cert_x, ISSUER, lambda x: x["status"] == "revoked", BOUND)
    old = int(time.time()) - 3600
    sx = ocspfiles.row(s, cert_x)
    s.mysql("UPDATE cert_status SET not_after = %d WHERE serial IN ('%s', '%s')"
            % (old, issuance.serial_hex(cert_e), issuance.serial_hex(cert_x)))
    # No CRL of that shard published after the expiry yet.
    s.mysql("UPDATE crl_shards SET this_update = %d WHERE issuer = '%s' AND shard = %d"
            % (old - 10, ISSUER, sx["shard"]))
    s.jobs.stop()
    s.jobs.start_runner()   # sweeps at start
    proc.wait_for(lambda: ocspfiles.row(s, cert_e) is None, 2 * BOUND, 0.2, "expired row dropped")
    tap.ok(not ocspfiles.check(s, cert_e, ISSUER)["exists"], "expired: row and file removed")
    tap.ok(ocspfiles.row(s, cert_x) is not None and ocspfiles.check(s, cert_x, ISSUER)["exists"],
           "expired but revoked, no CRL since its expiry: kept")
    s.mysql("UPDATE crl_shards SET this_update = %d WHERE issuer = '%s' AND shard = %d"
            % (old + 10, ISSUER, sx["shard"]))
    s.jobs.stop()
    s.jobs.start_runner()
    proc.wait_for(lambda: ocspfiles.row(s, cert_x) is None, 2 * BOUND, 0.2, "revoked row dropped")
    tap.ok(not ocspfiles.check(s, cert_x, ISSUER)["exists"],
           "after a CRL of its shard past its expiry: row and file removed")
    tap.ok(ocspfiles.row(s, cert) is not None and ocspfiles.check(s, cert, ISSUER)["exists"],
           "unexpired certificates keep theirs")

    # --- configuration: an OCSP URL needs ocsp.dir ---
    cfg = dict(s.config)
    del cfg["ocsp"]
    bad = os.path.join(s.dir, "no-ocsp-dir.json")
    import json
    with open(bad, "w") as f:
        json.dump(cfg, f)
    for exe in (("fcgi", "anvil-fcgi"), ("jobs", "anvil-jobs")):
        r = subprocess.run([proc.builddir_path(*exe), "-c", bad, "--check"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        out = r.stdout.decode("utf-8", "replace")
        if not tap.ok(r.returncode != 0 and "ocsp.dir" in out and "ocsp_url" in out,
                      "%s --check: issuers with ocsp_url and no ocsp.dir is an error naming "
                      "the key" % exe[1]):
            tap.diag(out)

    with open(s.jobs.log_path()) as f:
        log = f.read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-jobs: no sanitizer report")
    issuance.check_sanitizers(s)


tap.run(main)
