# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "fault": fault injection under load, Xen transport.  The guest
# runs pvblk-stamp (tools/stamp, O_DIRECT + AIO on xvdb, 16 requests in
# flight, stamped 4 KiB blocks) on xvdb, a dm device on brd served by
# pvblk, while dom0 opens one fault window after another:
#   dm-flakey          fx swapped to flakey: 1 s up, 1 s all I/O failing
#   dm-error           fx swapped to the error target
# and, when dom0's kernel has them (the debug dom0):
#   fail_make_request  bios to ram0 fail (make-it-fail, 10 %)
#   dm-dust            fx swapped to dust with 16 bad blocks (reads fail)
#   failslab           slab allocations whose stack runs through pvblk.ko's
#                      text fail (stack-trace filter, 20 %)
#   fail_page_alloc    page allocations likewise (order 0 included, 20 %),
#                      while dom0 also attaches and detaches a second vbd
#                      (xvdc on dm fy) twice in the window: with persistent grants
#                      pvblk's request path takes no page (first runs: 0
#                      failures), its connect does (queue pools, rings), so
#                      an attach must fail cleanly or connect, and xvdc must
#                      attach and serve again after the window
# The guest (tests/xen/fault.domu.sh) judges each window with the stamp
# tool's rules: errors only for requests that lived in a window; after the
# window (fault removed) the whole region reads back, every block holding
# its last good write or one of the failed writes since; no request hangs.
# Then the guest ends, pvblk unloads (the debug dom0 then scans for leaks).
set -uo pipefail
G=fl
DBG=/sys/kernel/debug
SECT=$((8 * 2048))	# fx: 8 MiB; the stamp region is its first 4 MiB
WIN=${FAULT_WINDOW:-6}	# seconds of fault per window
TIMES=1000000
export DM_DISABLE_UDEV=1

[ -x /scenario/pvblk-stamp ] ||
	fail "pvblk-stamp shipped in /scenario (make -C tools stamp)"
step "fault: dm modules, then pvblk (its text ends below later modules')"
blkback_blacklist
check "brd 64 MiB" mk_brd 64
check "modprobe dm-mod" modprobe dm-mod
check "modprobe dm-flakey" modprobe dm-flakey
KINDS="dm-flakey dm-error"
if [ -d $DBG/fail_make_request ] && [ -d $DBG/failslab ] &&
   [ -d $DBG/fail_page_alloc ] && [ -e $DBG/failslab/require-start ] &&
   modprobe dm-dust 2> /dev/null; then
	KINDS="fail_make_request dm-flakey dm-error dm-dust failslab fail_page_alloc"
else
	info "no fault-injection debugfs / dm-dust in this dom0: dm-flakey and dm-error only"
fi
check "modprobe pvblk" modprobe pvblk
check "dmsetup create fx (linear on /dev/ram0)" \
	dmsetup create fx --table "0 $SECT linear /dev/ram0 0"
check "dmsetup create fy (linear on /dev/ram0, after fx)" \
	dmsetup create fy --table "0 $SECT linear /dev/ram0 $SECT"
dm=/dev/mapper/fx
[ -b "$dm" ] || dm=/dev/dm-0
text_start=$(cat /sys/module/pvblk/sections/.text)
text_end=$(printf '0x%x' $((text_start + $(cat /sys/module/pvblk/coresize))))
info "kinds: $KINDS; pvblk.ko text $text_start-$text_end"

swap() { dmsetup suspend fx && dmsetup load fx --table "$1" && dmsetup resume fx; }
linear() { swap "0 $SECT linear /dev/ram0 0"; }
fault_attr() {
	local d=$DBG/$1 kv

	shift
	for kv in "$@"; do
		echo "${kv#*=}" > "$d/${kv%%=*}" || return 1
	done
}
fired() { echo $((TIMES - $(cat "$DBG/$1/times"))); }
alloc_on() {
	local d=$1

	shift
	fault_attr "$d" verbose=0 interval=1 times="$TIMES" ignore-gfp-wait=N \
		stacktrace-depth=32 require-start="$text_start" \
		require-end="$text_end" "$@" probability=20
}
fault_on() {
	local b

	case $1 in
	fail_make_request)
		echo 1 > /sys/block/ram0/make-it-fail &&
		fault_attr fail_make_request verbose=0 interval=1 times="$TIMES" probability=10 ;;
	dm-flakey) swap "0 $SECT flakey /dev/ram0 0 1 1" ;;
	dm-error) swap "0 $SECT error" ;;
	dm-dust)
		swap "0 $SECT dust /dev/ram0 0 4096" || return 1
		for b in 3 70 131 200 257 333 401 480 515 600 666 707 777 850 901 1000; do
			dmsetup message fx 0 addbadblock "$b" > /dev/null || return 1
		done
		dmsetup message fx 0 enable ;;
	failslab) alloc_on failslab ;;
	fail_page_alloc) alloc_on fail_page_alloc ignore-gfp-highmem=N min-order=0 ;;
	esac
}
fault_off() {
	case $1 in
	fail_make_request)
		fault_attr fail_make_request probability=0 &&
		echo 0 > /sys/block/ram0/make-it-fail ;;
	dm-flakey|dm-error) linear ;;
	dm-dust) dmsetup message fx 0 disable && linear ;;
	failslab|fail_page_alloc) fault_attr "$1" probability=0 ;;
	esac
}

# vbd_gone NAME XVD SECONDS: wait until both xenstore directories of a vbd
# are gone.
vbd_gone() {
	local n=0

	while xs_be "$1" "$2" state > /dev/null 2>&1 ||
	      xs_fe "$1" "$2" state > /dev/null 2>&1; do
		[ "$n" -ge $(($3 * 2)) ] && return 1
		sleep 0.5
		n=$((n + 1))
	done
}
# xvdc_cycle: attach xvdc (dm fy) to the guest, wait until both ends are
# Connected or the backend gave up (state >= 5), detach it; prints what
# happened: "connected", "refused: XL'S MESSAGE" (xl block-attach failed),
# "closed STATE" or "stuck STATE/STATE" (no outcome in 60 s).
xvdc_cycle() {
	local b f n=0 what out try rc

	# libxl kills a block hotplug script after 40 s (compiled in): on a
	# starved dom0 that is the toolstack, not pvblk (CI of 2026-12-07):
	# such an attach is tried again, as xl_retry does.
	for try in 1 2 3; do
		out=$(timeout 120 xl block-attach $G "phy:/dev/mapper/fy,xvdc,w" 2>&1)
		rc=$?
		[ $rc = 0 ] && break
		grep -q 'block add because of timeout' <<<"$out" || break
		info "xl block-attach $G xvdc: hotplug script timed out (attempt $try, load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
		xl_attach_undo $G "phy:/dev/mapper/fy,xvdc,w" >&2
		sleep 5
	done
	if [ $rc != 0 ]; then
		what="refused: $(echo "$out" | tr '\n' ' ' | cut -c1-200)"
	else
		while :; do
			b=$(xs_be $G xvdc state 2> /dev/null || true)
			f=$(xs_fe $G xvdc state 2> /dev/null || true)
			if [ "$b" = 4 ] && [ "$f" = 4 ]; then
				what=connected
				break
			fi
			if [ "${b:-0}" -ge 5 ]; then
				what="closed $b"
				break
			fi
			if [ $n -ge 120 ]; then
				what="stuck $b/$f"
				break
			fi
			sleep 0.5
			n=$((n + 1))
		done
	fi
	timeout 120 xl block-detach $G xvdc > /dev/null 2>&1
	vbd_gone $G xvdc 60 || what="$what, not detached"
	echo "$what"
}

# shellcheck disable=SC2086 # a list of words
DOMU_FILES=pvblk-stamp DOMU_KINDS=$(echo $KINDS | tr ' ' ,) \
	domu_start $G fault.domu.sh "phy:$dm,xvdb,w" || fail "xl create $G"
if vbd_wait_connected $G xvdb && domu_wait_phase $G ready; then
	ok "xvdb connected, pvblk-stamp prefilled and verified the region"
	k=0
	for kind in $KINDS; do
		k=$((k + 1))
		step "window $k: $kind"
		t0=$(date +%s)
		domu_signal $G "open$k" "$kind"
		domu_wait_phase $G "open$k" || break
		if fault_on "$kind"; then
			ok "$kind: fault injected"
			sleep "$WIN"
			if [ "$kind" = fail_page_alloc ]; then
				# The window stays open for two attach cycles.
				for c in 1 2; do
					r=$(xvdc_cycle)
					info "$kind: xvdc attach $c in the window: $r"
					case $r in
					*stuck* | *"not detached"*)
						fail "$kind: xvdc attach $c connected or failed cleanly ($r)" ;;
					esac
				done
			fi
		else
			fail "$kind: fault injected"
		fi
		check "$kind: fault removed" fault_off "$kind"
		case $kind in
		fail_make_request|failslab|fail_page_alloc)
			n=$(fired "$kind")
			if [ "$n" -gt 0 ]; then
				ok "$kind: $n failures injected"
			else
				fail "$kind: failures injected (none)"
			fi ;;
		esac
		if [ "$kind" = fail_page_alloc ]; then
			r=$(xvdc_cycle)
			info "$kind: xvdc attach after the window: $r"
			expect_eq "$kind: after the window xvdc attaches, connects and detaches" \
				"$r" connected
		fi
		domu_signal $G "close$k" 1
		domu_wait_phase $G "closed$k" || break
		info "$kind: window of $(($(date +%s) - t0)) s"
	done
	domu_signal $G stop 1
fi
gone_within $G 300
guest_verdict $G
# shellcheck disable=SC2016 # expanded by the inner bash
check "pvblk debugfs devices gone" bash -c '[ -z "$(ls /sys/kernel/debug/pvblk 2>/dev/null)" ]'
check "rmmod pvblk after the fault windows" timeout 60 rmmod pvblk
check "dmsetup remove fx" dmsetup remove fx
check "dmsetup remove fy" dmsetup remove fy
