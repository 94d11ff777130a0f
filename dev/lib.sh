# Shared by dev/up, dev/test, dev/down, dev/fuzz and dev/fresh (sourced, bash): the Debian
# packages the stack and the tests need, installed when missing, and an out-of-tree build.
#
# Every package a fresh Debian 12 (debootstrap --variant=minbase) lacks is named here, even
# when another one happens to pull it in: the build (build-essential, autotools, pkg-config and
# the -dev packages configure.ac checks, libp11-kit-dev for PKCS#11's pkcs11.h, libp11-dev for
# anvilctl hsm), the stack
# (mariadb, nginx, softhsm2, opensc's pkcs11-tool), the tests (python3 with cryptography and
# requests, perl for prove, openssl as the relying party, iproute2 for `ss`, the ACME clients,
# pebble's challtestsrv as the validation DNS, wrk, clang with its sanitizer runtime for
# dev/fuzz), ca-certificates for the clients' own TLS stacks, curl for the OCSP GET check
# dev/up prints, systemd for `systemd-analyze verify` of the units in init/ (installed only,
# never started: the tests work where systemd is not PID 1), libpsl-dev with publicsuffix
# for the registered domain of the rate limits (lib/regdomain.c); prometheus for `promtool
# check metrics` on /metrics and chromium to render the status page headless (t/3810, t/3820).
ANVIL_PACKAGES="build-essential autoconf automake libtool pkg-config libfcgi-dev libssl-dev
libjson-c-dev libp11-kit-dev libp11-dev libmariadb-dev libcurl4-openssl-dev libc-ares-dev mariadb-server
mariadb-client nginx softhsm2 opensc python3 python3-cryptography python3-requests perl openssl
ca-certificates curl systemd certbot lego uacme dehydrated pebble wrk clang libclang-rt-14-dev iproute2
prometheus chromium libpsl-dev publicsuffix"

say() { printf '%s\n' "$*" >&2; }
die() { say "$(basename "$0"): $*"; exit 1; }

# No silent exit under `set -e`: whatever command ends a script unexpectedly is named, with
# where it was (functions and subshells included, through errtrace).
set -E
trap 'anvil_rc=$?; say "$(basename "$0"): failed (exit $anvil_rc) at ${BASH_SOURCE[0]}:$LINENO: $BASH_COMMAND"' ERR

# Installs the packages that dpkg does not report as installed (one dpkg-query when all are
# present, so a second run costs nothing). apt-get update runs once, only when needed.
ensure_packages() {
	local missing=() p installed status
	# dpkg-query exits 1 when any package is unknown to dpkg (the normal case on a fresh
	# machine): its output for the others is still what counts.
	# shellcheck disable=SC2086
	status=$(dpkg-query -W -f='${Package}:${Status}\n' $ANVIL_PACKAGES 2>/dev/null || true)
	installed=" $(printf '%s\n' "$status" | sed -n 's/:install ok installed$//p' | tr '\n' ' ') "
	for p in $ANVIL_PACKAGES; do
		case "$installed" in *" $p "*) ;; *) missing+=("$p") ;; esac
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing Debian packages: ${missing[*]}"
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
		sudo=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	local log="${TMPDIR:-/tmp}/anvil-apt.log"
	# Fresh machines (and CI images) often have empty package lists: update first then.
	if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 ||
	    ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
		say "running apt-get update (log: $log)"
		$sudo apt-get update -q >"$log" 2>&1 || {
			tail -20 "$log" >&2
			die "apt-get update failed (log: $log)"
		}
		$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 || {
			tail -30 "$log" >&2
			die "apt-get install failed (log: $log)"
		}
	fi
	say "installed the ${#missing[@]} missing packages and their dependencies (log: $log)"
}

# build DIR [CONFIGURE-ARGS...]: autogen when needed; configure DIR when it has no Makefile, or
# when CONFIGURE-ARGS are given and differ from the ones it was configured with; then make.
# Output goes to DIR/configure.out and DIR/make.out; their tails are shown on failure.
build() {
	local dir=$1; shift
	local top; top=$(pwd)
	[ -x configure ] || ./autogen.sh >/dev/null || die "autogen.sh failed"
	mkdir -p "$dir"
	local have=
	[ -f "$dir/Makefile" ] && have=$(cd "$dir" && ./config.status --config 2>/dev/null | tr -d "'")
	if [ ! -f "$dir/Makefile" ] || { [ $# -gt 0 ] && [ "$have" != "$*" ]; }; then
		say "configuring $dir: $*"
		(cd "$dir" && "$top/configure" "$@" >configure.out 2>&1) || {
			tail -30 "$dir/configure.out" >&2
			die "configure failed (full log: $dir/configure.out)"
		}
	fi
	make -C "$dir" -j"$(nproc)" >"$dir/make.out" 2>&1 || {
		grep -E '(error|Error)' "$dir/make.out" | head -40 >&2
		tail -20 "$dir/make.out" >&2
		die "make failed (full log: $dir/make.out)"
	}
}
