# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "nbd": pvblk serves vbds whose disks are network block devices
# over a lossy, delayed loopback, the case where a page can still be
# referenced after its bio ended (an skb queued for retransmission) and
# pvblk_xen_gnt_unmap() must not unmap the grant yet: it parks the unmap
# (and the request's response) and the ring serves on.
#   xvdb: /dev/nbd0, the kernel's NBD client connected by nbd-client to
#         nbd-server on 127.0.0.1, which exports a file on tmpfs.
#   xvdc: /dev/nvme0n1, the kernel's NVMe/TCP host connected to the
#         kernel's NVMe/TCP target (nvmet) on 127.0.0.1, namespace on brd.
#         NBD copies what it sends into the socket; NVMe/TCP sends the
#         bio's pages themselves (MSG_SPLICE_PAGES), so only there can the
#         network hold a grant page.
# lo gets `tc qdisc ... netem delay $NETEM_DELAY loss $NETEM_LOSS`.  Two
# guests one after the other, each with fio randwrite + verify crc32c
# (4k-128k: indirect descriptors) on both disks: "pg" with persistent
# grants, "tg" with pvblk's xen_persistent off (transient grants, unmapped
# after every request).  Asserted: fio verify, blkfront's features, the
# unmap waits (debugfs qN_unmap_waits) of tg's NVMe/TCP vbd > 0 and that
# its rings answered requests while another one's unmap was parked
# (qN_answered_while_parked > 0: the ring did not stall), each guest gone
# without a "(null)" domain (every grant released), xenstore clean, rmmod
# pvblk; dom0's log without kernel report (rig/xen-run.sh).
# A third guest, "rm" (nbd-remote.domu.sh), after netem is off: the remote
# side goes away under guest I/O (stamped 4 KiB blocks written and read by
# shell loops with dd O_DIRECT).  NVMe/TCP with fast_io_fail_tmo=2,
# reconnect_delay=1, ctrl_loss_tmo=-1: the subsystem unlinked from its
# port for REMOTE_WIN s (8), then linked again: errors (EIO) in the guest
# only while it was away, and some there; pvblk's errors counter grew; no
# I/O loop hangs (90 s watchdog in the guest, deadlines here); the vbd
# stayed Connected; once the controller reconnected the region reads back
# with every block holding its last good write or a failed one.  NBD
# (reconnected with -t REMOTE_NBD_TMO, 10): nbd-server killed for good:
# EIO, no hang, no wrong data; then xvdb is detached (xl block-detach) while
# fio verify runs on xvdc, the vbd that kept its disk; then recovery:
# nbd-client reconnects /dev/nbd0 to the restarted server, xl block-attach
# gives it back to the guest, which reads the region (every block its last
# good write or a failed one) and runs fio verify on it.
# PVBLK_XEN_ENV="NETEM_DELAY=50ms NETEM_LOSS=10%" changes the netem.
# tg writes TG_NVME_SIZE per fio job (default 8M, as elsewhere) on its
# NVMe/TCP vbd.  Until unmaps were parked, every unmap that waited there
# stalled its ring for as long as the network held the page (16.4 s mean),
# which made that one fio job 313 of the scenario's 406 s with 8M and had
# it cut to 2M (2026-12-07); see tests/xen/README.md for the figures since.
set -uo pipefail
: "${NETEM_DELAY:=20ms}"
: "${NETEM_LOSS:=5%}"
: "${TG_NVME_SIZE:=8M}"
NQN=nqn.2014-08.org.pvblk:nbd-scenario
NVT=/sys/kernel/config/nvmet

# waits_of GUEST XVD: the sum of the vbd's qN_unmap_waits.
waits_of() {
	awk '$1 ~ /^q[0-9]+_unmap_waits$/ { s += $2 } END { print s + 0 }' \
		"/sys/kernel/debug/pvblk/xen-$(domid_of "$1")-$(vbd_devid "$2")/stats"
}

# wait_ms_of GUEST XVD: the milliseconds those unmaps waited, in all.
wait_ms_of() {
	awk '$1 ~ /^q[0-9]+_unmap_wait_us$/ { s += $2 } END { printf "%d\n", s / 1000 }' \
		"/sys/kernel/debug/pvblk/xen-$(domid_of "$1")-$(vbd_devid "$2")/stats"
}

# answered_of GUEST XVD: the sum of the vbd's qN_answered_while_parked.
answered_of() {
	awk '$1 ~ /^q[0-9]+_answered_while_parked$/ { s += $2 } END { print s + 0 }' \
		"/sys/kernel/debug/pvblk/xen-$(domid_of "$1")-$(vbd_devid "$2")/stats"
}

# tcp_counters: TCP retransmission counters of dom0 (one line).
tcp_counters() {
	awk '$1 == "Tcp:" && $2 !~ /^[0-9]/ { for (i = 2; i <= NF; i++) n[i] = $i; next }
	     $1 == "Tcp:" { for (i = 2; i <= NF; i++) if (n[i] == "RetransSegs") r = $i }
	     $1 == "TcpExt:" && $2 !~ /^[0-9]/ { for (i = 2; i <= NF; i++) e[i] = $i; next }
	     $1 == "TcpExt:" { for (i = 2; i <= NF; i++)
		if (e[i] ~ /^(TCPLossProbes|TCPSpuriousRTOs|TCPDSACKRecv|TCPTimeouts)$/)
			x = x " " e[i] "=" $i }
	     END { print "RetransSegs=" r x }' /proc/net/snmp /proc/net/netstat
}

step "nbd: pvblk only; NBD and NVMe/TCP over loopback"
blkback_blacklist
check "modprobe pvblk" modprobe pvblk
check "lo up" ip link set lo up
check "modprobe nbd, sch_netem, nvme-tcp, nvmet-tcp" \
	bash -c 'modprobe nbd nbds_max=2 max_part=0 && modprobe sch_netem &&
		 modprobe nvme-tcp && modprobe nvmet-tcp'

step "nbd: nbd-server exports a 128 MiB file on tmpfs, nbd-client connects /dev/nbd0"
mkdir -p /srv/nbd
mount -t tmpfs -o size=160m tmpfs /srv/nbd
truncate -s 128M /srv/nbd/disk.img
cat > /run/nbd-server.conf <<CONF
[generic]
	listenaddr = 127.0.0.1
	port = 10809
[pvblk]
	exportname = /srv/nbd/disk.img
CONF
check "nbd-server on 127.0.0.1:10809" nbd-server -C /run/nbd-server.conf -p /run/nbd-server.pid
# nbd-server daemonizes: give it a moment to listen.
nbd_connect() {
	local n
	for n in 1 2 3 4 5 6 7 8 9 10; do
		nbd-client -N pvblk -t 60 127.0.0.1 10809 /dev/nbd0 && return 0
		sleep "$n"
	done
	return 1
}
check "nbd-client 127.0.0.1 -> /dev/nbd0" nbd_connect
expect_eq "/dev/nbd0 size" "$(blockdev --getsize64 /dev/nbd0 2>&1)" $((128 << 20))

step "nbd: nvmet exports brd over TCP on 127.0.0.1:4420, nvme-tcp connects"
check "brd 128 MiB" mk_brd 128
grep -q ' /sys/kernel/config ' /proc/mounts ||
	mount -t configfs configfs /sys/kernel/config
check "nvmet subsystem, namespace /dev/ram0, tcp port" bash -c "
	mkdir $NVT/subsystems/$NQN && echo 1 > $NVT/subsystems/$NQN/attr_allow_any_host &&
	mkdir $NVT/subsystems/$NQN/namespaces/1 &&
	echo -n /dev/ram0 > $NVT/subsystems/$NQN/namespaces/1/device_path &&
	echo 1 > $NVT/subsystems/$NQN/namespaces/1/enable &&
	mkdir $NVT/ports/1 && echo tcp > $NVT/ports/1/addr_trtype &&
	echo ipv4 > $NVT/ports/1/addr_adrfam &&
	echo 127.0.0.1 > $NVT/ports/1/addr_traddr &&
	echo 4420 > $NVT/ports/1/addr_trsvcid &&
	ln -s $NVT/subsystems/$NQN $NVT/ports/1/subsystems/$NQN"
# What nvme-cli's "nvme connect" does: the options into /dev/nvme-fabrics,
# which answers with the new controller's instance.  A long keep-alive: the
# lossy link must not make the target drop the controller.
nvme_ctrl=
if exec 3<>/dev/nvme-fabrics; then
	printf 'nqn=%s,transport=tcp,traddr=127.0.0.1,trsvcid=4420,keep_alive_tmo=30' \
		"$NQN" >&3 && IFS= read -r nvme_ctrl <&3
	exec 3>&-
fi
info "nvme-fabrics: ${nvme_ctrl:-no answer}"
nvme_ctrl=${nvme_ctrl#instance=}
nvme_ctrl=nvme${nvme_ctrl%%,*}
# The namespace's disk (the multipath head when NVME_MULTIPATH is on).
NVME_DEV=
for n in $(seq 30); do
	for d in /dev/nvme[0-9]*n1; do
		case $d in */nvme*c*n1) continue ;; esac	# a hidden path
		[ -b "$d" ] && NVME_DEV=$d
	done
	[ -n "$NVME_DEV" ] && break
	sleep 1
done
check "NVMe/TCP namespace ${NVME_DEV:-/dev/nvme?n1} of $nvme_ctrl" test -b "${NVME_DEV:-/dev/nvme0n1}"
expect_eq "${NVME_DEV:-/dev/nvme?n1} size" "$(blockdev --getsize64 "${NVME_DEV:-/dev/nvme0n1}" 2>&1)" $((128 << 20))

step "nbd: netem on lo: delay $NETEM_DELAY loss $NETEM_LOSS"
check "tc qdisc add dev lo root netem delay $NETEM_DELAY loss $NETEM_LOSS" \
	tc qdisc add dev lo root netem delay "$NETEM_DELAY" loss "$NETEM_LOSS"
tc -s qdisc show dev lo | sed 's/^/# /'
info "dom0 TCP before the guests: $(tcp_counters)"

# run_guest NAME PERSISTENT(Y/N) EXPECT [XVDC_SIZE]: one guest on both
# disks (fio's size per job on xvdc: XVDC_SIZE, default the guest's 8M);
# prints the unmap waits of each vbd and leaves them in WAITS_xvdb /
# WAITS_xvdc, its qN_answered_while_parked sums in ANSWERED_xvdb /
# ANSWERED_xvdc.
# guest_done GUEST: let it end, judge it, and wait until its vbds finished
# their teardown (their debugfs entries go last): the next guest opens the
# same disks.
guest_done() {
	local t

	domu_signal "$1" go 1
	gone_within "$1" 120
	guest_verdict "$1"
	for t in $(seq 30); do
		[ -z "$(ls /sys/kernel/debug/pvblk 2>/dev/null)" ] && break
		sleep 1
	done
}

run_guest() {
	local g=$1 x st w ms
	echo "$2" > /sys/module/pvblk/parameters/xen_persistent
	DOMU_DISKS="xvdb xvdc" DOMU_EXPECT="$3 indirect" DOMU_FIO_SIZE_xvdc="${4:-}" \
		domu_start "$g" nbd.domu.sh \
		'phy:/dev/nbd0,xvdb,w' "phy:$NVME_DEV,xvdc,w" || fail "xl create $g"
	WAITS_xvdb=; WAITS_xvdc=
	for x in xvdb xvdc; do
		vbd_wait_connected "$g" "$x" || return 1
		ok "$g $x connected (state 4 on both ends)"
		expect_eq "$g $x: backend feature-persistent" \
			"$(xs_be "$g" "$x" feature-persistent)" "$([ "$2" = Y ] && echo 1 || echo 0)"
	done
	domu_wait_phase "$g" io-done || return 1
	for x in xvdb xvdc; do
		st=/sys/kernel/debug/pvblk/xen-$(domid_of "$g")-$(vbd_devid "$x")/stats
		grep -E '^(write_reqs|read_reqs|write_bytes|errors|q[0-9]+_(unmap_wait(s|_us)|unmap_parked|answered_while_parked)|mcache[0-9]+_(hits|misses|transient))' \
			"$st" | sed "s/^/# $g $x stats: /"
		w=$(waits_of "$g" "$x")
		ms=$(wait_ms_of "$g" "$x")
		info "$g $x ($([ $x = xvdb ] && echo NBD || echo NVMe/TCP)): $w unmap(s) waited for a referenced page, $ms ms in all (mean $((ms / (w > 0 ? w : 1))) ms)"
		printf -v "WAITS_$x" %s "$w"
		printf -v "ANSWERED_$x" %s "$(answered_of "$g" "$x")"
	done
	info "dom0 TCP after $g: $(tcp_counters)"
	guest_done "$g"
}

run_guest pg Y persistent
run_guest tg N nopersistent "$TG_NVME_SIZE"
if [ "${WAITS_xvdc:-0}" -gt 0 ]; then
	ok "tg (transient grants) NVMe/TCP vbd: unmaps waited for a page the network held ($WAITS_xvdc)"
else
	fail "tg (transient grants) NVMe/TCP vbd: unmaps waited for a page the network held ('${WAITS_xvdc:-}')"
fi
# A parked unmap holds back only its own request's response.
if [ "${ANSWERED_xvdc:-0}" -gt 0 ]; then
	ok "tg NVMe/TCP vbd: requests answered while an unmap was parked ($ANSWERED_xvdc)"
else
	fail "tg NVMe/TCP vbd: requests answered while an unmap was parked ('${ANSWERED_xvdc:-}')"
fi
# NBD copies into the socket: nothing should hold a grant page after the
# bio ended; a wait would be a finding, not a failure.
info "tg (transient grants) NBD vbd: ${WAITS_xvdb:-?} unmap wait(s)"
tc -s qdisc show dev lo | sed 's/^/# /'
dmesg | grep -E 'nbd|nvme' | tail -n 30 | sed 's/^/# dom0 dmesg: /'
echo Y > /sys/module/pvblk/parameters/xen_persistent

# --- Guest "rm": the remote side goes away under I/O ------------------------
# Its guest script is nbd-remote.domu.sh (stamped blocks, a shell loop: what
# pvblk-stamp does on KVM).  netem off first: the windows are about the
# target going away, not about a lossy link.

# phase_within GUEST PHASE SECONDS: domu_wait_phase with a deadline.
phase_within() {
	local id p n=0
	step "waiting for $1 to reach phase $2 (at most $3 s)"
	while [ $n -lt $(($3 * 2)) ]; do
		id=$(domid_of "$1") || { fail "$1 ended before phase $2"; return 1; }
		p=$(xenstore-read "/local/domain/$id/data/phase" 2>/dev/null || true)
		case " $p " in *" $2 "*) return 0 ;; esac
		guest_broken "$1" && return 1
		sleep 0.5
		n=$((n + 1))
	done
	fail "$1 reached phase $2 within $3 s (no hang)" "phase '$p'"
	return 1
}

# errors_of GUEST XVD: the vbd's errors counter (requests answered with an
# error status, BLKIF_RSP_ERROR).
errors_of() {
	awk '$1 == "errors" { print $2 }' \
		"/sys/kernel/debug/pvblk/xen-$(domid_of "$1")-$(vbd_devid "$2")/stats"
}

# errors_grew GUEST XVD BEFORE WHAT WHEN: pvblk's errors counter of the
# vbd grew from BEFORE (requests answered with an error status).
errors_grew() {
	local e1

	e1=$(errors_of "$1" "$2")
	if [ "$((e1 - $3))" -gt 0 ]; then
		ok "$4: pvblk answered $((e1 - $3)) request(s) with an error status $5"
	else
		fail "$4: pvblk answered requests with an error status $5" "$3 -> $e1"
	fi
}

# vbd_states GUEST XVD SECONDS: sample both ends' state about once a
# second until SECONDS have passed; prints the samples that were not 4
# (Connected), or nothing.
vbd_states() {
	local i=0 b f end=$(($(date +%s) + $3)) id dev
	# xl is slow under TCG (seconds a call on a loaded host): paths once.
	id=$(domid_of "$1")
	dev=$(vbd_devid "$2")
	while [ "$(date +%s)" -lt $end ]; do
		i=$((i + 1))
		b=$(xenstore-read "/local/domain/0/backend/vbd/$id/$dev/state" 2>/dev/null || echo gone)
		f=$(xenstore-read "/local/domain/$id/device/vbd/$dev/state" 2>/dev/null || echo gone)
		[ "$b/$f" = 4/4 ] || printf ' %s:%s/%s' "$i" "$b" "$f"
		sleep 1
	done
}

# dev_readable DEV SECONDS: until DEV reads again in dom0; prints the
# seconds it took.
dev_readable() {
	local i
	for i in $(seq 0 "$2"); do
		if dd if="$1" of=/dev/null bs=4096 count=1 iflag=direct 2>/dev/null; then
			echo "$i"
			return 0
		fi
		sleep 1
	done
	return 1
}

# nbd_server_pids: every nbd-server process (the daemon and the child
# that serves the connection).  No fork per process: with one cat per
# /proc entry (kernel threads included) the NBD step, from the guest's
# nbd-away-seen to its nbd-stop, took 84 s on the debug dom0 for an 8 s
# window (the cats' share was not timed alone).
nbd_server_pids() {
	local p c
	for p in /proc/[0-9]*; do
		{ read -r c < "$p/comm"; } 2>/dev/null || continue
		[ "$c" = nbd-server ] && echo "${p#/proc/}"
	done
}

# nbd_reconnect: /dev/nbd0's connection dropped and made again, with a
# REMOTE_NBD_TMO s timeout.
nbd_reconnect() {
	nbd-client -d /dev/nbd0 && sleep 1 &&
		nbd-client -N pvblk -t "$REMOTE_NBD_TMO" 127.0.0.1 10809 /dev/nbd0
}

# remote_guest: guest "rm" on both disks; NVMe/TCP target away for
# REMOTE_WIN s and back, then nbd-server killed for good; then xvdb (NBD)
# detached while xvdc keeps serving.
remote_guest() {
	local g=rm e0 t0 t s
	step "nbd: guest $g: the remote side goes away under I/O"
	check "netem off (tc qdisc del dev lo root)" tc qdisc del dev lo root
	# What fast_io_fail_tmo=2,reconnect_delay=1,ctrl_loss_tmo=-1 on the
	# connect line would give (the controller's sysfs knobs).
	check "$nvme_ctrl: reconnect_delay=1 ctrl_loss_tmo=-1 fast_io_fail_tmo=2" bash -c "
		cd /sys/class/nvme/$nvme_ctrl && echo 1 > reconnect_delay &&
		echo -1 > ctrl_loss_tmo && echo 2 > fast_io_fail_tmo"
	# A short NBD timeout: a request in flight when the server dies waits
	# that long at most.
	check "nbd-client -d /dev/nbd0; reconnect with -t $REMOTE_NBD_TMO" nbd_reconnect
	echo Y > /sys/module/pvblk/parameters/xen_persistent
	domu_start "$g" nbd-remote.domu.sh \
		'phy:/dev/nbd0,xvdb,w' "phy:$NVME_DEV,xvdc,w" || { fail "xl create $g"; return 1; }
	vbd_wait_connected "$g" xvdb && vbd_wait_connected "$g" xvdc || return 1
	ok "$g xvdb (NBD) and xvdc (NVMe/TCP) connected"

	# NVMe/TCP: the subsystem away from its port for REMOTE_WIN s.
	phase_within "$g" nvme-ready 300 || { xl destroy "$g"; return 1; }
	e0=$(errors_of "$g" xvdc)
	domu_signal "$g" nvme-away 1
	phase_within "$g" nvme-away-seen 60 || { xl destroy "$g"; return 1; }
	t0=$(date +%s)
	check "NVMe/TCP: subsystem unlinked from its port under guest I/O" \
		rm "$NVT/ports/1/subsystems/$NQN"
	s=$(vbd_states "$g" xvdc "$REMOTE_WIN")
	check "NVMe/TCP: subsystem linked again after $(($(date +%s) - t0)) s" \
		ln -s "$NVT/subsystems/$NQN" "$NVT/ports/1/subsystems/$NQN"
	if t=$(dev_readable "$NVME_DEV" 60); then
		ok "NVMe/TCP: $nvme_ctrl reconnected, $NVME_DEV reads again in dom0 ${t} s after the link"
	else
		fail "NVMe/TCP: $nvme_ctrl reconnected, $NVME_DEV reads again in dom0 within 60 s"
	fi
	info "NVMe/TCP: $nvme_ctrl state $(cat "/sys/class/nvme/$nvme_ctrl/state" 2>&1), target away $(($(date +%s) - t0)) s in all"
	domu_signal "$g" nvme-back 1
	expect_eq "NVMe/TCP: xvdc stayed Connected (4/4) on both ends while the target was away" "${s:-none}" none
	phase_within "$g" nvme-done 200 || { xl destroy "$g"; return 1; }
	errors_grew "$g" xvdc "$e0" "NVMe/TCP" "while the target was away"
	expect_eq "NVMe/TCP: xvdc still Connected after the window (backend/frontend)" \
		"$(xs_be "$g" xvdc state)/$(xs_fe "$g" xvdc state)" 4/4

	# NBD: nbd-server killed for good.
	phase_within "$g" nbd-ready 200 || { xl destroy "$g"; return 1; }
	e0=$(errors_of "$g" xvdb)
	domu_signal "$g" nbd-away 1
	phase_within "$g" nbd-away-seen 60 || { xl destroy "$g"; return 1; }
	# shellcheck disable=SC2046 # a list of pids
	check "NBD: nbd-server (daemon and connection) killed under guest I/O" \
		kill -KILL $(nbd_server_pids)
	s=$(vbd_states "$g" xvdb "$REMOTE_WIN")
	domu_signal "$g" nbd-stop 1
	phase_within "$g" nbd-done 200 || { xl destroy "$g"; return 1; }
	errors_grew "$g" xvdb "$e0" "NBD" "with the server gone"
	expect_eq "NBD: xvdb stayed Connected (4/4) on both ends with the server gone" "${s:-none}" none
	rm -f /run/nbd-server.pid
	check "NBD: nbd-server started again" \
		nbd-server -C /run/nbd-server.conf -p /run/nbd-server.pid

	# xvdb's disk is dead: detach it while the guest uses xvdc.
	t0=$(date +%s)
	check "xl block-detach $g xvdb (its NBD disk dead)" timeout 120 xl block-detach "$g" xvdb
	s=/sys/kernel/debug/pvblk/xen-$(domid_of "$g")-$(vbd_devid xvdb)
	for t in $(seq 30); do
		[ -e "$s" ] || break
		sleep 1
	done
	check "xvdb's pvblk device gone $(($(date +%s) - t0)) s after the detach" test ! -e "$s"
	check "xvdb's backend entry gone from xenstore" \
		bash -c "! xenstore-read /local/domain/0/backend/vbd/$(domid_of "$g")/$(vbd_devid xvdb)/state"
	phase_within "$g" io-done 200 || { xl destroy "$g"; return 1; }
	grep -E '^(write_reqs|read_reqs|errors) ' \
		"/sys/kernel/debug/pvblk/xen-$(domid_of "$g")-$(vbd_devid xvdc)/stats" |
		sed "s/^/# $g xvdc stats: /"

	# NBD back: the dead connection dropped, a new one to the restarted
	# server, the disk attached to the guest again.
	check "NBD: nbd-client -d /dev/nbd0 (dead connection), connect again" nbd_reconnect
	expect_eq "NBD: /dev/nbd0 size after the reconnect" \
		"$(blockdev --getsize64 /dev/nbd0 2>&1)" 134217728
	if block_attach "$g" 'phy:/dev/nbd0,xvdb,w' && vbd_wait_connected "$g" xvdb; then
		ok "NBD: xvdb attached to $g again and connected"
		domu_signal "$g" nbd-back 1
		phase_within "$g" nbd-back-done 300 || { xl destroy "$g"; return 1; }
	else
		fail "NBD: xvdb attached to $g again and connected"
		xl destroy "$g"
		return 1
	fi
	guest_done "$g"
}
: "${REMOTE_WIN:=8}"
: "${REMOTE_NBD_TMO:=10}"
remote_guest
dmesg | grep -E 'nbd|nvme|pvblk' | grep -v 'I/O error' | tail -n 25 | sed 's/^/# dom0 dmesg: /'
info "dom0 kernel I/O errors logged: nbd0 $(dmesg | grep -c 'I/O error, dev nbd0'), ${NVME_DEV#/dev/} $(dmesg | grep -c "I/O error, dev ${NVME_DEV#/dev/}")"

left=$(xenstore-ls /local/domain/0/backend/vbd 2>/dev/null | grep -c . || true)
expect_eq "backend/vbd entries left in xenstore" "$left" 0
# shellcheck disable=SC2016 # expanded by the inner bash
check "pvblk debugfs devices gone" bash -c '[ -z "$(ls /sys/kernel/debug/pvblk 2>/dev/null)" ]'
check "rmmod pvblk" rmmod pvblk
check "pvblk unloaded" bash -c '! test -d /sys/module/pvblk'

step "nbd: tear down NVMe/TCP, NBD (netem went before guest rm)"
if [ -w "/sys/class/nvme/$nvme_ctrl/delete_controller" ]; then
	check "nvme-tcp: delete $nvme_ctrl" \
		bash -c "echo 1 > /sys/class/nvme/$nvme_ctrl/delete_controller"
fi
rm -f "$NVT/ports/1/subsystems/$NQN"
rmdir "$NVT/ports/1" "$NVT/subsystems/$NQN/namespaces/1" "$NVT/subsystems/$NQN" 2>/dev/null || true
check "nbd-client -d /dev/nbd0" nbd-client -d /dev/nbd0
if [ -s /run/nbd-server.pid ]; then
	kill "$(cat /run/nbd-server.pid)" || true
fi
