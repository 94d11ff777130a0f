"""Two front-end "hosts" on one database and one signer (t/lib/stack.py's Stack is set A).

A real multi-host deployment puts one acme.base_url behind DNS or a load balancer; every host
answers for the same name. On loopback the two sets listen on the same ports at two addresses,
set A on 127.0.0.1 (the Stack as it is) and set B on 127.0.0.2, and the clients choose where to
connect while the URL, the Host header, SNI and the certificate check stay those of base_url.
So every URL Anvil writes (directory, order, finalize, certificate, the JWS "url") is identical
whichever set answers, as behind a load balancer, and nothing in Anvil knows there are two.
(Giving each set its own base_url would not be two hosts of one CA: an order URL from set A
would name set A.)

    s = Stack(signer=True, jobs={"runner_id": "set-a"}, ...)
    two = TwoSets(s)                        # starts set B: anvil-fcgi, nginx, anvil-jobs
    c = acme.Client(s.directory_url, s.ca_file)
    route = two.route(c.session)            # each request of c to the next set in turn
    route.pin = "b"                          # ... or every request to set B (None: alternate)
    route.sent                               # {"a": n, "b": n}
    two.kill("a")                            # kill -9: nginx, fcgi master and workers, anvil-jobs

Set B has its own config file (a copy of set A's with its own fcgi socket and PID file, jobs
wake socket and runner_id: the nonce key, database, signer socket, issuers, OCSP and CRL
directories are the same), its own anvil-fcgi master, nginx and anvil-jobs. MariaDB,
anvil-signer, anvil-ocsp and the mock DNS are shared (anvil-ocsp stands for the static OCSP
service, which reads files only). anvil-bench does the same with --connect-to.

Both sets reach the one signer as the same uid, so signer.max_connections_per_peer (16 in
t/lib/signer.py's config) must cover both sets' workers and anvil-jobs lanes: past it the
signer answers busy at connect and an order waits in `processing` until a connection frees.
"""
import copy
import json
import os
import signal
import socket

import proc
import stack as stacklib

ADDRS = {"a": "127.0.0.1", "b": "127.0.0.2"}


class FrontSet:
    """One set's daemons: nginx, anvil-fcgi (master and workers), anvil-jobs."""

    def __init__(self, name, addr, config_path, config, nginx, fcgi, jobs_name):
        self.name, self.addr = name, addr
        self.config_path, self.config = config_path, config
        self.nginx, self.fcgi, self.jobs_name = nginx, fcgi, jobs_name
        self.jobs_proc = None

    @property
    def runner_id(self):
        return self.config["jobs"].get("runner_id")

    def pids(self):
        """{"nginx": [...], "fcgi": [...], "jobs": [...]} of the live processes."""
        out = {"nginx": [], "fcgi": [], "jobs": []}
        if self.nginx.proc is not None and self.nginx.proc.alive():
            out["nginx"] = [self.nginx.proc.pid] + stacklib.children_of(self.nginx.proc.pid)
        m = self.fcgi.master_pid()
        if m:
            out["fcgi"] = [m] + self.fcgi.worker_pids()
        if self.jobs_proc is not None and self.jobs_proc.alive():
            out["jobs"] = [self.jobs_proc.pid]
        return out


class TwoSets:
    def __init__(self, s, addr_b=ADDRS["b"], runner_id_b="set-b"):
        if s.jobs is None or s.signer_socket is None:
            raise stacklib.StackUnavailable("TwoSets needs Stack(signer=True, jobs=...)")
        self.s = s
        self.sets = {"a": FrontSet("a", ADDRS["a"], s.config_path, s.config, s.nginx, s.fcgi,
                                   "anvil-jobs")}
        self.sets["a"].jobs_proc = s.jobs.runners.get("anvil-jobs")
        self.sets["b"] = self._start_b(addr_b, runner_id_b)

    def _start_b(self, addr, runner_id):
        s = self.s
        d = os.path.join(s.dir, "set-b")
        for sub in ("run", "nginx"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        cfg = copy.deepcopy(s.config)
        cfg["fcgi"]["socket"] = os.path.join(d, "run", "fcgi.sock")
        cfg["fcgi"]["pid_file"] = os.path.join(d, "run", "anvil-fcgi.pid")
        cfg["jobs"]["wake_socket"] = os.path.join(d, "run", "jobs.wake")
        cfg["jobs"]["runner_id"] = runner_id
        cfg["jobs"].pop("pid_file", None)
        path = os.path.join(d, "anvil.json")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(cfg, f, indent=2)
        fcgi = stacklib.Fcgi(path, cfg, s.runner, os.path.join(d, "run", "anvil-fcgi.log"))
        fcgi.start()
        nginx = stacklib.Nginx(os.path.join(d, "nginx"), s.runner)
        nginx.render(dict(s._nginx_values(),
                          LISTEN="%s:%d" % (addr, s.ports["api"]),
                          HTTP_LISTEN="%s:%d" % (addr, s.ports["http"]),
                          FCGI_SOCKET=cfg["fcgi"]["socket"]))
        nginx.start(s.ports["api"])  # (its own probe reaches set A's address; ours below)

        def listening():
            if not nginx.proc.alive():
                raise RuntimeError("nginx of set B exited:\n" + stacklib._tail(nginx.error_log))
            with socket.create_connection((addr, s.ports["api"]), timeout=0.5):
                return True
        proc.wait_for(listening, 30, 0.05, "nginx of set B on %s:%d" % (addr, s.ports["api"]))
        jobs_name = "anvil-jobs-b"
        jp = s.runner.start(jobs_name, [s.jobs.exe, "-c", path, "-f"], s.jobs.log_path(jobs_name))
        jp.config_path = path
        s.jobs.runners[jobs_name] = jp

        def jobs_ready():
            if not jp.alive():
                raise RuntimeError("anvil-jobs of set B exited:\n" + jp.log_text()[-3000:])
            return os.path.exists(cfg["jobs"]["wake_socket"])
        proc.wait_for(jobs_ready, 20, 0.05, "anvil-jobs of set B")
        b = FrontSet("b", addr, path, cfg, nginx, fcgi, jobs_name)
        b.jobs_proc = jp
        return b

    def route(self, session, addrs=None):
        """Mounts a Router on session for https:// and http:// (every request of the session
        goes to the sets in turn, or to router.pin); returns the router."""
        r = Router({n: st.addr for n, st in self.sets.items()} if addrs is None else addrs)
        session.mount("https://", r)
        session.mount("http://", r)
        return r

    def kill(self, name):
        """kill -9 of a whole set: nginx (master and workers), the anvil-fcgi master and its
        workers, anvil-jobs; each was started in its own session, so one killpg each reaches
        its children. Returns the PIDs killed."""
        st = self.sets[name]
        killed = []
        groups = [p for p in (st.nginx.proc, st.fcgi.proc, st.jobs_proc) if p is not None]
        for p in groups:
            pids = [p.pid] + stacklib.children_of(p.pid)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            killed += pids
        for p in groups:
            p.stop(signal.SIGKILL, timeout=10)   # reaps
        self.s.jobs.runners.pop(st.jobs_name, None)
        st.nginx.proc = st.fcgi.proc = st.jobs_proc = None
        return killed


class Router:
    """A requests transport adapter that connects each request to one address of a set while
    everything above the TCP connection (URL, Host, SNI, certificate name check) stays as the
    URL says: the client side of one host name served by several hosts."""

    def __init__(self, addrs):
        import requests.adapters
        self.addrs = dict(addrs)
        self.order = sorted(self.addrs)
        self.pin = None
        self.next = 0
        self.sent = {n: 0 for n in self.order}
        self.adapters = {n: _adapter_for(a) for n, a in self.addrs.items()}

    def send(self, request, **kw):
        n = self.pin or self.order[self.next % len(self.order)]
        if self.pin is None:
            self.next += 1
        self.sent[n] += 1
        return self.adapters[n].send(request, **kw)

    def close(self):
        for a in self.adapters.values():
            a.close()


def _adapter_for(addr):
    import requests.adapters
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.exceptions import NewConnectionError
    from urllib3.util import connection

    # The socket goes to addr; self.host (what SNI and the certificate check use, and in
    # urllib3 1.26 also what _dns_host feeds) stays the URL's.
    def new_conn(self):
        try:
            return connection.create_connection(
                (addr, self.port), self.timeout, source_address=self.source_address,
                socket_options=self.socket_options)
        except OSError as e:
            raise NewConnectionError(self, "connecting to %s:%d: %s" % (addr, self.port, e))

    class Plain(HTTPConnection):
        _new_conn = new_conn

    class Tls(HTTPSConnection):
        _new_conn = new_conn

    class PlainPool(urllib3.HTTPConnectionPool):
        ConnectionCls = Plain

    class TlsPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = Tls

    class Adapter(requests.adapters.HTTPAdapter):
        def init_poolmanager(self, *a, **kw):
            super().init_poolmanager(*a, **kw)
            self.poolmanager.pool_classes_by_scheme = {"http": PlainPool, "https": TlsPool}

    return Adapter()
