# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script of the bench-xen scenario (busybox sh, sourced by
# rig/xen/domu-init.sh): the benchmark's fio jobs on every disk of
# $DOMU_DISKS (xvdb = null_blk, xvdc = brd in dom0), 4k random read and
# write at iodepth 128 (1 job) and random read at iodepth 1; each fio JSON
# is published as PATH__DEV__JOB__Q__REP.json for rig/bench.sh.
: "${DOMU_DISKS:=xvdb}"
: "${DOMU_BENCH_RT:=3}"
: "${DOMU_BENCH_JOBS:=randread randwrite lat1}"

for d in $DOMU_DISKS; do
	wait_dev "$d"
done
dmesg | grep -iE 'persistent grants|indirect' | sed 's/^/# dmesg: /'
# shellcheck disable=SC2153 # DOMU_BENCH_PATH, _REP, _RT: from dom0 (domu.env)
for d in $DOMU_DISKS; do
	case $d in
	xvdb) dev=nullb ;;
	xvdc) dev=brd ;;
	*) dev=$d ;;
	esac
	for job in $DOMU_BENCH_JOBS; do
		case $job in
		randread) args="--rw=randread --iodepth=128" ;;
		randwrite) args="--rw=randwrite --iodepth=128" ;;
		lat1) args="--rw=randread --iodepth=1" ;;
		esac
		name="${DOMU_BENCH_PATH}__${dev}__${job}__1__${DOMU_BENCH_REP}.json"
		# shellcheck disable=SC2086
		if fio --name=bench --filename="/dev/$d" --ioengine=libaio --direct=1 \
			--bs=4k $args --numjobs=1 --size=256M --norandommap --randrepeat=0 \
			--time_based --runtime="$DOMU_BENCH_RT" --ramp_time=1 \
			--output-format=json --output=/tmp/fio.json > /tmp/fio.out 2>&1; then
			ok "$DOMU_BENCH_PATH $dev $job rep $DOMU_BENCH_REP"
			result "$name" /tmp/fio.json
		else
			fail "$DOMU_BENCH_PATH $dev $job rep $DOMU_BENCH_REP"
			tail -n 20 /tmp/fio.out | sed 's/^/#   /'
		fi
	done
done
