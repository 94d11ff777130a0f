#!/usr/bin/python3
"""Two front-end "hosts" on one MariaDB and one anvil-signer (t/lib/twosets.py): set A (nginx on
127.0.0.1, its anvil-fcgi master and workers, its anvil-jobs) and set B (the same on
127.0.0.2, its own config file and sockets), one base_url; the clients pick the address, as
behind DNS or a load balancer.

1. Complete flows (newAccount .. certificate, dns-01) whose requests alternate between the
   sets, each using the Replay-Nonce the other set gave: every certificate verifies against the
   ceremony root, and both sets' nginx logged requests of every flow.
2. A nonce from set A is accepted at set B, and then refused at set A (badNonce): one nonce
   key, one replay table.
3. A burst of finalizes spread over both sets, with the slow-HSM module so that issuance
   outlives the finalize budget (shorter than two signatures) and the sets' anvil-jobs finish
   it; once set A's anvil-jobs holds finalize leases, kill -9 of the whole of set A (nginx,
   fcgi master and workers, anvil-jobs). Every order either set had accepted (finalize answered 200) ends `valid`
   through set B: set A's leases expire (jobs.lease 4 s) and set B's anvil-jobs takes them
   over (attempts >= 2); clients whose request set A never answered retry at set B. No
   assertion on time beyond "within N s"."""
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
import requests  # noqa: E402
from stack import pid_alive  # noqa: E402
from twosets import TwoSets  # noqa: E402

SIGN_US = 40000            # slow HSM: 25 signatures/s on one unit, shared by both sets
BUDGET_MS = 50             # under one certificate's two signatures: anvil-jobs finishes each
BURST = 24
STAGGER = 0.08
FLOWS = 4
DRAIN_LIMIT = 90           # seconds a burst client may poll after the kill
PROFILE = {"issuer": "int-ec", "validity_days": 90, "ct": False}
ERR = "urn:ietf:params:acme:error:"


def flow(s, two, name):
    """One complete flow, requests alternating between the sets; returns (PEM chain or None,
    what went wrong, router)."""
    c = acme.Client(s.directory_url, s.ca_file)
    route = two.route(c.session)
    r = c.new_account(contact=["mailto:two@example.org"])
    if r.status_code != 201:
        return None, "newAccount %d %s" % (r.status_code, r.text), route
    r = c.new_order([name])
    if r.status_code != 201:
        return None, "newOrder %d %s" % (r.status_code, r.text), route
    order_url, order = r.headers["Location"], r.json()
    az = c.get_authz(order["authorizations"][0]).json()
    ch = c.challenge_of(az, "dns-01")
    s.dns.set_txt("_acme-challenge." + name, c.dns01_txt(ch["token"]))
    r = c.respond_challenge(ch["url"])
    if r.status_code != 200:
        return None, "challenge %d %s" % (r.status_code, r.text), route
    r = c.poll(order["authorizations"][0], timeout=30, max_sleep=0.2)
    if r.json().get("status") != "valid":
        return None, "authorization %s" % r.text, route
    r = c.finalize(order["finalize"], acme.make_csr([name])[1])
    if r.status_code != 200:
        return None, "finalize %d %s" % (r.status_code, r.text), route
    r = c.poll(order_url, timeout=30, max_sleep=0.2)
    if r.json().get("status") != "valid":
        return None, "order %s" % r.text, route
    d = c.download(r.json()["certificate"])
    if d.status_code != 200:
        return None, "download %d" % d.status_code, route
    return d.text, None, route


def ready_orders(s, acct, n):
    now = int(time.time())
    stmts = []
    names = ["burst%d.twosets.test" % i for i in range(n)]
    for name in names:
        ids = json.dumps([{"type": "dns", "value": name}], separators=(",", ":"))
        stmts += ["INSERT INTO orders (account_id, status, expires, identifiers, profile, created)"
                  " VALUES (%d, 'ready', %d, '%s', 'two', %d)" % (acct, now + 3600, ids, now),
                  "SET @o = LAST_INSERT_ID()",
                  "INSERT INTO authorizations (account_id, identifier_type, identifier_value, "
                  "wildcard, status, expires, profile, created) VALUES (%d, 'dns', '%s', 0, "
                  "'valid', %d, 'two', %d)" % (acct, name, now + 3600, now),
                  "INSERT INTO order_authorizations (order_id, authz_id) VALUES "
                  "(@o, LAST_INSERT_ID())",
                  "SELECT @o"]
    oids = [int(x) for x in s.mysql(";\n".join(stmts) + ";").split()]
    assert len(oids) == n
    return list(zip(oids, names))


class Finalizer(threading.Thread):
    """One client of the burst: finalizes its order at its set, then polls it there; when
    that set is gone (no TCP connection, or an answer that never came), it goes on at the
    other set, as a client behind a load balancer would."""

    def __init__(self, s, two, proto, oid, name, home, barrier, killed, delay):
        super().__init__(daemon=True)
        self.delay = delay
        self.s, self.oid, self.name, self.barrier, self.killed = s, oid, name, barrier, killed
        self.c = acme.Client(s.directory_url, s.ca_file, key=proto.key)
        self.c.kid, self.c._dir = proto.kid, proto._dir
        self.route = two.route(self.c.session)
        self.route.pin = home
        self.csr = acme.make_csr([name])[1]
        self.accepted_by = None    # the set that answered the finalize with 200
        self.lost_at = []          # sets whose answer never came
        self.lost_finalize_at_a = False
        self.answers = []          # (set, what, status code, order status or problem type)
        self.final = self.cert_url = self.error = None

    def run(self):
        try:
            self._run()
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = repr(e)

    def _send(self, what):
        at = self.route.pin
        try:
            if what == "finalize":
                r = self.c.finalize(issuance.finalize_url(self.s, self.oid), self.csr)
            else:
                r = self.c.post_as_get(issuance.order_url(self.s, self.oid))
        except requests.RequestException:
            self.lost_at.append(at)
            self.lost_finalize_at_a |= what == "finalize" and at == "a"
            self.killed.wait(60)        # a failure before the kill would be a real error
            if at == "a" and self.killed.is_set():
                self.route.pin = "b"
            self.c.last_nonce = None
            return None
        try:
            body = r.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        self.answers.append((at, what, r.status_code,
                             body.get("status") if r.status_code == 200 else body.get("type")))
        if what == "finalize" and r.status_code == 200 and self.accepted_by is None:
            self.accepted_by = at
        return r, body

    def _run(self):
        self.barrier.wait()
        time.sleep(self.delay)
        deadline = time.time() + DRAIN_LIMIT
        what = "finalize"
        while time.time() < deadline:
            got = self._send(what)
            if got is None:
                continue
            r, body = got
            st = body.get("status") if r.status_code == 200 else None
            if st == "valid":
                self.final, self.cert_url = "valid", body.get("certificate")
                return
            if st == "ready" or (what == "finalize" and r.status_code == 503):
                what = "finalize"   # the finalize never got through: again
            elif r.status_code == 200:
                what = "poll"
            elif r.status_code not in (429, 503):
                self.final = "%d %s" % (r.status_code, body)
                return
            ra = r.headers.get("Retry-After", "1")
            time.sleep(min(float(ra) if ra.isdigit() else 1.0, 0.5))
        self.final = "still %s after %d s" % (what, DRAIN_LIMIT)


def bench_check(s, two, port):
    exe = proc.builddir_path("tools", "bench", "anvil-bench")
    if not os.access(exe, os.X_OK):
        tap.skip("tools/bench/anvil-bench is not built")
        return
    hostport = s.base.split("//", 1)[1]

    def new_orders(st):
        with open(st.nginx.access_log) as f:
            return sum(1 for ln in f if "POST /acme/new-order" in ln)
    before = [new_orders(st) for st in two.sets.values()]
    out = os.path.join(s.dir, "bench.json")
    argv = [exe, "--directory", s.directory_url, "--cacert", s.ca_file, "--burst", "4",
            "--http01-port", str(port), "--poll-cap-ms", "50", "--drain-seconds", "30",
            "--timeout", "20", "--json", out]
    for st in two.sets.values():
        argv += ["--connect-to", "%s:%s:%d" % (hostport, st.addr, s.ports["api"])]
    r = proc.run(argv, check=False, timeout=90)
    res = json.load(open(out)) if os.path.exists(out) else {}
    if not tap.ok(r.returncode == 0 and res.get("completed") == 4 and res.get("targets") == 2,
                  "anvil-bench --connect-to (two sets): a burst of 4 flows completes"):
        tap.diag(r.stdout.decode("utf-8", "replace")[-3000:])

    def spread():
        return all(new_orders(st) >= n + 2 for st, n in zip(two.sets.values(), before))
    try:
        proc.wait_for(spread, 10, 0.1, "newOrder at both sets")
        tap.ok(True, "anvil-bench's flows went to both sets (two newOrders each)")
    except TimeoutError as e:
        tap.ok(False, str(e))


def main():
    proc.alarm(280)
    slow = issuance.slow_hsm(SIGN_US, 1)
    port = proc.free_port()
    s = issuance.stack(workers=3,
                       jobs={"runner_id": "set-a", "lease": 4, "finalize_budget_ms": 1000,
                             "poll_interval": 1, "sweep_interval": 2, "retry_backoff": 1,
                             "validation": {"http01_port": port}},
                       # Both sets' workers and runners connect as one uid (doc/scaling.md)
                       config={"signer": {"module": slow, "max_connections_per_peer": 64},
                               "profiles": {"two": PROFILE},
                               "acme": {"default_profile": "two",
                                        "finalize_budget_ms": BUDGET_MS}})
    two = TwoSets(s)
    a, b = two.sets["a"], two.sets["b"]
    tap.ok(a.config["nonce"]["key"] == b.config["nonce"]["key"] and
           a.config_path != b.config_path and
           a.config["fcgi"]["socket"] != b.config["fcgi"]["socket"] and
           a.config["jobs"]["wake_socket"] != b.config["jobs"]["wake_socket"],
           "two config files: own fcgi socket and wake socket, one nonce key")
    pa, pb = a.pids(), b.pids()
    tap.ok(pa["nginx"] and pb["nginx"] and len(pa["fcgi"]) == 4 and len(pb["fcgi"]) == 4 and
           not set(pa["fcgi"]) & set(pb["fcgi"]) and len(pa["jobs"]) == 1 and
           len(pb["jobs"]) == 1 and pa["jobs"] != pb["jobs"],
           "two nginx, two anvil-fcgi masters with three workers each, two anvil-jobs")

    # 1. Complete flows alternating between the sets.
    logs_before = [os.path.getsize(st.nginx.access_log) for st in (a, b)]
    for i in range(FLOWS):
        name = "flow%d.twosets.test" % i
        pem, why, route = flow(s, two, name)
        if not tap.ok(pem is not None, "flow %d: certificate issued (%s requests at set A, %s "
                      "at set B)" % (i, route.sent["a"], route.sent["b"])):
            tap.diag(why)
            continue
        tap.ok(route.sent["a"] >= 4 and route.sent["b"] >= 4,
               "flow %d: its requests went to both sets" % i)
        ok, out = issuance.openssl_verify(s, pem, "flow%d" % i)
        if not tap.ok(ok, "flow %d: the chain verifies against the ceremony root" % i):
            tap.diag(out)
    def logged():  # (nginx flushes its access log buffer within a second)
        return all(os.path.getsize(st.nginx.access_log) > n
                   for st, n in zip((a, b), logs_before))
    try:
        proc.wait_for(logged, 10, 0.1, "both access logs")
        tap.ok(True, "both sets' nginx logged the flows' requests")
    except TimeoutError as e:
        tap.ok(False, str(e))

    # 2. A nonce crosses sets once.
    c = issuance.account(s)
    route = two.route(c.session)
    route.pin = "a"
    nonce = c.nonce()
    route.pin = "b"
    r = c.post_as_get(c.kid, nonce=nonce)
    tap.is_(r.status_code, 200, "a nonce from set A is accepted at set B")
    route.pin = "a"
    r = c.post_as_get(c.kid, nonce=nonce)
    tap.ok(issuance.problem(r, 400, "badNonce"),
           "the same nonce replayed at set A: 400 badNonce")
    route.pin = "b"
    nonce = c.nonce()
    route.pin = "a"
    tap.is_(c.post_as_get(c.kid, nonce=nonce).status_code, 200,
            "a nonce from set B is accepted at set A")

    # anvil-bench spreads its flows over the sets with --connect-to (tools/bench/two-sets).
    bench_check(s, two, port)

    # 3. kill -9 of set A in the middle of a burst of finalizes.
    proto = issuance.account(s)
    proto.directory()
    orders = ready_orders(s, issuance.account_id(proto), BURST)
    barrier = threading.Barrier(BURST + 1)
    killed = threading.Event()
    # The finalizes come over about two seconds (STAGGER apart), so that some reach set A
    # after it died or while it dies; how many did is reported, not asserted.
    threads = [Finalizer(s, two, proto, oid, name, "ab"[i % 2], barrier, killed, i * STAGGER)
               for i, (oid, name) in enumerate(orders)]
    for th in threads:
        th.start()
    barrier.wait()
    t0 = time.time()
    first = min(o for o, _ in orders)

    def a_holds_leases():
        n = s.mysql("SELECT COUNT(*) FROM jobs WHERE kind = 'finalize' AND state = 'queued' "
                    "AND lease_owner = 'set-a' AND ref_id >= %d" % first).strip()
        return int(n) > 0
    proc.wait_for(a_holds_leases, 60, 0.02, "set A's anvil-jobs holding a finalize lease")
    accepted_a = [th.oid for th in threads if th.accepted_by == "a"]
    pids = two.kill("a")
    killed.set()
    t_kill = time.time() - t0
    # The leases the dead runner held, as it left them.
    held = [int(r[0]) for r in s.mysql_rows(
        "SELECT ref_id FROM jobs WHERE kind = 'finalize' AND state = 'queued' AND "
        "lease_owner = 'set-a' AND ref_id >= %d" % first)]
    tap.ok(not any(pid_alive(p) for p in pids),
           "kill -9 of set A: nginx, fcgi master and workers, anvil-jobs (%d processes) gone"
           % len(pids))
    tap.ok(len(held) > 0, "set A's anvil-jobs died holding %d finalize leases" % len(held))
    tap.diag("kill %.1f s into the burst; %d finalizes answered by set A before it"
             % (t_kill, len(accepted_a)))

    for th in threads:
        th.join(max(0.1, t0 + DRAIN_LIMIT + 20 - time.time()))
    errors = [(th.oid, th.error) for th in threads if th.error]
    tap.is_(errors, [], "no client thread failed")
    by = collections.Counter(th.accepted_by for th in threads)
    tap.diag("finalizes accepted: %s; clients with a request set A never answered (they went "
             "on at set B): %d, of which finalizes: %d"
             % (dict(by), sum(1 for th in threads if "a" in th.lost_at),
                sum(1 for th in threads if th.lost_finalize_at_a)))
    tap.ok(by["a"] > 0 and by["b"] > 0, "both sets accepted finalizes")
    not_valid = [(th.oid, th.accepted_by, th.final) for th in threads
                 if th.accepted_by is not None and th.final != "valid"]
    tap.is_(not_valid, [], "every accepted order ends valid (%d accepted by set A, %d by B)"
            % (by["a"], by["b"]))
    tap.is_(sum(1 for th in threads if th.final == "valid"), BURST,
            "every order of the burst ends valid")
    bad = [x for th in threads for x in th.answers if x[2] >= 500 and x[2] != 503]
    tap.is_(bad, [], "no 500 from the surviving set")
    rows = s.mysql_rows("SELECT status, COUNT(*) FROM orders WHERE profile = 'two' AND id >= %d "
                        "GROUP BY status" % first)
    tap.is_(rows, [["valid", str(BURST)]], "the database agrees: %d valid orders" % BURST)
    if held:
        took = s.mysql_rows("SELECT ref_id, state, attempts FROM jobs WHERE kind = 'finalize' "
                            "AND ref_id IN (%s)" % ",".join(map(str, held)))
        tap.ok(all(r[1] == "done" and int(r[2]) >= 2 for r in took),
               "the jobs set A held were taken over by set B's anvil-jobs after their lease "
               "expired and finished (attempts >= 2: %s)" % [r[2] for r in took])
    undone = s.mysql_rows("SELECT ref_id, state FROM jobs WHERE kind = 'finalize' AND "
                          "state <> 'done' AND ref_id >= %d" % first)
    tap.is_(undone, [], "no finalize job left undone")
    n = s.mysql_rows("SELECT COUNT(*) FROM certificates WHERE order_id >= %d" % first)
    tap.is_(n, [[str(BURST)]], "one certificate per order")
    for th in (threads[0], threads[1], threads[-1]):
        th.route.pin = "b"
        d = th.c.download(th.cert_url) if th.cert_url else None
        ok = d is not None and d.status_code == 200 and \
            issuance.openssl_verify(s, d.text, "b%d" % th.oid)[0]
        tap.ok(ok, "order %d (finalized at set %s): certificate verifies" % (th.oid,
                                                                            th.accepted_by))

    two.sets["b"].fcgi.stop()
    with open(two.sets["b"].fcgi.log) as f:
        log = f.read()
    tap.ok("Sanitizer" not in log and "runtime error" not in log,
           "set B's anvil-fcgi exited without a sanitizer report")


tap.run(main)
