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
. "$(dirname "$0")/common.sh"

pass=0
fail=0
for t in good ignore fail warn crash hang; do
	case $t in
	good|ignore) want=0 ;;
	*) want=1 ;;
	esac
	out=$("$RIG_DIR/vm-run.sh" --no-build "$@" "$RIG_DIR/selftest/$t.test" 2>&1)
	rc=$?
	[ $rc = 0 ] || rc=1
	if [ $rc = $want ]; then
		echo "ok - vm-run.sh on $t.test exits $rc"
		pass=$((pass + 1))
	else
		echo "not ok - vm-run.sh on $t.test exits $rc, want $want"
		sed 's/^/#   /' <<<"$out" | tail -40
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ $fail = 0 ]
