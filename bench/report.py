#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pvblk benchmark report: collects the PVBLK-BENCH lines of the serial logs
rig/bench.sh saved in OUT, writes OUT/bench.json (every raw figure, versions,
command lines), OUT/table.txt, OUT/bench.png (gnuplot) and prints the table,
the goals (reported, never asserted) and ok/not ok lines ending with
"N passed, N failed"."""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

import gnuplot
import xen_many

KVM_PATHS = ["host-io_uring", "host-libaio", "pvblk-vhost", "pvblk-vhost-poll", "qsd-vhost-user"]
# The path with busy polling on both sides runs only these jobs (its boot's
# PVBLK_BENCH_POLL_JOBS).
POLL_PATH = "pvblk-vhost-poll"
POLL_JOBS = ["lat1"]
# QD1 latency job: randread 4k, iodepth 1.
LAT_JOB = "lat1"
XEN_PATHS = ["pvblk-xen-pgnt", "pvblk-xen-nopgnt", "blkback-pgnt", "blkback-nopgnt"]
DEV_NAMES = {"nullb": "null_blk", "brd": "brd", "nullbwc": "null_blk-wc"}
DEVS = ["nullb", "brd", "nullbwc"]
# The flush-heavy job: fio randwrite 4k QD16 --fsync=1 (a FLUSH after every
# write); its IOPS are writes per second, each one followed by a flush.
FSYNC_JOB = "fsync1"

results = {"pass": 0, "fail": 0}


def ok(desc):
    print(f"ok - {desc}")
    results["pass"] += 1


def not_ok(desc, why=""):
    print(f"not ok - {desc}" + (f" ({why})" if why else ""))
    results["fail"] += 1


def sh(cmd):
    try:
        out = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30)
        return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def read_records(path, source):
    recs = []
    if not os.path.exists(path):
        return recs
    with open(path, errors="replace") as f:
        for line in f:
            m = re.search(r"PVBLK-BENCH (\{.*\})\s*$", line)
            if not m:
                continue
            try:
                r = json.loads(m.group(1))
            except json.JSONDecodeError:
                continue
            r["source"] = source
            recs.append(r)
    return recs


def read_xen_results(d):
    """fio JSON files the bench-xen guests published, named
    PATH__DEV__JOB__Q__REP.json, as records of mode xen."""
    recs = []
    if not os.path.isdir(d):
        return recs
    for guest in sorted(os.listdir(d)):
        for name in sorted(os.listdir(os.path.join(d, guest))):
            parts = name[:-5].split("__") if name.endswith(".json") else []
            if len(parts) != 5:
                continue
            try:
                with open(os.path.join(d, guest, name), errors="replace") as f:
                    text = f.read()
                j = json.loads(text[text.index("{"):])["jobs"][0]
            except (OSError, ValueError, KeyError, IndexError):
                continue
            dsel = j["read"] if j["read"]["total_ios"] > 0 else j["write"]
            recs.append({"mode": "xen", "path": parts[0], "dev": parts[1], "job": parts[2],
                         "queues": int(parts[3]), "rep": int(parts[4]),
                         "iops": j["read"]["iops"] + j["write"]["iops"],
                         "lat_us": dsel["lat_ns"]["mean"] / 1000,
                         "ios": j["read"]["total_ios"] + j["write"]["total_ios"],
                         "fio_runtime_ms": dsel["runtime"], "error": j["error"],
                         "guest": guest, "source": "xen",
                         "cmd": "fio (domU) " + " ".join(
                             f"--{k}={v}" for k, v in j.get("job options", {}).items())})
    return recs


def stats(vals):
    """median, min, max and spread = (max - min) / median in percent."""
    if not vals:
        return None
    med = statistics.median(vals)
    lo, hi = min(vals), max(vals)
    return {"median": med, "min": lo, "max": hi, "n": len(vals),
            "spread_pct": (100.0 * (hi - lo) / med) if med else 0.0,
            "values": vals}


def summarise(recs, paths):
    """{(path, dev, job, queues): stats of iops and lat}"""
    groups = {}
    for r in recs:
        if r.get("mode") not in ("wall", "xen"):
            continue
        key = (r["path"], r["dev"], r["job"], r["queues"])
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        out[key] = {"iops": stats([r["iops"] for r in rs]),
                    "lat_us": stats([r["lat_us"] for r in rs])}
        if any(r.get("syncs") for r in rs):
            out[key]["sync_lat_us"] = stats([r.get("sync_lat_us", 0) for r in rs])
            out[key]["syncs"] = sum(r.get("syncs", 0) for r in rs)
            out[key]["dev_flushes"] = sum(r.get("dev_flushes", 0) for r in rs)
    return out


def icount_pair(rs, n):
    """The short (N I/Os) and long (2N) run of one repetition, checked:
    (short, long, None) or (None, None, why).  Every record says how many
    I/Os it asked fio for (asked_ios, --number_ios) and how many fio did
    (ios, reads + writes from its JSON); a figure is only valid when both
    runs did exactly what they asked and the long one asked twice the
    short one (N itself when the report knows it)."""
    asked = sorted({r.get("asked_ios", 0) for r in rs})
    if not asked or asked[0] <= 0:
        return None, None, "runs without asked_ios (not an N/2N icount run)"
    want = (n, 2 * n) if n > 0 else (asked[0], 2 * asked[0])
    pick = {}
    for w in want:
        got = [r for r in rs if r.get("asked_ios") == w]
        if len(got) != 1:
            return None, None, f"{len(got)} runs asked for {w} I/Os (1 expected)"
        r = got[0]
        if r["ios"] != w:
            return None, None, f"fio did {r['ios']} I/Os where {w} were asked"
        if r.get("error"):
            return None, None, f"fio error {r['error']} in the {w}-I/O run"
        pick[w] = r
    return pick[want[0]], pick[want[1]], None


def icount_costs(recs, n=0):
    """Cost per I/O: per path, dev, job and rep,
    (T(2N) - T(N)) / (ios(2N) - ios(N)) in guest ns = instructions under
    -icount shift=0.  ios counts reads and writes: for fsync1 the cost is
    that of one write and the flush after it.  Resolution: one step of the
    clock over the I/O difference, 1 ms of fio runtime (10^6 instructions)
    for the primary figure, 1 us for the EPOCHREALTIME one.  A repetition
    whose counts are not what was asked makes the whole figure invalid:
    "cost" is then None and "invalid" says why."""
    runs = {}
    for r in recs:
        if r.get("mode") != "icount":
            continue
        runs.setdefault((r["path"], r["dev"], r.get("job", "randread"), r["rep"]), []).append(r)
    per = {}
    bad = {}
    for (path, dev, job, rep), rs in runs.items():
        short, long_, why = icount_pair(rs, n)
        if why:
            bad.setdefault((path, dev, job), []).append(f"rep {rep}: {why}")
            continue
        dios = long_["ios"] - short["ios"]
        cost = 1000.0 * (long_["guest_us"] - short["guest_us"]) / dios
        fio_cost = 1e6 * (long_["fio_runtime_ms"] - short["fio_runtime_ms"]) / dios
        per.setdefault((path, dev, job), []).append(
            {"rep": rep, "cost_insn": cost, "cost_fio_runtime_insn": fio_cost,
             "resolution_insn": 1e6 / dios, "resolution_epochrealtime_insn": 1e3 / dios,
             "short": {"ios": short["ios"], "asked_ios": short["asked_ios"],
                       "guest_us": short["guest_us"],
                       "fio_runtime_ms": short["fio_runtime_ms"]},
             "long": {"ios": long_["ios"], "asked_ios": long_["asked_ios"],
                      "guest_us": long_["guest_us"],
                      "fio_runtime_ms": long_["fio_runtime_ms"]}})
    # fio's own runtime (ms, from the first I/O to the last) leaves out
    # the start-up that the EPOCHREALTIME figure includes: the primary one.
    out = {}
    for k in set(per) | set(bad):
        v = per.get(k, [])
        if k in bad:
            out[k] = {"reps": v, "cost": None, "cost_epochrealtime": None,
                      "resolution_insn": None, "invalid": bad[k]}
            continue
        out[k] = {"reps": v, "cost": stats([x["cost_fio_runtime_insn"] for x in v]),
                  "cost_epochrealtime": stats([x["cost_insn"] for x in v]),
                  "resolution_insn": max(x["resolution_insn"] for x in v),
                  "resolution_epochrealtime_insn":
                      max(x["resolution_epochrealtime_insn"] for x in v),
                  "invalid": None}
    return out


def boot_env(boot):
    """The bench lists of a boot's guest environment (KEY=a+b words) as
    {KEY: [a, b]}."""
    env = {}
    for w in boot.get("guest_env", "").split():
        k, _, v = w.partition("=")
        if k.startswith("PVBLK_BENCH_") and v:
            env[k] = v.split("+")
    return env


def fmt_iops(s):
    if not s:
        return "-"
    m = s["median"]
    v = f"{m / 1000:.1f}k" if m >= 1000 else f"{m:.0f}"
    return f"{v} ±{s['spread_pct']:.0f}%" if s["n"] > 1 else v


def fmt_lat(s):
    if not s:
        return "-"
    return f"{s['median']:.0f}us ±{s['spread_pct']:.0f}%" if s["n"] > 1 else f"{s['median']:.0f}us"


def fmt_cost(c):
    """A cost figure of icount_costs() with its resolution, or INVALID."""
    if not c:
        return "-"
    if c["invalid"]:
        return "INVALID"
    s = c["cost"]
    return f"{s['median']:.0f} ±{s['spread_pct']:.1f}% (res {c['resolution_insn']:.0f})"


def ratio(a, b):
    if not a or not b or not b["median"]:
        return None
    return a["median"] / b["median"]


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x"


def table(summ, costs, paths, devs, ref_a, ref_b, title, not_run):
    lines = [title]
    # The flush job's columns only when it ran (in either mode).
    fs = any(k[2] == FSYNC_JOB for k in list(summ) + list(costs) if k[0] in paths)
    rjobs = ("randread", "randwrite") + ((FSYNC_JOB,) if fs else ())
    rsfx = " rr rw fs" if fs else " rr rw"
    lc = any(k[2] == LAT_JOB for k in costs if k[0] in paths)
    hdr = ["path", "randread q1", "randread q2", "randwrite q1", "randwrite q2",
           "QD1 lat", "cost/IO insn"] + (["QD1 insn"] if lc else [])
    if fs:
        hdr += [f"{FSYNC_JOB} q1", "flush lat", f"{FSYNC_JOB} insn"]
    hdr += [f"vs {ref_a}{rsfx}", f"vs {ref_b}{rsfx}"]
    for dev in devs:
        rows = []
        for p in paths:
            g = lambda job, q: summ.get((p, dev, job, q), {}).get("iops")
            if not_run and not any(k[0] == p for k in summ):
                rows.append([p] + ["not run"] + [""] * (len(hdr) - 2))
                continue
            cost = costs.get((p, dev, "randread"))
            ra = [ratio(g(j, 1), summ.get((ref_a, dev, j, 1), {}).get("iops")) for j in rjobs]
            rb = [ratio(g(j, 1), summ.get((ref_b, dev, j, 1), {}).get("iops")) for j in rjobs]
            row = [p, fmt_iops(g("randread", 1)), fmt_iops(g("randread", 2)),
                   fmt_iops(g("randwrite", 1)), fmt_iops(g("randwrite", 2)),
                   fmt_lat(summ.get((p, dev, LAT_JOB, 1), {}).get("lat_us")),
                   fmt_cost(cost)]
            if lc:
                row.append(fmt_cost(costs.get((p, dev, LAT_JOB))))
            if fs:
                row += [fmt_iops(g(FSYNC_JOB, 1)),
                        fmt_lat(summ.get((p, dev, FSYNC_JOB, 1), {}).get("sync_lat_us")),
                        fmt_cost(costs.get((p, dev, FSYNC_JOB)))]
            row += [" ".join(fmt_ratio(x) for x in ra), " ".join(fmt_ratio(x) for x in rb)]
            rows.append(row)
        w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
        lines.append(f"  device: {DEV_NAMES.get(dev, dev)}  (IOPS: median ±spread over reps, "
                     "spread = (max-min)/median)")
        lines.append("  " + "  ".join(h.ljust(w[i]) for i, h in enumerate(hdr)))
        lines.append("  " + "  ".join("-" * w[i] for i in range(len(hdr))))
        for r in rows:
            lines.append("  " + "  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))
        lines.append("")
    return lines


def goals(summ, costs):
    out = []

    def add(name, target, val, how):
        out.append({"goal": name, "target": target, "measured": val,
                    "met": (val is not None and val >= target), "how": how})

    for dev in ("nullb", "brd"):
        for job in ("randread", "randwrite"):
            a = summ.get(("pvblk-vhost", dev, job, 1), {}).get("iops")
            add(f"pvblk-vhost >= 0.95x host-io_uring ({dev} {job} q1)", 0.95,
                ratio(a, summ.get(("host-io_uring", dev, job, 1), {}).get("iops")),
                "median IOPS ratio, same boot")
            add(f"pvblk-vhost >= 1.5x qsd-vhost-user ({dev} {job} q1)", 1.5,
                ratio(a, summ.get(("qsd-vhost-user", dev, job, 1), {}).get("iops")),
                "median IOPS ratio, same boot")
            for p in ("pvblk-vhost", "host-io_uring"):
                add(f"{p} 2 queues >= 1.7x 1 queue ({dev} {job})", 1.7,
                    ratio(summ.get((p, dev, job, 2), {}).get("iops"),
                          summ.get((p, dev, job, 1), {}).get("iops")),
                    "median IOPS ratio, same boot")
    c_p = costs.get(("pvblk-vhost", "nullb", "randread"), {}).get("cost")
    for ref, tgt in (("host-io_uring", 1 / 0.95), ("qsd-vhost-user", None)):
        c_r = costs.get((ref, "nullb", "randread"), {}).get("cost")
        if c_p and c_r:
            out.append({"goal": f"cost per I/O: {ref} / pvblk-vhost (null_blk)",
                        "target": None, "measured": c_r["median"] / c_p["median"],
                        "met": None, "how": "instructions per I/O ratio (icount), information"})
    for dev in ("nullb", "brd"):
        ref = summ.get(("host-io_uring", dev, LAT_JOB, 1), {}).get("lat_us")
        for p, tgt in ((POLL_PATH, 2.0), ("pvblk-vhost", None)):
            lat = summ.get((p, dev, LAT_JOB, 1), {}).get("lat_us")
            r = ratio(lat, ref)
            out.append({"goal": f"{p} QD1 latency / host-io_uring's ({dev})"
                        + (f" <= {tgt:.1f}x" if tgt else ""),
                        "target": tgt, "measured": r,
                        "met": (r is not None and r <= tgt) if tgt else None,
                        "how": "median mean-latency ratio, same boot" +
                               ("" if tgt else ", information")})
    for job in ("randread", "randwrite"):
        for dev in ("nullb", "brd"):
            add(f"pvblk-xen >= 1.2x xen-blkback, persistent grants ({dev} {job} q1)", 1.2,
                ratio(summ.get(("pvblk-xen-pgnt", dev, job, 1), {}).get("iops"),
                      summ.get(("blkback-pgnt", dev, job, 1), {}).get("iops")),
                "median IOPS ratio in the domU, same Xen boot")
    return out


def plot(out_dir, summ, costs, panels_in):
    """bench.png: one panel of IOPS per path (median, min..max bars) per
    side (KVM, Xen) over its configurations, and the cost per I/O (icount)
    below.  panels_in: [(title, name, paths, configs)]."""
    panels = []
    for title, name, paths, configs in panels_in:
        dat = os.path.join(out_dir, f"plot-{name}.dat")
        with open(dat, "w") as f:
            f.write("# config " + " ".join(f"{p}_med {p}_min {p}_max" for p in paths) + "\n")
            for (label, dev, job, q) in configs:
                cols = []
                for p in paths:
                    s = summ.get((p, dev, job, q), {}).get("iops")
                    cols += ([s["median"] / 1000, s["min"] / 1000, s["max"] / 1000] if s
                             else ["NaN", "NaN", "NaN"])
                f.write(f'"{label}" ' + " ".join(str(c) for c in cols) + "\n")
        panels.append((title, dat, paths))
    cdat = os.path.join(out_dir, "plot-cost.dat")
    # One bar per path, job and device; randread on null_blk first.
    order = {j: i for i, j in enumerate(("randread", FSYNC_JOB, LAT_JOB))}
    cpaths = sorted((k for k in costs if k[0] in KVM_PATHS and costs[k]["cost"]),
                    key=lambda k: (order.get(k[2], 9), DEVS.index(k[1]) if k[1] in DEVS else 9,
                                   KVM_PATHS.index(k[0])))
    with open(cdat, "w") as f:
        f.write("# path median min max (k instructions per I/O; randread: QD128, "
                f"{FSYNC_JOB}: per write + its flush, QD16)\n")
        for k in cpaths:
            s = costs[k]["cost"]
            label = k[0] if k[1:] == ("nullb", "randread") else \
                f"{k[0]} {k[2]} {DEV_NAMES.get(k[1], k[1])}"
            f.write(f'"{label}" {s["median"] / 1000} {s["min"] / 1000} {s["max"] / 1000}\n')
    rows = len(panels) + (1 if cpaths else 0)
    png = os.path.join(out_dir, "bench.png")
    gp = os.path.join(out_dir, "plot.gp")
    with open(gp, "w") as f:
        f.write(gnuplot.preamble(png, 1400, 480 * rows + 40, "errorbars gap 1.5 lw 1",
                              rows=rows, boxwidth=0.9))
        for title, dat, paths in panels:
            f.write(f'set title "{title}"\nset ylabel "kIOPS"\nset xtics rotate by -20\nset key\n')
            plots = [f'"{dat}" using {2 + 3 * i}:{3 + 3 * i}:{4 + 3 * i}:xtic(1) '
                     f'title "{p}"' for i, p in enumerate(paths)]
            f.write("plot " + ", \\\n     ".join(plots) + "\n")
        if cpaths:
            f.write('set title "KVM side: cost per I/O = guest instructions (-icount shift=0), '
                    '(T(2N)-T(N))/(ios(2N)-ios(N)), 4k; unlabelled: null_blk randread QD128; '
                    f'{FSYNC_JOB}: write + flush, QD16; bars = min..max"\n')
            f.write('set ylabel "k instructions / I/O"\nset xtics rotate by -20\nunset key\n')
            f.write(f'plot "{cdat}" using 2:3:4:xtic(1) lc rgb "#4060c0"\n')
        if rows > 1:
            f.write("unset multiplot\n")
    return gnuplot.render(gp, png)


# ---- Issue 13, KVM side: many guests and queues, per-function profile ----
# (kept apart from the Xen side's sections, so the two merge)

SCALE_MODES = ("scale-wall", "scale-icount")
# Profile groups, in table order; "idle" is guest time without
# instructions (under -icount sleep=off a halted vCPU's clock jumps to the
# next timer), kept out of the instruction totals.
PROF_GROUPS = ["fio + driver (user)", "fio's kernel side (syscalls, io_uring, aio)",
               "vhost (worker, kick, call)", "pvblk core", "page pinning (gup)", "block layer",
               "device (null_blk)", "other"]
PROF_IDLE = "idle (no instructions)"
BLOCK_SYM = re.compile(r"^_*(blk|bio|blkdev|bdev|bd_|submit_bio|sbitmap|bvec|elv|rq_|req_|"
                       r"disk_|part_|wbt_|ioc_|iocg_|dd_|kyber_|bfq_|should_fail_bio)")
FIO_KERNEL_SYM = re.compile(r"io_uring|^_*io_|aio|eventfd|sys_|syscall|^_*x64_|^entry_|"
                            r"^do_syscall|^fdget|^fput|^_*fget")
IDLE_SYM = re.compile(r"safe_halt|default_idle|cpu_idle|do_idle|mwait|acpi_idle|"
                      r"intel_idle|cpuidle")
# Pinning the data pages for the device (O_DIRECT on the host paths, the
# core's pin_user_pages_fast() in the vhost worker for pvblk): the same
# work on every path, in whichever thread does it.
GUP_SYM = re.compile(r"^_*(gup_|pin_user_pages|get_user_pages|try_grab_|follow_page|"
                     r"unpin_user_page|bio_iov_iter_get_pages|iov_iter_extract_pages)")
VHOST_MODS = ("[vhost]", "[vhost_iotlb]")


def read_profile(path):
    """PVBLK-PROF lines of the icount log: {(path, ios asked): {"run": {...},
    "rows": [(samples, "tid:comm", dso, sym)]}}."""
    prof = {}
    if not os.path.exists(path):
        return prof
    with open(path, errors="replace") as f:
        for line in f:
            m = re.search(r"PVBLK-PROF-RUN (\{.*\})\s*$", line)
            if m:
                try:
                    r = json.loads(m.group(1))
                    prof.setdefault((r["path"], r["asked_ios"]), {"rows": []})["run"] = r
                except (json.JSONDecodeError, KeyError):
                    pass
                continue
            m = re.search(r"PVBLK-PROF (\S+) (\d+) (\d+)\|([^|]*)\|([^|]*)\|(.*?)\s*$", line)
            if m:
                prof.setdefault((m.group(1), int(m.group(2))), {"rows": []})["rows"].append(
                    (int(m.group(3)), m.group(4).strip(), m.group(5).strip(),
                     m.group(6).strip()))
    return prof


def prof_group(comm, dso, sym, worker):
    """The group of one sample (perf's comm, dso and '[k] name' symbol;
    worker: the thread is a vhost worker)."""
    name = sym.split("] ", 1)[-1]
    kernel = sym.startswith("[k]")
    if dso == "[pvblk]":
        return PROF_GROUPS[2] if name.startswith("vhost_blk_") else "pvblk core"
    if dso in VHOST_MODS:
        return PROF_GROUPS[2]
    if dso == "[null_blk]":
        return "device (null_blk)"
    if comm.startswith("swapper") or (kernel and IDLE_SYM.search(name)):
        return PROF_IDLE
    if not kernel:
        return "fio + driver (user)" if comm.startswith("fio") else "other"
    if GUP_SYM.search(name):
        return "page pinning (gup)"
    if BLOCK_SYM.search(name):
        return "block layer"
    if worker:
        return PROF_GROUPS[2]
    if comm.startswith("fio") and FIO_KERNEL_SYM.search(name):
        return PROF_GROUPS[1]
    return "other"


def prof_classify(rows):
    """{(group, "comm dso sym"): samples} of one perf run.  A vhost worker
    (a vhost_task: perf names it after its owner, fio) is a thread with
    samples in vhost.ko or the vhost_task functions."""
    workers = {tid for _, tid, dso, sym in rows
               if dso in VHOST_MODS or re.search(r"\] vhost_(task|worker)", sym)}
    out = {}
    for smp, tid, dso, sym in rows:
        comm = tid.split(":", 1)[-1]
        k = (prof_group(comm, dso, sym, tid in workers),
             f"{'vhost-worker' if tid in workers else comm} {dso} {sym}")
        out[k] = out.get(k, 0) + smp
    return out


def profile_summary(prof, n):
    """Per path: instructions per I/O of each group and symbol from the
    runs of N and 2N I/Os, (samples(2N) - samples(N)) x period / N (the
    start-up cancels; idle samples are not instructions).  Also the whole
    2N run per group, start-up included."""
    out = {}
    for path in sorted({k[0] for k in prof}):
        a, b = prof.get((path, n)), prof.get((path, 2 * n))
        if not a or not b or not a.get("run") or not b.get("run") or not a["rows"] \
                or not b["rows"]:
            continue
        if a["run"]["ios"] != n or b["run"]["ios"] != 2 * n:
            out[path] = {"invalid": f"fio did {a['run']['ios']} / {b['run']['ios']} I/Os "
                                    f"where {n} / {2 * n} were asked"}
            continue
        period = b["run"]["period_ns"]
        ca, cb = prof_classify(a["rows"]), prof_classify(b["rows"])
        groups = {g: {"insn_per_io": 0.0, "samples_n": 0, "samples_2n": 0, "top": []}
                  for g in PROF_GROUPS + [PROF_IDLE]}
        for k in set(ca) | set(cb):
            g = groups[k[0]]
            d = cb.get(k, 0) - ca.get(k, 0)
            g["samples_n"] += ca.get(k, 0)
            g["samples_2n"] += cb.get(k, 0)
            g["insn_per_io"] += d * period / n
            g["top"].append((d * period / n, k[1]))
        total = sum(v["insn_per_io"] for g_, v in groups.items() if g_ != PROF_IDLE)
        for g in groups.values():
            g["share_pct"] = 100.0 * g["insn_per_io"] / total if total else 0.0
            g["top"] = [{"insn_per_io": round(x, 1), "what": w}
                        for x, w in sorted(g["top"], reverse=True)[:8]]
        samples = sum(v for k, v in cb.items() if k[0] != PROF_IDLE)
        out[path] = {"invalid": None, "runs": [a["run"], b["run"]], "period_ns": period,
                     "insn_per_io": total, "resolution_insn": period / n,
                     "samples_2n": samples,
                     "whole_2n_run_insn_per_io": samples * period / (2 * n),
                     "groups": groups}
    return out


def scale_summary(recs, n):
    """{(guests, queues): {"iops": stats, "cost": ..., ...}} from the
    scale-wall (aggregate IOPS) and scale-icount (N/2N) records."""
    out = {}
    for r in recs:
        if r.get("mode") == "scale-wall":
            out.setdefault((r["guests"], r["queues"]), {}).setdefault("wall", []).append(r)
    for k, v in out.items():
        v["iops"] = stats([r["iops"] for r in v["wall"]])
        v["iops_per_guest_min"] = min(min(r["iops_per_guest"]) for r in v["wall"])
        v["iops_per_guest_max"] = max(max(r["iops_per_guest"]) for r in v["wall"])
        del v["wall"]
    runs = {}
    for r in recs:
        if r.get("mode") == "scale-icount":
            runs.setdefault((r["guests"], r["queues"], r["rep"]), []).append(r)
    per, bad = {}, {}
    for (g, q, rep), rs in runs.items():
        short, long_, why = icount_pair(rs, n)
        if why:
            bad.setdefault((g, q), []).append(f"rep {rep}: {why}")
            continue
        dios = long_["ios"] - short["ios"]
        per.setdefault((g, q), []).append(
            {"rep": rep,
             "cost_insn": 1000.0 * (long_["guest_us"] - short["guest_us"]) / dios,
             "cost_fio_runtime_insn":
                 1e6 * (long_["fio_runtime_ms"] - short["fio_runtime_ms"]) / dios,
             "resolution_insn": 1e3 / dios, "dios": dios,
             "ios": [short["ios"], long_["ios"]],
             "ios_per_guest": [short.get("ios_per_guest"), long_.get("ios_per_guest")]})
    for k in set(per) | set(bad):
        v = out.setdefault(k, {})
        if k in bad:
            v["cost"] = None
            v["invalid"] = bad[k]
            continue
        v["cost"] = stats([x["cost_insn"] for x in per[k]])
        v["cost_fio_runtime"] = stats([x["cost_fio_runtime_insn"] for x in per[k]])
        v["resolution_insn"] = max(x["resolution_insn"] for x in per[k])
        v["cost_reps"] = per[k]
        v["invalid"] = None
    return out


def scale_lines(scale):
    if not scale:
        return []
    lines = ["Many guests and queues (pvblk-vhost, null_blk randread 4k QD128 per queue; "
             "G fio processes = libpvv guests, each its own /dev/vhost-blk, Q queues each)",
             "  IOPS: one boot with 4 vCPUs, aggregate over the G guests, median ±spread "
             "over reps; cost: icount boot (1 vCPU), guest time around the G processes, "
             "(T(2N)-T(N))/N, start-up included"]
    hdr = ["guests x queues", "aggregate IOPS", "per guest min..max", "vs 1x1",
           "cost/IO insn (icount)", "vs 1x1"]
    rows = []
    base = scale.get((1, 1), {})
    for (g, q) in sorted(scale, key=lambda k: (k[1], k[0])):
        v = scale[(g, q)]
        c = v.get("cost")
        cost = ("INVALID" if v.get("invalid") else "-") if not c else \
            f"{c['median']:.0f} ±{c['spread_pct']:.1f}% (res {v['resolution_insn']:.2f})"
        pg = (f"{v['iops_per_guest_min'] / 1000:.1f}k..{v['iops_per_guest_max'] / 1000:.1f}k"
              if "iops" in v else "-")
        rows.append([f"{g} x {q}", fmt_iops(v.get("iops")), pg,
                     fmt_ratio(ratio(v.get("iops"), base.get("iops"))), cost,
                     fmt_ratio(ratio(c, base.get("cost")))])
    w = [max(len(x) for x in col) for col in zip(hdr, *rows)]
    lines.append("  " + "  ".join(h.ljust(n) for h, n in zip(hdr, w)))
    lines.append("  " + "  ".join("-" * n for n in w))
    lines += ["  " + "  ".join(x.ljust(n) for x, n in zip(r, w)) for r in rows]
    costs = [v["cost"]["median"] for v in scale.values() if v.get("cost")]
    if len(costs) > 1:
        lines.append(f"  cost per I/O max/min over the {len(costs)} configurations: "
                     f"{max(costs) / min(costs):.3f}x (flat = within 1.10x)")
    lines.append("")
    return lines


def profile_lines(ps):
    ok_ps = {p: v for p, v in ps.items() if not v.get("invalid")}
    lines = []
    for p, v in sorted(ps.items()):
        if v.get("invalid"):
            lines.append(f"Profile of {p}: INVALID ({v['invalid']})")
    if not ok_ps:
        return lines + ([""] if lines else [])
    paths = [p for p in ("pvblk-vhost", "host-libaio", "host-io_uring") if p in ok_ps] + \
        sorted(p for p in ok_ps if p not in ("pvblk-vhost", "host-libaio", "host-io_uring"))
    lines.append("Where the instructions go (icount boot, null_blk randread 4k QD128; perf "
                 "record -e cpu-clock -a, one sample per PERIOD guest ns = instructions; "
                 "insn/IO = (samples(2N) - samples(N)) x period / N, start-up cancelled)")
    hdr = ["group"] + paths
    rows = []
    for g in PROF_GROUPS + [PROF_IDLE]:
        rows.append([g] + [f"{ok_ps[p]['groups'][g]['insn_per_io']:.0f} "
                           f"({ok_ps[p]['groups'][g]['share_pct']:.1f}%)" for p in paths])
    rows.append(["total (idle excluded)"] + [
        f"{ok_ps[p]['insn_per_io']:.0f} ({ok_ps[p]['samples_2n']} samples in 2N, "
        f"1 sample = {ok_ps[p]['resolution_insn']:.1f})" for p in paths])
    w = [max(len(x) for x in col) for col in zip(hdr, *rows)]
    lines.append("  " + "  ".join(h.ljust(n) for h, n in zip(hdr, w)))
    lines.append("  " + "  ".join("-" * n for n in w))
    lines += ["  " + "  ".join(x.ljust(n) for x, n in zip(r, w)) for r in rows]
    for p in paths:
        top = sorted(((t["insn_per_io"], t["what"]) for g_, gv in ok_ps[p]["groups"].items()
                      if g_ != PROF_IDLE for t in gv["top"]), reverse=True)[:12]
        lines.append(f"  {p} top symbols (insn/IO): " + "; ".join(
            f"{w_} {x:.0f}" for x, w_ in top))
    lines.append("")
    return lines


def plot_profile(out_dir, ps):
    """profile.png: one stacked bar per path, k instructions per I/O per group."""
    ps = {p: v for p, v in ps.items() if not v.get("invalid")}
    if not ps:
        return None, "no valid profile"
    paths = [p for p in ("pvblk-vhost", "host-libaio", "host-io_uring") if p in ps] + \
        sorted(p for p in ps if p not in ("pvblk-vhost", "host-libaio", "host-io_uring"))
    dat = os.path.join(out_dir, "plot-profile.dat")
    with open(dat, "w") as f:
        f.write("# path " + " ".join(f'"{g}"' for g in PROF_GROUPS) + "\n")
        for p in paths:
            f.write(f'"{p}" ' + " ".join(
                f"{max(ps[p]['groups'][g]['insn_per_io'], 0) / 1000:.3f}"
                for g in PROF_GROUPS) + "\n")
    png = os.path.join(out_dir, "profile.png")
    gp = os.path.join(out_dir, "plot-profile.gp")
    with open(gp, "w") as f:
        f.write(gnuplot.preamble(png, 1200, 600, "rowstacked", fill=0.8, boxwidth=0.6))
        f.write('set title "Where the instructions go: null_blk randread 4k QD128, icount '
                '(1 vCPU), perf cpu-clock, (2N - N) / N"\n'
                'set ylabel "k guest instructions / I/O"\n')
        cols = [f'"{dat}" using {2 + i}:xtic(1) title "{g}"' for i, g in enumerate(PROF_GROUPS)]
        f.write("plot " + ", \\\n     ".join(cols) + "\n")
    return gnuplot.render(gp, png)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", default="full")
    ap.add_argument("--xen-note", default="")
    ap.add_argument("--n", type=int, default=0)
    ap.add_argument("--cmdline", default="")
    ap.add_argument("--versions", default="")
    ap.add_argument("--xen-paths", default=" ".join(XEN_PATHS),
                    help="Xen paths the scenario was asked to run")
    ap.add_argument("--xen-reps", type=int, default=0,
                    help="repetitions the Xen scenario was asked to run (0: no plan)")
    a = ap.parse_args()
    out = a.out

    recs = (read_records(os.path.join(out, "kvm-wall.log"), "kvm-wall")
            + read_records(os.path.join(out, "kvm-scale.log"), "kvm-scale")
            + read_records(os.path.join(out, "kvm-icount.log"), "kvm-icount")
            + read_xen_results(os.path.join(out, "xen-results")))
    boots = []
    if os.path.exists(os.path.join(out, "boots.txt")):
        with open(os.path.join(out, "boots.txt")) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 2:
                    boots.append({"name": parts[0], "exit": int(parts[1]),
                                  "vm_run_args": parts[2] if len(parts) > 2 else "",
                                  "accel": parts[3] if len(parts) > 3 else "",
                                  "qemu_extra": parts[4] if len(parts) > 4 else "",
                                  "guest_env": parts[5] if len(parts) > 5 else ""})
    summ = summarise(recs, KVM_PATHS + XEN_PATHS)
    costs = icount_costs(recs, a.n)
    xen_ran = any(r["source"] == "xen" for r in recs)
    # What the Xen scenario planned (tests/xen/bench-xen.sh) and did not
    # deliver: a boot killed part way keeps the figures it printed.
    xen_devs_plan, xen_jobs_plan = ((["nullb"], ["randread"]) if a.mode == "smoke" else
                                    (["nullb", "brd"], ["randread", "randwrite", "lat1"]))
    xen_missing = [f"{p} {d} {j} q1 rep={r}" for p in a.xen_paths.split()
                   for d in xen_devs_plan for j in xen_jobs_plan
                   for r in range(1, a.xen_reps + 1)
                   if not any(x["source"] == "xen" and x["path"] == p and x["dev"] == d
                              and x["job"] == j and x["rep"] == r and x["iops"] > 0
                              for x in recs)] if xen_ran else []

    lines = [f"pvblk benchmark ({a.mode}), {datetime.datetime.now():%Y-%m-%d %H:%M}, "
             "QEMU TCG guests on a 2-core host: ratios are meaningful, absolute IOPS are not", ""]
    lines += table(summ, costs, KVM_PATHS, [d for d in DEVS
                   if any(k[1] == d for k in list(summ) + list(costs) if k[0] in KVM_PATHS)],
                   "host-io_uring", "qsd-vhost-user",
                   "KVM side (one boot of the rig VM, 2 vCPUs; cost/IO from a second boot "
                   "under -icount, 1 vCPU)", False)
    xen_devs = [d for d in DEVS if any(k[1] == d for k in summ if k[0] in XEN_PATHS)]
    if xen_ran and xen_devs:
        lines += table(summ, costs, XEN_PATHS, xen_devs, "blkback-pgnt", "blkback-nopgnt",
                       "Xen side (domU fio, one Xen boot; pgnt = persistent grants)", True)
        if xen_missing:
            lines.append(f"Xen side is PARTIAL: {len(xen_missing)} planned figure(s) missing "
                         "(the boot ended early, see boots in bench.json): "
                         + ", ".join(xen_missing))
            lines.append("")
    else:
        lines.append("Xen side: not run: " + (a.xen_note or "no figures in the Xen console log"))
        lines.append("")
    # Xen: cost per I/O and many guests (bench/xen_many.py).
    many_lines, many_doc = xen_many.report(out, ok, not_ok)
    lines += many_lines
    scale = scale_summary(recs, a.n)
    prof = profile_summary(read_profile(os.path.join(out, "kvm-icount.log")), a.n)
    lines += scale_lines(scale)
    lines += profile_lines(prof)
    gl = goals(summ, costs)
    lines.append("Goals (reported, never asserted):")
    for g in gl:
        if g["measured"] is None:
            state = "not measured"
        elif g["met"] is None:
            state = f"{g['measured']:.2f}x"
        else:
            state = f"{g['measured']:.2f}x " + ("met" if g["met"] else "MISSED")
        lines.append(f"  {g['goal']}: {state}")
    cl = []
    for (p, d, j), c in sorted(costs.items()):
        what = f"  {p} {j} {DEV_NAMES.get(d, d)}: "
        if c["invalid"]:
            cl.append(what + "INVALID (" + "; ".join(c["invalid"]) + ")")
            continue
        cs, ce = c["cost"], c["cost_epochrealtime"]
        dios = c["reps"][0]["long"]["ios"] - c["reps"][0]["short"]["ios"]
        cl.append(what + f"median {cs['median']:.0f} insn/IO (resolution "
                  f"{c['resolution_insn']:.1f}: 1 ms / {dios} I/Os), "
                  f"spread {cs['spread_pct']:.1f}% over {cs['n']} reps "
                  f"({', '.join(f'{x:.0f}' for x in cs['values'])}); "
                  f"(around fio, start-up included: {ce['median']:.0f}, "
                  f"spread {ce['spread_pct']:.1f}%, resolution "
                  f"{c['resolution_epochrealtime_insn']:.2f})")
    if cl:
        lines.append("Cost per I/O (4k, 1 queue; randread QD128, fsync1 = one write + its "
                     f"flush at QD16, {LAT_JOB} = randread QD1; icount, instructions):")
        lines += cl
    fl = [f"  {p} {DEV_NAMES.get(d, d)}: {v['syncs']} fsyncs, {v['dev_flushes']} flushes "
          "completed by the device"
          for (p, d, j, q), v in sorted(summ.items()) if j == FSYNC_JOB and "syncs" in v]
    if fl:
        lines.append(f"{FSYNC_JOB}: flushes that reached the device (its stat file; 0 on a "
                     "write-through device, where the block layer completes an empty flush):")
        lines += fl
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text)

    # Checks: a figure from every path, the JSON, the PNG.
    for b in boots:
        if b["exit"] == 0:
            ok(f"boot {b['name']} passed (every fio run ok, no kernel report)")
        else:
            not_ok(f"boot {b['name']} passed", f"vm-run exit {b['exit']}, see its log in {out}")
    for b in boots:
        if b["name"].startswith("kvm wall"):
            env = boot_env(b)
            for p in env.get("PVBLK_BENCH_PATHS", KVM_PATHS):
                if p == POLL_PATH and not set(env.get("PVBLK_BENCH_POLL_JOBS", POLL_JOBS)) \
                        & set(env.get("PVBLK_BENCH_JOBS", [])):
                    continue
                n = sum(1 for r in recs if r["path"] == p and r["mode"] == "wall" and r["iops"] > 0)
                if n:
                    ok(f"{p}: {n} wall-clock figures")
                else:
                    not_ok(f"{p}: wall-clock figures", "none in kvm-wall.log")
        if b["name"].startswith("kvm icount"):
            env = boot_env(b)
            for p in env.get("PVBLK_BENCH_PATHS", KVM_PATHS):
                for d in env.get("PVBLK_BENCH_DEVS", ["nullb"]):
                    for j in env.get("PVBLK_BENCH_ICOUNT_JOBS", ["randread"]):
                        if d == "nullbwc" and j != FSYNC_JOB:
                            continue
                        if p == POLL_PATH and \
                                j not in env.get("PVBLK_BENCH_POLL_JOBS", POLL_JOBS):
                            continue
                        c = costs.get((p, d, j))
                        what = f"{p}: cost per I/O, {j} on {DEV_NAMES.get(d, d)}"
                        if c and c["invalid"]:
                            not_ok(what, "INVALID: " + "; ".join(c["invalid"]))
                        elif c and c["cost"]["median"] > 0:
                            ok(f"{what}: {c['cost']['median']:.0f} instructions "
                               f"(resolution {c['resolution_insn']:.0f}, "
                               f"spread {c['cost']['spread_pct']:.1f}%)")
                        else:
                            not_ok(what, "no icount figures")
    for b in boots:
        env = boot_env(b)
        if b["name"].startswith("kvm scale") or b["name"].startswith("kvm icount"):
            mode = "scale-wall" if b["name"].startswith("kvm scale") else "scale-icount"
            for w in env.get("PVBLK_BENCH_SCALE", []):
                g, _, q = w.partition("x")
                v = scale.get((int(g), int(q)), {})
                what = f"scale {g} guests x {q} queues: " + \
                    ("aggregate IOPS" if mode == "scale-wall" else "cost per I/O")
                if mode == "scale-wall":
                    if v.get("iops"):
                        ok(f"{what} {v['iops']['median']:.0f} (±{v['iops']['spread_pct']:.0f}%)")
                    else:
                        not_ok(what, "no figure in kvm-scale.log")
                elif v.get("invalid"):
                    not_ok(what, "INVALID: " + "; ".join(v["invalid"]))
                elif v.get("cost"):
                    ok(f"{what} {v['cost']['median']:.0f} instructions "
                       f"(resolution {v['resolution_insn']:.2f})")
                else:
                    not_ok(what, "no icount figures")
        if b["name"].startswith("kvm icount"):
            for p in env.get("PVBLK_BENCH_PROFILE", []):
                if p in prof and prof[p]["invalid"]:
                    not_ok(f"profile {p}", "INVALID: " + prof[p]["invalid"])
                elif p in prof:
                    ok(f"profile {p}: {prof[p]['samples_2n']} samples in the 2N run, "
                       f"{prof[p]['insn_per_io']:.0f} instructions per I/O (2N - N)")
                else:
                    not_ok(f"profile {p}", "no PVBLK-PROF lines in kvm-icount.log")
    if prof:
        ppng, perr = plot_profile(out, prof)
        if ppng and os.path.getsize(ppng) > 1000:
            ok(f"profile.png written: {ppng}")
        else:
            not_ok("profile.png written", perr or "empty file")
    if xen_ran:
        for p in a.xen_paths.split():
            n = sum(1 for r in recs if r["path"] == p and r["iops"] > 0)
            if n:
                ok(f"{p}: {n} figures")
            else:
                not_ok(f"{p}: figures", "none in the Xen console log")
        if xen_missing:
            print(f"# xen: partial, {len(xen_missing)} planned figure(s) missing: "
                  + ", ".join(xen_missing))
    else:
        print(f"# xen: not run: {a.xen_note}")

    panels = []
    for side, name, paths in (("KVM side (one rig VM boot)", "kvm", KVM_PATHS),
                              ("Xen side (domU fio, one Xen boot)", "xen", XEN_PATHS)):
        present = [p for p in paths if any(k[0] == p and k[2] in ("randread", "randwrite",
                                                                   FSYNC_JOB) for k in summ)]
        configs = []
        for dev in DEVS:
            for job, short in (("randread", "rr"), ("randwrite", "rw"), (FSYNC_JOB, "fs")):
                for q in (1, 2):
                    if any(k[1:] == (dev, job, q) for k in summ if k[0] in present):
                        configs.append((f"{DEV_NAMES[dev]} {short} q{q}", dev, job, q))
        if present and configs:
            panels.append((f"{side}: IOPS per path, 4k, rr/rw QD128, fs = {FSYNC_JOB} QD16 "
                           "(writes/s); median, bars = min..max; compare inside one boot only",
                           name, present, configs))
    png, err = (None, "no figures to plot")
    if panels or costs:
        png, err = plot(out, summ, costs, panels)

    versions = {
        "kernel_guest": a.versions,
        "kernel_image_pkg": sh(f"dpkg-query -W -f '${{Version}}' linux-image-{a.versions}"),
        "qemu": sh("qemu-system-x86_64 --version"),
        "qemu_storage_daemon": sh("qemu-storage-daemon --version"),
        "fio": sh("fio --version"),
        "xen_pkg": sh("dpkg-query -W -f '${Version}' xen-hypervisor-4.17-amd64"),
        "gnuplot": sh("gnuplot --version"),
        "host_kernel": platform.release(),
        "host_cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
        "host_cpus": os.cpu_count(),
        "pvblk_git": sh("git rev-parse HEAD"),
        "pvblk_git_dirty": bool(sh("git status --porcelain -- pvblk tools bench rig")),
    }
    doc = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "mode": a.mode,
        "command": a.cmdline,
        "versions": versions,
        "boots": boots,
        "qemu_base": "qemu-system-x86_64 -accel <accel> -cpu max -smp N -m MB -M q35 -nodefaults "
                     "-no-reboot -display none -serial stdio -nic none -kernel "
                     "/boot/vmlinuz-<kver> -initrd <rig initramfs> (rig/vm-run.sh)",
        "icount": {"n_short": a.n, "n_long": 2 * a.n,
                   "method": "under -icount shift=0,sleep=off (1 ns of guest time per "
                             "instruction), fio's runtime (ms) for N and 2N I/Os: cost = "
                             "(T(2N)-T(N))/(ios(2N)-ios(N)) ns = instructions per I/O; "
                             "cost_epochrealtime: the same from the guest time around the "
                             "whole fio process. resolution_insn = 1 ms / (ios(2N)-ios(N)) "
                             "(fio's runtime step), resolution_epochrealtime_insn = 1 us / "
                             "(ios(2N)-ios(N)). A figure is invalid (cost null, 'invalid' "
                             "says why) unless every repetition's runs did exactly the "
                             "asked_ios (--number_ios) fio's JSON reports, N and 2N"},
        "xen_note": a.xen_note if not xen_ran else "",
        "xen_missing": xen_missing,
        "records": recs,
        "summary": [{"path": k[0], "dev": k[1], "job": k[2], "queues": k[3], **v}
                    for k, v in sorted(summ.items())],
        "cost_per_io": [{"path": k[0], "dev": k[1], "job": k[2], **v}
                        for k, v in sorted(costs.items())],
        "scale": [{"guests": k[0], "queues": k[1], **v} for k, v in sorted(scale.items())],
        "profile": prof,
        "goals": gl,
        "xen_many": many_doc,
        "table": text,
    }
    jpath = os.path.join(out, "bench.json")
    try:
        with open(jpath, "w") as f:
            json.dump(doc, f, indent=1)
        with open(jpath) as f:
            json.load(f)
        ok(f"bench.json written ({len(recs)} raw records): {jpath}")
    except (OSError, ValueError) as e:
        not_ok("bench.json written", str(e))
    if png and os.path.getsize(png) > 1000:
        ok(f"bench.png written: {png}")
    elif not panels and not costs and many_doc:
        print("# bench.png: no KVM or single-guest Xen figure in this run (many guests only)")
    else:
        not_ok("bench.png written", err or "empty file")
    print(f"{results['pass']} passed, {results['fail']} failed")
    return 1 if results["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
