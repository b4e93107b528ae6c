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

# Profile mode (DOMU_BENCH_MANY_PROF, perf's period in ns; bench-many.sh):
# perf from /perf.tgz (the guest has 512 MiB then), every window under `perf record -e cpu-clock -a`,
# /proc/stat's cpu line before and after it; after both windows the
# reports (module symbols put back into their module, as in dom0) are
# published as PATH__gG__SEQ__wK.prof and the stat lines as .stat
# ("stat": no perf, the stat lines only).
PROF=${DOMU_BENCH_MANY_PROF:-}
# perf's libraries stay under /perf (a tmpfs of its own: the initramfs
# root is full with fio's closure; unpacked over /, they filled it and
# left the guest's libraries truncated).
perf() {
	LD_LIBRARY_PATH=/perf/usr/lib/x86_64-linux-gnu /perf/usr/bin/perf "$@"
}
if [ -n "$PROF" ] && [ "$PROF" != stat ]; then
	mkdir -p /perf
	mount -t tmpfs -o size=96m tmpfs /perf
	check "perf and its libraries (perf.tgz, in /perf)" tar -xzf /perf.tgz -C /perf
	rm -f /perf.tgz
	check "perf runs in the guest" perf --version
	echo 0 > /proc/sys/kernel/kptr_restrict
	echo -1 > /proc/sys/kernel/perf_event_paranoid
fi
# prof_report W NAME: publish window W's perf report as NAME.
prof_report() {
	if [ "$PROF" = stat ]; then
		:
	elif perf report -i "/tmp/prof$1.data" --stdio -q -t '|' --sort pid,dso,sym \
		-F sample,pid,dso,sym --percent-limit 0 > /tmp/prof.rep 2> /tmp/prof.err; then
		awk '$4 ~ /^\[/ { print $3 "|" $4 }' /proc/kallsyms > /tmp/modsyms
		sed -e 's/^ *//' -e 's/ *| */|/g' /tmp/prof.rep | grep -E '^[0-9]+\|' |
			awk -F'|' -v OFS='|' 'NR == FNR { mod[$1] = $2; next }
				{ s = $4; sub(/^\[k\] /, "", s); if ($4 ~ /^\[k\]/ && (s in mod)) $3 = mod[s]; print }' \
				/tmp/modsyms - > /tmp/prof.txt
		ok "profile of window $1 ($(wc -l < /tmp/prof.txt) symbols)"
		result "$2.prof" /tmp/prof.txt
	else
		fail "profile of window $1" "perf report failed"
		tail -n 5 /tmp/prof.err | sed 's/^/#   /'
	fi
	{ cat "/tmp/stat$1.0"; cat "/tmp/stat$1.1"; } > /tmp/stat.txt
	result "$2.stat" /tmp/stat.txt
	rm -f "/tmp/prof$1.data" "/tmp/stat$1.0" "/tmp/stat$1.1"
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
		perf=
		[ -n "$PROF" ] && [ "$PROF" != stat ] && perf="perf record -q -e cpu-clock -c $PROF -a -B -N -o /tmp/prof$w.data --"
		head -n 1 /proc/stat > "/tmp/stat$w.0"
		# shellcheck disable=SC2086 # perf's words, or none
		if $perf fio --name=bench --filename=/dev/xvdb --ioengine=libaio --direct=1 \
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
		head -n 1 /proc/stat > "/tmp/stat$w.1"
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
		[ -n "$PROF" ] && prof_report "$w" "${path}__g${ng}__${seq}__w$w"
	done
	phase "done-$seq"
	while [ -b /dev/xvdb ]; do
		nap 0.2
	done
done
