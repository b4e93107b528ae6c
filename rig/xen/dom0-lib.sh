# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Helpers for tests/xen scenarios, sourced in dom0 before /scenario/main.sh.
#
# Results: ok, fail, skip, info, check, check_fail, expect_eq from
# /rig/tap.sh (rig/tap.sh); step prints progress.  Every ok / not ok line
# goes to the console (the host judges them) and to /run/pvblk-results
# (dom0's /init gives its verdict from that file).
#
# A scenario starts PV guests with domu_start NAME DOMU_SCRIPT DISK...; the
# guest's /init (rig/xen/domu-init.sh) sources DOMU_SCRIPT (a file from the
# scenario's directory).  Guest and dom0 talk through the guest's xenstore
# directory /local/domain/<domid>/data: the guest announces phases with
# `phase NAME` (data/phase), dom0 waits with domu_wait_phase and answers
# with domu_signal NAME KEY VALUE (the guest waits with `wait_key KEY`).
# A guest publishes a results file with `result NAME FILE`; the host
# copies it to <logdir>/results/<guest>/NAME.

: "${PVBLK_RESULTS:=/run/pvblk-results}"
TAP_RESULTS=$PVBLK_RESULTS
: "${TAP_NAME:=${PVBLK_SCENARIO:-scenario}}"
# shellcheck source=rig/tap.sh
. /rig/tap.sh
KVER=$(uname -r)

# --- block devices in dom0 --------------------------------------------------
# mk_brd SIZE_MB: one ramdisk, /dev/ram0.
mk_brd() { modprobe brd rd_nr=1 rd_size=$(( $1 * 1024 )) max_part=0; }
# mk_nullb SIZE_GB: one memory-backed null_blk, /dev/nullb0 (keeps data).
mk_nullb() { modprobe null_blk nr_devices=1 gb="$1" memory_backed=1 queue_mode=2; }
# mk_loopfile SIZE_MB: a file in tmpfs attached to a loop device; prints it.
mk_loopfile() {
	modprobe loop || return 1
	mkdir -p /srv
	truncate -s "$1"M /srv/disk.img
	losetup -f --show /srv/disk.img
}

# --- which driver serves "vbd" ------------------------------------------------
# Keep the stock backend out, exactly as on a normal dom0.
blkback_blacklist() {
	printf 'blacklist xen_blkback\ninstall xen_blkback /bin/false\n' \
		> /etc/modprobe.d/pvblk-xen.conf
}
module_loaded() { [ -d "/sys/module/$1" ]; }
pvblk_present() { [ -f "/lib/modules/$KVER/extra/pvblk.ko" ]; }

# backend_unload: rmmod every vbd backend module that is loaded.
backend_unload() {
	local m

	for m in pvblk xen_blkback; do
		module_loaded "$m" || continue
		rmmod "$m" 2>/dev/null || { sleep 1; rmmod "$m"; } || fail "rmmod $m"
	done
}

# backend_use PATH: only the backend of a benchmark path loaded, with
# persistent grants off for a PATH ending in "nopgnt": pvblk-* (pvblk's
# xen_persistent), pvblk-alt-* (/scenario/pvblk-alt.ko, another build of
# pvblk) or blkback-* (xen-blkback's feature_persistent).
backend_use() {
	local pg=1

	backend_unload
	case $1 in *nopgnt) pg=0 ;; esac
	case $1 in
	pvblk-alt-*) modprobe vhost && insmod /scenario/pvblk-alt.ko xen_persistent=$pg ;;
	pvblk-*) modprobe pvblk xen_persistent=$pg ;;
	blkback-*) modprobe xen-blkback feature_persistent=$pg ;;
	esac
}

# --- guests -------------------------------------------------------------------
# domu_start NAME DOMU_SCRIPT DISK...: build NAME's initramfs (base + the
# scenario's guest script + DOMU_* variables of the caller's environment),
# write its xl config and `xl create` it.  DISK is an xl disk spec such as
# phy:/dev/ram0,xvdb,w.  DOMU_FILES names files of /scenario that go into
# the guest's / too; DOMU_BLKFRONT=0 keeps xen-blkfront out of the guest.
domu_start() {
	local name=$1 script=$2 d disks="" extra=/tmp/domu-$1
	shift 2
	rm -rf "$extra"
	mkdir -p "$extra"
	cp "/scenario/$script" "$extra/domu.sh"
	cp /rig/domu-init.sh "$extra/init"
	cp /rig/tap.sh "$extra/tap.sh"
	env | grep '^DOMU_' | sed "s/'/'\\\\''/g; s/=\(.*\)/='\1'/; s/^/export /" \
		> "$extra/domu.env" || true
	# DOMU_FILES: more files of /scenario for the guest's / (e.g. a module).
	for d in ${DOMU_FILES:-}; do
		cp "/scenario/$d" "$extra/" || echo "# domu_start: no /scenario/$d"
	done
	(cd "$extra" && { printf 'init\ntap.sh\ndomu.sh\ndomu.env\n'
		for d in ${DOMU_FILES:-}; do [ -f "$d" ] && echo "$d"; done; } |
		cpio -o -H newc 2>/dev/null) > "/tmp/$name.extra.cpio"
	cat "/tmp/$name.extra.cpio" /domu/initrd.base > "/tmp/$name.initrd"
	for d in "$@"; do
		disks="$disks${disks:+, }'$d'"
	done
	cat > "/tmp/$name.cfg" <<CFG
name = "$name"
type = "pv"
kernel = "/domu/vmlinuz"
ramdisk = "/tmp/$name.initrd"
extra = "console=hvc0 rdinit=/init ${DOMU_CMDLINE:-}"
memory = ${DOMU_MEMORY:-512}
vcpus = ${DOMU_VCPUS:-2}
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "destroy"
disk = [ $disks ]
CFG
	step "xl create $name ($*)"
	# Follow the guest's console live (lines "~guest-NAME~ ..."), so a run
	# killed at the timeout still shows what the guest did; the complete
	# log is dumped again at the end for the judge.
	touch "/var/log/xen/console/guest-$name.log"
	tail -n +1 -F "/var/log/xen/console/guest-$name.log" 2>/dev/null |
		sed -u "s/\r\$//; s/^/~guest-$name~ /" &
	xl_retry "xl create $name" xl create "/tmp/$name.cfg"
}

# xl_retry DESC CMD...: run an xl command that adds devices (create,
# block-attach) up to XL_TRIES times (default 3).  libxl kills a block
# hotplug script that has not finished after a timeout compiled into
# libxl (LIBXL_HOTPLUG_TIMEOUT, no knob), and on a busy host (load >= 3)
# the scripts of a guest's disks, which run one after another under the
# script's lock, did not finish in time: `xl create` failed and left no
# domain.  A failed attempt is reported (# lines) and its leftovers
# removed before the next one; only the last failure counts.  A failed
# block-attach leaves its device in xenstore ("device already exists in
# xenstore" at every later attempt, CI of 2026-12-07): it is detached
# with --force first.
xl_retry() {
	local desc=$1 n=1 tries=${XL_TRIES:-3}
	shift
	until "$@"; do
		if [ $n -ge "$tries" ]; then
			info "$desc: failed $n times"
			return 1
		fi
		info "$desc: attempt $n failed (load: $(cut -d' ' -f1-3 /proc/loadavg)); again in 5 s"
		case "$1 $2" in
		# A create that failed may leave its domain behind, dying.
		"xl create") xl destroy "$(sed -n 's/^name = "\(.*\)"$/\1/p' "$3")" 2>/dev/null ;;
		"xl block-attach") xl_attach_undo "$3" "$4" ;;
		esac
		sleep 5
		n=$((n + 1))
	done
	[ $n = 1 ] || info "$desc: succeeded at attempt $n"
}

# xl_attach_undo NAME SPEC: remove what a failed `xl block-attach NAME
# SPEC` left in xenstore (the vdev of "vdev=xvdd,..." or "phy:/dev/x,xvdd,w").
xl_attach_undo() {
	local vdev

	case $2 in
	*vdev=*) vdev=${2#*vdev=} ;;
	*) vdev=${2#*,} ;;
	esac
	timeout 60 xl block-detach --force "$1" "${vdev%%,*}" 2>/dev/null
}

# block_attach NAME DISK...: hot-plug each xl disk spec into guest NAME,
# one at a time, each retried (xl_retry): one hotplug script at a time
# never waits behind the others' lock.
block_attach() {
	local name=$1 d
	shift
	for d in "$@"; do
		step "xl block-attach $name $d"
		xl_retry "xl block-attach $name $d" xl block-attach "$name" "$d" || return 1
	done
}

domid_of() { xl domid "$1" 2>/dev/null; }

# domu_gone NAME: true once NAME and every dying "(null)" domain are gone
# (a destroyed domain stays "(null)" while the backend still maps grants).
domu_gone() {
	! xl list 2>/dev/null | awk 'NR > 1 { print $1 }' | grep -qx -e "$1" -e '(null)'
}

# guest_broken NAME: true (and NAME destroyed, with a "not ok") once the
# guest's console shows blkfront rejecting the backend's responses - the
# guest's I/O would then hang and the run would only end at the timeout.
BLKFRONT_ERR_RE='response has wrong operation|disabled for further use|Bad return from blkdev|backend has not unmapped grant'
guest_broken() {
	local f=/var/log/xen/console/guest-$1.log
	grep -qE "$BLKFRONT_ERR_RE" "$f" 2>/dev/null || return 1
	[ -e "/run/broken-$1" ] && return 0
	touch "/run/broken-$1"
	fail "$1: blkfront reports a backend protocol error; destroying $1"
	grep -E "$BLKFRONT_ERR_RE" "$f" | head -n 5 | sed 's/^/#   /'
	xl destroy "$1" 2>&1 | sed 's/^/#   /'
	return 0
}

# domu_wait NAME: wait until NAME has ended and is completely gone.
domu_wait() {
	local n=0
	step "waiting for $1 to end"
	while ! domu_gone "$1"; do
		guest_broken "$1" || true
		sleep 1
		n=$((n + 1))
		[ $((n % 30)) = 0 ] && xl list | sed 's/^/#   /'
	done
	step "$1 is gone"
}

# gone_within NAME SECONDS: once NAME has ended, every trace of it (a
# "(null)" domain whose grants the backend still maps) must go within
# SECONDS; a leak fails the check instead of hanging the run.
gone_within() {
	local n=0
	step "waiting for $1 to end"
	while domid_of "$1" > /dev/null; do
		sleep 2
	done
	while ! domu_gone "$1" && [ $n -lt "$2" ]; do
		sleep 1
		n=$((n + 1))
	done
	if domu_gone "$1"; then
		ok "$1 gone after it ended, no '(null)' domain left (every grant released)"
	else
		fail "$1 gone after it ended, no '(null)' domain left (every grant released)"
		xl list | sed 's/^/#   /'
	fi
}

# domu_wait_phase NAME PHASE: wait until the guest announced PHASE; fails
# if the guest ends first.
domu_wait_phase() {
	local id p
	step "waiting for $1 to reach phase $2"
	while :; do
		id=$(domid_of "$1") || { fail "$1 ended before phase $2"; return 1; }
		p=$(xenstore-read "/local/domain/$id/data/phase" 2>/dev/null || true)
		case " $p " in *" $2 "*) return 0 ;; esac
		guest_broken "$1" && return 1
		sleep 0.5
	done
}

# domu_signal NAME KEY VALUE: write data/KEY for the guest (`wait_key KEY`).
domu_signal() {
	local id
	id=$(domid_of "$1") || return 1
	xenstore-write "/local/domain/$id/data/$2" "$3"
}

# vbd_devid XVD: xenstore device id of a PV disk name (xvdb -> 51728).
vbd_devid() {
	local l=${1#xvd}
	echo $(( (202 << 8) | (($(printf '%d' "'$l") - 97) << 4) ))
}
# xs_be NAME XVD KEY / xs_fe NAME XVD KEY: backend / frontend vbd keys.
xs_be() { xenstore-read "/local/domain/0/backend/vbd/$(domid_of "$1")/$(vbd_devid "$2")/$3"; }
xs_fe() { xenstore-read "/local/domain/$(domid_of "$1")/device/vbd/$(vbd_devid "$2")/$3"; }

# vbd_wait_connected NAME XVD: wait for both ends of a vbd in state 4.
vbd_wait_connected() {
	local b f n=0
	step "waiting for $1 $2 to connect"
	while :; do
		# A progress line now and then, so a hung run shows where it hung.
		n=$((n + 1))
		[ $((n % 60)) = 0 ] && echo "# $1 $2 still not connected: backend state '$b', frontend state '$f'"
		domid_of "$1" > /dev/null || { fail "$1 ended before $2 connected"; return 1; }
		b=$(xs_be "$1" "$2" state 2>/dev/null || true)
		f=$(xs_fe "$1" "$2" state 2>/dev/null || true)
		[ "$b" = 4 ] && [ "$f" = 4 ] && return 0
		guest_broken "$1" && return 1
		sleep 0.5
	done
}

# dump_vbd NAME XVD: both xenstore directories of a vbd into the log.
dump_vbd() {
	local id dev
	id=$(domid_of "$1") || return 0
	dev=$(vbd_devid "$2")
	echo "# xenstore backend/vbd/$id/$dev:"
	xenstore-ls -f "/local/domain/0/backend/vbd/$id/$dev" 2>&1 | sed 's/^/#   /'
	echo "# xenstore frontend device/vbd/$dev:"
	xenstore-ls -f "/local/domain/$id/device/vbd/$dev" 2>&1 | sed 's/^/#   /'
}

# dump_guest_logs: every guest console log, each line prefixed by
# "[guest-NAME] " (the host extracts results and judges these lines).
dump_guest_logs() {
	local f g
	for f in /var/log/xen/console/guest-*.log; do
		[ -e "$f" ] || continue
		g=$(basename "$f" .log)
		echo "==== $g console begin ===="
		tr -d '\r' < "$f" | sed "s/^/[$g] /"
		echo "==== $g console end ===="
	done
}

# guest_verdict NAME: ok when the guest's console shows its PASS verdict.
guest_verdict() {
	local f=/var/log/xen/console/guest-$1.log
	if grep -q 'DOMU-VERDICT: PASS' "$f" 2>/dev/null; then
		ok "$1: guest verdict PASS"
	else
		fail "$1: guest verdict PASS"
	fi
}

# --- debug dom0: kernel reports and kmemleak ---------------------------------
# Report lines dom0's /init repeats from dmesg as "PVBLK-DMESG: ..." (the
# host judges the whole console with its own, wider list in rig/xen-run.sh).
# shellcheck disable=SC2034 # used by dom0's /init
DOM0_REPORT_RE='Oops|BUG:|WARNING:|KASAN|UBSAN|circular locking|recursive locking|lock held|lock freed|unlock balance|inconsistent lock|INFO: task|general protection|Call Trace|Kernel panic|DEBUG_LOCKS_WARN_ON'

# Leaks kmemleak reports that are not pvblk's and are known: a record (the
# "unreferenced object" line and its backtrace, joined by " | ") matching
# one of these EREs is shown as "allow-listed" and not counted.  Each entry
# says why it is not a leak of pvblk.  None so far.
KMEMLEAK_ALLOW=()

# dom0_kmemleak: scan twice (an object referenced again by the second scan
# is not reported), print every record; ok when none is left after the
# allow-list, else one "not ok" (the records' "unreferenced object" lines
# also fail the run on the host).
dom0_kmemleak() {
	local kml=/sys/kernel/debug/kmemleak allow="" re n
	for re in "${KMEMLEAK_ALLOW[@]}"; do
		allow="$allow${allow:+|}$re"
	done
	step "kmemleak: scanning dom0 after the scenario"
	# kmemleak reports only objects older than 5 s.
	sleep 6
	echo scan > $kml
	sleep 2
	echo scan > $kml
	cat $kml > /run/kmemleak.txt
	awk -v allow="$allow" -v count=/run/kmemleak.count '
		function flush() {
			if (rec == "")
				return
			if (allow != "" && rec ~ allow) {
				sub(/unreferenced object/, "allow-listed object", first)
				print "# kmemleak (allow-listed, not pvblk): " first
			} else {
				printf "%s", body
				bad++
			}
			rec = ""
			body = ""
		}
		/^unreferenced object/ { flush(); first = $0 }
		{ rec = rec " | " $0; body = body $0 "\n" }
		END { flush(); print bad + 0 > count }' /run/kmemleak.txt
	n=$(cat /run/kmemleak.count)
	if [ "$n" = 0 ]; then
		ok "dom0 kmemleak: no leak after the scenario"
	else
		fail "dom0 kmemleak: $n unreferenced objects after the scenario (see above)"
	fi
}
