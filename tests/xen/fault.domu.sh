# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/fault.sh (busybox sh): pvblk-stamp on xvdb
# (O_DIRECT + AIO, 16 requests in flight, 1024 stamped 4 KiB blocks).
# For window K dom0 writes data/openK = the fault's name: the guest opens
# the stamp tool's window (SIGUSR1) and says phase openK; dom0 injects the
# fault, removes it and writes data/closeK: the guest closes the window
# (SIGUSR2: drain, read back the whole region), judges it and says phase
# closedK.  data/stop ends the run (SIGTERM: the final read-back).
OUT=/tmp/stamp.out

# field LINE KEY: KEY=VALUE of a stamp-window / stamp-total line.
field() { echo "$1" | sed -n "s/.* $2=\([0-9]*\).*/\1/p"; }
# wait_for PATTERN SECONDS: until the stamp output has a matching line.
wait_for() {
	i=0
	while [ $i -lt $(($2 * 2)) ]; do
		grep -q "$1" $OUT && return 0
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.5
		i=$((i + 1))
	done
	grep -q "$1" $OUT
}

wait_dev xvdb
/pvblk-stamp -d /dev/xvdb -n 1024 -q 16 -s 20261203 > $OUT 2>&1 &
spid=$!
# run_windows: the windows dom0 opens, then the stop and final read-back.
run_windows() {
	k=0
	for kind in $(echo "$DOMU_KINDS" | tr , ' '); do
		k=$((k + 1))
		wait_key "open$k" > /dev/null
		kill -USR1 "$spid"
		phase "open$k"
		wait_key "close$k" > /dev/null
		kill -USR2 "$spid"
		if ! wait_for "^stamp-window $k " 300; then
			fail "$kind: pvblk-stamp closed the window (drain and read-back)"
			tail -n 5 $OUT | sed 's/^/#   /'
			phase "closed$k"
			continue
		fi
		l=$(grep "^stamp-window $k " $OUT)
		expect_eq "$kind: errors only for requests that lived in the window" \
			"$(field "$l" outside)" 0
		expect_eq "$kind: every block read back holds its last good write or a failed one" \
			"$(($(field "$l" bad) + $(field "$l" verify_bad)))" 0
		expect_eq "$kind: after the window the whole region reads back without error" \
			"$(field "$l" verify_rfail)" 0
		errs=$(($(field "$l" wfail) + $(field "$l" rfail)))
		info "$kind: writes $(field "$l" wok) ok / $(field "$l" wfail) failed," \
			"reads $(field "$l" rok) ok / $(field "$l" rfail) failed"
		case $kind in
		failslab|fail_page_alloc) ;;
		*)
			if [ "$errs" -gt 0 ]; then
				ok "$kind: the guest saw I/O errors in the window ($errs)"
			else
				fail "$kind: the guest saw I/O errors in the window"
			fi ;;
		esac
		phase "closed$k"
	done

	wait_key stop > /dev/null
	kill -TERM "$spid"
	wait "$spid"
	rc=$?
	sed -n '/MISMATCH\|ERROR\|HANG\|total\|PASS\|FAIL/p' $OUT | head -n 30 | sed 's/^/#   /'
	expect_eq "pvblk-stamp: every rule held over $k windows (exit)" "$rc" 0
	l=$(grep '^stamp-total ' $OUT)
	expect_eq "the whole run: no error outside a window" "$(field "$l" outside)" 0
	info "the whole run: writes $(field "$l" wok) ok / $(field "$l" wfail) failed," \
		"reads $(field "$l" rok) ok / $(field "$l" rfail) failed"
	dmesg | grep -c 'I/O error' | sed 's/^/# kernel I\/O error lines in the guest: /'
	phase "done"
}

if wait_for '^stamp: ready' 300; then
	ok "pvblk-stamp prefilled and verified 1024 blocks of xvdb"
	phase ready
	run_windows
else
	fail "pvblk-stamp prefilled and verified xvdb"
	sed 's/^/#   /' $OUT
	kill "$spid" 2>/dev/null
fi
