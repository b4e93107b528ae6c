# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The one place that names the kernel pvblk targets.  Sourced by the
# Makefile helpers and every rig script (bash).
#
# Debian's archive carries one linux-source-6.12 version at a time, so the
# image/headers ABI is derived from the source package's version
# (6.12.117-1~deb12u1 -> 6.12.117+deb12-amd64) unless PVBLK_KVER is set.
PVBLK_KSERIES=6.12
# The version this tree was last verified with (informational; the derived
# one wins, a difference is reported by rig/setup.sh).
PVBLK_KVER_VERIFIED=6.12.117+deb12-amd64
PVBLK_CACHE=${PVBLK_CACHE:-$HOME/.cache/pvblk}
# shellcheck disable=SC2034 # used by the scripts that source this file
PVBLK_XEN_SERIES=4.17

# Debian version of linux-source-$PVBLK_KSERIES: installed, else candidate.
pvblk_ksrc_debver() {
	local v
	v=$(dpkg-query -W -f '${Status} ${Version}\n' "linux-source-$PVBLK_KSERIES" 2>/dev/null |
		awk '/install ok installed/ {print $4}')
	if [ -z "$v" ]; then
		v=$(apt-cache policy "linux-source-$PVBLK_KSERIES" 2>/dev/null |
			awk '/Candidate:/ {print $2}')
		[ "$v" = "(none)" ] && v=
	fi
	echo "$v"
}

# 6.12.117-1~deb12u1 -> 6.12.117
pvblk_upstream_of() {
	echo "${1%%-*}"
}

# The kernel ABI (uname -r) of the image and headers matching the source.
pvblk_kver() {
	if [ -n "${PVBLK_KVER:-}" ]; then
		echo "$PVBLK_KVER"
		return
	fi
	local deb
	deb=$(pvblk_ksrc_debver)
	if [ -z "$deb" ]; then
		echo "$PVBLK_KVER_VERIFIED"
		return
	fi
	echo "$(pvblk_upstream_of "$deb")+deb12-amd64"
}

# Where the matching linux-source tree is unpacked.
pvblk_ksrc_dir() {
	local deb
	deb=$(pvblk_ksrc_debver)
	echo "$PVBLK_CACHE/linux-source-$(pvblk_upstream_of "${deb:-${PVBLK_KVER_VERIFIED%%+*}}")"
}
