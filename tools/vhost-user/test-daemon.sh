#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host check of pvblk-vhost-user as one daemon for many guests, against the
# real QEMU with fake_vhost_blk.so standing in for /dev/vhost-blk (as
# test-qemu.sh; only the control path is real):
#  1. bad options and disks that cannot be opened: a clear message, a
#     non-zero exit, and no socket created;
#  2. three exports (two from --config, one from --export); two QEMUs
#     connected at once, each realizing its vhost-user-blk-pci;
#  3. while they run: SIGHUP after the config file lost one export and
#     gained another: the removed export's QEMU is disconnected, the
#     other QEMU keeps its session, the new export serves a third QEMU;
#  4. a malformed message on one export ends only that connection;
#  5. SIGTERM: exit 0, every socket removed;
#  6. a resize reaches QEMU (backend channel, config change, GET_CONFIG),
#     and QEMU live-migrates that guest (to a file) with dirty logging on
#     in the kernel (SET_LOG_BASE, VHOST_F_LOG_ALL, logged rings);
#  7. the files of contrib/ validate.
# Prints ok / not ok lines and "N passed, N failed".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
B=$here/../build
# shellcheck source=rig/tap.sh
. "$here/../../rig/tap.sh"

for f in pvblk-vhost-user fake_vhost_blk.so; do
	[ -e "$B/$f" ] || { echo "no $B/$f: make -C tools test-vhost-user-qemu"; exit 2; }
done
tmp=$(mktemp -d)
vu_pid=
qpids=()
cleanup() {
	local p
	for p in "${qpids[@]}"; do kill "$p" 2>/dev/null; done
	[ -n "$vu_pid" ] && kill "$vu_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

: > "$tmp/vhost-blk"
for d in a b c d; do truncate -s 64M "$tmp/disk-$d"; done
export FAKE_VHOST_BLK=$tmp/vhost-blk FAKE_VHOST_BLK_SECTORS=131072
VU=("$B/pvblk-vhost-user" --device "$tmp/vhost-blk")

# refused DESC ARGS...: the daemon exits non-zero with a message on stderr
# and creates no socket in $tmp.
refused() {
	local desc=$1 rc
	shift
	LD_PRELOAD=$B/fake_vhost_blk.so "${VU[@]}" "$@" > /dev/null 2> "$tmp/err"
	rc=$?
	if [ $rc != 0 ] && [ -s "$tmp/err" ] && [ -z "$(find "$tmp" -type s)" ]; then
		ok "$desc: exit $rc, '$(grep -v '^fake-vhost-blk' "$tmp/err" | head -n 1)'"
	else
		fail "$desc: non-zero exit, a message, no socket" "exit $rc: $(head -n 3 "$tmp/err")"
		find "$tmp" -type s -delete
	fi
}
refused "no export" --verbose
refused "unknown key" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,colour=red"
refused "export without disk" --export "socket=$tmp/x.sock"
refused "queues=0" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,queues=0"
refused "queues=17" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,queues=17"
refused "serial of 21 bytes" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,serial=123456789012345678901"
refused "read-only=maybe" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,read-only=maybe"
refused "riops=abc" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,riops=abc"
refused "wiops over 2^28" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,wiops=268435457"
refused "rbps=1X" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,rbps=1X"
refused "wbps over 2^37 (129G)" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,wbps=129G"
refused "burst=10001" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,burst=10001"
refused "poll-us=10001" --export "socket=$tmp/x.sock,disk=$tmp/disk-a,poll-us=10001"
refused "--poll-us abc" --poll-us abc --export "socket=$tmp/x.sock,disk=$tmp/disk-a"
refused "one socket for two exports" --export "socket=$tmp/x.sock,disk=$tmp/disk-a" \
	--export "socket=$tmp/x.sock,disk=$tmp/disk-b"
refused "second export's disk missing: no socket for the first either" \
	--export "socket=$tmp/x.sock,disk=$tmp/disk-a" --export "socket=$tmp/y.sock,disk=$tmp/nodisk"
echo "socket=$tmp/x.sock,disk=$tmp/disk-a,bogus" > "$tmp/bad.conf"
refused "config line that does not parse" --config "$tmp/bad.conf"
refused "config file missing" --config "$tmp/none.conf"

# The daemon: A and B from the config file, C on the command line.
cat > "$tmp/vu.conf" <<EOF
# two exports
socket=$tmp/a.sock,disk=$tmp/disk-a,queues=2,serial=vm-a,poll-us=50,riops=500,wbps=20M,burst=200
socket=$tmp/b.sock,disk=$tmp/disk-b,serial=vm-b,read-only=on
EOF
LD_PRELOAD=$B/fake_vhost_blk.so "${VU[@]}" --config "$tmp/vu.conf" \
	--export "socket=$tmp/c.sock,disk=$tmp/disk-c" --verbose 2> "$tmp/vu.log" &
vu_pid=$!

# wait_for SECONDS CMD...: until CMD succeeds.
wait_for() {
	local n=$(($1 * 10))
	shift
	while ! "$@" && [ $n -gt 0 ]; do
		sleep 0.1
		n=$((n - 1))
	done
	"$@"
}
for s in a b c; do
	check "export $s: socket created" wait_for 10 test -S "$tmp/$s.sock"
done

# qemu_start NAME SOCKET: a paused QEMU with vhost-user-blk-pci on SOCKET,
# its monitor on the fifo $tmp/NAME.in.
qemu_start() {
	mkfifo "$tmp/$1.in"
	qemu-system-x86_64 -S -M q35 -nodefaults -display none -m 128 \
		-object memory-backend-memfd,id=mem,size=128M,share=on -numa node,memdev=mem \
		-chardev "socket,id=vu0,path=$2" \
		-device vhost-user-blk-pci,chardev=vu0,id=vblk0 \
		-monitor stdio < "$tmp/$1.in" > "$tmp/$1.out" 2>&1 &
	qpids+=($!)
	qpid[$1]=$!
	exec {fd}> "$tmp/$1.in"
	qfd[$1]=$fd
}
declare -A qpid qfd
# hmp NAME CMD: send a monitor command.
hmp() { echo "$2" >&"${qfd[$1]}"; }
realized() { grep -q 'vhost-user-blk-pci' "$tmp/$1.out"; }
connected() { grep -q "\[$tmp/$1.sock\] frontend connected" "$tmp/vu.log"; }
log_count() { grep -c -- "$1" "$tmp/vu.log"; }

qemu_start qa "$tmp/a.sock"
qemu_start qb "$tmp/b.sock"
check "QEMU 1 connected to export a" wait_for 60 connected a
check "QEMU 2 connected to export b at the same time" wait_for 60 connected b
hmp qa "info qtree"
hmp qb "info qtree"
check "QEMU 1 realized vhost-user-blk-pci on a" wait_for 30 realized qa
check "QEMU 2 realized vhost-user-blk-pci on b" wait_for 30 realized qb
check "export a answered GET_CONFIG" grep -q "\[$tmp/a.sock\] GET_CONFIG size" "$tmp/vu.log"
check "export b answered GET_CONFIG" grep -q "\[$tmp/b.sock\] GET_CONFIG size" "$tmp/vu.log"
check "export a's limits logged" \
	grep -q "\[$tmp/a.sock\] limits: riops 500 wiops 0 rbps 0 wbps 20971520 burst 200 ms" "$tmp/vu.log"
check "export a's limits reach the kernel device (VHOST_BLK_SET_QOS)" \
	grep -q "fake-vhost-blk: SET_QOS riops 500 wiops 0 rbps 0 wbps 20971520 burst 200" "$tmp/vu.log"
check "export a's busy polling logged (poll-us=50: 49 units of 1024 ns)" \
	grep -q "\[$tmp/a.sock\] busy polling: 50 us (49 units of 1024 ns)" "$tmp/vu.log"
check "both of export a's rings get VHOST_SET_VRING_BUSYLOOP_TIMEOUT 49" \
	sh -c "grep -q 'fake-vhost-blk: SET_VRING_BUSYLOOP_TIMEOUT 0 49' '$tmp/vu.log' &&
	       grep -q 'fake-vhost-blk: SET_VRING_BUSYLOOP_TIMEOUT 1 49' '$tmp/vu.log'"

# Remove b, add d, and change a's limits only, while both QEMUs run.
cat > "$tmp/vu.conf" <<EOF
socket=$tmp/a.sock,disk=$tmp/disk-a,queues=2,serial=vm-a,poll-us=50,riops=300,burst=200
socket=$tmp/d.sock,disk=$tmp/disk-d,serial=vm-d
EOF
kill -HUP $vu_pid
check "SIGHUP: export d started" wait_for 10 test -S "$tmp/d.sock"
check "SIGHUP: export b stopped, its socket removed" wait_for 10 test ! -e "$tmp/b.sock"
check "SIGHUP: b's frontend disconnected" grep -q "\[$tmp/b.sock\] stopped" "$tmp/vu.log"
check "SIGHUP: a's session untouched (no disconnect, no restart)" \
	test "$(log_count "\[$tmp/a.sock\] frontend disconnected")$(log_count "\[$tmp/a.sock\] serving")" = 01
check "SIGHUP: c (command line) untouched" test -S "$tmp/c.sock"
check "SIGHUP: a's new limits applied to its running session" \
	wait_for 5 grep -q "\[$tmp/a.sock\] new limits applied to the running session" "$tmp/vu.log"
check "SIGHUP: a's new limits reach the kernel device" \
	grep -q "fake-vhost-blk: SET_QOS riops 300 wiops 0 rbps 0 wbps 0 burst 200" "$tmp/vu.log"
qemu_start qd "$tmp/d.sock"
check "QEMU 3 connected to the new export d" wait_for 60 connected d
hmp qd "info qtree"
check "QEMU 3 realized vhost-user-blk-pci on d" wait_for 30 realized qd

# A malformed message on c (idle): only that connection ends.
python3 - "$tmp/c.sock" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
# request 1 (GET_FEATURES) with a 4 KiB payload size: refused
s.sendall(struct.pack('<III', 1, 1, 4096))
s.settimeout(10)
try:
    print("reply" if s.recv(64) else "closed")
except Exception as e:
    print("error", e)
EOF
check "malformed message on c: the daemon dropped that connection" \
	wait_for 10 grep -q "\[$tmp/c.sock\] GET_FEATURES: payload size 4096" "$tmp/vu.log"
n=$(grep -c 'dev: vhost-user-blk-pci' "$tmp/qa.out")
hmp qa "info qtree"
more_qtree() { test "$(grep -c 'dev: vhost-user-blk-pci' "$tmp/$1.out")" -gt "$2"; }
check "QEMU 1 still answers after c's trouble" wait_for 10 more_qtree qa "$n"
check "daemon still running" kill -0 $vu_pid
check "a still connected (no disconnect logged)" test "$(log_count "\[$tmp/a.sock\] frontend disconnected")" = 0
qemu_start qc "$tmp/c.sock"
check "c serves the next frontend after the malformed one" wait_for 60 connected c

# QEMU 1 quits: its export accepts again, the others go on.
hmp qa quit
check "QEMU 1 quit: a saw the disconnect" wait_for 30 grep -q "\[$tmp/a.sock\] frontend disconnected" "$tmp/vu.log"
check "QEMU 3 still running" kill -0 "${qpid[qd]}"

for q in qb qc qd; do hmp $q quit 2>/dev/null; done
for p in "${qpids[@]}"; do wait "$p" 2>/dev/null; done
qpids=()
kill -TERM $vu_pid
wait $vu_pid
rc=$?
vu_pid=
check "daemon exits 0 on SIGTERM" test $rc = 0
check "every socket removed" test -z "$(find "$tmp" -type s)"
# Resize: a guest kernel (tests/vm/qemu-guest's, the one test-qemu.sh
# --boot uses) on export r; the disk file grows 64 -> 96 MiB; the daemon
# notices and sends VHOST_USER_BACKEND_CONFIG_CHANGE_MSG, and QEMU asks
# GET_CONFIG again (the fake answers the file's size, as the kernel
# answers the disk's).
G=$B/qemu-guest
if [ -f "$G/inner.cpio" ]; then
	truncate -s 64M "$tmp/disk-r"
	FAKE_VHOST_BLK_DISK=$tmp/disk-r LD_PRELOAD=$B/fake_vhost_blk.so "${VU[@]}" \
		--export "socket=$tmp/r.sock,disk=$tmp/disk-r" --verbose 2> "$tmp/vu-r.log" &
	rpid=$!
	wait_for 10 test -S "$tmp/r.sock"
	: > "$tmp/r.out"
	qemu-system-x86_64 -M q35 -nodefaults -display none -m 256 -accel tcg -cpu max \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev "socket,id=vu0,path=$tmp/r.sock" -device vhost-user-blk-pci,chardev=vu0 \
		-serial "file:$tmp/r.out" -monitor "unix:$tmp/r.mon,server=on,wait=off" \
		-bios /usr/share/qemu/qboot.rom \
		-kernel "$G/vmlinuz" -initrd "$G/inner.cpio" -append "console=ttyS0 panic=-1" \
		< /dev/null > "$tmp/r.err" 2>&1 &
	qr=$!
	qpids+=("$qr")
	check "resize: the guest's virtio_blk sees 131072 sectors" \
		wait_for 240 grep -q '\[vda\] 131072 512-byte logical blocks' "$tmp/r.out"
	check "resize: the guest set up the backend channel (SET_BACKEND_REQ_FD)" \
		grep -q "SET_BACKEND_REQ_FD size" "$tmp/vu-r.log"
	truncate -s 96M "$tmp/disk-r"
	check "resize: the daemon noticed the disk grew" \
		wait_for 10 grep -q "disk-r resized: 67108864 -> 100663296 bytes" "$tmp/vu-r.log"
	# QEMU re-reads the config space after the message (the guest cannot
	# show it here: with no data path its probe never finishes, and
	# virtio defers config changes until it does).
	check "resize: QEMU asked GET_CONFIG again and got 196608 sectors" \
		wait_for 30 sh -c "sed -n '/disk-r resized/,\$p' '$tmp/vu-r.log' | grep -q 'GET_CONFIG capacity 196608'"
	# Live migration (to a file): QEMU may migrate now that LOG_SHMFD is
	# offered; it shares its dirty bitmap and turns logging on in the
	# kernel (VHOST_F_LOG_ALL, logged used rings), and the migration ends.
	mon() { # HMP command on r.mon; prints the answer
		python3 - "$tmp/r.mon" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(2)
def drain():
    out = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    return out.decode(errors="replace")
drain()
s.sendall(sys.argv[2].encode() + b"\n")
time.sleep(1)
print(drain())
PY
	}
	mon 'migrate "exec:cat > /dev/null"' > "$tmp/mig.out"
	migrated() { mon "info migrate" | grep -q "Migration status: completed"; }
	check "migration: QEMU migrated the guest (status completed)" wait_for 60 migrated
	check "migration: QEMU shared its dirty bitmap (SET_LOG_BASE, fd)" \
		grep -q "SET_LOG_BASE size 16 fds 1" "$tmp/vu-r.log"
	check "migration: the kernel got the bitmap (VHOST_SET_LOG_BASE)" \
		grep -q "fake-vhost-blk: SET_LOG_BASE" "$tmp/vu-r.log"
	check "migration: logging on in the kernel (VHOST_F_LOG_ALL)" \
		grep -q "fake-vhost-blk: SET_FEATURES(LOG_ALL)" "$tmp/vu-r.log"
	check "migration: used rings logged (VHOST_VRING_F_LOG)" \
		grep -q "fake-vhost-blk: SET_VRING_ADDR(LOG)" "$tmp/vu-r.log"
	[ "$tap_fail" = 0 ] || { sed 's/^/#   migrate: /' "$tmp/mig.out"; mon "info migrate" | sed 's/^/#   /'; }
	kill "$qr" 2>/dev/null
	wait "$qr" 2>/dev/null
	kill -TERM "$rpid"
	wait "$rpid"
	[ "$tap_fail" = 0 ] || grep -v "fake-vhost-blk: [A-Z_]*$" "$tmp/vu-r.log" | tail -n 14 | sed "s/^/#   vu-r: /"
else
	fail "resize check" "no $G/inner.cpio (make -C tools vhost-user-guest)"
fi

# The admin's files in contrib/: the libvirt domain validates against
# libvirt's schema, the systemd template unit verifies (with the built
# daemon in ExecStart), the example config parses.
C=$here/../../contrib
if command -v virt-xml-validate > /dev/null; then
	check "contrib/libvirt-vm0.xml validates (virt-xml-validate, libvirt 9.0 schema)" \
		virt-xml-validate "$C/libvirt-vm0.xml" domain
else
	fail "contrib/libvirt-vm0.xml validates" "no virt-xml-validate: apt-get install libvirt-clients (make setup)"
fi
mkdir -p "$tmp/unit"
sed "s|/usr/local/sbin/pvblk-vhost-user|$B/pvblk-vhost-user|" "$C/pvblk-vhost-user@.service" \
	> "$tmp/unit/pvblk-vhost-user@.service"
check "contrib/pvblk-vhost-user@.service verifies (systemd-analyze verify)" \
	sh -c "cd '$tmp/unit' && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no ./pvblk-vhost-user@host.service 2>&1 | { ! grep .; }"
sed "s|/dev/vg/|$tmp/disk-|; s|/run/pvblk/|$tmp/|" "$C/host.conf" > "$tmp/host.conf"
sed -i "s|$tmp/disk-vm0|$tmp/disk-a|; s|$tmp/disk-vm1|$tmp/disk-b|" "$tmp/host.conf"
LD_PRELOAD=$B/fake_vhost_blk.so "${VU[@]}" --config "$tmp/host.conf" 2> "$tmp/host.log" &
pid=$!
check "contrib/host.conf serves its two exports" wait_for 10 test -S "$tmp/vm0.sock" -a -S "$tmp/vm1.sock"
kill -TERM $pid
wait $pid

if [ "$tap_fail" != 0 ]; then
	echo "# daemon log:"
	sed 's/^/#   /' "$tmp/vu.log" | tail -60
fi
tap_totals
