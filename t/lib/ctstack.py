"""CT for a Stack (Stack(ct=True), dev/up): two RFC 6962 test logs (t/lib/ctlog.py) of two
operators run as daemons beside the stack, the generated config gets a `ct` section naming
them, a policy "dev" (one SCT per operator, final certificates to both) and a CT profile
"ct" (not the default one). Every other profile with "ct": true (the signer config's
"default" and "shortlived") is bound to the same policy, so the configuration validates.

    base = ctstack.prepare(stack, base)   # before the config is written
    ctstack.start(stack)                  # after the signer (the logs accept its root)
    ctstack.stop(stack)
"""
import json
import os
import sys

import proc

PROFILE = "ct"
POLICY = "dev"
# (log name, operator, dev/up port)
LOGS = (("testlog-a", "Test Operator A", 14601), ("testlog-b", "Test Operator B", 14602))
CTLOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ctlog.py")


def python():
    return os.path.realpath(sys.executable)


def _ports(stack):
    path = os.path.join(stack.dir, "ct", "ports.json")
    if stack.detached and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    import stack as stacklib
    ports = {}
    for name, _, want in LOGS:
        ports[name] = want if stack.detached and stacklib.port_free(want) else proc.free_port()
    if stack.detached:
        with open(path, "w") as f:
            json.dump(ports, f)
    return ports


def prepare(stack, base):
    """Records the logs on stack (stack.ct_logs: name -> (port, key file)) and adds the ct
    section and the CT profile to base unless it has a ct section already (a dev state's
    file is the operator's to edit)."""
    import ctlog
    d = os.path.join(stack.dir, "ct")
    os.makedirs(d, exist_ok=True)
    ports = _ports(stack)
    stack.ct_logs = {}
    for name, _, _ in LOGS:
        stack.ct_logs[name] = (ports[name], os.path.join(d, name + ".pem"))
    if "ct" in base:
        return base
    logs = {}
    for name, operator, _ in LOGS:
        port, key = stack.ct_logs[name]
        k = ctlog.load_or_make_key(key)
        logs[name] = {"url": "http://127.0.0.1:%d" % port, "operator": operator,
                      "key": ctlog.b64(ctlog.spki_der(k.public_key()))}
    profiles = dict(base.get("profiles", {}))
    issuer = "int-ec" if "int-ec" in base.get("issuers", {}) else None
    if issuer is None:
        stack.ct_note = "CT: no int-ec issuer in the configuration, no CT profile added"
        return base
    profiles[PROFILE] = {"issuer": issuer, "validity_days": 90, "ct": True}
    base = dict(base, profiles=profiles)
    base["ct"] = {
        "logs": logs,
        "policies": {POLICY: {"final_certificates": [n for n, _, _ in LOGS],
                              "log_timeout_ms": 1000, "deadline_ms": 1500}},
        "profiles": {p: POLICY for p, v in profiles.items() if v.get("ct")},
    }
    return base


def _roots(stack):
    root = stack.config.get("issuers", {}).get("root", {}).get("cert")
    return ["--roots", root] if root and os.path.exists(root) else []


def start(stack):
    """Starts the logs that are not running; their names go into stack.started."""
    for name, (port, key) in stack.ct_logs.items():
        p = stack.runner.attach(name, python(), os.path.join(stack.dir, "ct", name + ".log"))
        if p is not None and p.alive():
            stack.ct_procs[name] = p
            continue
        p = stack.runner.start(name, [python(), CTLOG, "--port", str(port), "--key", key,
                                      "--name", name] + _roots(stack),
                               os.path.join(stack.dir, "ct", name + ".log"))
        stack.ct_procs[name] = p
        proc.wait_port(port, 20)
        stack.started.append(name)


def stop(stack):
    for p in stack.ct_procs.values():
        p.stop()
    stack.ct_procs = {}


def ossl_conf(stack, path):
    """An OpenSSL CT log list (CTLOG_STORE_load_file) of the stack's logs, for t/ct-ossl-check."""
    with open(path, "w") as f:
        f.write("enabled_logs = %s\n" % ",".join(stack.config["ct"]["logs"]))
        for n, lg in stack.config["ct"]["logs"].items():
            f.write("[%s]\ndescription = %s\nkey = %s\n" % (n, n, lg["key"]))
    return path
