# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/fuzz.sh, guest "hz" (no xen-blkfront): loads
# xen_hostile.ko, which binds the vbd, and runs its fuzz mode on xvdb by
# writing "SEED SECONDS FROM ROUNDS" to
# /sys/kernel/debug/xen_hostile/<devid>/fuzz (the write returns when the
# run is over); each result line ("ok ...", "not ok ...", "# ...") becomes
# a TAP line here.  A failure names its seed and round and how to replay
# it.
: "${DOMU_FUZZ_SEED:=20261203}"
: "${DOMU_FUZZ_SECONDS:=75}"
: "${DOMU_FUZZ_FROM:=0}"
: "${DOMU_FUZZ_ROUNDS:=0}"
hostile_load
hostile_bound xvdb
dir=$HOSTILE_D/$(hostile_devid xvdb)

echo "# [$(date +%s)] fuzz: seed $DOMU_FUZZ_SEED, $DOMU_FUZZ_SECONDS s, from round $DOMU_FUZZ_FROM, rounds $DOMU_FUZZ_ROUNDS"
t0=$(date +%s)
if echo "$DOMU_FUZZ_SEED $DOMU_FUZZ_SECONDS $DOMU_FUZZ_FROM $DOMU_FUZZ_ROUNDS" > "$dir/fuzz"; then
	ok "fuzz run ended ($(( $(date +%s) - t0 )) s)"
else
	fail "fuzz run ended" "writing $dir/fuzz failed"
fi
n=0
bad=0
while IFS= read -r line; do
	case $line in
	"ok "*) ok "xvdb ${line#ok }"; n=$((n + 1)) ;;
	"not ok "*) fail "xvdb ${line#not ok }"; n=$((n + 1)); bad=$((bad + 1)) ;;
	*) echo "$line" ;;
	esac
done < "$dir/result"
[ "$n" -gt 0 ] || fail "fuzz reported a result"
if [ "$bad" -gt 0 ]; then
	echo "# replay the whole run: make fuzz-xen FUZZ_SEED=$DOMU_FUZZ_SEED FUZZ_SECONDS=$DOMU_FUZZ_SECONDS"
	echo "# replay one round N: make fuzz-xen FUZZ_SEED=$DOMU_FUZZ_SEED FUZZ_FROM=N FUZZ_ROUNDS=1"
fi
phase fuzzed
wait_key go > /dev/null
