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
# http-01 is validated on this port (certbot --standalone --http-01-port): port 80 is often held
# by the system's own nginx on a fresh machine.
DEV_HTTP01_PORT = 15080
# The generated development configuration issues without Certificate Transparency (a later
# issue): its default profile is "dev", an ECDSA profile with CT off.
DEV_CONFIG = {
    "acme": {"default_profile": "dev"},
    "profiles": {"dev": {"issuer": "int-ec", "validity_days": 90, "ct": False}},
    "jobs": {"validation": {"http01_port": DEV_HTTP01_PORT}},
}


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


def up(args, stack):
    os.makedirs(args.state, exist_ok=True)
    # The signer (SoftHSM2 token, key ceremony) comes along once it is built.
    s = stack.Stack(dir=args.state, detached=True, config_file=args.config, ports=DEV_PORTS,
                    nginx={"WORKERS": "auto"}, signer="auto", jobs="auto",
                    config=None if args.config else DEV_CONFIG)
    notes = [s.signer_note or "anvil-signer: %s (log %s%s)" % (
        s.signer_socket, rel(s.signer_log),
        "" if s.operator_config else ", token %s, CA certificates %s" % (
            rel(os.path.join(args.state, "softhsm")), rel(os.path.join(args.state, "pki"))))]
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
    crl_urls = [i["crl_url"] for i in s.config.get("issuers", {}).values() if "crl_url" in i]
    if "crl" in s.config and crl_urls and s.jobs is not None:
        print("  CRLs:        %s<shard>.crl" % crl_urls[0])
    if s.jobs is not None:
        notes.append("anvil-jobs: log %s; mock DNS (every name is 127.0.0.1) at %s, records "
                     "via http://127.0.0.1:%d (pebble-challtestsrv API)" % (
                         rel(s.jobs.log_path()), s.dns.resolver, s.dns.mgmt_port))
    elif s.jobs_note:
        notes.append(s.jobs_note)
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
    if s.jobs is not None and s.signer_socket and not s.operator_config:
        print("Get a certificate (http-01; the mock DNS answers 127.0.0.1 for every name):")
        print()
        print("  REQUESTS_CA_BUNDLE=%s certbot certonly --standalone --http-01-port %d \\" % (
            shlex.quote(ca), DEV_HTTP01_PORT))
        print("      --server %s -d www.example.test \\" % s.directory_url)
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
