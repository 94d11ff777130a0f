#!/usr/bin/python3
"""The install layout (issue 13): `configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var`
(and --prefix=/usr alone) puts the configuration in /etc/anvil, state in /var/lib/anvil, sockets
in /run/anvil and binaries in /usr/sbin, in every rendered file. `make install` from the build
tree installs the daemons and anvilctl in sbin and neither the slow-HSM module nor a benchmark;
the commented sample configuration is valid once its placeholders are filled (anvilctl check),
is installed as the live file only when there is none, and never replaces an operator's; the
systemd units pass `systemd-analyze verify` (skipped where it cannot run)."""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402

DAEMONS = ["anvil-signer", "anvil-fcgi", "anvil-jobs", "anvil-ocsp"]


def sh(argv, cwd=None, timeout=300):
    return subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=timeout)


def makevars(path):
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_]+) = (.*)$", line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def configured(tmp, name, args):
    """configure in a fresh directory with args; renders the init files (sed only, no build)."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    r = sh([os.path.join(proc.SRCDIR, "configure")] + args, cwd=d)
    if r.returncode != 0:
        tap.diag(r.stdout[-2000:])
        return None, None
    gen = ["init/anvil.json", "init/tmpfiles.conf", "init/logrotate"] + \
        ["init/systemd/%s.service" % n for n in DAEMONS] + ["init/lsb/%s" % n for n in DAEMONS]
    r = sh(["make", "-s"] + gen, cwd=d)
    if r.returncode != 0:
        tap.diag(r.stdout[-2000:])
    return d, makevars(os.path.join(d, "Makefile"))


def main():
    proc.alarm(600)
    tmp = proc.tmpdir()
    if not os.path.exists(os.path.join(proc.SRCDIR, "configure")):
        tap.skip_all("no configure script (autogen.sh)")

    # --- the FHS layout, spelled out and by default for --prefix=/usr ---
    for name, args in (("explicit", ["--prefix=/usr", "--sysconfdir=/etc", "--localstatedir=/var"]),
                       ("usr", ["--prefix=/usr"])):
        d, v = configured(tmp, name, args)
        if not tap.ok(d is not None, "configure %s" % " ".join(args)):
            continue
        tap.is_((v.get("sysconfdir"), v.get("localstatedir"), v.get("runstatedir")),
                ("/etc", "/var", "/run"), "%s: sysconfdir /etc, localstatedir /var, runstatedir /run"
                % name)
        tap.ok("-DANVIL_SYSCONFDIR='\"$(sysconfdir)/anvil\"'" in
               open(os.path.join(d, "Makefile")).read(),
               "%s: the compiled-in default config is $(sysconfdir)/anvil/anvil.json" % name)
        unit = open(os.path.join(d, "init/systemd/anvil-fcgi.service")).read()
        tap.ok("ExecStart=/usr/sbin/anvil-fcgi -c /etc/anvil/anvil.json -f" in unit and
               "ReadWritePaths=/run/anvil /var/lib/anvil/ocsp" in unit,
               "%s: unit runs /usr/sbin/anvil-fcgi with /etc/anvil/anvil.json" % name)
        tmpf = open(os.path.join(d, "init/tmpfiles.conf")).read()
        tap.ok("d /run/anvil " in tmpf and "d /var/lib/anvil/signer " in tmpf,
               "%s: tmpfiles.d: /run/anvil, /var/lib/anvil" % name)
        lsb = open(os.path.join(d, "init/lsb/anvil-jobs")).read()
        tap.ok("DAEMON=/usr/sbin/anvil-jobs" in lsb and "CONFIG=/etc/anvil/anvil.json" in lsb and
               "PIDFILE=/run/anvil-jobs.pid" in lsb and "LOGFILE=/var/log/anvil/anvil-jobs.log"
               in lsb, "%s: init script: /usr/sbin, /etc/anvil, /run, /var/log/anvil" % name)
        sample = open(os.path.join(d, "init/anvil.json")).read()
        tap.ok("/run/anvil/signer.sock" in sample and "/var/lib/anvil/signer" in sample and
               "/etc/anvil/nonce.key" in sample and "@" not in sample.replace(
                   "@ANVIL_FCGI_UID@", "").replace("@ANVIL_JOBS_UID@", ""),
               "%s: the sample config names /run/anvil, /var/lib/anvil, /etc/anvil" % name)

    # --- make install from the build tree ---
    dest = os.path.join(tmp, "dest")
    r = sh(["make", "-C", proc.BUILDDIR, "install", "DESTDIR=" + dest])
    if not tap.is_(r.returncode, 0, "make install DESTDIR"):
        tap.diag(r.stdout[-3000:])
        return
    v = makevars(os.path.join(proc.BUILDDIR, "Makefile"))

    def expand(s):
        while "${" in s:
            s = re.sub(r"\$\{([A-Za-z_]+)\}", lambda m: v.get(m.group(1), ""), s)
        return s

    def p(var, *rest):
        return os.path.join(dest + expand(v[var]), *rest)
    sbin = p("sbindir")
    tap.is_(sorted(os.listdir(sbin)), sorted(DAEMONS + ["anvilctl"]),
            "sbin: the four daemons and anvilctl")
    installed = [os.path.relpath(os.path.join(dp, f), dest)
                 for dp, _, fs in os.walk(dest) for f in fs]
    tap.ok(not any("slowhsm" in f or "bench" in f for f in installed),
           "neither the slow-HSM module nor a benchmark is installed")
    confdir = os.path.join(p("sysconfdir"), "anvil")
    live = os.path.join(confdir, "anvil.json")
    tap.ok(os.path.isfile(live) and (os.stat(live).st_mode & 0o777) == 0o640,
           "the sample installed as %s, mode 0640" % os.path.relpath(live, dest))
    for n in DAEMONS:
        tap.ok(os.access(os.path.join(p("sysconfdir"), "init.d", n), os.X_OK),
               "init script %s" % n)
    units = p("systemdsystemunitdir")
    tap.is_(sorted(os.listdir(units)), sorted(n + ".service" for n in DAEMONS), "systemd units")
    for f in ("lib/sysusers.d/anvil.conf", "lib/tmpfiles.d/anvil.conf"):
        tap.ok(os.path.isfile(os.path.join(dest + v["prefix"], f)), f)
    tap.ok(os.path.isfile(os.path.join(p("sysconfdir"), "logrotate.d", "anvil")), "logrotate")
    tap.is_(sorted(os.listdir(p("mandir", "man8"))), sorted(n + ".8" for n in DAEMONS +
            ["anvilctl"]), "man pages of the daemons and anvilctl")
    tap.ok(os.path.isfile(p("docdir", "install.md")), "doc/install.md in docdir (the units "
           "point to it)")

    # The sample validates once the uids are filled (secrets and paths pointed at this test).
    text = open(live).read()
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    tap.ok(body != text, "the sample has comment lines")
    key = os.path.join(tmp, "nonce.key")
    with open(key, "w") as f:
        f.write("ab" * 32 + "\n")
    pin = os.path.join(tmp, "hsm.pin")
    with open(pin, "w") as f:
        f.write("1234\n")
    # As the sample's own comment says (doc/install.md runs the same sed).
    filled = text.replace('"@ANVIL_FCGI_UID@":', '"110":').replace('"@ANVIL_FCGI_UID@"', "110") \
        .replace('"@ANVIL_JOBS_UID@":', '"111":').replace('"@ANVIL_JOBS_UID@"', "111") \
        .replace(os.path.join(expand(v["sysconfdir"]), "anvil", "nonce.key"), key) \
        .replace(os.path.join(expand(v["sysconfdir"]), "anvil", "hsm.pin"), pin)
    conf = os.path.join(tmp, "anvil.json")
    with open(conf, "w") as f:
        f.write(filled)
    ctl = proc.builddir_path("tools", "anvilctl", "anvilctl")
    # The database account is the daemon's user ($USER, set by systemd and the init scripts).
    os.environ.setdefault("USER", "root")
    r = sh([ctl, "-c", conf, "check"], timeout=60)
    if not tap.is_(r.returncode, 0, "anvilctl check accepts the filled sample (comments and all)"):
        tap.diag(r.stdout[-2000:])
    with open(conf, "w") as f:
        f.write(text.replace(os.path.join(expand(v["sysconfdir"]), "anvil", "nonce.key"), key)
                .replace(os.path.join(expand(v["sysconfdir"]), "anvil", "hsm.pin"), pin))
    r = sh([ctl, "-c", conf, "check"], timeout=60)
    tap.ok(r.returncode != 0 and "signer.allow_uids" in r.stdout,
           "with the uid placeholders left, check names signer.allow_uids")
    with open(conf, "w") as f:
        f.write(filled.replace('"fcgi": {', '"fcgi": { // no\n', 1))
    r = sh([ctl, "-c", conf, "check"], timeout=60)
    tap.ok(r.returncode != 0 and "not valid JSON" in r.stdout,
           "a comment inside a line is still an error")

    # --- a second install keeps the operator's file ---
    with open(live, "a") as f:
        f.write("// edited by the operator\n")
    mine = open(live).read()
    r = sh(["make", "-C", proc.BUILDDIR, "install", "DESTDIR=" + dest])
    tap.is_(r.returncode, 0, "make install again")
    tap.is_(open(live).read(), mine, "the operator's anvil.json is left as it was")
    tap.ok(os.path.isfile(os.path.join(p("docdir"), "anvil.json.sample")),
           "the sample is in docdir as well")

    # --- systemd-analyze verify ---
    sa = shutil.which("systemd-analyze")
    if not sa:
        tap.skip("systemd-analyze not installed (Debian package systemd)")
        return
    # The units name the installed binaries; point them into DESTDIR for the check.
    vdir = os.path.join(tmp, "units")
    os.makedirs(vdir)
    real_sbin = expand(v["sbindir"])
    for n in DAEMONS:
        with open(os.path.join(units, n + ".service")) as f:
            u = f.read().replace(real_sbin + "/", sbin + "/")
        with open(os.path.join(vdir, n + ".service"), "w") as f:
            f.write(u)
    r = sh([sa, "verify"] + [os.path.join(vdir, n + ".service") for n in DAEMONS], timeout=120)
    if "Failed to" in r.stdout and "bus" in r.stdout.lower():
        tap.skip("systemd-analyze cannot run here: %s" % r.stdout.strip()[:200])
        return
    if not tap.ok(r.returncode == 0 and r.stdout.strip() == "",
                  "systemd-analyze verify: the four units, no complaint"):
        tap.diag(r.stdout)


tap.run(main)
