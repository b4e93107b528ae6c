#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host-side test of libpvv and the fio engine over vhost-user-blk, against
# qemu-storage-daemon (no VM needed).  Usage: test-vhost-user.sh BUILD_DIR
set -u
B=$(cd "${1:-$(dirname "$0")/../build}" && pwd)
QSD=${QSD:-qemu-storage-daemon}
FIO=${FIO:-fio}
T=$(mktemp -d /tmp/pvblk-vu-test.XXXXXX)
pass=0 fail=0
pids=()

cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

res() { # res RC DESC
	if [ "$1" = 0 ]; then echo "ok - $2"; pass=$((pass + 1))
	else echo "not ok - $2"; fail=$((fail + 1)); fi
}

start_qsd() { # start_qsd NAME NQ BLOCKDEV-ARGS...
	local name=$1 nq=$2 i
	shift 2
	"$QSD" "$@" --export "type=vhost-user-blk,id=e0,node-name=top,addr.type=unix,addr.path=$T/$name.sock,writable=on,num-queues=$nq" \
		>"$T/$name.log" 2>&1 &
	pids+=($!)
	for i in $(seq 100); do [ -S "$T/$name.sock" ] && return 0; sleep 0.1; done
	echo "# qemu-storage-daemon did not start:"; sed 's/^/# /' "$T/$name.log"
	return 1
}

fio_ok() { # fio_ok DESC SOCK ARGS...
	local desc=$1 sock=$2 rc
	shift 2
	timeout 300 "$FIO" --name=t --ioengine="external:$B/pvblk-fio.so" \
		--pvblk_socket="$sock" --thread --output="$T/fio.out" "$@" >/dev/null 2>"$T/fio.err"
	rc=$?
	if [ $rc = 0 ] && grep -q "err= 0" "$T/fio.out" && ! grep -q "err= [1-9]" "$T/fio.out"; then
		res 0 "$desc"
	else
		sed 's/^/# /' "$T/fio.err" | head -20
		grep -E "err=|verify" "$T/fio.out" | sed 's/^/# /' | head -10
		res 1 "$desc"
	fi
}

cd "$T" || exit 1	# fio writes verify state files into the cwd
truncate -s 256M "$T/disk.img"
start_qsd file 4 --blockdev "driver=file,node-name=f0,filename=$T/disk.img,cache.direct=off" \
	--blockdev driver=raw,node-name=top,file=f0 || exit 1
start_qsd null 4 --blockdev driver=null-co,node-name=top,size=1073741824,read-zeroes=on || exit 1

"$B/pvv-basic" -u "$T/file.sock" -q 4 >"$T/basic.out" 2>&1
rc=$?
sed 's/^/# basic: /' "$T/basic.out"
res $rc "pvv-basic over vhost-user (file, 4 queues)"

fio_ok "fio randread 4k QD128 on null-co" "$T/null.sock" \
	--rw=randread --bs=4k --iodepth=128 --time_based --runtime=2 --size=1g
fio_ok "fio randwrite+verify crc32c 4k QD32, 1 queue (file)" "$T/file.sock" \
	--rw=randwrite --bs=4k --iodepth=32 --size=32M --verify=crc32c --verify_fatal=1
fio_ok "fio randwrite+verify crc32c bs 512..1M QD128, 4 jobs on 4 queues (file)" "$T/file.sock" \
	--numjobs=4 --offset_increment=32M --size=32M --rw=randwrite --bsrange=512-1m \
	--iodepth=128 --verify=crc32c --verify_fatal=1 --group_reporting
fio_ok "fio write+verify QD1 bs 512" "$T/file.sock" \
	--rw=write --bs=512 --iodepth=1 --size=1M --offset=200M --verify=crc32c --verify_fatal=1
fio_ok "fio verify without INDIRECT_DESC and EVENT_IDX" "$T/file.sock" \
	--pvblk_no_indirect=1 --pvblk_no_event_idx=1 --rw=randwrite --bsrange=4k-256k \
	--iodepth=64 --size=16M --verify=crc32c --verify_fatal=1
fio_ok "fio verify bs 512..1M split into 16 x 4 KiB-descriptor requests, QD16" "$T/file.sock" \
	--pvblk_max_segs=16 --pvblk_size_max=4096 --rw=randwrite --bsrange=512-1m \
	--iodepth=16 --size=32M --verify=crc32c --verify_fatal=1
fio_ok "fio verify split requests without INDIRECT_DESC" "$T/file.sock" \
	--pvblk_no_indirect=1 --pvblk_max_segs=8 --pvblk_size_max=8192 --rw=randwrite \
	--bsrange=4k-1m --iodepth=8 --size=16M --verify=crc32c --verify_fatal=1
fio_ok "fio writes with fsync (FLUSH) every 4 I/Os" "$T/file.sock" \
	--rw=write --bs=64k --iodepth=8 --fsync=4 --size=16M
fio_ok "fio randtrim (DISCARD)" "$T/file.sock" \
	--rw=randtrim --bs=64k --iodepth=8 --size=16M
fio_ok "fio busy-poll mode randread" "$T/null.sock" \
	--pvblk_poll=1 --rw=randread --bs=4k --iodepth=16 --time_based --runtime=1 --size=1g

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
