#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the pvblk KUnit suites as a module on the debug x86_64 kernel in a
# TCG VM (tests/vm/kunit-debug.test): builds the debug kernel when missing
# (minutes), builds pvblk.ko + pvblk_kunit.ko against it, boots, shows the
# KTAP through kunit.py parse and ends with "N passed, N failed" (each
# KUnit case counts, plus the setup, kernel-report and kmemleak checks).
#
# Usage: rig/kunit-debug.sh [vm-run options, e.g. --timeout 1800 --verbose]
# Heavy when the kernel is not built yet: run under
# `flock /tmp/pvblk-heavy.lock` on a shared machine.
set -euo pipefail
# shellcheck source=rig/common.sh
. "$(dirname "$0")/common.sh"

case ${1:-} in
-h|--help) sed -n '3,12p' "$0"; exit 0 ;;
esac

step "debug kernel"
"$RIG_DIR/debug-kernel.sh" >/dev/null
step "pvblk modules for the debug kernel"
"$RIG_DIR/build-debug-modules.sh" >/dev/null || [ $? = 2 ] ||
	die "pvblk.ko does not build against the debug kernel"

out=$(mktemp)
trap 'rm -f "$out"' EXIT
set +e
"$RIG_DIR/vm-run.sh" --kernel debug --no-build "$@" "$REPO/tests/vm/kunit-debug.test" | tee "$out"
rc=${PIPESTATUS[0]}
set -e

log=$(sed -n 's/.*(log: \(.*\))$/\1/p' "$out" | tail -1)
if [ -n "$log" ] && [ -f "$log" ] && grep -q '^PVBLK-KTAP-BEGIN' "$log"; then
	step "KTAP from $log through kunit.py parse"
	awk '/^PVBLK-KTAP-BEGIN/ { f = 1; next } /^PVBLK-KTAP-END/ { f = 0 } f' "$log" > "$out.ktap"
	# One KTAP document per suite; kunit.py parses one at a time.
	csplit -s -z -f "$out.suite." "$out.ktap" '/^KTAP version 1$/' '{*}' 2>/dev/null || true
	for f in "$out".suite.*; do
		[ -s "$f" ] || continue
		python3 "$KSRC/tools/testing/kunit/kunit.py" parse "$f" 2>&1 |
			grep -vE '^\[[0-9:]+\] (=+$|$)' || true
	done
	rm -f "$out.ktap" "$out".suite.*
fi
tail -1 "$out"
exit "$rc"
