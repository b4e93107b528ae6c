#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# pvblk-fuzz against the LD_PRELOAD stand-in of /dev/vhost-blk (fake_dev.c)
# on this host: checks the fuzzer's own bookkeeping (no false failure on a
# device that behaves), not pvblk.  Usage: test-fake.sh BUILD_DIR [ARGS]
set -euo pipefail
b=$1
shift
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
truncate -s 64M "$d/a.img" "$d/b.img"
LD_PRELOAD=$b/fake_vhost_dev.so "$b/pvblk-fuzz" -b "$d/a.img" -B "$d/b.img" \
	--seed "${FUZZ_SEED:-1}" --iterations "${FUZZ_ITERATIONS:-2000}" \
	--watchdog 10 "$@"
