# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script for tests/xen/close-idle.sh, guest "hc" (no xen-blkfront):
# xen_hostile.ko binds xvdb; good I/O maps persistent grants, then dom0
# suspends the dm device under xvdb and the vbd is closed with nothing in
# flight (case close-idle-now); after the resume, good I/O again.
mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null
D=/sys/kernel/debug/xen_hostile/51728	# xvdb
check "insmod xen_hostile.ko" insmod /xen_hostile.ko
i=0
while [ ! -d "$D" ] && [ $i -lt 100 ]; do
	sleep 0.2
	i=$((i + 1))
done
check "xvdb: bound by xen_hostile" [ -d "$D" ]

# run_case CASE: run it, one TAP line per result line.
run_case() {
	echo "# [$(date +%s)] xvdb: case $1"
	if ! echo "$1" > "$D/run"; then
		fail "xvdb $1: case ran"
		return
	fi
	n=0
	while IFS= read -r line; do
		case $line in
		"ok "*) ok "xvdb ${line#ok }"; n=$((n + 1)) ;;
		"not ok "*) fail "xvdb ${line#not ok }"; n=$((n + 1)) ;;
		*) echo "$line" ;;
		esac
	done < "$D/result"
	[ "$n" -gt 0 ] || fail "xvdb $1: case reported a result"
}

run_case good-io
phase close-idle
wait_key suspended > /dev/null
run_case close-idle-now
phase close-idle-done
wait_key resumed > /dev/null
run_case good-io
run_case close-idle
run_case reconnect
