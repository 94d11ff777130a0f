"""The whole Anvil stack on loopback: a private MariaDB, migrations, anvil-fcgi, nginx with TLS,
and optionally anvil-signer with a SoftHSM2 token.

Used by the integration tests and, as a module, by dev/up and dev/down (dev/stack.py): there is
one implementation of starting each daemon.

Tests:

    import proc, tap
    from stack import Stack, start_or_skip
    proc.alarm(90)
    s = start_or_skip(workers=2, config={"acme": {"external_account_required": True}})
    r = requests.get(s.directory_url, verify=s.ca_file)

Stack(...) starts everything in a fresh temp dir (removed at exit by proc.py) and returns when
GET directory answers 200. If a needed binary is not built, Stack raises StackUnavailable;
start_or_skip(...) turns that into a TAP skip_all. On a failed test, the daemons' log tails are
printed as TAP diagnostics at exit.

Attributes: base (https://127.0.0.1:PORT), directory_url, ca_file (the TLS root), config_path,
config (dict), dir, http_base (plain-HTTP server for /ocsp/, /crl/, /issuer/ = dir/state/...),
db (MariaDB), nginx_vars, signer_socket, hsm (signer.SoftHSM, with signer=True), ocsp_url and
responder (anvil-ocsp, started with nginx when the config has ocsp.responder: t/lib/responder.py).

Methods: anvilctl(*args, check=True) -> CompletedProcess (text); mysql(sql) -> raw rows text;
mysql_rows(sql) -> [[str]]; mysql_session() -> a held-open session (LOCK TABLES ...);
fcgi_master_pid(); fcgi_worker_pids(); wait_workers(n, exclude); db_waiting_workers() (workers
blocked on a database lock); fcgi_queued() (connections waiting for a worker); stop_fcgi(),
start_fcgi(), restart_fcgi(), reload_fcgi() (SIGHUP); stop_db(), start_db(); restart_nginx(**
template values, e.g. RATE="1r/m", BURST=1); start_signer(), stop_signer(); write_config(dict)
(then reload_fcgi/restart_fcgi); stop(); logs().

Dev (dev/up): Stack(dir=".dev", detached=True, signer="auto") starts the same daemons detached,
each with a PID file under dir/pids/, and keeps state (database, TLS, token, config) across
runs; starting again starts only what is down; Stack.down(dir) stops exactly those PIDs.
"""
import copy
import fcntl
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proc  # noqa: E402
import responder as responderlib  # noqa: E402

DB_NAME = "anvil"
DB_USER = "anvil"


class StackUnavailable(Exception):
    """A binary or tool the stack needs is missing (not built yet, package not installed)."""


def deep_merge(base, over):
    """Returns base with over merged in: dicts recursively, anything else replaced.
    A value of None in over deletes the key."""
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def which(name):
    p = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not p:
        raise StackUnavailable("%s not found (install the Debian package; dev/up does)" % name)
    return p


def binary(rel):
    p = proc.builddir_path(rel)
    if not os.access(p, os.X_OK):
        raise StackUnavailable("%s is not built (make in %s)" % (rel, proc.BUILDDIR))
    return p


def port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# --- processes ---------------------------------------------------------------------------------

def pid_alive(pid):
    """pid exists and is not a zombie (a process that exited may linger as one)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pid_exe_is(pid, exe):
    """True if pid still runs exe (guards a stale PID file against PID reuse). Compares
    /proc/PID/exe, not the command line (nginx and others rewrite their process title)."""
    try:
        real = os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return False
    if real.endswith(" (deleted)"):  # rebuilt since it started
        real = real[:-len(" (deleted)")]
    return os.path.basename(real) == os.path.basename(os.path.realpath(exe))


def children_of(pid):
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(d))
    return sorted(kids)


class Detached:
    """A daemon started for dev/up: its own session, output to a log, PID in pidfile; it outlives
    the starting script and is stopped only through that PID file (same interface as
    proc.Proc: pid, alive(), stop(), log_text())."""

    def __init__(self, pid, exe, log, pidfile):
        self.pid, self.exe, self.log, self.pidfile = pid, exe, log, pidfile

    @classmethod
    def spawn(cls, argv, log, pidfile, env=None):
        with open(log, "ab") as logf:
            p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        d = cls(p.pid, argv[0], log, pidfile)
        d._popen = p  # reaped by us while we live, by init afterwards
        with open(pidfile + ".tmp", "w") as f:
            f.write("%d\n" % p.pid)
        os.replace(pidfile + ".tmp", pidfile)
        return d

    @classmethod
    def attach(cls, exe, log, pidfile):
        """The daemon recorded in pidfile if it still runs exe, else None."""
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return None
        if not pid_alive(pid) or not _pid_exe_is(pid, exe):
            return None
        return cls(pid, exe, log, pidfile)

    def alive(self):
        p = getattr(self, "_popen", None)
        if p is not None:
            return p.poll() is None
        return pid_alive(self.pid) and _pid_exe_is(self.pid, self.exe)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            deadline = time.time() + timeout
            while self.alive() and time.time() < deadline:
                time.sleep(0.05)
            if self.alive():
                try:
                    os.killpg(self.pid, signal.SIGKILL)  # its own session: it and its workers
                except (ProcessLookupError, PermissionError):
                    pass
                while self.alive() and time.time() < deadline + 5:
                    time.sleep(0.05)
        try:
            os.unlink(self.pidfile)
        except FileNotFoundError:
            pass

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class Runner:
    """Starts daemons either owned by proc.py (tests: stopped at exit) or detached (dev)."""

    def __init__(self, detached, pid_dir, env=None):
        self.detached = detached
        self.pid_dir = pid_dir
        self.env = env

    def pidfile(self, name):
        return os.path.join(self.pid_dir, name + ".pid")

    def start(self, name, argv, log):
        if self.detached:
            return Detached.spawn(argv, log, self.pidfile(name), env=self.env)
        return proc.Proc(argv, log, env=self.env)

    def attach(self, name, exe, log):
        if not self.detached:
            return None
        return Detached.attach(exe, log, self.pidfile(name))


def _tail(path, lines=60):
    try:
        with open(path, "rb") as f:
            data = f.read()[-65536:].decode("utf-8", "replace").splitlines()
    except OSError:
        return "(no %s)" % path
    return "\n".join(data[-lines:])


# --- TLS ---------------------------------------------------------------------------------------

def ensure_tls(tls_dir, names=("localhost",), ips=("127.0.0.1", "::1")):
    """A local root and a server certificate for the API, created once in tls_dir.
    Returns (root.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    os.makedirs(tls_dir, exist_ok=True)
    root_pem = os.path.join(tls_dir, "root.pem")
    cert_pem = os.path.join(tls_dir, "server.pem")
    key_pem = os.path.join(tls_dir, "server.key")
    if all(os.path.exists(p) for p in (root_pem, cert_pem, key_pem)):
        return root_pem, cert_pem, key_pem

    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Anvil development"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Anvil local TLS root %s" % secrets.token_hex(4)),
    ])
    root = (x509.CertificateBuilder()
            .subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(root_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                           critical=False)
            .sign(root_key, hashes.SHA256()))

    def write(path, data, mode=0o644):
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(path + ".tmp", path)

    nopass = serialization.NoEncryption()
    write(os.path.join(tls_dir, "root.key"),
          root_key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8, nopass), 0o600)
    write(key_pem, key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8, nopass), 0o600)
    write(cert_pem, leaf.public_bytes(serialization.Encoding.PEM))
    write(root_pem, root.public_bytes(serialization.Encoding.PEM))
    return root_pem, cert_pem, key_pem


# --- MariaDB -----------------------------------------------------------------------------------

def mariadb_version():
    r = proc.run([which("mariadbd"), "--version"])
    return r.stdout.decode().strip()


def mariadb_template(cache_root=None):
    """A freshly installed data directory, made once per MariaDB version (mariadb-install-db
    takes ~1 s; copying the result takes ~50 ms). Safe under parallel tests (flock)."""
    cache_root = cache_root or os.environ.get("ANVIL_CACHE_DIR") or proc.builddir_path("t", "cache")
    key = re.sub(r"[^A-Za-z0-9.]+", "_", mariadb_version())[:80]
    os.makedirs(cache_root, exist_ok=True)
    tdir = os.path.join(cache_root, "mariadb-" + key)
    done = os.path.join(tdir, ".complete")
    if os.path.exists(done):
        return os.path.join(tdir, "data")
    with open(os.path.join(cache_root, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(done):
            shutil.rmtree(tdir, ignore_errors=True)
            os.makedirs(tdir)
            r = proc.run([which("mariadb-install-db"), "--no-defaults",
                          "--datadir=" + os.path.join(tdir, "data"),
                          "--user=" + _user(), "--auth-root-authentication-method=normal",
                          "--skip-test-db", "--skip-name-resolve",
                          "--innodb-log-file-size=8M", "--innodb-buffer-pool-size=16M"],
                         check=False)
            if r.returncode != 0:
                raise RuntimeError("mariadb-install-db failed: %s" % r.stdout.decode("utf-8", "replace"))
            open(done, "w").close()
    return os.path.join(tdir, "data")


def secret(v):
    """A config secret (lib/conf.h): a string, {"file": path} or {"env": name}."""
    if isinstance(v, dict) and "file" in v:
        with open(v["file"]) as f:
            return f.read().rstrip("\n")
    if isinstance(v, dict) and "env" in v:
        return os.environ.get(v["env"], "")
    return v or ""


def _softhsm(dir, signerlib):
    """The SoftHSM2 token in dir/softhsm/ (t/lib/signer.py's SoftHSM), created once, reused
    after (dev/up keeps it across runs)."""
    d = os.path.join(dir, "softhsm")
    pin_file = os.path.join(d, "pin")
    if not os.path.exists(pin_file):
        return signerlib.SoftHSM(dir)
    hsm = signerlib.SoftHSM.__new__(signerlib.SoftHSM)
    hsm.dir, hsm.conf, hsm.label = d, os.path.join(d, "softhsm2.conf"), "anvil"
    hsm.pin_file = pin_file
    with open(pin_file) as f:
        hsm.pin = f.read().strip()
    return hsm


def _user():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


class MariaDB:
    """A private mariadbd: its own data dir, socket and loopback port; root@localhost without a
    password on the socket. Tests trade durability across a host crash for speed (no fsync per
    commit, no doublewrite, a small pool); durable=True (dev/up: the stack people evaluate)
    syncs every commit with the doublewrite buffer on, as production should."""

    def __init__(self, dir, port, runner, socket_path=None, durable=False):
        self.dir = dir
        self.durable = durable
        self.port = port
        self.runner = runner
        self.datadir = os.path.join(dir, "data")
        self.socket = socket_path or os.path.join(dir, "mysql.sock")
        self.log = os.path.join(dir, "mariadb.log")
        self.proc = None
        self.exe = which("mariadbd")
        self.client = which("mariadb")

    def install(self):
        if os.path.isdir(os.path.join(self.datadir, "mysql")):
            return
        os.makedirs(self.dir, exist_ok=True)
        tmp = self.datadir + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(mariadb_template(), tmp, symlinks=True)
        os.replace(tmp, self.datadir)

    def argv(self):
        return [self.exe, "--no-defaults",
                "--datadir=" + self.datadir, "--socket=" + self.socket,
                "--port=%d" % self.port, "--bind-address=127.0.0.1",
                "--pid-file=" + os.path.join(self.dir, "mariadbd.pid"),
                "--log-error=" + self.log, "--tmpdir=" + self.dir,
                "--user=" + _user(), "--lc-messages-dir=/usr/share/mysql",
                "--skip-name-resolve", "--skip-log-bin", "--performance-schema=OFF",
                ] + (
                # Benchmarks measure durable commits (ANVIL_DB_DURABLE=1) on a server sized
                # like a production one (a redo log of 8 MiB forces a checkpoint every few
                # thousand certificates).
                ["--innodb-flush-log-at-trx-commit=1", "--innodb-doublewrite=1",
                 "--innodb-buffer-pool-size=1G", "--innodb-log-file-size=512M"]
                if os.environ.get("ANVIL_DB_DURABLE") == "1" else
                ["--innodb-flush-log-at-trx-commit=1", "--innodb-doublewrite=1",
                 "--innodb-buffer-pool-size=128M", "--innodb-log-file-size=64M"]
                if self.durable else
                ["--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0",
                 "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M"]) + [
                "--skip-innodb-adaptive-hash-index", "--max-connections=300",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_bin",
                "--lock-wait-timeout=60", "--innodb-lock-wait-timeout=50"] + \
            os.environ.get("ANVIL_DB_ARGS", "").split()

    def running(self):
        if self.proc is None:
            self.proc = self.runner.attach("mariadbd", self.exe, self.log)
        return self.proc is not None and self.proc.alive()

    def start(self, timeout=60):
        if self.running():
            return False
        self.install()
        if os.path.dirname(os.path.abspath(self.socket)) == os.path.abspath(self.dir):
            try:
                os.unlink(self.socket)  # ours, left by a killed server
            except FileNotFoundError:
                pass
        self.proc = self.runner.start("mariadbd", self.argv(), os.path.join(self.dir, "mariadbd.out"))

        def ready():
            if not self.proc.alive():
                raise RuntimeError("mariadbd exited:\n" + _tail(self.log))
            return self.query("SELECT 1", check=False).returncode == 0
        try:
            proc.wait_for(ready, timeout, 0.05, "mariadbd")
        except TimeoutError as e:
            raise RuntimeError("%s\n%s" % (e, _tail(self.log)))
        return True

    def stop(self, timeout=30):
        if self.proc is not None:
            self.proc.stop(timeout=timeout)
        self.proc = None

    def client_argv(self, database=None, user="root", extra=()):
        argv = [self.client, "--no-defaults", "--socket=" + self.socket, "--user=" + user,
                "--batch", "--skip-column-names", "--connect-timeout=5"] + list(extra)
        if database:
            argv.append("--database=" + database)
        return argv

    def query(self, sql, database=None, check=True):
        r = subprocess.run(self.client_argv(database) + ["--execute=" + sql],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError("mysql %r failed: %s" % (sql, r.stderr.decode("utf-8", "replace")))
        return r

    def ensure_database(self, name, user, password):
        esc = password.replace("\\", "\\\\").replace("'", "\\'")
        self.query("CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
                   "CREATE USER IF NOT EXISTS '%s'@'localhost' IDENTIFIED BY '%s';"
                   "CREATE USER IF NOT EXISTS '%s'@'127.0.0.1' IDENTIFIED BY '%s';"
                   "GRANT ALL ON `%s`.* TO '%s'@'localhost';"
                   "GRANT ALL ON `%s`.* TO '%s'@'127.0.0.1';"
                   % (name, user, esc, user, esc, name, user, name, user))


class MysqlSession:
    """A long-lived mysql client session (e.g. to hold LOCK TABLES while a request waits)."""

    def __init__(self, db, database):
        self.p = subprocess.Popen(db.client_argv(database, extra=["--unbuffered"]),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.n = 0

    def query(self, sql, timeout=30):
        """Runs sql (one or more statements) and returns its output lines."""
        self.n += 1
        marker = "__anvil_done_%d__" % self.n
        self.p.stdin.write(("%s;\nSELECT '%s';\n" % (sql.rstrip().rstrip(";"), marker)).encode())
        self.p.stdin.flush()
        out = b""
        deadline = time.time() + timeout
        while marker.encode() not in out:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError("mysql session: %r did not finish: %r" % (sql, out))
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("mysql session ended: %r" % out)
                out += chunk
        lines = out.decode("utf-8", "replace").splitlines()
        return [ln for ln in lines if ln != marker]

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --- nginx -------------------------------------------------------------------------------------

def render_nginx(template, out, values):
    """Substitutes every @NAME@ of the template (see its header); an unknown or missing
    placeholder is an error."""
    with open(template) as f:
        text = f.read()
    names = set(re.findall(r"@([A-Z_]+)@", text))
    missing = names - set(values)
    if missing:
        raise ValueError("nginx template: no value for %s" % ", ".join(sorted(missing)))
    for k in names:
        text = text.replace("@%s@" % k, str(values[k]))
    with open(out + ".tmp", "w") as f:
        f.write(text)
    os.replace(out + ".tmp", out)


class Nginx:
    def __init__(self, run_dir, runner):
        self.run_dir = run_dir
        self.runner = runner
        self.conf = os.path.join(run_dir, "nginx.conf")
        self.error_log = os.path.join(run_dir, "error.log")
        self.access_log = os.path.join(run_dir, "access.log")
        self.exe = which("nginx")
        self.proc = None

    def render(self, values):
        os.makedirs(self.run_dir, exist_ok=True)
        for d in ("client_body", "fastcgi", "proxy", "scgi", "uwsgi"):
            os.makedirs(os.path.join(self.run_dir, d), exist_ok=True)
        render_nginx(proc.srcdir_path("nginx", "anvil.conf.in"), self.conf,
                     dict(values, RUN_DIR=self.run_dir))
        r = proc.run([self.exe, "-t", "-q", "-p", self.run_dir + "/", "-c", self.conf,
                      "-e", self.error_log, "-g", "daemon off;"], check=False)
        if r.returncode != 0:
            raise RuntimeError("nginx -t: %s" % r.stdout.decode("utf-8", "replace"))

    def running(self):
        if self.proc is None:
            self.proc = self.runner.attach("nginx", self.exe, self.error_log)
        return self.proc is not None and self.proc.alive()

    def start(self, port, timeout=30):
        if self.running():
            return False
        self.proc = self.runner.start("nginx", [self.exe, "-p", self.run_dir + "/", "-c", self.conf,
                                                "-e", self.error_log, "-g", "daemon off;"],
                                      os.path.join(self.run_dir, "nginx.out"))

        def ready():
            if not self.proc.alive():
                raise RuntimeError("nginx exited:\n" + _tail(self.error_log))
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        proc.wait_for(ready, timeout, 0.05, "nginx on port %d" % port)
        return True

    def stop(self):
        if self.proc is not None:
            self.proc.stop(signal.SIGTERM, timeout=10)  # fast shutdown
        self.proc = None


# --- anvil-fcgi --------------------------------------------------------------------------------

class Fcgi:
    def __init__(self, config_path, config, runner, log):
        self.config_path = config_path
        self.config = config
        self.runner = runner
        self.log = log
        self.exe = binary("fcgi/anvil-fcgi")
        self.proc = None

    @property
    def socket(self):
        return self.config["fcgi"]["socket"]

    def running(self):
        if self.proc is None:
            self.proc = self.runner.attach("anvil-fcgi", self.exe, self.log)
        return self.proc is not None and self.proc.alive()

    def start(self, timeout=30):
        if self.running():
            return False
        self.proc = self.runner.start("anvil-fcgi", [self.exe, "-c", self.config_path, "-f"],
                                      self.log)

        def ready():
            if not self.proc.alive():
                raise RuntimeError("anvil-fcgi exited:\n" + _tail(self.log))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.socket)
                return True
            finally:
                s.close()
        proc.wait_for(ready, timeout, 0.05, "anvil-fcgi socket %s" % self.socket)
        return True

    def stop(self, timeout=20):
        if self.proc is not None:
            self.proc.stop(signal.SIGTERM, timeout=timeout)
        self.proc = None

    def master_pid(self):
        if self.proc is not None and self.proc.alive():
            return self.proc.pid
        return None

    def worker_pids(self):
        pid = self.master_pid()
        return children_of(pid) if pid else []


# --- the stack ---------------------------------------------------------------------------------

DEFAULT_NGINX = {
    "WORKERS": 1,
    "RATE": "10000r/s",
    "BURST": 10000,
    "SERVER_NAME": "_",
    "MONITOR_ALLOW": "allow 127.0.0.1; allow ::1;",
}


class Stack:
    def __init__(self, workers=2, config=None, nginx=None, dir=None, detached=False,
                 config_file=None, ports=None, start=True, signer=False, jobs=False,
                 ct=False):
        """workers: fcgi.workers; config: dict deep-merged into the generated config (a value
        of None deletes that key);
        nginx: template values overriding DEFAULT_NGINX (e.g. {"RATE": "1r/s", "BURST": 1});
        signer: True also starts anvil-signer with a fresh SoftHSM2 token and the key ceremony
        (t/lib/signer.py's signer_config, deep-merged under config), "auto" does so only when
        it is built (dev/up); dir/detached/config_file/ports: for dev/up (a persistent dir,
        daemons outliving us, an operator's config file instead of the generated one, fixed
        ports); jobs: True (or a dict merged into the jobs section) also starts
        pebble-challtestsrv and anvil-jobs (t/lib/jobs.py: s.dns, s.jobs); ct: True also
        starts two RFC 6962 test logs of two operators and adds the ct section and a CT
        profile "ct" to the generated config (t/lib/ctstack.py: s.ct_logs)."""
        self.jobs_mode = jobs
        self.ct_logs, self.ct_procs, self.ct_note = {}, {}, None
        self.jobs = self.dns = self.jobs_note = None
        self.detached = detached
        self.signer_mode = signer
        self.signer_env = self.signer_note = self.signer_proc = self.hsm = None
        self.signer_note_extra = None
        self.dir = os.path.abspath(dir) if dir else proc.tmpdir("anvil-s-")
        os.makedirs(self.dir, exist_ok=True)
        for sub in ("db", "tls", "run", "nginx", "pids", "state/ocsp", "state/crl",
                    "state/issuer"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        self.runner = Runner(detached, os.path.join(self.dir, "pids"))
        self.ports = self._ports(ports)
        self.ca_file, self.cert_file, self.key_file = ensure_tls(os.path.join(self.dir, "tls"))
        self.operator_config = bool(config_file)
        self.http_base = "http://127.0.0.1:%d" % self.ports["http"]
        if config_file:
            self.config_path = os.path.abspath(config_file)
            with open(self.config_path) as f:
                self.config = json.load(f)
            self._ports_from_config()
            if signer:
                self._signer_prepare(self.config)
            if jobs:
                import jobs as jobslib
                jobslib.prepare_operator(self, self.config)
        else:
            self.config_path = os.path.join(self.dir, "anvil.json")
            base = self._load_or_generate(workers)
            if signer:
                base = self._signer_prepare(base)
                base = responderlib.prepare(self, base)
            if jobs:
                import jobs as jobslib
                base = jobslib.prepare(self, base, jobs)
            if ct:
                import ctstack
                base = ctstack.prepare(self, base)
            self.config = deep_merge(base, config)
            self.write_config(self.config)
        self.base = self.config["acme"]["base_url"].rstrip("/")
        self.directory_url = self.base + "/acme/directory"
        self.signer_socket = self.config.get("signer", {}).get("socket")
        self.signer_log = os.path.join(self.dir, "run", "anvil-signer.log")
        self.nginx_vars = dict(DEFAULT_NGINX, **(nginx or {}))
        self.db = MariaDB(os.path.join(self.dir, "db"), self.ports["db"], self.runner,
                          self.config.get("database", {}).get("unix_socket"), durable=detached)
        self.nginx = Nginx(os.path.join(self.dir, "nginx"), self.runner)
        self.fcgi = None
        self.responder = responderlib.Responder(self)
        self.ocsp_url = self.http_base + "/ocsp/"
        self.started = []  # names of the daemons this call started (dev/up reports them)
        if not detached:
            import atexit
            atexit.register(self._dump_logs_on_failure)
        if start:
            self.start()

    # ports and config

    def _ports(self, fixed):
        path = os.path.join(self.dir, "ports.json")
        if self.detached and os.path.exists(path):
            with open(path) as f:
                return json.load(f)
        ports = {}
        for name in ("api", "http", "db"):
            want = (fixed or {}).get(name)
            ports[name] = want if want and port_free(want) else proc.free_port()
        if self.detached:
            with open(path, "w") as f:
                json.dump(ports, f)
        return ports

    def _ports_from_config(self):
        from urllib.parse import urlsplit
        u = urlsplit(self.config["acme"]["base_url"])
        self.ports["api"] = u.port or 443
        db = self.config.get("database", {})
        if db.get("port"):
            self.ports["db"] = db["port"]

    def _load_or_generate(self, workers):
        if self.detached and os.path.exists(self.config_path):
            with open(self.config_path) as f:
                kept = json.load(f)   # keep the nonce key, ports and any local edits
            # A config written before OCSP/CRL publishing gains their sections, one written
            # before the audit chain anvilctl's chain file.
            kept.setdefault("log", {}).setdefault(
                "audit_file", os.path.join(self.dir, "anvilctl-audit.chain"))
            return dict(self._published_sections(), **kept)
        base = "https://127.0.0.1:%d" % self.ports["api"]
        return dict(self._published_sections(), **{
            "log": {"level": "info", "syslog": False,
                    "audit_file": os.path.join(self.dir, "anvilctl-audit.chain")},
            "database": {
                # TCP, as to a remote server (and so a worker's session can be told apart by
                # its client port: db_waiting_workers()); root uses the socket (mysql()).
                "host": "127.0.0.1", "port": self.ports["db"],
                "user": DB_USER, "password": secrets.token_hex(12), "name": DB_NAME,
                "connect_timeout": 2, "read_timeout": 5, "write_timeout": 5,
            },
            "fcgi": {
                "socket": os.path.join(self.dir, "run", "fcgi.sock"), "socket_mode": "0660",
                "workers": workers, "backlog": 1024,
                "pid_file": os.path.join(self.dir, "run", "anvil-fcgi.pid"), "retry_after": 1,
            },
            "acme": {
                "base_url": base, "terms_of_service": base + "/terms",
                "website": "https://anvil.invalid/", "caa_identities": ["anvil.invalid"],
                "external_account_required": False, "contact_schemes": ["mailto"],
                "max_contacts": 4,
            },
            "nonce": {"key": secrets.token_hex(32), "lifetime": 3600},
        })

    def _published_sections(self):
        """OCSP responses and CRLs under state/, where nginx serves /ocsp/ and /crl/."""
        return {"ocsp": {"dir": os.path.join(self.dir, "state", "ocsp")},
                "crl": {"dir": os.path.join(self.dir, "state", "crl")}}

    def write_config(self, cfg=None):
        """Writes cfg (default: self.config) as the config file and makes it self.config.
        Daemons see it after reload_fcgi()/restart_fcgi()."""
        if cfg is not None:
            self.config = copy.deepcopy(cfg)
        tmp = self.config_path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.config, f, indent=2)
            f.write("\n")
        os.replace(tmp, self.config_path)

    def _nginx_values(self):
        return dict(self.nginx_vars,
                    USER=_user(), STATE_DIR=os.path.join(self.dir, "state"),
                    LISTEN="127.0.0.1:%d" % self.ports["api"],
                    HTTP_LISTEN="127.0.0.1:%d" % self.ports["http"],
                    CERT=self.cert_file, KEY=self.key_file,
                    FCGI_SOCKET=self.config["fcgi"]["socket"],
                    OCSP_SOCKET=responderlib.socket_path(self),
                    RETRY_AFTER=self.config.get("fcgi", {}).get("retry_after", 1))

    def _local_db(self):
        host = self.config.get("database", {}).get("host", "localhost")
        return host in ("127.0.0.1", "localhost", "::1", "")

    # anvil-signer (optional)

    def _signer_skip(self, why):
        if self.signer_mode is True:
            raise StackUnavailable(why)
        self.signer_note = "anvil-signer: %s, skipped" % why

    def _signer_prepare(self, base):
        """The token (created once per dir) and the signer sections of a generated config;
        sets signer_env, or signer_note when the signer is skipped. Returns base."""
        if not os.access(proc.builddir_path("ca", "anvil-signer"), os.X_OK):
            self._signer_skip("ca/anvil-signer is not built")
            return base
        try:
            import signer as signerlib
        except ImportError:
            self._signer_skip("t/lib/signer.py is missing")
            return base
        if self.operator_config:
            if "signer" not in base:
                self._signer_skip("not started: %s has no signer section" % self.config_path)
            else:
                self.signer_env = self._operator_signer_env(base["signer"])
            return base
        self.hsm = _softhsm(self.dir, signerlib)
        self.signer_env = self.hsm.env()
        if "signer" not in base:
            sc = signerlib.signer_config(self.dir, self.hsm)
            for name, iss in sc["issuers"].items():
                iss["issuer_url"] = "%s/issuer/%s.der" % (self.http_base, name)
                if "ocsp_url" in iss:
                    iss["ocsp_url"] = "%s/ocsp/" % self.http_base
                if "crl_url" in iss:
                    iss["crl_url"] = "%s/crl/%s/" % (self.http_base, name)
            base = dict(base, **sc)
        elif "permissions" not in base["signer"]:
            # A dev state from before signer.permissions was required (deny by default).
            base["signer"]["permissions"] = signerlib.signer_config(
                self.dir, self.hsm)["signer"]["permissions"]
        return base

    def _operator_signer_env(self, sc):
        """The environment for an operator's signer section: when it names SoftHSM2's module
        and the dev token's label, and SOFTHSM2_CONF is not set, the dev token of this state
        dir (dev/up --config with a copy of the generated file finds its keys)."""
        env = dict(os.environ)
        conf = os.path.join(self.dir, "softhsm", "softhsm2.conf")
        if ("softhsm" in os.path.basename(str(sc.get("module", ""))) and
                "SOFTHSM2_CONF" not in env and os.path.exists(conf) and
                sc.get("token_label") == "anvil"):
            env["SOFTHSM2_CONF"] = conf
            self.signer_note_extra = "SoftHSM2 token of %s (SOFTHSM2_CONF=%s)" % (self.dir, conf)
        return env

    def _publish_issuers(self):
        """The CA certificates as DER where the generated issuer URLs point (state/issuer/)."""
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding
        out = os.path.join(self.dir, "state", "issuer")
        for name, iss in self.config.get("issuers", {}).items():
            try:
                with open(iss["cert"], "rb") as f:
                    der = x509.load_pem_x509_certificate(f.read()).public_bytes(Encoding.DER)
            except (OSError, KeyError, ValueError):
                continue
            with open(os.path.join(out, name + ".der.tmp"), "wb") as f:
                f.write(der)
            os.replace(os.path.join(out, name + ".der.tmp"), os.path.join(out, name + ".der"))

    def start_signer(self, timeout=30):
        """Key ceremony (anvilctl init: idempotent) and anvil-signer, if not running."""
        import signer as signerlib
        exe = binary("ca/anvil-signer")
        runner = Runner(self.detached, os.path.join(self.dir, "pids"), env=self.signer_env)
        if self.signer_proc is None:
            self.signer_proc = runner.attach("anvil-signer", exe, self.signer_log)
        if self.signer_proc is not None and self.signer_proc.alive():
            return False
        if not self.operator_config:
            r = subprocess.run([binary("tools/anvilctl/anvilctl"), "-c", self.config_path, "init"],
                               env=self.signer_env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
            if r.returncode != 0:
                raise RuntimeError("anvilctl init (key ceremony) failed:\n" + r.stdout[-3000:])
            self._publish_issuers()
        self.signer_proc = runner.start("anvil-signer", [exe, "-c", self.config_path],
                                        self.signer_log)

        def ready():
            if not self.signer_proc.alive():
                raise RuntimeError("anvil-signer exited:\n" + _tail(self.signer_log))
            return signerlib.Client(self.signer_socket).health()[0] == 0
        proc.wait_for(ready, timeout, 0.1, "anvil-signer on %s" % self.signer_socket)
        return True

    def stop_signer(self):
        if self.signer_proc is not None:
            self.signer_proc.stop(signal.SIGTERM, timeout=20)
        self.signer_proc = None

    # lifecycle

    def start(self):
        anvilctl = binary("tools/anvilctl/anvilctl")
        self.fcgi = Fcgi(self.config_path, self.config, self.runner,
                         os.path.join(self.dir, "run", "anvil-fcgi.log"))
        if self._local_db() and (self.db.running() or port_free(self.ports["db"])):
            if self.db.start():
                self.started.append("mariadb")
            dbc = self.config["database"]
            self.db.ensure_database(dbc.get("name", DB_NAME), dbc.get("user", DB_USER),
                                    secret(dbc.get("password", "")))
        r = subprocess.run([anvilctl, "-c", self.config_path, "migrate"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("anvilctl migrate failed:\n" + r.stdout.decode("utf-8", "replace"))
        if self.signer_env is not None:
            try:
                if self.start_signer():
                    self.started.append("anvil-signer")
            except (RuntimeError, TimeoutError) as e:
                if self.signer_mode is True:
                    raise
                self.signer_note = "anvil-signer: not started: %s" % e
        if self.ct_logs:
            import ctstack
            ctstack.start(self)
        if self.fcgi.start():
            self.started.append("anvil-fcgi")
        if self.responder.start():
            self.started.append("anvil-ocsp")
        if not self.nginx.running():
            self.nginx.render(self._nginx_values())
        if self.nginx.start(self.ports["api"]):
            self.started.append("nginx")
        self.wait_ready()
        if self.jobs is not None:
            import jobs as jobslib
            jobslib.start(self)

    def wait_ready(self, timeout=30):
        import requests

        def probe():
            if self.fcgi.proc is not None and not self.fcgi.proc.alive():
                raise RuntimeError("anvil-fcgi exited:\n" + _tail(self.fcgi.log))
            r = requests.get(self.directory_url, verify=self.ca_file, timeout=5)
            return r.status_code == 200
        try:
            proc.wait_for(probe, timeout, 0.1, "GET %s" % self.directory_url)
        except TimeoutError as e:
            raise RuntimeError("%s\n%s" % (e, self.logs()))

    def stop(self):
        """Stops nginx, anvil-fcgi, anvil-signer and MariaDB (those this object knows)."""
        if self.jobs is not None:
            import jobs as jobslib
            jobslib.stop(self)
        self.nginx.stop()
        if self.fcgi is not None:
            self.fcgi.stop()
        self.responder.stop()
        self.stop_signer()
        if self.ct_procs:
            import ctstack
            ctstack.stop(self)
        self.db.stop()

    @staticmethod
    def down(dir):
        """dev/down: stops the daemons recorded in dir/pids (and only those). Returns names."""
        dir = os.path.abspath(dir)
        runner = Runner(True, os.path.join(dir, "pids"))
        stopped = []
        for name, exe, log in (("nginx", which("nginx"), os.path.join(dir, "nginx", "error.log")),
                               ("anvil-signer", proc.builddir_path("ca/anvil-signer"), ""),
                               ("anvil-fcgi", proc.builddir_path("fcgi/anvil-fcgi"), ""),
                               ("anvil-ocsp", proc.builddir_path(responderlib.EXE), ""),
                               ("anvil-jobs", proc.builddir_path("jobs/anvil-jobs"), ""),
                               ("pebble-challtestsrv", shutil.which("pebble-challtestsrv") or
                                "/usr/bin/pebble-challtestsrv", ""),
                               ("testlog-a", os.path.realpath(sys.executable), ""),
                               ("testlog-b", os.path.realpath(sys.executable), ""),
                               ("mariadbd", which("mariadbd"), "")):
            d = runner.attach(name, exe, log)
            if d is not None:
                d.stop(timeout=30)
                stopped.append(name)
            else:
                try:
                    os.unlink(runner.pidfile(name))  # stale
                except FileNotFoundError:
                    pass
        return stopped

    # helpers for tests

    def anvilctl(self, *args, check=True, input=None, timeout=120):
        """Runs anvilctl -c CONFIG ARGS; returns CompletedProcess with text stdout/stderr.
        check=True raises RuntimeError (with the output) on a non-zero exit."""
        r = subprocess.run([binary("tools/anvilctl/anvilctl"), "-c", self.config_path]
                           + [str(a) for a in args],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, input=input,
                           timeout=timeout, universal_newlines=True)
        if check and r.returncode != 0:
            raise RuntimeError("anvilctl %s failed (%d):\n%s%s" % (" ".join(map(str, args)),
                                                                   r.returncode, r.stdout, r.stderr))
        return r

    def mysql(self, sql, database=None):
        """Runs sql as root on the application database; returns the raw output (tab-separated
        rows, no header)."""
        return self.db.query(sql, database or self.config["database"].get("name", DB_NAME)) \
            .stdout.decode("utf-8", "replace")

    def mysql_rows(self, sql, database=None):
        """Rows as lists of strings ("NULL" for NULL)."""
        return [ln.split("\t") for ln in self.mysql(sql, database).splitlines()]

    def general_log(self, send):
        """send() with MariaDB's general log on: (its result, the (thread id, statement) of
        every text query and prepared execution meanwhile, in the order the server logged
        them)."""
        self.mysql("TRUNCATE TABLE mysql.general_log; SET GLOBAL log_output = 'TABLE'; "
                   "SET GLOBAL general_log = 1")
        try:
            r = send()
        finally:
            self.mysql("SET GLOBAL general_log = 0")
        return r, [(row[0], row[-1]) for row in self.mysql_rows(
            "SELECT thread_id, argument FROM mysql.general_log WHERE "
            "command_type IN ('Query', 'Execute')")]

    def mysql_session(self, database=None):
        """A held-open client session: s.query("LOCK TABLES accounts WRITE"); ...; s.close()."""
        return MysqlSession(self.db, database or self.config["database"].get("name", DB_NAME))

    def fcgi_master_pid(self):
        return self.fcgi.master_pid()

    def fcgi_worker_pids(self):
        return self.fcgi.worker_pids()

    def wait_workers(self, n=None, timeout=20, exclude=()):
        """Waits until the master has n workers (default fcgi.workers), none of them in exclude;
        returns their PIDs."""
        n = n or self.config["fcgi"].get("workers", 2)

        def probe():
            pids = self.fcgi_worker_pids()
            return pids if len(pids) == n and not set(pids) & set(exclude) else None
        return proc.wait_for(probe, timeout, 0.02, "%d fcgi workers" % n)

    def db_waiting_workers(self):
        """PIDs of fcgi workers whose database session waits on a lock (e.g. behind a
        mysql_session() holding LOCK TABLES): maps the session's client port (PROCESSLIST.HOST)
        to the worker owning that TCP socket. Needs database.host 127.0.0.1 (TCP)."""
        user = self.config["database"].get("user", DB_USER)
        rows = self.mysql_rows(
            "SELECT HOST FROM information_schema.PROCESSLIST WHERE USER = '%s' AND "
            "STATE LIKE 'Waiting for%%lock%%'" % user)
        ports = {int(r[0].rsplit(":", 1)[1]) for r in rows if ":" in r[0]}
        if len(ports) < len(rows):
            # Unix-socket sessions carry no port: fall back to the workers that are not
            # blocked in accept() (idle libfcgi workers are).
            accept = {"x86_64": ("43", "288"), "aarch64": ("202", "242")}.get(os.uname().machine, ())
            busy = []
            for pid in self.fcgi_worker_pids():
                try:
                    with open("/proc/%d/syscall" % pid) as f:
                        if f.read().split()[0] not in accept:
                            busy.append(pid)
                except (OSError, IndexError):
                    pass
            return busy
        if not ports:
            return []
        inodes = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                with open(table) as f:
                    next(f)
                    for line in f:
                        fields = line.split()
                        if int(fields[1].rsplit(":", 1)[1], 16) in ports:
                            inodes.add(fields[9])
            except OSError:
                pass
        pids = []
        for pid in self.fcgi_worker_pids():
            try:
                fds = os.listdir("/proc/%d/fd" % pid)
            except OSError:
                continue
            for fd in fds:
                try:
                    link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
                except OSError:
                    continue
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    pids.append(pid)
                    break
        return pids

    def fcgi_queued(self):
        """Connections waiting in the FastCGI socket's accept queue (no worker has taken them),
        from `ss` (iproute2); None if ss is unavailable."""
        ss = shutil.which("ss", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/bin")
        if not ss:
            return None
        r = subprocess.run([ss, "-H", "-x", "-l", "src", self.config["fcgi"]["socket"]],
                           stdout=subprocess.PIPE, universal_newlines=True)
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) >= 5 and f[1] == "LISTEN":
                return int(f[2])
        return None

    def stop_fcgi(self):
        self.fcgi.stop()

    def start_fcgi(self):
        self.fcgi.start()
        self.wait_ready()

    def restart_fcgi(self):
        self.fcgi.stop()
        self.fcgi.start()
        self.wait_ready()

    def reload_fcgi(self):
        """SIGHUP to the master (re-reads the config file, replaces workers gracefully)."""
        os.kill(self.fcgi.master_pid(), signal.SIGHUP)

    def stop_db(self):
        self.db.stop()

    def start_db(self):
        self.db.start()

    def restart_nginx(self, **values):
        """Restarts nginx with template values changed, e.g. restart_nginx(RATE="2r/m", BURST=1)."""
        self.nginx.stop()
        self.nginx_vars.update(values)
        self.nginx.render(self._nginx_values())
        self.nginx.start(self.ports["api"])

    def logs(self, lines=60):
        parts = []
        for name, path in (("mariadb", self.db.log),
                           ("anvil-fcgi", os.path.join(self.dir, "run", "anvil-fcgi.log")),
                           ("anvil-signer", self.signer_log),
                           ("anvil-jobs", os.path.join(self.dir, "run", "anvil-jobs.log")),
                           ("anvil-ocsp", self.responder.log),
                           ("nginx error", self.nginx.error_log),
                           ("nginx access", self.nginx.access_log)):
            parts.append("--- %s (%s) ---\n%s" % (name, path, _tail(path, lines)))
        return "\n".join(parts)

    def _dump_logs_on_failure(self):
        tap = sys.modules.get("tap")
        if tap is not None and getattr(tap, "_failed", 0) and not getattr(self, "_dumped", False):
            self._dumped = True
            tap.diag(self.logs())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_or_skip(*args, **kw):
    """Stack(*args, **kw), or a TAP skip_all when a binary or tool is missing."""
    try:
        return Stack(*args, **kw)
    except StackUnavailable as e:
        import tap
        tap.skip_all(str(e))
