# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "hostile": a LIVE hostile blkif frontend against pvblk.
#
# Guest "hx" runs without xen-blkfront: tools/xen-hostile/xen_hostile.ko
# is the frontend of its three vbds (xvdb rw on brd, xvdc read-only, xvdd
# rw with discard disabled) and the guest script (hostile.domu.sh) drives
# its cases: bad segments, grants, indirect requests, operations, ring
# indexes, event storms, bogus xenstore values on reconnect, closing with
# requests in flight.  Each case asserts the backend's answer and that good
# I/O works afterwards.  Meanwhile guest "fv" keeps verifying fio
# (crc32c) on a pvblk disk of its own (null_blk) with the stock
# xen-blkfront, and its result is asserted at the end.  dom0 must stay
# healthy: any kernel report in its log fails the run (rig/xen-run.sh),
# and pvblk must unload cleanly at the end.
#
# After guest hx's vbds were probed, dom0 lowers the indirect-segment,
# queue and ring-order parameters: the cases at the maxima offered still
# pass (a vbd is held to what it offered at probe).
#
# DOMU_HOSTILE_SKIP=case,case (in PVBLK_XEN_ENV) skips cases by name.
set -uo pipefail
H=hx
F=fv

step "hostile: pvblk only; brd x3 for $H, null_blk for $F"
blkback_blacklist
check "modprobe pvblk" modprobe pvblk
check "brd: 3 x 128 MiB" modprobe brd rd_nr=3 rd_size=$((128 * 1024)) max_part=0
check "null_blk 1 GiB memory-backed" mk_nullb 1
[ -f /scenario/xen_hostile.ko ] || fail "xen_hostile.ko shipped (make -C tools/xen-hostile)"

DOMU_FIO_SIZE=32M domu_start $F hostile-fio.domu.sh 'phy:/dev/nullb0,xvdb,w' ||
	fail "xl create $F"
if vbd_wait_connected $F xvdb && domu_wait_phase $F running; then
	ok "$F: pvblk disk connected, fio verify loop running"
fi

# One vbd at create, the other two hot-plugged one at a time, each step
# retried (xl_retry): on a busy host three block hotplug scripts at once
# outlasted libxl's hotplug timeout and `xl create` failed.  The guest
# waits for data/disks before it looks for its vbds.
DOMU_BLKFRONT=0 DOMU_FILES=xen_hostile.ko DOMU_MEMORY=384 \
	DOMU_HOSTILE_SKIP="${DOMU_HOSTILE_SKIP:-}" \
	domu_start $H hostile.domu.sh 'phy:/dev/ram0,xvdb,w' ||
	fail "xl create $H"
if block_attach $H 'phy:/dev/ram1,xvdc,r' \
	'vdev=xvdd,access=rw,no-discard,target=/dev/ram2'; then
	ok "$H: xvdc and xvdd attached"
	domu_signal $H disks ok
else
	fail "$H: xvdc and xvdd attached"
	domu_signal $H disks failed
fi
# Its vbds offered what the parameters said at probe; lowering them now
# must not change what those vbds accept (the cases at the maximum).
P=/sys/module/pvblk/parameters
check "lower xen_max_indirect_segs, xen_max_queues, xen_max_ring_order after $H's vbds were probed" \
	sh -c "echo 8 > $P/xen_max_indirect_segs && echo 1 > $P/xen_max_queues && echo 0 > $P/xen_max_ring_order"
gone_within $H 120
guest_verdict $H
id=$(domid_of $F) || true
[ -n "$id" ] && for s in /sys/kernel/debug/pvblk/xen-"$id"-*/stats; do
	sed "s/^/# $F stats: /" "$s" 2>/dev/null | grep -E 'reqs|errors|queues'
done

step "stopping $F's fio loop"
domu_signal $F stop 1
gone_within $F 120
guest_verdict $F
dmesg | grep -E 'pvblk' | tail -n 60 | sed 's/^/# dom0 dmesg: /'
left=$(xenstore-ls /local/domain/0/backend/vbd 2>/dev/null | grep -c . || true)
expect_eq "backend/vbd entries left in xenstore" "$left" 0
check "rmmod pvblk after the hostile guest" rmmod pvblk
