#!/usr/bin/python3
"""The HSM PIN never stays in the memory of a process that does not sign (issue 12, item 12).

The signer's section holds the token's real PIN inline (a working deployment: the signer logs in
with it). The memory of anvil-fcgi's master and workers, anvil-jobs and anvil-ocsp is read
through /proc/PID/mem (root) after start, after requests and after a reload: the PIN's random
part must not be found. The signer itself keeps the PIN (it needs it to log in again after a
device reset): finding it there shows the scan sees a process's heap."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from stack import start_or_skip  # noqa: E402

# ASan's shadow is terabytes of mapped address space with no copy of any data in it.
REGION_MAX = 1 << 30


def memory_holds(pid, needle):
    """True when a readable mapping of pid contains needle."""
    found = False
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if perms[0] != "r" or end - start > REGION_MAX or "[vvar" in line:
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            if needle in data:
                found = True
                break
    return found


def main():
    if os.geteuid() != 0:
        tap.skip_all("reading another process's memory needs root")
    proc.alarm(240)
    s = start_or_skip(workers=2, signer=True, jobs=True, start=False)
    pin = s.hsm.pin
    needle = pin.rsplit(":", 1)[-1].encode()
    tap.ok(len(needle) >= 16, "the PIN has a random part to look for (%d chars)" % len(needle))
    cfg = dict(s.config)
    cfg["signer"] = dict(cfg["signer"], pin=pin)
    s.write_config(cfg)
    with open(s.config_path, "rb") as f:
        tap.ok(needle in f.read(), "the config file holds the PIN inline")
    s.start()

    import acme
    c = acme.Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account(contact=["mailto:pin@example.org"]).status_code, 201,
            "the API works with this config")

    tap.ok(memory_holds(s.signer_proc.pid, needle),
           "control: the scan finds the PIN in anvil-signer, which needs it")

    def check(when):
        master = s.fcgi_master_pid()
        workers = s.wait_workers(2)
        tap.ok(not memory_holds(master, needle), "%s: not in anvil-fcgi's master" % when)
        for i, w in enumerate(workers):
            tap.ok(not memory_holds(w, needle), "%s: not in anvil-fcgi worker %d" % (when, i))
        for name, p in s.jobs.runners.items():
            tap.ok(not memory_holds(p.pid, needle), "%s: not in %s" % (when, name))
        for i, p in enumerate(s.responder.pids()):
            tap.ok(not memory_holds(p, needle), "%s: not in anvil-ocsp process %d" % (when, i))
        return workers

    before = check("after start")
    s.reload_fcgi()
    s.wait_workers(2, exclude=before)
    tap.is_(c.post_as_get(c.kid).status_code, 200, "the API answers after the reload")
    check("after SIGHUP")
    import issuance
    issuance.check_sanitizers(s)


if __name__ == "__main__":
    tap.run(main)
