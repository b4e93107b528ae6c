# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "detach": pvblk serves two disks (brd, null_blk) to a PV guest
# that keeps fio running on both; dom0 runs `xl block-detach` on one disk and
# then `xl destroy` while the I/O is in flight.  The domain must disappear
# completely (no "(null)" domain left, i.e. every grant mapping released),
# pvblk's devices and xenstore entries must go, and rmmod pvblk must succeed.
# Any kernel report in dom0's log fails the run (judged by rig/xen-run.sh).
set -uo pipefail
G=dt

step "detach: pvblk only, disks brd + null_blk"
blkback_blacklist
check "modprobe pvblk" modprobe pvblk
check "brd 256 MiB" mk_brd 256
check "null_blk 1 GiB memory-backed" mk_nullb 1
DOMU_DISKS="xvdb xvdc" domu_start $G detach.domu.sh \
	'phy:/dev/ram0,xvdb,w' 'phy:/dev/nullb0,xvdc,w' || fail "xl create $G"

if vbd_wait_connected $G xvdb && vbd_wait_connected $G xvdc &&
   domu_wait_phase $G loaded; then
	ok "$G: both disks connected, fio load running"
	id=$(domid_of $G)
	# Wait until both devices have really served requests.
	for x in xvdb xvdc; do
		st=/sys/kernel/debug/pvblk/xen-$id-$(vbd_devid $x)/stats
		while [ "$(awk '$1 == "write_reqs" { print $2 }' "$st" 2>/dev/null)" \
			-lt 1 ] 2>/dev/null || [ ! -r "$st" ]; do
			domid_of $G > /dev/null || break
			guest_broken $G && break
			sleep 0.5
		done
		sed "s/^/# $x stats before detach: /" "$st" 2>/dev/null | grep -E 'reqs|inflight|queues'
	done
	step "xl block-detach $G xvdc under load"
	if out=$(xl block-detach $G xvdc 2>&1); then
		info "xl block-detach xvdc returned 0"
	else
		info "xl block-detach xvdc failed (disk in use by fio; expected with blkfront):"
	fi
	printf '%s\n' "$out" | sed 's/^/#   /'
	xenstore-ls -f "/local/domain/0/backend/vbd/$id" 2>&1 | grep -E '/state ' | sed 's/^/#   /'
	step "xl destroy $G under load"
	check "xl destroy $G while fio runs" xl destroy $G
fi
domu_wait $G
ok "$G gone from xl list (no '(null)' domain: every grant released)"
left=$(xenstore-ls /local/domain/0/backend/vbd 2>/dev/null | grep -c . || true)
expect_eq "backend/vbd entries left in xenstore" "$left" 0
# shellcheck disable=SC2016 # expanded by the inner bash
check "pvblk debugfs devices gone" bash -c '[ -z "$(ls /sys/kernel/debug/pvblk 2>/dev/null)" ]'
check "rmmod pvblk" rmmod pvblk
check "pvblk unloaded" bash -c '! test -d /sys/module/pvblk'
