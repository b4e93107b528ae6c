# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script of tests/xen/qos.sh: random 4 KiB reads, QD 32, 10 s on xvdc
# alone, then on xvdb (limited by dom0 to DOMU_QOS_N IOPS) and xvdc at
# once: xvdb must measure within 10 % of DOMU_QOS_N; after dom0 halved the
# limit, 8 s on xvdb must measure within 10 % of the half.
: "${DOMU_QOS_N:=300}"
wait_dev xvdb
wait_dev xvdc
phase connected
wait_key go > /dev/null

# rr SECONDS JOB=DEV...: one fio run, a job per disk; prints "JOB IOPS".
rr() {
	t=$1
	shift
	args=""
	for j in "$@"; do
		args="$args --name=${j%%=*} --filename=/dev/${j#*=}"
	done
	# shellcheck disable=SC2086 # $args: words
	fio --minimal --rw=randread --bs=4k --ioengine=libaio --iodepth=32 \
		--direct=1 --time_based --runtime="$t" --size=256M $args |
		awk -F';' '{ printf "%s %d\n", $3, $8 }'
}
# within VALUE TARGET: VALUE within 10 % of TARGET.
within() {
	awk -v v="$1" -v t="$2" 'BEGIN { d = v - t; if (d < 0) d = -d; exit !(d * 10 <= t) }'
}

alone=$(rr 10 free=xvdc | awk '$1 == "free" { print $2 }')
info "xvdc (unlimited) alone: ${alone:-?} IOPS"
both=$(rr 10 lim=xvdb free=xvdc)
lim=$(echo "$both" | awk '$1 == "lim" { print $2 }')
free=$(echo "$both" | awk '$1 == "free" { print $2 }')
info "xvdb limited to $DOMU_QOS_N: ${lim:-?} IOPS; xvdc next to it: ${free:-?} IOPS"
info "QOS-FIGURES-XEN limit=$DOMU_QOS_N limited=${lim:-?} unlimited_alone=${alone:-?} unlimited_with_neighbour=${free:-?}"
if [ -n "$lim" ] && within "$lim" "$DOMU_QOS_N"; then
	ok "xvdb measures $lim IOPS, within 10 % of $DOMU_QOS_N"
else
	fail "xvdb measures within 10 % of $DOMU_QOS_N" "measured ${lim:-none}"
fi
phase "connected measured"
wait_key go2 > /dev/null
half=$((DOMU_QOS_N / 2))
lim=$(rr 8 lim=xvdb | awk '$1 == "lim" { print $2 }')
info "xvdb after the limit changed to $half: ${lim:-?} IOPS"
if [ -n "$lim" ] && within "$lim" "$half"; then
	ok "xvdb follows the new limit: $lim IOPS, within 10 % of $half"
else
	fail "xvdb follows the new limit ($half)" "measured ${lim:-none}"
fi
phase "connected measured measured2"
wait_key fin > /dev/null
