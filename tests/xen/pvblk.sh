# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "pvblk": pvblk.ko is the only "vbd" backend (xen-blkback is
# blacklisted the way a user would on a normal dom0).  One PV guest gets
# three phy disks - brd, a memory-backed null_blk and a loop-attached file -
# and runs fio verify + mkfs.ext4 + fsck.ext4 on each (tests/xen/io.domu.sh).
# While the guest is connected: persistent grants, indirect descriptors and
# two queues must show in xenstore and in pvblk's debugfs stats.  Then the
# loop file grows (losetup -c): the backend's "sectors" and the guest's
# /sys/block/xvdd/size follow, and the guest writes and reads back data
# past the old end.  pvblk's tracepoints are on throughout (tracefs): the
# trace must show the guest's requests completed (transport=xen, status 0,
# a latency) and its grants mapped, then unmapped when it goes; pvblk-stat
# must show each disk with its persistent-grant hit rate.
set -uo pipefail
G=pv
DISKS="xvdb xvdc xvdd"

step "pvblk: keep xen-blkback out, load pvblk"
blkback_blacklist
check "modprobe xen-blkback refused (blacklisted)" bash -c '! modprobe xen-blkback'
check "modprobe pvblk" modprobe pvblk
check "xen-blkback not loaded" bash -c '! test -d /sys/module/xen_blkback'
check "xenbus backend driver 'pvblk' registered" test -d /sys/bus/xen-backend/drivers/pvblk

# Every pvblk event on, the ring buffer overwriting its oldest events.
T=/sys/kernel/tracing
trace_start() {
	echo 0 > $T/tracing_on && echo 16384 > $T/buffer_size_kb &&
		echo > $T/trace && echo 1 > $T/events/pvblk/enable &&
		echo 1 > $T/tracing_on
}
# trace_io_checks DOMID: the guest's I/O in the trace (its most recent part).
trace_io_checks() {
	local id=$1 e n

	grep ' pvblk_' $T/trace > /tmp/trace-io.txt
	info "$(wc -l < /tmp/trace-io.txt) pvblk trace lines kept; a few:"
	for e in pvblk_req_completed pvblk_xen_grant_map pvblk_batch; do
		grep -m 2 " $e: " /tmp/trace-io.txt | sed 's/^/#   /'
	done
	n=$(grep -c " pvblk_req_completed: transport=xen dev=xen-$id-[0-9]* .*status=0 lat_ns=[1-9]" /tmp/trace-io.txt)
	if [ "$n" -gt 0 ]; then
		ok "trace: $n requests completed with transport=xen, status=0, lat_ns > 0"
	else
		fail "trace: no pvblk_req_completed with transport=xen, status=0, lat_ns > 0"
	fi
	expect_eq "trace: every completion has transport=xen" \
		"$(grep ' pvblk_req_completed: ' /tmp/trace-io.txt | grep -vc ': transport=xen ')" 0
	info "completions with a status other than 0: $(grep ' pvblk_req_completed: ' /tmp/trace-io.txt | grep -vc ' status=0 ')"
	n=$(grep " pvblk_xen_grant_map: dev=xen-$id-" /tmp/trace-io.txt |
		sed -n 's/.* count=\([0-9]*\) errors=0$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	if [ "$n" -gt 0 ]; then
		ok "trace: $n grants mapped (pvblk_xen_grant_map, errors=0)"
	else
		fail "trace: no pvblk_xen_grant_map with errors=0"
	fi
}

# trace_unmap_checks: the guest is gone, its persistent grants were unmapped.
trace_unmap_checks() {
	local n

	echo 0 > $T/tracing_on
	n=$(grep " pvblk_xen_grant_unmap: dev=xen-" $T/trace |
		sed -n 's/.* count=\([0-9]*\) errors=0$/\1/p' | awk '{ s += $1 } END { print s + 0 }')
	if [ "$n" -gt 0 ]; then
		ok "trace: $n grants unmapped (pvblk_xen_grant_unmap, errors=0)"
	else
		fail "trace: no pvblk_xen_grant_unmap with errors=0"
	fi
	info "persistent grants evicted (pvblk_xen_pgrant_evict): $(grep -c ' pvblk_xen_pgrant_evict: ' $T/trace) events"
	echo 0 > $T/events/pvblk/enable
}

tracing=0
if [ ! -d $T/events ] && ! mount -t tracefs nodev $T 2>/dev/null; then
	skip "tracefs: pvblk events" "no tracefs in this dom0 kernel"
elif [ ! -d $T/events/pvblk ]; then
	# The debug dom0 (rig/debug.config) has tracepoints but no event tracing.
	skip "tracefs: pvblk events" "no event tracing in this dom0 kernel"
elif check "tracefs: pvblk events enabled" trace_start; then
	tracing=1
fi

step "pvblk: disks brd, null_blk, loop file"
check "brd 256 MiB" mk_brd 256
check "null_blk 1 GiB memory-backed" mk_nullb 1
if loop=$(mk_loopfile 256); then ok "loop file attached ($loop)"; else fail "loop file"; fi

DOMU_DISKS=$DISKS DOMU_EXPECT="persistent indirect" DOMU_RESIZE="xvdd 786432" domu_start "$G" io.domu.sh \
	'phy:/dev/ram0,xvdb,w' 'phy:/dev/nullb0,xvdc,w' "phy:${loop:-/dev/loop0},xvdd,w" ||
	fail "xl create $G"

connected=1
for x in $DISKS; do
	vbd_wait_connected "$G" "$x" || { connected=0; break; }
	ok "$x connected (state 4 on both ends)"
	dump_vbd "$G" "$x"
	id=$(domid_of "$G"); dev=$(vbd_devid "$x")
	drv=$(readlink "/sys/bus/xen-backend/devices/vbd-$id-$dev/driver" || true)
	expect_eq "$x: bound backend driver" "${drv##*/}" pvblk
	expect_eq "$x: backend feature-persistent" "$(xs_be "$G" "$x" feature-persistent)" 1
	expect_eq "$x: frontend feature-persistent" "$(xs_fe "$G" "$x" feature-persistent)" 1
	ind=$(xs_be "$G" "$x" feature-max-indirect-segments || true)
	if [ "${ind:-0}" -gt 11 ] 2>/dev/null; then
		ok "$x: feature-max-indirect-segments ($ind)"
	else
		fail "$x: feature-max-indirect-segments ('$ind')"
	fi
	expect_eq "$x: frontend multi-queue-num-queues" "$(xs_fe "$G" "$x" multi-queue-num-queues)" 2
done

if [ $connected = 1 ] && domu_wait_phase "$G" io-done; then
	id=$(domid_of "$G")
	for x in $DISKS; do
		st=/sys/kernel/debug/pvblk/xen-$id-$(vbd_devid "$x")/stats
		if [ ! -r "$st" ]; then
			fail "$x: debugfs $st"
			# shellcheck disable=SC2012 # a listing for the log only
			ls -R /sys/kernel/debug/pvblk 2>&1 | sed 's/^/#   /'
			continue
		fi
		sed "s/^/# $x stats: /" "$st"
		expect_eq "$x: debugfs queues" "$(awk '$1 == "queues" { print $2 }' "$st")" 2
		w=$(awk '$1 == "write_reqs" { print $2 }' "$st")
		r=$(awk '$1 == "read_reqs" { print $2 }' "$st")
		if [ "${w:-0}" -gt 0 ] && [ "${r:-0}" -gt 0 ]; then
			ok "$x: debugfs read_reqs $r, write_reqs $w"
		else
			fail "$x: debugfs read_reqs '$r', write_reqs '$w'"
		fi
		h=$(awk '$1 ~ /^mcache[0-9]+_hits$/ { s += $2 } END { print s + 0 }' "$st")
		q=$(grep -c '^mcache[0-9]*_hits' "$st")
		if [ "$h" -gt 0 ] && [ "$q" = 2 ]; then
			ok "$x: persistent grants reused on $q queues ($h mcache hits)"
		else
			fail "$x: persistent grant caches: $q queues, $h hits"
		fi
	done
	# pvblk-stat (rig/xen-run.sh ships it): a row per disk with reads,
	# writes and a hit rate.
	if [ -x /scenario/pvblk-stat ]; then
		/scenario/pvblk-stat -Q > /tmp/pvblk-stat.out 2>&1
		expect_eq "pvblk-stat exits 0" "$?" 0
		sed 's/^/# pvblk-stat: /' /tmp/pvblk-stat.out
		expect_eq "pvblk-stat: xen-$id-* rows with reads, writes and hit% > 0" \
			"$(awk -v d="xen-$id-" 'index($1, d) == 1 && $2 == "-" && $3 > 0 && $4 > 0 && $12 > 0 { n++ } END { print n + 0 }' /tmp/pvblk-stat.out)" 3
	else
		skip "pvblk-stat" "not built (make -C tools stat)"
	fi
	[ $tracing = 1 ] && trace_io_checks "$id"
	# Online resize: the loop file grows 256 -> 384 MiB under xvdd.
	check "grow the loop file to 384 MiB, losetup -c" \
		sh -c "truncate -s 384M /srv/disk.img && losetup -c $loop"
	n=0
	while [ "$(xs_be "$G" xvdd sectors)" != 786432 ] && [ $n -lt 50 ]; do
		sleep 0.2
		n=$((n + 1))
	done
	expect_eq "xvdd: backend sectors follows the resize" "$(xs_be "$G" xvdd sectors)" 786432
	domu_signal "$G" go 1
fi
domu_wait "$G"
guest_verdict "$G"
[ $tracing = 1 ] && trace_unmap_checks
# shellcheck disable=SC2016 # expanded by the inner bash
check "pvblk debugfs devices gone" bash -c '[ -z "$(ls /sys/kernel/debug/pvblk 2>/dev/null)" ]'
check "rmmod pvblk" rmmod pvblk
check "losetup -d $loop" losetup -d "$loop"
