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

import json
import os
import re
import statistics

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
    plan = {"paths": [], "guests": []}
    try:
        with open(os.path.join(d, "plan")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                if k in plan:
                    plan[k] = v.replace("+", " ").split()
    except OSError:
        pass
    plan["guests"] = [int(g) for g in plan["guests"]]
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
    return lines, doc
