#!/usr/bin/python3
"""Each http-01 validation opens a connection of its own to the address it resolved, even when
the target keeps connections alive (most web servers do): curl's connection cache matches by
name and port, and a reused connection would skip the validator's address check (va/http01.c
on_open: the resolved address, the address policy) and record an address it did not use."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

NAME = "kept.example.test"


def main():
    proc.alarm(90)
    if not os.access(proc.builddir_path("jobs", "anvil-jobs"), os.X_OK):
        tap.skip_all("anvil-jobs not built")
    web = HTTPTarget(keep_alive=True)
    s = start_or_skip(signer=True, jobs={"validation": {"http01_port": web.port}},
                      config={"acme": {"validation_wait_ms": 4000, "authz_reuse": 0}})
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account")
    statuses = []
    for _ in range(3):
        o = c.new_order([NAME])
        url = o.json()["authorizations"][0]
        ch = c.challenge_of(c.get_authz(url).json(), "http-01")
        web.set("/.well-known/acme-challenge/" + ch["token"], c.key_authorization(ch["token"]))
        c.respond_challenge(ch["url"])
        statuses.append(c.poll(url, timeout=20).json().get("status"))
    tap.is_(statuses, ["valid"] * 3, "three validations of one name, the target keeping "
            "connections alive")
    tap.is_(web.connections, 3, "each on a connection of its own (a reused one skips the "
            "address check)")
    s.stop()
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
