"""Minimal TAP producer for the Python integration tests (run by prove with --exec '')."""
import json
import sys
import traceback

_n = 0
_failed = 0


def ok(cond, name):
    global _n, _failed
    _n += 1
    if not cond:
        _failed += 1
    print("%sok %d - %s" % ("" if cond else "not ", _n, name), flush=True)
    return bool(cond)


def todo(cond, name, reason):
    """A known bug owned elsewhere: reported (TAP TODO), not counted as a failure until fixed;
    prove lists it as "unexpectedly succeeded" once it passes."""
    global _n
    _n += 1
    print("%sok %d - %s # TODO %s" % ("" if cond else "not ", _n, name, reason), flush=True)
    return bool(cond)


def is_(got, want, name):
    if not ok(got == want, name):
        diag("got:  %r" % (got,))
        diag("want: %r" % (want,))
        return False
    return True


def skip(reason):
    """One test that cannot run here (TAP SKIP), with why."""
    global _n
    _n += 1
    print("ok %d # SKIP %s" % (_n, reason), flush=True)


def diag(msg):
    for line in str(msg).splitlines() or [""]:
        print("# " + line, flush=True)


def dump(name, obj):
    diag("%s: %s" % (name, json.dumps(obj, indent=1, default=str)))


def skip_all(reason):
    print("1..0 # SKIP %s" % reason, flush=True)
    sys.exit(0)


def done():
    print("1..%d" % _n, flush=True)
    sys.exit(1 if _failed else 0)


def run(main):
    """Runs main(); an exception is a failed test, never a silent pass."""
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        ok(False, "test body raised")
        diag(traceback.format_exc())
    done()
