# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script of guest "rm" in tests/xen/nbd.sh (busybox sh, sourced by
# rig/xen/domu-init.sh): the remote side of a vbd goes away under I/O.
#   xvdc: /dev/nvme?n1 in dom0 (NVMe/TCP, fast_io_fail_tmo=2); dom0
#         unlinks the nvmet subsystem from its port for a while, then links
#         it again and the controller reconnects.
#   xvdb: /dev/nbd0 in dom0; dom0 kills nbd-server for good.
# The guest's tool is a shell loop (what pvblk-stamp does on KVM): a region
# of STAMP_N blocks of 4 KiB, STAMP_W writer loops, each owning the blocks
# i % STAMP_W == k; every write (dd oflag=direct) stamps a whole block with
# its number and a sequence number unique for the block (64 lines of 64
# bytes), and after each write the loop reads back (iflag=direct) the block
# it wrote before.  Each operation is logged with the window's epoch at its
# start and end (0 before dom0 removes the target, 1 while it is away, 2
# once dom0 saw it back) and its result.  Checked from the logs:
#   - errors only while the target was away (none that started and ended
#     in epoch 0, none that started in epoch 2), and some there;
#   - a read that succeeded returned a whole, consistent block holding its
#     last good write or one of the failed writes after it;
#   - no loop hangs: all stop within STAMP_WATCHDOG s once told to;
#   - NVMe/TCP: writes succeed again after the target is back, and the
#     whole region reads back, every block holding its last good write or
#     a failed one.
# Then fio verify on xvdc (the vbd that kept its disk) while dom0 detaches
# xvdb; then dom0 brings NBD back and attaches xvdb again: the region
# holds every block's last good write or a failed one, fio verify passes.
# Phases for dom0: nvme-ready, nvme-away-seen, nvme-done, nbd-ready,
# nbd-away-seen, nbd-done, io-done, nbd-back-done; keys from dom0:
# nvme-away, nvme-back, nbd-away, nbd-stop, nbd-back, go.
: "${STAMP_N:=256}"
: "${STAMP_W:=4}"
: "${STAMP_WATCHDOG:=90}"
S=/tmp/stamp
RPHASES=

# rphase NAME: announce NAME after all earlier phases (data/phase keeps the
# whole list, so dom0 cannot miss one the guest went past quickly).
rphase() {
	RPHASES="$RPHASES $1"
	phase "${RPHASES# }"
}

# stamp_block BLK SEQ: write block BLK's content for write SEQ to stdout:
# 64 times the same 64-byte line.
stamp_block() {
	_sb=000000$1
	_sb=${_sb#"${_sb%??????}"}
	_sq=000000$2
	_sq=${_sq#"${_sq%??????}"}
	_s="pvblk-xen-stamp blk $_sb seq $_sq .........................
"
	_s=$_s$_s
	_s=$_s$_s
	_s=$_s$_s
	_s=$_s$_s
	_s=$_s$_s
	_s=$_s$_s
	printf '%s' "$_s"
}

# epoch E: the window's epoch, replaced at once (a loop reading it while it
# changes must see the old or the new value, never an empty file).
epoch() {
	echo "$1" > "$S.epoch.new" && mv "$S.epoch.new" "$S.epoch"
}

# stamp_loop DEV K: writer loop K until $S.stop exists; logs to $S.log.K
# lines "W BLK SEQ E0 E1 RC" and "R BLK SEQ E0 E1 RC" (SEQ read: -1 when
# the read failed, -2 when the block was not one consistent stamp of BLK).
stamp_loop() {
	_dev=$1
	_k=$2
	_it=0
	_prev=
	: > "$S.log.$_k"
	while [ ! -e "$S.stop" ]; do
		_it=$((_it + 1))
		_blk=$(( ((_it - 1) * STAMP_W + _k) % STAMP_N ))
		stamp_block "$_blk" "$_it" > "$S.w.$_k"
		read -r _e0 < "$S.epoch"
		if dd if="$S.w.$_k" of="$_dev" bs=4096 count=1 seek="$_blk" \
			oflag=direct conv=notrunc 2> "$S.err.$_k"; then
			_rc=0
		else
			_rc=1
			read -r _m < "$S.err.$_k"
			echo "$_m" >> "$S.errs.$_k"
		fi
		read -r _e1 < "$S.epoch"
		echo "W $_blk $_it $_e0 $_e1 $_rc" >> "$S.log.$_k"
		# Read back the block written one round before (its state is
		# known from this loop's own log).
		if [ -n "$_prev" ]; then
			read -r _e0 < "$S.epoch"
			if dd if="$_dev" of="$S.r.$_k" bs=4096 count=1 skip="$_prev" \
				iflag=direct 2> "$S.err.$_k"; then
				read -r _h < "$S.r.$_k"
				# shellcheck disable=SC2086 # the stamp's words
				set -- $_h
				_got=-2
				_b=000000$_prev
				_b=${_b#"${_b%??????}"}
				case ${3:-}/${5:-} in
				"$_b"/[0-9][0-9][0-9][0-9][0-9][0-9])
					_q=$((1$5 - 1000000))
					stamp_block "$_prev" "$_q" > "$S.e.$_k" &&
						cmp -s "$S.e.$_k" "$S.r.$_k" && _got=$_q ;;
				esac
				_rc=0
			else
				_got=-1
				_rc=1
				read -r _m < "$S.err.$_k"
				echo "$_m" >> "$S.errs.$_k"
			fi
			read -r _e1 < "$S.epoch"
			echo "R $_prev $_got $_e0 $_e1 $_rc" >> "$S.log.$_k"
		fi
		_prev=$_blk
	done
}

# stamp_prefill DEV: every block of the region stamped with SEQ 0 in one
# write, read back and compared.
stamp_prefill() {
	_i=0
	: > "$S.pre"
	while [ $_i -lt "$STAMP_N" ]; do
		stamp_block $_i 0 >> "$S.pre"
		_i=$((_i + 1))
	done
	dd if="$S.pre" of="$1" bs=4096 count="$STAMP_N" oflag=direct conv=notrunc 2>/dev/null &&
		dd if="$1" of="$S.region" bs=4096 count="$STAMP_N" iflag=direct 2>/dev/null &&
		cmp -s "$S.pre" "$S.region"
}

# stamp_start DEV: prefill, then STAMP_W loops in the background.
stamp_start() {
	rm -f "$S".*
	epoch 0
	check "$1: $STAMP_N stamped 4 KiB blocks written and read back (O_DIRECT)" \
		stamp_prefill "$1" || return 1
	_k=0
	STAMP_PIDS=
	while [ $_k -lt "$STAMP_W" ]; do
		stamp_loop "$1" $_k &
		STAMP_PIDS="$STAMP_PIDS $!"
		_k=$((_k + 1))
	done
}

# stamp_stop NAME: tell the loops to stop; ok when all did within
# STAMP_WATCHDOG s (no request hung), else the loops are left running
# and named.
stamp_stop() {
	touch "$S.stop"
	_t=0
	while [ $_t -lt $((STAMP_WATCHDOG * 2)) ]; do
		_left=
		for _p in $STAMP_PIDS; do
			kill -0 "$_p" 2>/dev/null && _left="$_left $_p"
		done
		[ -z "$_left" ] && break
		sleep 0.5
		_t=$((_t + 1))
	done
	if [ -z "$_left" ]; then
		ok "$1: no request hung: every I/O loop stopped within $STAMP_WATCHDOG s (after $((_t / 2)) s)"
		wait
	else
		fail "$1: no request hung: every I/O loop stopped within $STAMP_WATCHDOG s" \
			"still running:$_left"
		for _k in $(seq 0 $((STAMP_W - 1))); do
			tail -n 2 "$S.log.$_k" | sed "s/^/#   loop $_k: /"
		done
	fi
}

# stamp_judge NAME FINAL: the rules over the loops' logs; FINAL: the region
# read back after the window ($S.region), or "-" for none.  Sets STAMP_SUM.
stamp_judge() {
	cat "$S".log.* > "$S.all"
	[ "$2" = - ] || echo "F" >> "$S.all"
	STAMP_SUM=$(awk -v final="$2" -v n="$STAMP_N" '
		# busybox awk reads 000130 as octal: strip the zeros.
		function num(x) { sub(/^0+/, "", x); return x + 0 }
		function okstate(b, s) { return s == good[b] || index(failed[b], " " s " ") }
		($1 == "W" || $1 == "R") && NF != 6 { garbled++; next }
		$1 == "W" || $1 == "R" {
			b = $2 + 0; s = $3 + 0; e0 = $4 + 0; e1 = $5 + 0; rc = $6 + 0
			if (rc) {
				if ($1 == "W") wfail++; else rfail++
				if (e1 == 0 || e0 == 2) outside++
				if (e1 == 0 && e0 == 0) before++
			} else {
				if ($1 == "W") wok++; else rok++
				if ($1 == "W" && e0 == 2) after++
			}
			if ($1 == "W") {
				if (!(b in good)) good[b] = 0
				if (rc) failed[b] = failed[b] " " s " "
				else { good[b] = s; failed[b] = "" }
			} else if (!rc && !okstate(b, s)) {
				bad++
				if (nbad++ < 5) print "bad read: block " b " got seq " s \
					", last good " good[b] ", failed" failed[b] > "/dev/stderr"
			}
			next
		}
		$1 == "F" {
			while ((getline line < final) > 0) {
				l++
				b = int((l - 1) / 64)
				split(line, f, " ")
				if ((l - 1) % 64 == 0) { first = line; ok = 1 }
				if (line != first || num(f[3]) != b) ok = 0
				if ((l - 1) % 64 == 63) {
					s = num(f[5])
					if (!(b in good)) good[b] = 0
					if (!ok || !okstate(b, s)) {
						vbad++
						if (nvbad++ < 5) print "bad block " b ": \"" substr(first, 1, 40) \
							"\", last good " good[b] ", failed" failed[b] > "/dev/stderr"
					}
					vblk++
				}
			}
		}
		END {
			printf "wok=%d wfail=%d rok=%d rfail=%d outside=%d before=%d after=%d bad=%d", \
				wok, wfail, rok, rfail, outside, before, after, bad + garbled
			if (final != "-") printf " verify_blocks=%d verify_bad=%d", vblk, vbad
			printf "\n"
		}' "$S.all")
	info "$1: $STAMP_SUM"
}

# field NAME: NAME's value in STAMP_SUM.
field() { echo " $STAMP_SUM" | sed -n "s/.* $1=\\([0-9]*\\).*/\\1/p"; }

# region_judge NAME DEV WHEN: DEV's whole region read back ("NAME: WHENthe
# whole region reads back"), then the loops' logs judged with it
# (stamp_judge; _f: the region's file, or "-" if it did not read).
region_judge() {
	_f=-
	if dd if="$2" of="$S.region" bs=4096 count="$STAMP_N" iflag=direct 2>/dev/null; then
		ok "$1: $3the whole region reads back"
		_f=$S.region
	else
		fail "$1: $3the whole region reads back"
	fi
	stamp_judge "$1" "$_f"
}

# region_verified NAME: after region_judge, every block of the region
# holds its last good write or a failed one.
region_verified() {
	[ "$_f" = - ] ||
		expect_eq "$1: every block holds its last good write or a failed one" \
			"$(field verify_bad)/$(field verify_blocks)" "0/$STAMP_N"
}

# fio_verify LABEL JOB DEV: fio random writes with crc32c verify on 4 MiB
# of DEV past the stamped region.
fio_verify() {
	check "$1: fio randwrite 4k-64k + verify crc32c, 4M" \
		fio --name="$2" --filename="$3" --rw=randwrite --bsrange=4k-64k \
		--ioengine=libaio --iodepth=8 --direct=1 --size=4M --offset=4M \
		--verify=crc32c --verify_fatal=1 --do_verify=1
}

# stamp_errs NAME: the failed operations' messages; every one must be EIO.
stamp_errs() {
	cat "$S".errs.* > "$S.errs" 2>/dev/null
	sort "$S.errs" | uniq -c | sed 's/^/# dd: /'
	[ -s "$S.errs" ] || return 0
	expect_eq "$1: every failed operation failed with EIO (messages not 'Input/output error')" \
		"$(grep -vc 'Input/output error' "$S.errs")" 0
}

# window_open DEV KEY: the stamp loops on DEV, then through the window's
# start: dom0 takes the remote side away (KEY-away) once they run.
window_open() {
	stamp_start "$1" || return 1
	rphase "$2-ready"
	wait_key "$2-away" > /dev/null
	epoch 1
	rphase "$2-away-seen"
}

# --- NVMe/TCP: the subsystem away from its port, then back -------------
remote_nvme() {
	_d=/dev/xvdc
	window_open $_d nvme || { rphase nvme-done; return; }
	wait_key nvme-back > /dev/null
	epoch 2
	echo "# [$(date +%s)] xvdc: dom0 says the target is back"
	# Let the loops run on for a while with the target back.
	sleep 4
	stamp_stop "NVMe/TCP xvdc"
	region_judge "NVMe/TCP xvdc" $_d "after the target returned "
	expect_eq "NVMe/TCP xvdc: errors only while the target was away" "$(field outside)" 0
	if [ $(($(field wfail) + $(field rfail))) -gt 0 ]; then
		ok "NVMe/TCP xvdc: the guest saw I/O errors (EIO) while the target was away"
	else
		fail "NVMe/TCP xvdc: the guest saw I/O errors (EIO) while the target was away" \
			"none: the I/O only stalled"
	fi
	if [ "$(field after)" -gt 0 ]; then
		ok "NVMe/TCP xvdc: writes succeed again once the target is back ($(field after))"
	else
		fail "NVMe/TCP xvdc: writes succeed again once the target is back"
	fi
	expect_eq "NVMe/TCP xvdc: no read returned wrong data" "$(field bad)" 0
	region_verified "NVMe/TCP xvdc"
	stamp_errs "NVMe/TCP xvdc"
	rphase nvme-done
}

# --- NBD: nbd-server killed for good ----------------------------------
remote_nbd() {
	_d=/dev/xvdb
	window_open $_d nbd || { rphase nbd-done; return; }
	wait_key nbd-stop > /dev/null
	stamp_stop "NBD xvdb"
	stamp_judge "NBD xvdb" -
	expect_eq "NBD xvdb: no error before the server was killed" "$(field before)" 0
	if [ $(($(field wfail) + $(field rfail))) -gt 0 ]; then
		ok "NBD xvdb: the guest saw I/O errors (EIO) with the server gone"
	else
		fail "NBD xvdb: the guest saw I/O errors (EIO) with the server gone"
	fi
	expect_eq "NBD xvdb: no read returned wrong data" "$(field bad)" 0
	stamp_errs "NBD xvdb"
	rphase nbd-done
}

# --- NBD: the server back, the disk attached again ---------------------
# dom0 reconnected /dev/nbd0 to a new nbd-server and attached it as xvdb
# again (what an admin does once the storage is back): the region holds
# what the loops wrote before the server died, and the disk serves.
remote_nbd_back() {
	wait_key nbd-back > /dev/null
	wait_dev xvdb
	region_judge "NBD xvdb attached again" /dev/xvdb ""
	region_verified "NBD xvdb attached again"
	fio_verify "NBD xvdb attached again" back /dev/xvdb
	rphase nbd-back-done
}

wait_dev xvdb
wait_dev xvdc
rphase connected
remote_nvme
remote_nbd
# The other vbd keeps serving while dom0 detaches the dead one.
fio_verify "xvdc after both windows" after /dev/xvdc
rphase io-done
remote_nbd_back
wait_key go > /dev/null
