#!/usr/bin/python3
"""The target's A and AAAA are asked for with the identifier's first CAA query, not after the
CAA climb (va/resolve.c va_target_ahead), and CAA still decides first: against a resolver in
this file that answers CAA slowly and records every query, an http-01 validation's A query
comes before its first CAA answer and the validation is valid; a name whose CAA names another
CA is `caa` and its web server is never asked, though its address was known; a redirect to
another name resolves that name then."""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import proc  # noqa: E402
import tap  # noqa: E402
from acme import Client  # noqa: E402
from challsrv import HTTPTarget  # noqa: E402
from stack import start_or_skip  # noqa: E402

ERR = "urn:ietf:params:acme:error:"
T_A, T_AAAA, T_CAA = 1, 28, 257
CAA_DELAY = 0.4   # s; under the stack's dns_timeout_ms (1000)


class SlowCAAResolver:
    """UDP DNS on 127.0.0.1: A is 127.0.0.1, AAAA has no records, CAA is answered CAA_DELAY
    late, with caa[name] = [(tag, value)] or no records. queries: [(time, name, type)]."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.caa, self.queries, self.lock = {}, [], threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                q, peer = self.sock.recvfrom(512)
                self._one(q, peer)
            except (OSError, ValueError, struct.error, IndexError):
                continue

    def _one(self, q, peer):
        i, labels = 12, []
        while q[i]:
            labels.append(q[i + 1:i + 1 + q[i]].decode().lower())
            i += 1 + q[i]
        qtype, _ = struct.unpack("!HH", q[i + 1:i + 5])
        name, question = ".".join(labels), q[12:i + 5]
        with self.lock:
            self.queries.append((time.monotonic(), name, qtype))
        answers = []
        if qtype == T_A:
            answers.append((T_A, socket.inet_aton("127.0.0.1")))
        elif qtype == T_CAA:
            for tag, value in self.caa.get(name, []):
                answers.append((T_CAA, bytes([0, len(tag)]) + tag.encode() + value.encode()))
        out = q[:2] + struct.pack("!HHHHH", 0x8180, 1, len(answers), 0, 0) + question
        for typ, rdata in answers:
            out += struct.pack("!HHHIH", 0xc00c, typ, 1, 60, len(rdata)) + rdata
        if qtype == T_CAA:
            threading.Timer(CAA_DELAY, self.sock.sendto, (out, peer)).start()
        else:
            self.sock.sendto(out, peer)

    def asked(self, name, qtype):
        with self.lock:
            return [t for t, n, ty in self.queries if n == name and ty == qtype]


def main():
    proc.alarm(85)
    dns = SlowCAAResolver()
    web = HTTPTarget()
    s = start_or_skip(workers=1, jobs={"validation": {
        "resolvers": ["127.0.0.1:%d" % dns.port], "http01_port": web.port}})
    ours = s.config["jobs"]["validation"]["caa_identities"][0]
    c = Client(s.directory_url, s.ca_file)
    tap.is_(c.new_account().status_code, 201, "account created")
    acct = s.jobs.account(c)

    def run(ident, setup=None):
        ch = s.jobs.challenge(acct, "dns", ident, "http-01", profile="default")
        path = web.challenge(ch["token"], ch["keyauth"])
        if setup:
            setup(ch, path)
        s.jobs.queue(ch["id"])
        s.jobs.wake()
        return ch, path, s.jobs.wait_challenge(ch["id"])

    # No CAA anywhere: the climb asks ahead.example.test, example.test and test, each answered
    # CAA_DELAY late; the addresses were asked for with the first of them.
    name = "ahead.example.test"
    ch, path, row = run(name)
    if not tap.is_(row["status"], "valid", "valid through a slow CAA climb"):
        tap.dump("row", row)
    caa, a, aaaa = dns.asked(name, T_CAA), dns.asked(name, T_A), dns.asked(name, T_AAAA)
    tap.is_((len(caa), len(a), len(aaaa)), (1, 1, 1), "one CAA, one A, one AAAA query for it")
    tap.ok(len(dns.asked("example.test", T_CAA)) == 1 and len(dns.asked("test", T_CAA)) == 1,
           "the CAA climb still asks every parent")
    if caa and a and aaaa:
        tap.ok(max(a[0], aaaa[0]) - caa[0] < CAA_DELAY / 2,
               "A and AAAA asked before the first CAA answer (%.3f s after the CAA query)"
               % (max(a[0], aaaa[0]) - caa[0]))
    else:
        tap.ok(False, "A and AAAA asked before the first CAA answer")

    # CAA for another CA at the parent: caa, and the web server is not asked.
    dns.caa["deny.test"] = [("issue", "other-ca.example")]
    ch, path, row = run("no.deny.test")
    err = row["error"] or {}
    if not tap.ok(row["status"] == "invalid" and err.get("type") == ERR + "caa",
                  "CAA for another CA: caa, addresses known or not"):
        tap.dump("row", row)
    tap.is_(web.count(path), 0, "the web server was not asked")
    tap.is_(len(dns.asked("no.deny.test", T_A)), 1, "its A was asked for ahead")

    # CAA for us, and a redirect to another name: that name is resolved when the hop comes.
    dns.caa["ok.test"] = [("issue", ours)]

    def hop(ch, path):
        web.redirect(path, "http://other.ok.test:%d%s2" % (web.port, path))
        web.challenge(ch["token"] + "2", ch["keyauth"])
    ch, path, row = run("first.ok.test", hop)
    if not tap.is_(row["status"], "valid", "CAA for us and a redirect to another name: valid"):
        tap.dump("row", row)
    tap.is_((len(dns.asked("other.ok.test", T_A)), len(dns.asked("other.ok.test", T_CAA))),
            (1, 0), "the redirect's name resolved once, without CAA")
    hosts = [r.get("hostname") for r in (row["validation_record"] or [])]
    tap.is_(hosts, ["first.ok.test", "other.ok.test"], "a record per hop")


tap.run(main)
