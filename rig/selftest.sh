#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of rig/vm-run.sh on the stock kernel: good.test and ignore.test
# must pass; fail.test (a "not ok"), warn.test (kernel WARNING), crash.test
# (panic) and hang.test (timeout) must be reported as failures.
#
# Usage: rig/selftest.sh [vm-run options]       (about 2 minutes)
# Ends with "N passed, N failed" (one per expectation).
set -uo pipefail
# shellcheck source=rig/common.sh
. "$(dirname "$0")/common.sh"

for t in good ignore fail warn crash hang; do
	case $t in
	good|ignore) want=0 ;;
	*) want=1 ;;
	esac
	out=$("$RIG_DIR/vm-run.sh" --no-build "$@" "$RIG_DIR/selftest/$t.test" 2>&1)
	rc=$?
	[ $rc = 0 ] || rc=1
	if [ $rc = $want ]; then
		ok "vm-run.sh on $t.test exits $rc"
	else
		fail "vm-run.sh on $t.test exits $rc, want $want"
		tap_output "$(tail -n 40 <<<"$out")"
	fi
done
tap_totals
