# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Scenario "fuzz": the hostile blkif frontend's fuzz mode against pvblk.
#
# Guest "hz" runs without xen-blkfront: tools/xen-hostile/xen_hostile.ko
# binds its vbd (xvdb, rw on brd) and fuzz.domu.sh starts the module's
# seeded fuzzer on it (random and mutated blkif requests, req_prod lies,
# event storms, closes with requests in flight, reconnects with random
# and bogus xenstore values; valid writes and read-backs in between,
# compared).  dom0 must stay healthy: any kernel report in its log fails
# the run (rig/xen-run.sh), and pvblk must unload cleanly at the end.
#
# make check runs a short slice with a fixed seed; make fuzz-xen the long
# run.  Parameters (PVBLK_XEN_ENV words, reaching the guest):
#   DOMU_FUZZ_SEED     seed (default 20261203)
#   DOMU_FUZZ_SECONDS  how long to fuzz (default 75)
#   DOMU_FUZZ_FROM     first round (default 0)
#   DOMU_FUZZ_ROUNDS   stop after this many rounds (default 0: by time)
set -uo pipefail
H=hz
: "${DOMU_FUZZ_SEED:=20261203}"
: "${DOMU_FUZZ_SECONDS:=75}"
: "${DOMU_FUZZ_FROM:=0}"
: "${DOMU_FUZZ_ROUNDS:=0}"
export DOMU_FUZZ_SEED DOMU_FUZZ_SECONDS DOMU_FUZZ_FROM DOMU_FUZZ_ROUNDS

step "fuzz: pvblk only; brd for $H; seed $DOMU_FUZZ_SEED, $DOMU_FUZZ_SECONDS s"
info "fuzz seed $DOMU_FUZZ_SEED, $DOMU_FUZZ_SECONDS s, from round $DOMU_FUZZ_FROM, rounds $DOMU_FUZZ_ROUNDS"
blkback_blacklist
check "modprobe pvblk" modprobe pvblk
check "brd: 64 MiB" mk_brd 64
[ -f /scenario/xen_hostile.ko ] || fail "xen_hostile.ko shipped (make -C tools/xen-hostile)"

DOMU_BLKFRONT=0 DOMU_FILES=xen_hostile.ko DOMU_MEMORY=384 \
	domu_start $H fuzz.domu.sh 'phy:/dev/ram0,xvdb,w' || fail "xl create $H"
if domu_wait_phase $H fuzzed; then
	id=$(domid_of $H) || true
	for s in /sys/kernel/debug/pvblk/xen-"$id"-*/stats; do
		[ -f "$s" ] || continue
		grep -E '^[a-z_]*(reqs|errors|queues|drains|batches) ' "$s" | sed "s/^/# $H stats: /"
	done
	domu_signal $H go 1
fi
gone_within $H 120
guest_verdict $H
dmesg | grep -E 'pvblk' | tail -n 40 | sed 's/^/# dom0 dmesg: /'
left=$(xenstore-ls /local/domain/0/backend/vbd 2>/dev/null | grep -c . || true)
expect_eq "backend/vbd entries left in xenstore" "$left" 0
check "rmmod pvblk after the fuzz guest" rmmod pvblk
