# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/stuck.sh: once dom0 has suspended the dm
# device behind xvdb, start direct writes on it that cannot complete, then
# idle; dom0 detaches the disk, attaches and detaches another one and
# finally destroys the guest.  With DOMU_ROLE=idle (the second guest,
# which gets the other disk) it only idles: this guest's own xenbus thread
# may wait for the stuck disk's I/O, another guest's does not.
if [ "${DOMU_ROLE:-}" = idle ]; then
	ok "idle guest up"
	phase ready
	while :; do
		sleep 5
	done
fi
wait_dev xvdb
phase ready
wait_key go > /dev/null
fio --name=stuck --filename=/dev/xvdb --rw=write --bs=4k --size=256k \
	--ioengine=libaio --iodepth=8 --direct=1 > /tmp/fio-stuck.log 2>&1 &
ok "direct writes on xvdb started (the suspended dm device keeps them)"
phase writing
while :; do
	sleep 5
done
