#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fetch and unpack the source of the installed fio (Debian's fio package ships
# no headers) into $PVBLK_CACHE/fio-src, so the external ioengine can be built
# against exactly that version.  Uses a private apt source list in the cache
# (deb-src for Debian bookworm); the system's apt configuration is untouched.
# Prints the unpacked source directory on stdout.
set -euo pipefail

CACHE=${PVBLK_CACHE:-$HOME/.cache/pvblk}
VER=$(dpkg-query -W -f='${Version}' fio 2>/dev/null || true)
[ -n "$VER" ] || { echo "get-fio-src: fio is not installed (apt-get install fio)" >&2; exit 1; }
UPVER=${VER%%-*}
DEST=$CACHE/fio-src/fio-$UPVER

if [ -f "$DEST/ioengines.h" ]; then
	echo "$DEST"
	exit 0
fi

APTDIR=$CACHE/fio-src/apt
mkdir -p "$APTDIR/lists/partial" "$APTDIR/dl"
cat > "$APTDIR/sources.list" <<SRC
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian bookworm-updates main
deb-src http://deb.debian.org/debian-security bookworm-security main
SRC
APTOPT=(-o Dir::Etc::SourceList="$APTDIR/sources.list"
	-o Dir::Etc::SourceParts=/nonexistent
	-o Dir::State::Lists="$APTDIR/lists"
	-o APT::Get::List-Cleanup=0)

apt-get "${APTOPT[@]}" update >&2
cd "$APTDIR/dl"
apt-get "${APTOPT[@]}" source --download-only "fio=$VER" >&2
DSC=$(ls "$APTDIR"/dl/fio_*.dsc | head -n1)
rm -rf "$DEST.tmp"
dpkg-source --no-check -x "$DSC" "$DEST.tmp" >&2
mv "$DEST.tmp" "$DEST"
echo "$DEST"
