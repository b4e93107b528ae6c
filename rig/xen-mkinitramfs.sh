#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the cached base initramfs images for the Xen rig:
#   $PVBLK_CACHE/xen/<key>/dom0.cpio.zst  - dom0 toolstack, Xen + block modules,
#                                          NBD/NVMe-TCP/netem, domU kernel and
#                                          domU base initramfs
#   $PVBLK_CACHE/xen/<key>/domu.cpio.zst  - busybox, fio, e2fsprogs, xen-blkfront
# <key> hashes this script and the versions of every Debian package whose
# files go in, so a rebuild happens only when an input changed.  The /init
# scripts (rig/xen/*-init.sh) are added per run by rig/xen-run.sh.
# Prints the image directory on stdout (progress goes to stderr).
#
# rig/xen-mkinitramfs.sh --dom0-modules KVER MODROOT: an uncompressed cpio
# with dom0's modules (DOM0_MODULES below, plus dependencies) of another
# kernel, e.g. the debug kernel (MODROOT = its mod-install directory, with
# lib/modules/KVER), cached as $PVBLK_CACHE/xen/dom0-modules-KVER-<key>.cpio
# (key: this script and the modules' contents).  rig/xen-run.sh puts it in
# front of dom0.cpio.zst; prints its path.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=rig/versions.sh
. "$here/versions.sh"
KVER=$(pvblk_kver)
XENBIN=/usr/lib/xen-${PVBLK_XEN_SERIES:-4.17}/bin
say() { echo "xen-mkinitramfs: $*" >&2; }
# What dom0's /init and the scenarios load (built-in ones are skipped).
DOM0_MODULES="xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc
	brd null_blk loop dm-mod dm-flakey xen-blkback vhost vhost_iotlb"
# The debug dom0's only (Debian's kernel has no dm-dust): the fault windows
# of scenario "fault".
DEBUG_DOM0_MODULES="dm-dust"
# Network-backed disks over loopback (scenario "nbd"), on both dom0s
# (rig/debug-dom0.config has them since 2026-12-07): NBD, NVMe/TCP host
# and target, and the netem qdisc that delays / drops on lo.
NET_MODULES="nbd nvme-tcp nvmet-tcp sch_netem"

# Decompressed modules (and their dependencies) in the real tree layout:
# copy_modules ROOT KVER MODROOT MODULE... (MODROOT: where lib/modules is).
copy_modules() {
	local r=$1 kv=$2 mr=$3 m line f rel src
	shift 3
	src=${mr%/}/lib/modules/$kv
	for m in "$@"; do
		modprobe -d "$mr" -S "$kv" --show-depends "$m" | while read -r line; do
			case $line in builtin*) continue ;; esac
			f=${line#insmod }
			f=${f%% *}
			f=${f//\/\//\/}
			rel=${f#"$src"/}
			rel=${rel%.xz}
			[ -e "$r/lib/modules/$kv/$rel" ] && continue
			mkdir -p "$r/lib/modules/$kv/$(dirname "$rel")"
			case $f in
			*.xz) xz -dc "$f" > "$r/lib/modules/$kv/$rel" ;;
			*) cp "$f" "$r/lib/modules/$kv/$rel" ;;
			esac
		done
	done
	cp "$src"/modules.builtin "$src"/modules.builtin.modinfo "$src"/modules.order \
		"$r/lib/modules/$kv/"
	depmod -b "$r" "$kv"
}

if [ "${1:-}" = --dom0-modules ]; then
	[ $# = 3 ] || { echo "usage: $0 --dom0-modules KVER MODROOT" >&2; exit 2; }
	kv=$2
	mr=$(cd "$3" && pwd)
	[ -d "$mr/lib/modules/$kv" ] || { say "no $mr/lib/modules/$kv"; exit 1; }
	# Each one a module or built in: one missing is this build's fault,
	# not something for dom0's /init to find out.
	for m in $DOM0_MODULES $DEBUG_DOM0_MODULES $NET_MODULES; do
		modprobe -d "$mr" -S "$kv" --show-depends "$m" > /dev/null ||
			{ say "$kv in $mr has no module $m"; exit 1; }
	done
	# shellcheck disable=SC2086 # a list of module names
	key=$( { cat "$0"; echo "$kv"
		 modprobe -d "$mr" -S "$kv" --show-depends $DOM0_MODULES $DEBUG_DOM0_MODULES $NET_MODULES |
			awk '$1 == "insmod" { print $2 }' | sort -u | xargs -r sha256sum; } |
	       sha256sum | cut -c1-16)
	out=$PVBLK_CACHE/xen/dom0-modules-$kv-$key.cpio
	if [ -s "$out" ]; then
		say "cached: $out"
		echo "$out"
		exit 0
	fi
	work=$(mktemp -d "${TMPDIR:-/tmp}/pvblk-xen-modules.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	say "dom0 modules of $kv from $mr"
	mkdir -p "$work/usr/lib" "$PVBLK_CACHE/xen"
	ln -s usr/lib "$work/lib"
	# shellcheck disable=SC2086 # a list of module names
	copy_modules "$work" "$kv" "$mr" $DOM0_MODULES $DEBUG_DOM0_MODULES $NET_MODULES
	# Only the modules' tree: the /lib symlink is dom0.cpio.zst's.
	rm "$work/lib"
	(cd "$work" && find usr -print0 | LC_ALL=C sort -z |
		cpio --quiet -o -0 -H newc -R 0:0) > "$out.tmp"
	mv "$out.tmp" "$out"
	say "done: $out ($(du -h "$out" | cut -f1))"
	echo "$out"
	exit 0
fi

pkgs="busybox-static bash coreutils util-linux sed grep kmod fio e2fsprogs
      xen-utils-4.17 xen-utils-common xenstore-utils xen-hypervisor-4.17-amd64 libc6
      $(pvblk_image_pkg "$KVER") mawk nbd-server nbd-client iproute2"
key=$( { cat "$0"
         # shellcheck disable=SC2086
         dpkg-query -W -f '${Package} ${Version}\n' $pkgs; echo "$KVER"; } |
       sha256sum | cut -c1-16)
out="$PVBLK_CACHE/xen/$key"
if [ -s "$out/dom0.cpio.zst" ] && [ -s "$out/domu.cpio.zst" ]; then
	say "cached: $out"
	echo "$out"
	exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pvblk-xen-initramfs.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A usr-merged skeleton, so /lib/... and /usr/lib/... paths land in one place.
skeleton() {
	local r=$1
	mkdir -p "$r"/usr/bin "$r"/usr/sbin "$r"/usr/lib "$r"/usr/lib64 \
		"$r"/dev "$r"/proc "$r"/sys "$r"/tmp "$r"/run "$r"/etc "$r"/root \
		"$r"/var/log "$r"/var/lib "$r"/mnt
	ln -s ../run "$r"/var/run
	ln -s usr/bin "$r"/bin
	ln -s usr/sbin "$r"/sbin
	ln -s usr/lib "$r"/lib
	ln -s usr/lib64 "$r"/lib64
	echo 'root:x:0:0:root:/root:/bin/bash' > "$r"/etc/passwd
	echo 'root:x:0:' > "$r"/etc/group
}

# Copy files (at the same path) plus their whole ldd closure.
copy_bins() {
	local r=$1 f lib
	shift
	for f in "$@"; do
		mkdir -p "$r$(dirname "$f")"
		cp -L "$f" "$r$f"
		{ ldd "$f" 2>/dev/null || true; } | awk '/=> \//{print $3} /^[ \t]*\//{print $1}' |
		while read -r lib; do
			[ -e "$r$lib" ] && continue
			mkdir -p "$r$(dirname "$lib")"
			cp -L "$lib" "$r$lib"
		done
	done
}

# busybox for every applet that has no GNU copy already.
busybox_links() {
	local r=$1 a
	cp /bin/busybox "$r"/usr/bin/busybox
	for a in $(/bin/busybox --list); do
		[ -e "$r/usr/bin/$a" ] || [ -e "$r/usr/sbin/$a" ] || ln -s busybox "$r/usr/bin/$a"
	done
}

mkcpio() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		cpio --quiet -o -0 -H newc -R 0:0) | zstd -q -T0 -6 > "$2"
}

say "step 1/3: domU initramfs (busybox, fio, e2fsprogs, xen-blkfront)"
d=$work/domu
skeleton "$d"
copy_bins "$d" /usr/bin/fio /usr/sbin/mke2fs /usr/sbin/e2fsck /lib/x86_64-linux-gnu/libgcc_s.so.1 \
	/usr/bin/xenstore-read /usr/bin/xenstore-write /usr/bin/xenstore-ls
ln -s mke2fs "$d"/usr/sbin/mkfs.ext4
ln -s e2fsck "$d"/usr/sbin/fsck.ext4
busybox_links "$d"
copy_modules "$d" "$KVER" / xen-blkfront
say "  sanity: fio, mkfs.ext4, xenstore-read run inside the domU tree"
chroot "$d" /usr/bin/fio --version >&2
chroot "$d" /usr/sbin/mkfs.ext4 -V 2>&1 | sed -n 1p >&2
chroot "$d" /usr/bin/xenstore-read --help > /dev/null 2>&1 || [ $? != 127 ]
mkdir -p "$out"
mkcpio "$d" "$work"/domu.cpio.zst

say "step 2/3: dom0 initramfs (toolstack, modules, domU kernel)"
r=$work/dom0
skeleton "$r"
copy_bins "$r" /bin/bash /usr/bin/flock /usr/bin/stat /usr/bin/expr /usr/bin/cut \
	/bin/sed /bin/grep /usr/bin/readlink /usr/bin/id /sbin/losetup /usr/bin/mawk \
	/bin/kmod /usr/bin/xz /lib/x86_64-linux-gnu/libgcc_s.so.1 /sbin/dmsetup \
	"$XENBIN"/xl "$XENBIN"/xenstored "$XENBIN"/oxenstored "$XENBIN"/xenconsoled \
	"$XENBIN"/xen-init-dom0 "$XENBIN"/libxl-save-helper "$XENBIN"/xenstore-control \
	/usr/bin/xenstore /usr/bin/xenstore-*
# NBD server and client, tc (netem on lo) and ip (lo up): scenario "nbd".
copy_bins "$r" /bin/nbd-server /sbin/nbd-client /sbin/tc /sbin/ip
ln -s mawk "$r"/usr/bin/awk
for t in modprobe insmod rmmod lsmod depmod modinfo; do ln -s ../bin/kmod "$r/usr/sbin/$t"; done
busybox_links "$r"
mkdir -p "$r"/etc/xen "$r"/var/lib/xen "$r"/var/log/xen/console "$r"/run/xen \
	"$r"/run/xenstored "$r"/var/lib/xenstored "$r"/etc/modprobe.d
cp -a /etc/xen/scripts "$r"/etc/xen/
[ -e /etc/xen/xl.conf ] && cp /etc/xen/xl.conf "$r"/etc/xen/
# shellcheck disable=SC2086 # a list of module names
copy_modules "$r" "$KVER" / $DOM0_MODULES $NET_MODULES
mkdir -p "$r"/domu
cp /boot/vmlinuz-"$KVER" "$r"/domu/vmlinuz
cp "$work"/domu.cpio.zst "$r"/domu/initrd.base
say "  sanity: bash, xl, modprobe run inside the dom0 tree"
# shellcheck disable=SC2016 # expanded by the bash inside the tree
chroot "$r" /bin/bash -c 'echo "  bash $BASH_VERSION"' >&2
chroot "$r" "$XENBIN"/xl help > /dev/null 2>&1 || [ $? != 127 ]
chroot "$r" /usr/sbin/modprobe -S "$KVER" --show-depends xen-blkback >&2
chroot "$r" /bin/nbd-server -V 2>&1 | sed -n 1p >&2
chroot "$r" /sbin/tc -V >&2
mkcpio "$r" "$work"/dom0.cpio.zst

say "step 3/3: store in $out"
zcat /boot/xen-4.17-amd64.gz > "$work"/xen
mv "$work"/xen "$work"/domu.cpio.zst "$work"/dom0.cpio.zst "$out"/
say "done: $(du -sh "$out" | cut -f1)"
echo "$out"
