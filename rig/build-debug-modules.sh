#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build pvblk.ko and pvblk_kunit.ko out of tree against the debug kernel
# (rig/debug-kernel.sh, built first when missing), in an rsync'd copy of
# the sources under $PVBLK_CACHE/build/debug-modules so that the stock
# build objects in the work tree are left alone.
#
# Usage: rig/build-debug-modules.sh [make args...]   (e.g. W=1 C=1)
# Prints the paths of the built .ko files on stdout.
set -euo pipefail
. "$(dirname "$0")/common.sh"

case ${1:-} in
-h|--help) sed -n '3,10p' "$0"; exit 0 ;;
esac

"$RIG_DIR/debug-kernel.sh" >/dev/null
M=$PVBLK_CACHE/build/debug-modules
step "syncing pvblk sources into $M"
sync_pvblk_sources "$M"
exec 9>"$DEBUG_BUILD/.pvblk-config.lock"
flock 9
step "building pvblk.ko + pvblk_kunit.ko against $(build_kver "$DEBUG_BUILD")"
make -C "$DEBUG_BUILD" M="$M" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc" \
	CONFIG_PVBLK=m CONFIG_PVBLK_VHOST=y CONFIG_PVBLK_XEN=y \
	CONFIG_PVBLK_KUNIT_TEST=m PVBLK_VHOST_INC="$KSRC/drivers/vhost" \
	KCFLAGS="-DCONFIG_PVBLK_MODULE=1 -DCONFIG_PVBLK_VHOST=1 -DCONFIG_PVBLK_XEN=1 -DCONFIG_PVBLK_KUNIT_TEST_MODULE=1" \
	"$@" modules >&2 || die "module build against the debug kernel failed"
for ko in pvblk.ko pvblk_kunit.ko; do
	[ -f "$M/$ko" ] || die "no $M/$ko after the build"
	echo "$M/$ko"
done
