#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Static checks on the kernel sources: checkpatch --strict, sparse (C=2),
# and a W=1 build with -Werror.  Each is one test in the summary.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=rig/versions.sh
. "$top/rig/versions.sh"
KVER=$(pvblk_kver)
KSRC=$(pvblk_ksrc_dir)
KDIR=/lib/modules/$KVER/build
out=$PVBLK_CACHE/lint
mkdir -p "$out"
passed=0
failed=0

result() {
	if [ "$1" = 0 ]; then
		echo "ok - $2"
		passed=$((passed + 1))
	else
		echo "not ok - $2 (see $3)"
		failed=$((failed + 1))
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
rsync -a --delete --exclude .git --include '*/' --include 'Kbuild' --include 'Kconfig' \
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

echo "lint: $passed passed, $failed failed"
[ "$failed" = 0 ]
