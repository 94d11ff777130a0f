#!/usr/bin/python3
"""certbot (Debian) with External Account Binding keys from `anvilctl eab add`, on a stack that
requires EAB (--eab-kid/--eab-hmac-key): a key with --accounts 2 registers two certbot accounts
and refuses a third; an expired and a revoked key are refused, certbot showing why; an account
of an unscoped key gets a certificate over http-01; an account of a key scoped to another
profile is refused at newOrder, the problem naming the profile; lego registers with a key
too; `eab list --json` counts."""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402


def main():
    proc.alarm(170)
    exe = shutil.which("certbot")
    if not exe:
        tap.skip_all("certbot not installed (Debian package certbot)")
    port = proc.free_port()
    # The signer's "default" profile asks for CT (this stack runs no CT logs): CT-less ones.
    s = start_or_skip(workers=2, signer=True, jobs={"validation": {"http01_port": port}},
                      config={"acme": {"default_profile": "e2e",
                                       "external_account_required": True},
                              "profiles": {"e2e": {"issuer": "int-ec", "validity_days": 90,
                                                   "ct": False},
                                           "other": {"issuer": "int-ec", "validity_days": 30,
                                                     "ct": False}}})
    env = dict(os.environ, REQUESTS_CA_BUNDLE=s.ca_file)

    def certbot(name, args):
        """certbot with its own config dir per name (one account each); (rc, log text)."""
        work = os.path.join(s.dir, "certbot", name)
        r = proc.run_client([exe] + args + [
            "--server", s.directory_url, "--config-dir", os.path.join(work, "config"),
            "--work-dir", os.path.join(work, "work"), "--logs-dir", os.path.join(work, "logs"),
            "--non-interactive", "--agree-tos", "--no-eff-email", "-m", name + "@example.org"],
            env, 60)
        log = ""
        path = os.path.join(work, "logs", "letsencrypt.log")
        if os.path.exists(path):
            with open(path) as f:
                log = f.read()
        return r.returncode, r.stdout + log

    def register(name, kid, key):
        return certbot(name, ["register", "--eab-kid", kid, "--eab-hmac-key", key])

    def expect(ok, got, what):
        rc, out = got
        if not tap.ok((rc == 0) == ok, what):
            tap.diag(out[-4000:])
        return out

    def eab_add(*args):
        return s.anvilctl("eab", "add", *args).stdout.strip()

    # --- a limit of two ---
    key = eab_add("--kid", "fleet", "--accounts", "2")
    expect(True, register("one", "fleet", key), "certbot register with the fleet key")
    expect(True, register("two", "fleet", key), "a second certbot account with the same key")
    out = expect(False, register("three", "fleet", key), "a third is refused")
    tap.ok("limit of 2" in out, "certbot shows the limit")
    tap.is_(s.mysql("SELECT COUNT(*) FROM accounts WHERE eab_kid = 'fleet'").strip(), "2",
            "two accounts bound to the key")
    out = expect(False, certbot("none", ["register"]), "certbot without EAB is refused")
    tap.ok("externalAccountRequired" in out, "certbot was told externalAccountRequired")

    # --- expired, revoked ---
    key_old = eab_add("--kid", "old", "--expires", "1h")
    s.mysql("UPDATE eab_keys SET expires = UNIX_TIMESTAMP() - 60 WHERE kid = 'old'")
    out = expect(False, register("expired", "old", key_old), "an expired key is refused")
    tap.ok("expired" in out, "certbot shows that it expired")
    key_gone = eab_add("--kid", "gone", "--accounts", "unlimited")
    s.anvilctl("eab", "revoke", "gone")
    out = expect(False, register("revoked", "gone", key_gone), "a revoked key is refused")
    tap.ok("revoked" in out, "certbot shows that it was revoked")

    # --- issuance with an EAB account; the scope at newOrder ---
    standalone = ["certonly", "--standalone", "--http-01-port", str(port),
                  "--http-01-address", "127.0.0.1", "--key-type", "ecdsa"]
    expect(True, certbot("one", standalone + ["-d", "fleet.example.test"]),
           "the fleet key's account gets a certificate")
    live = os.path.join(s.dir, "certbot", "one", "config", "live", "fleet.example.test")
    r = proc.run(["openssl", "verify", "-CAfile", s.config["issuers"]["root"]["cert"],
                  "-untrusted", os.path.join(live, "chain.pem"),
                  os.path.join(live, "cert.pem")], check=False)
    tap.is_(r.returncode, 0, "openssl verifies it against the ceremony root")
    key_scoped = eab_add("--kid", "scoped", "--profiles", "other")
    expect(True, register("scoped", "scoped", key_scoped), "certbot registers a scoped key")
    out = expect(False, certbot("scoped", standalone + ["-d", "scoped.example.test"]),
                 "its order for the default profile is refused")
    tap.ok("does not allow the profile e2e" in out, "certbot shows the profile")
    tap.is_(s.mysql("SELECT COUNT(*) FROM orders o JOIN accounts a ON a.id = o.account_id "
                    "WHERE a.eab_kid = 'scoped'").strip(), "0", "no order was created")

    # --- lego (Debian's) with the same kind of key: its binding is accepted too ---
    lego = shutil.which("lego")
    if lego:
        key_lego = eab_add("--kid", "lego-key")
        # No order can succeed (the name is not ours): lego registers, then fails at the order.
        proc.run_client([lego, "--accept-tos", "--email", "lego@example.org", "--server",
                         s.directory_url, "--path", os.path.join(s.dir, "lego"), "--eab",
                         "--kid", "lego-key", "--hmac", key_lego, "--domains", "lego.invalid",
                         "--http", "--http.port", "127.0.0.1:%d" % proc.free_port(), "run"],
                        dict(os.environ, LEGO_CA_CERTIFICATES=s.ca_file), 40)
        tap.is_(s.mysql("SELECT COUNT(*) FROM accounts WHERE eab_kid = 'lego-key'").strip(), "1",
                "lego registered with its EAB key")
    else:
        tap.ok(False, "lego installed (Debian package lego)")

    keys = {k["kid"]: k for k in json.loads(s.anvilctl("eab", "list", "--json").stdout)}
    tap.is_([(keys[k]["accounts"], keys[k]["state"]) for k in ("fleet", "old", "gone", "scoped")],
            [(2, "used"), (0, "expired"), (0, "revoked"), (1, "used")],
            "eab list --json: what each key bound, its state")


if __name__ == "__main__":
    tap.run(main)
