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
# The generated development configuration issues without Certificate Transparency by default
# (seed 000: CT is a per-profile choice): its default profile is "dev", an ECDSA profile with CT
# off. Two test logs of two operators run beside it and the CT profile "ct" uses them
# (t/lib/ctstack.py); `dev/up --default-profile ct` makes it the default for clients such as
# Debian's certbot, which cannot choose a profile.
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
    ap.add_argument("--default-profile", help="make this profile acme.default_profile in the "
                    "generated configuration (e.g. ct: certificates with embedded SCTs)")
    return ap.parse_args()


def rel(path):
    r = os.path.relpath(path)
    return r if not r.startswith("../") else path


def up(args, stack):
    os.makedirs(args.state, exist_ok=True)
    # The signer (SoftHSM2 token, key ceremony) comes along once it is built.
    # The dev settings go into the generated file once, when it is written: afterwards the
    # file is the operator's to edit, and every later dev/up keeps what it says.
    first = not args.config and not os.path.exists(os.path.join(args.state, "anvil.json"))
    s = stack.Stack(dir=args.state, detached=True, config_file=args.config, ports=DEV_PORTS,
                    nginx={"WORKERS": "auto"}, signer="auto", jobs="auto",
                    config=DEV_CONFIG if first else None, ct=True)
    if args.default_profile:
        set_default_profile(s, args.default_profile)
    notes = [s.signer_note or "anvil-signer: %s (log %s%s)" % (
        s.signer_socket, rel(s.signer_log),
        (", " + s.signer_note_extra if s.signer_note_extra else "") if s.operator_config
        else ", token %s, CA certificates %s" % (
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
    print("  health:      %s/health/ready" % s.base)
    print("  metrics:     %s/metrics   status page: %s/status   (loopback only)" % (s.base, s.base))
    crl_urls = [i["crl_url"] for i in s.config.get("issuers", {}).values() if "crl_url" in i]
    if "crl" in s.config and crl_urls and s.jobs is not None:
        print("  CRLs:        %s<shard>.crl" % crl_urls[0])
    if s.jobs is not None and s.dns is not None:
        notes.append("anvil-jobs: log %s; mock DNS (every name is 127.0.0.1) at %s, records "
                     "via http://127.0.0.1:%d (pebble-challtestsrv API)" % (
                         rel(s.jobs.log_path()), s.dns.resolver, s.dns.mgmt_port))
    elif s.jobs is not None:
        notes.append("anvil-jobs: log %s; validation asks the resolvers of %s" % (
            rel(s.jobs.log_path()), s.config_path))
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
    if s.jobs is not None and s.signer_proc is not None:
        http01 = s.config["jobs"].get("validation", {}).get("http01_port", 80)
        print("Get a certificate (http-01 on port %d%s):" % (
            http01, "; the mock DNS answers 127.0.0.1 for every name" if s.dns else
            "; www.example.test must resolve to this machine for the configured resolvers"))
        print()
        print("  REQUESTS_CA_BUNDLE=%s certbot certonly --standalone --http-01-port %d \\" % (
            shlex.quote(ca), http01))
        print("      --server %s -d www.example.test \\" % s.directory_url)
        print("      --config-dir %s --work-dir %s --logs-dir %s \\" % (
            shlex.quote(os.path.join(cb, "config")), shlex.quote(os.path.join(cb, "work")),
            shlex.quote(os.path.join(cb, "logs"))))
        print("      --agree-tos -m you@example.com --non-interactive")
        print()
    if s.ct_procs:
        import ctstack
        ctstack.ossl_conf(s, os.path.join(args.state, "ct", "ctlogs.cnf"))
    print_ct(s, args, cb)
    if s.responder.running():
        root = s.config.get("issuers", {}).get("root", {}).get("cert", "ROOT.pem")
        print("OCSP (anvil-ocsp; responses in %s): %s" % (rel(s.config["ocsp"]["dir"]),
                                                          s.ocsp_url))
        print()
        if s.signer_socket and not s.operator_config:
            print("Check the certificate above over POST, then over GET:")
            print()
            print("  C=%s/live/www.example.test" % shlex.quote(os.path.join(cb, "config")))
        else:
            print("Check a certificate over POST, then over GET (C: its cert.pem and chain.pem):")
            print()
        print("  openssl ocsp -issuer $C/chain.pem -cert $C/cert.pem -CAfile %s \\" %
              shlex.quote(root))
        print("      -url %s" % s.ocsp_url)
        print("  openssl ocsp -issuer $C/chain.pem -cert $C/cert.pem -no_nonce -reqout req.der")
        print("  curl -so resp.der %s$(base64 -w0 req.der | sed 's|+|%%2B|g; s|/|%%2F|g; "
              "s|=|%%3D|g')" % s.ocsp_url)
        print("  openssl ocsp -respin resp.der -issuer $C/chain.pem -cert $C/cert.pem "
              "-CAfile %s" % shlex.quote(root))
        print()
    print("Stop it with dev/down (the state in %s stays)." % rel(args.state))


def set_default_profile(s, name):
    """The switch: acme.default_profile of the generated configuration becomes name (a
    configured profile), and anvil-fcgi reloads it."""
    if s.operator_config:
        raise ValueError("--default-profile changes the generated configuration only; edit "
                         "acme.default_profile in your own file")
    if name not in s.config.get("profiles", {}):
        raise ValueError("--default-profile %s: no such profile (profiles: %s)" % (
            name, ", ".join(sorted(s.config.get("profiles", {})))))
    if s.config["acme"].get("default_profile") != name:
        s.config["acme"]["default_profile"] = name
        s.write_config()
        s.reload_fcgi()


def print_ct(s, args, cb):
    """How to get a certificate with embedded SCTs (the CT profile and its two test logs)."""
    ct = s.config.get("ct")
    if not ct or not s.ct_procs:
        if s.ct_note:
            print("  %s" % s.ct_note)
        return
    prof = s.config["acme"].get("default_profile")
    ctprofs = sorted(p for p, v in s.config.get("profiles", {}).items() if v.get("ct"))
    print("Certificate Transparency: test logs %s (logs under %s); CT profiles: %s" % (
        ", ".join("%s (%s) %s" % (n, lg["operator"], lg["url"]) for n, lg in ct["logs"].items()),
        rel(os.path.join(args.state, "ct")), ", ".join(ctprofs)))
    print()
    if prof in ctprofs:
        print("The default profile (%s) embeds SCTs: the certbot command above gets them. Back "
              "to the profile without CT: dev/up --no-build --default-profile dev" % prof)
    else:
        print("certbot cannot choose a profile: to get a certificate with embedded SCTs, make "
              "the CT profile the default, then run the certbot command above:")
        print()
        print("  dev/up --no-build --default-profile ct")
    print()
    print("Check the SCTs with OpenSSL's own CT code (one per operator):")
    print()
    if not os.path.exists(os.path.join(args.build, "t", "ct-ossl-check")):
        print("  make -C %s t/ct-ossl-check" % rel(args.build))
    print("  C=%s/live/www.example.test" % shlex.quote(os.path.join(cb, "config")))
    print("  openssl x509 -in $C/cert.pem -noout -text | grep -A4 'CT Precertificate SCTs'")
    print("  %s %s $C/cert.pem $C/chain.pem" % (
        rel(os.path.join(args.build, "t", "ct-ossl-check")),
        rel(os.path.join(args.state, "ct", "ctlogs.cnf"))))
    print()


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
    except KeyError as e:
        sys.exit("dev/stack.py: %s: a key dev/up needs is missing: %s" % (
            args.config or os.path.join(args.state, "anvil.json"), e))
    except (OSError, ValueError) as e:
        sys.exit("dev/stack.py: %s: %s" % (args.config or os.path.join(args.state, "anvil.json"),
                                           e))


if __name__ == "__main__":
    main()
