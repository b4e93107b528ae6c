#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# /init of the Xen rig's dom0 (see rig/xen-run.sh).  Brings up the Xen
# toolstack, runs /scenario/main.sh (a tests/xen scenario) with the helpers
# of /scenario/lib.sh, dumps every guest console log, prints the verdict
# line the host judges, and powers the machine off.
set -uo pipefail
export PATH=/usr/lib/xen-4.17/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
hostname dom0

TAP_NAME=dom0-init
# shellcheck source=rig/tap.sh
. /rig/tap.sh
die() {
	fail "dom0 setup: $*"
	echo "PVBLK-XEN-VERDICT: FAIL"
	poweroff -f
}

step "modules: depmod and xen modules"
depmod -a || die "depmod"
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs; do
	out=$(modprobe "$m" 2>&1) ||
		die "modprobe $m ($(uname -r)): $(echo "$out" | tr '\n' ' ')"
done
mkdir -p /proc/xen
mount -t xenfs xenfs /proc/xen || die "mount xenfs"

step "toolstack: xenstored, xen-init-dom0, xenconsoled"
xenstored --pid-file /run/xenstored.pid || die "xenstored"
xen-init-dom0 || die "xen-init-dom0"
mkdir -p /var/log/xen/console
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console ||
	die "xenconsoled"

# shellcheck source=rig/xen/dom0-lib.sh
. /scenario/lib.sh
# A debug dom0 (kmemleak): only what leaks from here on counts.
kml=/sys/kernel/debug/kmemleak
[ -w $kml ] && echo clear > $kml
step "scenario ${PVBLK_SCENARIO:-?}: start"
bash -c '. /scenario/lib.sh && . /scenario/main.sh'
rc=$?
step "scenario ${PVBLK_SCENARIO:-?}: exit status $rc"
[ "$rc" = 0 ] || fail "scenario script exited with status $rc"

# Anything the scenario left running is shut down so the logs are complete.
for d in $(xl list 2>/dev/null | awk 'NR > 1 && $2 != 0 { print $1 }'); do
	step "destroying leftover domain $d"
	xl destroy "$d" || true
done
dump_guest_logs
# Reports that reached only the ring buffer are repeated for the host's
# judge (rig/xen-run.sh), which counts them wherever they appear.
dmesg | grep -E "$DOM0_REPORT_RE" | sed 's/^/PVBLK-DMESG: /'
if [ -w $kml ]; then
	# After the scenario (pvblk unloaded, guests gone): every leak is a
	# failure, except the allow-listed ones (dom0_kmemleak in dom0-lib.sh).
	module_loaded pvblk && { rmmod pvblk || fail "rmmod pvblk before the kmemleak scan"; }
	dom0_kmemleak
fi
# A lockdep dom0: lockdep must still be validating after the scenario (it
# stops at its first report, and a silent lockdep would pass anything).
# The result line says "lock validator": the word lockdep itself counts as
# a kernel report for rig/xen-run.sh's judge.
if [ -r /proc/lockdep_stats ]; then
	dl=$(awk '$1 == "debug_locks:" { print $2 }' /proc/lockdep_stats)
	if [ "$dl" = 1 ]; then
		ok "dom0 lock validator still on after the scenario (debug_locks 1)"
	else
		fail "dom0 lock validator still on after the scenario" "debug_locks ${dl:-?}"
	fi
fi
# pvblk's gcov counters (debug dom0), for rig/coverage.sh.
[ -f /rig/gcov-dump.sh ] && bash /rig/gcov-dump.sh
if [ "$rc" = 0 ] && ! grep -q '^not ok' /run/pvblk-results 2>/dev/null; then
	echo "PVBLK-XEN-VERDICT: PASS"
else
	echo "PVBLK-XEN-VERDICT: FAIL"
fi
sync
poweroff -f
