# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script of the bench-many scenario (busybox sh, sourced by
# rig/xen/domu-init.sh).  The guest stays up for the whole boot and serves
# one run per hot-plugged xvdb: when xvdb appears it reads data/run
# ("SEQ PATH GUESTS QD RAMP RT"), announces ready-SEQ, waits for data/go-SEQ
# ("T1 T2": two start times, realtime seconds, the same for every guest of
# the run: Xen's wall clock is shared by the guests; dom0's clock was seen
# seconds behind theirs, so dom0 takes the times from the guests' data/now) and runs two fio
# windows of 4k random reads, RT and 2*RT seconds long, each started at its
# time.  Its fio JSONs are published only after both windows (so no console
# traffic falls in a window) as PATH__gGUESTS__SEQ__wK.json, then it
# announces done-SEQ and waits for dom0 to unplug xvdb.  An idle guest waits
# for its next disk with a 0.2 s loop that never forks (nap) and no xenstore
# traffic, so it costs next to nothing while the others are measured.  dom0 ends the guest
# with xl destroy.

# nap SECONDS: sleep without a fork (read's timeout on a FIFO nobody
# writes).  An idle guest polled for its disk with `sleep 0.2`: a fork and
# an exec (page-table hypercalls in a PV guest) five times a second, work
# that counts in the measured guests' windows, more of it the fewer guests
# are measured.
rm -f /tmp/nap
mkfifo /tmp/nap
exec 3<> /tmp/nap
# shellcheck disable=SC3045 # busybox ash has read -t (fractional)
nap() {
	read -r -t "$1" _ <&3
}

# wait_until T: until the realtime clock reaches second T.
wait_until() {
	while [ "$(date +%s)" -lt "$1" ]; do
		usleep 5000
	done
}

# dom0 starts the first run once every guest has booted and is idle.
phase idle
while :; do
	while [ ! -b /dev/xvdb ]; do
		nap 0.2
	done
	# One unmeasured fio run first: the first fio after the disk arrived
	# was seen starting its window 0.1-0.9 s late, the second on time.
	fio --name=warmup --filename=/dev/xvdb --ioengine=libaio --direct=1 \
		--bs=4k --rw=randread --iodepth=32 --norandommap --randrepeat=0 \
		--time_based --runtime=1 > /tmp/fio.out 2>&1 ||
		{ echo "# warm-up fio failed:"; tail -n 5 /tmp/fio.out | sed 's/^/#   /'; }
	# shellcheck disable=SC2046 # the words of data/run
	set -- $(wait_key run)
	seq=$1 path=$2 ng=$3 qd=$4 ramp=$5 rt=$6
	# The guests' clocks agree (Xen's wall clock), dom0's need not: dom0
	# picks the start times from the clocks the guests report here.
	xenstore-write data/now "$(date +%s)"
	phase "ready-$seq"
	# shellcheck disable=SC2046 # the two start times
	set -- $(wait_key "go-$seq")
	w=1
	for t in "$1" "$2"; do
		wait_until "$t"
		if fio --name=bench --filename=/dev/xvdb --ioengine=libaio --direct=1 \
			--bs=4k --rw=randread --iodepth="$qd" --numjobs=1 --norandommap \
			--randrepeat=0 --time_based --runtime="$((rt * w))" \
			--ramp_time="${ramp}s" --clat_percentiles=0 \
			--output-format=json --output="/tmp/w$w.json" > /tmp/fio.out 2>&1; then
			:
		else
			echo "# fio failed:"
			tail -n 20 /tmp/fio.out | sed 's/^/#   /'
			rm -f "/tmp/w$w.json"
		fi
		w=$((w + 1))
	done
	for w in 1 2; do
		if [ -s "/tmp/w$w.json" ]; then
			ok "$path $ng guest(s) run $seq window $w"
			result "${path}__g${ng}__${seq}__w$w.json" "/tmp/w$w.json"
		else
			fail "$path $ng guest(s) run $seq window $w"
		fi
		rm -f "/tmp/w$w.json"
	done
	phase "done-$seq"
	while [ -b /dev/xvdb ]; do
		nap 0.2
	done
done
