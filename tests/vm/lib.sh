# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Helpers for tests/vm/*.test (bash, run as root inside the test VM, cwd
# /pvblk).  Source it with:  . "$(dirname "$0")/lib.sh"
#
# Results:  ok, fail, skip, info, check, check_fail, expect_eq, finish
#           from rig/tap.sh (staged next to this file as tap.sh; see its
#           header).  finish prints "# $PVBLK_TEST: N ok, N not ok".
# Modules:  load_module NAME [PARAM=V...]   (modprobe, deps included)
#           load_pvblk [PARAM=V...]  insmod /pvblk/pvblk.ko after its deps
#           unload_pvblk             rmmod pvblk (retries while busy)
#           load_pvblk_kunit [PARAM=V...]
# Disks:    make_nullb [SIZE_MB [PARAM=V...]]  null_blk, memory_backed=1;
#                                     prints /dev/nullb0
#           make_brd [SIZE_MB [COUNT]]   brd; prints /dev/ram0
#           make_ext4_file [DEV [MNT [SIZE_MB]]]  mkfs.ext4 DEV (default
#                                     /dev/ram1), mount on MNT (/mnt), make
#                                     a SIZE_MB file MNT/img; prints its path
# Kernel:   kernel_reports            the report lines in dmesg (empty=clean)
#           kmemleak_scan             scan, print and return 1 on leaks
# Environment: KVER, PVBLK_TEST, PVBLK_KERNEL (stock|debug|PATH).

PVBLK_DIR=${PVBLK_DIR:-/pvblk}
PVBLK_KO=${PVBLK_KO:-$PVBLK_DIR/pvblk.ko}
PVBLK_KUNIT_KO=${PVBLK_KUNIT_KO:-$PVBLK_DIR/pvblk_kunit.ko}
export PVBLK_EXTRA=$PVBLK_DIR/extra
# The CPU of an inner guest (QEMU TCG inside the TCG rig VM): -cpu max
# without CMPXCHG16B.  Its emulation inside TCG broke the inner kernel's
# SLUB fast path (this_cpu_cmpxchg128) now and then: 3 early-boot oopses
# in __kmalloc*_noprof right after a cmpxchg16b, EFLAGS garbage
# (qemu-libvirt x2, qemu-vhost-user x1, 2026-12-07).  Without it the
# kernel takes SLUB's fallback.
export INNER_CPU=max,cx16=off
TAP_NAME=${PVBLK_TEST:-${0##*/}}
# shellcheck source=rig/tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

load_module() {
	local name=$1

	shift
	grep -q "^${name//-/_} " /proc/modules && return 0
	modprobe "$name" "$@"
}

# Load what pvblk.ko depends on (vhost, ...), then pvblk.ko itself.
# shellcheck disable=SC2120 # PARAM=V arguments are optional
load_pvblk() {
	local dep

	[ -f "$PVBLK_KO" ] || { echo "no $PVBLK_KO" >&2; return 1; }
	for dep in $(modinfo -F depends "$PVBLK_KO" | tr ',' ' '); do
		load_module "$dep" || return 1
	done
	insmod "$PVBLK_KO" "$@"
}

unload_pvblk() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q '^pvblk ' /proc/modules || return 0
		rmmod pvblk 2>/dev/null && return 0
		sleep 0.5
	done
	rmmod pvblk
}

load_pvblk_kunit() {
	local dep

	[ -f "$PVBLK_KUNIT_KO" ] || { echo "no $PVBLK_KUNIT_KO" >&2; return 1; }
	# shellcheck disable=SC2119 # pvblk.ko without parameters
	grep -q '^pvblk ' /proc/modules || load_pvblk || return 1
	for dep in $(modinfo -F depends "$PVBLK_KUNIT_KO" | tr ',' ' '); do
		[ "$dep" = pvblk ] || load_module "$dep" || return 1
	done
	insmod "$PVBLK_KUNIT_KO" "$@"
}

# make_nullb [SIZE_MB [PARAM=V...]]: one memory-backed null_blk device.
make_nullb() {
	local mb=${1:-1024}

	[ $# -gt 0 ] && shift
	load_module null_blk nr_devices=1 memory_backed=1 gb=$(((mb + 1023) / 1024)) \
		bs=512 "$@" >&2 || return 1
	[ -b /dev/nullb0 ] || { echo "no /dev/nullb0" >&2; return 1; }
	echo /dev/nullb0
}

# make_brd [SIZE_MB [COUNT]]: COUNT (default 2) RAM disks of SIZE_MB.
# shellcheck disable=SC2120 # both arguments are optional
make_brd() {
	local mb=${1:-256} n=${2:-2}

	load_module brd rd_nr="$n" rd_size=$((mb * 1024)) >&2 || return 1
	[ -b /dev/ram0 ] || { echo "no /dev/ram0" >&2; return 1; }
	echo /dev/ram0
}

# make_ext4_file [DEV [MNT [SIZE_MB]]]: ext4 on DEV, a preallocated file.
make_ext4_file() {
	local dev=${1:-/dev/ram1} mnt=${2:-/mnt} mb=${3:-64}

	if [ ! -b "$dev" ]; then
		# shellcheck disable=SC2119 # the default RAM disks
		make_brd >/dev/null || return 1
	fi
	grep -q " $mnt " /proc/mounts || {
		mkfs.ext4 -q -F "$dev" >&2 || return 1
		mkdir -p "$mnt"
		mount -t ext4 "$dev" "$mnt" >&2 || return 1
	}
	dd if=/dev/zero of="$mnt/img" bs=1M count="$mb" conv=fsync 2>/dev/null || return 1
	echo "$mnt/img"
}

# The kernel report lines currently in dmesg (empty when clean).
kernel_reports() {
	dmesg | grep -E 'Oops|BUG:|WARNING:|KASAN:|UBSAN:|circular locking|INFO:|general protection|Call Trace|Kernel panic'
}

# Run a kmemleak scan (debug kernel); print leaks, return 1 when any.
# /init then skips its own scan after the test: make this the last step.
kmemleak_scan() {
	local kml=/sys/kernel/debug/kmemleak out

	[ -w $kml ] || { echo "no kmemleak" >&2; return 2; }
	# kmemleak reports only objects older than 5 s.
	sleep 6
	echo scan > $kml
	out=$(cat $kml)
	touch /run/pvblk-kmemleak-scanned
	[ -z "$out" ] && return 0
	echo "$out"
	return 1
}
