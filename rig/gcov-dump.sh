#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# In a rig guest (the VM's /init, dom0's /init): print pvblk's gcov counters
# (a kernel with CONFIG_GCOV_KERNEL, pvblk.ko built with PVBLK_GCOV=1; the
# counters outlive rmmod) between PVBLK-GCOV-BEGIN and PVBLK-GCOV-END as a
# base64 tar.gz, for the host (rig/vm-run.sh, rig/xen-run.sh) to hand to
# rig/coverage.sh.  Nothing is printed without counters.
gc=/sys/kernel/debug/gcov
out=/tmp/pvblk-gcov
[ -d $gc ] || exit 0
mapfile -t files < <(find $gc -name '*.gcda' | grep /pvblk/)
[ ${#files[@]} -gt 0 ] || exit 0
rm -rf $out
for f in "${files[@]}"; do
	d=$out/${f#"$gc"/}
	mkdir -p "${d%/*}"
	# debugfs shows these files with size 0: read them, do not copy them.
	cat "$f" > "$d"
done
echo "PVBLK-GCOV-BEGIN"
(cd $out && tar -cf - . | gzip -9 | base64)
echo "PVBLK-GCOV-END"
rm -rf $out
