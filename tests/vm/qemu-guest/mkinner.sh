#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the inner guest of tests/vm/qemu-*.test: the stock kernel image and
# an uncompressed initramfs with busybox-static, a static fio, mke2fs,
# e2fsck (and their libraries), virtio_blk.ko and tests/vm/qemu-guest/init.
# Cached in $PVBLK_CACHE/qemu-guest/ keyed by every input; installed in
# tools/build/qemu-guest/{vmlinuz,inner.cpio} (gitignored), which the test
# names in its "# vm-files:" header.  Prints the output directory.
#
# fio: Debian's fio links 12 libraries (ceph, gluster, rdma, pmem, ...) that
# bring ~80 MB and ~60 shared objects: the dynamic loader alone runs 40 M
# instructions per fio start (valgrind), tens of seconds in the inner guest
# under TCG in TCG, and the initramfs is 88 MB.  So fio is built here from
# Debian's source of the installed version (tools/fio/get-fio-src.sh, also
# used by tools/Makefile), static, without those engines (psync, libaio,
# io_uring and crc32c verify are what the inner guest uses): ~3 MB, 1.7 M
# instructions to start.  Needs libaio-dev; without it (or if the build
# fails) Debian's fio and its libraries are used, as before.
#
# Builds are keyed by content and kept side by side (engineers with
# different inits share the cache); the ones not used for a day are pruned
# beyond the 8 most recently used.
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
	-h|--help) sed -n '3,26p' "$0"; exit 0 ;;
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
cache=$PVBLK_CACHE/qemu-guest
mkdir -p "$cache"

# build_fio: a static fio of the installed version in $cache/fio-KEY/fio;
# prints its path, or nothing (the reason on stderr) when it cannot.
build_fio() {
	local src ver fkey dir stage
	local conf=(--build-static --disable-native --disable-numa --disable-rdma
		--disable-rados --disable-rbd --disable-http --disable-gfapi
		--disable-pmem --disable-xnvme --disable-libzbc --disable-tcmalloc
		--disable-dfs --disable-libnfs)

	if [ ! -f /usr/include/libaio.h ] || [ ! -f /usr/lib/x86_64-linux-gnu/libaio.a ]; then
		echo "mkinner.sh: no libaio-dev: Debian's fio goes in (slow to start)" >&2
		return 0
	fi
	ver=$(dpkg-query -W -f='${Version}' fio libaio-dev libc6-dev zlib1g-dev 2>/dev/null | tr '\n' ' ')
	fkey=$( { echo "${conf[*]}"; echo "$ver"; gcc --version | head -1; } | sha256sum | cut -c1-16)
	dir=$cache/fio-$fkey
	if [ ! -x "$dir/fio" ]; then
		src=$("$repo/tools/fio/get-fio-src.sh") ||
			{ echo "mkinner.sh: no fio source: Debian's fio goes in" >&2; return 0; }
		echo "mkinner.sh: building a static fio from $src (once, ~1-2 min)" >&2
		stage=$(mktemp -d "$cache/fio-stage.XXXXXX")
		cp -a "$src/." "$stage/"
		rm -f "$stage/config-host.h" "$stage/config-host.mak"
		if (cd "$stage" && ./configure "${conf[@]}" && make -j"$(nproc)" fio) \
			> "$stage.log" 2>&1 && grep -q 'CONFIG_LIBAIO' "$stage/config-host.h"; then
			mkdir -p "$dir.tmp.$$"
			strip -o "$dir.tmp.$$/fio" "$stage/fio"
			mv -T "$dir.tmp.$$" "$dir" 2>/dev/null || rm -rf "$dir.tmp.$$"
			rm -f "$stage.log"
		else
			echo "mkinner.sh: the static fio build failed (log: $stage.log): Debian's fio goes in" >&2
		fi
		rm -rf "$stage"
	fi
	[ -x "$dir/fio" ] && echo "$dir/fio"
	return 0
}
sfio=$(build_fio)

bins=()
[ -n "$sfio" ] && bins+=("$sfio")
for b in fio mke2fs e2fsck; do
	[ "$b" = fio ] && [ -n "$sfio" ] && continue
	p=$(PATH=$PATH:/usr/sbin:/sbin command -v $b) || die "$b is not installed"
	bins+=("$(readlink -f "$p")")
done
vblk=$(modprobe -S "$kver" --show-depends virtio_blk | awk '$1 == "insmod" {print $2}')
[ -n "$vblk" ] || echo "mkinner.sh: virtio_blk is built in" >&2

key=$( {
	sha256sum "$0" "$here/init" ${sfio:+"$sfio"}
	echo "$kver"
	# shellcheck disable=SC2086 # $vblk: the module paths, none when built in
	stat -L -c '%n %s %Y' "$kimg" "$busybox" "${bins[@]}" $vblk
	for b in "${bins[@]}"; do [ "$b" = "$sfio" ] || ldd "$b"; done
} | sha256sum | cut -c1-16)
cpio=$cache/inner-$kver-$key.cpio

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
		if [ "$b" = "$sfio" ]; then
			mkdir -p "$root/usr/bin"
			cp "$b" "$root/usr/bin/fio"
			continue
		fi
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
		cpio -o -H newc --quiet -R 0:0) > "$cpio.tmp.$$"
	mv "$cpio.tmp.$$" "$cpio"
fi
# The mtime says when a build was last used.  Others' builds stay: only
# those unused for a day and beyond the 8 most recently used go.
touch "$cpio"
find "$cache" -maxdepth 1 -name 'inner-*.cpio' -printf '%T@ %p\n' | sort -rn |
	tail -n +9 | while read -r _ f; do
		find "$f" -mmin +1440 -delete
	done

# The kernel: the bzImage (vmlinuz, also booted by tools/vhost-user/test-*.sh)
# and, with PVBLK_INNER_PVH=1 and a kernel with a PVH entry (CONFIG_PVH),
# its uncompressed ELF (vmlinux) beside it, which QEMU boots directly
# through pvh.bin (no zstd decompression, no KASLR pass); the tests boot
# vmlinux when it is there.  Off by default: on 2026-12-07 one of 6 such
# inner boots in the rig VM ended at once without a line on the console
# (not understood), and its gain was not shown.
vml=
if [ "${PVBLK_INNER_PVH:-0}" = 1 ]; then
	ksrc=$(. "$repo/rig/versions.sh" && pvblk_ksrc_dir)
	vml=$cache/vmlinux-$kver-$(stat -L -c '%s-%Y' "$kimg")
	if [ ! -s "$vml" ] && [ -f "$ksrc/scripts/extract-vmlinux" ]; then
		if bash "$ksrc/scripts/extract-vmlinux" "$kimg" > "$vml.tmp.$$" 2>/dev/null; then
			mv "$vml.tmp.$$" "$vml"
		else
			rm -f "$vml.tmp.$$"
		fi
	fi
	# XEN_ELFNOTE_PHYS32_ENTRY (18) in a "Xen" note: the PVH entry.
	if [ ! -s "$vml" ] || ! readelf -n "$vml" 2>/dev/null | grep -q 'Xen .*(0x00000012)'; then
		echo "mkinner.sh: no PVH vmlinux of $kimg: the inner guest boots the bzImage" >&2
		vml=
	fi
fi
mkdir -p "$out"
rm -f "$out/vmlinux"
[ -z "$vml" ] || ln -f "$vml" "$out/vmlinux" 2>/dev/null || cp "$vml" "$out/vmlinux"
cp "$kimg" "$out/vmlinuz.tmp" && mv "$out/vmlinuz.tmp" "$out/vmlinuz"
# Kernel parameters the tests add to the inner guest's command line: the
# costliest initcalls of the inner boot that the guest does not need
# (initcall_debug in the inner guest under TCG in TCG, 2026-12-07:
# jitterentropy's health test 5.0 s, the crypto self-tests (crypto_algapi
# 3.7 s, kdf108 1.1 s), BPF's kfunc / struct_ops BTF set-up 2.6 s + 1.0 s,
# the built-in X.509 certificates 2.1 s of an 85 s boot to /init).
echo "cryptomgr.notests initcall_blacklist=jent_mod_init,crypto_kdf108_init,bpf_tcp_ca_kfunc_init,bpf_dummy_struct_ops_init,load_system_certificate_list" \
	> "$out/cmdline"
ln -f "$cpio" "$out/inner.cpio.tmp" 2>/dev/null || cp "$cpio" "$out/inner.cpio.tmp"
mv "$out/inner.cpio.tmp" "$out/inner.cpio"
chmod a-x "$out/vmlinuz" "$out/inner.cpio"
echo "$out"
