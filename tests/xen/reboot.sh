# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "reboot": a frontend "reboot" with the stock xen-blkfront.  The
# guest (reboot.domu.sh) writes a pattern and verifies fio on its pvblk
# disk, unloads xen-blkfront with and right after I/O, loads it again,
# and reads the pattern back and verifies fio on the reconnected disk;
# twice.  dom0 checks the backend's state at each step (Closed while the
# frontend is gone, Connected again after), and that pvblk unloads at the
# end; any kernel report fails the run (rig/xen-run.sh).
set -uo pipefail
G=rb

step "reboot: pvblk serves brd to $G"
blkback_blacklist
check "modprobe pvblk" modprobe pvblk
check "brd 256 MiB" mk_brd 256
domu_start $G reboot.domu.sh 'phy:/dev/ram0,xvdb,w' || fail "xl create $G"
if vbd_wait_connected $G xvdb; then
	ok "$G: xvdb connected"
	for n in 1 2; do
		domu_wait_phase $G "unloaded-$n" || break
		st=$(xs_be $G xvdb state 2>/dev/null)
		fe=$(xs_fe $G xvdb state 2>/dev/null)
		info "cycle $n: backend state $st, frontend state $fe with xen-blkfront unloaded"
		expect_eq "cycle $n: backend Closed while xen-blkfront is unloaded" "$st" 6
		domu_signal $G "go-$n" 1
		p=""
		while domid_of $G > /dev/null; do
			p=$(xenstore-read "/local/domain/$(domid_of $G)/data/phase" 2>/dev/null)
			case $p in "back-$n" | "reattach-$n") break ;; esac
			sleep 0.5
		done
		if [ "$p" = "reattach-$n" ]; then
			info "cycle $n: insmod did not reconnect; frontend state $(xs_fe $G xvdb state 2>/dev/null), backend $(xs_be $G xvdb state 2>/dev/null)"
			dump_vbd $G xvdb
			step "cycle $n: xl block-detach + block-attach $G xvdb"
			xl block-detach $G xvdb 2>&1 | sed 's/^/#   /'
			n2=0
			while xs_be $G xvdb state > /dev/null 2>&1 && [ $n2 -lt 30 ]; do
				sleep 1
				n2=$((n2 + 1))
			done
			check "cycle $n: xl block-attach $G xvdb again" \
				xl block-attach $G 'phy:/dev/ram0,xvdb,w'
		fi
		vbd_wait_connected $G xvdb
		domu_wait_phase $G "reloaded-$n" || break
		expect_eq "cycle $n: backend Connected again" \
			"$(xs_be $G xvdb state 2>/dev/null)" 4
		domu_signal $G "done-$n" 1
	done
fi
domu_wait $G
guest_verdict $G
dmesg | grep -E 'pvblk' | tail -n 30 | sed 's/^/# dom0 dmesg: /'
check "rmmod pvblk" rmmod pvblk
