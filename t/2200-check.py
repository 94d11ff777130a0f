#!/usr/bin/python3
"""anvilctl check validates every section of the deployment file with each daemon's own parser,
names the dotted key of a mistake, and never prints the HSM PIN."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402


def main():
    proc.alarm(120)
    s = start_or_skip(workers=1, signer=True, jobs=True)
    good = json.load(open(s.config_path))
    pin = open(s.hsm.pin_file).read().strip()

    def check_with(mutate):
        cfg = json.loads(json.dumps(good))
        mutate(cfg)
        with open(s.config_path, "w") as f:
            json.dump(cfg, f)
        return s.anvilctl("check", check=False)

    r = check_with(lambda c: None)
    tap.is_(r.returncode, 0, "the generated configuration is valid")
    cases = [
        ("fcgi", lambda c: c["fcgi"].__setitem__("workers", "two"), "fcgi.workers"),
        ("jobs", lambda c: c["jobs"].__setitem__("bogus_key", 1), "jobs.bogus_key"),
        ("signer", lambda c: c["signer"].__setitem__("sessions", "two"), "signer.sessions"),
        ("profiles", lambda c: c["profiles"]["default"].__setitem__("validity_days", "x"),
         "profiles.default.validity_days"),
        ("crl", lambda c: c["crl"].__setitem__("interval_seconds", 7 * 86400),
         "crl.interval_seconds"),
        ("signer permissions", lambda c: c["signer"].pop("permissions"), "signer.permissions"),
        ("top level", lambda c: c.__setitem__("surprise", {}), "surprise"),
    ]
    for name, mutate, key in cases:
        r = check_with(mutate)
        tap.ok(r.returncode == 1 and key in r.stderr,
               "a mistake in %s fails and names %s" % (name, key)) or tap.diag(r.stderr)
        tap.ok(pin not in r.stdout + r.stderr, "the PIN is not printed (%s)" % name)
    with open(s.config_path, "w") as f:
        json.dump(good, f)


tap.run(main)
