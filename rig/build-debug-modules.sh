#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build pvblk.ko and pvblk_kunit.ko out of tree against the debug kernel
# (rig/debug-kernel.sh, built first when missing), in an rsync'd copy of
# the sources under $DEBUG_MODULES (rig/common.sh) so that the stock
# build objects in the work tree are left alone.
#
# Usage: rig/build-debug-modules.sh [--dom0] [make args...]   (e.g. W=1 C=1)
#   --dom0  against the Xen dom0 flavour (rig/debug-kernel.sh --dom0), in
#           $DEBUG_DOM0_MODULES
# Both are built with gcov counters (PVBLK_GCOV=1, the kernel has
# CONFIG_GCOV_KERNEL; PVBLK_GCOV=0 in the environment turns that off): the
# debug runs hand their counts to rig/coverage.sh.
# Prints the paths of the built .ko files on stdout.  Exit status: 0 both
# built; 2 only pvblk.ko (pvblk_kunit.ko failed, retried without it);
# 1 pvblk.ko failed too.
set -euo pipefail
# shellcheck source=rig/common.sh
. "$(dirname "$0")/common.sh"

M=$DEBUG_MODULES
kargs=()
case ${1:-} in
-h|--help) sed -n '3,15p' "$0"; exit 0 ;;
--dom0)
	DEBUG_BUILD=$DEBUG_DOM0_BUILD
	M=$DEBUG_DOM0_MODULES
	kargs=(--dom0)
	shift
	;;
esac

"$RIG_DIR/debug-kernel.sh" "${kargs[@]}" >/dev/null
# One build at a time in $M and the debug build directory (rig/in-tree.sh
# switches options in its config for a while).
exec 9>"$DEBUG_BUILD/.pvblk-config.lock"
flock 9
step "syncing pvblk sources into $M"
sync_pvblk_sources "$M"

# build KUNIT(m|n) [make args]
build() {
	local kunit=$1 defs="-DCONFIG_PVBLK_MODULE=1 -DCONFIG_PVBLK_VHOST=1 -DCONFIG_PVBLK_XEN=1"

	shift
	[ "$kunit" = m ] && defs+=" -DCONFIG_PVBLK_KUNIT_TEST_MODULE=1"
	make -C "$DEBUG_BUILD" M="$M" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc" \
		CONFIG_PVBLK=m CONFIG_PVBLK_VHOST=y CONFIG_PVBLK_XEN=y \
		CONFIG_PVBLK_KUNIT_TEST="$kunit" PVBLK_VHOST_INC="$KSRC/drivers/vhost" \
		PVBLK_GCOV="${PVBLK_GCOV:-1}" \
		KCFLAGS="$defs" "$@" modules >&2
}

rm -f "$M/pvblk.ko" "$M/pvblk_kunit.ko"
# A coverage build needs each object's notes file: an object left without
# one (older syncs deleted them) is rebuilt.
if [ "${PVBLK_GCOV:-1}" = 1 ]; then
	find "$M/pvblk" -name '*.o' 2>/dev/null | while read -r o; do
		[ -f "${o%.o}.gcno" ] || rm -f "$o"
	done
fi
step "building pvblk.ko + pvblk_kunit.ko against $(build_kver "$DEBUG_BUILD")"
if build m "$@"; then
	echo "$M/pvblk.ko"
	echo "$M/pvblk_kunit.ko"
	exit 0
fi
step "pvblk_kunit.ko failed; building pvblk.ko alone"
rm -f "$M/pvblk.ko" "$M/pvblk_kunit.ko"
build n "$@" || die "pvblk.ko does not build against the debug kernel"
step "warning: only pvblk.ko was built (pvblk_kunit.ko failed, see above)"
echo "$M/pvblk.ko"
exit 2
