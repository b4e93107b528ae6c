# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "hostile": a LIVE hostile blkif frontend against pvblk.
#
# Guest "hx" runs without xen-blkfront: tools/xen-hostile/xen_hostile.ko
# is the frontend of its three vbds (xvdb rw on brd, xvdc read-only, xvdd
# rw with discard disabled, xvde on a configfs null_blk that dom0 replaces
# with another disk of the same dev_t while the frontend is away: the
# reconnect must be refused) and the guest script (hostile.domu.sh) drives
# its cases: bad segments, grants, indirect requests, operations, ring
# indexes, event storms, bogus xenstore values on reconnect, closing with
# requests in flight.  Each case asserts the backend's answer and that good
# I/O works afterwards.  Meanwhile guest "fv" keeps verifying fio
# (crc32c) on a pvblk disk of its own (null_blk) with the stock
# xen-blkfront, and its result is asserted at the end.  dom0 must stay
# healthy: any kernel report in its log fails the run (rig/xen-run.sh),
# and pvblk must unload cleanly at the end.
#
# DOMU_HOSTILE_SKIP=case,case (in PVBLK_XEN_ENV) skips cases by name.
set -uo pipefail
H=hx
F=fv

NB=/sys/kernel/config/nullb
# nullb_cfg NAME: a 64 MiB memory-backed null_blk disk made through
# configfs; the first free index names it (/dev/nullb1 after mk_nullb's).
nullb_cfg() {
	mkdir "$NB/$1" && echo 64 > "$NB/$1/size" &&
		echo 1 > "$NB/$1/memory_backed" && echo 1 > "$NB/$1/power"
}

step "hostile: pvblk only; brd x3 for $H, null_blk for $F"
blkback_blacklist
check "modprobe pvblk" modprobe pvblk
check "brd: 3 x 128 MiB" modprobe brd rd_nr=3 rd_size=$((128 * 1024)) max_part=0
check "null_blk 1 GiB memory-backed" mk_nullb 1
[ -d "$NB" ] || mount -t configfs configfs /sys/kernel/config
check "null_blk through configfs: /dev/nullb1" nullb_cfg swap-a
[ -f /scenario/xen_hostile.ko ] || fail "xen_hostile.ko shipped (make -C tools/xen-hostile)"

DOMU_FIO_SIZE=32M domu_start $F hostile-fio.domu.sh 'phy:/dev/nullb0,xvdb,w' ||
	fail "xl create $F"
if vbd_wait_connected $F xvdb && domu_wait_phase $F running; then
	ok "$F: pvblk disk connected, fio verify loop running"
fi

DOMU_BLKFRONT=0 DOMU_FILES=xen_hostile.ko DOMU_MEMORY=384 \
	DOMU_HOSTILE_SKIP="${DOMU_HOSTILE_SKIP:-}" \
	domu_start $H hostile.domu.sh 'phy:/dev/ram0,xvdb,w' \
	'phy:/dev/ram1,xvdc,r' 'vdev=xvdd,access=rw,no-discard,target=/dev/ram2' \
	'phy:/dev/nullb1,xvde,w' ||
	fail "xl create $H"
if domu_wait_phase $H xvde-closed; then
	old=$(stat -L -c %t:%T /dev/nullb1)
	check "xvde: its disk deleted while the frontend is away" \
		sh -c "echo 0 > $NB/swap-a/power && rmdir $NB/swap-a"
	check "xvde: another disk made" nullb_cfg swap-b
	expect_eq "xvde: the new disk has the old one's dev_t" \
		"$(stat -L -c %t:%T /dev/nullb1 2>/dev/null)" "$old"
	domu_signal $H xvde-swapped 1
fi
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
