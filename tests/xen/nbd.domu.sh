# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/nbd.sh (busybox sh, sourced by
# rig/xen/domu-init.sh): fio randwrite + verify (crc32c) on every disk of
# $DOMU_DISKS, each backed in dom0 by a network block device over a lossy,
# delayed loopback.  Blocks of 4k-128k, so requests above 11 segments go
# through indirect descriptors; two jobs, so both queues see I/O.  Then
# phase "io-done" and wait for dom0's "go": dom0 reads pvblk's counters
# while the vbds are still connected.
#   DOMU_EXPECT      "persistent" / "nopersistent", and "indirect": what
#                    blkfront must report
#   DOMU_FIO_SIZE    per job (default 8M)
#   DOMU_FIO_SIZE_<disk>  per job on that disk (e.g. DOMU_FIO_SIZE_xvdc)
: "${DOMU_DISKS:=xvdb}"
: "${DOMU_FIO_SIZE:=8M}"

for d in $DOMU_DISKS; do
	wait_dev "$d"
done
phase connected
dmesg | grep -iE 'persistent grants|indirect' | sed 's/^/# dmesg: /'
for e in ${DOMU_EXPECT:-}; do
	case $e in
	persistent) check "blkfront: persistent grants enabled" \
		sh -c "dmesg | grep -q 'persistent grants: enabled'" ;;
	nopersistent) check "blkfront: persistent grants disabled" \
		sh -c "dmesg | grep -q 'persistent grants: disabled'" ;;
	indirect) check "blkfront: indirect descriptors enabled" \
		sh -c "dmesg | grep -q 'indirect descriptors: enabled'" ;;
	esac
done

for d in $DOMU_DISKS; do
	sz=$DOMU_FIO_SIZE
	eval "sz=\${DOMU_FIO_SIZE_$d:-$sz}"
	t0=$(date +%s)
	check "$d: fio randwrite 4k-128k + verify crc32c, 2 jobs x $sz" \
		fio --name="verify-$d" --filename="/dev/$d" --rw=randwrite \
		--bsrange=4k-128k --ioengine=libaio --iodepth=8 --direct=1 \
		--numjobs=2 --size="$sz" --offset_increment="$sz" \
		--verify=crc32c --verify_fatal=1 --do_verify=1 --group_reporting
	info "$d: fio took $(( $(date +%s) - t0 )) s"
done
phase io-done
wait_key go > /dev/null
