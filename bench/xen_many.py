# SPDX-License-Identifier: GPL-2.0
"""Xen: cost per I/O and many guests (issue 13), for bench/report.py.

rig/bench.sh runs tests/xen/bench-many.sh in two Xen boots and copies what
the guests published to OUT/xen-many-wall/ and OUT/xen-many-icount/
(results/<guest>/PATH__gG__SEQ__wK.json, one fio JSON per guest and window,
plus a file "plan" with the boot's paths and guest counts).  In every run
(a path and a guest count G) the G guests start two windows of 4k random
reads at the same realtime second, RT and 2*RT seconds long (fio
time_based, after its ramp).

- wall boot: aggregate IOPS = the sum of the G guests' IOPS in a window
  (both windows are given; spread = their difference over their median).
- icount boot (-icount shift=0,sleep=off: every clock of the machine, Xen's
  and so every domain's, advances 1 ns per instruction executed by any
  vCPU, whoever runs it - domU, dom0 or the hypervisor - plus the warps to
  the next timer when every vCPU is idle): cost = (T(w2) - T(w1)) /
  (ios(w2) - ios(w1)), with T(w) the mean of the guests' fio runtime (ms)
  and ios(w) the sum of their completed I/Os from fio's JSON: whole-machine
  instructions per I/O.  Resolution: 1 ms of fio runtime over the I/Os
  between the windows.
"""

import glob
import json
import os
import re
import statistics
import subprocess

import gnuplot

FNAME = re.compile(r"^(?P<path>[a-z0-9-]+)__g(?P<g>\d+)__(?P<seq>\d+)__w(?P<w>[12])\.json$")
PATHS = ["pvblk-xen-pgnt", "blkback-pgnt", "pvblk-xen-nopgnt", "blkback-nopgnt"]


def read_boot(d):
    """Records of one boot's results directory: one per guest and window."""
    recs = []
    rdir = os.path.join(d, "results")
    if not os.path.isdir(rdir):
        return recs
    for guest in sorted(os.listdir(rdir)):
        gdir = os.path.join(rdir, guest)
        for fn in sorted(os.listdir(gdir)):
            m = FNAME.match(fn)
            if not m:
                continue
            try:
                with open(os.path.join(gdir, fn), errors="replace") as f:
                    j = json.load(f)
                job = j["jobs"][0]
                rd = job["read"]
                recs.append({"path": m["path"], "guests": int(m["g"]), "seq": int(m["seq"]),
                             "window": int(m["w"]), "guest": guest,
                             "ios": rd["total_ios"], "runtime_ms": rd["runtime"],
                             "iops": rd["iops"], "error": job["error"],
                             "end_ms": j.get("timestamp_ms", 0)})
            except (OSError, ValueError, KeyError, IndexError) as e:
                recs.append({"path": m["path"], "guests": int(m["g"]), "seq": int(m["seq"]),
                             "window": int(m["w"]), "guest": guest, "ios": 0,
                             "runtime_ms": 0, "iops": 0, "error": str(e), "end_ms": 0})
    return recs


def read_plan(d):
    plan = {"paths": [], "guests": [], "prof": []}
    try:
        with open(os.path.join(d, "plan")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k in plan:
                    plan[k] = v.replace("+", " ").split()
    except OSError:
        pass
    plan["guests"] = [int(g) for g in plan["guests"]]
    # "stat" (bench-many.sh: /proc/stat only, no perf) has no profile.
    plan["prof"] = int(plan["prof"][0]) if plan["prof"] and plan["prof"][0].isdigit() else 0
    return plan


def runs(recs):
    """One entry per (path, G): both windows summed over the guests."""
    out = {}
    for key in sorted({(r["path"], r["guests"]) for r in recs}):
        rs = [r for r in recs if (r["path"], r["guests"]) == key]
        e = {"windows": {}, "invalid": []}
        for w in (1, 2):
            ws = [r for r in rs if r["window"] == w]
            bad = [r for r in ws if r["error"] or r["ios"] <= 0]
            if len(ws) != key[1] or bad:
                e["invalid"].append(f"window {w}: {len(ws)} of {key[1]} guests, "
                                    f"{len(bad)} with an error or no I/O")
                continue
            ends = [r["end_ms"] for r in ws]
            e["windows"][w] = {
                "ios": sum(r["ios"] for r in ws),
                "iops": sum(r["iops"] for r in ws),
                "runtime_ms": statistics.mean(r["runtime_ms"] for r in ws),
                "runtime_ms_each": [r["runtime_ms"] for r in ws],
                "ios_each": [r["ios"] for r in ws],
                "end_skew_ms": max(ends) - min(ends),
            }
        out[key] = e
    return out


def icount_cost(e):
    w = e["windows"]
    if e["invalid"] or 1 not in w or 2 not in w:
        return None
    dios = w[2]["ios"] - w[1]["ios"]
    dt = w[2]["runtime_ms"] - w[1]["runtime_ms"]
    if dios <= 0 or dt <= 0:
        return None
    return {"insn_per_io": dt * 1e6 / dios, "resolution_insn": 1e6 / dios,
            "resolution_pct": 100.0 / dt, "d_ios": dios, "d_ms": dt,
            "single_window_insn": [w[k]["runtime_ms"] * 1e6 / w[k]["ios"] for k in (1, 2)]}


def plot(out, wall, costs, keys):
    """bench-xen-many.png: instructions per I/O (icount) and aggregate IOPS
    (wall, window 2) per path, one bar per guest count."""
    paths = [p for p in PATHS + sorted({k[0] for k in keys} - set(PATHS))
             if any(k[0] == p for k in keys)]
    gs = sorted({k[1] for k in keys})
    dat = os.path.join(out, "plot-xen-many.dat")
    with open(dat, "w") as f:
        f.write("# path " + " ".join(f"insn_g{g} kiops_g{g}" for g in gs) + "\n")
        for p in paths:
            cols = []
            for g in gs:
                c = costs.get((p, g))
                w = wall.get((p, g), {}).get("windows", {}).get(2)
                cols += [f"{c['insn_per_io'] / 1000:.3f}" if c else "NaN",
                         f"{w['iops'] / 1000:.3f}" if w else "NaN"]
            f.write(f'"{p}" ' + " ".join(cols) + "\n")
    has_c = any(costs.get((p, g)) for p in paths for g in gs)
    has_w = any(wall.get((p, g), {}).get("windows", {}).get(2) for p in paths for g in gs)
    png = os.path.join(out, "bench-xen-many.png")
    gp = os.path.join(out, "plot-xen-many.gp")
    with open(gp, "w") as f:
        rows = int(has_c) + int(has_w)
        f.write(gnuplot.preamble(png, 1200, 450 * rows + 40, "clustered gap 1.5", rows=rows))
        if has_c:
            f.write('set title "Xen: whole-machine instructions per I/O (-icount shift=0,'
                    'sleep=off), 4k randread, G guests at once"\n'
                    'set ylabel "k instructions / I/O"\n')
            f.write("plot " + ", ".join(f'"{dat}" using {2 + 2 * i}:xtic(1) title "{g} guest(s)"'
                                        for i, g in enumerate(gs)) + "\n")
        if has_w:
            f.write('set title "Xen: aggregate IOPS of the G guests (wall clock, TCG: compare '
                    'inside this boot only)"\nset ylabel "kIOPS"\n')
            f.write("plot " + ", ".join(f'"{dat}" using {3 + 2 * i}:xtic(1) title "{g} guest(s)"'
                                        for i, g in enumerate(gs)) + "\n")
        if rows > 1:
            f.write("unset multiplot\n")
    return gnuplot.render(gp, png)


# ---- Where the instructions go (PVBLK_BENCH_MANY_PROF, icount boot) ----
#
# dom0 runs `perf record -e cpu-clock -c PERIOD -a` from 3 s before to 3 s
# after each window, every measured guest around its fio (bench-many.sh);
# with -icount shift=0 one ns of a vCPU's clock is one instruction of the
# whole machine, not of that vCPU (both pCPUs share one instruction
# counter), so a sample is PERIOD ns of that vCPU's time.  Per group,
# (samples(w2) - samples(w1)) x PERIOD / (ios(w2) - ios(w1)) = vCPU ns per
# I/O; start-up, ramp and the idle margins cancel.

XPROF_DOM0 = ["pvblk-xen frontend", "pvblk core", "xen-blkback", "grant tables, event channels",
              "hypercalls (Xen, seen from the caller)", "block layer", "null_blk", "other"]
XPROF_DOMU = ["fio (user)", "fio's kernel side (syscalls, aio)", "blkfront",
              "grant tables, event channels", "hypercalls (Xen, seen from the caller)",
              "block layer", "other"]
XPROF_PERF = "perf itself"
XPROF_IDLE = "idle"
XPROF_LINE = re.compile(r"PVBLK-XPROF dom0 (\S+) (\d+) (\d+) ([12]) (\d+)\|([^|]*)\|([^|]*)\|(.*?)\s*$")
XPROF_HC = re.compile(r"PVBLK-XPROF-HC dom0 (\S+) (\d+) (\d+) ([12]) (\d+)\|([^|]*)\|(.*?)\s*$")
XPROF_STAT = re.compile(r"PVBLK-XPROF-STAT dom0 (\S+) (\d+) (\d+) ([12]) (cpu .*?) \| (cpu .*?)\s*$")
BLOCK_SYM = re.compile(r"^_*(blk|bio|blkdev|bdev|bd_|submit_bio|sbitmap|bvec|elv|rq_|req_|"
                       r"disk_|part_|wbt_|dd_|kyber_|bfq_|should_fail_bio)")
# Grant table and event channel code of the kernel (and the paravirt
# upcall that delivers an event), in dom0 and the guests alike.
GNT_EVT_SYM = re.compile(r"gnttab|grant|evtchn|xen_irq|notify_remote_via|handle_irq_for_port|"
                         r"xen_hypervisor_callback|xen_send_IPI|set_foreign_p2m|"
                         r"clear_foreign_p2m|xen_alloc_unpopulated|xen_free_unpopulated|"
                         r"^_*xen_pv_evtchn|^_*xen_evtchn")
# The instruction after a hypercall: where a sample lands for the time Xen
# ran the call (the timer's event is delivered on the way back).
HCALL_SYM = re.compile(r"xen_hypercall|hypercall_page")
IDLE_SYM = re.compile(r"safe_halt|default_idle|cpu_idle|do_idle|acpi_idle|cpuidle|"
                      r"xen_idle|poll_idle")
FIO_KERNEL_SYM = re.compile(r"aio|eventfd|sys_|syscall|^_*x64_|^entry_|^do_syscall|^fdget|"
                            r"^fput|^_*fget|io_getevents|io_submit|read_events")
XPROF_MODS_GNT = ("[xen_gntdev]", "[xen_gntalloc]", "[xen_evtchn]", "[xen_privcmd]")


def frontend_syms(top):
    """Function names of pvblk's Xen frontend (nm of its objects), to tell
    it from the core inside [pvblk]."""
    names = set()
    for o in glob.glob(os.path.join(top, "pvblk", "frontends", "xen", "*.o")):
        try:
            r = subprocess.run(["nm", o], capture_output=True, text=True)
        except OSError:
            break
        for line in r.stdout.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "tT":
                names.add(f[2])
    return names


FRONTEND_RE = re.compile(r"^(pvblk_xen_|pvblk_mcache_|mcache_|xen_gnt_|map_grants|read_indirect|"
                         r"fetch_requests|ring_work|ring_interrupt|xen_complete|xen_notify|"
                         r"xen_queue_work|purge_work)")


def xprof_group(side, comm, dso, sym, fe):
    """The group of one sample; side dom0 or domu, fe the frontend's names."""
    name = sym.split("] ", 1)[-1]
    kernel = sym.startswith("[k]")
    if comm.startswith("perf"):
        return XPROF_PERF
    if dso == "[pvblk]":
        base = name.split(".", 1)[0]
        return "pvblk-xen frontend" if base in fe or FRONTEND_RE.match(base) else "pvblk core"
    if dso == "[xen_blkback]":
        return "xen-blkback"
    if dso == "[null_blk]":
        return "null_blk"
    if dso == "[xen_blkfront]":
        return "blkfront"
    if dso in XPROF_MODS_GNT:
        return "grant tables, event channels"
    if kernel and (IDLE_SYM.search(name) or (comm.startswith("swapper") and HCALL_SYM.search(name))):
        return XPROF_IDLE
    if kernel and HCALL_SYM.search(name):
        return "hypercalls (Xen, seen from the caller)"
    if kernel and GNT_EVT_SYM.search(name):
        return "grant tables, event channels"
    if kernel and BLOCK_SYM.search(name):
        return "block layer"
    if side == "domu" and comm.startswith("fio"):
        if not kernel:
            return "fio (user)"
        if FIO_KERNEL_SYM.search(name):
            return "fio's kernel side (syscalls, aio)"
    return "other"


def read_xprof(d):
    """{(side, path, g, seq, w): {"rows": [(samples, tid:comm, dso, sym)],
    "stat": [cpu line before, after]}} of one boot directory."""
    prof = {}
    con = os.path.join(d, "console.log")
    if os.path.exists(con):
        with open(con, errors="replace") as f:
            for line in f:
                line = line.replace("\r", "")
                m = XPROF_LINE.search(line)
                if m:
                    k = ("dom0", m[1], int(m[2]), int(m[3]), int(m[4]))
                    prof.setdefault(k, {"rows": [], "stat": None})["rows"].append(
                        (int(m[5]), m[6].strip(), m[7].strip(), m[8].strip()))
                    continue
                m = XPROF_HC.search(line)
                if m:
                    k = ("dom0", m[1], int(m[2]), int(m[3]), int(m[4]))
                    e = prof.setdefault(k, {"rows": [], "stat": None})
                    e.setdefault("hc", []).append((int(m[5]), m[6], m[7]))
                    continue
                m = XPROF_STAT.search(line)
                if m:
                    k = ("dom0", m[1], int(m[2]), int(m[3]), int(m[4]))
                    prof.setdefault(k, {"rows": [], "stat": None})["stat"] = [m[5], m[6]]
    fn = re.compile(r"^(?P<path>[a-z0-9-]+)__g(?P<g>\d+)__(?P<seq>\d+)__w(?P<w>[12])\.(prof|stat)$")
    for f in sorted(glob.glob(os.path.join(d, "results", "*", "*__w[12].*"))):
        m = fn.match(os.path.basename(f))
        if not m:
            continue
        k = ("domu:" + os.path.basename(os.path.dirname(f)), m["path"], int(m["g"]),
             int(m["seq"]), int(m["w"]))
        e = prof.setdefault(k, {"rows": [], "stat": None})
        with open(f, errors="replace") as fh:
            lines = [x.strip() for x in fh if x.strip()]
        if f.endswith(".stat"):
            e["stat"] = [x for x in lines if x.startswith("cpu ")][:2]
            continue
        for x in lines:
            p = x.split("|")
            if len(p) == 4 and p[0].isdigit():
                e["rows"].append((int(p[0]), p[1].strip(), p[2].strip(), p[3].strip()))
    return prof


def stat_delta(st):
    """/proc/stat cpu line before/after: {busy, idle, steal} in USER_HZ."""
    if not st or len(st) != 2:
        return None
    a, b = ([int(x) for x in s_.split()[1:]] for s_ in st)
    d = [y - x for x, y in zip(a, b)] + [0] * 10
    return {"busy": d[0] + d[1] + d[2] + d[5] + d[6], "idle": d[3] + d[4], "steal": d[7]}


def xprof_summary(d, ic_runs, costs, period, top):
    """Per (path, guests): each side's groups in vCPU ns per I/O, the
    whole-machine cost of the same windows, and the split into
    instructions (see xprof_lines for the model)."""
    prof = read_xprof(d)
    if not prof:
        return {}
    fe = frontend_syms(top)
    out = {}
    for (path, g) in sorted({(k[1], k[2]) for k in prof}):
        e = ic_runs.get((path, g))
        c = costs.get((path, g))
        if not e or not c:
            out[(path, g)] = {"invalid": "no icount cost for this run"}
            continue
        dios = c["d_ios"]
        sides = {}
        for side in sorted({k[0] for k in prof if k[1:3] == (path, g)}):
            a = [v for k, v in prof.items() if k[0] == side and k[1:3] == (path, g) and k[4] == 1]
            b = [v for k, v in prof.items() if k[0] == side and k[1:3] == (path, g) and k[4] == 2]
            if len(a) != 1 or len(b) != 1 or not a[0]["rows"] or not b[0]["rows"]:
                sides[side] = {"invalid": "a window without a profile"}
                continue
            names = XPROF_DOM0 if side == "dom0" else XPROF_DOMU
            groups = {n: {"ns_per_io": 0.0, "samples_w1": 0, "samples_w2": 0, "top": {}}
                      for n in names + [XPROF_PERF, XPROF_IDLE]}
            sd = "dom0" if side == "dom0" else "domu"
            for w, src in ((1, a[0]), (2, b[0])):
                for smp, tid, dso, sym in src["rows"]:
                    comm = tid.split(":", 1)[-1]
                    grp = groups[xprof_group(sd, comm, dso, sym, fe)]
                    grp[f"samples_w{w}"] += smp
                    key = f"{comm.split('/')[0]} {dso} {sym}"
                    grp["top"][key] = grp["top"].get(key, 0) + (smp if w == 2 else -smp)
            for grp in groups.values():
                grp["ns_per_io"] = (grp["samples_w2"] - grp["samples_w1"]) * period / dios
                grp["top"] = [{"ns_per_io": round(v * period / dios, 1), "what": k}
                              for k, v in sorted(grp["top"].items(), key=lambda x: -x[1])[:8]]
            hcs = {}
            for w, src in ((1, a[0]), (2, b[0])):
                for smp, comm, callers in src.get("hc", []):
                    key = f"{comm} {callers}"
                    hcs[key] = hcs.get(key, 0) + (smp if w == 2 else -smp)
            hcalls = [{"ns_per_io": round(v * period / dios, 1), "what": k_}
                      for k_, v in sorted(hcs.items(), key=lambda x: -x[1])[:12]]
            busy = sum(v["ns_per_io"] for n, v in groups.items() if n != XPROF_IDLE)
            sa, sb = stat_delta(a[0]["stat"]), stat_delta(b[0]["stat"])
            st = None
            if sa and sb:
                # USER_HZ = 100: 1e7 ns a tick.
                st = {k: (sb[k] - sa[k]) * 1e7 / dios for k in sa}
            sides[side] = {"invalid": None, "groups": groups, "busy_ns_per_io": busy,
                           "hypercall_callers": hcalls,
                           "samples_w2": sum(v["samples_w2"] for v in groups.values()),
                           "proc_stat_ns_per_io": st}
        r = {"invalid": None, "cost_insn": c["insn_per_io"], "d_ios": dios, "sides": sides,
             "period_ns": period, "resolution_ns": period / dios}
        good = {k_: s_ for k_, s_ in sides.items() if not s_["invalid"]}
        if "dom0" in good and len(good) == len(sides) >= 2:
            xprof_estimate(r, good, c["insn_per_io"])
        out[(path, g)] = r
    return out


def xprof_estimate(r, good, cost):
    """perf's split scaled to the machine's cost (bench/PERFORMANCE.md):
    each group's vCPU ns per I/O, idle excluded, all scaled down by the
    same factor when the sides' busy time adds up to more than the
    machine's instructions per I/O (vCPUs that ran at once, samples a
    vCPU took late after waiting runnable or after interrupts-off code);
    what stays below it is Xen outside every domain's sampled time.  The
    /proc/stat figures are shown, not used: they are tick samples, and a
    dom0 that runs in bursts shorter than a tick between idle periods
    (NOHZ) is mostly not sampled (blkback's dom0: 325 ns per I/O busy)."""
    busy = {k_: s_["busy_ns_per_io"] for k_, s_ in good.items()}
    tot = sum(busy.values())
    scale = min(1.0, cost / tot) if tot > 0 else 0.0
    est = {k_: {n: max(v["ns_per_io"], 0.0) * scale for n, v in s_["groups"].items()
                if n != XPROF_IDLE} for k_, s_ in good.items()}
    r["est"] = est
    r["est_insn"] = {k_: sum(v.values()) for k_, v in est.items()}
    r["busy_all_ns_per_io"] = tot
    r["rest_insn"] = max(cost - tot, 0.0)
    r["scale"] = scale


def xprof_scaled(r, side, grp):
    """A group's estimated instructions per I/O (xprof_estimate), or None."""
    return (r.get("est") or {}).get(side, {}).get(grp)


def xprof_side(r, side):
    """The key and figures of SIDE ("dom0", or "domu": the guest's) in the
    profile R; the figures are None when missing or invalid."""
    sk = side if side == "dom0" else next((x for x in r["sides"] if
                                           x.startswith("domu")), None)
    s_ = r["sides"].get(sk) if sk else None
    return sk, (s_ if s_ and not s_["invalid"] else None)


def xprof_lines(xp):
    lines = []
    ok_ = {k: v for k, v in xp.items() if not v.get("invalid")}
    for k, v in sorted(xp.items()):
        if v.get("invalid"):
            lines.append(f"Xen profile of {k[0]}, {k[1]} guest(s): INVALID ({v['invalid']})")
    if not ok_:
        return lines
    keys = sorted(ok_, key=lambda k: (PATHS.index(k[0]) if k[0] in PATHS else 9, k[1]))
    lines.append("Xen: where the time goes (icount boot; perf record -e cpu-clock -a in dom0 "
                 "and in the guest; vCPU ns per I/O = (samples(w2) - samples(w1)) x period / "
                 "(ios(w2) - ios(w1)); in brackets: scaled to the machine's cost, see "
                 "xprof_estimate(); busy rows: perf, [scaled], /proc/stat busy and steal)")
    hdr = ["side / group"] + [f"{p} g{g}" for p, g in keys]
    rows = []
    def side_cells(side, cell):
        """A row's cells: cell(r, sk, s_) of each profile, "-" without that side."""
        out_ = []
        for k in keys:
            sk, s_ = xprof_side(ok_[k], side)
            out_.append(cell(ok_[k], sk, s_) if s_ else "-")
        return out_

    def group_cell(n):
        def cell(r, sk, s_):
            e = xprof_scaled(r, sk, n) if n not in (XPROF_IDLE,) else None
            return f"{s_['groups'][n]['ns_per_io']:.0f}" + (f" [{e:.0f}]" if e is not None else "")
        return cell

    def busy_cell(r, sk, s_):
        e = (r.get("est_insn") or {}).get(sk)
        st = s_["proc_stat_ns_per_io"]
        return (f"{s_['busy_ns_per_io']:.0f}" + (f" [{e:.0f}]" if e is not None else "")
                + (f" (/proc/stat busy {st['busy']:.0f}, steal {st['steal']:.0f})" if st else ""))

    for side, names in (("dom0", XPROF_DOM0), ("domu", XPROF_DOMU)):
        for n in names + [XPROF_PERF, XPROF_IDLE]:
            rows.append([f"{side}: {n}"] + side_cells(side, group_cell(n)))
        rows.append([f"{side}: busy, idle excluded"] + side_cells(side, busy_cell))
    rows.append(["Xen outside the domains' sampled time [rest]"] +
                [f"[{ok_[k]['rest_insn']:.0f}]" if "rest_insn" in ok_[k] else "-" for k in keys])
    rows.append(["whole machine, icount (insn/IO)"] +
                [f"{ok_[k]['cost_insn']:.0f}" for k in keys])
    w = [max(len(x) for x in col) for col in zip(hdr, *rows)]
    lines.append("  " + "  ".join(h.ljust(n) for h, n in zip(hdr, w)))
    lines.append("  " + "  ".join("-" * n for n in w))
    lines += ["  " + "  ".join(x.ljust(n) for x, n in zip(r_, w)) for r_ in rows]
    for k in keys:
        for sk, s_ in sorted(ok_[k]["sides"].items()):
            if s_["invalid"]:
                continue
            top = sorted(((t["ns_per_io"], t["what"]) for n, gv in s_["groups"].items()
                          if n != XPROF_IDLE for t in gv["top"]), reverse=True)[:10]
            lines.append(f"  {k[0]} {sk} top (vCPU ns/IO): " +
                         "; ".join(f"{w_} {x:.0f}" for x, w_ in top))
            if s_.get("hypercall_callers"):
                lines.append(f"  {k[0]} {sk} hypercalls by thread and caller<caller (vCPU "
                             "ns/IO): " + "; ".join(f"{t['what']} {t['ns_per_io']:.0f}"
                                                    for t in s_["hypercall_callers"][:8]))
    lines.append("")
    return lines


def plot_xprof(out, xp):
    """profile-xen.png: one stacked bar per path, the whole machine's
    instructions per I/O split into the estimated dom0 and guest groups
    (and what no domain's busy time covers)."""
    ok_ = {k: v for k, v in xp.items() if not v.get("invalid") and v.get("est_insn")
           and all(x is not None for x in v["est_insn"].values())}
    if not ok_:
        return None, "no complete profile"
    keys = sorted(ok_, key=lambda k: (PATHS.index(k[0]) if k[0] in PATHS else 9, k[1]))
    cols = [("dom0", n) for n in XPROF_DOM0 + [XPROF_PERF]] + \
        [("domu", n) for n in XPROF_DOMU + [XPROF_PERF]]
    dat = os.path.join(out, "plot-profile-xen.dat")
    with open(dat, "w") as f:
        f.write("# path " + " ".join(f'"{s_}: {n}"' for s_, n in cols) + " rest\n")
        for k in keys:
            r = ok_[k]
            vals = []
            for s_, n in cols:
                sk, _ = xprof_side(r, s_)
                v = xprof_scaled(r, sk, n)
                vals.append(f"{max(v or 0, 0) / 1000:.3f}")
            vals.append(f"{r['rest_insn'] / 1000:.3f}")
            f.write(f'"{k[0]} ({k[1]} guest)" ' + " ".join(vals) + "\n")
    png = os.path.join(out, "profile-xen.png")
    gp = os.path.join(out, "plot-profile-xen.gp")
    with open(gp, "w") as f:
        f.write(gnuplot.preamble(png, 1300, 650, "rowstacked", fill=0.8, boxwidth=0.5))
        f.write('set title "Xen: whole-machine instructions per 4k read (icount), split as perf '
                'samples dom0 and the guest (scaled to the cost)"\nset ylabel "k instructions / I/O"\n')
        titles = [f"{s_}: {n}" for s_, n in cols] + ["Xen outside the domains' sampled time"]
        # dom0 in warm colours, the guest in cold ones, perf grey, Xen white.
        colours = ["#d7191c", "#f46d43", "#fdae61", "#fee08b", "#ffff99", "#a6611a",
                   "#dfc27d", "#8c510a", "#bbbbbb",
                   "#2c7bb6", "#abd9e9", "#1a9641", "#a6d96a", "#d9f0d3", "#5e3c99",
                   "#b2abd2", "#888888", "#ffffff"]
        f.write("plot " + ", \\\n     ".join(
            f'"{dat}" using {2 + i}:xtic(1) title "{t}" lc rgb "{colours[i % len(colours)]}"'
            for i, t in enumerate(titles)) + "\n")
    return gnuplot.render(gp, png)


def report(out, ok, not_ok):
    """Table lines, the JSON section and the checks (ok / not_ok callbacks)."""
    doc = {"method": __doc__.strip(), "boots": {}}
    lines = []
    wall_d = os.path.join(out, "xen-many-wall")
    ic_d = os.path.join(out, "xen-many-icount")
    if not os.path.isdir(wall_d) and not os.path.isdir(ic_d):
        return lines, None
    wall = runs(read_boot(wall_d))
    ic = runs(read_boot(ic_d))
    costs = {k: icount_cost(e) for k, e in ic.items()}
    for name, d, rr in (("wall", wall_d, wall), ("icount", ic_d, ic)):
        plan = read_plan(d)
        if not os.path.isdir(d):
            continue
        doc["boots"][name] = {"plan": plan, "records": read_boot(d),
                              "runs": [{"path": k[0], "guests": k[1], **v}
                                       for k, v in sorted(rr.items())]}
        missing = [f"{p} {g} guest(s)" for p in plan["paths"] for g in plan["guests"]
                   if (p, g) not in rr or rr[(p, g)]["invalid"]]
        doc["boots"][name]["missing"] = missing
        if missing:
            not_ok(f"xen many guests, {name} boot: every planned run",
                   "missing: " + ", ".join(missing))
        elif plan["paths"]:
            ok(f"xen many guests, {name} boot: {len(rr)} runs")
    doc["icount_costs"] = [{"path": k[0], "guests": k[1], **v}
                           for k, v in sorted(costs.items()) if v]
    keys = sorted(set(wall) | set(ic), key=lambda k: (PATHS.index(k[0]) if k[0] in PATHS
                                                       else 9, k[1]))
    if not keys:
        return lines, doc
    lines.append("Xen: cost per I/O and many guests (4k randread, each guest 1 vCPU and its "
                 "own null_blk; windows of RT and 2RT s at once in every guest)")
    hdr = (f"  {'path':<17} {'guests':>6}  {'aggr. IOPS w1 / w2 (wall)':>26}  "
           f"{'insn/IO (icount)':>16}  {'resolution':>10}  {'vs 1 guest':>10}  "
           f"{'vs blkback same pgnt':>20}")
    lines += [hdr, "  " + "-" * (len(hdr) - 2)]
    for k in keys:
        p, g = k
        we = wall.get(k, {}).get("windows", {})
        wtxt = " / ".join(f"{we[w]['iops'] / 1000:.2f}k" for w in (1, 2) if w in we) or "-"
        c = costs.get(k)
        ctxt = f"{c['insn_per_io']:.0f}" if c else "-"
        rtxt = f"{c['resolution_pct']:.3f}%" if c else "-"
        c1 = costs.get((p, 1))
        vs1 = f"{c['insn_per_io'] / c1['insn_per_io']:.3f}x" if c and c1 else "-"
        ref = p.replace("pvblk-xen", "blkback")
        cr = costs.get((ref, g))
        vsb = (f"{c['insn_per_io'] / cr['insn_per_io']:.3f}x"
               if c and cr and ref != p else "-")
        lines.append(f"  {p:<17} {g:>6}  {wtxt:>26}  {ctxt:>16}  {rtxt:>10}  {vs1:>10}  "
                     f"{vsb:>20}")
    # The goal: pvblk-xen <= 0.85x xen-blkback with persistent grants, and
    # flat within 10 % from 1 to 4 guests.
    pv = {g: costs.get(("pvblk-xen-pgnt", g)) for g in (1, 2, 4)}
    bb = {g: costs.get(("blkback-pgnt", g)) for g in (1, 2, 4)}
    ratios = {g: pv[g]["insn_per_io"] / bb[g]["insn_per_io"] for g in pv if pv[g] and bb[g]}
    flat = None
    if pv[1] and pv[4]:
        vals = [pv[g]["insn_per_io"] for g in (1, 2, 4) if pv[g]]
        flat = (max(vals) - min(vals)) / pv[1]["insn_per_io"]
    goal = {"goal": "pvblk-xen insn/IO <= 0.85x xen-blkback's with persistent grants, "
                    "flat within 10 % from 1 to 4 guests",
            "ratio_by_guests": ratios, "flat_spread": flat,
            "met": (bool(ratios) and all(r <= 0.85 for r in ratios.values())
                    and flat is not None and flat <= 0.10) if ratios and flat is not None
            else None}
    doc["goal"] = goal
    if ratios:
        rt = ", ".join(f"{g} guest(s) {r:.3f}x" for g, r in sorted(ratios.items()))
        ft = f"{flat * 100:.1f}%" if flat is not None else "not measured"
        state = "not measured" if goal["met"] is None else ("met" if goal["met"] else "MISSED")
        lines.append(f"  goal {goal['goal']}: {state} (pvblk/blkback: {rt}; pvblk 1..4 guests "
                     f"spread {ft})")
    lines.append("")
    png, err = plot(out, wall, costs, keys)
    if png:
        ok(f"bench-xen-many.png written: {png}")
    else:
        not_ok("bench-xen-many.png written", err)
    period = read_plan(ic_d).get("prof")
    if period:
        top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        xp = xprof_summary(ic_d, ic, costs, period, top)
        doc["profile"] = [{"path": k[0], "guests": k[1], **v} for k, v in sorted(xp.items())]
        lines += xprof_lines(xp)
        for k, v in sorted(xp.items()):
            bad = v.get("invalid") or "; ".join(f"{sk}: {s_['invalid']}" for sk, s_ in
                                                 v.get("sides", {}).items() if s_["invalid"])
            if bad:
                not_ok(f"xen profile {k[0]} {k[1]} guest(s)", bad)
            else:
                ok(f"xen profile {k[0]} {k[1]} guest(s): " + ", ".join(
                    f"{sk} {s_['samples_w2']} samples in w2" for sk, s_ in v["sides"].items()))
        if not xp:
            not_ok("xen profile", "no PVBLK-XPROF lines nor .prof results in " + ic_d)
        else:
            ppng, perr = plot_xprof(out, xp)
            if ppng:
                ok(f"profile-xen.png written: {ppng}")
            else:
                not_ok("profile-xen.png written", perr)
    return lines, doc
