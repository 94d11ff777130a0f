#!/usr/bin/python3
"""The OCSP refresher against crashes (DESIGN.md invariants 3 and 5), with the slow-HSM module
so that a refresh batch takes long enough to be caught in the middle:

- a revocation while a batch that re-signs the same certificate as good is in flight: the good
  response never replaces the revoked one;
- anvil-jobs killed with SIGKILL in the middle of a batch (rows leased, signatures under way)
  that also holds a fresh revocation: after a restart every response is re-signed (nothing
  stale: each file's thisUpdate is the row's, none left leased) and the revocation is
  published within ocsp.revocation_bound_seconds;
- anvil-jobs stopped (SIGSTOP) when a revocation arrives, then killed before it could publish
  it, and restarted: published within the bound of the restart;
- anvil-jobs down at the revocation, started later: the same;
- staged files a killed writer left behind are removed when old;
- two runners share a refresh through their leases (batches of 4)."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import issuance  # noqa: E402
import ocspfiles  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

SIGN_US = 60000     # 60 ms a signature
UNITS = 2           # HSM signing units, and ocsp.concurrency
BOUND = 15          # ocsp.revocation_bound_seconds: lease 5 s, poll 3 s
N = 16              # certificates
ISSUER = "int-ec"


def der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def serials(certs):
    return ", ".join("'%s'" % issuance.serial_hex(c) for c in certs)


def leased(s):
    return int(s.mysql_rows("SELECT COUNT(*) FROM cert_status WHERE lease_owner IS NOT NULL")
               [0][0])


def fresh(s, certs, since):
    """Every certificate's file: verified, thisUpdate after since and equal to its row's,
    not leased. Returns the list of the ones that are not."""
    bad = []
    for c in certs:
        st, row = ocspfiles.check(s, c, ISSUER), ocspfiles.row(s, c)
        if not (st["verified"] and st["this_update"] is not None and
                st["this_update"] > since and row["this_update"] == st["this_update"] and
                row["lease_owner"] == "" and st["next_update"] > time.time()):
            bad.append((issuance.serial_hex(c), st["status"], st["this_update"], row))
    return bad


def make_due(s, certs):
    s.mysql("UPDATE cert_status SET ocsp_refresh_at = 1 WHERE serial IN (%s)" % serials(certs))


def main():
    proc.alarm(200)
    slow = issuance.slow_hsm(SIGN_US, UNITS)
    s = issuance.stack(jobs={"poll_interval": 2}, config={
        "acme": {"finalize_budget_ms": 10000},
        "signer": {"module": slow},
        "ocsp": {"revocation_bound_seconds": BOUND, "backdate_seconds": 600,
                 "concurrency": UNITS},
        "profiles": {"ec": {"issuer": ISSUER, "validity_days": 90, "ct": False}}})
    c = issuance.account(s)
    certs = [issuance.issue(s, c, ["k%d.example.com" % i], profile="ec")[0] for i in range(N)]
    tap.ok(all(ocspfiles.check(s, x, ISSUER)["status"] == "good" for x in certs),
           "%d certificates issued, each with a good response" % N)

    # --- a revocation during a batch that re-signs the same certificate as good ---
    time.sleep(1.1)
    since = int(time.time()) - 600 - 1
    make_due(s, certs)
    s.jobs.wake()
    proc.wait_for(lambda: leased(s) > 0, 10, 0.02, "a batch in flight")
    victim = certs[-1]   # signed last in the batch, long after the revocation
    r = c.revoke(der(victim), reason=1)
    tap.is_(r.status_code, 200, "revoked while a batch re-signs it as good")
    took, st = ocspfiles.wait(s, victim, ISSUER, lambda x: x["status"] == "revoked", BOUND)
    tap.ok(took is not None, "revoked published within %d s" % BOUND)
    proc.wait_for(lambda: leased(s) == 0, BOUND, 0.1, "the batch over")
    time.sleep(1)
    tap.is_(ocspfiles.check(s, victim, ISSUER)["status"], "revoked",
            "the good response of the batch in flight did not replace it")
    tap.is_(fresh(s, certs[:-1], since), [], "the rest of the batch: re-signed, recorded")

    # --- SIGKILL in the middle of a batch that holds a fresh revocation ---
    time.sleep(1.1)
    since = int(time.time()) - 600 - 1
    live = certs[:-1]
    make_due(s, live)
    s.jobs.wake()
    proc.wait_for(lambda: leased(s) > 0, 10, 0.02, "a batch in flight")
    victim2 = live[-1]
    tap.is_(c.revoke(der(victim2), reason=4).status_code, 200, "revoked during the batch")
    s.jobs.kill("anvil-jobs")
    left = leased(s)
    tap.ok(left > 0, "killed with %d rows still leased (in the middle of the batch)" % left)
    # What a writer killed between staging and renaming leaves: removed at start once old.
    staged = os.path.join(s.config["ocsp"]["dir"], ISSUER, ".tmp")
    os.makedirs(staged, exist_ok=True)
    for name, age in (("0badc0de.1.1", 3600), ("0badc0de.1.2", 0)):
        with open(os.path.join(staged, name), "wb") as f:
            f.write(b"x")
        os.utime(os.path.join(staged, name), (time.time() - age, time.time() - age))
    restart = time.time()
    s.jobs.start_runner()
    took, st = ocspfiles.wait(s, victim2, ISSUER, lambda x: x["status"] == "revoked", BOUND)
    if not tap.ok(took is not None, "after the restart the revocation is published within "
                  "%d s" % BOUND):
        tap.diag(st["text"])
    else:
        tap.diag("published %.1f s after the restart" % (time.time() - restart))
    proc.wait_for(lambda: fresh(s, live[:-1], since) == [], 2 * BOUND, 0.2,
                  "every response re-signed")
    tap.is_(fresh(s, live[:-1], since), [], "nothing stale: every response re-signed after "
            "the restart, its row records it, no lease left")
    tap.is_(sorted(os.listdir(staged)), ["0badc0de.1.2"], "a staged file left by a dead writer "
            "is removed at start, a recent one kept")

    # --- stopped at the revocation, killed before publishing it ---
    victim3 = live[0]
    p = s.jobs.runners["anvil-jobs"]
    os.kill(p.pid, signal.SIGSTOP)
    tap.is_(c.revoke(der(victim3), reason=1).status_code, 200, "revoked while anvil-jobs is "
            "stopped")
    time.sleep(0.5)
    tap.is_(ocspfiles.check(s, victim3, ISSUER)["status"], "good", "not yet published")
    s.jobs.kill("anvil-jobs")
    restart = time.time()
    s.jobs.start_runner()
    took, st = ocspfiles.wait(s, victim3, ISSUER, lambda x: x["status"] == "revoked", BOUND)
    tap.ok(took is not None, "published within %d s of the restart" % BOUND)
    tap.is_(st["reason"], "keyCompromise", "with its reason")

    # --- down at the revocation ---
    victim4 = live[1]
    s.jobs.stop()
    tap.is_(c.revoke(der(victim4), reason=1).status_code, 200, "revoked while anvil-jobs is down")
    time.sleep(1)
    s.jobs.start_runner()
    took, st = ocspfiles.wait(s, victim4, ISSUER, lambda x: x["status"] == "revoked", BOUND)
    tap.ok(took is not None, "published within %d s of the start" % BOUND)
    tap.ok(st["verified"], "and verifies")

    # --- two runners share the work through their leases ---
    s.jobs.stop()
    s.config["ocsp"]["batch"] = 4
    s.write_config()
    s.jobs.start_runner()
    s.jobs.start_runner(name="r2")
    time.sleep(1.1)
    since = int(time.time()) - 600 - 1
    rest = [x for x in live if x not in (victim2, victim3, victim4)]
    make_due(s, rest)
    s.jobs.wake()
    s.jobs.wake(os.path.join(s.dir, "run", "r2.wake"))
    owners = set()

    def all_fresh():
        for o, in s.mysql_rows("SELECT DISTINCT lease_owner FROM cert_status WHERE "
                               "lease_owner IS NOT NULL"):
            owners.add(o)
        return fresh(s, rest, since) == []
    proc.wait_for(all_fresh, 2 * BOUND, 0.02, "every response re-signed by the two runners")
    tap.is_(fresh(s, rest, since), [], "%d responses re-signed in batches of 4" % len(rest))
    tap.ok(len(owners) == 2, "both runners held leases on cert_status rows (%d owners)"
           % len(owners))
    s.jobs.stop("r2")

    s.jobs.stop()
    log = ""
    for name in ("anvil-jobs", "r2"):
        with open(s.jobs.log_path(name)) as f:
            log += f.read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-jobs: no sanitizer report")
    issuance.check_sanitizers(s)


tap.run(main)
