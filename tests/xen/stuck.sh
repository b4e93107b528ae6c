# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "stuck": a vbd whose backing device never completes its I/O must
# not stall the host.  xvdb is a dm-linear device that dmsetup suspends
# (--noflush: new bios wait inside dm until the resume); the guest writes
# to it, dom0 runs `xl block-detach` on it while those writes hang.  Then
# another disk must still attach to and detach from a second guest within
# 30 s (dom0's xenbus watch thread, shared by every xenbus device, is not
# blocked; the first guest's own one may wait in blkfront), and once
# the dm device resumes, the stuck vbd must finish its teardown: backend
# gone from xenstore, its debugfs entry gone, the guest destroyable
# without a "(null)" domain left, rmmod pvblk.
set -uo pipefail
G=st
G2=st2
DEV=51728	# xvdb
DEV2=51744	# xvdc
export DM_DISABLE_UDEV=1

# wait_until SECONDS CMD...: poll CMD every 0.5 s; false at the deadline.
wait_until() {
	local end=$(($(date +%s) + $1))

	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$end" ] && return 1
		sleep 0.5
	done
}
# be_gone DEVID [DOMID], be_state DEVID STATE [DOMID], fe_state likewise.
be_gone() { ! xenstore-read "/local/domain/0/backend/vbd/${2:-$id}/$1/state" > /dev/null 2>&1; }
be_state() { [ "$(xenstore-read "/local/domain/0/backend/vbd/${3:-$id}/$1/state" 2>/dev/null)" = "$2" ]; }
fe_state() { [ "$(xenstore-read "/local/domain/${3:-$id}/device/vbd/$1/state" 2>/dev/null)" = "$2" ]; }
debugfs_gone() { [ ! -e "/sys/kernel/debug/pvblk/xen-$id-$1" ]; }
in_flight() {
	awk '$1 == "write_reqs" { print $2 }' "/sys/kernel/debug/pvblk/xen-$id-$DEV/stats" \
		2>/dev/null | grep -q '^[1-9]'
}

step "stuck: pvblk only; xvdb on a dm device that will be suspended"
blkback_blacklist
check "modprobe pvblk" modprobe pvblk
check "brd 64 MiB" mk_brd 64
check "null_blk 1 GiB memory-backed" mk_nullb 1
check "modprobe dm-mod" modprobe dm-mod
check "dmsetup create stuck (linear on /dev/ram0)" \
	dmsetup create stuck --table "0 $((64 * 2048)) linear /dev/ram0 0"
dm=/dev/mapper/stuck
[ -b "$dm" ] || dm=/dev/dm-0
DOMU_DISKS=xvdb domu_start $G stuck.domu.sh "phy:$dm,xvdb,w" || fail "xl create $G"
DOMU_ROLE=idle domu_start $G2 stuck.domu.sh || fail "xl create $G2"

if vbd_wait_connected $G xvdb && domu_wait_phase $G ready &&
   domu_wait_phase $G2 ready; then
	id=$(domid_of $G)
	id2=$(domid_of $G2)
	check "dmsetup suspend --noflush stuck" dmsetup suspend --noflush stuck
	domu_signal $G go 1
	domu_wait_phase $G writing
	if wait_until 60 in_flight; then
		ok "xvdb: writes reached pvblk (they cannot complete)"
	else
		fail "xvdb: no write reached pvblk"
	fi

	step "xl block-detach $G xvdb while its writes hang"
	out=$(timeout 60 xl block-detach $G xvdb 2>&1)
	info "xl block-detach xvdb: exit $?"
	printf '%s\n' "$out" | sed 's/^/#   /'
	if debugfs_gone $DEV; then
		info "xvdb: debugfs entry already gone"
	else
		info "xvdb: debugfs entry still there (teardown waits for the writes)"
	fi

	step "attach and detach another disk of $G2 within 30 s"
	t0=$(date +%s)
	out=$(timeout 30 xl block-attach $G2 'phy:/dev/nullb0,xvdc,w' 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/#   /'
	left=$((30 - ($(date +%s) - t0)))
	if [ $rc = 0 ] && wait_until $left be_state $DEV2 4 "$id2" &&
	   wait_until $left fe_state $DEV2 4 "$id2"; then
		ok "xvdc attached and connected in $(($(date +%s) - t0)) s"
	else
		fail "xvdc attached and connected within 30 s (xl exit $rc)"
	fi
	left=$((30 - ($(date +%s) - t0)))
	[ $left -gt 0 ] || left=1
	out=$(timeout $left xl block-detach $G2 xvdc 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed 's/^/#   /'
	left=$((30 - ($(date +%s) - t0)))
	[ $left -gt 0 ] || left=1
	if [ $rc = 0 ] && wait_until $left be_gone $DEV2 "$id2"; then
		ok "xvdc attached and detached within 30 s ($(($(date +%s) - t0)) s)"
	else
		fail "xvdc attached and detached within 30 s (xl exit $rc)"
	fi

	step "resume the dm device: the stuck teardown must finish"
	check "dmsetup resume stuck" dmsetup resume stuck
	if wait_until 60 be_gone $DEV; then
		ok "xvdb: backend gone from xenstore"
	else
		fail "xvdb: backend still in xenstore 60 s after the resume"
		xenstore-ls -f "/local/domain/0/backend/vbd/$id" 2>&1 | sed 's/^/#   /'
	fi
	if wait_until 60 debugfs_gone $DEV; then
		ok "xvdb: debugfs entry gone (teardown finished)"
	else
		fail "xvdb: debugfs entry still there 60 s after the resume"
	fi
	check "xl destroy $G" xl destroy $G
fi
xl destroy $G2 > /dev/null 2>&1
domu_wait $G
domu_wait $G2
ok "$G gone from xl list (no '(null)' domain: every grant released)"
# shellcheck disable=SC2016 # expanded by the inner bash
check "pvblk debugfs devices gone" bash -c '[ -z "$(ls /sys/kernel/debug/pvblk 2>/dev/null)" ]'
check "rmmod pvblk" timeout 60 rmmod pvblk
check "dmsetup remove stuck" dmsetup remove stuck
