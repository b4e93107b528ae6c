#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the base initramfs of a pvblk test VM: an uncompressed
# newc cpio with busybox-static, bash, kmod (modprobe/insmod/rmmod), fio,
# mke2fs (mkfs.ext4), their shared libraries, the requested kernel modules
# (decompressed, with depmod'ed modules.dep) and /init.  Cached under
# $PVBLK_CACHE/initramfs/, keyed by every input; prints the cpio path.
#
# Usage: rig/mkinitramfs.sh [--kver KVER] [--modroot DIR] [--modules "M..."]
#                           [--bins "PATH..."] [--hostfiles "PATH..."]
#   --kver KVER      kernel release the modules belong to (default: stock)
#   --modroot DIR    directory holding lib/modules/KVER (default: /)
#   --modules "..."  modules to include, dependencies are added
#   --bins "..."     host executables/libraries copied at the same path,
#                    with their ldd closure
#   --hostfiles "..." host files or directories copied at the same path
#
# /init mounts proc, sys, devtmpfs, devpts, debugfs, tmpfs (/tmp, /dev/shm,
# /run), runs /pvblk/tests/$pvblk.test (from the per-run cpio that
# rig/vm-run.sh appends) with bash in /pvblk, prints
# "PVBLK-VM-VERDICT: exit=N" and powers off.
set -euo pipefail
# shellcheck source=rig/common.sh
. "$(dirname "$0")/common.sh"

kver=$STOCK_KVER
modroot=/
modules=
bins=
hostfiles=
while [ $# -gt 0 ]; do
	case $1 in
	--kver) kver=$2; shift ;;
	--modroot) modroot=$2; shift ;;
	--modules) modules=$2; shift ;;
	--bins) bins=$2; shift ;;
	--hostfiles) hostfiles=$2; shift ;;
	-h|--help) sed -n '3,23p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done

moddir=$modroot/lib/modules/$kver
[ -d "$moddir" ] || die "no modules directory $moddir"

BASE_BINS="/usr/bin/bash /usr/bin/fio /usr/bin/kmod /usr/bin/busybox /usr/sbin/mke2fs"
[ -x /usr/bin/busybox ] || [ -x /bin/busybox ] || die "busybox-static is not installed"
for b in bash fio kmod; do
	command -v $b >/dev/null || die "$b is not installed"
done

# Normalise the lists (sorted, unique) so that the key does not depend on
# the order in which tests name things.
norm() { tr ' ' '\n' <<<"$*" | sed '/^$/d' | sort -u | tr '\n' ' '; }
modules=$(norm "$modules")
bins=$(norm "$bins")
hostfiles=$(norm "$hostfiles")

stat_of() {
	local f

	for f in "$@"; do
		stat -L -c '%n %s %Y' "$f" 2>/dev/null || echo "$f missing"
	done
}

key=$( {
	sha256sum < "$0"
	echo "kver=$kver modroot=$modroot"
	echo "modules=$modules"
	echo "bins=$bins"
	echo "hostfiles=$hostfiles"
	# shellcheck disable=SC2086 # word lists: one path per word
	stat_of $BASE_BINS $bins "$moddir/modules.dep"
	for f in $hostfiles; do
		find "$f" -type f -printf '%p %s %T@\n' 2>/dev/null || echo "$f missing"
	done
} | sha256sum | cut -c1-20)

out_dir=$PVBLK_CACHE/initramfs
out=$out_dir/base-$kver-$key.cpio
if [ -s "$out" ]; then
	step "base initramfs is cached: $out"
	touch "$out"
	echo "$out"
	exit 0
fi

mkdir -p "$out_dir"
root=$(mktemp -d "$out_dir/stage.XXXXXX")
trap 'rm -rf "$root"' EXIT

step "staging base initramfs for $kver in $root"
# Merged /usr, like the host: /bin, /sbin, /lib, /lib64 are links, so a
# host path copies to the same path whichever spelling ldd prints.
mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{dev,proc,sys,tmp,run,mnt,root,etc,pvblk}
ln -s usr/bin "$root/bin"
ln -s usr/sbin "$root/sbin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"

# Copy one host path (file or symlink target) to the same path in $root.
copy_path() {
	local src=$1 dst

	dst=$root$src
	[ -e "$dst" ] && return 0
	mkdir -p "$(dirname "$dst")"
	cp -L "$src" "$dst"
}

# Copy an executable or shared object and every library ldd names for it.
copy_with_libs() {
	local bin=$1 lib

	[ -e "$bin" ] || die "vm-bins: no such file $bin"
	copy_path "$bin"
	ldd "$bin" 2>/dev/null | awk '/=> \// {print $3} /^[[:space:]]*\// {print $1}' |
	while read -r lib; do
		copy_path "$lib"
	done
}

step "copying bash, fio, kmod, mke2fs, busybox and their libraries"
busybox=$(command -v busybox)
copy_path "$busybox"
[ "$busybox" = /usr/bin/busybox ] || cp -L "$busybox" "$root/usr/bin/busybox"
for b in bash fio kmod mke2fs; do
	copy_with_libs "$(readlink -f "$(PATH=$PATH:/usr/sbin:/sbin command -v $b)")"
done
[ -f /etc/mke2fs.conf ] && copy_path /etc/mke2fs.conf
for t in mkfs.ext4 mkfs.ext2 mke2fs.ext4; do
	ln -sf mke2fs "$root/usr/sbin/$t"
done
# Debian's bash/fio/kmod live in /usr/bin; keep the names tests call.
for t in modprobe insmod rmmod lsmod modinfo depmod; do
	ln -sf ../bin/kmod "$root/usr/sbin/$t"
done
ln -sf bash "$root/usr/bin/sh.bash"

if [ -n "$bins" ]; then
	step "copying vm-bins: $bins"
	for b in $bins; do
		copy_with_libs "$b"
	done
fi
if [ -n "$hostfiles" ]; then
	step "copying vm-hostfiles: $hostfiles"
	for f in $hostfiles; do
		[ -e "$f" ] || die "vm-hostfiles: no such file $f"
		mkdir -p "$root$(dirname "$f")"
		cp -aL "$f" "$root$(dirname "$f")/"
	done
fi

# Busybox applets for everything not present as a real binary.
for a in $("$busybox" --list); do
	[ -e "$root/usr/bin/$a" ] || [ -e "$root/usr/sbin/$a" ] ||
		ln -s busybox "$root/usr/bin/$a"
done

if [ -n "$modules" ]; then
	step "copying modules (with dependencies): $modules"
	mkdir -p "$root/lib/modules/$kver"
	: > "$root/etc/pvblk-insmod-order"
	for m in $modules; do
		deps=$(modprobe -d "$modroot" -S "$kver" --show-depends "$m" 2>&1) ||
			die "module $m not found for $kver in $modroot: $deps"
		while read -r verb path _; do
			[ "$verb" = insmod ] || continue
			rel=${path#*/lib/modules/"$kver"/}
			base=${rel%.xz}
			base=${base%.zst}
			base=${base%.gz}
			dst=$root/lib/modules/$kver/$base
			grep -qxF "/lib/modules/$kver/$base" "$root/etc/pvblk-insmod-order" ||
				echo "/lib/modules/$kver/$base" >> "$root/etc/pvblk-insmod-order"
			[ -e "$dst" ] && continue
			mkdir -p "$(dirname "$dst")"
			case $path in
			*.xz) xz -dc "$moddir/$rel" > "$dst" ;;
			*.zst) zstd -qdc "$moddir/$rel" > "$dst" ;;
			*.gz) gzip -dc "$moddir/$rel" > "$dst" ;;
			*) cp "$moddir/$rel" "$dst" ;;
			esac
		done <<<"$deps"
	done
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		[ -f "$moddir/$f" ] && cp "$moddir/$f" "$root/lib/modules/$kver/"
	done
	depmod -b "$root" "$kver" || die "depmod failed"
fi

cat > "$root/init" <<'INIT'
#!/bin/sh
# pvblk test VM init (generated by rig/mkinitramfs.sh).
export PATH=/pvblk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
export HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
ln -sf /proc/mounts /etc/mtab
echo 1 > /proc/sys/kernel/printk_devkmsg 2>/dev/null

test=
for w in $(cat /proc/cmdline); do
	case $w in
	pvblk.test=*) test=${w#pvblk.test=} ;;
	esac
done
[ -f /pvblk/run.env ] && . /pvblk/run.env
export KVER=$(uname -r) PVBLK_TEST=$test

kml=/sys/kernel/debug/kmemleak
[ -w $kml ] && echo clear > $kml

echo "PVBLK-VM: start $test on $KVER"
rc=127
if [ -f "/pvblk/tests/$test" ]; then
	cd /pvblk && bash "/pvblk/tests/$test" < /dev/null
	rc=$?
	cd /
else
	echo "PVBLK-VM: no test /pvblk/tests/$test"
fi
echo "PVBLK-VM: test exited $rc"

# Kernel reports that reached only the ring buffer (a test may lower the
# console log level) are repeated here for the host to see.
dmesg | grep -E 'Oops|BUG:|WARNING:|KASAN:|UBSAN:|circular locking|INFO:|general protection|Call Trace|Kernel panic' |
	sed 's/^/PVBLK-DMESG: /'
# A test whose last step was its own scan (lib.sh kmemleak_scan) leaves
# /run/pvblk-kmemleak-scanned: no second scan then.
if [ -w $kml ] && [ ! -e /run/pvblk-kmemleak-scanned ]; then
	# kmemleak reports objects older than 5 s only.
	sleep 6
	echo scan > $kml
	echo "PVBLK-VM: kmemleak scan"
	cat $kml
fi
# pvblk's gcov counters, when the kernel and pvblk.ko have them.
[ -f /pvblk/gcov-dump.sh ] && bash /pvblk/gcov-dump.sh
sync
echo "PVBLK-VM-VERDICT: exit=$rc"
poweroff -f
INIT
chmod +x "$root/init"

step "writing $out"
tmp=$out.tmp.$$
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$tmp"
mv "$tmp" "$out"
# Keep the cache bounded: the 12 most recently used base images, and none
# used in the last hour is removed (a concurrent run may be about to read it).
# shellcheck disable=SC2012 # our own names (base-KVER-HEX.cpio), newest first
ls -1t "$out_dir"/base-*.cpio 2>/dev/null | tail -n +13 |
	xargs -r -I{} find {} -maxdepth 0 -mmin +60 -delete
step "base initramfs $(du -h "$out" | cut -f1)"
echo "$out"
