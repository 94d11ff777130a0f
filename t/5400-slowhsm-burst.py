#!/usr/bin/python3
"""A burst of complete issuances at ten times what the HSM signs in a second (seeds 000 and
004): the slow-HSM module (tools/slowhsm) makes every signature take SIGN_US with one signing
unit, so the HSM signs 1e6/SIGN_US signatures per second; a certificate of a non-CT profile
costs two signatures, the certificate and its first OCSP response (anvil-signer's audit log
counts the certificates'). BURST = 10 x that rate orders, each
`ready` (valid authorizations made in SQL), are finalized at once from as many threads, each
with its own connection, with acme.finalize_budget_ms short. Every response, finalize and the
polls after it, is 200 `valid`, 200 `processing` with Retry-After, or 503/429 with Retry-After
(never a 500); each thread polls its order honouring Retry-After, and every order ends `valid`
with a certificate that verifies against the ceremony root. The figures (HSM rate, burst, count
of each status, time to drain) are printed as TAP diagnostics."""
import collections
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
import acme  # noqa: E402
import issuance  # noqa: E402
from issuance import finalize_url, order_url  # noqa: E402

SIGN_US = 50000                      # 50 ms a signature, one unit: 20 signatures/s
HSM_RATE = 1000000 // SIGN_US
BURST = 10 * HSM_RATE                # 200 issuances at once
BUDGET_MS = 100                      # acme.finalize_budget_ms: two signatures
WORKERS = 6                          # more finalizes in flight than the budget can sign
DRAIN_LIMIT = 75                     # seconds every thread may poll before giving up
PROFILE = {"issuer": "int-ec", "validity_days": 90, "ct": False}


def ready_orders(s, acct, n):
    """n orders for acct, each ready with one valid authorization, in one SQL batch; returns
    [(order id, name)]."""
    now = int(time.time())
    stmts = []
    names = ["burst%d.example.test" % i for i in range(n)]
    for name in names:
        ids = json.dumps([{"type": "dns", "value": name}], separators=(",", ":"))
        stmts += ["INSERT INTO orders (account_id, status, expires, identifiers, profile, created)"
                  " VALUES (%d, 'ready', %d, '%s', 'burst', %d)" % (acct, now + 3600, ids, now),
                  "SET @o = LAST_INSERT_ID()",
                  "INSERT INTO authorizations (account_id, identifier_type, identifier_value, "
                  "wildcard, status, expires, profile, created) VALUES (%d, 'dns', '%s', 0, "
                  "'valid', %d, 'burst', %d)" % (acct, name, now + 3600, now),
                  "INSERT INTO order_authorizations (order_id, authz_id) VALUES "
                  "(@o, LAST_INSERT_ID())",
                  "SELECT @o"]
    out = s.mysql(";\n".join(stmts) + ";")
    oids = [int(x) for x in out.split()]
    assert len(oids) == n, out
    return list(zip(oids, names))


def retry_after(r):
    v = r.headers.get("Retry-After", "")
    return float(v) if v.isdigit() else None


class Issuer(threading.Thread):
    """One client: finalizes its order when the barrier opens, then polls it until valid."""

    def __init__(self, s, proto, oid, name, barrier):
        super().__init__(daemon=True)
        self.s, self.oid, self.name, self.barrier = s, oid, name, barrier
        self.c = acme.Client(s.directory_url, s.ca_file, key=proto.key)
        self.c.kid, self.c._dir = proto.kid, proto._dir
        self.csr = acme.make_csr([name])[1]
        self.responses = []      # (what, status code, order status or problem type, Retry-After)
        self.bad = []            # responses outside the allowed set
        self.final = None
        self.done_at = None
        self.cert_url = None
        self.error = None

    def note(self, what, r):
        ra = retry_after(r)
        try:
            body = r.json() if r.content else {}
        except ValueError:
            body = {"raw": r.text[:200]}
        st = body.get("status") if r.status_code == 200 else body.get("type", body.get("raw"))
        self.responses.append((what, r.status_code, st, ra))
        allowed = ((r.status_code == 200 and st == "valid") or
                   (r.status_code == 200 and st == "processing" and ra is not None) or
                   (r.status_code in (429, 503) and ra is not None) or
                   # (a retried finalize after a 503 whose request did go through is answered
                   # with the order now, never orderNotReady)
                   (what == "poll" and r.status_code == 200 and st == "ready"))
        if not allowed:
            self.bad.append((what, r.status_code, st, ra, r.text[:300]))
        return r.status_code, body, ra

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = repr(e)

    def _run(self):
        self.barrier.wait()
        deadline = time.time() + DRAIN_LIMIT
        what, url = "finalize", finalize_url(self.s, self.oid)
        while time.time() < deadline:
            if what == "finalize":
                r = self.c.finalize(url, self.csr)
            else:
                r = self.c.post_as_get(order_url(self.s, self.oid))
            code, body, ra = self.note(what, r)
            st = body.get("status") if code == 200 else None
            if st == "valid":
                self.final, self.done_at = "valid", time.time()
                self.cert_url = body.get("certificate")
                return
            if code == 200 and st == "ready":
                what = "finalize"          # a 503 kept the finalize from reaching us: again
                continue
            if code not in (200, 429, 503) and what != "finalize":
                self.final = "%d %s" % (code, body)
                return
            what = "poll"
            time.sleep(max(0.05, min(ra if ra is not None else 1.0, deadline - time.time())))
        self.final = "still polling after %d s" % DRAIN_LIMIT


def main():
    proc.alarm(115)
    slow = issuance.slow_hsm(SIGN_US, 1)
    s = issuance.stack(workers=WORKERS, jobs=True,
                       config={"signer": {"module": slow},
                               "profiles": {"burst": PROFILE},
                               "acme": {"finalize_budget_ms": BUDGET_MS,
                                        "default_profile": "burst"}})
    time.sleep(0.5)
    with open(s.jobs.log_path()) as f:
        if "built without issuance" in f.read():
            tap.skip_all("anvil-jobs is built without issue/ (jobs/Makefile.inc)")
    proto = issuance.account(s)
    proto.directory()
    orders = ready_orders(s, issuance.account_id(proto), BURST)
    signs_before = signer_signs(s)

    barrier = threading.Barrier(BURST + 1)
    threads = [Issuer(s, proto, oid, name, barrier) for oid, name in orders]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.time()
    for th in threads:
        th.join(max(0.1, start + DRAIN_LIMIT + 15 - time.time()))
    drain = max((th.done_at or time.time()) for th in threads) - start

    first = collections.Counter("%d %s" % (th.responses[0][1], th.responses[0][2])
                                for th in threads if th.responses)
    every = collections.Counter("%s %d %s" % (w, c, st) for th in threads
                                for (w, c, st, _) in th.responses)
    made, refused, replayed = (a - b for a, b in zip(signer_signs(s), signs_before))
    tap.diag("HSM: %d us a signature, 1 unit = %d signatures/s; a certificate costs two "
             "signatures (certificate and first OCSP response, non-CT profile)"
             % (SIGN_US, HSM_RATE))
    tap.diag("burst: %d finalizes at once (10x the HSM's rate), finalize_budget_ms %d, "
             "%d workers" % (BURST, BUDGET_MS, WORKERS))
    tap.diag("first answers: %s" % dict(sorted(first.items())))
    tap.diag("every answer: %s" % dict(sorted(every.items())))
    tap.diag("drained (every order seen valid by its client) %.1f s after the burst; HSM "
             "signatures %d (%.1f/s over the drain), signer requests refused past their deadline "
             "%d, replays of an already signed serial %d" % (drain, made, made / drain if drain
                                                            else 0, refused, replayed))

    errors = [(th.oid, th.error) for th in threads if th.error]
    if not tap.is_(errors, [], "no client thread failed"):
        pass
    bad = [(th.oid, b) for th in threads for b in th.bad]
    tap.ok(not any(b[1][1] >= 500 and b[1][1] != 503 for b in bad) and
           not any(c >= 500 and c != 503 for th in threads for (_, c, _, _) in th.responses),
           "zero 500s (or any 5xx other than 503) in %d answers" % sum(every.values()))
    if not tap.is_(bad[:5], [], "every answer is 200 valid, 200 processing + Retry-After, or "
                   "503/429 + Retry-After"):
        tap.diag("%d bad answers" % len(bad))
    finals = collections.Counter(th.final for th in threads)
    tap.is_(dict(finals), {"valid": BURST}, "every order of the burst ends valid")
    rows = s.mysql_rows("SELECT status, COUNT(*) FROM orders WHERE profile = 'burst' "
                        "GROUP BY status")
    tap.is_(rows, [["valid", str(BURST)]], "the database agrees: %d valid orders" % BURST)
    n = s.mysql_rows("SELECT COUNT(*) FROM certificates WHERE profile = 'burst'")
    tap.is_(n, [[str(BURST)]], "one certificate per order")
    tap.is_(made, BURST, "the HSM signed each certificate once (a retry after a deadline "
            "got the signer's replay)")
    jobs = s.mysql_rows("SELECT state, COUNT(*) FROM jobs WHERE kind = 'finalize' "
                        "GROUP BY state")
    tap.ok(all(r[0] == "done" for r in jobs), "no finalize job left undone or failed (%s)"
           % jobs)

    # A sample of the certificates (first, middle, last) verifies and names its order.
    for th in (threads[0], threads[BURST // 2], threads[-1]):
        if th.cert_url is None:
            tap.ok(False, "order %d has a certificate" % th.oid)
            continue
        d = th.c.download(th.cert_url)
        good = d.status_code == 200 and issuance.openssl_verify(s, d.text, "v%d" % th.oid)[0]
        tap.ok(good, "order %d: certificate verifies against the ceremony root" % th.oid)
        if good:
            from cryptography import x509
            cert = x509.load_pem_x509_certificate(issuance.split_pem(d.text)[0].encode())
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName) \
                .value.get_values_for_type(x509.DNSName)
            tap.is_(sans, [th.name], "order %d: SAN %s" % (th.oid, th.name))

    s.jobs.stop()
    with open(s.jobs.log_path()) as f:
        log = f.read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "anvil-jobs exited without a sanitizer report")
    issuance.check_sanitizers(s)


def signer_signs(s):
    """(signatures the HSM made, requests refused past their deadline, replays of a serial
    already signed) from anvil-signer's audit log."""
    made = refused = replayed = 0
    try:
        with open(s.signer_log) as f:
            for ln in f:
                if "event=sign what=cert" not in ln:
                    continue
                if "result=ok" in ln:
                    if "replay=1" in ln:
                        replayed += 1
                    else:
                        made += 1
                elif "code=308" in ln:
                    refused += 1
    except OSError:
        pass
    return made, refused, replayed


tap.run(main)
