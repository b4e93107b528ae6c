#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host check of pvblk-vhost-user against the real QEMU (no pvblk.ko needed):
# fake_vhost_blk.so (LD_PRELOAD) makes a regular file answer the
# /dev/vhost-blk ioctls, so only the control path is real:
#  1. QEMU realizes vhost-user-blk-pci (paused, -S): features, protocol
#     features, queue count and config negotiated; quit; the daemon lives on.
#  2. A second QEMU connects to the same daemon (reconnect) and, with
#     --boot, boots tests/vm/qemu-guest's kernel until virtio_blk prints the
#     disk size (I/O cannot complete without the kernel, so it stops there).
# Prints ok / not ok lines and "N passed, N failed".
#
# Usage: make -C tools test-vhost-user-qemu, or tools/vhost-user/test-qemu.sh [--boot]
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
B=$here/../build
boot=0
[ "${1:-}" = --boot ] && boot=1
npass=0
nfail=0
ok() { echo "ok - $*"; npass=$((npass + 1)); }
nok() { echo "not ok - $1"; [ -n "${2:-}" ] && echo "# $2"; nfail=$((nfail + 1)); }
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d" "$*"; fi; }

for f in pvblk-vhost-user fake_vhost_blk.so; do
	[ -e "$B/$f" ] || { echo "no $B/$f: make -C tools test-vhost-user-qemu"; exit 2; }
done
tmp=$(mktemp -d)
vu_pid=
cleanup() {
	[ -n "$vu_pid" ] && kill "$vu_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

: > "$tmp/vhost-blk"
truncate -s 64M "$tmp/disk"
SOCK=$tmp/vu.sock
FAKE_VHOST_BLK=$tmp/vhost-blk FAKE_VHOST_BLK_SECTORS=131072 LD_PRELOAD=$B/fake_vhost_blk.so \
	"$B/pvblk-vhost-user" --device "$tmp/vhost-blk" --disk "$tmp/disk" \
	--socket "$SOCK" --num-queues 2 --serial hosttest --verbose 2>"$tmp/vu.log" &
vu_pid=$!
for _ in $(seq 1 100); do
	[ -S "$SOCK" ] && break
	kill -0 $vu_pid 2>/dev/null || break
	sleep 0.1
done
check "daemon listens" test -S "$SOCK"

qemu_args=(-M q35 -nodefaults -display none -m 256
	-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem
	-chardev "socket,id=vu0,path=$SOCK"
	-device vhost-user-blk-pci,chardev=vu0,num-queues=2,id=vblk0)

printf 'info qtree\nquit\n' | timeout 120 qemu-system-x86_64 -S "${qemu_args[@]}" \
	-monitor stdio >"$tmp/q1.out" 2>&1
rc=$?
check "QEMU realizes vhost-user-blk-pci and quits (exit 0)" test $rc = 0
check "QEMU lists the device" grep -q 'vhost-user-blk-pci' "$tmp/q1.out"
[ $rc = 0 ] || sed 's/^/#   qemu: /' "$tmp/q1.out" | grep -v '^#   qemu:  ' | head -20
for req in GET_FEATURES GET_PROTOCOL_FEATURES SET_PROTOCOL_FEATURES GET_QUEUE_NUM \
	SET_OWNER GET_CONFIG; do
	check "QEMU sent $req" grep -q "pvblk-vhost-user: .*] $req size" "$tmp/vu.log"
done
check "no error from the daemon" \
	test -z "$(grep -v 'size .* fds\|frontend \(dis\)\?connected\|serving \|fake-vhost-blk\|stopped$' "$tmp/vu.log")"
for _ in $(seq 1 100); do
	grep -q 'frontend disconnected' "$tmp/vu.log" && break
	sleep 0.1
done
check "daemon saw the disconnect" grep -q 'frontend disconnected' "$tmp/vu.log"
check "daemon still running" kill -0 $vu_pid

if [ $boot = 1 ]; then
	G=$B/qemu-guest
	if [ -f "$G/inner.cpio" ]; then
		: > "$tmp/q2.out"
		timeout 300 qemu-system-x86_64 "${qemu_args[@]}" -accel tcg -cpu max \
			-serial "file:$tmp/q2.out" -monitor none -bios /usr/share/qemu/qboot.rom \
			-kernel "$G/vmlinuz" -initrd "$G/inner.cpio" \
			-append "console=ttyS0 panic=-1" </dev/null >"$tmp/q2.err" 2>&1 &
		qpid=$!
		# Wait for virtio_blk's probe message (or QEMU's end).
		while kill -0 $qpid 2>/dev/null; do
			grep -q '\[vda\]' "$tmp/q2.out" && break
			sleep 1
		done
		check "second connection: guest virtio_blk sees 131072 sectors" \
			grep -q '\[vda\] 131072 512-byte logical blocks' "$tmp/q2.out"
		grep 'virtio_blk' "$tmp/q2.out" | sed 's/^/#   guest: /'
		kill $qpid 2>/dev/null
		wait $qpid 2>/dev/null
		check "second session: memory table forwarded" grep -q 'fake-vhost-blk: SET_MEM_TABLE' "$tmp/vu.log"
		check "second session: rings started (kick + backend)" \
			grep -q 'fake-vhost-blk: SET_VRING_KICK' "$tmp/vu.log"
		check "second session: rings stopped on QEMU exit (GET_VRING_BASE)" \
			grep -q 'fake-vhost-blk: GET_VRING_BASE' "$tmp/vu.log"
		check "daemon still running after the second session" kill -0 $vu_pid
	else
		nok "boot check" "no $G/inner.cpio (tests/vm/qemu-guest/mkinner.sh)"
	fi
fi

kill -TERM $vu_pid
wait $vu_pid
rc=$?
vu_pid=
check "daemon exits 0 on SIGTERM" test $rc = 0
check "socket removed" test ! -e "$SOCK"
if [ $nfail != 0 ]; then
	echo "# daemon log:"
	sed 's/^/#   /' "$tmp/vu.log" | tail -60
fi
echo "$npass passed, $nfail failed"
[ $nfail = 0 ]
