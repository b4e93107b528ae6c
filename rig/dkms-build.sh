#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rig/dkms-build.sh KVER: DKMS's build command (dkms.conf MAKE[0]), run in
# DKMS's copy of the source.  The vhost frontend needs drivers/vhost/*.h
# of the same kernel: from the tree `make setup` unpacked, else from
# Debian's /usr/src/linux-source-6.12.tar.xz (only that directory and the
# top Makefile, for the version check, are unpacked, into .ksrc).
set -euo pipefail
kver=${1:?usage: rig/dkms-build.sh KVER}
# shellcheck source=rig/versions.sh
. rig/versions.sh
ksrc=$(PVBLK_KVER=$kver pvblk_ksrc_dir)
if [ ! -f "$ksrc/drivers/vhost/vhost.h" ]; then
	tarball=/usr/src/linux-source-$PVBLK_KSERIES.tar.xz
	[ -f "$tarball" ] || {
		echo "pvblk: neither $ksrc nor $tarball: apt-get install linux-source-$PVBLK_KSERIES" >&2
		exit 1
	}
	ksrc=$PWD/.ksrc
	rm -rf "$ksrc"
	mkdir -p "$ksrc"
	echo "pvblk: unpacking drivers/vhost from $tarball"
	tar -xJf "$tarball" -C "$ksrc" --strip-components=1 \
		"linux-source-$PVBLK_KSERIES/Makefile" "linux-source-$PVBLK_KSERIES/drivers/vhost"
fi
exec make KVER="$kver" KSRC="$ksrc" modules
