#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the pvblk debug kernel (KASAN, UBSAN, lockdep, kmemleak, KUnit,
# vhost and Xen backend as in Debian's kernel) from linux-source into
# $PVBLK_CACHE/build/debug-kernel, config = olddefconfig of rig/debug.config.
#
# Usage: rig/debug-kernel.sh [--dom0] [--force] [--print-kver]
#   --dom0        the Xen dom0 flavour instead: rig/debug.config with
#                 rig/debug-dom0.config on top (generic KASAN cannot boot a
#                 Xen PV kernel, see there), in build/debug-dom0-kernel
#   --force       run make even when the stamp says the build is current
#   --print-kver  print the kernel release of the build and exit
# Prints the bzImage path on stdout.  Heavy: run under
# `flock /tmp/pvblk-heavy.lock` when the machine is shared.
set -euo pipefail
# shellcheck source=rig/common.sh
. "$(dirname "$0")/common.sh"

force=0
kver=0
B=$DEBUG_BUILD
FRAGS=("$RIG_DIR/debug.config")
while [ $# -gt 0 ]; do
	case $1 in
	--dom0) B=$DEBUG_DOM0_BUILD; FRAGS+=("$RIG_DIR/debug-dom0.config") ;;
	--force) force=1 ;;
	--print-kver) kver=1 ;;
	-h|--help) sed -n '3,15p' "$0"; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
	shift
done
[ $kver = 0 ] || { build_kver "$B"; exit 0; }

MAKE=(make -C "$KSRC_COPY" O="$B" -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc")

ensure_ksrc_copy
mkdir -p "$B" "$CCACHE_DIR"
# rig/in-tree.sh switches pvblk on in this build's config for a while.
exec 9>"$B/.pvblk-config.lock"
flock 9

# The fragment: the files in order, a later line for a symbol replacing an
# earlier one (as merge_config.sh does).
FRAG=$B/.pvblk-fragment
awk '{ k = $0
       if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) k = substr($0, 1, RLENGTH - 1)
       else if (match($0, /^# CONFIG_[A-Za-z0-9_]+ is not set/)) k = $2
       else k = "#" NR
       if (!(k in v)) o[++n] = k
       v[k] = $0 }
     END { for (i = 1; i <= n; i++) print v[o[i]] }' "${FRAGS[@]}" > "$FRAG.tmp"
mv "$FRAG.tmp" "$FRAG"

# The stamp names everything the kernel image depends on: the fragment's
# settings (its comments are left out, so editing one rebuilds nothing:
# a rebuild costs 33-68 min of CI), the source, the compiler.
key_of() {
	{ sha256sum; echo "$KSRC_VERSION $KSRC_PATCHES"; gcc --version | head -1; } |
		sha256sum | cut -c1-16
}
stamp_key=$(grep -E '^(CONFIG_|# CONFIG_[A-Za-z0-9_]+ is not set)' "$FRAG" | key_of)
# Builds stamped before 2026-12-07 hashed the comments too: the same
# fragment under that key is the same configuration.
if [ "$(cat "$B/.pvblk-stamp" 2>/dev/null)" = "$(key_of < "$FRAG")" ]; then
	echo "$stamp_key" > "$B/.pvblk-stamp"
fi
if [ $force = 0 ] && [ -f "$B/arch/x86/boot/bzImage" ] &&
   ! grep -q '^CONFIG_PVBLK=' "$B/.config" &&
   [ "$(cat "$B/.pvblk-stamp" 2>/dev/null)" = "$stamp_key" ]; then
	step "debug kernel is current ($(build_kver "$B")), nothing to do"
	echo "$B/arch/x86/boot/bzImage"
	exit 0
fi

# A build of another configuration is cleaned first: after the debug
# configs gained options (gcov, the fault-injection filter) an incremental
# rebuild of the dom0 flavour booted with modules it could not load; a
# clean one did not.  ccache keeps that cheap.
if [ -f "$B/.pvblk-stamp" ] && [ "$(cat "$B/.pvblk-stamp")" != "$stamp_key" ]; then
	step "configuration changed since the last build: make clean first"
	"${MAKE[@]}" clean >/dev/null
	rm -f "$B/.pvblk-stamp"
fi
step "configuring: olddefconfig from ${FRAGS[*]}"
cp "$FRAG" "$B/.config"
"${MAKE[@]}" olddefconfig >/dev/null

# Every y/m in the fragment must have survived olddefconfig.
missing=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=[ym]) grep -qx "$line" "$B/.config" || { echo "missing after olddefconfig: $line" >&2; missing=1; } ;;
	esac
done < "$FRAG"
[ $missing = 0 ] || die "config fragment not satisfiable (see above)"

step "building bzImage + modules with $JOBS jobs (ccache in $CCACHE_DIR)"
# A failed single-.ko make target leaves its own short modules.order
# behind, newer than its inputs; it is cheap to regenerate.
rm -f "$B/modules.order"
t=$(date +%s)
"${MAKE[@]}" bzImage modules > "$B/build.log" 2>&1 ||
	{ tail -40 "$B/build.log" >&2; die "build failed, log: $B/build.log"; }
step "installing modules into $B/mod-install"
rm -rf "$B/mod-install"
"${MAKE[@]}" INSTALL_MOD_PATH="$B/mod-install" INSTALL_MOD_STRIP=1 modules_install >/dev/null
secs=$(($(date +%s) - t))
echo "$(date -u +%FT%TZ) build+install ${secs}s ccache: $(ccache -s 2>/dev/null | grep -i 'hits' | head -1 | tr -s ' ')" >> "$B/build-times.txt"
echo "$stamp_key" > "$B/.pvblk-stamp"
step "debug kernel $(build_kver "$B") built in ${secs}s"
echo "$B/arch/x86/boot/bzImage"
