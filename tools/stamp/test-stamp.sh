#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# pvblk-stamp on a file of this host (O_DIRECT + AIO): checks the tool's
# own judgement, not pvblk.  A clean run with two windows passes; blocks
# overwritten with noise behind its back, and blocks put back to an older
# stamp (a lost write), must fail it.  Usage: test-stamp.sh BUILD_DIR
set -uo pipefail
b=$1
# shellcheck source=rig/tap.sh
. "$(dirname "$0")/../../rig/tap.sh"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
truncate -s 8M "$d/img"

# run NAME ACTION: a stamp run with two windows; ACTION runs in between.
run() {
	local pid

	"$b/pvblk-stamp" -d "$d/img" -n 512 -s 7 -W 10 > "$d/$1.out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		grep -q '^stamp: ready' "$d/$1.out" && break
		sleep 0.1
	done
	kill -USR1 $pid; sleep 0.3; kill -USR2 $pid; sleep 0.3
	$2
	kill -USR1 $pid; sleep 0.3; kill -USR2 $pid; sleep 0.3
	kill -TERM $pid
	wait $pid
}
nothing() { :; }
noise() {
	dd if=/dev/urandom of="$d/img" bs=4k seek=10 count=200 oflag=direct \
		conv=notrunc 2> /dev/null
}
# Copy the region, let the load rewrite it, put the old copy back.
stale() {
	dd if="$d/img" of="$d/old" bs=4k count=512 iflag=direct 2> /dev/null
	sleep 0.5
	dd if="$d/old" of="$d/img" bs=4k count=512 oflag=direct conv=notrunc 2> /dev/null
}

run clean nothing
expect_eq "clean run with two windows: exit" "$?" 0
check "clean run: two window lines and PASS" \
	bash -c "grep -c '^stamp-window' '$d/clean.out' | grep -qx 2 && grep -qx 'stamp: PASS' '$d/clean.out'"
run noise noise
expect_eq "blocks overwritten with noise: exit" "$?" 1
check "noise: reported as foreign blocks" grep -q 'MISMATCH.*not a stamp' "$d/noise.out"
run stale stale
expect_eq "blocks put back to older stamps: exit" "$?" 1
check "stale: reported as lost writes" grep -q 'MISMATCH.*stale or lost write' "$d/stale.out"
tap_totals
