# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "reference": Linux's own xen-blkback serves a brd ramdisk to a PV
# guest, which runs fio verify + mkfs.ext4 + fsck.ext4 (tests/xen/io.domu.sh).
# Shows what the rig expects of any "vbd" backend, pvblk included.
set -uo pipefail

step "reference: brd 256 MiB served by xen-blkback"
check "modprobe brd" mk_brd 256
check "modprobe xen-blkback" modprobe xen-blkback
DOMU_DISKS=xvdb domu_start ref io.domu.sh 'phy:/dev/ram0,xvdb,w' ||
	fail "xl create ref"
if vbd_wait_connected ref xvdb; then
	ok "ref: xvdb connected (state 4 on both ends)"
	dump_vbd ref xvdb
	expect_eq "backend feature-persistent" "$(xs_be ref xvdb feature-persistent)" 1
	expect_eq "frontend feature-persistent" "$(xs_fe ref xvdb feature-persistent)" 1
	be_ind=$(xs_be ref xvdb feature-max-indirect-segments || true)
	if [ -n "$be_ind" ]; then
		ok "backend feature-max-indirect-segments ($be_ind)"
	else
		fail "backend feature-max-indirect-segments"
	fi
	info "frontend multi-queue-num-queues: $(xs_fe ref xvdb multi-queue-num-queues 2>&1)"
	domu_wait_phase ref io-done && domu_signal ref go 1
fi
domu_wait ref
guest_verdict ref
dmesg | grep -i 'persistent grants' | sed 's/^/# dom0 dmesg: /'
check "rmmod xen-blkback" rmmod xen-blkback
