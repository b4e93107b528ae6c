# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/reboot.sh: two rounds of write a pattern +
# fio verify, rmmod xen-blkfront (refused while fio holds the disk open,
# then right after the I/O stopped), insmod, pattern read back + fio
# verify on the reconnected disk (re-attached by dom0 if insmod alone does
# not reconnect it).
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

# rmmod_retry MODULE TRIES: rmmod every 0.2 s until it succeeds.
rmmod_retry() {
	i=0
	until rmmod "$1"; do
		i=$((i + 1))
		[ $i -lt "$2" ] || return 1
		sleep 0.2
	done
	echo "rmmod $1 after $i retries"
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
	info "round $n: fio load stopped (status $?), no fio left: $(pidof fio || echo yes)"
	info "round $n: xen_blkfront refcnt $(cat /sys/module/xen_blkfront/refcnt)"
	# xen_blkfront keeps a module reference after its disk was used
	# (refcnt 1 with no opener left, seen live on 6.12.118; rmmod answers
	# EAGAIN for good), so the frontend "reboot" is the driver's unbind
	# and bind of the device: the same blkfront_remove()/probe() and the
	# same xenbus states (Closed, then Initialising) the backend sees.
	unbound=
	if rmmod_retry xen_blkfront 25; then
		ok "round $n: rmmod xen-blkfront right after the I/O"
	else
		info "round $n: rmmod xen-blkfront: EAGAIN for 5 s (refcnt $(cat /sys/module/xen_blkfront/refcnt)); unbinding $VBD instead"
		check "round $n: unbind $VBD from xen-blkfront" \
			sh -c "echo $VBD > /sys/bus/xen/drivers/vbd/unbind"
		unbound=1
	fi
	check "round $n: xen-blkfront off the disk, /dev/xvdb gone" \
		sh -c '[ ! -e /sys/bus/xen/drivers/vbd/'"$VBD"' ] && [ ! -b /dev/xvdb ]'
	phase "unloaded-$n"
	wait_key "go-$n" > /dev/null
	if [ -n "$unbound" ]; then
		check "round $n: bind $VBD to xen-blkfront again" \
			sh -c "echo $VBD > /sys/bus/xen/drivers/vbd/bind"
	else
		check "round $n: insmod xen-blkfront again" insmod "$KO"
	fi
	# blkfront keeps the xenbus device it left Closed (xenbus_dev_remove)
	# and only negotiates from Initialising, so insmod alone may not
	# reconnect: then dom0 detaches and re-attaches the vbd.
	if wait_dev_t xvdb 30; then
		info "round $n: xvdb reconnected by insmod alone"
		phase "back-$n"
	else
		info "round $n: xvdb not back 30 s after insmod; asking dom0 to re-attach"
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
