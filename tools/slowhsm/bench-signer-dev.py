#!/usr/bin/python3
"""Reproduces the figures of doc/signer.md on a development machine: a private SoftHSM2 token,
the ceremony, anvil-signer, then `anvilctl bench-signer` against it.

    ANVIL_BUILDDIR=build-rel tools/slowhsm/bench-signer-dev.py softhsm -n 2 -s 3 -R 3 -C 4 -i int-ec
    SESSIONS=2 ANVIL_BUILDDIR=build-rel tools/slowhsm/bench-signer-dev.py slow -n 2 -s 5 -R 3 -C 4 -i int-ec

`slow` puts the slow-HSM module (330 signatures/s, one at a time) in front of SoftHSM2. Use a
build without sanitizers. Arguments after the mode go to bench-signer."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "t",
                                "lib"))
import proc  # noqa: E402
import signer  # noqa: E402


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "softhsm"
    args = sys.argv[2:]
    sessions = int(os.environ.get("SESSIONS", "2"))
    t = proc.tmpdir()
    hsm = signer.SoftHSM(t)
    conf = signer.signer_config(t, hsm, sessions=sessions, queue_max=1024, max_per_peer=256)
    signer.ceremony(t, conf, hsm)
    env = None
    if mode == "slow":
        conf = signer.signer_config(t, hsm, sessions=sessions, queue_max=1024, max_per_peer=256,
                                    module=proc.builddir_path("tools", "slowhsm", ".libs",
                                                              "anvil-slowhsm.so"))
        env = dict(os.environ, ANVIL_SLOWHSM_SIGN_US=os.environ.get("SIGN_US", "3030"),
                   ANVIL_SLOWHSM_MAX_CONCURRENT="1")
    p, sock = signer.start_signer(t, conf, hsm, env=env)
    cfg = signer.write_config(t, conf, "bench.json")
    cmd = [proc.builddir_path("tools", "anvilctl", "anvilctl"), "-c", cfg, "bench-signer"] + args
    print("#", " ".join(cmd), flush=True)
    subprocess.run(cmd, env=hsm.env(env))
    print("# daemon stats:", signer.Client(sock).stats(), flush=True)
    p.stop()


main()
