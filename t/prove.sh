#!/bin/bash
# Runs every test under prove, in layer order: C tests from the build tree, scripts (.py, .sh)
# from the source tree. T (a glob on the basename, e.g. '3*') selects a subset.
# Several: an extended glob, T='@(1109*|7500*)'.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
shopt -s extglob
pattern=${T:-*}
[ -n "$pattern" ] || pattern='*'
list=$(
	for f in "$top_builddir"/t/[0-9][0-9][0-9][0-9]-* "$top_srcdir"/t/[0-9][0-9][0-9][0-9]-*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		case "$f" in *.c|*.o|*.h|*.in) continue ;; esac
		b=$(basename "$f")
		case "$b" in $pattern) printf '%s %s\n' "$b" "$f" ;; esac
	done | sort -u -k1,1 | cut -d' ' -f2-
)
[ -n "$list" ] || { echo "no tests match T=$pattern"; exit 1; }
export ANVIL_SRCDIR="$top_srcdir" ANVIL_BUILDDIR="$top_builddir"
# Leaks inside third-party libraries we cannot fix (listed with a reason in t/lsan.supp).
export LSAN_OPTIONS="suppressions=$top_srcdir/t/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# shellcheck disable=SC2086
exec prove --exec '' ${PROVE_FLAGS:-} $list
