# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "qos": per-disk QoS set by the toolstack.  pvblk serves a PV
# guest two disks, xvdb (null_blk) and xvdc (brd).  Once both are
# connected and the guest measured each unlimited (6 s random 4 KiB reads,
# QD 32), dom0 limits xvdb to N (a quarter of that, 20..300) with
#   xenstore-write backend/vbd/<domid>/<devid>/pvblk-qos "riops=N,burst=$BURST"
# (watched: it applies to the connected vbd at once); the guest runs both
# at once for 10 s and asserts xvdb within 10 % of N (tests/xen/qos.domu.sh;
# xvdc's IOPS are reported, not asserted).  Then the limit is lowered to N/2 while the
# guest waits and a second run must follow it; an invalid value is
# refused (limits unchanged), removing the node lifts the limit.  debugfs
# shows the limits and the throttled requests.
set -uo pipefail
G=qs
# The bucket holds 1 s of tokens: a release work that runs late (a debug
# dom0 sharing 2 cores with other guests, make check's two lanes) loses
# none of them.  The measured runs skip their first 2 s (fio --ramp_time),
# so the full bucket at their start is not in the figure.  With 200 ms the
# debug dom0 measured 30 for 36 and 14 for 18 in make check (2026-12-07,
# unlimited 145 IOPS), and passed standalone.
BURST=1000

step "qos: pvblk only, disks null_blk (to be limited) + brd"
blkback_blacklist
check "modprobe pvblk" modprobe pvblk
check "null_blk 1 GiB memory-backed" mk_nullb 1
check "brd 256 MiB" mk_brd 256
DOMU_DISKS="xvdb xvdc" domu_start $G qos.domu.sh \
	'phy:/dev/nullb0,xvdb,w' 'phy:/dev/ram0,xvdc,w' || fail "xl create $G"

# stat NAME: a line of xvdb's debugfs stats.
stat() { awk -v k="$1" '$1 == k { print $2 }' "$st" 2>/dev/null; }

if vbd_wait_connected $G xvdb && vbd_wait_connected $G xvdc &&
   domu_wait_phase $G baseline; then
	id=$(domid_of $G)
	be=/local/domain/0/backend/vbd/$id/$(vbd_devid xvdb)
	st=/sys/kernel/debug/pvblk/xen-$id-$(vbd_devid xvdb)/stats
	# A quarter of what the guest did unlimited, 20..300: under TCG a
	# guest may do only a few hundred IOPS.
	base=$(xenstore-read "/local/domain/$id/data/base" 2>/dev/null || echo 0)
	N=$((base / 4))
	[ $N -gt 300 ] && N=300
	[ $N -lt 20 ] && N=20
	info "xvdb unlimited: $base IOPS in the guest; limit N=$N"
	check "xenstore-write $be/pvblk-qos riops=$N,burst=$BURST" \
		xenstore-write "$be/pvblk-qos" "riops=$N,burst=$BURST"
	n=0
	while [ "$(stat qos_riops)" != $N ] && [ $n -lt 50 ]; do
		sleep 0.2
		n=$((n + 1))
	done
	expect_eq "xvdb: debugfs qos_riops follows the node" "$(stat qos_riops)" $N
	expect_eq "xvdb: debugfs qos_burst_ms" "$(stat qos_burst_ms)" $BURST
	dmesg | grep -E 'qos: riops' | tail -n 2 | sed 's/^/# dmesg: /'
	domu_signal $G go $N
	if domu_wait_phase $G measured; then
		grep -E '^(throttled|throttle_ns|qos_[a-z_]*) ' "$st" | sed 's/^/# xvdb stats: /'
		thr=$(stat throttled)
		if [ "${thr:-0}" -gt 0 ]; then
			ok "xvdb: debugfs counts throttled requests ($thr)"
		else
			fail "xvdb: debugfs counts throttled requests" "throttled '${thr}'"
		fi
		check "xenstore-write pvblk-qos riops=$((N / 2)),burst=$BURST (connected)" \
			xenstore-write "$be/pvblk-qos" "riops=$((N / 2)),burst=$BURST"
		sleep 1
		expect_eq "xvdb: debugfs qos_riops after the change" "$(stat qos_riops)" $((N / 2))
		domu_signal $G go2 $((N / 2))
	fi
	if domu_wait_phase $G measured2; then
		check "xenstore-write pvblk-qos 'riops=abc' (invalid)" \
			xenstore-write "$be/pvblk-qos" "riops=abc"
		sleep 1
		expect_eq "xvdb: an invalid value leaves the limits" "$(stat qos_riops)" $((N / 2))
		check "dmesg: the invalid value is reported" \
			sh -c "dmesg | grep -q 'pvblk-qos \"riops=abc\" is not valid'"
		check "xenstore-rm pvblk-qos" xenstore-rm "$be/pvblk-qos"
		sleep 1
		expect_eq "xvdb: no node, no limit" "$(stat qos_riops)" 0
		domu_signal $G fin 1
	fi
fi
domu_wait $G
guest_verdict $G
# shellcheck disable=SC2016 # expanded by the inner bash
check "pvblk debugfs devices gone" bash -c '[ -z "$(ls /sys/kernel/debug/pvblk 2>/dev/null)" ]'
check "rmmod pvblk" rmmod pvblk
