#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rig/xen-check.sh [--kernel stock|debug] [SCENARIO...]: the Xen integration
# scenarios (tests/xen), one QEMU TCG boot each (1-2 minutes each on the
# stock dom0, nbd ~6; on the debug dom0 1.5-3.5, fuzz ~5; see
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

# One scenario a line: add a new one to the lists it should run in.  A
# scenario runs on one dom0 only unless it tests something only that
# kernel has (make check's time): on the debug dom0 lockdep, kmemleak,
# UBSAN and slub_debug judge it.  Stock only: reference (xen-blkback),
# nbd (the debug dom0 has no nbd, netem, nvme-tcp, nvmet-tcp), reboot.  pvblk on both: its trace and
# pvblk-stat checks need the stock dom0 (no event tracing on the debug
# one).  Debug only: detach, fault (all six fault kinds exist there),
# stuck, hostile, fuzz and close-idle; hostile and fuzz run there since
# pvblk unmaps every grant before Closed when nothing is in flight (fuzz
# once found grants still mapped there before that).  Seconds of QEMU
# time measured on 2026-12-07 are in tests/xen/README.md (Timings).
STOCK_SCENARIOS="
reference
qos
pvblk
nbd
reboot
"
DEBUG_SCENARIOS="
pvblk
detach
fault
stuck
hostile
fuzz
close-idle
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
