#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build pvblk in tree: Kbuild, Kconfig and pvblk/ are synced into a copy of
# linux-source as drivers/block/pvblk, wired into drivers/block/{Kconfig,
# Makefile}, and built with CONFIG_PVBLK=m, PVBLK_VHOST=y, PVBLK_XEN=y,
# PVBLK_KUNIT_TEST=m in the configured debug kernel build directory
# (rig/debug-kernel.sh, built first when missing).  The pvblk options are
# switched on for this build only and switched off again afterwards, so
# the debug kernel and its modules are unchanged.  The objects are built
# with `make drivers/block/pvblk/`, then modpost checks them against the
# kernel's Module.symvers (unresolved symbols, section mismatches) writing
# its symbol dump elsewhere: a single-.ko make target would rewrite the
# build's modules.order and Module.symvers.
#
# Usage: rig/in-tree.sh [make args, e.g. W=1 C=1]
# Ends with "N passed, N failed" (1 check: the in-tree build, modpost
# included); exits non-zero on failure.
set -euo pipefail
# shellcheck source=rig/common.sh
. "$(dirname "$0")/common.sh"

case ${1:-} in
-h|--help) sed -n '3,18p' "$0"; exit 0 ;;
esac

"$RIG_DIR/debug-kernel.sh" >/dev/null
ensure_ksrc_copy
B=$DEBUG_BUILD
MAKE=(make -C "$KSRC_COPY" O="$B" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc")
log=$PVBLK_CACHE/logs/in-tree-$(date +%Y%m%d-%H%M%S).log
mkdir -p "$PVBLK_CACHE/logs"

exec 9>"$B/.pvblk-config.lock"
flock 9
# shellcheck disable=SC2317 # called by the EXIT trap
restore() {
	"$KSRC_COPY/scripts/config" --file "$B/.config" -d PVBLK -d PVBLK_VHOST \
		-d PVBLK_XEN -d PVBLK_KUNIT_TEST
	"${MAKE[@]}" olddefconfig >/dev/null 2>&1 || true
}
trap restore EXIT

step "enabling PVBLK=m (+VHOST, XEN, KUNIT_TEST=m) in $B/.config"
"$KSRC_COPY/scripts/config" --file "$B/.config" -m PVBLK -e PVBLK_VHOST \
	-e PVBLK_XEN -m PVBLK_KUNIT_TEST
"${MAKE[@]}" olddefconfig >/dev/null
for opt in CONFIG_PVBLK=m CONFIG_PVBLK_VHOST=y CONFIG_PVBLK_XEN=y CONFIG_PVBLK_KUNIT_TEST=m; do
	grep -qx "$opt" "$B/.config" || die "$opt did not survive olddefconfig"
done

step "make drivers/block/pvblk/ (log $log)"
rc=0
"${MAKE[@]}" "$@" drivers/block/pvblk/ > "$log" 2>&1 || rc=$?
if [ $rc = 0 ]; then
	step "modpost check of drivers/block/pvblk/{pvblk,pvblk_kunit}.o"
	(cd "$B" && scripts/mod/modpost -M -E -i Module.symvers \
		-o "$B/drivers/block/pvblk/in-tree.symvers" \
		-T drivers/block/pvblk/modules.order) >> "$log" 2>&1 || rc=$?
	for o in pvblk.o pvblk_kunit.o; do
		[ -f "$B/drivers/block/pvblk/$o" ] || { echo "no $o built" >> "$log"; rc=1; }
	done
fi
grep -E 'warning:|error:|WARNING:|ERROR:|no .* built' "$log" || true
if [ $rc = 0 ]; then
	ok "in-tree build of drivers/block/pvblk (objects in $B/drivers/block/pvblk)"
else
	tail -30 "$log"
	fail "in-tree build of drivers/block/pvblk (log $log)"
fi
tap_totals || true
exit $rc
