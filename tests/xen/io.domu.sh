# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script (busybox sh, sourced by rig/xen/domu-init.sh): for every disk
# in $DOMU_DISKS, fio write+verify (crc32c, 4k-128k blocks so requests need
# indirect descriptors, two jobs so both queues see I/O), then mkfs.ext4 and
# a forced read-only fsck.ext4.  Announces phase "io-done" and waits for
# dom0's "go" so dom0 can inspect xenstore and debugfs while connected (and
# resize a disk: DOMU_RESIZE).
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
# DOMU_RESIZE="DISK SECTORS": dom0 grew DISK before "go"; the new size must
# reach the guest, and the space past the old end must hold data.
if [ -n "${DOMU_RESIZE:-}" ]; then
	# shellcheck disable=SC2086 # two words
	set -- $DOMU_RESIZE
	i=0
	while [ "$(cat "/sys/block/$1/size")" != "$2" ] && [ $i -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	expect_eq "$1: the guest sees the new size (sectors)" "$(cat "/sys/block/$1/size")" "$2"
	dmesg | grep -iE "$1.*(capacity|size)" | tail -n 3 | sed 's/^/# dmesg: /'
	dd if=/dev/urandom of=/tmp/past bs=1M count=1 2> /dev/null
	check "$1: write 1 MiB past the old end" \
		dd if=/tmp/past of="/dev/$1" bs=1M seek=$(($2 / 2048 - 2)) oflag=direct conv=fsync
	expect_eq "$1: read back past the old end" \
		"$(dd if="/dev/$1" bs=1M skip=$(($2 / 2048 - 2)) count=1 iflag=direct 2> /dev/null | md5sum)" \
		"$(md5sum < /tmp/past)"
fi
