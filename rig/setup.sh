#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install everything pvblk's build, tests and benchmark need from Debian's
# archive, and unpack the linux-source tree matching the target kernel.
# Idempotent: a second run only checks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=rig/versions.sh
. "$here/versions.sh"

log() { echo "[setup] $*"; }

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return
	log "apt-get update"
	$SUDO apt-get update -qq
	apt_updated=1
}

# The kernel ABI comes from the linux-source package version (see versions.sh).
if [ -z "$(pvblk_ksrc_debver)" ]; then
	apt_update
fi
KVER=$(pvblk_kver)
deb=$(pvblk_ksrc_debver)
if [ -z "$deb" ]; then
	echo "setup: Debian has no linux-source-$PVBLK_KSERIES package (apt-cache policy is empty)." >&2
	echo "setup: enable bookworm-updates/security in /etc/apt/sources.list and retry." >&2
	exit 1
fi
[ "$KVER" = "$PVBLK_KVER_VERIFIED" ] ||
	log "note: archive has linux-source $deb -> $KVER (last verified: $PVBLK_KVER_VERIFIED)"

image=$(pvblk_image_pkg "$KVER")
[ "$image" = "linux-image-$KVER" ] ||
	log "note: linux-image-$KVER is not in the archive yet: using $image (the same kernel, unsigned)"
pkgs=(
	"linux-source-$PVBLK_KSERIES=$deb" "$image" "linux-headers-$KVER"
	build-essential bc bison flex libelf-dev libssl-dev dwarves cpio kmod
	zstd xz-utils rsync python3 ccache sparse coccinelle
	qemu-system-x86 qemu-utils qemu-block-extra busybox-static fio libaio-dev
	e2fsprogs util-linux jq gnuplot-nox dpkg-dev shellcheck dkms libvirt-clients
	libvirt-daemon libvirt-daemon-driver-qemu
	nbd-server nbd-client iproute2 lcov
	"xen-hypervisor-$PVBLK_XEN_SERIES-amd64" "xen-utils-$PVBLK_XEN_SERIES"
)
missing=()
for p in "${pkgs[@]}"; do
	# name=version: installed at that version.
	want=
	[ "${p#*=}" = "$p" ] || want=" ${p#*=}"
	dpkg-query -W -f '${Status} ${Version}\n' "${p%%=*}" 2>/dev/null |
		grep -qx "install ok installed [^ ]*" || { missing+=("$p"); continue; }
	[ -z "$want" ] || dpkg-query -W -f ' ${Version}\n' "${p%%=*}" | grep -qxF -- "$want" ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt_update
	log "installing: ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null; then
		echo "setup: apt-get install failed for: ${missing[*]}" >&2
		echo "setup: the kernel pin is $KVER (from linux-source $deb); if $image or" >&2
		echo "setup: linux-headers-$KVER is not in the archive, the archive moved on: run" >&2
		echo "setup: 'apt-get update' and retry, or set PVBLK_KVER to an installed ABI." >&2
		exit 1
	fi
fi

# Every piece must be the same kernel version.
upstream=$(pvblk_upstream_of "$deb")
[ -d "/usr/src/linux-headers-$KVER" ] || {
	echo "setup: /usr/src/linux-headers-$KVER missing: apt-get install linux-headers-$KVER" >&2
	exit 1
}
[ -f "/boot/vmlinuz-$KVER" ] || {
	echo "setup: /boot/vmlinuz-$KVER missing: apt-get install $image" >&2
	exit 1
}

ksrc=$(pvblk_ksrc_dir)
if [ ! -f "$ksrc/Makefile" ]; then
	log "unpacking linux-source $upstream into $ksrc"
	mkdir -p "$PVBLK_CACHE"
	tmp=$(mktemp -d "$PVBLK_CACHE/unpack.XXXXXX")
	tar -C "$tmp" -xf "/usr/src/linux-source-$PVBLK_KSERIES.tar.xz"
	mv "$tmp/linux-source-$PVBLK_KSERIES" "$ksrc"
	rmdir "$tmp"
fi
srcver=$(make -s -C "$ksrc" kernelversion 2>/dev/null)
if [ "$srcver" != "$upstream" ]; then
	echo "setup: $ksrc is Linux $srcver but the image is $KVER ($upstream):" >&2
	echo "setup: remove $ksrc and re-run (apt-get install --reinstall linux-source-$PVBLK_KSERIES)." >&2
	exit 1
fi
log "kernel $KVER, source $ksrc, cache $PVBLK_CACHE: ready"
