#!/usr/bin/python3
"""The engine of dev/up and dev/down: t/lib/stack.py (the same code the tests use to start each
daemon) with a persistent state dir (.dev/) and detached daemons recorded in PID files.

    dev/stack.py up   [--state .dev] [--build build] [--config FILE]
    dev/stack.py down [--state .dev] [--build build]
"""
import argparse
import os
import shlex
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Fixed ports so the printed URL stays the same across runs (another free port when taken).
DEV_PORTS = {"api": 14443, "http": 14080, "db": 14306}


def parse():
    ap = argparse.ArgumentParser(prog="dev/stack.py")
    ap.add_argument("command", choices=("up", "down"))
    ap.add_argument("--state", default=os.path.join(TOP, ".dev"))
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--config", help="an operator's configuration file instead of the generated one")
    return ap.parse_args()


def rel(path):
    r = os.path.relpath(path)
    return r if not r.startswith("../") else path


def _dev_softhsm(state, signer):
    """The dev token in state/softhsm/, created once (signer.SoftHSM) and reused after."""
    d = os.path.join(state, "softhsm")
    pin_file = os.path.join(d, "pin")
    if not os.path.exists(pin_file):
        return signer.SoftHSM(state)
    hsm = signer.SoftHSM.__new__(signer.SoftHSM)
    hsm.dir, hsm.conf, hsm.label = d, os.path.join(d, "softhsm2.conf"), "anvil"
    hsm.pin_file = pin_file
    with open(pin_file) as f:
        hsm.pin = f.read().strip()
    return hsm


def signer_prepare(s, state):
    """Before the stack starts: the dev token and the signer sections of the generated config
    (t/lib/signer.py's signer_config, with URLs on our plain-HTTP server). Returns the
    environment anvil-signer and anvilctl init need, or a reason to skip the signer."""
    import proc
    if not os.access(proc.builddir_path("ca", "anvil-signer"), os.X_OK):
        return None, "anvil-signer: not built yet, skipped"
    try:
        import signer
    except ImportError:
        return None, "anvil-signer: t/lib/signer.py not there yet, skipped"
    if s.operator_config:
        if "signer" not in s.config:
            return None, "anvil-signer: the configuration has no signer section, skipped"
        return dict(os.environ), None
    hsm = _dev_softhsm(state, signer)
    if "signer" not in s.config:
        sc = signer.signer_config(state, hsm)
        for name, iss in sc["issuers"].items():
            iss["issuer_url"] = "%s/issuer/%s.der" % (s.http_base, name)
            if "ocsp_url" in iss:
                iss["ocsp_url"] = "%s/ocsp/" % s.http_base
            if "crl_url" in iss:
                iss["crl_url"] = "%s/crl/%s/" % (s.http_base, name)
        s.config.update(sc)
        s.write_config()
    return hsm.env(), None


def publish_issuers(s):
    """The CA certificates as DER where the issuer URLs of the generated config point."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    out = os.path.join(s.dir, "state", "issuer")
    for name, iss in s.config.get("issuers", {}).items():
        try:
            with open(iss["cert"], "rb") as f:
                der = x509.load_pem_x509_certificate(f.read()).public_bytes(Encoding.DER)
        except (OSError, KeyError, ValueError):
            continue
        with open(os.path.join(out, name + ".der.tmp"), "wb") as f:
            f.write(der)
        os.replace(os.path.join(out, name + ".der.tmp"), os.path.join(out, name + ".der"))


def signer_start(s, state, env, stack):
    """After the stack: the key ceremony (anvilctl init, idempotent) and anvil-signer."""
    import proc
    import signer
    import subprocess
    exe = proc.builddir_path("ca", "anvil-signer")
    log = os.path.join(state, "run", "anvil-signer.log")
    runner = stack.Runner(True, os.path.join(state, "pids"), env=env)
    if runner.attach("anvil-signer", exe, log) is not None:
        return "anvil-signer: already running (log %s)" % rel(log)
    if not s.operator_config:
        r = subprocess.run([proc.builddir_path("tools", "anvilctl", "anvilctl"), "-c",
                            s.config_path, "init"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        if r.returncode != 0:
            return "anvil-signer: key ceremony failed, signer not started:\n    " + \
                "\n    ".join(r.stdout.strip().splitlines()[-10:])
        publish_issuers(s)
    d = runner.start("anvil-signer", [exe, "-c", s.config_path], log)
    sock = s.config["signer"]["socket"]

    def ready():
        if not d.alive():
            raise RuntimeError("anvil-signer exited:\n" + d.log_text()[-3000:])
        return signer.Client(sock).health()[0] == 0
    try:
        proc.wait_for(ready, 30, 0.1, "anvil-signer")
    except (RuntimeError, TimeoutError) as e:
        return "anvil-signer: did not come up: %s" % e
    s.started.append("anvil-signer")
    return "anvil-signer: %s (token %s, CA certificates in %s)" % (
        sock, rel(os.path.join(state, "softhsm")), rel(os.path.join(state, "pki")))


def up(args, stack):
    os.makedirs(args.state, exist_ok=True)
    s = stack.Stack(dir=args.state, detached=True, config_file=args.config, ports=DEV_PORTS,
                    nginx={"WORKERS": "auto"}, start=False)
    env, skipped = signer_prepare(s, args.state)
    s.start()
    notes = [skipped or signer_start(s, args.state, env, stack)]
    ca = s.ca_file
    cb = os.path.join(args.state, "certbot")
    print()
    print("Anvil is up (%s)." % (("started: " + ", ".join(s.started)) if s.started
                                 else "everything was already running"))
    print()
    print("  directory:   %s" % s.directory_url)
    print("  TLS root:    %s   (trust it in clients)" % ca)
    print("  config:      %s" % s.config_path)
    print("  database:    mariadb -S %s -u root %s" % (rel(s.db.socket),
                                                      s.config["database"].get("name", "anvil")))
    print("  logs:        %s, %s, %s" % (rel(s.db.log), rel(s.fcgi.log), rel(s.nginx.error_log)))
    for n in notes:
        print("  %s" % n)
    print()
    print("Register an account with certbot:")
    print()
    print("  REQUESTS_CA_BUNDLE=%s certbot register --server %s \\" % (shlex.quote(ca),
                                                                      s.directory_url))
    print("      --config-dir %s --work-dir %s --logs-dir %s \\" % (
        shlex.quote(os.path.join(cb, "config")), shlex.quote(os.path.join(cb, "work")),
        shlex.quote(os.path.join(cb, "logs"))))
    print("      --agree-tos -m you@example.com --non-interactive")
    print()
    print("Stop it with dev/down (the state in %s stays)." % rel(args.state))


def down(args, stack):
    if not os.path.isdir(args.state):
        print("nothing to stop (%s does not exist)" % rel(args.state))
        return
    stopped = stack.Stack.down(args.state)
    print("stopped: %s" % (", ".join(stopped) if stopped else "nothing was running"))


def main():
    args = parse()
    args.state = os.path.abspath(args.state)
    os.environ["ANVIL_SRCDIR"] = TOP
    os.environ["ANVIL_BUILDDIR"] = os.path.abspath(args.build)
    sys.path.insert(0, os.path.join(TOP, "t", "lib"))
    import stack
    try:
        (up if args.command == "up" else down)(args, stack)
    except stack.StackUnavailable as e:
        sys.exit("dev/stack.py: %s" % e)
    except RuntimeError as e:
        sys.exit("dev/stack.py: %s\n(logs under %s)" % (e, rel(args.state)))


if __name__ == "__main__":
    main()
