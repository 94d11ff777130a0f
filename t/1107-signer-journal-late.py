#!/usr/bin/python3
"""anvil-signer looks its journal up before any check of the clock (issue 12): a retry whose
TBS matches what it signed gets the journaled bytes even when the validity window has moved on
since (an order finished by anvil-jobs an hour later), so a signed certificate never exists only
in the journal while its order turns invalid. A new signature is still checked against the
clock.

Time is moved by the profile instead of waiting an hour: the first signatures are made with a
notBefore 3,500 s old under backdate_seconds 3600, then the signer restarts with 300, which
makes that notBefore as stale as it would be an hour later."""
import os
import sys
import time

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
    p, sock = signer.start_signer(t, conf, hsm, log=os.path.join(t, "signer1.log"))
    c = signer.Client(sock)
    nb = int(time.time()) - 3500
    spki = signer.spki_der()
    cert_args = ("rsa", signer.new_serial(), spki, [("dns", "late.example.com")], nb,
                 nb + 86400)
    pre_args = ("default", signer.new_serial(), spki, [("dns", "late-pre.example.com")], nb,
                nb + 86400)
    first_cert = c.cert(*cert_args)
    first_pre = c.precert(*pre_args)
    tap.is_(first_cert[0], 0, "a certificate signed with a notBefore 3,500 s old")
    tap.is_(first_pre[0], 0, "a precertificate likewise")
    c.close()
    p.stop()

    for name in ("rsa", "default"):
        conf["profiles"][name]["backdate_seconds"] = 300
    p, sock = signer.start_signer(t, conf, hsm, log=os.path.join(t, "signer2.log"))
    c = signer.Client(sock)
    r = c.cert(*cert_args)
    if not tap.is_(r[0], 0, "later: the same certificate request is answered"):
        tap.diag("status %s" % signer.AE_NAME.get(r[0], r[0]))
    tap.is_(r[2], first_cert[2], "with the journaled bytes")
    r = c.precert(*pre_args)
    tap.is_(r[0], 0, "later: the same precertificate request is answered")
    tap.is_(r[2], first_pre[2], "with the journaled bytes")
    r = c.cert("rsa", signer.new_serial(), spki, [("dns", "late.example.com")], nb, nb + 86400)
    tap.is_(r[0], signer.AE["SIGNER_VALIDITY"],
            "a new serial with that notBefore is refused: new signatures still obey the clock")
    r = c.cert(cert_args[0], cert_args[1], spki, [("dns", "other.example.com")], nb, nb + 86400)
    tap.is_(r[0], signer.AE["SIGNER_DUPLICATE"],
            "the journaled serial with another TBS is still a duplicate")
    c.close()
    p.stop()
    log = open(os.path.join(t, "signer2.log")).read()
    tap.ok("replay=1" in log, "the replays are audited as such")
    tap.ok("Sanitizer" not in log and "runtime error" not in log, "no sanitizer report")
    tap.done()


if __name__ == "__main__":
    main()
