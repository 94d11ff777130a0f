#!/usr/bin/python3
"""CRLs (issue 10 item 5) against the real stack, OpenSSL as the relying party: every shard of
every issuer with a crl_url is published at start, served by nginx as application/pkix-crl,
verifies against the issuer (`openssl crl -verify`), names its shard URL in a critical
issuingDistributionPoint and carries AKI, a CRL number and the configured validity; a
revocation (done as the revocation transaction does it) reaches the served CRL with its reason
within the revocation bound, the CRL number grows, `openssl verify -crl_check` then rejects the
certificate; anvil-jobs SIGKILLed right after a revocation still publishes it within the bound
once restarted; entries stay after the certificate expired."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import crl as crllib  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

BOUND = 60   # ocsp.revocation_bound_seconds, the default


def main():
    proc.alarm(400)
    from cryptography import x509
    s = start_or_skip(signer=True, jobs=True)
    tmp = proc.tmpdir()
    iss = crllib.conf_issuer(s)
    shards = iss["crl_shards"]
    tap.ok(shards > 1, "the test issuer is sharded (%d shards)" % shards)

    # 1. Every shard published at start.
    def all_published():
        return all(crllib.fetch(s, crllib.ISSUER, n) is not None for n in range(shards))
    proc.wait_for(all_published, 60, 0.2, "every shard published")
    with open(iss["cert"], "rb") as f:
        ica = x509.load_pem_x509_certificate(f.read())
    ski = ica.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    numbers = {}
    for n in range(shards):
        der = crllib.fetch(s, crllib.ISSUER, n)
        ok, out = crllib.openssl_crl_verify(s, der, tmp)
        tap.ok(ok, "shard %d: openssl crl -verify OK" % n) or tap.diag(out)
        c = crllib.load(der)
        idp = c.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
        tap.ok(idp.critical and [g.value for g in idp.value.full_name] ==
               [crllib.url(s, crllib.ISSUER, n)], "shard %d: IDP names %s" %
               (n, crllib.url(s, crllib.ISSUER, n)))
        aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        tap.is_(aki.key_identifier, ski, "shard %d: AKI is the issuer's key id" % n)
        tap.is_(len(c), 0, "shard %d: complete and empty" % n)
        tap.is_(int((c.next_update - c.last_update).total_seconds()), 7 * 86400,
                "shard %d: nextUpdate = thisUpdate + crl.validity_seconds" % n)
        numbers[n] = crllib.number(c)
        tap.ok(numbers[n] >= int(c.last_update.replace(tzinfo=__import__("datetime").timezone.utc).timestamp()),
               "shard %d: CRL number %d derived from thisUpdate" % (n, numbers[n]))
    rows = s.mysql_rows("SELECT shard, crl_number, due_at - this_update FROM crl_shards "
                        "WHERE issuer = '%s' ORDER BY shard" % crllib.ISSUER)
    tap.is_([int(r[1]) for r in rows], [numbers[n] for n in range(shards)],
            "crl_shards records the published numbers")
    tap.ok(all(int(r[2]) == 6 * 3600 for r in rows),
           "next regeneration due crl.interval_seconds after thisUpdate")
    tap.ok(s.mysql_rows("SELECT COUNT(*) FROM crl_shards WHERE issuer <> '%s'"
                        % crllib.ISSUER)[0][0] == "0",
           "issuers without crl_url get no shard rows")

    # 2. A revocation reaches the served CRL with its reason, within the bound.
    cert = crllib.sign(s)
    crllib.add_status(s, cert)
    other = crllib.sign(s)      # good: must not be listed
    crllib.add_status(s, other)
    crllib.revoke(s, cert, reason=1)
    took, der, c = crllib.wait_listed(s, cert, BOUND)
    tap.ok(took < BOUND, "revocation served in the CRL after %.1f s (bound %d s)" % (took, BOUND))
    e = c.get_revoked_certificate_by_serial_number(int.from_bytes(cert["serial"], "big"))
    reason = e.extensions.get_extension_for_class(x509.CRLReason).value.reason
    tap.is_(reason, x509.ReasonFlags.key_compromise, "reason keyCompromise listed")
    tap.ok(c.get_revoked_certificate_by_serial_number(int.from_bytes(other["serial"], "big"))
           is None, "a good certificate is not listed")
    tap.ok(crllib.number(c) > numbers[cert["shard"]], "CRL number grew (%d > %d)" %
           (crllib.number(c), numbers[cert["shard"]]))
    ok, out = crllib.openssl_crl_verify(s, der, tmp)
    tap.ok(ok, "the new CRL verifies") or tap.diag(out)
    rc, out = crllib.openssl_verify_crl_check(s, cert, der, tmp)
    tap.ok(rc != 0 and "certificate revoked" in out,
           "openssl verify -crl_check: certificate revoked") or tap.diag(out)
    if other["shard"] == cert["shard"]:
        rc, out = crllib.openssl_verify_crl_check(s, other, der, tmp)
        tap.is_(rc, 0, "openssl verify -crl_check: the good one verifies") or tap.diag(out)

    # 3. Two revocations in the same second still get growing numbers.
    last = crllib.number(c)
    c2 = crllib.sign(s)
    while c2["shard"] != cert["shard"]:
        c2 = crllib.sign(s)
    crllib.add_status(s, c2)
    crllib.revoke(s, c2, reason=None)
    _, der2, cc = crllib.wait_listed(s, c2, BOUND)
    tap.ok(crllib.number(cc) > last, "a rebuild right after gets a greater number (%d > %d)"
           % (crllib.number(cc), last))
    e2 = cc.get_revoked_certificate_by_serial_number(int.from_bytes(c2["serial"], "big"))
    tap.ok(len(list(e2.extensions)) == 0, "no reason given: no reason extension")
    tap.ok(cc.get_revoked_certificate_by_serial_number(int.from_bytes(cert["serial"], "big"))
           is not None, "the earlier revocation stays listed")

    # 4. anvil-jobs killed with SIGKILL right after a revocation: published after the restart,
    # still within the bound (counted from the revocation).
    c3 = crllib.sign(s)
    crllib.add_status(s, c3)
    t_rev = time.time()
    crllib.revoke(s, c3, reason=4)
    s.jobs.kill("anvil-jobs")
    s.jobs.start_runner()
    crllib.wait_listed(s, c3, BOUND)
    took = time.time() - t_rev
    tap.ok(took < BOUND, "after SIGKILL and restart: listed %.1f s after the revocation" % took)

    # 5. Killed in the middle of builds (a shard leased, the lease left behind): the next
    # runner takes the shard over once the lease ends, still within the bound.
    c4 = crllib.sign(s)
    crllib.add_status(s, c4)
    s.jobs.stop("anvil-jobs")
    t_rev = time.time()
    crllib.revoke(s, c4, reason=1, wake=False)
    # A dead runner's lease on the shard, as if it had claimed it and died.
    s.mysql("UPDATE crl_shards SET lease_owner = 'dead:1', lease_until = %d, due_at = %d "
            "WHERE issuer = '%s' AND shard = %d" % (int(t_rev) + 15, int(t_rev) + 15,
                                                   c4["issuer"], c4["shard"]))
    s.jobs.start_runner()
    crllib.wait_listed(s, c4, BOUND)
    took = time.time() - t_rev
    tap.ok(took < BOUND, "a shard leased by a dead runner: listed %.1f s after the revocation"
           % took)

    # 6. An expired revoked certificate stays listed while its row remains (the expiry sweep
    # removes it only after a CRL newer than its notAfter).
    s.mysql("UPDATE cert_status SET not_after = %d WHERE serial = '%s'"
            % (int(time.time()) - 10, cert["hex"]))
    s.mysql("UPDATE crl_shards SET due_at = 0 WHERE issuer = '%s' AND shard = %d"
            % (cert["issuer"], cert["shard"]))
    n0 = crllib.number(crllib.load(crllib.fetch(s, cert["issuer"], cert["shard"])))
    s.jobs.wake()

    def rebuilt():
        c = crllib.load(crllib.fetch(s, cert["issuer"], cert["shard"]))
        return c if crllib.number(c) > n0 else None
    c = proc.wait_for(rebuilt, BOUND, 0.1, "rebuilt CRL")
    tap.ok(c.get_revoked_certificate_by_serial_number(int.from_bytes(cert["serial"], "big"))
           is not None, "an expired revoked certificate stays listed while its row remains")
    log = open(s.jobs.log_path()).read()
    tap.ok("ERROR" not in log and "runtime error" not in log, "no error in anvil-jobs' log") \
        or tap.diag(log[-3000:])


tap.run(main)
