#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /init of the Xen rig's PV guest (busybox sh).  Loads xen-blkfront, sources
# the scenario's guest script /domu.sh with the helpers below, prints
# "DOMU-VERDICT: PASS|FAIL" and powers off (on_poweroff=destroy ends the
# domain).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
hostname domu

# The result helpers (rig/tap.sh, put here by dom0's domu_start); a failed
# check shows the last 30 lines of its command's output.
TAP_NAME=domu
TAP_CHECK_LINES=30
# shellcheck source=rig/tap.sh
. /tap.sh
# phase NAME: tell dom0 (data/phase in xenstore; domu_wait_phase there).
phase() {
	echo "domu: phase $1"
	xenstore-write data/phase "$1" || echo "domu: cannot write data/phase"
}
# wait_key KEY: wait until dom0 wrote data/KEY (domu_signal there); prints it.
wait_key() {
	while ! xenstore-read "data/$1" 2>/dev/null; do
		sleep 0.5
	done
}
# wait_dev DEV: wait for /dev/DEV to appear.
wait_dev() {
	while [ ! -b "/dev/$1" ]; do
		sleep 0.2
	done
}
# result NAME FILE: publish FILE; the host stores it as results/<guest>/NAME.
result() {
	echo "@@PVBLK-RESULT-BEGIN $1@@"
	cat "$2"
	echo "@@PVBLK-RESULT-END $1@@"
}

# The hostile frontend (xen_hostile.ko, tests/xen/hostile.sh and the
# scenarios built on it): one directory per vbd it bound under
# /sys/kernel/debug/xen_hostile, named by devid (xvdb: 51728).
HOSTILE_D=/sys/kernel/debug/xen_hostile
# hostile_load: mount debugfs, load the module.
hostile_load() {
	mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null
	check "insmod xen_hostile.ko" insmod /xen_hostile.ko
}
# hostile_devid DISK: xvdb -> 51728.
hostile_devid() {
	set -- "$(printf '%d' "'${1#xvd}")"
	echo $(( (202 << 8) | (($1 - 97) << 4) ))
}
# hostile_bound DISK: wait up to 20 s for the module to bind DISK's vbd.
hostile_bound() {
	_d=$HOSTILE_D/$(hostile_devid "$1")
	_i=0
	while [ ! -d "$_d" ] && [ $_i -lt 100 ]; do
		sleep 0.2
		_i=$((_i + 1))
	done
	check "$1: bound by xen_hostile" [ -d "$_d" ]
}
# hostile_case DISK CASE: run CASE on DISK's vbd, one TAP line per result
# line of the case ("ok ...", "not ok ..."; others are echoed).
hostile_case() {
	_d=$HOSTILE_D/$(hostile_devid "$1")
	echo "# [$(date +%s)] $1: case $2"
	if ! echo "$2" > "$_d/run"; then
		fail "$1 $2: case ran"
		return
	fi
	_n=0
	while IFS= read -r _line; do
		case $_line in
		"ok "*) ok "$1 ${_line#ok }"; _n=$((_n + 1)) ;;
		"not ok "*) fail "$1 ${_line#not ok }"; _n=$((_n + 1)) ;;
		*) echo "$_line" ;;
		esac
	done < "$_d/result"
	[ "$_n" -gt 0 ] || fail "$1 $2: case reported a result"
}

# shellcheck disable=SC1091 # written by domu_start for each guest
[ -f /domu.env ] && . /domu.env
# DOMU_BLKFRONT=0: the guest script brings its own vbd frontend.
if [ "${DOMU_BLKFRONT:-1}" != 0 ]; then
	echo "domu: loading xen-blkfront"
	insmod "/lib/modules/$(uname -r)/kernel/drivers/block/xen-blkfront.ko" ||
		fail "insmod xen-blkfront"
fi
echo "domu: running scenario script"
# shellcheck disable=SC1091 # the scenario's guest script, copied per guest
. /domu.sh
if [ "$tap_fail" = 0 ]; then
	echo "DOMU-VERDICT: PASS"
else
	echo "DOMU-VERDICT: FAIL ($tap_fail failed)"
fi
sync
# Give xenconsoled a moment to drain the console ring before the domain
# (and its console page) is destroyed.
sleep 1
poweroff -f
