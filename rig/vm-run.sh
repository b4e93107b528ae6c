#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run tests/vm/*.test files, each in its own QEMU TCG VM booting Debian's
# stock kernel or the pvblk debug kernel with an initramfs (no disk image).
#
# Usage: rig/vm-run.sh [--kernel stock|debug|PATH] [--mem MB] [--smp N]
#                      [--timeout S] [--no-build] [--verbose] TEST.test...
#   --kernel K   stock: /boot/vmlinuz-KVER; debug: rig/debug-kernel.sh's
#                build (built when missing, takes minutes); PATH: a bzImage
#                (modules from PVBLK_MODROOT, default: the O= build
#                directory's mod-install, else /).  Default: the test's
#                "# vm-kernel:" header (any -> stock).  A test whose header
#                asks for the other kernel is skipped.
#   --mem/--smp/--timeout override the test's headers (defaults 2048 MB,
#                2 vCPUs, 300 s).
#   --no-build   do not (re)build pvblk.ko; use what is there
#   --verbose    echo the whole serial console (always saved to the log)
# Env: PVBLK_QEMU_ARGS (extra qemu arguments), PVBLK_TIMEOUT_SCALE (integer
# factor for every timeout, for slow machines), PVBLK_KO / PVBLK_KUNIT_KO
# (module files to ship instead of the built ones), PVBLK_APPEND (extra
# kernel command line), PVBLK_ACCEL (the -accel value, default
# tcg,thread=multi; e.g. tcg,thread=single for -icount), PVBLK_GCOV_DIR
# (where a debug run's gcov counters go, default $PVBLK_CACHE/gcov/latest;
# rig/coverage.sh reads them).
#
# Test headers (comment lines anywhere in the test file):
#   # vm-modules: null_blk brd vhost ...   modules the guest needs (+deps)
#   # vm-kernel: stock|debug|any
#   # vm-timeout: SECONDS    # vm-mem: MB    # vm-smp: N
#   # vm-files: repo-relative paths copied into /pvblk/extra/
#   # vm-bins: host executables copied at the same path with their libraries
#   # vm-hostfiles: host files copied at the same path
#   # vm-log-ignore: ERE     serial lines matching it are not kernel reports
# Lines between PVBLK-KTAP-BEGIN and PVBLK-KTAP-END are not counted.
#
# A test passes when it exits 0, printed at least one "ok" line and no
# "not ok" line, the VM reached its verdict before the timeout and the
# serial log holds no kernel report (Oops, BUG:, WARNING:, KASAN, UBSAN,
# lockdep, kmemleak, general protection, Call Trace, panic).
# Prints "NAME: N passed, N failed" per test and "N passed, N failed" last;
# exits 1 when anything failed.
set -euo pipefail
# shellcheck source=rig/common.sh
. "$(dirname "$0")/common.sh"

kernel_opt=
mem_opt=
smp_opt=
timeout_opt=
build=1
verbose=0
tests=()
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel_opt=$2; shift ;;
	--mem) mem_opt=$2; shift ;;
	--smp) smp_opt=$2; shift ;;
	--timeout) timeout_opt=$2; shift ;;
	--no-build) build=0 ;;
	--verbose|-v) verbose=1 ;;
	-h|--help) sed -n '3,40p' "$0"; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) tests+=("$1") ;;
	esac
	shift
done
[ ${#tests[@]} -gt 0 ] || die "no test given (try tests/vm/insmod.test)"

LOGDIR=$PVBLK_CACHE/logs
mkdir -p "$LOGDIR"
scale=${PVBLK_TIMEOUT_SCALE:-1}

# Header value of KEY in a test file (all matching lines joined).
header() {
	sed -n "s/^#[[:space:]]*$2:[[:space:]]*//p" "$1" | tr '\n' ' ' | sed 's/[[:space:]]*$//'
}

# Kernel report patterns in the serial log.  Kernel lines carry a printk
# timestamp; /init repeats ring-buffer-only reports as PVBLK-DMESG lines.
REPORT_RE='Oops|BUG:|WARNING:|KASAN|UBSAN|possible circular locking|possible recursive locking|INFO:|unreferenced object 0x|general protection|Call Trace|Kernel panic|kernel BUG|RIP: |DEBUG_LOCKS_WARN_ON'

built_stock=0
built_debug=0
built_guest=0
ensure_modules() {
	local kind=$1

	if [ "$kind" = stock ] && [ $build = 1 ] && [ $built_stock = 0 ]; then
		step "building pvblk.ko against the stock headers (make -C $REPO)"
		flock /tmp/pvblk-modbuild.lock make -C "$REPO" -s modules >&2 ||
			die "module build failed"
		built_stock=1
	fi
	if [ "$kind" = debug ] && [ $build = 1 ] && [ $built_debug = 0 ]; then
		"$RIG_DIR/build-debug-modules.sh" >/dev/null || [ $? = 2 ] ||
			die "pvblk.ko does not build against the debug kernel"
		built_debug=1
	fi
}

total_pass=0
total_fail=0
for t in "${tests[@]}"; do
	[ -f "$t" ] || die "no such test $t"
	name=$(basename "$t")
	want=$(header "$t" vm-kernel)
	want=${want:-any}
	kernel=${kernel_opt:-$want}
	[ "$kernel" = any ] && kernel=stock
	if [ -n "$kernel_opt" ] && [ "$want" != any ] && [ "$want" != "$kernel_opt" ]; then
		echo "# SKIP $name: needs the $want kernel, --kernel $kernel_opt given"
		echo "$name: 0 passed, 0 failed"
		continue
	fi

	case $kernel in
	stock)
		kimg=/boot/vmlinuz-$STOCK_KVER
		kver=$STOCK_KVER
		modroot=/
		ensure_modules stock
		ko=${PVBLK_KO:-$REPO/pvblk.ko}
		kunit_ko=${PVBLK_KUNIT_KO:-$REPO/pvblk_kunit.ko}
		;;
	debug)
		kimg=$("$RIG_DIR/debug-kernel.sh")
		kver=$(build_kver "$DEBUG_BUILD")
		modroot=$DEBUG_BUILD/mod-install
		ensure_modules debug
		ko=${PVBLK_KO:-$DEBUG_MODULES/pvblk.ko}
		kunit_ko=${PVBLK_KUNIT_KO:-$DEBUG_MODULES/pvblk_kunit.ko}
		;;
	*)
		kimg=$(readlink -f "$kernel")
		[ -f "$kimg" ] || die "no kernel image $kernel"
		kdir=$(dirname "$(dirname "$(dirname "$(dirname "$kimg")")")")
		modroot=${PVBLK_MODROOT:-}
		[ -z "$modroot" ] && [ -d "$kdir/mod-install" ] && modroot=$kdir/mod-install
		modroot=${modroot:-/}
		if [ -f "$kdir/include/config/kernel.release" ]; then
			kver=$(build_kver "$kdir")
		else
			kver=$(file -bL "$kimg" | sed -n 's/.*version \([^ ]*\).*/\1/p')
		fi
		[ -n "$kver" ] || die "cannot tell the release of $kimg"
		ko=${PVBLK_KO:-$REPO/pvblk.ko}
		kunit_ko=${PVBLK_KUNIT_KO:-$REPO/pvblk_kunit.ko}
		;;
	esac
	[ -f "$kimg" ] || die "no kernel image $kimg"

	mem=${mem_opt:-$(header "$t" vm-mem)}
	mem=${mem:-2048}
	smp=${smp_opt:-$(header "$t" vm-smp)}
	smp=${smp:-2}
	tmo=${timeout_opt:-$(header "$t" vm-timeout)}
	tmo=$(( ${tmo:-300} * scale ))
	ignore_re=$(sed -n 's/^#[[:space:]]*vm-log-ignore:[[:space:]]*//p' "$t" | paste -sd'|')

	base=$("$RIG_DIR/mkinitramfs.sh" --kver "$kver" --modroot "$modroot" \
		--modules "$(header "$t" vm-modules)" \
		--bins "$(header "$t" vm-bins)" \
		--hostfiles "$(header "$t" vm-hostfiles)")

	run=$(mktemp -d "${TMPDIR:-/tmp}/pvblk-vm.XXXXXX")
	step "$name: per-run initramfs in $run"
	stage=$run/stage
	mkdir -p "$stage/pvblk/bin" "$stage/pvblk/tests" "$stage/pvblk/extra"
	if [ -f "$ko" ]; then
		cp "$ko" "$stage/pvblk/pvblk.ko"
	else
		step "warning: no $ko, the guest gets no pvblk.ko"
	fi
	[ -f "$kunit_ko" ] && cp "$kunit_ko" "$stage/pvblk/pvblk_kunit.ko"
	if [ -d "$REPO/tools/build" ]; then
		find "$REPO/tools/build" -maxdepth 1 -type f -perm -u+x \
			-exec cp {} "$stage/pvblk/bin/" \;
	fi
	cp -a "$REPO/tests/vm/." "$stage/pvblk/tests/"
	# lib.sh sources the result helpers from its own directory.
	cp "$RIG_DIR/tap.sh" "$stage/pvblk/tests/tap.sh"
	cp "$t" "$stage/pvblk/tests/$name"
	for f in $(header "$t" vm-files); do
		# The inner guest's files are built from tests/vm/qemu-guest:
		# one left from an older tree ran the old /init and its checks
		# (2026-12-07).  mkinner.sh is keyed by content: seconds when
		# nothing changed.
		if [ "$f" = tools/build/qemu-guest ] && [ $build = 1 ] &&
		   [ $built_guest = 0 ]; then
			flock /tmp/pvblk-modbuild.lock make -C "$REPO/tools" -s \
				vhost-user-guest >/dev/null ||
				die "$name: make -C tools vhost-user-guest failed"
			built_guest=1
		fi
		[ -e "$REPO/$f" ] || die "$name: vm-files: no $REPO/$f"
		cp -a "$REPO/$f" "$stage/pvblk/extra/"
	done
	printf 'PVBLK_KERNEL=%s\n' "$kernel" > "$stage/pvblk/run.env"
	cp "$RIG_DIR/gcov-dump.sh" "$stage/pvblk/gcov-dump.sh"
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc --quiet -R 0:0) > "$run/run.cpio"
	cat "$base" "$run/run.cpio" > "$run/initrd.cpio"

	log=$LOGDIR/${name%.test}-$kernel-$(date +%Y%m%d-%H%M%S)-$$.log
	append="console=ttyS0,115200 rdinit=/init printk.time=1 panic=-1 oops=panic"
	append+=" softlockup_panic=1 nmi_watchdog=0 pvblk.test=$name ${PVBLK_APPEND:-}"
	step "$name: booting $kver ($kernel, ${mem} MB, $smp vCPUs, timeout ${tmo}s), log $log"
	set +e
	# sed -u writes the log line by line (tr buffered 4 KiB of a running
	# VM's output).
	# shellcheck disable=SC2086
	timeout --foreground -k 10 "$tmo" qemu-system-x86_64 \
		-accel "${PVBLK_ACCEL:-tcg,thread=multi}" -cpu max -smp "$smp" -m "$mem" -M q35 \
		-nodefaults -no-reboot -display none -serial stdio -nic none \
		-monitor none -kernel "$kimg" -initrd "$run/initrd.cpio" \
		-append "$append" ${PVBLK_QEMU_ARGS:-} < /dev/null 2>&1 |
		sed -u 's/\r//g' | tee "$log" |
		if [ $verbose = 1 ]; then cat; else
			awk '/^PVBLK-KTAP-BEGIN/ { k = 1 } /^PVBLK-KTAP-END/ { k = 0; next }
				!k && /^[[:space:]]*(not )?ok([[:space:]]|$)|^PVBLK-VM|^# / {
					print; fflush() }' || true
		fi
	rc=${PIPESTATUS[0]}
	set -e
	rm -rf "$run"
	bash "$RIG_DIR/coverage.sh" --save "$log" "${name%.test}-$kernel"

	# Raw KTAP a test prints between PVBLK-KTAP-BEGIN/END is not counted
	# here: the test reports each case as its own ok/not ok line.
	read -r pass fail < <(awk '
		/^PVBLK-KTAP-BEGIN/ { skip = 1; next }
		/^PVBLK-KTAP-END/ { skip = 0; next }
		skip { next }
		/^[[:space:]]*not ok([[:space:]]|$)/ { f++; next }
		/^[[:space:]]*ok([[:space:]]|$)/ { p++ }
		END { print p + 0, f + 0 }' "$log")
	verdict=$(sed -n 's/^PVBLK-VM-VERDICT: exit=//p' "$log" | tail -1)
	problems=()
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		problems+=("timeout after ${tmo}s")
	elif [ -z "$verdict" ]; then
		problems+=("no verdict (qemu exit $rc): the VM crashed or the test hung")
	elif [ "$verdict" != 0 ] && [ "$fail" = 0 ]; then
		problems+=("test script exited $verdict")
	fi
	[ "$pass" = 0 ] && [ "$fail" = 0 ] && problems+=("no ok/not ok lines")
	reports=$(grep -E '^(PVBLK-DMESG: )?\[ *[0-9]+\.[0-9]+\]|unreferenced object 0x' "$log" |
		grep -E "$REPORT_RE" | { if [ -n "$ignore_re" ]; then grep -vE "$ignore_re"; else cat; fi; } || true)
	if [ -n "$reports" ]; then
		problems+=("kernel report in the log")
		echo "--- $name: kernel reports (first 30 lines) ---"
		head -30 <<<"$reports"
		echo "---"
	fi
	for p in "${problems[@]}"; do
		echo "not ok - $name: $p"
		fail=$((fail + 1))
	done
	echo "$name: $pass passed, $fail failed (log: $log)"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
done

echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
