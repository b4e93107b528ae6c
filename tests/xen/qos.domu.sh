# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=sh
# Guest script of tests/xen/qos.sh: random 4 KiB reads, QD 32: 6 s on each
# disk alone and unlimited (published as data/base for dom0, which picks
# the limit N from it), then 10 s on xvdb (limited to N) and xvdc at once:
# xvdb must measure within 10 % of N; after dom0 halved the limit, 8 s on
# xvdb within 10 % of the half.  The limited runs leave out their first
# 2 s (fio --ramp_time: the idle disk's burst).
wait_dev xvdb
wait_dev xvdc

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
		--direct=1 --time_based --runtime="$t" --ramp_time="${RAMP:-0}" \
		--size=256M $args |
		awk -F';' '{ printf "%s %d\n", $3, $8 }'
}
# within VALUE TARGET: VALUE within 10 % of TARGET.
within() {
	awk -v v="$1" -v t="$2" 'BEGIN { d = v - t; if (d < 0) d = -d; exit !(d * 10 <= t) }'
}

# Unlimited first: what this guest does alone on each disk (TCG makes it
# slow and the host's load varies); dom0 picks the limit from it.
alone=$(rr 6 free=xvdc | awk '$1 == "free" { print $2 }')
base=$(rr 6 lim=xvdb | awk '$1 == "lim" { print $2 }')
info "unlimited alone: xvdc ${alone:-?} IOPS, xvdb ${base:-?} IOPS"
xenstore-write data/base "${base:-0}"
phase "connected baseline"
n=$(wait_key go)
info "dom0 limited xvdb to $n read IOPS"
both=$(RAMP=2 rr 10 lim=xvdb free=xvdc)
lim=$(echo "$both" | awk '$1 == "lim" { print $2 }')
free=$(echo "$both" | awk '$1 == "free" { print $2 }')
info "xvdb limited to $n: ${lim:-?} IOPS; xvdc next to it: ${free:-?} IOPS"
info "QOS-FIGURES-XEN limit=$n limited=${lim:-?} unlimited_alone=${alone:-?} unlimited_with_neighbour=${free:-?}"
if [ -n "$lim" ] && within "$lim" "$n"; then
	ok "xvdb measures $lim IOPS, within 10 % of $n"
else
	fail "xvdb measures within 10 % of $n" "measured ${lim:-none}"
fi
phase "connected baseline measured"
half=$(wait_key go2)
lim=$(RAMP=2 rr 8 lim=xvdb | awk '$1 == "lim" { print $2 }')
info "xvdb after the limit changed to $half: ${lim:-?} IOPS"
if [ -n "$lim" ] && within "$lim" "$half"; then
	ok "xvdb follows the new limit: $lim IOPS, within 10 % of $half"
else
	fail "xvdb follows the new limit ($half)" "measured ${lim:-none}"
fi
phase "connected baseline measured measured2"
wait_key fin > /dev/null
