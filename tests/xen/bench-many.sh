# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "bench-many" (rig/bench.sh, not part of xen-check): many guests
# at once.  Four PV guests (256 MiB, 1 vCPU each) boot with no disk and stay
# up; for each path (pvblk or xen-blkback, persistent grants on or off:
# the backend's module parameter, pvblk xen_persistent / xen-blkback
# feature_persistent, which decides the backend's feature-persistent key)
# and each guest count G of BENCH_MANY_GUESTS, guests 1..G get their own
# null_blk (nullb0..3, not memory backed) hot-plugged as xvdb and run 4k
# random reads at once (bench-many.domu.sh): two windows of RT and 2*RT
# seconds, each started by every guest at the same realtime second.  The
# same scenario gives aggregate IOPS on a wall-clock boot and, under
# -icount shift=0,sleep=off (guest time = instructions of the whole
# machine), the cost per I/O: (T(2RT) - T(RT)) / (ios(2RT) - ios(RT)),
# computed by bench/xen_many.py from the published fio JSONs.
# Environment (PVBLK_XEN_ENV from rig/bench.sh):
#   BENCH_MANY_PATHS   (pvblk-xen-pgnt blkback-pgnt pvblk-xen-nopgnt blkback-nopgnt)
#   BENCH_MANY_GUESTS  guest counts (1 2 4); at most 4
#   BENCH_MANY_RT      seconds of the first window (2; the second is twice)
#   BENCH_MANY_RAMP    fio ramp_time of each window, seconds (1)
#   BENCH_MANY_QD      iodepth (32)
#   BENCH_MANY_PROF    perf's sampling period in ns ('': no profile): each
#                      window also runs under `perf record -e cpu-clock -a`
#                      in dom0 (from 3 s before the window to 3 s after it)
#                      and in every measured guest (around its fio; the
#                      guests get 512 MiB for perf's files), with
#                      the first line of /proc/stat before and after; perf
#                      and its libraries come as /scenario/perf.tgz
#                      (rig/bench.sh PVBLK_BENCH_MANY_PROF), dom0 prints its
#                      reports as PVBLK-XPROF lines, the guests publish
#                      theirs (PATH__gG__SEQ__wK.prof / .stat); see
#                      bench/xen_many.py.  The two windows are 6 s further
#                      apart then (dom0's perf stops and starts between them).
#                      "stat": no perf, only the /proc/stat lines (256 MiB
#                      guests, as without a profile).
#   ('+' separates words too: PVBLK_XEN_ENV is split at blanks.)
# A path pvblk-alt-pgnt / pvblk-alt-nopgnt loads /scenario/pvblk-alt.ko
# instead (a variant of pvblk.ko shipped with PVBLK_XEN_FILES=/path/
# pvblk-alt.ko), to measure a change before and after in one boot.
set -uo pipefail
PATHS=${BENCH_MANY_PATHS:-pvblk-xen-pgnt blkback-pgnt pvblk-xen-nopgnt blkback-nopgnt}
GUESTS=${BENCH_MANY_GUESTS:-1 2 4}
PATHS=${PATHS//+/ } GUESTS=${GUESTS//+/ }
RT=${BENCH_MANY_RT:-2}
RAMP=${BENCH_MANY_RAMP:-1}
QD=${BENCH_MANY_QD:-32}
PROF=${BENCH_MANY_PROF:-}
maxg=0
for g in $GUESTS; do [ "$g" -gt "$maxg" ] && maxg=$g; done
[ "$maxg" -le 4 ] || { fail "bench-many: at most 4 guests, not $maxg"; exit 1; }

step "bench-many: paths [$PATHS], guests [$GUESTS], windows ${RT}s and $((2 * RT))s, ramp ${RAMP}s, QD $QD"
check "modprobe null_blk (4 devices, not memory backed, depth 256)" \
	modprobe null_blk nr_devices=4 gb=1 bs=4096 queue_mode=2 submit_queues=2 hw_queue_depth=256

# prof_window W T LEN: dom0's profile of window W (guest clock: it starts
# at T and lasts LEN s plus fio's start and exit): perf record from T - 3
# to T + LEN + 3, /proc/stat's cpu line before and after.  The guest clock
# is now + the seconds dom0 counted since t0 (see below).
prof_window() {
	local d
	d=$(($2 - 3 - now - ($(date +%s) - t0)))
	[ $d -gt 0 ] && sleep $d
	head -n 1 /proc/stat > "/tmp/prof-w$1.stat0"
	if [ "$PROF" = stat ]; then
		sleep $(($3 + 6))
		head -n 1 /proc/stat > "/tmp/prof-w$1.stat1"
		return 0
	fi
	perf record -q -e cpu-clock -c "$PROF" -a -g -B -N -o "/tmp/prof-w$1.data" \
		-- sleep $(($3 + 6)) > "/tmp/prof-w$1.out" 2>&1 ||
		{ echo "# dom0 perf record (window $1) failed:"; tail -n 5 "/tmp/prof-w$1.out" | sed 's/^/#   /'; }
	head -n 1 /proc/stat > "/tmp/prof-w$1.stat1"
}

# prof_report PATH G SEQ W: dom0's report of window W as "PVBLK-XPROF dom0
# PATH G SEQ W samples|tid:comm|dso|sym" lines (module symbols put back into
# their module: perf 6.1 files them under [kernel.kallsyms], see
# bench/kvm.test), one PVBLK-XPROF-STAT line, and "PVBLK-XPROF-HC ...
# samples|comm|caller<caller's caller" lines for the samples that landed
# right after a hypercall (dom0 records call chains, -g).
prof_report() {
	local f=/tmp/prof-w$4
	if [ "$PROF" = stat ]; then
		echo "PVBLK-XPROF-STAT dom0 $1 $2 $3 $4 $(cat "$f.stat0") | $(cat "$f.stat1")"
		ok "bench-many: dom0 /proc/stat of run $3 window $4"
		rm -f "$f".*
		return 0
	fi
	if perf report -i "$f.data" --stdio -q -t '|' --sort pid,dso,sym --no-children -g none \
		-F sample,pid,dso,sym --percent-limit 0 > "$f.rep" 2> "$f.err"; then
		awk '$4 ~ /^\[/ { print $3 "|" $4 }' /proc/kallsyms > /tmp/modsyms
		sed -e 's/^ *//' -e 's/ *| */|/g' "$f.rep" | grep -E '^[0-9]+\|' |
			awk -F'|' -v OFS='|' 'NR == FNR { mod[$1] = $2; next }
				{ s = $4; sub(/^\[k\] /, "", s); if ($4 ~ /^\[k\]/ && (s in mod)) $3 = mod[s]; print }' \
				/tmp/modsyms - | sed "s/^/PVBLK-XPROF dom0 $1 $2 $3 $4 /"
		echo "PVBLK-XPROF-STAT dom0 $1 $2 $3 $4 $(cat "$f.stat0") | $(cat "$f.stat1")"
		# Who made the hypercalls: the samples that landed right after
		# one (xen_hypercall_pv), counted by thread and their two callers.
		# perf script: a line "comm", then one "<tab>address symbol"
		# line per frame, leaf first.  The caller, and the first frame
		# above it that is not Xen, lock or irq-flags code: a sample
		# taken while event delivery was masked lands after the
		# hypercall that re-enables it (check_events ->
		# xen_force_evtchn_callback), and that frame is the code that ran
		# masked.
		perf script -i "$f.data" -S xen_hypercall_pv -F comm,ip,sym 2> /dev/null |
			awk '
			function flush() { if (n) cnt[comm "|" c1 "<" c2]++; n = 0 }
			/^\t/ { n++; if (n == 2) c1 = $2
				if (n >= 3 && c2 == "-" && $2 !~ /^_*(raw_|_raw|xen_|check_events|spin_|local_irq|arch_local|native_|do_raw|pv_native|irq_exit|irqentry)/) c2 = $2
				next }
			NF > 0 { flush(); comm = $1; sub(/\/.*/, "", comm); c1 = c2 = "-" }
			END { flush(); for (k in cnt) print cnt[k] "|" k }' |
			sed "s/^/PVBLK-XPROF-HC dom0 $1 $2 $3 $4 /"
		ok "bench-many: dom0 profile of run $3 window $4 ($(grep -c '|' "$f.rep") symbols)"
	else
		fail "bench-many: dom0 profile of run $3 window $4" "perf report failed"
		tail -n 5 "$f.out" "$f.err" | sed 's/^/#   /'
	fi
	rm -f "$f".*
}

# perf's libraries stay under /perf (not unpacked over the running /).
perf() {
	LD_LIBRARY_PATH=/perf/usr/lib/x86_64-linux-gnu /perf/usr/bin/perf "$@"
}
if [ -n "$PROF" ] && [ "$PROF" != stat ]; then
	mkdir -p /perf
	check "perf and its libraries for the profile (/scenario/perf.tgz)" \
		tar -xzf /scenario/perf.tgz -C /perf
	check "perf runs in dom0" perf --version
	echo 0 > /proc/sys/kernel/kptr_restrict
	echo -1 > /proc/sys/kernel/perf_event_paranoid
	# The guests get perf too (in their initramfs), and the period.
	export DOMU_FILES=perf.tgz
fi
[ -n "$PROF" ] && export DOMU_BENCH_MANY_PROF=$PROF

mem=256
[ -n "$PROF" ] && [ "$PROF" != stat ] && mem=512
for i in $(seq 1 "$maxg"); do
	DOMU_MEMORY=$mem DOMU_VCPUS=1 domu_start "m$i" bench-many.domu.sh ||
		{ fail "xl create m$i"; exit 1; }
done

# Booting guests take the machine: the first run waits until all are idle.
for i in $(seq 1 "$maxg"); do
	domu_wait_phase "m$i" idle || exit 1
done
seq=0
for path in $PATHS; do
	backend_use "$path" || { fail "load the backend of $path"; continue; }
	for g in $GUESTS; do
		seq=$((seq + 1))
		step "bench-many: run $seq: $path, $g guest(s)"
		bad=0
		for i in $(seq 1 "$g"); do
			domu_signal "m$i" run "$seq $path $g $QD $RAMP $RT" || bad=1
			block_attach "m$i" "phy:/dev/nullb$((i - 1)),xvdb,w" || bad=1
		done
		for i in $(seq 1 "$g"); do
			domu_wait_phase "m$i" "ready-$seq" || bad=1
		done
		if [ $bad = 0 ]; then
			id=$(domid_of m1)
			info "run $seq: m1 xvdb bound to $(readlink "/sys/bus/xen-backend/devices/vbd-$id-$(vbd_devid xvdb)/driver" | sed 's|.*/||'), feature-persistent be=$(xs_be m1 xvdb feature-persistent 2>/dev/null) fe=$(xs_fe m1 xvdb feature-persistent 2>/dev/null), queues=$(xs_fe m1 xvdb multi-queue-num-queues 2>/dev/null || echo 1)"
			# Window 1 starts 8 s after the newest clock a guest
			# reported when it became ready (the guests agree on the
			# time, dom0 was seen seconds behind them; every guest polls
			# data/go-SEQ every 0.5 s), window 2 when window 1 and
			# fio's start-up and exit are surely over.
			now=0
			for i in $(seq 1 "$g"); do
				t=$(xenstore-read "/local/domain/$(domid_of "m$i")/data/now")
				[ "${t:-0}" -gt "$now" ] && now=$t
			done
			t0=$(date +%s)
			t1=$((now + 8))
			t2=$((t1 + RAMP + RT + 3))
			[ -n "$PROF" ] && t2=$((t2 + 6))
			for i in $(seq 1 "$g"); do
				domu_signal "m$i" "go-$seq" "$t1 $t2"
			done
			# No xenstore polling from dom0 while the windows run.
			if [ -n "$PROF" ]; then
				prof_window 1 "$t1" $((RAMP + RT))
				prof_window 2 "$t2" $((RAMP + 2 * RT))
			else
				w=$((t2 - now + RAMP + 2 * RT + 1 - ($(date +%s) - t0)))
				[ $w -gt 0 ] && sleep $w
			fi
			for i in $(seq 1 "$g"); do
				domu_wait_phase "m$i" "done-$seq" || bad=1
			done
			if [ -n "$PROF" ]; then
				prof_report "$path" "$g" "$seq" 1
				prof_report "$path" "$g" "$seq" 2
			fi
		fi
		for i in $(seq 1 "$g"); do
			xl block-detach "m$i" xvdb || fail "xl block-detach m$i xvdb"
		done
		[ $bad = 0 ] && ok "bench-many: run $seq ($path, $g guests)"
		[ $bad = 0 ] || fail "bench-many: run $seq ($path, $g guests)"
	done
done
for i in $(seq 1 "$maxg"); do
	xl destroy "m$i"
	domu_wait "m$i"
done
backend_unload
ok "bench-many: $seq runs"
