#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rig/xen-check.sh [--kernel stock|debug] [SCENARIO...]: the Xen integration
# scenarios (tests/xen), one QEMU TCG boot each (1-2 minutes each on the
# stock dom0; on the debug dom0 1.5-3.5, fuzz ~5; see
# tests/xen/README.md), through rig/xen-run.sh.  Builds
# the hostile frontend module (tools/xen-hostile) that the "hostile" and
# "fuzz" scenarios load in their guest and pvblk-stamp (tools/stamp) that
# the "fault" scenario runs in its guest.
#   --kernel stock   (default) dom0 on Debian's kernel: STOCK_SCENARIOS
#   --kernel debug   dom0 on the debug kernel (KASAN, lockdep, kmemleak,
#                    UBSAN...; slower): DEBUG_SCENARIOS
# Scenarios given on the command line replace the list.  Ends with
# "N passed, N failed"; exits non-zero when a scenario fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# One scenario a line: add a new one to the lists it should run in.
# Every pvblk scenario runs on the debug dom0, where lockdep, kmemleak, UBSAN,
# DEBUG_ATOMIC_SLEEP and slub_debug judge it (issue 9: "the Xen scenarios
# green under the debug dom0"); since 2026-12-07 its kernel has what nbd
# needs (NBD, netem, NVMe/TCP host and target: rig/debug-dom0.config).
# The stock dom0 keeps what proves Debian's real kernel: reference
# (xen-blkback) against pvblk, whose trace and pvblk-stat checks need it
# too (no event tracing on the debug one).  reference tests Linux's own
# xen-blkback, not pvblk: it runs on the stock dom0 only.  The debug list
# goes longest first (the debug dom0 seconds of the CI run of 2026-12-07):
# make check's xen-pull step (with PVBLK_CHECK_PULL=1) takes what is left
# of it once the VM steps are done (PVBLK_XEN_QUEUE in rig/xen-run.sh),
# and short ones last keep the two ends close.
STOCK_SCENARIOS="
reference
pvblk
"
DEBUG_SCENARIOS="
pvblk
nbd
fault
reboot
hostile
qos
detach
fuzz
close-idle
stuck
"

kernel=stock
case ${1:-} in
--kernel) kernel=${2:-}; shift 2 ;;
--kernel=*) kernel=${1#--kernel=}; shift ;;
-h|--help) sed -n '3,14p' "$0"; exit 0 ;;
esac
if [ $# = 0 ]; then
	case $kernel in
	stock) read -r -d '' -a list <<<"$STOCK_SCENARIOS" || true ;;
	debug) read -r -d '' -a list <<<"$DEBUG_SCENARIOS" || true ;;
	*) echo "$0: --kernel stock|debug, not '$kernel'" >&2; exit 2 ;;
	esac
	set -- "${list[@]}"
fi
make -s -C "$here/../tools/xen-hostile" > /dev/null
make -s -C "$here/../tools" stamp > /dev/null
echo "xen-check: --kernel $kernel, scenarios $*"
exec "$here/xen-run.sh" --kernel "$kernel" "$@"
