#!/bin/sh
# PKCS#11 only in the signer (DESIGN.md; issue 12 item 17): the programs that parse hostile input
# or only read the policy (anvil-fcgi, anvil-jobs, anvil-ocsp) contain none of the signer's
# internals (p11, hsmkey, tbs, spki, journal: ca/libanvilsigner.a; external symbols, a static
# helper elsewhere may share a prefix), no dlopen of a module and no
# libp11; of anvilctl only the HSM commands (init, bench-signer, hsm, ceremony) reach PKCS#11.
builddir=${ANVIL_BUILDDIR:-$(dirname "$0")/../build-test}
internals='^(p11_|hsmkey_|tbs_|spki_|journal_|PKCS11_|C_GetFunctionList$|dlopen$)'
echo "1..4"
n=0
for bin in fcgi/anvil-fcgi jobs/anvil-jobs ocsp/anvil-ocsp; do
	n=$((n + 1))
	f="$builddir/$bin"
	if [ ! -x "$f" ]; then
		echo "ok $n # skip $bin not built"
		continue
	fi
	syms=$(nm -g "$f" 2>/dev/null | awk '{print $NF}' | grep -E "$internals" | sort -u)
	libs=$(readelf -d "$f" 2>/dev/null | grep NEEDED | grep -E 'libp11|libsofthsm' || true)
	if [ -z "$syms" ] && [ -z "$libs" ]; then
		echo "ok $n - $bin holds no PKCS#11 or signer-internal code"
	else
		echo "not ok $n - $bin holds signer internals"
		printf '%s\n' $syms $libs | sed 's/^/# /'
	fi
done
n=$((n + 1))
objs=$(ls "$builddir"/tools/anvilctl/*.o 2>/dev/null | grep -vE '(init|bench_signer|hsm|ceremony)\.o$')
if [ -z "$objs" ]; then
	echo "ok $n # skip anvilctl not built"
	exit 0
fi
bad=""
for o in $objs; do
	s=$(nm -u "$o" | awk '{print $NF}' | grep -E '^(p11_|hsmkey_|PKCS11_|dlopen$)' | sort -u)
	[ -n "$s" ] && bad="$bad $(basename "$o"):$(echo $s | tr ' ' ',')"
done
if [ -z "$bad" ]; then
	echo "ok $n - anvilctl: only init, bench-signer, hsm and ceremony reach PKCS#11"
else
	echo "not ok $n - anvilctl's non-HSM code reaches PKCS#11:$bad"
fi
