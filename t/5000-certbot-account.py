#!/usr/bin/python3
"""Real ACME clients from Debian manage an account against the stack: certbot register,
update_account (the new e-mail is stored) and unregister (the account is deactivated); lego
registers an account (lego has no register-only command: `lego run` registers first, then
orders; only the registration is checked here)."""
import glob
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402



def run(argv, env=None, timeout=60):
    return proc.run_client(argv, env, timeout)


def account_rows(s):
    return s.mysql_rows("SELECT id, contact, status FROM accounts ORDER BY id")


def certbot(s, work):
    exe = shutil.which("certbot")
    if not exe:
        tap.ok(False, "certbot installed (Debian package certbot)")
        return
    env = dict(os.environ, REQUESTS_CA_BUNDLE=s.ca_file)
    common = ["--server", s.directory_url, "--config-dir", os.path.join(work, "config"),
              "--work-dir", os.path.join(work, "work"), "--logs-dir", os.path.join(work, "logs"),
              "--non-interactive"]

    def step(args, name):
        r = run([exe] + args + common, env)
        if not tap.is_(r.returncode, 0, "certbot %s" % name):
            tap.diag(r.stdout[-3000:])
            log = os.path.join(work, "logs", "letsencrypt.log")
            if os.path.exists(log):
                with open(log) as f:
                    tap.diag(f.read()[-4000:])
        return r

    before = len(account_rows(s))
    step(["register", "--agree-tos", "--no-eff-email", "-m", "first@example.org"], "register")
    rows = account_rows(s)
    tap.is_(len(rows), before + 1, "certbot register: one account row")
    if len(rows) != before + 1:
        return
    acct_id = rows[-1][0]
    tap.is_(json.loads(rows[-1][1]), ["mailto:first@example.org"], "contact stored")
    tap.is_(rows[-1][2], "valid", "account valid")

    step(["update_account", "-m", "second@example.org", "--no-eff-email"], "update_account")
    row = s.mysql_rows("SELECT contact, status FROM accounts WHERE id = %s" % acct_id)[0]
    tap.is_(json.loads(row[0]), ["mailto:second@example.org"], "new e-mail stored")

    step(["unregister"], "unregister")
    row = s.mysql_rows("SELECT status FROM accounts WHERE id = %s" % acct_id)[0]
    tap.is_(row[0], "deactivated", "account deactivated")


def lego(s, work):
    exe = shutil.which("lego")
    if not exe:
        tap.ok(False, "lego installed (Debian package lego)")
        return
    env = dict(os.environ, LEGO_CA_CERTIFICATES=s.ca_file)
    path = os.path.join(work, "lego")
    before = len(account_rows(s))
    # No order can succeed here (the name does not resolve to us; orders may not exist yet):
    # lego registers, then fails at the order. Only the registration is the subject.
    r = run([exe, "--accept-tos", "--email", "lego@example.org", "--server", s.directory_url,
             "--path", path, "--domains", "lego.invalid", "--http",
             "--http.port", "127.0.0.1:%d" % proc.free_port(), "run"], env, timeout=40)
    rows = account_rows(s)
    if not tap.is_(len(rows), before + 1, "lego registered an account"):
        tap.diag(r.stdout[-3000:])
        return
    tap.is_(json.loads(rows[-1][1]), ["mailto:lego@example.org"], "lego's contact stored")
    # `lego list --accounts` fails in Debian's lego 4.9 ("no such flag -email"): read the file.
    saved = glob.glob(os.path.join(path, "accounts", "*", "lego@example.org", "account.json"))
    tap.is_(len(saved), 1, "lego saved its account")
    if saved:
        with open(saved[0]) as f:
            reg = json.load(f).get("registration", {})
        tap.ok(reg.get("uri", "").startswith(s.base + "/acme/"), "lego's account URL (%r)"
               % reg.get("uri"))
        tap.is_(reg.get("body", {}).get("status"), "valid", "lego's account is valid")


def main():
    proc.alarm(85)
    s = start_or_skip(workers=2)
    work = os.path.join(s.dir, "clients")
    certbot(s, os.path.join(work, "certbot"))
    lego(s, work)


tap.run(main)
