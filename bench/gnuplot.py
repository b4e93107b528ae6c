# SPDX-License-Identifier: GPL-2.0
"""gnuplot for bench/report.py and bench/xen_many.py: PNG bar charts."""

import os
import subprocess


def preamble(png, width, height, style, rows=1, fill=0.75, boxwidth=None):
    """The head of a gnuplot script drawing histograms into PNG.

    style: gnuplot's histogram style ("clustered gap 1.5", "errorbars gap
    1.5 lw 1", "rowstacked"); rows > 1 stacks that many panels.
    """
    head = [f'set terminal pngcairo noenhanced size {width},{height} font ",11"',
            f'set output "{png}"',
            "set style data histogram",
            f"set style histogram {style}",
            f"set style fill solid {fill} border -1"]
    if boxwidth is not None:
        head.append(f"set boxwidth {boxwidth}")
    head += ["set grid ytics",
             "set key outside right top vertical",
             "set yrange [0:*]"]
    if rows > 1:
        head.append(f"set multiplot layout {rows},1")
    return "\n".join(head) + "\n"


def render(gp, png):
    """Run gnuplot on the script GP: (PNG, None), or (None, what failed)."""
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(png):
        return None, r.stderr.strip() or f"gnuplot wrote no {png}"
    return png, None
