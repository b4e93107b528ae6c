#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Static checks: checkpatch --strict, sparse (C=2) and a W=1 build with
# -Werror on the kernel sources; shellcheck on the rig's and the tests'
# shell scripts.  Each is one test in the summary.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=rig/versions.sh
. "$top/rig/versions.sh"
KVER=$(pvblk_kver)
KSRC=$(pvblk_ksrc_dir)
KDIR=/lib/modules/$KVER/build
# One output and build directory per work tree, used by one lint at a time
# (two runs sharing one used to break each other's logs and build).
out=$PVBLK_CACHE/lint/$(printf '%s' "$top" | sha256sum | cut -c1-12)
mkdir -p "$out"
exec {lintlock}> "$out/.lock"
flock "$lintlock"
# shellcheck source=rig/tap.sh
. "$top/rig/tap.sh"

# result RC DESC LOG: one test, ok when RC is 0.
result() {
	if [ "$1" = 0 ]; then
		ok "$2"
	else
		fail "$2 (see $3)"
	fi
}

cd "$top" || exit 1
mapfile -t srcs < <(git ls-files 'pvblk/*.c' 'pvblk/*.h' 2>/dev/null ||
	find pvblk -name '*.[ch]')

echo "[lint] checkpatch --strict on ${#srcs[@]} files"
: > "$out/checkpatch.log"
rc=0
for f in "${srcs[@]}"; do
	[ -s "$f" ] || continue
	"$KSRC/scripts/checkpatch.pl" --strict --no-tree --terse --no-summary \
		--ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES -f "$f" > "$out/one.log" 2>&1
	# checkpatch cannot see enum members of the kernel's own headers (the
	# Xen XenbusState* names): a CamelCase finding on an identifier the
	# kernel's include/ defines is not ours to rename.
	while IFS= read -r line; do
		id=$(echo "$line" | sed -n 's/.*Avoid CamelCase: <\([A-Za-z0-9_]*\)>.*/\1/p')
		if [ -n "$id" ] && grep -rqw -- "$id" "$KSRC/include"; then
			continue
		fi
		echo "$line" >> "$out/checkpatch.log"
		rc=1
	done < "$out/one.log"
done
[ $rc = 0 ] || head -20 "$out/checkpatch.log"
result $rc "checkpatch --strict clean" "$out/checkpatch.log"

# Build the module and the KUnit module objects (the test module compiles
# against the stock headers; it only links against a KUnit kernel).
# Work on a copy so that lint never races with a build in the work tree.
src=$out/src
mkdir -p "$src"
rsync -rlpD --checksum --delete --exclude .git --include '*/' --include 'Kbuild' --include 'Kconfig' \
	--include '*.[ch]' --exclude '*' "$top/" "$src/"
kargs=(-C "$KDIR" M="$src" CONFIG_PVBLK=m CONFIG_PVBLK_VHOST=y CONFIG_PVBLK_XEN=y
	PVBLK_VHOST_INC="$KSRC/drivers/vhost")
defs="-DCONFIG_PVBLK_MODULE=1 -DCONFIG_PVBLK_VHOST=1 -DCONFIG_PVBLK_XEN=1"

echo "[lint] sparse (C=2)"
make "${kargs[@]}" KCFLAGS="$defs" C=2 CF="-D__CHECK_ENDIAN__" modules \
	> "$out/sparse.log" 2>&1
rc=$?
if grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$out/sparse.log" | grep -v '^/usr/src' >/dev/null; then
	sed -i "s|$src/||" "$out/sparse.log"
	grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error):' "$out/sparse.log" | grep -v '^/usr/src' | head -20
	rc=1
fi
result $rc "sparse clean" "$out/sparse.log"

echo "[lint] W=1 -Werror"
make "${kargs[@]}" clean > /dev/null 2>&1
make "${kargs[@]}" KCFLAGS="$defs -Werror" W=1 modules > "$out/w1.log" 2>&1
rc=$?
[ $rc = 0 ] || grep -E 'error|warning' "$out/w1.log" | head -20
result $rc "W=1 build without warnings" "$out/w1.log"

# Memory a guest or its VMM makes the core or /dev/vhost-blk allocate is
# charged to the VMM's memory cgroup: every GFP_ flag of pvblk/core and
# pvblk/frontends/vhost carries __GFP_ACCOUNT (GFP_KERNEL_ACCOUNT), but
# for the bios (bioset mempools, bounded by max_inflight), the debugfs
# names and the instance's ida number.
echo "[lint] memory accounting"
grep -n 'GFP_[A-Z]' pvblk/core/*.c pvblk/frontends/vhost/*.c |
	grep -v 'ACCOUNT' | grep -v '^[^:]*:[0-9]*: *\*' |
	grep -vE 'bio_alloc\(bdev|kasprintf\(GFP_KERNEL|kstrdup\(dev->name|ida_alloc\(' \
	> "$out/accounting.log"
rc=0
[ -s "$out/accounting.log" ] && { cat "$out/accounting.log"; rc=1; }
result $rc "VMM-driven allocations are memcg-accounted" "$out/accounting.log"

# Every shell script of rig/ and tests/ (*.sh, *.test, and files with a sh
# shebang such as tests/vm/qemu-guest/init) and the bench's VM test.
shell_scripts() {
	local f

	{ git ls-files --cached --others --exclude-standard rig tests bench/kvm.test 2>/dev/null ||
		find rig tests bench/kvm.test -type f; } | sort -u |
	while read -r f; do
		[ -f "$f" ] || continue
		case $f in
		*.sh | *.test) echo "$f" ;;
		*) head -n 1 "$f" | grep -qE '^#!.*[/ ](ba)?sh( |$)' && echo "$f" ;;
		esac
	done
}

# Scripts without a shebang (sourced helpers, Xen scenarios) name their
# shell in a "# shellcheck shell=" line; sources are followed (-x) through
# their "# shellcheck source=" lines, relative to the top directory.
# Excluded everywhere, and only this:
#   SC2001  "use ${v//a/b} instead of sed": the scripts prefix every line of
#           multi-line output (sed 's/^/#   /'), which ${v//} cannot do.
echo "[lint] shellcheck"
if command -v shellcheck > /dev/null; then
	mapfile -t shs < <(shell_scripts)
	shellcheck -x -f gcc --exclude=SC2001 "${shs[@]}" > "$out/shellcheck.log" 2>&1
	rc=$?
	[ $rc = 0 ] || head -20 "$out/shellcheck.log"
	result $rc "shellcheck clean on ${#shs[@]} scripts" "$out/shellcheck.log"
else
	echo "shellcheck is not installed: make setup" > "$out/shellcheck.log"
	result 1 "shellcheck clean (not installed: make setup)" "$out/shellcheck.log"
fi

echo "lint: $(tap_totals)"
[ "$tap_fail" = 0 ]
