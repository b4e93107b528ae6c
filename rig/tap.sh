# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# The result helpers of every pvblk test, sourced (never run) by:
#   tests/vm/lib.sh        VM tests and bench/kvm.test (in the guest as
#                          /pvblk/tests/tap.sh, staged by rig/vm-run.sh)
#   rig/xen/dom0-lib.sh    Xen scenarios in dom0 (/rig/tap.sh, staged by
#                          rig/xen-run.sh)
#   rig/xen/domu-init.sh   the scenarios' PV guests (/tap.sh, put into the
#                          guest's initramfs by domu_start)
#   rig/common.sh, rig/bench.sh, rig/lint.sh   host scripts
# Plain POSIX sh: busybox ash runs it in the Xen guests.
#
# Output, parsed by rig/vm-run.sh, rig/xen-run.sh and rig/check.sh:
#   ok - DESC               one test passed
#   not ok - DESC           one test failed
#   # TEXT                  a comment (details, progress of a guest)
#   N passed, N failed      a host runner's tally (tap_totals)
# Counting: each ok (a skip included) adds one to tap_pass, each not ok one
# to tap_fail; nothing else counts.
#
#   ok DESC...               ok - DESC
#   fail DESC [WHY]          not ok - DESC, then "# WHY"; returns 0
#   skip DESC [WHY]          ok - DESC # SKIP WHY
#   info TEXT...             # TEXT
#   check DESC CMD...        ok when CMD exits 0, else not ok with CMD's
#                            output as "#   " lines; returns CMD's status
#   check_fail DESC CMD...   ok when CMD exits non-zero; returns 0 if so
#   expect_eq DESC GOT WANT  ok "DESC (GOT)" when equal, else not ok
#   finish                   "# NAME: N ok, N not ok"; exits 1 on a failure
#   tap_totals               "N passed, N failed"; returns 1 on a failure
#   step TEXT...             progress line "[NAME +Ns] TEXT" on stderr
# Environment: TAP_NAME (default: the script's file name), TAP_RESULTS (a
# file that also gets every ok / not ok line), TAP_CHECK_LINES (show only
# the last N lines of a failed check's output).

# Sourcing twice (dom0's /init and its scenario) keeps the counts.
: "${TAP_NAME:=${0##*/}}"
: "${tap_pass:=0}"
: "${tap_fail:=0}"
: "${tap_t0:=$(date +%s)}"

tap_line() {
	echo "$*"
	if [ -n "${TAP_RESULTS:-}" ]; then
		echo "$*" >> "$TAP_RESULTS"
	fi
}

ok() {
	tap_line "ok - $*"
	tap_pass=$((tap_pass + 1))
}

fail() {
	tap_line "not ok - $1"
	if [ $# -gt 1 ]; then
		echo "# $2"
	fi
	tap_fail=$((tap_fail + 1))
	return 0
}

skip() {
	tap_line "ok - $1 # SKIP ${2:-}"
	tap_pass=$((tap_pass + 1))
}

info() {
	echo "# $*"
}

# tap_output TEXT: TEXT (a command's output) as "#   " comment lines.
tap_output() {
	[ -n "$1" ] || return 0
	if [ -n "${TAP_CHECK_LINES:-}" ]; then
		printf '%s\n' "$1" | tail -n "$TAP_CHECK_LINES" | sed 's/^/#   /'
	else
		printf '%s\n' "$1" | sed 's/^/#   /'
	fi
}

check() {
	tap_desc=$1
	shift
	tap_out=$("$@" 2>&1)
	tap_rc=$?
	if [ "$tap_rc" = 0 ]; then
		ok "$tap_desc"
	else
		fail "$tap_desc" "'$*' exited $tap_rc"
		tap_output "$tap_out"
	fi
	return "$tap_rc"
}

check_fail() {
	tap_desc=$1
	shift
	if tap_out=$("$@" 2>&1); then
		fail "$tap_desc" "'$*' succeeded, expected a failure"
		tap_output "$tap_out"
		return 1
	fi
	ok "$tap_desc"
}

expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1 ($2)"
	else
		fail "$1: got '$2', want '$3'"
	fi
}

finish() {
	info "$TAP_NAME: $tap_pass ok, $tap_fail not ok"
	[ "$tap_fail" = 0 ]
	exit $?
}

tap_totals() {
	echo "$tap_pass passed, $tap_fail failed"
	[ "$tap_fail" = 0 ]
}

step() {
	printf '[%s +%ss] %s\n' "$TAP_NAME" "$(($(date +%s) - tap_t0))" "$*" >&2
}
