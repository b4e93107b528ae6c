# SPDX-License-Identifier: GPL-2.0
# The one place that names the kernel pvblk targets.  Sourced by the
# Makefile helpers and every rig script.
#
# Debian's archive carries one linux-source-6.12 version at a time, so the
# image/headers ABI is derived from the source package's version
# (6.12.117-1~deb12u1 -> 6.12.117+deb12-amd64) unless PVBLK_KVER is set.
PVBLK_KSERIES=6.12
PVBLK_KVER_EXPECTED=6.12.117+deb12-amd64
PVBLK_CACHE=${PVBLK_CACHE:-$HOME/.cache/pvblk}
