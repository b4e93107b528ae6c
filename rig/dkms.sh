#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rig/dkms.sh: pvblk through DKMS as an admin installs it, for the stock
# kernel: dkms add (a copy of the source in /usr/src/pvblk-VERSION), build,
# install, status; then the stock kernel boots in QEMU with the installed
# module as its pvblk.ko and runs fio verify through it
# (tests/dkms/dkms.test); dkms remove at the end.  Building needs no
# module load on this host.  Ends with "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
# shellcheck source=rig/versions.sh
. rig/versions.sh
# shellcheck source=rig/tap.sh
. rig/tap.sh
KVER=$(pvblk_kver)
V=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

# shellcheck disable=SC2034 # read by rig/tap.sh's check
TAP_CHECK_LINES=30
command -v dkms > /dev/null || { fail "dkms installed (make setup)"; tap_totals; exit 1; }
step "dkms: pvblk/$V for $KVER"
$SUDO dkms remove "pvblk/$V" --all > /dev/null 2>&1
$SUDO rm -rf "/usr/src/pvblk-$V"
# What DKMS needs of the tree: the module's sources and the build helpers.
$SUDO mkdir -p "/usr/src/pvblk-$V/rig"
git ls-files -z --cached --others --exclude-standard Kbuild Kconfig Makefile dkms.conf pvblk |
	$SUDO rsync -a --from0 --files-from=- ./ "/usr/src/pvblk-$V/"
$SUDO cp rig/versions.sh rig/dkms-build.sh "/usr/src/pvblk-$V/rig/"

check "dkms add pvblk/$V" $SUDO dkms add "pvblk/$V"
if ! check "dkms build pvblk/$V -k $KVER" $SUDO dkms build "pvblk/$V" -k "$KVER"; then
	make_log=/var/lib/dkms/pvblk/$V/build/make.log
	[ -f "$make_log" ] && sed 's/^/#   make.log: /' "$make_log" | tail -20
fi
check "dkms install pvblk/$V -k $KVER" $SUDO dkms install "pvblk/$V" -k "$KVER"
st=$(dkms status "pvblk/$V" -k "$KVER" 2>/dev/null)
info "dkms status: $st"
check "dkms status: installed for $KVER" grep -q "installed" <<<"$st"
ko=$(find "/lib/modules/$KVER/updates/dkms" -name 'pvblk.ko*' 2>/dev/null | head -n 1)
check "module installed under /lib/modules/$KVER/updates/dkms" test -n "$ko"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
case $ko in
*.xz) xz -dc "$ko" > "$work/pvblk.ko" ;;
*.zst) zstd -qdc "$ko" > "$work/pvblk.ko" ;;
*.gz) gzip -dc "$ko" > "$work/pvblk.ko" ;;
?*) cp "$ko" "$work/pvblk.ko" ;;
esac
check "vermagic of the installed module is $KVER" \
	test "$(modinfo -F vermagic "$work/pvblk.ko" 2>/dev/null | cut -d' ' -f1)" = "$KVER"

if [ -s "$work/pvblk.ko" ]; then
	make -s -C tools all > /dev/null || fail "tools built (the fio engine)"
	out=$(PVBLK_KO=$work/pvblk.ko bash rig/vm-run.sh --no-build --kernel stock \
		tests/dkms/dkms.test 2>&1)
	tail -n 4 <<<"$out" | sed 's/^/# vm: /'
	last=$(tail -n 1 <<<"$out")
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]] &&
	   [ "${BASH_REMATCH[1]}" -gt 0 ]; then
		# The guest's asserted checks count here.
		tap_pass=$((tap_pass + BASH_REMATCH[1]))
		tap_fail=$((tap_fail + BASH_REMATCH[2]))
	else
		fail "the VM boot of the DKMS module reported its checks"
	fi
fi
check "dkms remove pvblk/$V --all" $SUDO dkms remove "pvblk/$V" --all
$SUDO rm -rf "/usr/src/pvblk-$V"
tap_totals
