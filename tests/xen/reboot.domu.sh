# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/reboot.sh: two rounds of write a pattern +
# fio verify, then a reload of the stock xen-blkfront: rmmod refused
# while fio has xvdb open and while the vbd is bound, unbind the vbd,
# rmmod (now accepted), insmod, and (blkfront does not renegotiate on
# a device it left Closed) dom0 re-attaches the vbd; pattern read back +
# fio verify on the reconnected disk.
#
# Why rmmod alone is refused: xenbus_dev_probe() takes a reference on
# the driver's module for every xenbus device it binds and only
# xenbus_dev_remove() drops it (drivers/xen/xenbus/xenbus_probe.c), so
# xen_blkfront's refcnt is the number of bound vbds (plus one per open of
# a disk: bdev_open()), and delete_module() answers EWOULDBLOCK (EAGAIN)
# for as long as xvdb is bound, I/O or not.  Unbinding the device first
# is the way to unload it.
KO=/lib/modules/$(uname -r)/kernel/drivers/block/xen-blkfront.ko
VBD=vbd-51728	# xvdb

# wait_dev_t DEV SECONDS: wait for /dev/DEV, at most SECONDS.
wait_dev_t() {
	i=0
	while [ ! -b "/dev/$1" ] && [ $i -lt $(($2 * 5)) ]; do
		sleep 0.2
		i=$((i + 1))
	done
	[ -b "/dev/$1" ]
}

verify() {
	check "$1: fio randwrite 4k-128k + verify crc32c" \
		fio --name=verify --filename=/dev/xvdb --rw=randwrite \
		--bsrange=4k-128k --ioengine=libaio --iodepth=8 --direct=1 \
		--size=16M --verify=crc32c --verify_fatal=1 --do_verify=1
}

wait_dev xvdb
dd if=/dev/urandom of=/tmp/pat bs=1M count=8 2> /dev/null
want=$(md5sum < /tmp/pat)
for n in 1 2; do
	verify "round $n, before"
	check "round $n: pattern written at 64 MiB" \
		dd if=/tmp/pat of=/dev/xvdb bs=1M seek=64 conv=fsync
	# --thread: fio's jobs are threads of the one process we kill (a
	# forked job process outlived its killed parent and kept xvdb open,
	# so rmmod xen_blkfront answered EAGAIN).
	fio --name=load --filename=/dev/xvdb --rw=randrw --bsrange=4k-64k \
		--ioengine=libaio --iodepth=16 --direct=1 --size=32M --thread \
		--time_based --runtime=600 > /tmp/load.log 2>&1 &
	pid=$!
	sleep 3
	check_fail "round $n: rmmod xen-blkfront refused while fio has xvdb open" \
		rmmod xen_blkfront
	check "round $n: xen-blkfront still loaded, xvdb still there" \
		sh -c '[ -d /sys/module/xen_blkfront ] && [ -b /dev/xvdb ]'
	kill "$pid"
	wait "$pid"
	info "round $n: fio load stopped (status $?), fio left: $(pidof fio || echo none)"
	# One reference per bound xenbus device (xenbus_dev_probe()).
	expect_eq "round $n: xen_blkfront refcnt with xvdb bound and not open" \
		"$(cat /sys/module/xen_blkfront/refcnt)" 1
	check_fail "round $n: rmmod xen-blkfront refused while xvdb is bound" \
		rmmod xen_blkfront
	check "round $n: unbind $VBD from xen-blkfront" \
		sh -c "echo $VBD > /sys/bus/xen/drivers/vbd/unbind"
	expect_eq "round $n: xen_blkfront refcnt after the unbind" \
		"$(cat /sys/module/xen_blkfront/refcnt)" 0
	check "round $n: rmmod xen-blkfront after the unbind" rmmod xen_blkfront
	check "round $n: xen-blkfront unloaded" \
		sh -c '[ ! -d /sys/module/xen_blkfront ]'
	check "round $n: /dev/xvdb gone" sh -c '[ ! -b /dev/xvdb ]'
	phase "unloaded-$n"
	wait_key "go-$n" > /dev/null
	check "round $n: insmod xen-blkfront again" insmod "$KO"
	# The driver binds the vbd again (probe), but blkfront negotiates only
	# from Initialising and the device's state is still the Closed that
	# xenbus_dev_remove() wrote: dom0 detaches and re-attaches the vbd (a
	# new xenbus device), as a toolstack does for a hot-plug.
	if wait_dev_t xvdb 10; then
		info "round $n: xvdb reconnected by insmod alone"
		phase "back-$n"
	else
		info "round $n: xvdb not back 10 s after insmod (state $(cat /sys/bus/xen/devices/$VBD/state 2>/dev/null)); asking dom0 to re-attach"
		phase "reattach-$n"
	fi
	check "round $n: /dev/xvdb back" wait_dev_t xvdb 90
	got=$(dd if=/dev/xvdb bs=1M skip=64 count=8 2> /dev/null | md5sum)
	expect_eq "round $n: pattern read back after the reconnect" "$got" "$want"
	verify "round $n, after"
	phase "reloaded-$n"
	wait_key "done-$n" > /dev/null
done
dmesg | grep -iE 'blkfront|xvdb' | tail -n 20 | sed 's/^/# dmesg: /'
