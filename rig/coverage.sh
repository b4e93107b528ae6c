#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Line and branch coverage of pvblk reached by the debug runs (issue 10).
#
# The debug kernels have CONFIG_GCOV_KERNEL and rig/build-debug-modules.sh
# builds pvblk.ko (and pvblk_kunit.ko) with gcov counters.  Each debug VM
# run (rig/vm-run.sh) and debug dom0 run (rig/xen-run.sh) ends with
# rig/gcov-dump.sh printing the counters; the host keeps them as one
# tar.gz per run in $PVBLK_GCOV_DIR (default $PVBLK_CACHE/gcov/latest;
# make check uses a folder of its own).  This script merges them.
#
# Usage: rig/coverage.sh [--out DIR]      report (default DIR: results/coverage)
#        rig/coverage.sh --save LOG TAG   keep the counters a run's LOG printed
#        rig/coverage.sh --clear          forget the counters kept so far
# The report: DIR/index.html (lcov's genhtml), DIR/pvblk.info (merged
# tracefile, repository-relative paths), DIR/summary.txt (the table printed
# here: lines, branches and functions per directory) and DIR/uncovered.txt
# (functions never entered and lines never run, per file).  Coverage is a
# figure, not a check: the TAP lines say the report was made from N runs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
PVBLK_CACHE=${PVBLK_CACHE:-$HOME/.cache/pvblk}
GCOV_DIR=${PVBLK_GCOV_DIR:-$PVBLK_CACHE/gcov/latest}
# Directories reported, each on its own row.
DIRS="pvblk/core pvblk/frontends/vhost pvblk/frontends/xen"

case ${1:-} in
--save)
	log=$2 tag=$3
	grep -aq '^PVBLK-GCOV-END' "$log" || exit 0
	mkdir -p "$GCOV_DIR"
	out=$GCOV_DIR/$tag-$(date +%Y%m%d-%H%M%S)-$$.tar.gz
	# Only base64 lines between the markers: dom0's console can carry a
	# kernel line in the middle.
	if ! tr -d '\r' < "$log" | sed -n '/^PVBLK-GCOV-BEGIN/,/^PVBLK-GCOV-END/p' |
		grep -aE '^[A-Za-z0-9+/=]+$' | base64 -d > "$out" 2>/dev/null ||
		! gzip -t "$out" 2>/dev/null; then
		echo "# $tag: the gcov counters in $log are damaged, not kept"
		rm -f "$out"
	fi
	exit 0
	;;
--clear)
	rm -rf "$GCOV_DIR"
	exit 0
	;;
-h|--help) sed -n '3,20p' "$0"; exit 0 ;;
esac
out=$top/results/coverage
[ "${1:-}" = --out ] && out=$2

pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

command -v lcov > /dev/null || { notok "lcov is installed (rig/setup.sh installs it)"; finish; }
mapfile -t runs < <(ls "$GCOV_DIR"/*.tar.gz 2>/dev/null || true)
if [ ${#runs[@]} = 0 ]; then
	notok "gcov counters from the debug runs in $GCOV_DIR"
	finish
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -rf "$out"
mkdir -p "$out"
lrc=(--rc lcov_branch_coverage=1)
infos=()
n=0
for r in "${runs[@]}"; do
	x=$work/x
	rm -rf "$x"
	mkdir -p "$x"
	tar -xzf "$r" -C "$x"
	# The counters sit at the build directory's absolute path; the notes
	# files (.gcno) are in that directory on this host.
	gcda=$(find "$x" -name '*.gcda' | head -n 1)
	[ -n "$gcda" ] || { echo "# $(basename "$r"): no counters"; continue; }
	rel=${gcda#"$x"}
	bdir=${rel%/pvblk/*}
	if [ ! -d "$bdir/pvblk" ]; then
		echo "# $(basename "$r"): its build directory $bdir is gone"
		continue
	fi
	# gcov reads the notes (.gcno, from the build) beside the counters.
	objs=$x/${bdir#/}/pvblk
	(cd "$bdir/pvblk" && find . -name '*.gcno') | while read -r g; do
		if [ -f "$objs/${g%.gcno}.gcda" ]; then cp "$bdir/pvblk/$g" "$objs/$g"; fi
	done
	n=$((n + 1))
	info=$work/run$n.info
	if ! lcov "${lrc[@]}" --quiet --capture --directory "$objs" \
		--base-directory "$bdir" --gcov-tool gcov --output-file "$info.raw" \
		> "$work/lcov$n.log" 2>&1; then
		echo "# $(basename "$r"): lcov failed:"
		sed 's/^/#   /' "$work/lcov$n.log" | tail -5
		continue
	fi
	# Repository-relative source paths, whichever build the run used.
	sed "s|^SF:$bdir/|SF:|" "$info.raw" > "$info"
	infos+=(-a "$info")
done
if [ ${#infos[@]} = 0 ]; then
	notok "gcov counters of ${#runs[@]} runs read by lcov"
	finish
fi
ok "gcov counters of $n of ${#runs[@]} debug runs merged"

lcov "${lrc[@]}" --quiet "${infos[@]}" --output-file "$work/all.info" > /dev/null
patterns=()
for d in $DIRS; do patterns+=("$d/*"); done
lcov "${lrc[@]}" --quiet --extract "$work/all.info" "${patterns[@]}" \
	--output-file "$out/pvblk.info" > /dev/null
if (cd "$top" && genhtml "${lrc[@]}" --quiet --legend --title "pvblk (make check debug runs)" \
	--output-directory "$out" "$out/pvblk.info") > "$work/genhtml.log" 2>&1; then
	ok "lcov HTML report in $out/index.html"
else
	notok "lcov HTML report (genhtml: $(tail -1 "$work/genhtml.log"))"
fi

# The table and the uncovered list, from the tracefile itself.
awk -v dirs="$DIRS" -v unc="$out/uncovered.txt" '
	function dir_of(f,   i, n, d, best) {
		best = ""
		for (i = 1; i <= nd; i++)
			if (index(f, D[i] "/") == 1 && length(D[i]) > length(best))
				best = D[i]
		return best
	}
	BEGIN { nd = split(dirs, D, " ") }
	/^SF:/ { f = substr($0, 4); d = dir_of(f); next }
	/^DA:/ { split(substr($0, 4), a, ","); lt[d]++; if (a[2] > 0) lh[d]++
		 else miss[f] = miss[f] " " a[1]; next }
	/^BRDA:/ { split(substr($0, 6), a, ","); bt[d]++; if (a[4] != "-" && a[4] > 0) bh[d]++; next }
	/^FN:/ { split(substr($0, 4), a, ","); fline[f "," a[2]] = a[1]; next }
	/^FNDA:/ { split(substr($0, 6), a, ","); ft[d]++; if (a[1] > 0) fh[d]++
		   else nof[f] = nof[f] " " a[2] "():" fline[f "," a[2]]; next }
	END {
		printf "%-24s %22s %22s %18s\n", "directory", "lines", "branches", "functions"
		for (i = 1; i <= nd; i++) {
			d = D[i]
			printf "%-24s %6d/%-6d %6.1f %%  %6d/%-6d %6.1f %%  %5d/%-5d %5.1f %%\n", d,
				lh[d], lt[d], lt[d] ? 100 * lh[d] / lt[d] : 0,
				bh[d], bt[d], bt[d] ? 100 * bh[d] / bt[d] : 0,
				fh[d], ft[d], ft[d] ? 100 * fh[d] / ft[d] : 0
			LH += lh[d]; LT += lt[d]; BH += bh[d]; BT += bt[d]; FH += fh[d]; FT += ft[d]
		}
		printf "%-24s %6d/%-6d %6.1f %%  %6d/%-6d %6.1f %%  %5d/%-5d %5.1f %%\n", "all",
			LH, LT, LT ? 100 * LH / LT : 0, BH, BT, BT ? 100 * BH / BT : 0,
			FH, FT, FT ? 100 * FH / FT : 0
		cmd = "sort > \"" unc "\""
		for (f in nof)
			print f ": functions never entered:" nof[f] | cmd
		for (f in miss)
			print f ": lines never run:" miss[f] | cmd
		close(cmd)
	}' "$out/pvblk.info" > "$out/summary.txt"
sed 's/^/# /' "$out/summary.txt"
echo "# functions never entered and lines never run: $out/uncovered.txt"
ok "coverage table in $out/summary.txt"
finish
