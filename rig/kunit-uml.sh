#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every pvblk KUnit suite on UML with kunit.py.  The sources are synced
# into a build copy of linux-source (drivers/block/pvblk, wired into
# drivers/block/{Kconfig,Makefile}; copied once into $PVBLK_CACHE), the
# kernel is built in $PVBLK_CACHE/build/kunit-uml with
# pvblk/tests/kunit/.kunitconfig.  First run ~3-4 min, re-runs seconds.
#
# Usage: rig/kunit-uml.sh [extra kunit.py run args, e.g. 'pvblk_cq*']
# Ends with "N passed, N failed" (crashed cases and parser errors count as
# failed; skipped cases as passed); exits non-zero on failure.
# Heavy on the first run: use `flock /tmp/pvblk-heavy.lock` when shared.
set -euo pipefail
# shellcheck source=rig/common.sh
. "$(dirname "$0")/common.sh"

case ${1:-} in
-h|--help) sed -n '3,13p' "$0"; exit 0 ;;
esac

ensure_ksrc_copy
B=$PVBLK_CACHE/build/kunit-uml
mkdir -p "$B" "$CCACHE_DIR"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
step "kunit.py run (UML) in $B"
set +e
# kunit.py runs make with the given --make_options; CC goes through ccache.
python3 "$KSRC_COPY/tools/testing/kunit/kunit.py" run \
	--build_dir="$B" --jobs="$JOBS" --timeout=600 \
	--kunitconfig="$KSRC_COPY/drivers/block/pvblk/pvblk/tests/kunit/.kunitconfig" \
	--make_options=CC="ccache gcc" "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e

summary=$(grep -a 'Ran [0-9]* tests' "$out" | tail -1 || true)
count() {
	sed -n "s/.*[^a-z]$1: \([0-9]*\).*/\1/p" <<<"$summary"
}
passed=$(count passed)
skipped=$(count skipped)
failed=$(count failed)
crashed=$(count crashed)
errors=$(count errors)
pass=$(( ${passed:-0} + ${skipped:-0} ))
fail=$(( ${failed:-0} + ${crashed:-0} + ${errors:-0} ))
if [ -z "$summary" ]; then
	if grep -q '0 tests run\|no tests run' "$out"; then
		step "no pvblk KUnit suite registered yet"
		echo "0 passed, 0 failed"
		exit 0
	fi
	step "kunit.py gave no summary (build or boot failure, exit $rc)"
	fail=$((fail + 1))
elif [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
	fail=1
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
