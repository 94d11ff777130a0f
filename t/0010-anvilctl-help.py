#!/usr/bin/python3
"""anvilctl --help, -h and --version, and COMMAND --help for every command: exit 0, the usage
on stdout, without a configuration file (an operator reads the help before writing one); an
unknown command and a command's bad option: exit 2 with the usage on stderr."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402

COMMANDS = ["status", "revoke", "block-key", "unblock-key", "cert", "account", "order", "jobs",
            "migrate", "eab", "check", "init", "bench-signer", "check-freshness", "ratelimit"]


def main():
    exe = proc.builddir_path("tools", "anvilctl", "anvilctl")
    if not os.path.exists(exe):
        tap.skip_all("anvilctl not built")
    env = dict(os.environ, ANVIL_CONFIG="/nonexistent/anvil.json")

    def run(*args):
        return subprocess.run([exe] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, env=env, timeout=30)

    for flag in ("--help", "-h"):
        r = run(flag)
        tap.is_(r.returncode, 0, "anvilctl %s: exit 0" % flag)
        tap.ok(r.stdout.startswith("usage: anvilctl") and
               all("  %s " % c in r.stdout for c in COMMANDS),
               "anvilctl %s lists every command" % flag)
    r = run("--version")
    tap.ok(r.returncode == 0 and r.stdout.startswith("anvilctl (anvil) "),
           "anvilctl --version: %s" % r.stdout.strip())
    for c in COMMANDS:
        for flag in ("--help", "-h"):
            r = run(c, flag)
            if not tap.ok(r.returncode == 0 and r.stdout.startswith("usage: anvilctl " + c),
                          "anvilctl %s %s: exit 0, its usage, no config needed" % (c, flag)):
                tap.diag("%d %r %r" % (r.returncode, r.stdout, r.stderr))
        r = run(c, "--version")
        tap.ok(r.returncode == 0 and r.stdout.startswith("anvilctl (anvil) "),
               "anvilctl %s --version" % c)
    r = run("cert", "list", "--help")
    tap.ok(r.returncode == 0 and "cert list" in r.stdout, "a subcommand's --help: the command's")
    r = run("help", "revoke")
    tap.ok(r.returncode == 0 and r.stdout.startswith("usage: anvilctl revoke"),
           "anvilctl help revoke")
    r = run("frobnicate")
    tap.ok(r.returncode == 2 and "unknown command" in r.stderr and r.stdout == "",
           "unknown command: exit 2, on stderr")
    r = run("-c", "/nonexistent/anvil.json", "status")
    tap.ok(r.returncode == 1 and "/nonexistent/anvil.json" in r.stderr,
           "a missing config file: exit 1, naming the file")


tap.run(main)
