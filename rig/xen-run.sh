#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rig/xen-run.sh [--kernel stock|debug] SCENARIO...: run Xen integration
# scenarios, one QEMU boot each: QEMU (TCG) -> Xen 4.17 -> dom0 running the
# scenario script, which starts PV guests with phy disks.
#
# --kernel stock (default): dom0 runs Debian's stock kernel and pvblk.ko
#   from the repo top.
# --kernel debug: dom0 runs the debug kernel (rig/debug-kernel.sh: KASAN,
#   lockdep, kmemleak, UBSAN, DEBUG_ATOMIC_SLEEP) with the pvblk.ko of
#   rig/build-debug-modules.sh (both built or brought up to date first),
#   its own modules, more memory (PVBLK_XEN_DOM0_MEM, default 2048M) and
#   the timeout scaled by PVBLK_TIMEOUT_SCALE (default 3 here, 1 stock);
#   after the scenario dom0 scans for leaks (kmemleak), every leak fails.
#   The PV guests keep the stock kernel.
#
# SCENARIO is a name under tests/xen (tests/xen/NAME.sh) or a path to a
# scenario script; every file of that script's directory is shipped to dom0
# as /scenario/ (guest scripts, fio job files), the script as
# /scenario/main.sh.  See tests/xen/README.md.
#
# Environment:
#   PVBLK_KO           module to test (default: see --kernel)
#   PVBLK_CACHE        cache root; images in xen/, logs in logs/xen-*
#   PVBLK_XEN_ENV      extra KEY=VALUE words for the scenario's environment
#                      (DOMU_* ones reach the guest script too)
#   PVBLK_XEN_TIMEOUT  seconds before a hung boot is killed (default 600,
#                      times PVBLK_TIMEOUT_SCALE)
#   PVBLK_XEN_DOM0_MEM dom0_mem (default 1536M stock, 2048M debug)
#   PVBLK_XEN_APPEND, PVBLK_XEN_DOM0_APPEND  extra Xen / dom0 command line
#   PVBLK_XEN_CPU, PVBLK_XEN_QEMU_ARGS  QEMU -cpu (qemu64) / extra arguments
#   PVBLK_XEN_ACCEL    QEMU -accel (default tcg,thread=multi,tb-size=512);
#                      rig/bench.sh's cost per I/O boot sets
#                      tcg,thread=single,tb-size=512 with PVBLK_XEN_QEMU_ARGS
#                      "-icount shift=0,sleep=off" (then take
#                      /tmp/pvblk-icount.lock and set PVBLK_HEAVY_LOCK_HELD=1)
#   PVBLK_XEN_FILES    host files also shipped in /scenario (default:
#                      tools/xen-hostile/xen_hostile.ko,
#                      tools/build/pvblk-stamp and tools/build/pvblk-stat,
#                      those that are built)
#   PVBLK_HEAVY_LOCK_HELD=1  the caller already holds /tmp/pvblk-heavy.lock
#   PVBLK_XEN_QUEUE    a directory shared by several xen-run.sh at once:
#                      each runs only the scenarios it claims there first
#                      (mkdir DIR/SCENARIO), so two of them work off one
#                      list (rig/check.sh's xen-debug and xen-pull)
#
# Per run: <logdir>/console.log (raw serial), dom0.log, guest-NAME.log,
# results/NAME/FILE (files a guest published), verdict.
# A scenario passes when dom0 prints its PASS verdict, there is at least one
# "ok" and no "not ok" line, and no kernel report (Oops, BUG, WARNING,
# KASAN, UBSAN, lockdep, kmemleak, panic, hung task) appears in dom0's or
# any guest's log.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
# shellcheck source=rig/versions.sh
. "$here/versions.sh"
# Host files shipped in /scenario next to the scenario's own (those that
# exist; default: the hostile blkif frontend of tests/xen/hostile.sh, the
# static writer / verifier of tests/xen/fault.sh and pvblk-stat for
# tests/xen/pvblk.sh).
xen_files=${PVBLK_XEN_FILES-$top/tools/xen-hostile/xen_hostile.ko $top/tools/build/pvblk-stamp $top/tools/build/pvblk-stat}
say() { echo "xen-run: $*"; }

# Filter out (into FILE) the one known kernel report that is not pvblk's:
# Linux 6.12's xen-gntdev takes priv->lock then mmap_lock in its ioctls
# (copy_to_user under the lock) and the other way round in gntdev_mmap, so
# lockdep reports a circular dependency as soon as xenstored maps a guest's
# ring, before pvblk is loaded.  The whole report (from its WARNING line to
# the end of its stack dump) is dropped only when it names gntdev_mmap and
# mmap_lock.  The rig's debug kernels no longer produce it (gntdev's
# priv->lock is left out of lockdep's validation, rig/common.sh); should it
# come back, lockdep would be off for the rest of that boot, and dom0's
# "lockdep still validating" check fails the scenario.
known_reports() {
	# dom0 repeats report lines later as "PVBLK-DMESG: [  time] ...": those
	# whose time stamp falls in a dropped report go with it.
	awk -v known="$1" '
	function stamp(line) {
		if (!match(line, /\[ *[0-9]+\.[0-9]+\]/))
			return ""
		return substr(line, RSTART, RLENGTH)
	}
	/^PVBLK-DMESG: / && (stamp($0) in dropped) { print > known; next }
	/WARNING: possible circular locking dependency detected/ {
		inblk = 1; buf = ""; n = 0 }
	inblk { buf = buf $0 "\n"; st[++n] = stamp($0)
		if ($0 ~ /<\/TASK>/) {
			inblk = 0
			if (buf ~ /gntdev_mmap/ && buf ~ /mmap_lock/) {
				printf "%s", buf > known
				for (i = 1; i <= n; i++)
					dropped[st[i]] = 1
			} else {
				printf "%s", buf
			}
		}
		next }
	{ print }
	END { if (inblk) printf "%s", buf }'
}

kernel=stock
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=${2:-}; shift 2 ;;
	--kernel=*) kernel=${1#--kernel=}; shift ;;
	-h|--help) sed -n '3,44p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--kernel stock|debug] SCENARIO..." >&2; exit 2; }

case $kernel in
stock)
	KVER=$(pvblk_kver)
	dom0_kernel=/boot/vmlinuz-$KVER
	PVBLK_KO=${PVBLK_KO:-$top/pvblk.ko}
	scale=${PVBLK_TIMEOUT_SCALE:-1}
	dom0_mem=${PVBLK_XEN_DOM0_MEM:-1536M}
	dom0_append=
	;;
debug)
	say "debug kernel and its pvblk.ko (rig/debug-kernel.sh, rig/build-debug-modules.sh)"
	dom0_kernel=$("$here/debug-kernel.sh" --dom0)
	dbuild=$(dirname "$(dirname "$(dirname "$(dirname "$dom0_kernel")")")")
	KVER=$(cat "$dbuild/include/config/kernel.release")
	if [ -z "${PVBLK_KO:-}" ]; then
		# Status 2: pvblk.ko built, only pvblk_kunit.ko failed.
		PVBLK_KO=$("$here/build-debug-modules.sh" --dom0 | grep '/pvblk\.ko$') || true
		[ -n "$PVBLK_KO" ] || { say "pvblk.ko does not build against $KVER"; exit 1; }
	fi
	say "debug dom0 $KVER ($dom0_kernel)"
	scale=${PVBLK_TIMEOUT_SCALE:-3}
	dom0_mem=${PVBLK_XEN_DOM0_MEM:-2048M}
	# An oops ends the run at once (dom0's panic makes Xen reboot, and
	# QEMU runs with -no-reboot) instead of hanging until the timeout.
	# slub_debug (red zones, poisoning, free checks) stands in for the
	# KASAN this flavour cannot have (rig/debug-dom0.config).
	dom0_append="oops=panic panic=-1 printk.time=1 slub_debug=FZPU"
	;;
*) echo "$0: --kernel stock|debug, not '$kernel'" >&2; exit 2 ;;
esac
timeout_s=$(( ${PVBLK_XEN_TIMEOUT:-600} * scale ))

say "base images"
base=$("$here/xen-mkinitramfs.sh")
mods=
[ "$kernel" = stock ] ||
	mods=$("$here/xen-mkinitramfs.sh" --dom0-modules "$KVER" "$dbuild/mod-install")

# Kernel reports that fail a run wherever they appear (Xen's own lines, which
# start with "(XEN)", are not kernel reports and are skipped), and blkfront's
# complaints about a backend breaking the blkif protocol.
# The debug dom0 adds lockdep's other reports, slub_debug's ("BUG
# kmalloc-64 (Not tainted): Redzone overwritten") and kmemleak's.
splat_re='cut here ]|WARNING: CPU:|BUG:|Oops|KASAN|UBSAN|kernel BUG|general protection fault|Kernel panic|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lockdep|INFO: task .* blocked|Call Trace:|stack segment:|list_add corruption|list_del corruption|response has wrong operation|disabled for further use|Bad return from blkdev'
splat_re+='|possible irq lock inversion|bad unlock balance|held lock freed|lock held when returning|DEBUG_LOCKS_WARN_ON|BUG [^ ]+ \((Not t|T)ainted\)|unreferenced object 0x'

# judge LOGDIR: split the console log, extract results, print the verdict.
judge() {
	local l=$1 reasons="" verdict oks noks
	tr -d '\r' < "$l/console.log" > "$l/console.txt"
	grep -av '^\[guest-[^]]*\] ' "$l/console.txt" > "$l/dom0.log" || true
	# Results come from the guests' console dumps ("[guest-NAME] ") and,
	# for those a dump lacks, from the live follow ("~guest-NAME~ "): a run
	# killed at the timeout has no dump but keeps what its guests
	# published.  The two streams may interleave: each has its own file.
	awk -v dir="$l" '
		/^(\[guest-[^]]*\]|~guest-[^~]*~) / {
			s = substr($1, 1, 1) == "~" ? "live" : "dump"
			g = $1; gsub(/^[[~]|[]~]$/, "", g)
			line = substr($0, length($1) + 2)
			if (s == "dump")
				print line > (dir "/" g ".log")
			if (line ~ /^@@PVBLK-RESULT-END /) {
				if (out[s] != "")
					close(out[s])
				out[s] = ""
				next
			}
			if (out[s] != "") { print line > out[s]; next }
			if (line ~ /^@@PVBLK-RESULT-BEGIN .*@@$/) {
				n = line; sub(/^@@PVBLK-RESULT-BEGIN /, "", n); sub(/@@$/, "", n)
				d = dir "/" (s == "dump" ? "results" : "results-live") "/" g
				system("mkdir -p \"" d "\"")
				out[s] = d "/" n
				printf "" > out[s]
			}
		}' "$l/console.txt"
	if [ -d "$l/results-live" ]; then
		mkdir -p "$l/results"
		cp -rn "$l/results-live/." "$l/results/"
	fi
	oks=$(grep -acE '^(\[guest-[^]]*\] )?ok - ' "$l/console.txt" || true)
	noks=$(grep -acE '^(\[guest-[^]]*\] )?not ok - ' "$l/console.txt" || true)
	verdict=$(grep -a 'PVBLK-XEN-VERDICT:' "$l/console.txt" | tail -n 1 || true)
	grep -aE '^(\[guest-[^]]*\] )?(not )?ok - ' "$l/console.txt" | sed 's/^/  /' || true
	case $verdict in
	*PASS) ;;
	'') reasons="$reasons; no verdict (crash or hang, see $l/console.log)" ;;
	*) reasons="$reasons; dom0 verdict FAIL" ;;
	esac
	[ "$oks" -gt 0 ] || reasons="$reasons; no ok lines"
	run_oks=$oks
	run_noks=$noks
	[ "$noks" = 0 ] || reasons="$reasons; $noks not ok"
	# A lockdep kernel's boot says "RCU lockdep checking is enabled".
	if grep -avE '^\(XEN\)|RCU lockdep checking is enabled' "$l/console.txt" |
	   known_reports "$l/known-reports.txt" |
	   grep -aE "$splat_re" > "$l/splats.txt"; then
		reasons="$reasons; kernel reports in the logs:"
		sed 's/^/  | /' "$l/splats.txt" | head -n 20
	fi
	if [ -z "$reasons" ]; then
		echo "PASS" > "$l/verdict"
		return 0
	fi
	echo "FAIL${reasons#;}" | tee "$l/verdict" | sed 's/^/  /'
	return 1
}

# run_one SCENARIO: one boot; returns the judgement.
run_one() {
	local spec=$1 file name sdir l stage initrd rc env=""
	if [ -f "$spec" ]; then file=$spec; else file=$top/tests/xen/$spec.sh; fi
	[ -f "$file" ] || { say "no scenario $spec ($file)"; return 1; }
	file=$(cd "$(dirname "$file")" && pwd)/$(basename "$file")
	name=$(basename "$file" .sh)
	sdir=$(dirname "$file")
	# A directory of its own even when another boot of the same scenario
	# starts in the same second (rig/bench.sh's two bench-many boots did,
	# and shared one console.log and initrd): mkdir without -p is atomic.
	l=$PVBLK_CACHE/logs/xen-$name-$(date +%Y%m%d-%H%M%S)
	mkdir -p "$PVBLK_CACHE/logs"
	local sfx=1 base_l=$l
	until mkdir "$l" 2>/dev/null; do
		sfx=$((sfx + 1))
		l=$base_l-$sfx
	done
	say "$name: staging per-run files (logs in $l)"
	stage=$l/stage
	mkdir -p "$stage/scenario" "$stage/rig" "$stage/usr/lib/modules/$KVER/extra"
	find "$sdir" -maxdepth 1 -type f -exec cp {} "$stage/scenario/" \;
	cp "$file" "$stage/scenario/main.sh"
	for f in $xen_files; do
		[ -f "$f" ] && cp "$f" "$stage/scenario/"
	done
	cp "$here/xen/dom0-lib.sh" "$stage/scenario/lib.sh"
	cp "$here/xen/dom0-init.sh" "$stage/init"
	cp "$here/xen/domu-init.sh" "$stage/rig/domu-init.sh"
	cp "$here/gcov-dump.sh" "$stage/rig/gcov-dump.sh"
	cp "$here/tap.sh" "$stage/rig/tap.sh"
	chmod 0755 "$stage/init" "$stage/rig/domu-init.sh"
	if [ -f "$PVBLK_KO" ]; then
		cp "$PVBLK_KO" "$stage/usr/lib/modules/$KVER/extra/pvblk.ko"
		say "$name: pvblk module $PVBLK_KO ($(sha256sum < "$PVBLK_KO" | cut -c1-12))"
	else
		say "$name: no pvblk module at $PVBLK_KO (pvblk scenarios will fail)"
	fi
	initrd=$l/dom0-initrd
	# The small uncompressed archive goes first: the kernel does not find an
	# archive that follows a zstd one.
	{ (cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio --quiet -o -H newc -R 0:0)
	  [ -z "$mods" ] || cat "$mods"
	  cat "$base/dom0.cpio.zst"; } > "$initrd"
	# KEY=VALUE words on dom0's command line become /init's environment; a
	# comma inside a multiboot module's command line is written ",,".
	env="PVBLK_SCENARIO=$name ${PVBLK_XEN_ENV:-}"
	env=${env//,/,,}
	# shellcheck disable=SC2054 # commas inside -accel/-append values
	local qemu=(qemu-system-x86_64 -accel "${PVBLK_XEN_ACCEL:-tcg,thread=multi,tb-size=512}" -cpu "${PVBLK_XEN_CPU:-qemu64}"
		-m 4G -smp 2 -display none -no-reboot -serial stdio -monitor none -nic none
		-kernel "$base/xen"
		-append "console=com1 com1=115200,8n1 dom0_mem=$dom0_mem,max:$dom0_mem dom0_max_vcpus=2 loglvl=all guest_loglvl=all ${PVBLK_XEN_APPEND:-}"
		-initrd "$dom0_kernel console=hvc0 earlyprintk=xen rdinit=/init init=/pvblk-no-init $dom0_append ${PVBLK_XEN_DOM0_APPEND:-} $env,$initrd")
	# shellcheck disable=SC2206 # extra words, split at blanks
	qemu+=(${PVBLK_XEN_QEMU_ARGS:-})
	local lockfd t0 waits=" (waits for /tmp/pvblk-heavy.lock)"
	[ "${PVBLK_HEAVY_LOCK_HELD:-0}" != 1 ] || waits=
	say "$name: booting Xen + dom0 ($KVER, timeout ${timeout_s}s) under QEMU TCG$waits"
	set +e
	if [ "${PVBLK_HEAVY_LOCK_HELD:-0}" != 1 ]; then
		exec {lockfd}> /tmp/pvblk-heavy.lock
		flock "$lockfd"
	fi
	t0=$SECONDS
	timeout -k 10 "$timeout_s" "${qemu[@]}" < /dev/null > "$l/console.log" 2>&1
	rc=$?
	[ -n "${lockfd:-}" ] && exec {lockfd}>&-
	set -e
	echo "$((SECONDS - t0))" > "$l/seconds"
	say "$name: QEMU exited with status $rc after $((SECONDS - t0)) s"
	rm -f "$initrd"
	rm -rf "$stage"
	bash "$here/coverage.sh" --save "$l/console.log" "xen-$name-$kernel" || true
	judge "$l"
}

# The count is of asserted checks: every "ok"/"not ok" line of a
# scenario (dom0's and its guests'), plus one for the scenario's own
# verdict (dom0's PASS, no kernel report in any log).
passed=0
failed=0
for s in "$@"; do
	if [ -n "${PVBLK_XEN_QUEUE:-}" ]; then
		mkdir -p "$PVBLK_XEN_QUEUE"
		mkdir "$PVBLK_XEN_QUEUE/$(basename "$s" .sh)" 2>/dev/null || continue
	fi
	run_oks=0
	run_noks=0
	if run_one "$s"; then
		say "$s: PASS ($run_oks checks)"
		passed=$((passed + 1))
	else
		say "$s: FAIL ($run_oks ok, $run_noks not ok)"
		failed=$((failed + 1))
	fi
	passed=$((passed + run_oks))
	failed=$((failed + run_noks))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
