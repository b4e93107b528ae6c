# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/hostile.sh, guest "hx" (no xen-blkfront):
# loads xen_hostile.ko, which binds every vbd, and runs its cases through
# /sys/kernel/debug/xen_hostile/<devid>/run; each result line of the case
# ("ok ...", "not ok ...", "# ...") becomes a TAP line here.
: "${DOMU_HOSTILE_SKIP:=}"
# Names separated by commas or spaces (PVBLK_XEN_ENV values have no spaces).
DOMU_HOSTILE_SKIP=$(echo "$DOMU_HOSTILE_SKIP" | tr ',' ' ')
mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null
D=/sys/kernel/debug/xen_hostile
check "insmod xen_hostile.ko" insmod /xen_hostile.ko

# devid of a disk name (xvdb -> 51728).
devid() {
	set -- "$(printf '%d' "'${1#xvd}")"
	echo $(( (202 << 8) | (($1 - 97) << 4) ))
}

# run_cases DISK CASE...: run each case on DISK's vbd.
run_cases() {
	disk=$1
	dir=$D/$(devid "$disk")
	shift
	for c in "$@"; do
		case " $DOMU_HOSTILE_SKIP " in
		*" $c "*) skip "$disk $c" "DOMU_HOSTILE_SKIP"; continue ;;
		esac
		echo "# [$(date +%s)] $disk: case $c"
		if ! echo "$c" > "$dir/run"; then
			fail "$disk $c: case ran"
			continue
		fi
		n=0
		while IFS= read -r line; do
			case $line in
			"ok "*) ok "$disk ${line#ok }"; n=$((n + 1)) ;;
			"not ok "*) fail "$disk ${line#not ok }"; n=$((n + 1)) ;;
			*) echo "$line" ;;
			esac
		done < "$dir/result"
		[ "$n" -gt 0 ] || fail "$disk $c: case reported a result"
	done
}

# dom0 hot-plugs xvdc and xvdd after the boot (tests/xen/hostile.sh).
expect_eq "dom0 attached xvdc and xvdd" "$(wait_key disks)" ok
for x in xvdb xvdc xvdd; do
	i=0
	while [ ! -d "$D/$(devid $x)" ] && [ $i -lt 100 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	check "$x: bound by xen_hostile" [ -d "$D/$(devid $x)" ]
done

# Every case the module knows, minus those for the other disks.
rw_cases=$(grep -v -e '^ro-' -e '^swap-' "$D/$(devid xvdb)/cases")
# shellcheck disable=SC2086 # word lists
run_cases xvdb $rw_cases
run_cases xvdc good-io ro-write ro-write-indirect seg-nr0-read \
	gref-readonly-read range-write-past-end discard-ok op-flush-ok \
	close-inflight reconnect
be=$(xenstore-read "device/vbd/$(devid xvdd)/backend")
check_fail "xvdd: backend does not offer feature-discard (no-discard)" \
	xenstore-read "$be/feature-discard"
run_cases xvdd good-io discard-ok discard-past-end discard-secure-flag
dmesg | grep -iE 'xen_hostile|xen:|grant' | tail -n 20 | sed 's/^/# dmesg: /'
