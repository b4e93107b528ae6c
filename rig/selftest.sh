#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of rig/vm-run.sh on the stock kernel: good.test and ignore.test
# must pass; fail.test (a "not ok"), warn.test (kernel WARNING), crash.test
# (panic) and hang.test (timeout) must be reported as failures.  Then
# rig/check.sh on a table of stub steps (its lanes and its counts), and
# rig/xen-run.sh's shared scenario queue.
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
# rig/check.sh on stub steps: the xen lane runs beside the main lane, a
# join step waits for it, and the counts add up (in both modes).
tmp=$(mktemp -d)
cat >"$tmp/stub.sh" <<'EOS'
# stub NAME PASSED FAILED SECONDS EXIT: log start/end, sleep, print counts
echo "$1 start $(date +%s.%N)" >>"${0%/*}/times"
sleep "$4"
echo "$2 passed, $3 failed"
echo "$1 end $(date +%s.%N)" >>"${0%/*}/times"
exit "$5"
EOS
printf '%s\t%s\t-\t%s\tbash %s/stub.sh %s\n' \
	a tally main "$tmp" "a 2 0 1 0" \
	x1 tally xen "$tmp" "x1 3 0 2 0" \
	x2 exit xen "$tmp" "x2 5 0 1 1" \
	b tally main "$tmp" "b 4 0 3 0" \
	j tally join "$tmp" "j 1 0 0 0" >"$tmp/table"
# at NAME start|end: the time stub NAME logged
at() { awk -v n="$1" -v w="$2" '$1 == n && $2 == w { print $3 }' "$tmp/times"; }
before() { awk -v x="$1" -v y="$2" 'BEGIN { exit !(x < y) }'; }
for serial in 0 1; do
	rm -f "$tmp/times"
	out=$(PVBLK_CHECK_TABLE=$tmp/table PVBLK_CHECK_SERIAL=$serial \
	      PVBLK_CACHE=$tmp/cache PVBLK_CHECK_RETRY='' bash "$RIG_DIR/check.sh" 2>&1)
	rc=$?
	if [ $rc != 0 ] && grep -qx '10 passed, 1 failed' <<<"$out"; then
		ok "check.sh (serial=$serial): stub table adds up to 10 passed, 1 failed, exits $rc"
	else
		fail "check.sh (serial=$serial): stub table: exit $rc, want 10 passed, 1 failed"
		tap_output "$(tail -n 20 <<<"$out")"
	fi
	if before "$(at x2 end)" "$(at j start)"; then
		ok "check.sh (serial=$serial): the join step starts after the xen lane's last step"
	else
		fail "check.sh (serial=$serial): the join step started before the xen lane ended"
	fi
	if [ $serial = 0 ]; then
		if before "$(at x1 start)" "$(at b end)" && before "$(at b start)" "$(at x1 end)"; then
			ok "check.sh: the xen lane ran beside the main lane"
		else
			fail "check.sh: the xen lane did not overlap the main lane"
		fi
	elif before "$(at x2 end)" "$(at b start)"; then
		ok "check.sh (serial=1): the xen lane's steps ran before the next main step"
	else
		fail "check.sh (serial=1): steps overlapped"
	fi
done
rm -rf "$tmp"
# rig/xen-run.sh with PVBLK_XEN_QUEUE (make check's xen-debug and xen-pull
# share one list): a scenario another run claimed is skipped without a
# boot, one it claims itself runs (here: one that does not exist, fails).
q=$(mktemp -d)
mkdir "$q/reference"
out=$(PVBLK_XEN_QUEUE=$q PVBLK_HEAVY_LOCK_HELD=1 \
      bash "$RIG_DIR/xen-run.sh" reference no-such-scenario 2>&1)
if grep -qx '0 passed, 1 failed' <<<"$out" && ! grep -q 'booting' <<<"$out"; then
	ok "xen-run.sh: a claimed scenario is skipped without a boot"
else
	fail "xen-run.sh: claimed scenario not skipped"
	tap_output "$(tail -n 20 <<<"$out")"
fi
if [ -d "$q/no-such-scenario" ] && grep -q 'no-such-scenario: FAIL' <<<"$out"; then
	ok "xen-run.sh: an unclaimed scenario is claimed and run"
else
	fail "xen-run.sh: the unclaimed scenario was not claimed and run"
fi
rm -rf "$q"
tap_totals
