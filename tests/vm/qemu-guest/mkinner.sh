#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the inner guest of tests/vm/qemu-vhost-user.test: the stock kernel
# image and an uncompressed initramfs with busybox-static, fio, mke2fs,
# e2fsck (and their libraries), virtio_blk.ko and tests/vm/qemu-guest/init.
# Cached in $PVBLK_CACHE/qemu-guest/ keyed by every input; installed in
# tools/build/qemu-guest/{vmlinuz,inner.cpio} (gitignored), which the test
# names in its "# vm-files:" header.  Prints the output directory.
#
# Usage: tests/vm/qemu-guest/mkinner.sh [--kver KVER] [--out DIR]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
PVBLK_CACHE=${PVBLK_CACHE:-$HOME/.cache/pvblk}
out=$repo/tools/build/qemu-guest
kver=

while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '3,12p' "$0"; exit 0 ;;
	*) echo "mkinner.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$kver" ]; then
	# shellcheck source=/dev/null
	. "$repo/rig/versions.sh"
	kver=$(pvblk_kver)
fi

die() { echo "mkinner.sh: $*" >&2; exit 1; }

kimg=/boot/vmlinuz-$kver
moddir=/lib/modules/$kver
[ -f "$kimg" ] || die "no $kimg (apt-get install linux-image-$kver)"
[ -d "$moddir" ] || die "no $moddir"
busybox=$(command -v busybox) || die "busybox-static is not installed"
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not static"
bins=()
for b in fio mke2fs e2fsck; do
	p=$(PATH=$PATH:/usr/sbin:/sbin command -v $b) || die "$b is not installed"
	bins+=("$(readlink -f "$p")")
done
vblk=$(modprobe -S "$kver" --show-depends virtio_blk | awk '$1 == "insmod" {print $2}')
[ -n "$vblk" ] || echo "mkinner.sh: virtio_blk is built in" >&2

key=$( {
	sha256sum "$0" "$here/init"
	echo "$kver"
	# shellcheck disable=SC2086 # $vblk: the module paths, none when built in
	stat -L -c '%n %s %Y' "$kimg" "$busybox" "${bins[@]}" $vblk
	for b in "${bins[@]}"; do ldd "$b"; done
} | sha256sum | cut -c1-16)
cache=$PVBLK_CACHE/qemu-guest
cpio=$cache/inner-$kver-$key.cpio
mkdir -p "$cache"

if [ ! -s "$cpio" ]; then
	root=$(mktemp -d "$cache/stage.XXXXXX")
	trap 'rm -rf "$root"' EXIT
	mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{dev,proc,sys,tmp,run,etc,mnt}
	ln -s usr/bin "$root/bin"
	ln -s usr/sbin "$root/sbin"
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"
	cp -L "$busybox" "$root/usr/bin/busybox"
	copy() {
		[ -e "$root$1" ] && return 0
		mkdir -p "$root$(dirname "$1")"
		cp -L "$1" "$root$1"
	}
	for b in "${bins[@]}"; do
		copy "$b"
		ldd "$b" | awk '/=> \// {print $3} /^[[:space:]]*\// {print $1}' |
			while read -r lib; do copy "$lib"; done
	done
	ln -sf mke2fs "$root/usr/sbin/mkfs.ext4"
	ln -sf e2fsck "$root/usr/sbin/fsck.ext4"
	[ -f /etc/mke2fs.conf ] && copy /etc/mke2fs.conf
	for a in $("$busybox" --list); do
		[ -e "$root/usr/bin/$a" ] || [ -e "$root/usr/sbin/$a" ] ||
			ln -s busybox "$root/usr/bin/$a"
	done
	mkdir -p "$root/modules"
	for m in $vblk; do
		dst=$(basename "$m")
		dst=${dst%.xz}
		dst=${dst%.zst}
		dst=${dst%.gz}
		case $m in
		*.xz) xz -dc "$m" > "$root/modules/$dst" ;;
		*.zst) zstd -qdc "$m" > "$root/modules/$dst" ;;
		*.gz) gzip -dc "$m" > "$root/modules/$dst" ;;
		*) cp "$m" "$root/modules/$dst" ;;
		esac
		echo "/modules/$dst" >> "$root/modules/order"
	done
	install -m 0755 "$here/init" "$root/init"
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc --quiet -R 0:0) > "$cpio.tmp"
	mv "$cpio.tmp" "$cpio"
	# Old builds of this kernel are superseded.
	find "$cache" -maxdepth 1 -name "inner-$kver-*.cpio" ! -name "$(basename "$cpio")" -delete
fi

mkdir -p "$out"
cp "$kimg" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
ln -f "$cpio" "$out/inner.cpio" 2>/dev/null || cp "$cpio" "$out/inner.cpio"
chmod a-x "$out/vmlinuz" "$out/inner.cpio"
echo "$out"
