"""anvil-jobs and its DNS for the stack (t/lib/stack.py: Stack(jobs=True)).

Stack(jobs=True) (or jobs={...}: a dict deep-merged into the generated `jobs` section) also
starts pebble-challtestsrv (Debian `pebble`) as the only DNS server validation asks, and
anvil-jobs with a generated `jobs` section pointing at it. Then:

    s.dns.set_txt("_acme-challenge.example.test", value)   # also add_a, add_aaaa, add_caa, clear_*
    s.jobs.wake()                                           # one datagram to jobs.wake_socket
    r2 = s.jobs.start_runner(name="r2", lease=3)            # another runner, its own config file
    s.jobs.stop()                                           # the main runner (SIGTERM)
    s.jobs.runners                                          # {name: proc}

Names in the mock DNS resolve to 127.0.0.1 (A) unless add_a says otherwise, and have no AAAA
(so http-01 and tls-alpn-01 go to 127.0.0.1 on the configured ports).

Fixtures for validation without the orders API (insert rows straight into the schema):

    acct = s.jobs.account(client)          # the account id of an acme.Client with an account
    ch = s.jobs.challenge(acct, "dns", "a.example.test", "http-01", profile="default")
    s.jobs.queue(ch["id"]); s.jobs.wake()
    row = s.jobs.wait_challenge(ch["id"])  # {"status", "error", "validation_record", ...}
"""
import base64
import copy
import hashlib
import json
import os
import secrets
import signal
import socket
import time

import proc

PEBBLE = "/usr/bin/pebble-challtestsrv"


def _b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# Challenges are their authorization's row (migration 0009): a challenge's id is computed.
CHALL_TYPES = ("http-01", "dns-01", "tls-alpn-01")
TOKEN_COLS = ("token_http01", "token_dns01", "token_tlsalpn01")
CHALL_ID_BASE = 1 << 60


def chall_id(authz, idx):
    return CHALL_ID_BASE + 4 * authz + idx


def chall_split(cid):
    """(authorization id, type index) of a challenge id."""
    return (cid - CHALL_ID_BASE) // 4, (cid - CHALL_ID_BASE) % 4


def _unbatch(v):
    """Undoes the escaping of mariadb --batch output (\\\\, \\n, \\t, \\0)."""
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append({"n": "\n", "t": "\t", "0": "\0"}.get(v[i + 1], v[i + 1]))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


class LeasePeaks:
    """The most leases each runner held at once while the block ran, sampled every 20 ms from
    the jobs table (kind: only jobs of that kind): `with LeasePeaks(s) as p: ...; p.peak`."""

    def __init__(self, stack, kind=None):
        import threading
        self.stack, self.peak = stack, {}
        self.sql = ("SELECT lease_owner, COUNT(*) FROM jobs WHERE state = 'queued' AND "
                    "lease_owner IS NOT NULL%s GROUP BY lease_owner"
                    % (" AND kind = '%s'" % kind if kind else ""))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self.stop.is_set():
            for owner, n in self.stack.mysql_rows(self.sql):
                self.peak[owner] = max(self.peak.get(owner, 0), int(n))
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class ChallTestSrv:
    """pebble-challtestsrv with only its DNS server and management API, on loopback."""

    def __init__(self, dir, runner, ports=None):
        import shutil
        self.exe = shutil.which("pebble-challtestsrv") or PEBBLE
        self.dns_port = (ports or {}).get("dns") or proc.free_port()
        self.mgmt_port = (ports or {}).get("mgmt") or proc.free_port()
        self.log = os.path.join(dir, "run", "pebble-challtestsrv.log")
        self.runner = runner
        self.proc = None

    @property
    def resolver(self):
        return "127.0.0.1:%d" % self.dns_port

    def start(self, timeout=20):
        """Returns False when it was already running (dev/up)."""
        self.proc = self.runner.attach("pebble-challtestsrv", self.exe, self.log)
        if self.proc is not None and self.proc.alive():
            return False
        self.proc = self.runner.start("pebble-challtestsrv", [
            self.exe, "-dns01", self.resolver, "-management", "127.0.0.1:%d" % self.mgmt_port,
            "-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", ""], self.log)
        proc.wait_port(self.mgmt_port, timeout)
        return True

    def stop(self):
        if self.proc is not None:
            self.proc.stop()
        self.proc = None

    def _post(self, path, body):
        import requests
        r = requests.post("http://127.0.0.1:%d%s" % (self.mgmt_port, path),
                          data=json.dumps(body), timeout=5)
        if r.status_code != 200:
            raise RuntimeError("pebble-challtestsrv %s: %d %s" % (path, r.status_code, r.text))

    @staticmethod
    def _fqdn(host):
        return host if host.endswith(".") else host + "."

    def set_txt(self, host, value):
        self._post("/set-txt", {"host": self._fqdn(host), "value": value})

    def clear_txt(self, host):
        self._post("/clear-txt", {"host": self._fqdn(host)})

    def add_a(self, host, addresses):
        self._post("/add-a", {"host": self._fqdn(host), "addresses": list(addresses)})

    def clear_a(self, host):
        self._post("/clear-a", {"host": self._fqdn(host)})

    def add_aaaa(self, host, addresses):
        self._post("/add-aaaa", {"host": self._fqdn(host), "addresses": list(addresses)})

    def clear_aaaa(self, host):
        self._post("/clear-aaaa", {"host": self._fqdn(host)})

    def add_caa(self, host, policies):
        """policies: [(tag, value), ...] e.g. [("issue", "anvil.invalid")]."""
        self._post("/add-caa", {"host": self._fqdn(host),
                                "policies": [{"tag": t, "value": v} for t, v in policies]})

    def clear_caa(self, host):
        self._post("/clear-caa", {"host": self._fqdn(host)})


class Jobs:
    def __init__(self, stack):
        self.s = stack
        self.exe = proc.builddir_path("jobs", "anvil-jobs")
        self.runners = {}

    @property
    def wake_socket(self):
        return self.s.config["jobs"]["wake_socket"]

    def log_path(self, name="anvil-jobs"):
        return os.path.join(self.s.dir, "run", name + ".log")

    def start_runner(self, name="anvil-jobs", **overrides):
        """Starts an anvil-jobs; a runner other than the main one gets its own config file (its
        own wake socket) with overrides merged into its jobs section."""
        import stack as stacklib
        path = self.s.config_path
        if self.s.detached:
            p = self.s.runner.attach(name, self.exe, self.log_path(name))
            if p is not None and p.alive():
                self.runners[name] = p
                return None
        if name != "anvil-jobs" or overrides:
            cfg = copy.deepcopy(self.s.config)
            cfg["jobs"] = stacklib.deep_merge(cfg["jobs"], overrides)
            if name != "anvil-jobs":
                cfg["jobs"]["wake_socket"] = os.path.join(self.s.dir, "run", name + ".wake")
            path = os.path.join(self.s.dir, name + ".json")
            with open(path, "w") as f:
                json.dump(cfg, f, indent=2)
        p = self.s.runner.start(name, [self.exe, "-c", path, "-f"], self.log_path(name))
        p.config_path = path
        self.runners[name] = p
        sock = json.load(open(path))["jobs"].get("wake_socket")

        def ready():
            if not p.alive():
                raise RuntimeError("%s exited:\n%s" % (name, p.log_text()[-3000:]))
            return sock is None or os.path.exists(sock)
        proc.wait_for(ready, 20, 0.05, name)
        return p

    def stop(self, name="anvil-jobs", sig=signal.SIGTERM):
        p = self.runners.pop(name, None)
        if p is not None:
            p.stop(sig)

    def kill(self, name):
        """SIGKILL: a runner dying with leases held."""
        p = self.runners.pop(name, None)
        if p is not None:
            os.kill(p.pid, signal.SIGKILL)
            p.stop()

    def stop_all(self):
        for name in list(self.runners):
            self.stop(name)

    def wake(self, path=None):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.sendto(b"w", path or self.wake_socket)
        except OSError:
            pass
        finally:
            s.close()

    # fixtures

    def account(self, client):
        """The id of the account of client (an acme.Client that has registered)."""
        return int(client.kid.rstrip("/").rsplit("/", 1)[1])

    def challenge(self, account_id, ident_type, ident, type, profile="default", wildcard=False,
                  token=None, status="processing"):
        """Inserts an authorization (pending) and one challenge; returns a dict with id, authz,
        token, thumbprint, keyauth, dns_value."""
        now = int(time.time())
        token = token or _b64u(secrets.token_bytes(16))
        idx = CHALL_TYPES.index(type)
        attempted = "NULL" if status == "pending" else "'%s'" % type
        out = self.s.mysql(
            "INSERT INTO authorizations (account_id, identifier_type, identifier_value, wildcard,"
            " status, expires, profile, created, %s, chall_attempted, chall_status) VALUES "
            "(%d, '%s', '%s', %d, 'pending', %d, '%s', %d, '%s', %s, '%s');"
            " SELECT LAST_INSERT_ID();"
            % (TOKEN_COLS[idx], account_id, ident_type, ident, 1 if wildcard else 0,
               now + 86400, profile, now, token, attempted, status))
        authz = int(out.split()[-1])
        cid = chall_id(authz, idx)
        thumb = self.s.mysql("SELECT thumbprint FROM accounts WHERE id = %d" % account_id).strip()
        keyauth = token + "." + thumb
        return {"id": cid, "authz": authz, "token": token, "thumbprint": thumb,
                "keyauth": keyauth,
                "dns_value": _b64u(hashlib.sha256(keyauth.encode()).digest())}

    def queue(self, ref_id, kind="validate", run_after=None):
        now = int(time.time())
        self.s.mysql("INSERT INTO jobs (kind, ref_id, state, run_after, created) VALUES "
                     "('%s', %d, 'queued', %d, %d)" % (kind, ref_id,
                                                       now if run_after is None else run_after, now))

    def challenge_row(self, cid):
        authz, idx = chall_split(cid)
        rows = self.s.mysql_rows("SELECT IF(chall_attempted <=> '%s', chall_status, 'pending'), "
                                 "chall_error, chall_record, status, chall_validated "
                                 "FROM authorizations WHERE id = %d" % (CHALL_TYPES[idx], authz))
        r = rows[0]

        def js(v):
            return None if v == "NULL" else json.loads(_unbatch(v))
        return {"status": r[0], "error": js(r[1]), "validation_record": js(r[2]),
                "authz_status": r[3], "validated": r[4]}

    def wait_challenge(self, cid, timeout=30):
        def probe():
            r = self.challenge_row(cid)
            return r if r["status"] in ("valid", "invalid") else None
        return proc.wait_for(probe, timeout, 0.05, "challenge %d decided" % cid)

    def job_row(self, ref_id, kind="validate"):
        rows = self.s.mysql_rows("SELECT state, attempts, lease_owner, last_error FROM jobs "
                                 "WHERE kind = '%s' AND ref_id = %d" % (kind, ref_id))
        return rows[0] if rows else None


def _dev_ports(stack):
    """dev/up: the mock DNS keeps its ports across runs (they are in the generated config)."""
    path = os.path.join(stack.dir, "jobs-ports.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    ports = {}
    for name, want in (("dns", 14053), ("mgmt", 14055)):
        import stack as stacklib
        ports[name] = want if stacklib.port_free(want) else proc.free_port()
    with open(path, "w") as f:
        json.dump(ports, f)
    return ports


def prepare(stack, base, opts):
    """Adds the generated jobs section to base (a config dict) and sets stack.dns/stack.jobs.
    opts: True, a dict merged into the section, or "auto" (dev/up: only when anvil-jobs is
    built and pebble-challtestsrv installed; validation may reach any address)."""
    import stack as stacklib
    if opts == "auto":
        if not os.access(proc.builddir_path("jobs", "anvil-jobs"), os.X_OK):
            stack.jobs_note = "anvil-jobs: not built, skipped"
            return base
        import shutil
        if not (shutil.which("pebble-challtestsrv") or os.access(PEBBLE, os.X_OK)):
            stack.jobs_note = "anvil-jobs: pebble-challtestsrv not installed, skipped"
            return base
    stack.dns = ChallTestSrv(stack.dir, stack.runner,
                             _dev_ports(stack) if stack.detached else None)
    stack.jobs = Jobs(stack)
    if stack.detached and "jobs" in base:
        return base   # keep the dev state's section (and any local edits)
    section = {
        "concurrency": 32, "poll_interval": 2, "lease": 10, "retry_backoff": 1,
        "max_attempts": 3,
        "wake_socket": os.path.join(stack.dir, "run", "jobs.wake"),
        "validation": {
            "resolvers": [stack.dns.resolver],
            "dns_timeout_ms": 1000, "dns_tries": 1, "timeout_ms": 10000,
            "connect_timeout_ms": 2000,
            "caa_identities": list(base.get("acme", {}).get("caa_identities", ["anvil.invalid"])),
        },
        # Tests validate against servers on loopback: the default profile may reach it; the
        # "public" profile keeps the public-CA default (no private or loopback targets).
        "policies": {
            "default": {"allow_networks": ["127.0.0.0/8", "::1/128"]},
            "public": {"deny_private": True},
        },
    }
    if isinstance(opts, dict):
        section = stacklib.deep_merge(section, opts)
    if opts == "auto":
        # A development stack validates local clients: names resolve to 127.0.0.1 in the mock
        # DNS, and nothing is off limits.
        section["policies"] = {"default": {"deny_private": False}}
        section["pid_file"] = os.path.join(stack.dir, "run", "anvil-jobs.pid")
    return dict(base, jobs=section)


def prepare_operator(stack, config):
    """dev/up --config FILE: anvil-jobs runs whenever the file has a jobs section; the mock DNS
    only when the file's validation asks it (a resolver on its dev port), as in a copy of the
    generated file. Sets stack.jobs (and stack.dns), or stack.jobs_note saying why not."""
    if "jobs" not in config:
        stack.jobs_note = "anvil-jobs: not started: %s has no jobs section" % stack.config_path
        return
    if not os.access(proc.builddir_path("jobs", "anvil-jobs"), os.X_OK):
        stack.jobs_note = "anvil-jobs: not started: jobs/anvil-jobs is not built"
        return
    stack.jobs = Jobs(stack)
    ports = _dev_ports(stack) if stack.detached else None
    resolvers = config["jobs"].get("validation", {}).get("resolvers", [])
    if ports and "127.0.0.1:%d" % ports["dns"] in resolvers:
        stack.dns = ChallTestSrv(stack.dir, stack.runner, ports)


def start(stack):
    if not os.access(proc.builddir_path("jobs", "anvil-jobs"), os.X_OK):
        import stack as stacklib
        raise stacklib.StackUnavailable("jobs/anvil-jobs is not built")
    if stack.dns is not None:
        if not os.access(stack.dns.exe, os.X_OK):
            import stack as stacklib
            raise stacklib.StackUnavailable(
                "pebble-challtestsrv not found (Debian package pebble)")
        if stack.dns.start():
            stack.started.append("pebble-challtestsrv")
    if stack.jobs.start_runner() is not None:
        stack.started.append("anvil-jobs")


def stop(stack):
    if getattr(stack, "jobs", None) is not None:
        stack.jobs.stop_all()
    if getattr(stack, "dns", None) is not None:
        stack.dns.stop()
