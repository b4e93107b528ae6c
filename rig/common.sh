# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared by the rig scripts (sourced, never run).  Paths, progress lines,
# the pristine linux-source tree and a build copy of it with pvblk wired in.

RIG_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$RIG_DIR/.." && pwd)
# shellcheck source=rig/versions.sh
. "$RIG_DIR/versions.sh"
export PVBLK_CACHE
# versions.sh derives the kernel from Debian's linux-source package.
if declare -F pvblk_kver >/dev/null; then
	STOCK_KVER=$(pvblk_kver)
	: "${KSRC:=$(pvblk_ksrc_dir)}"
else
	STOCK_KVER=${PVBLK_KVER:-${PVBLK_KVER_EXPECTED:-${PVBLK_KVER_VERIFIED}}}
fi
KSRC_VERSION=${STOCK_KVER%%+*}
# Pristine unpacked linux-source (never built in: every build uses O=).
KSRC=${KSRC:-$PVBLK_CACHE/linux-source-$KSRC_VERSION}
# Copy of KSRC with drivers/block/pvblk wired in (UML KUnit, in-tree build,
# debug kernel all build from it, each with its own O= directory).
KSRC_COPY=${KSRC_COPY:-$PVBLK_CACHE/src/linux-$KSRC_VERSION-pvblk}
DEBUG_BUILD=${DEBUG_BUILD:-$PVBLK_CACHE/build/debug-kernel}
# The debug kernel's Xen dom0 flavour (rig/debug-kernel.sh --dom0).
DEBUG_DOM0_BUILD=${DEBUG_DOM0_BUILD:-$PVBLK_CACHE/build/debug-dom0-kernel}
# pvblk.ko built against those two (rig/build-debug-modules.sh).  Worktrees
# tested side by side set PVBLK_MODBUILD_TAG so that one does not boot the
# other's module.
# shellcheck disable=SC2034 # used by build-debug-modules.sh, vm-run.sh
DEBUG_MODULES=$PVBLK_CACHE/build/debug-modules${PVBLK_MODBUILD_TAG:+-$PVBLK_MODBUILD_TAG}
# shellcheck disable=SC2034 # used by build-debug-modules.sh
DEBUG_DOM0_MODULES=$PVBLK_CACHE/build/debug-dom0-modules${PVBLK_MODBUILD_TAG:+-$PVBLK_MODBUILD_TAG}
export CCACHE_DIR=${CCACHE_DIR:-$PVBLK_CACHE/ccache}
JOBS=${JOBS:-$(nproc)}

# step (progress lines on stderr) and the result helpers.
# shellcheck source=rig/tap.sh
. "$RIG_DIR/tap.sh"

die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# Unpack Debian's linux-source tarball into $KSRC when it is missing.
ensure_ksrc() {
	local tarball=/usr/src/linux-source-$PVBLK_KSERIES.tar.xz tmp

	[ -f "$KSRC/Makefile" ] && return 0
	[ -f "$tarball" ] || die "no $KSRC and no $tarball (apt-get install linux-source-$PVBLK_KSERIES)"
	step "unpacking $tarball into $KSRC"
	tmp=$KSRC.tmp.$$
	rm -rf "$tmp" && mkdir -p "$tmp"
	tar -C "$tmp" -xf "$tarball"
	mv "$tmp"/linux-source-* "$KSRC" && rmdir "$tmp"
}

# rsync the pvblk sources (Kbuild, Kconfig, pvblk/ without build products)
# into DEST.  Files are compared by content and a changed one gets the
# time of the copy (no -t), so kbuild rebuilds exactly what differs from
# the last copy, whichever worktree that came from (keeping the source's
# mtimes let an older worktree's file look older than the objects built
# from another one's, and it was not rebuilt).  Build products are
# excluded, which also keeps --delete away from them: the gcov notes
# (.gcno) of a coverage build must stay beside their objects.
sync_pvblk_sources() {
	local dest=$1

	mkdir -p "$dest"
	rsync -rlpD --checksum --delete \
		--exclude='*.o' --exclude='*.ko' --exclude='*.mod' \
		--exclude='*.mod.c' --exclude='.*.cmd' --exclude='*.a' \
		--exclude='modules.order' --exclude='Module.symvers' \
		--exclude='*.dwo' --exclude='.*.d' --exclude='*.tmp' \
		--exclude='*.gcno' --exclude='*.gcda' \
		--include='/Kbuild' --include='/Kconfig' --include='/pvblk/***' \
		--exclude='*' \
		"$REPO/" "$dest/"
}

# Make $KSRC_COPY: a copy of the pristine tree, with drivers/block/pvblk
# wired into drivers/block/{Kconfig,Makefile}; then re-sync pvblk sources.
ensure_ksrc_copy() {
	local tmp lockfd

	# make check builds the debug kernel and its dom0 flavour at once.
	mkdir -p "$PVBLK_CACHE"
	exec {lockfd}>"$PVBLK_CACHE/.ksrc-copy.lock"
	flock "$lockfd"
	ensure_ksrc
	if [ ! -f "$KSRC_COPY/.pvblk-wired" ]; then
		step "copying $KSRC to $KSRC_COPY (once)"
		tmp=$KSRC_COPY.tmp.$$
		rm -rf "$tmp" && mkdir -p "$(dirname "$KSRC_COPY")"
		cp -a "$KSRC" "$tmp"
		grep -q 'drivers/block/pvblk/Kconfig' "$tmp/drivers/block/Kconfig" ||
			sed -i '/^endif # BLK_DEV/i source "drivers/block/pvblk/Kconfig"\n' \
				"$tmp/drivers/block/Kconfig"
		grep -q 'drivers/block/pvblk/Kconfig' "$tmp/drivers/block/Kconfig" ||
			die "could not wire pvblk into drivers/block/Kconfig"
		# shellcheck disable=SC2016 # $(CONFIG_PVBLK) is make's, literally
		grep -q 'CONFIG_PVBLK' "$tmp/drivers/block/Makefile" ||
			printf 'obj-$(CONFIG_PVBLK)\t\t+= pvblk/\n' >> "$tmp/drivers/block/Makefile"
		touch "$tmp/.pvblk-wired"
		rm -rf "$KSRC_COPY"
		mv "$tmp" "$KSRC_COPY"
	fi
	patch_ksrc_copy "$KSRC_COPY"
	sync_pvblk_sources "$KSRC_COPY/drivers/block/pvblk"
	exec {lockfd}>&-
}

# What our debug kernels change in Linux itself (KSRC_PATCHES names it for
# rig/debug-kernel.sh's stamp, so a cached build made before is redone).
# Linux 6.12's xen-gntdev takes priv->lock and then mmap_lock (copy_to_user
# in its map ioctl), and mmap_lock and then priv->lock (gntdev_mmap):
# lockdep reports that inversion as soon as xenstored maps a guest's ring
# and then stops validating for the rest of the boot, before pvblk is even
# loaded, so the debug dom0's lockdep saw nothing of pvblk.  That one lock
# class is left out of lockdep's validation in our builds; every other lock,
# pvblk's included, stays checked (dom0 asserts at the end of each Xen
# scenario that lockdep is still on).  gntdev itself is not changed.
# shellcheck disable=SC2034 # used by debug-kernel.sh
KSRC_PATCHES="gntdev-priv-lock-novalidate-1"
patch_ksrc_copy() {
	local f=$1/drivers/xen/gntdev.c

	grep -q 'pvblk rig: lockdep' "$f" && return 0
	grep -q '^	mutex_init(&priv->lock);$' "$f" ||
		die "$f: no 'mutex_init(&priv->lock);' to annotate (see patch_ksrc_copy)"
	sed -i 's|^	mutex_init(&priv->lock);$|&\n	lockdep_set_novalidate_class(\&priv->lock); /* pvblk rig: lockdep, see rig/common.sh */|' "$f"
	grep -q 'pvblk rig: lockdep' "$f" || die "$f: annotating priv->lock failed"
}

# The kernel release string of a configured build directory.
build_kver() {
	cat "$1/include/config/kernel.release"
}
