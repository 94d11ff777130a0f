#!/bin/sh
# Runs tools/check-src over the source tree: banned libc calls fail the suite (STYLE.md habit 8).
srcdir=${ANVIL_SRCDIR:-$(dirname "$0")/..}
echo "1..1"
if out=$(sh "$srcdir/tools/check-src" "$srcdir" 2>&1); then
	echo "ok 1 - no banned functions"
else
	echo "not ok 1 - banned functions"
	printf '%s\n' "$out" | sed 's/^/# /'
fi
