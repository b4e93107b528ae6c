# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "bench-xen" (rig/bench.sh, not part of xen-check): the domU's fio
# through pvblk and through the stock xen-blkback on the same devices
# (null_blk, not memory backed, as xvdb; brd as xvdc), persistent grants on
# and off (backend parameters: pvblk xen_persistent, xen-blkback
# feature_persistent).  Paths alternate A B C D, A B C D ... with one PV
# guest boot per path and repetition; only the wanted backend module is
# loaded while a guest starts, so the new vbds bind to it.  The guest
# (bench-xen.domu.sh) publishes each fio JSON as a result file
# PATH__DEV__JOB__Q__REP.json.
# Environment (PVBLK_XEN_ENV from rig/bench.sh): BENCH_REPS (3), BENCH_RT
# (fio seconds, 3), BENCH_SMOKE=1 (pvblk-pgnt and blkback-pgnt, null_blk,
# randread only).
set -uo pipefail
REPS=${BENCH_REPS:-3}
RT=${BENCH_RT:-3}
if [ "${BENCH_SMOKE:-0}" = 1 ]; then
	PATHS="pvblk-xen-pgnt blkback-pgnt"
	JOBS="randread"
	DISKS="xvdb"
else
	PATHS="pvblk-xen-pgnt blkback-pgnt pvblk-xen-nopgnt blkback-nopgnt"
	JOBS="randread randwrite lat1"
	DISKS="xvdb xvdc"
fi

step "bench-xen: devices null_blk (xvdb) and brd (xvdc)"
check "modprobe null_blk (not memory backed, depth 256)" \
	modprobe null_blk nr_devices=1 gb=1 bs=4096 queue_mode=2 submit_queues=2 hw_queue_depth=256
check "brd 256 MiB" mk_brd 256
check "fill brd" dd if=/dev/zero of=/dev/ram0 bs=1M count=256 oflag=direct

n=0
for rep in $(seq 1 "$REPS"); do
	for path in $PATHS; do
		n=$((n + 1))
		g=b$n
		step "bench-xen: rep $rep, $path (guest $g)"
		backend_use "$path" || { fail "load the backend of $path"; continue; }
		drvwant=pvblk
		case $path in blkback-*) drvwant=vbd ;; esac
		set -- 'phy:/dev/nullb0,xvdb,w'
		[ "$DISKS" = "xvdb xvdc" ] && set -- 'phy:/dev/nullb0,xvdb,w' 'phy:/dev/ram0,xvdc,w'
		if ! DOMU_DISKS=$DISKS DOMU_BENCH_PATH=$path DOMU_BENCH_REP=$rep \
			DOMU_BENCH_RT=$RT DOMU_BENCH_JOBS=$JOBS \
			domu_start "$g" bench-xen.domu.sh "$@"; then
			fail "xl create $g"
			# xl may fail after the domain started: let it end.
			domid_of "$g" > /dev/null && domu_wait "$g"
			continue
		fi
		if vbd_wait_connected "$g" xvdb; then
			id=$(domid_of "$g")
			drv=$(readlink "/sys/bus/xen-backend/devices/vbd-$id-$(vbd_devid xvdb)/driver" || true)
			info "$g: xvdb bound to ${drv##*/}, feature-persistent be=$(xs_be "$g" xvdb feature-persistent 2>/dev/null) fe=$(xs_fe "$g" xvdb feature-persistent 2>/dev/null), queues=$(xs_fe "$g" xvdb multi-queue-num-queues 2>/dev/null)"
			case ${drv##*/} in
			"$drvwant"|xen-blkback) ;;
			*) fail "$g: xvdb bound to '${drv##*/}', expected $drvwant" ;;
			esac
		fi
		domu_wait "$g"
		guest_verdict "$g"
	done
done
backend_unload
ok "bench-xen: $n guest runs"
