#!/usr/bin/python3
"""The tamper-evident audit chain (issue 14, item 4). On a real stack: every signature of the
signer (precertificates, certificates, OCSP responses) is a record of signer.state_dir/
audit.chain, each record's log line carries its seq and hash, and `anvilctl audit verify
--signer` walks the whole chain. anvilctl's own changes (revoke, block-key) go to its chain
(log.audit_file) with who ran them. Copies of both, tampered with (a record edited, one deleted,
two swapped, a torn last line, an edited record whose hash was recomputed), are each caught and
the first broken line named; a chain cut at its end verifies by itself but its head no longer
matches the last audit_hash of the log (doc/audit.md). A change anvilctl cannot audit is not
made."""
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import hashlib  # noqa: E402
import issuance  # noqa: E402
import proc  # noqa: E402
import tap  # noqa: E402


def verify(s, *args):
    r = s.anvilctl("audit", "verify", "--json", *args, check=False)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        tap.diag("anvilctl audit verify %s: %d %s %s" % (args, r.returncode, r.stdout, r.stderr))
        return r.returncode, {}


def lines_of(path):
    with open(path) as f:
        return f.read().splitlines(keepends=True)


def write(path, lines):
    with open(path, "w") as f:
        f.writelines(lines)


def rehash(line, prev):
    """The record as a forger who knows the format would rewrite it."""
    body = line.rstrip("\n")
    body = body[:body.rindex(" hash=")]
    body = re.sub(r" prev=[0-9a-f]{64} ", " prev=%s " % prev, body)
    h = hashlib.sha256(body.encode()).hexdigest()
    return body + " hash=" + h + "\n", h


def tamper_cases(s, chain, tmp, what):
    lines = lines_of(chain)
    n = len(lines)
    k = n // 2  # a record in the middle (0-based)
    cases = []
    edited = list(lines)
    edited[k] = edited[k].replace("result=", "result=x", 1) if "result=" in edited[k] \
        else edited[k].replace("by=", "by=x", 1)
    cases.append(("a record edited", edited, k + 1, "edited"))
    cases.append(("a record deleted", lines[:k] + lines[k + 1:], k + 1, "deleted"))
    swapped = list(lines)
    swapped[k], swapped[k + 1] = swapped[k + 1], swapped[k]
    cases.append(("two records swapped", swapped, k + 1, "moved"))
    cases.append(("a torn last line", lines[:-1] + [lines[-1].rstrip("\n")[:-10]], n, "torn"))
    # A forger rewrites record k with a fresh hash: the record after it no longer links.
    prev = re.search(r" prev=([0-9a-f]{64}) ", lines[k]).group(1)
    forged, _ = rehash(edited[k], prev)
    cases.append(("an edited record with its hash recomputed",
                  lines[:k] + [forged] + lines[k + 1:], k + 2, "deleted, inserted or moved"))
    for name, content, bad_line, word in cases:
        path = os.path.join(tmp, "tampered")
        write(path, content)
        rc, v = verify(s, path)
        tap.ok(rc == 1 and v.get("ok") is False and v.get("bad_line") == bad_line
               and word in v.get("error", ""),
               "%s: %s caught at line %d (%s)" % (what, name, bad_line, v.get("error")))
        if rc != 1 or v.get("bad_line") != bad_line:
            tap.diag("got %r" % v)


def main():
    proc.alarm(240)
    s = issuance.stack()
    c = issuance.account(s)
    certs = [issuance.issue(s, c, ["audit%d.example.com" % i])[0] for i in range(3)]
    chain = os.path.join(s.config["signer"]["state_dir"], "audit.chain")
    tmp = os.path.join(s.dir, "audit-tamper")
    os.makedirs(tmp)

    # --- the signer's chain ---
    rc, v = verify(s, "--signer")
    tap.ok(rc == 0 and v.get("ok") is True, "anvilctl audit verify --signer: chain whole (%s)" % v)
    lines = lines_of(chain)
    serials = [issuance.serial_hex(x) for x in certs]
    for sh in serials:
        kinds = sorted(re.search(r" what=(\w+) ", ln).group(1) for ln in lines
                       if " serial=%s " % sh.lower() in ln)
        tap.ok("cert" in kinds and "ocsp" in kinds,
               "serial %s: its signatures are records of the chain (%s)" % (sh, kinds))
    tap.is_(v.get("records"), len(lines), "verify counted every record")
    with open(s.signer_log) as f:
        logged = re.findall(r"audit_seq=(\d+) audit_hash=([0-9a-f]{64})", f.read())
    tap.ok(logged and logged[-1][1] == v.get("head") and int(logged[-1][0]) == len(lines),
           "the signer's last audit log line carries the chain's head (seq %s)"
           % (logged[-1][0] if logged else None))
    tamper_cases(s, chain, tmp, "signer chain")
    cut = os.path.join(tmp, "cut")
    write(cut, lines[:-2])
    rc, v = verify(s, cut)
    tap.ok(rc == 0 and v.get("head") != logged[-1][1],
           "a chain cut at its end verifies alone, but its head differs from the log's last "
           "audit_hash (what doc/audit.md has operators compare)")

    # --- anvilctl's chain ---
    ctl_chain = s.config["log"]["audit_file"]
    s.anvilctl("revoke", "--serial", serials[0], "--reason", "superseded")
    s.anvilctl("block-key", "ab" * 32, "--reason", "test")
    s.anvilctl("unblock-key", "ab" * 32)
    rc, v = verify(s)
    tap.ok(rc == 0 and v.get("records") == 3, "anvilctl audit verify: its own chain whole, "
           "3 records (%s)" % v)
    lines = lines_of(ctl_chain)
    tap.ok("revoke serial=%s" % serials[0].lower() in lines[0].lower() and " by=uid=" in lines[0],
           "the revoke record names the serial and who ran it")
    tamper_cases(s, ctl_chain, tmp, "anvilctl chain")

    # --- nothing changes that cannot be audited ---
    os.chmod(ctl_chain, 0o400)
    shutil.move(ctl_chain, ctl_chain + ".keep")
    os.mkdir(ctl_chain)  # a directory where the file should be: cannot be opened for writing
    r = s.anvilctl("block-key", "cd" * 32, check=False)
    got = s.mysql("SELECT COUNT(*) FROM blocked_keys WHERE spki_sha256 = UNHEX('%s')"
                  % ("cd" * 32)).strip()
    tap.ok(r.returncode == 1 and "log.audit_file" in r.stderr and got == "0",
           "block-key refused, naming log.audit_file, when its record cannot be written "
           "(exit %d, rows %s)" % (r.returncode, got))
    os.rmdir(ctl_chain)
    shutil.move(ctl_chain + ".keep", ctl_chain)
    issuance.check_sanitizers(s)


if __name__ == "__main__":
    tap.run(main)
