# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The one place that names the kernel pvblk targets.  Sourced by the
# Makefile helpers and every rig script (bash).
#
# Debian's archive may carry only one linux-source-6.12 version at a time,
# so the image/headers ABI is derived from the source package's version
# (6.12.117-1~deb12u1 -> 6.12.117+deb12-amd64) unless PVBLK_KVER is set:
# the newest source version whose headers and image are installable.
PVBLK_KSERIES=6.12
# The version this tree was last verified with (informational; the derived
# one wins, a difference is reported by rig/setup.sh).
PVBLK_KVER_VERIFIED=6.12.118+deb12-amd64
PVBLK_CACHE=${PVBLK_CACHE:-$HOME/.cache/pvblk}
# shellcheck disable=SC2034 # used by the scripts that source this file
PVBLK_XEN_SERIES=4.17

# pvblk_installable PKG...: every PKG has an install candidate (or is
# installed).
pvblk_installable() {
	local n
	n=$(apt-cache policy "$@" 2>/dev/null |
		awk '/Candidate:/ && $2 != "(none)" {n++} END {print n + 0}')
	[ "$n" -eq $# ]
}

# pvblk_installed PKG: PKG is installed.
pvblk_installed() {
	dpkg-query -W -f '${Status}\n' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# The image package of ABI $1: the signed one, else the -unsigned build of
# the same kernel (the archive publishes the signed one later, sometimes
# days after the source, headers and unsigned image).
pvblk_image_pkg() {
	local p=linux-image-$1
	if pvblk_installed "$p"; then
		echo "$p"
	elif pvblk_installed "$p-unsigned" || ! pvblk_installable "$p"; then
		echo "$p-unsigned"
	else
		echo "$p"
	fi
}

# Debian version of linux-source-$PVBLK_KSERIES: the installed one if its
# headers are installed too, else the newest version in the archive whose
# headers and image (signed or unsigned) can be installed.
pvblk_ksrc_debver() {
	local v abi
	if [ -n "${_PVBLK_DEBVER:-}" ]; then
		echo "$_PVBLK_DEBVER"
		return
	fi
	v=$(dpkg-query -W -f '${Status} ${Version}\n' "linux-source-$PVBLK_KSERIES" 2>/dev/null |
		awk '/install ok installed/ {print $4}')
	if [ -n "$v" ] && pvblk_installed "linux-headers-$(pvblk_abi_of "$v")" &&
	   { [ -z "${PVBLK_KVER:-}" ] || [ "$(pvblk_abi_of "$v")" = "$PVBLK_KVER" ]; }; then
		_PVBLK_DEBVER=$v
		echo "$v"
		return
	fi
	for v in $(apt-cache madison "linux-source-$PVBLK_KSERIES" 2>/dev/null |
		   awk -F'|' '{gsub(/ /, "", $2); print $2}'); do
		abi=$(pvblk_abi_of "$v")
		[ -z "${PVBLK_KVER:-}" ] || [ "$abi" = "$PVBLK_KVER" ] || continue
		if pvblk_installable "linux-headers-$abi" &&
		   { pvblk_installable "linux-image-$abi" ||
		     pvblk_installable "linux-image-$abi-unsigned"; }; then
			_PVBLK_DEBVER=$v
			echo "$v"
			return
		fi
	done
}

# 6.12.117-1~deb12u1 -> 6.12.117
pvblk_upstream_of() {
	echo "${1%%-*}"
}

# 6.12.117-1~deb12u1 -> 6.12.117+deb12-amd64
pvblk_abi_of() {
	echo "$(pvblk_upstream_of "$1")+deb12-amd64"
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
	pvblk_abi_of "$deb"
}

# Where the matching linux-source tree is unpacked.
pvblk_ksrc_dir() {
	local deb
	deb=$(pvblk_ksrc_debver)
	echo "$PVBLK_CACHE/linux-source-$(pvblk_upstream_of "${deb:-${PVBLK_KVER_VERIFIED%%+*}}")"
}
