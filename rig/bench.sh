#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make bench: one comparative benchmark of pvblk against the host-direct
# limit and the userspace backends (issue 5).  See bench/PERFORMANCE.md.
#
# Usage: rig/bench.sh [--smoke] [--out DIR] [--no-xen] [--no-icount] [--no-wall]
#   --smoke      short runtimes, 1 repetition, few configurations (< 5 min);
#                part of make check, so the benchmark cannot silently break
#   --out DIR    results directory (default results/<date-time>)
#   --no-xen     skip the Xen boot (its rows read "not run")
#   --no-icount  skip the -icount boot (no cost per I/O)
#   --no-wall    skip the wall-clock KVM boot
#   --no-kvm     skip both KVM boots; with --out DIR of an earlier run, its
#                KVM logs are kept and reported together with the new Xen run
#   --no-xen-many  skip the two many-guest Xen boots (4.)
#   --xen-many-only  only the two many-guest Xen boots (with --out DIR of an
#                earlier run, its other figures are reported too)
#
# Boots (all QEMU TCG, Debian's stock kernel):
#   1. KVM side, wall clock: bench/kvm.test in one rig VM (rig/vm-run.sh),
#      paths alternated, REPS repetitions, fio IOPS and QD1 latency.
#   2. KVM side, cost per I/O: the same guest under single-threaded TCG with
#      -icount shift=0,sleep=off (guest time = executed instructions, 1 ns
#      each), guest time for N and 2N I/Os: cost = (T(2N) - T(N)) /
#      (ios(2N) - ios(N)), the counts checked against fio's JSON.
#   3. Xen side: tests/xen/bench-xen.sh in one Xen rig boot (rig/xen-run.sh),
#      when the Xen rig and pvblk's Xen backend are there.
#   4. Xen, cost per I/O and many guests (full mode only): tests/xen/
#      bench-many.sh in two Xen boots, one wall-clock (aggregate IOPS of 1, 2
#      and 4 guests at once) and one under single-threaded TCG with -icount
#      shift=0,sleep=off (whole-machine instructions per I/O); see
#      bench/xen_many.py.  Env: PVBLK_BENCH_MANY_{PATHS,GUESTS,RT,ICOUNT_RT,
#      BOOTS}.
#   5. KVM side, full mode: the rig VM with 4 vCPUs for the many guests and
#      queues runs (PVBLK_BENCH_SCALE, wall clock), and the icount boot runs
#      them too, then the perf profiles (PVBLK_BENCH_PROFILE).
# Writes DIR/bench.json (every raw figure, versions, command lines),
# DIR/bench.png, DIR/table.txt and the serial logs; prints the table.
# Ends with "N passed, N failed" (one ok per path with a figure, the JSON,
# the PNG); exits 1 on a failure.  Speed is reported, never asserted.
# Env: PVBLK_BENCH_REPS, PVBLK_BENCH_RT (seconds per fio run),
#      PVBLK_BENCH_N (I/Os of the short icount run) override the defaults;
#      PVBLK_BENCH_{DEVS,QUEUES,JOBS,PATHS} ('+'-separated lists, see
#      bench/kvm.test) choose what the wall-clock boot runs, and
#      PVBLK_BENCH_ICOUNT_{DEVS,JOBS,PATHS,REPS} what the icount boot runs;
#      PVBLK_BENCH_POLL_JOBS (smoke lat1, full lat1+randread: QD1 and QD128)
#      the jobs of pvblk-vhost-poll,
#      PVBLK_BENCH_POLL_US (default 50) its busy-poll timeout;
#      PVBLK_BENCH_SCALE (GxQ words, e.g. 1x1+4x2; empty: not run) the many
#      guests and queues runs: a third boot with 4 vCPUs (wall clock) and
#      the same in the icount boot, PVBLK_BENCH_SCALE_SMP its vCPUs;
#      PVBLK_BENCH_PROFILE (paths; empty: none) the per-function profiles
#      in the icount boot (perf, DIR/profile.png), see bench/kvm.test.
#      PVBLK_BENCH_MANY_PROF (perf's period in ns; empty: none) the Xen
#      many-guests icount boot under perf in dom0 and the guests
#      (DIR/profile-xen.png, bench/xen_many.py).
# Does not take /tmp/pvblk-heavy.lock (make check calls it); rig/xen-run.sh
# takes it for the Xen boot unless PVBLK_HEAVY_LOCK_HELD=1 (set that when
# wrapping this script in flock /tmp/pvblk-heavy.lock).
set -euo pipefail

orig_args="$*"
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
. rig/versions.sh
t_start=$(date +%s)
TAP_NAME=bench
# shellcheck source=rig/tap.sh
. rig/tap.sh

smoke=0
xen=1
icount=1
wall=1
kvm=1
xen_many=
out=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 ;;
	--out) out=$2; shift ;;
	--no-xen) xen=0 ;;
	--no-icount) icount=0 ;;
	--no-kvm) kvm=0 ;;
	--no-wall) wall=0 ;;
	--no-xen-many) xen_many=0 ;;
	--xen-many-only) xen_many=1; xen=0; kvm=0 ;;
	-h|--help) sed -n '3,56p' "$0"; exit 0 ;;
	*) echo "bench: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

if [ $smoke = 1 ]; then
	reps=${PVBLK_BENCH_REPS:-1}
	rt=${PVBLK_BENCH_RT:-1}
	ramp=0
	n=${PVBLK_BENCH_N:-10000}
	icount_reps=2
	icount_jobs=randread
	poll_jobs=lat1
	devs=nullb
	queues=1
	jobs=randread+lat1+fsync1
	xen_rt=2
	xen_paths="pvblk-xen-pgnt blkback-pgnt"
	xen_fio_runs=1		# per guest boot: bench-xen.sh's JOBS x DISKS
else
	reps=${PVBLK_BENCH_REPS:-3}
	rt=${PVBLK_BENCH_RT:-3}
	ramp=1
	n=${PVBLK_BENCH_N:-50000}
	icount_reps=3
	icount_jobs=randread+fsync1+lat1
	poll_jobs=lat1+randread
	devs=nullb+brd+nullbwc
	queues=1+2
	jobs=randread+randwrite+lat1+fsync1
	xen_rt=${PVBLK_BENCH_RT:-3}
	xen_paths="pvblk-xen-pgnt blkback-pgnt pvblk-xen-nopgnt blkback-nopgnt"
	xen_fio_runs=6
fi
# The Xen boot's timeout follows the planned work (one guest boot per path
# and repetition, each doing its fio runs): ~120 s for Xen, dom0 and the
# toolstack, ~40 s per guest boot and teardown, each fio run its runtime
# plus ~3 s, all of it twice for a busy box.  PVBLK_XEN_TIMEOUT overrides.
xen_guests=$(($(echo "$xen_paths" | wc -w) * reps))
xen_timeout=$((2 * (120 + xen_guests * (40 + xen_fio_runs * (xen_rt + 3)))))
xen_timeout=${PVBLK_XEN_TIMEOUT:-$xen_timeout}
devs=${PVBLK_BENCH_DEVS:-$devs}
queues=${PVBLK_BENCH_QUEUES:-$queues}
jobs=${PVBLK_BENCH_JOBS:-$jobs}
paths=${PVBLK_BENCH_PATHS:-host-io_uring+host-libaio+pvblk-vhost+pvblk-vhost-poll+qsd-vhost-user}
poll_jobs=${PVBLK_BENCH_POLL_JOBS:-$poll_jobs}
poll_us=${PVBLK_BENCH_POLL_US:-50}
icount_reps=${PVBLK_BENCH_ICOUNT_REPS:-$icount_reps}
icount_devs=${PVBLK_BENCH_ICOUNT_DEVS:-nullb}
icount_jobs=${PVBLK_BENCH_ICOUNT_JOBS:-$icount_jobs}
icount_paths=${PVBLK_BENCH_ICOUNT_PATHS:-$paths}
# Issue 13, KVM side: many guests and queues, and where the instructions
# go.  Not in the smoke (make check): the full bench only, unless the env
# asks for them.
if [ $smoke = 1 ]; then
	scale_def="" profile_def=""
else
	scale_def=1x1+2x1+4x1+1x2+2x2+4x2+1x4+2x4+4x4
	profile_def=pvblk-vhost+host-libaio+host-io_uring
fi
scale=${PVBLK_BENCH_SCALE-$scale_def}
scale_smp=${PVBLK_BENCH_SCALE_SMP:-4}
profile=${PVBLK_BENCH_PROFILE-$profile_def}
mode_name=$([ $smoke = 1 ] && echo smoke || echo full)
out=${out:-$top/results/$(date +%Y%m%d-%H%M%S)-$mode_name}
mkdir -p "$out"
step "mode $mode_name, results in $out"

step "building pvblk.ko (make -s modules)"
flock /tmp/pvblk-modbuild.lock make -s modules >"$out/build.log" 2>&1 || {
	cat "$out/build.log" >&2
	fail "pvblk.ko builds"
	tap_totals
	exit 1
}
step "building the tools (make -s tools)"
make -s tools >>"$out/build.log" 2>&1 || {
	tail -n 30 "$out/build.log" >&2
	fail "tools build (fio engine)"
	tap_totals
	exit 1
}

# vm_boot NAME LOGNAME [vm-run options]: one rig VM running bench/kvm.test;
# its serial log is copied to $out/LOGNAME.  Env for the guest in $guest_env.
vm_boot() {
	local name=$1 logname=$2 log rc
	shift 2
	step "$name: booting (rig/vm-run.sh $* bench/kvm.test, guest env: $guest_env)"
	set +e
	PVBLK_APPEND="$guest_env" bash rig/vm-run.sh --no-build "$@" bench/kvm.test \
		2>&1 | tee "$out/$logname.run" | grep --line-buffered -E '^# \[run|not ok|passed, ' |
		sed -u "s/^/[bench] $name: /" >&2
	rc=${PIPESTATUS[0]}
	set -e
	log=$(sed -n 's/.*(log: \(.*\))$/\1/p' "$out/$logname.run" | tail -n 1)
	if [ -n "$log" ] && [ -f "$log" ]; then
		cp "$log" "$out/$logname"
		step "$name: done (exit $rc), serial log $out/$logname"
	else
		step "$name: no serial log (exit $rc)"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$*" \
		"${PVBLK_ACCEL:-tcg,thread=multi}" "${PVBLK_QEMU_ARGS:-}" "$guest_env" >>"$out/boots.txt"
	return 0
}

: >>"$out/boots.txt"
if [ $kvm = 1 ]; then
	sed -i '/^kvm /d; /^xen\t/d' "$out/boots.txt"
fi
if [ $kvm = 1 ] && [ $wall = 1 ]; then
	guest_env="PVBLK_BENCH_MODE=wall PVBLK_BENCH_REPS=$reps PVBLK_BENCH_RT=$rt"
	guest_env+=" PVBLK_BENCH_RAMP=$ramp PVBLK_BENCH_DEVS=$devs PVBLK_BENCH_QUEUES=$queues"
	guest_env+=" PVBLK_BENCH_JOBS=$jobs PVBLK_BENCH_PATHS=$paths"
	guest_env+=" PVBLK_BENCH_POLL_JOBS=$poll_jobs PVBLK_BENCH_POLL_US=$poll_us"
	vm_boot "kvm wall-clock" kvm-wall.log --smp 2
fi

# Many guests and queues, wall clock (issue 13): its own boot with
# $scale_smp vCPUs, G fio processes (each its own /dev/vhost-blk) of Q
# queues each, aggregate IOPS over $reps repetitions.
if [ $kvm = 1 ] && [ $wall = 1 ] && [ -n "$scale" ]; then
	guest_env="PVBLK_BENCH_MODE=scale PVBLK_BENCH_REPS=$reps PVBLK_BENCH_RT=$rt"
	guest_env+=" PVBLK_BENCH_RAMP=$ramp PVBLK_BENCH_SCALE=$scale"
	vm_boot "kvm scale" kvm-scale.log --smp "$scale_smp"
fi

if [ $kvm = 0 ]; then
	step "kvm: skipped (--no-kvm)"
elif [ $icount = 1 ]; then
	guest_env="PVBLK_BENCH_MODE=icount PVBLK_BENCH_REPS=$icount_reps"
	guest_env+=" PVBLK_BENCH_N=$n PVBLK_BENCH_DEVS=$icount_devs PVBLK_BENCH_PATHS=$icount_paths"
	guest_env+=" PVBLK_BENCH_ICOUNT_JOBS=$icount_jobs"
	guest_env+=" PVBLK_BENCH_POLL_JOBS=$poll_jobs PVBLK_BENCH_POLL_US=$poll_us"
	[ -n "$scale" ] && guest_env+=" PVBLK_BENCH_SCALE=$scale"
	[ -n "$profile" ] && guest_env+=" PVBLK_BENCH_PROFILE=$profile"
	PVBLK_ACCEL="tcg,thread=single" PVBLK_QEMU_ARGS="-icount shift=0,sleep=off" \
		vm_boot "kvm icount" kvm-icount.log --smp 1
else
	step "kvm icount: skipped (--no-icount)"
fi

xen_note=
if [ $xen = 0 ]; then
	xen_note="skipped (--no-xen)"
elif [ ! -f rig/xen-run.sh ] || [ ! -f tests/xen/bench-xen.sh ]; then
	xen_note="rig/xen-run.sh or tests/xen/bench-xen.sh not in this tree"
elif ! git ls-files --error-unmatch rig/xen-run.sh >/dev/null 2>&1; then
	xen_note="rig/xen-run.sh is not committed yet (the Xen rig is still landing)"
else
	sed -i '/^xen\t/d' "$out/boots.txt"
	step "xen: booting the Xen rig (rig/xen-run.sh tests/xen/bench-xen.sh)"
	set +e
	step "xen: $xen_guests guest boots planned, timeout ${xen_timeout}s"
	PVBLK_XEN_TIMEOUT=$xen_timeout \
	PVBLK_XEN_ENV="BENCH_REPS=$reps BENCH_RT=$xen_rt BENCH_SMOKE=$smoke" \
		bash rig/xen-run.sh tests/xen/bench-xen.sh >"$out/xen.run" 2>&1
	rc=$?
	set -e
	printf 'xen\t%s\trig/xen-run.sh tests/xen/bench-xen.sh\t\t\t%s\n' "$rc" \
		"BENCH_REPS=$reps BENCH_RT=$xen_rt BENCH_SMOKE=$smoke" >>"$out/boots.txt"
	xdir=$(sed -n 's/.*(logs in \(.*\))$/\1/p' "$out/xen.run" | tail -n 1)
	grep -E '^  (not )?ok - |PASS|FAIL' "$out/xen.run" | sed 's/^/[bench] xen: /' >&2 || true
	if [ -n "$xdir" ] && [ -f "$xdir/console.log" ]; then
		cp "$xdir/console.log" "$out/xen-console.log"
		rm -rf "$out/xen-results"
		[ -d "$xdir/results" ] && cp -r "$xdir/results" "$out/xen-results"
		step "xen: done (exit $rc), console $out/xen-console.log"
	else
		xen_note="the Xen boot left no console log (exit $rc, see $out/xen.run)"
		step "xen: $xen_note"
	fi
fi
[ -n "$xen_note" ] && step "xen: not run: $xen_note"

# perf_bundle FILE: /usr/bin/perf and its ldd closure as a gzip'd tar of
# real files at their usr-merged paths (usr/lib/..., usr/lib64/...), for
# dom0 and the guests of the many-guests profile to unpack over their /.
perf_bundle() {
	local f rel list=()
	command -v perf > /dev/null || return 1
	for f in $(readlink -f "$(command -v perf)") \
		$(ldd "$(command -v perf)" | awk '/=> \//{ print $3 } /^[ \t]*\//{ print $1 }'); do
		rel=${f#/}
		case $rel in usr/*) ;; *) rel=usr/$rel ;; esac
		list+=("$rel")
	done
	# The bundle's perf is usr/bin/perf whatever the host calls it.
	tar -C / -chzf "$1" --transform 's|^usr/bin/perf.*|usr/bin/perf|' "${list[@]}"
}

# xen_many_boot MODE: tests/xen/bench-many.sh in one Xen boot, MODE wall
# (multi-threaded TCG, heavy lock) or icount (single-threaded TCG with
# -icount shift=0,sleep=off, /tmp/pvblk-icount.lock); the guests' fio JSONs
# go to $out/xen-many-MODE/results, read by bench/xen_many.py.  The timeout
# follows the plan: ~150 s of boots, per run ~60 s of hot-plug and sync
# plus the windows, three times that under -icount.
xen_many_boot() {
	local mode=$1 rt d rc runs t xdir env
	local paths=${PVBLK_BENCH_MANY_PATHS:-pvblk-xen-pgnt+blkback-pgnt+pvblk-xen-nopgnt+blkback-nopgnt}
	local guests=${PVBLK_BENCH_MANY_GUESTS:-1+2+4}
	d=$out/xen-many-$mode
	rm -rf "$d"
	mkdir -p "$d"
	printf 'paths=%s\nguests=%s\n' "$paths" "$guests" > "$d/plan"
	if [ "$mode" = icount ]; then rt=${PVBLK_BENCH_MANY_ICOUNT_RT:-1}; else rt=${PVBLK_BENCH_MANY_RT:-2}; fi
	runs=$(( $(echo "${paths//+/ }" | wc -w) * $(echo "${guests//+/ }" | wc -w) ))
	t=$((150 + runs * (60 + 3 * rt + 8)))
	env="BENCH_MANY_PATHS=$paths BENCH_MANY_GUESTS=$guests BENCH_MANY_RT=$rt"
	# PVBLK_BENCH_MANY_PROF (perf's period in ns): the icount boot also
	# profiles every window in dom0 and the guests (tests/xen/bench-many.sh);
	# perf and its ldd closure go in as /scenario/perf.tgz.
	local prof=${PVBLK_BENCH_MANY_PROF:-} files=()
	if [ "$mode" = icount ] && [ -n "$prof" ]; then
		perf_bundle "$d/perf.tgz" || { step "xen many ($mode): no perf bundle"; return 1; }
		files=("PVBLK_XEN_FILES=${PVBLK_XEN_FILES-} $d/perf.tgz")
		env="$env BENCH_MANY_PROF=$prof"
		echo "prof=$prof" >> "$d/plan"
		t=$((t + runs * 200))
	fi
	[ "$mode" = icount ] && t=$((3 * t))
	t=${PVBLK_XEN_MANY_TIMEOUT:-$((2 * t))}
	step "xen many ($mode): $runs runs, timeout ${t}s (rig/xen-run.sh tests/xen/bench-many.sh, $env)"
	set +e
	if [ "$mode" = icount ]; then
		PVBLK_HEAVY_LOCK_HELD=1 PVBLK_XEN_TIMEOUT=$t PVBLK_XEN_ENV="$env" \
		PVBLK_XEN_ACCEL=tcg,thread=single,tb-size=512 \
		PVBLK_XEN_QEMU_ARGS="-icount shift=0,sleep=off" \
			env "${files[@]}" flock /tmp/pvblk-icount.lock bash rig/xen-run.sh tests/xen/bench-many.sh \
			> "$d/xen.run" 2>&1
	else
		PVBLK_XEN_TIMEOUT=$t PVBLK_XEN_ENV="$env" \
			bash rig/xen-run.sh tests/xen/bench-many.sh > "$d/xen.run" 2>&1
	fi
	rc=$?
	set -e
	flock "$out/.boots.lock" printf 'xen many %s\t%s\trig/xen-run.sh tests/xen/bench-many.sh\t%s\t%s\t%s\n' "$mode" "$rc" \
		"$([ "$mode" = icount ] && echo tcg,thread=single,tb-size=512 || echo tcg,thread=multi,tb-size=512)" \
		"$([ "$mode" = icount ] && echo "-icount shift=0,sleep=off")" "$env" >> "$out/boots.txt"
	xdir=$(sed -n 's/.*(logs in \(.*\))$/\1/p' "$d/xen.run" | tail -n 1)
	if [ -n "$xdir" ] && [ -f "$xdir/console.log" ]; then
		cp "$xdir/console.log" "$d/console.log"
		[ -d "$xdir/results" ] && cp -r "$xdir/results" "$d/results"
	fi
	step "xen many ($mode): done (exit $rc), $d"
}
[ -z "$xen_many" ] && xen_many=$([ $smoke = 0 ] && [ $xen = 1 ] && echo 1 || echo 0)
if [ "$xen_many" = 1 ] && [ -f tests/xen/bench-many.sh ]; then
	# The icount boot (its own lock; its figures do not depend on the
	# load) runs alongside the wall-clock one.
	# PVBLK_BENCH_MANY_BOOTS=wall or icount: only that one (with --out DIR
	# of an earlier run, the other's figures are kept).
	many_boots=${PVBLK_BENCH_MANY_BOOTS:-icount+wall}
	for m in icount wall; do
		case "+$many_boots+" in *"+$m+"*) sed -i "/^xen many $m\t/d" "$out/boots.txt" ;; esac
	done
	case "+$many_boots+" in *+icount+*) xen_many_boot icount & ;; esac
	case "+$many_boots+" in *+wall+*) xen_many_boot wall ;; esac
	wait
fi

step "report: bench.json, table, plot"
set +e
python3 bench/report.py --out "$out" --mode "$mode_name" --xen-note "$xen_note" \
	--n "$n" --xen-paths "$xen_paths" --xen-reps "$([ $xen = 1 ] && echo "$reps" || echo 0)" \
	--cmdline "rig/bench.sh $orig_args" \
	--versions "$(. rig/versions.sh; pvblk_kver)"
rc=$?
set -e
step "finished in $(($(date +%s) - t_start))s; results in $out"
exit $rc
