#!/usr/bin/python3
"""The `ct` section is validated where issuance validates its profiles: anvil-fcgi --check and
anvilctl check accept a good one and refuse each mistake with the dotted key named: a CT
profile without a policy, a policy that does not exist, a policy for a profile without CT or
for no profile at all, a bad log key, an unknown key, a policy that cannot be met."""
import copy
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import ctlog  # noqa: E402
import proc  # noqa: E402
import signer  # noqa: E402
import tap  # noqa: E402


class FakeHSM:
    """What signer_config reads of a token: --check never opens the module."""
    def __init__(self, t):
        self.label = "anvil"
        self.pin_file = os.path.join(t, "pin")
        with open(self.pin_file, "w") as f:
            f.write("1234\n")


def main():
    proc.alarm(60)
    t = proc.tmpdir()
    base = signer.signer_config(t, FakeHSM(t))
    base.update({
        "database": {"host": "127.0.0.1", "port": 3306, "user": "anvil", "password": "x",
                     "name": "anvil"},
        "fcgi": {"socket": os.path.join(t, "fcgi.sock"), "workers": 1},
        "acme": {"base_url": "https://127.0.0.1:8443"},
        "nonce": {"key": "00" * 32},
        # Issuers with ocsp_url publish their responses (ocsp/README.md).
        "ocsp": {"dir": os.path.join(t, "ocsp")},
        "crl": {"dir": os.path.join(t, "crl")},
    })
    keys = [ctlog.CTLog().key_b64() for _ in range(4)]
    ct = {
        "logs": {
            "a1": {"url": "https://ct.a.test/a1/", "key": keys[0], "operator": "A"},
            "a2": {"url": "https://ct.a.test/a2/", "key": keys[1], "operator": "A",
                   "state": "readonly"},
            "b1": {"url": "https://ct.b.test/b1/", "key": keys[2], "operator": "B",
                   "not_after_start": "2026-01-01T00:00:00Z",
                   "not_after_end": "2031-01-01T00:00:00Z"},
            "c1": {"url": "https://ct.c.test/c1/", "key": keys[3], "operator": "C"},
        },
        "policies": {"web": {"logs": ["a1", "a2", "b1"], "informational": ["c1"],
                             "final_certificates": ["a1"], "log_timeout_ms": 800,
                             "deadline_ms": 1500}},
        "profiles": {"default": "web", "shortlived": "web"},
    }

    def check(cfg):
        path = signer.write_config(t, cfg, "check.json")
        a = proc.run([proc.builddir_path("fcgi", "anvil-fcgi"), "-c", path, "--check"],
                     check=False)
        b = proc.run([proc.builddir_path("tools", "anvilctl", "anvilctl"), "-c", path, "check"],
                     check=False)
        return a.returncode, a.stdout.decode(), b.returncode, b.stdout.decode()

    r = check(base)
    tap.ok(r[0] == 0 and r[2] == 0, "no ct section: accepted by both") or tap.diag(r)
    good = dict(base, ct=ct)
    r = check(good)
    tap.ok(r[0] == 0 and r[2] == 0, "a good ct section: accepted by both") or tap.diag(r)

    def mutated(f):
        c = copy.deepcopy(good)
        f(c["ct"])
        return c

    cases = [
        ("a CT profile without a policy",
         lambda c: c["profiles"].pop("shortlived"),
         'ct.profiles.shortlived: profile "shortlived" has "ct": true but names no CT policy'),
        ("a profile naming a policy that does not exist",
         lambda c: c["profiles"].__setitem__("default", "chrome"),
         'ct.profiles.default: no policy "chrome" in ct.policies'),
        ("a policy for a profile without CT",
         lambda c: c["profiles"].__setitem__("rsa", "web"),
         'ct.profiles.rsa: profile "rsa" has "ct": false'),
        ("a policy for a profile that does not exist",
         lambda c: c["profiles"].__setitem__("defualt", "web"),
         "ct.profiles.defualt: no such profile"),
        ("a log key that is not a key",
         lambda c: c["logs"]["b1"].__setitem__("key", "bm90IGEga2V5"),
         "ct.logs.b1.key: not a DER SubjectPublicKeyInfo"),
        ("an unknown key",
         lambda c: c["policies"]["web"].__setitem__("min_sct", 2),
         "ct.policies.web.min_sct: unknown key"),
        ("a policy left with logs of one operator",
         lambda c: c["logs"]["b1"].__setitem__("state", "retired"),
         "ct.policies.web.logs: needs usable logs of 2 distinct operators, has 1"),
        ("a final-certificate log that takes no submissions",
         lambda c: c["policies"]["web"].__setitem__("final_certificates", ["a2"]),
         'ct.policies.web.final_certificates: log "a2" is not usable'),
    ]
    for what, f, want in cases:
        r = check(mutated(f))
        tap.ok(r[0] == 1 and want in r[1], "anvil-fcgi --check refuses %s" % what) or \
            tap.diag(r[1])
        tap.ok(r[2] == 1 and want in r[3], "anvilctl check refuses %s" % what) or tap.diag(r[3])


tap.run(main)
