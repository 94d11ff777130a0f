#!/usr/bin/python3
"""anvilctl hsm (through libp11) against SoftHSM2 tokens: `slots` lists every slot and token
and marks the signer's; `keys` lists the keys `anvilctl init` made, with their types and the
issuers using them, for the signer's token or --token LABEL; `login-test` logs in with the
configured PIN, a CloudHSM-style USER:PASSWORD, from a PIN file or inline; a wrong PIN, an
unknown token or a missing module exits 1 with a message naming the config key."""
import copy
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402


def main():
    proc.alarm(120)
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm)
    signer.ceremony(t, conf, hsm)
    # A second token in the same SoftHSM2 store: slots shows both.
    proc.run(["softhsm2-util", "--init-token", "--free", "--label", "other",
              "--pin", "1234", "--so-pin", "5678"], env=hsm.env())
    ctl = proc.builddir_path("tools", "anvilctl", "anvilctl")

    def run(cfg, *args):
        path = signer.write_config(t, cfg, "hsm.json")
        # Full stacks, so that t/lsan.supp's libp11 line matches (it says why).
        env = hsm.env()
        env["ASAN_OPTIONS"] = "fast_unwind_on_malloc=0" + \
            (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
        return subprocess.run([ctl, "-c", path, "hsm"] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, env=env)

    # --- slots ---
    r = run(conf, "slots", "--json")
    if not tap.is_(r.returncode, 0, "hsm slots --json"):
        tap.diag(r.stderr)
    slots = json.loads(r.stdout or "[]")
    labels = [s["token"]["label"] for s in slots if s.get("token") and
              s["token"].get("initialized")]
    tap.is_(sorted(labels), ["anvil", "other"], "both initialised tokens listed")
    mine = [s for s in slots if s.get("configured")]
    tap.is_([s["token"]["label"] for s in mine], ["anvil"], "the signer's token is marked")
    tap.ok(all(isinstance(s.get("slot_id"), int) for s in slots), "slot ids are numbers")
    tap.ok(any(s.get("token") and s["token"].get("model") == "SoftHSM v2" for s in slots),
           "the token's model")
    r = run(conf, "slots")
    tap.ok(r.returncode == 0 and "(signer)" in r.stdout and "other" in r.stdout,
           "hsm slots: a table")

    # --- keys ---
    r = run(conf, "keys", "--json")
    if not tap.is_(r.returncode, 0, "hsm keys --json"):
        tap.diag(r.stderr)
    keys = json.loads(r.stdout or "[]")
    priv = {k["label"]: k for k in keys if k["class"] == "private"}
    for label, typ, issuer in (("anvil-root", "ecdsa-p256", "root"),
                               ("anvil-int-ec", "ecdsa-p256", "int-ec"),
                               ("anvil-int-rsa", "rsa-2048", "int-rsa")):
        k = priv.get(label, {})
        tap.is_((k.get("type"), k.get("issuers")), (typ, [issuer]),
                "key %s: %s, used by issuer %s" % (label, typ, issuer))
    tap.ok(any(k["class"] == "public" for k in keys), "public keys listed too")
    tap.ok(all(len(k["id"]) > 0 for k in priv.values()), "each key has its CKA_ID")
    r = run(conf, "keys")
    tap.ok(r.returncode == 0 and "anvil-int-ec" in r.stdout and "rsa-2048" in r.stdout,
           "hsm keys: a table")
    r = run(conf, "keys", "--token", "other", "--json")
    tap.ok(r.returncode == 1 and "login to token 'other' failed" in r.stderr and
           "signer.pin" in r.stderr, "keys of another token: logs in with signer.pin (refused)")
    r = run(conf, "keys", "--token", "nosuch")
    tap.ok(r.returncode == 1 and "no token labelled 'nosuch'" in r.stderr,
           "--token of no token: an error")

    # --- login-test: PIN file, inline, wrong ---
    tap.ok(":" in hsm.pin, "the PIN has CloudHSM's USER:PASSWORD shape")
    r = run(conf, "login-test")
    tap.ok(r.returncode == 0 and "login OK" in r.stdout, "login-test with the PIN file")
    inline = copy.deepcopy(conf)
    inline["signer"]["pin"] = hsm.pin
    r = run(inline, "login-test")
    tap.ok(r.returncode == 0 and "login OK" in r.stdout, "login-test with the PIN inline")
    wrong = copy.deepcopy(conf)
    wrong["signer"]["pin"] = hsm.pin.split(":")[0] + ":wrong"
    r = run(wrong, "login-test")
    tap.is_(r.returncode, 1, "a wrong PIN: exit 1")
    tap.ok("signer.pin" in r.stderr and "PIN INCORRECT" in r.stderr.upper().replace("_", " "),
           "the message names signer.pin and the module's reason (%s)" % r.stderr.strip())
    r = run(conf, "login-test")
    tap.ok(r.returncode == 0, "the right PIN still logs in after one wrong try")
    by_slot = copy.deepcopy(conf)
    del by_slot["signer"]["token_label"]
    by_slot["signer"]["slot_id"] = 424242
    r = run(by_slot, "login-test")
    tap.ok(r.returncode == 1 and "signer.slot_id" in r.stderr, "an unknown slot_id names the key")
    bad_module = copy.deepcopy(conf)
    bad_module["signer"]["module"] = "/nonexistent/libpkcs11.so"
    r = run(bad_module, "slots")
    tap.ok(r.returncode == 1 and "signer.module" in r.stderr, "a missing module names the key")
    r = run(conf, "bogus")
    tap.is_(r.returncode, 2, "an unknown subcommand: usage")


tap.run(main)
