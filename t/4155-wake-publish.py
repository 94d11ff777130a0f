#!/usr/bin/python3
"""A challenge's wake-up (lib/wake.h wake_send_job) makes anvil-jobs claim the validation at
once but leaves the OCSP refresher and the CRL publisher to their timers: their due checks are a
statement each, and one per validation was ~1.5 statements per certificate under load. A full
wake-up (a revocation, `anvilctl`, any older sender's datagram) still makes both look at once."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

CRL_DUE = "FROM crl_shards ORDER BY due_at"
OCSP_DUE = "FROM cert_status WHERE ocsp_refresh_at <="
VALIDATIONS = 12


def count(log, what):
    return sum(1 for _, q in log if what in q)


def main():
    proc.alarm(120)
    if not os.access(proc.builddir_path("jobs", "anvil-jobs"), os.X_OK):
        tap.skip_all("anvil-jobs not built")
    web = HTTPTarget()
    # Timers a minute apart: within this test they tick at most once.
    s = start_or_skip(signer=True, jobs={"poll_interval": 60,
                                         "validation": {"http01_port": web.port}},
                      config={"acme": {"validation_wait_ms": 4000, "authz_reuse": 0}})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account")
    # The publishers' first look after start, before counting.
    time.sleep(1.5)

    def validations():
        valid = 0
        for i in range(VALIDATIONS):
            o = c.new_order(["wake%d.example.test" % i])
            url = o.json()["authorizations"][0]
            a = c.get_authz(url).json()
            ch = c.challenge_of(a, "http-01")
            web.challenge(ch["token"], c.key_authorization(ch["token"]).encode())
            c.respond_challenge(ch["url"])
            if c.poll(url, timeout=20).json().get("status") == "valid":
                valid += 1
        return valid

    valid, log = s.general_log(validations)
    tap.is_(valid, VALIDATIONS, "%d validations, each woken by its challenge" % VALIDATIONS)
    crl, ocsp = count(log, CRL_DUE), count(log, OCSP_DUE)
    tap.ok(crl <= 2, "the CRL publisher did not look per validation (%d due checks for %d "
           "wake-ups; one per wake-up before)" % (crl, VALIDATIONS))
    tap.ok(ocsp <= 2, "nor did the OCSP refresher (%d due checks)" % ocsp)

    def full_wake():
        s.jobs.wake()
        deadline = time.time() + 5
        while time.time() < deadline:
            time.sleep(0.2)
            rows = s.mysql("SELECT COUNT(*) FROM mysql.general_log WHERE argument LIKE "
                           "'%%%s%%'" % CRL_DUE, database="mysql").strip()
            if rows not in ("", "0"):
                return True
        return False

    seen, log = s.general_log(full_wake)
    tap.ok(seen and count(log, CRL_DUE) >= 1,
           "a full wake-up (as a revocation sends) makes the CRL publisher look at once")
    tap.ok(count(log, OCSP_DUE) >= 1, "and the OCSP refresher")
    s.stop()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
