# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/hostile.sh, guest "hx" (no xen-blkfront):
# loads xen_hostile.ko, which binds every vbd, and runs its cases through
# /sys/kernel/debug/xen_hostile/<devid>/run; each result line of the case
# ("ok ...", "not ok ...", "# ...") becomes a TAP line here.
: "${DOMU_HOSTILE_SKIP:=}"
# Names separated by commas or spaces (PVBLK_XEN_ENV values have no spaces).
DOMU_HOSTILE_SKIP=$(echo "$DOMU_HOSTILE_SKIP" | tr ',' ' ')
hostile_load

# run_cases DISK CASE...: run each case on DISK's vbd.
run_cases() {
	disk=$1
	shift
	for c in "$@"; do
		case " $DOMU_HOSTILE_SKIP " in
		*" $c "*) skip "$disk $c" "DOMU_HOSTILE_SKIP"; continue ;;
		esac
		hostile_case "$disk" "$c"
	done
}

# dom0 hot-plugs xvdc and xvdd after the boot (tests/xen/hostile.sh).
expect_eq "dom0 attached xvdc and xvdd" "$(wait_key disks)" ok
for x in xvdb xvdc xvdd; do
	hostile_bound $x
done

# Every case the module knows, minus those for the other disks.
rw_cases=$(grep -v -e '^ro-' -e '^swap-' "$HOSTILE_D/$(hostile_devid xvdb)/cases")
# shellcheck disable=SC2086 # word lists
run_cases xvdb $rw_cases
run_cases xvdc good-io ro-write ro-write-indirect seg-nr0-read \
	gref-readonly-read range-write-past-end discard-ok op-flush-ok \
	close-inflight reconnect
be=$(xenstore-read "device/vbd/$(hostile_devid xvdd)/backend")
check_fail "xvdd: backend does not offer feature-discard (no-discard)" \
	xenstore-read "$be/feature-discard"
run_cases xvdd good-io discard-ok discard-past-end discard-secure-flag
dmesg | grep -iE 'xen_hostile|xen:|grant' | tail -n 20 | sed 's/^/# dmesg: /'
