#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: every test of pvblk, one step after the other, with one
# summary line at the end.  Each step's own `N passed, N failed` line is
# added up; a step that prints none counts as one test (its exit code).
#   PVBLK_CHECK_ONLY="lint kunit-uml"   run only these steps
#   PVBLK_CHECK_SKIP="xen"              skip these steps
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
# shellcheck source=rig/versions.sh
. rig/versions.sh
logs=$PVBLK_CACHE/logs
mkdir -p "$logs"
total_pass=0
total_fail=0
summary=()
retried=()
RETRY_STEPS=${PVBLK_CHECK_RETRY-vm-stock vm-debug xen bench-smoke}
t0=$(date +%s)

want() {
	local s
	if [ -n "${PVBLK_CHECK_ONLY:-}" ]; then
		for s in $PVBLK_CHECK_ONLY; do [ "$s" = "$1" ] && return 0; done
		return 1
	fi
	for s in ${PVBLK_CHECK_SKIP:-}; do [ "$s" = "$1" ] && return 1; done
	return 0
}

# step NAME CMD...: run, log, count.
step() {
	local name=$1 log rc line p f t1
	shift
	want "$name" || return 0
	log=$logs/check-$name.log
	t1=$(date +%s)
	echo "=== [$name] $* (log: $log)"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# Guests under TCG (and TCG inside TCG) now and then crash in their
	# own early boot (text patching, debug traps) before any pvblk code
	# runs.  A failed VM step is run once more; the summary says so and
	# the first log is kept, so a real intermittent bug still shows.
	if [ "$rc" != 0 ] && [[ " $RETRY_STEPS " == *" $name "* ]]; then
		mv "$log" "$log.first"
		echo "=== [$name] failed; running it once more (first log: $log.first)"
		"$@" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		retried+=("$name (first attempt: $log.first)")
	fi
	line=$(grep -aE '(^|: )[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/.*(^|: )([0-9]+) passed, ([0-9]+) failed.*/\2/')
		f=$(echo "$line" | sed -E 's/.*(^|: )([0-9]+) passed, ([0-9]+) failed.*/\3/')
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			f=1
		fi
	elif [ "$rc" = 0 ]; then
		p=1 f=0
	else
		p=0 f=1
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	summary+=("$(printf '%-12s %4d passed, %3d failed  (%ds)' "$name" "$p" "$f" $(($(date +%s) - t1)))")
}

skip() {
	want "$1" || return 0
	summary+=("$(printf '%-12s skipped: %s' "$1" "$2")")
	echo "=== [$1] skipped: $2"
}

# Build pvblk.ko and check that it is for the target kernel.
build_module() {
	local kver vm
	kver=$(pvblk_kver)
	make -s modules || return 1
	vm=$(modinfo -F vermagic ./pvblk.ko | awk '{print $1}')
	if [ "$vm" = "$kver" ]; then
		echo "ok - pvblk.ko vermagic is $vm"
	else
		echo "not ok - pvblk.ko vermagic is $vm, expected $kver"
		return 1
	fi
}

# VM tests whose header asks for kernel $1 (stock: also "any" and unset).
vm_tests() {
	local want_k=$1 t k
	for t in tests/vm/*.test; do
		[ -f "$t" ] || continue
		k=$(sed -n 's/^# vm-kernel: *//p' "$t" | head -n 1)
		k=${k:-any}
		case "$want_k:$k" in
		stock:stock | stock:any | debug:debug) echo "$t" ;;
		esac
	done
}

step setup bash rig/setup.sh
step build build_module
# has_target T: tools/Makefile defines T.
has_target() { grep -q "^$1:" tools/Makefile; }

if [ -f tools/Makefile ]; then
	# The inner guest of the QEMU-in-VM test is built with the tools.
	if has_target vhost-user-guest; then
		step tools make -C tools all vhost-user-guest
	else
		step tools make -C tools
	fi
	for t in test:tools-test test-vhost-user:vu-test test-vhost-user-qemu:vu-qemu; do
		has_target "${t%%:*}" && step "${t#*:}" make -C tools "${t%%:*}"
	done
else
	skip tools "tools/Makefile not there yet"
fi
step lint bash rig/lint.sh

for s in rig-selftest:rig/selftest.sh in-tree:rig/in-tree.sh kunit-uml:rig/kunit-uml.sh; do
	if [ -f "${s#*:}" ]; then
		step "${s%%:*}" bash "${s#*:}"
	else
		skip "${s%%:*}" "${s#*:} not there yet"
	fi
done

mapfile -t stock < <(vm_tests stock)
if [ -f rig/vm-run.sh ] && [ ${#stock[@]} -gt 0 ]; then
	step vm-stock bash rig/vm-run.sh --kernel stock "${stock[@]}"
else
	skip vm-stock "no runner or no tests"
fi

mapfile -t debug < <(vm_tests debug)
if [ -f rig/vm-run.sh ] && [ -f rig/debug-kernel.sh ] && [ ${#debug[@]} -gt 0 ]; then
	step debug-kernel bash rig/debug-kernel.sh
	[ -f rig/build-debug-modules.sh ] && step debug-modules bash rig/build-debug-modules.sh
	step vm-debug bash rig/vm-run.sh --kernel debug "${debug[@]}"
else
	skip vm-debug "no debug kernel runner or no tests"
fi

if [ -f rig/xen-check.sh ]; then
	step xen bash rig/xen-check.sh
else
	skip xen "rig/xen-check.sh not there yet"
fi

if [ -f rig/bench.sh ]; then
	step bench-smoke bash rig/bench.sh --smoke
else
	skip bench-smoke "rig/bench.sh not there yet"
fi

echo
echo "=== make check summary ($(($(date +%s) - t0))s; logs in $logs)"
printf '%s\n' "${summary[@]}"
for r in "${retried[@]}"; do
	echo "retried after a failure: $r"
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
