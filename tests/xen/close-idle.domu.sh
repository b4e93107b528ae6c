# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/close-idle.sh, guest "hc" (no xen-blkfront):
# xen_hostile.ko binds xvdb; good I/O maps persistent grants, then dom0
# suspends the dm device under xvdb and the vbd is closed with nothing in
# flight (case close-idle-now); after the resume, good I/O again.
hostile_load
hostile_bound xvdb

hostile_case xvdb good-io
phase close-idle
wait_key suspended > /dev/null
hostile_case xvdb close-idle-now
phase close-idle-done
wait_key resumed > /dev/null
hostile_case xvdb good-io
hostile_case xvdb close-idle
hostile_case xvdb reconnect
