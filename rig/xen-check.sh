#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rig/xen-check.sh: every Xen integration scenario (tests/xen), one QEMU TCG
# boot each (1-2 minutes each, see tests/xen/README.md).  Ends with
# "N passed, N failed"; exits non-zero when a scenario fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
echo "xen-check: scenarios reference pvblk detach stuck"
exec "$here/xen-run.sh" reference pvblk detach stuck
