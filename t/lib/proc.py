"""Process, port and temp-dir helpers shared by the integration tests.

Everything started here is stopped at exit (normal exit, exception, SIGTERM, SIGINT), by PID,
and the temp dir is removed unless ANVIL_KEEP_TMP is set (then its path is printed)."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get("ANVIL_SRCDIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("ANVIL_BUILDDIR") or SRCDIR

_procs = []
_tmpdirs = []


def builddir_path(*parts):
    return os.path.join(BUILDDIR, *parts)


def srcdir_path(*parts):
    return os.path.join(SRCDIR, *parts)


def tmpdir(prefix="anvil-t-"):
    # Short paths: Unix socket paths are limited to 108 bytes.
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    _tmpdirs.append(d)
    return d


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    def __init__(self, argv, log, env=None, cwd=None):
        self.argv = argv
        self.log = log
        self.logf = open(log, "ab")
        self.p = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                  start_new_session=True)
        _procs.append(self)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            try:
                os.kill(self.p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait(5)
        # Children of a killed process (e.g. workers) share its session: reap them too.
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not self.logf.closed:
            self.logf.close()
        return self.p.returncode

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


def wait_for(pred, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            r = pred()
            if r:
                return r
        except Exception as e:  # noqa: BLE001 - a probe may fail until ready
            last = e
        time.sleep(interval)
    raise TimeoutError("timed out waiting for %s (last error: %r)" % (what, last))


def wait_port(port, timeout=20.0):
    def probe():
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    return wait_for(probe, timeout, what="port %d" % port)


def wait_unix(path, timeout=20.0):
    def probe():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return True
        finally:
            s.close()
    return wait_for(probe, timeout, what="socket %s" % path)


def run(argv, check=True, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv[0], r.returncode,
                                                   r.stdout.decode("utf-8", "replace")))
    return r


def run_client(argv, env=None, timeout=60):
    """Runs a client program (an ACME client, openssl) to the end: a CompletedProcess with its
    output as text, stderr merged; a time-out is returned as exit -1 with what it printed, so
    a test reports it rather than dies."""
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                              timeout=timeout, universal_newlines=True)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode("utf-8", "replace") if isinstance(e.stdout, bytes) else e.stdout
        return subprocess.CompletedProcess(argv, -1, (out or "") + "\n(timed out)")


def cleanup():
    for p in reversed(_procs):
        try:
            p.stop(timeout=5)
        except Exception:  # noqa: BLE001
            pass
    _procs.clear()
    for d in _tmpdirs:
        if os.environ.get("ANVIL_KEEP_TMP"):
            print("# kept %s" % d, flush=True)
        else:
            shutil.rmtree(d, ignore_errors=True)
    _tmpdirs.clear()


def _on_signal(signum, frame):
    cleanup()
    sys.exit(128 + signum)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


def alarm(seconds):
    """A test file that hangs fails instead of stalling `make check`."""
    def on_alarm(signum, frame):
        print("not ok - test file exceeded %d s" % seconds, flush=True)
        cleanup()
        os._exit(1)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
