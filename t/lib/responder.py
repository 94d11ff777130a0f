"""anvil-ocsp, the OCSP responder, for the stack (t/lib/stack.py starts it with nginx whenever
the configuration has ocsp.responder; the generated configuration has one whenever it has
issuers).

    s.ocsp_url                       # http://127.0.0.1:PORT/ocsp/ (the issuers' ocsp_url)
    s.ocsp_dir                       # ocsp.dir = <stack dir>/state/ocsp
    s.responder.stop(); s.responder.start()
    responder.publish(s, issuer, serial_int, der)   # write ocsp.dir/<issuer>/<serial hex>
"""
import os
import signal
import socket

import proc

EXE = "ocsp/anvil-ocsp"


def prepare(stack, base):
    """Adds ocsp.dir (<stack dir>/state/ocsp, where the publisher writes too) and
    ocsp.responder to a generated config that has issuers, keeping whatever ocsp keys are
    already there."""
    if "issuers" not in base:
        return base
    ocsp = dict(base.get("ocsp", {}))
    ocsp.setdefault("dir", os.path.join(stack.dir, "state", "ocsp"))
    ocsp.setdefault("responder", {"socket": os.path.join(stack.dir, "run", "ocsp.sock"),
                                  "socket_mode": "0660", "workers": 1})
    return dict(base, ocsp=ocsp)


def socket_path(stack):
    """The responder socket nginx forwards /ocsp/ to (a path even without a responder: nginx
    then answers 502)."""
    r = stack.config.get("ocsp", {}).get("responder", {})
    return r.get("socket") or os.path.join(stack.dir, "run", "ocsp.sock")


def serial_name(serial):
    """The file name of a serial: lowercase hex of its minimal big-endian bytes."""
    b = serial.to_bytes(max(1, (serial.bit_length() + 7) // 8), "big")
    return b.hex()


def publish(stack, issuer, serial, der):
    """Writes a response where the responder looks for it (as the publisher does: temp file,
    rename)."""
    d = os.path.join(stack.config["ocsp"]["dir"], issuer)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, serial_name(serial))
    with open(path + ".tmp", "wb") as f:
        f.write(der)
    os.replace(path + ".tmp", path)
    return path


class Responder:
    def __init__(self, stack):
        self.stack = stack
        self.log = os.path.join(stack.dir, "run", "anvil-ocsp.log")
        self.exe = proc.builddir_path(EXE)
        self.proc = None

    def enabled(self):
        return bool(self.stack.config.get("ocsp", {}).get("responder")) and \
            os.access(self.exe, os.X_OK)

    def running(self):
        if self.proc is None:
            self.proc = self.stack.runner.attach("anvil-ocsp", self.exe, self.log)
        return self.proc is not None and self.proc.alive()

    def start(self, timeout=30):
        if not self.enabled() or self.running():
            return False
        self.proc = self.stack.runner.start(
            "anvil-ocsp", [self.exe, "-c", self.stack.config_path, "-f"], self.log)
        path = socket_path(self.stack)

        def ready():
            if not self.proc.alive():
                with open(self.log, "rb") as f:
                    raise RuntimeError("anvil-ocsp exited:\n" + f.read()[-3000:].decode())
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return True
            except OSError:
                return False
            finally:
                s.close()
        proc.wait_for(ready, timeout, 0.05, "anvil-ocsp socket %s" % path)
        return True

    def stop(self, timeout=20):
        if self.proc is not None:
            self.proc.stop(signal.SIGTERM, timeout=timeout)
        self.proc = None

    def pids(self):
        """The master and its workers."""
        if self.proc is None or not self.proc.alive():
            return []
        import stack as stacklib
        return [self.proc.pid] + stacklib.children_of(self.proc.pid)
