# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/detach.sh: endless fio load on every disk in
# $DOMU_DISKS, then phase "loaded"; dom0 detaches and destroys the guest
# while the load runs, so this script never ends on its own.
: "${DOMU_DISKS:=xvdb xvdc}"
for d in $DOMU_DISKS; do
	wait_dev "$d"
done
for d in $DOMU_DISKS; do
	fio --name="load-$d" --filename="/dev/$d" --rw=randrw --bsrange=4k-128k \
		--ioengine=libaio --iodepth=16 --direct=1 --numjobs=2 --size=64M \
		--time_based --runtime=3600 > "/tmp/fio-$d.log" 2>&1 &
done
ok "fio load started on $DOMU_DISKS"
phase loaded
while :; do
	sleep 5
done
