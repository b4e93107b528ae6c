# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/hostile.sh, guest "fv": fio write + verify
# (crc32c) rounds on xvdb (pvblk, stock xen-blkfront) until dom0 writes
# data/stop; every round must verify.
: "${DOMU_FIO_SIZE:=32M}"
wait_dev xvdb
phase running
rounds=0
bad=0
while ! xenstore-read data/stop > /dev/null 2>&1; do
	if fio --name=verify --filename=/dev/xvdb --rw=randwrite \
		--bsrange=4k-128k --ioengine=libaio --iodepth=8 --direct=1 \
		--size="$DOMU_FIO_SIZE" --verify=crc32c --verify_fatal=1 \
		--do_verify=1 > /tmp/fio.log 2>&1; then
		rounds=$((rounds + 1))
	else
		bad=$((bad + 1))
		tail -n 20 /tmp/fio.log | sed 's/^/# fio: /'
	fi
done
info "fio verify rounds: $rounds passed, $bad failed"
expect_eq "xvdb: fio crc32c verify rounds that failed while the hostile guest ran" "$bad" 0
check "xvdb: at least one fio verify round completed ($rounds)" [ "$rounds" -gt 0 ]
