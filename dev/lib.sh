# Shared by dev/up and dev/test (sourced, bash): the Debian packages the stack and the tests
# need (the list of the design, plus iproute2 for `ss` in the tests), installed when missing,
# and an out-of-tree build.

ANVIL_PACKAGES="build-essential autoconf automake libtool pkg-config libfcgi-dev libssl-dev
libjson-c-dev libp11-dev libmariadb-dev libcurl4-openssl-dev libc-ares-dev mariadb-server
mariadb-client nginx softhsm2 opensc python3 python3-cryptography python3-requests certbot lego
uacme dehydrated pebble wrk clang libclang-rt-14-dev iproute2"

say() { printf '%s\n' "$*" >&2; }
die() { say "$(basename "$0"): $*"; exit 1; }

# Installs the packages that dpkg does not report as installed (one dpkg-query when all are
# present, so a second run costs nothing). apt-get update runs once, only when needed.
ensure_packages() {
	local missing=() p installed
	# shellcheck disable=SC2086
	installed=" $(dpkg-query -W -f='${Package}:${Status}\n' $ANVIL_PACKAGES 2>/dev/null |
	    sed -n 's/:install ok installed$//p' | tr '\n' ' ') "
	for p in $ANVIL_PACKAGES; do
		case "$installed" in *" $p "*) ;; *) missing+=("$p") ;; esac
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	say "installing: ${missing[*]}"
	local sudo=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
		sudo=sudo
	fi
	export DEBIAN_FRONTEND=noninteractive
	# Fresh machines (and CI images) often have empty package lists.
	if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1 ||
	    ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
		$sudo apt-get update -q || die "apt-get update failed"
		$sudo apt-get install -y --no-install-recommends "${missing[@]}" ||
		    die "apt-get install failed"
	fi
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
