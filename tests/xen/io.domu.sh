# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script (busybox sh, sourced by rig/xen/domu-init.sh): for every disk
# in $DOMU_DISKS, fio write+verify (crc32c, 4k-128k blocks so requests need
# indirect descriptors, two jobs so both queues see I/O), then mkfs.ext4 and
# a forced read-only fsck.ext4.  Announces phase "io-done" and waits for
# dom0's "go" so dom0 can inspect xenstore and debugfs while connected.
: "${DOMU_DISKS:=xvdb}"
: "${DOMU_FIO_SIZE:=16M}"

for d in $DOMU_DISKS; do
	wait_dev "$d"
done
phase connected
dmesg | grep -iE 'blkfront|persistent grants|indirect' | sed 's/^/# dmesg: /'
# DOMU_EXPECT="persistent indirect": blkfront must report both enabled.
for e in ${DOMU_EXPECT:-}; do
	case $e in
	persistent) check "blkfront: persistent grants enabled" \
		sh -c "dmesg | grep -q 'persistent grants: enabled'" ;;
	indirect) check "blkfront: indirect descriptors enabled" \
		sh -c "dmesg | grep -q 'indirect descriptors: enabled'" ;;
	esac
done

for d in $DOMU_DISKS; do
	check "$d: fio randwrite 4k-128k + verify crc32c, 2 jobs" \
		fio --name="verify-$d" --filename="/dev/$d" --rw=randwrite \
		--bsrange=4k-128k --ioengine=libaio --iodepth=8 --direct=1 \
		--numjobs=2 --size="$DOMU_FIO_SIZE" --offset_increment="$DOMU_FIO_SIZE" \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting
	check "$d: mkfs.ext4" mkfs.ext4 -q -F "/dev/$d"
	check "$d: fsck.ext4 -f -n clean" fsck.ext4 -f -n "/dev/$d"
done
cat /sys/block/xvd*/mq/*/cpu_list 2>/dev/null | sed 's/^/# mq cpu_list: /'
phase io-done
wait_key go > /dev/null
