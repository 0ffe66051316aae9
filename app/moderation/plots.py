"""Server-side SVG plots for lecturers (no JS, no plotting library): marks, calibration, biases, agreement.

Every text that goes into the SVG (titles, labels, tooltips) is escaped, since labels come from user data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

import numpy as np

_BLUE, _ORANGE, _GREY = "#4a7bb7", "#d9822b", "#888"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _open(width: int, height: int, title: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
            f"<title>{_e(title)}</title>", f'<text x="8" y="13" font-size="11">{_e(title)}</text>']


def _g(x: float) -> str:
    return f"{x:.3g}"


def mark_histogram(values: Sequence[float], *, low: float = 0.0, high: float = 100.0, bins: int = 10,
                   title: str = "Marks", width: int = 340, height: int = 170) -> str:
    """A histogram of one component's marks on [low, high]."""
    if bins < 1 or high <= low:
        raise ValueError("a histogram needs bins >= 1 and high above low")
    v = np.clip(np.asarray([x for x in values if x is not None], dtype=np.float64), low, high)
    counts, edges = np.histogram(v, bins=bins, range=(low, high))
    pl, pb, pt = 30, 22, 20
    pw, ph = width - pl - 8, height - pb - pt
    peak = max(int(counts.max()) if counts.size else 0, 1)
    bw = pw / bins
    out = _open(width, height, title)
    out.append(f'<line x1="{pl}" y1="{pt + ph}" x2="{pl + pw}" y2="{pt + ph}" stroke="#555"/>')
    out.append(f'<text x="{pl - 4}" y="{pt + 8}" font-size="9" text-anchor="end">{peak}</text>')
    for b, c in enumerate(counts):
        h = ph * int(c) / peak
        out.append(f'<rect x="{pl + b * bw + 1:.1f}" y="{pt + ph - h:.1f}" width="{max(bw - 2, 1):.1f}" '
                   f'height="{h:.1f}" fill="{_BLUE}"><title>{_e(f"{edges[b]:g}–{edges[b + 1]:g}: {int(c)}")}'
                   f"</title></rect>")
    for b in (0, bins // 2, bins):
        out.append(f'<text x="{pl + b * bw:.1f}" y="{height - 6}" font-size="9" text-anchor="middle">'
                   f"{_e(_g(edges[b]))}</text>")
    out.append(f'<text x="{width - 8}" y="13" font-size="9" text-anchor="end">n = {len(v)}</text></svg>')
    return "".join(out)


def _axes(out: list[str], pl: int, pt: int, pw: int, ph: int, lo: float, hi: float, xlabel: str, ylabel: str,
          height: int) -> None:
    out.append(f'<rect x="{pl}" y="{pt}" width="{pw}" height="{ph}" fill="none" stroke="#555"/>')
    for t in (lo, (lo + hi) / 2, hi):
        x = pl + (t - lo) / (hi - lo) * pw
        y = pt + ph - (t - lo) / (hi - lo) * ph
        out.append(f'<text x="{x:.1f}" y="{pt + ph + 11}" font-size="9" text-anchor="middle">{_e(_g(t))}</text>')
        out.append(f'<text x="{pl - 3}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{_e(_g(t))}</text>')
    out.append(f'<text x="{pl + pw / 2:.1f}" y="{height - 3}" font-size="10" text-anchor="middle">{_e(xlabel)}</text>')
    out.append(f'<text x="10" y="{pt + ph / 2:.1f}" font-size="10" text-anchor="middle" '
               f'transform="rotate(-90 10 {pt + ph / 2:.1f})">{_e(ylabel)}</text>')


def calibrated_vs_mean(points: Sequence[tuple[str, float, float, float | None]], *, low: float, high: float,
                       title: str = "Calibrated estimate vs raw mean", size: int = 300) -> str:
    """One dot per submission (label, raw mean, calibrated, sd): off the diagonal is where calibration moved it."""
    if high <= low:
        raise ValueError("the scale's high end must be above its low end")
    pl, pt, pb = 36, 20, 30
    pw = ph = size - pl - 10
    height = pt + ph + pb
    out = _open(size, height, title)
    _axes(out, pl, pt, pw, ph, low, high, "raw mean", "calibrated", height)

    def sx(v: float) -> float:
        return pl + (min(max(v, low), high) - low) / (high - low) * pw

    def sy(v: float) -> float:
        return pt + ph - (min(max(v, low), high) - low) / (high - low) * ph

    out.append(f'<line x1="{sx(low):.1f}" y1="{sy(low):.1f}" x2="{sx(high):.1f}" y2="{sy(high):.1f}" '
               f'stroke="{_GREY}" stroke-dasharray="3 3"/>')
    for label, mean, cal, sd in points:
        if sd:
            out.append(f'<line x1="{sx(mean):.1f}" y1="{sy(cal - 1.96 * sd):.1f}" x2="{sx(mean):.1f}" '
                       f'y2="{sy(cal + 1.96 * sd):.1f}" stroke="{_BLUE}" stroke-opacity="0.4"/>')
        tip = f"{label}: mean {mean:.2f}, calibrated {cal:.2f}" + (f" ± {sd:.2f}" if sd else "")
        out.append(f'<circle cx="{sx(mean):.1f}" cy="{sy(cal):.1f}" r="3" fill="{_BLUE}"><title>{_e(tip)}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def bias_intervals(biases: Sequence[tuple[str, float, float]], *, title: str = "Reviewer bias (95 % interval)",
                   width: int = 360, row: int = 12, max_rows: int = 400) -> str:
    """Each reviewer's bias estimate with its 95 % interval, most lenient at the top; 0 = neither lenient nor harsh."""
    items = sorted(biases, key=lambda b: -b[1])[:max_rows]
    pl, pt, pb = 90, 22, 22
    pw = width - pl - 10
    height = pt + max(len(items), 1) * row + pb
    out = _open(width, height, title)
    ext = max([abs(b) + 1.96 * sd for _, b, sd in items] + [1.0])

    def sx(v: float) -> float:
        return pl + (v + ext) / (2 * ext) * pw

    out.append(f'<line x1="{sx(0):.1f}" y1="{pt}" x2="{sx(0):.1f}" y2="{height - pb}" stroke="{_GREY}"/>')
    for i, (label, b, sd) in enumerate(items):
        y = pt + i * row + row / 2
        out.append(f'<text x="{pl - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{_e(str(label)[:40])}</text>')
        out.append(f'<line x1="{sx(b - 1.96 * sd):.1f}" y1="{y:.1f}" x2="{sx(b + 1.96 * sd):.1f}" y2="{y:.1f}" '
                   f'stroke="{_BLUE}"/>')
        colour = _ORANGE if abs(b) > 1.96 * sd else _BLUE  # the interval excludes 0: a clear lean
        out.append(f'<circle cx="{sx(b):.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"><title>'
                   f'{_e(f"{label}: {b:+.2f} ± {1.96 * sd:.2f}")}</title></circle>')
    for t in (-ext, 0.0, ext):
        out.append(f'<text x="{sx(t):.1f}" y="{height - 8}" font-size="9" text-anchor="middle">{_e(f"{t:+.2g}")}</text>')
    out.append("</svg>")
    return "".join(out)


def icc1(scores_by_submission: Mapping[str, Sequence[float]]) -> float | None:
    """ICC(1): the share of score variance that lies between submissions (1 = reviewers agree perfectly)."""
    groups = [np.asarray(v, dtype=np.float64) for v in scores_by_submission.values() if len(v) >= 2]
    if len(groups) < 2:
        return None
    n = sum(len(g) for g in groups)
    grand = np.concatenate(groups).mean()
    ssb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
    ssw = sum(((g - g.mean()) ** 2).sum() for g in groups)
    msb, msw = ssb / (len(groups) - 1), ssw / max(n - len(groups), 1)
    k = (n - sum(len(g) ** 2 for g in groups) / n) / (len(groups) - 1)
    denom = msb + (k - 1) * msw
    return None if denom <= 0 else float((msb - msw) / denom)


def agreement(scores_by_submission: Mapping[str, Sequence[float]], *, low: float, high: float,
              title: str = "Inter-reviewer agreement", size: int = 300) -> str:
    """Every pair of reviews of the same submission as a dot (one score against the other), with ICC(1)."""
    if high <= low:
        raise ValueError("the scale's high end must be above its low end")
    pairs: dict[tuple[float, float], int] = {}
    for scores in scores_by_submission.values():
        for i in range(len(scores)):
            for j in range(len(scores)):
                if i != j:
                    pairs[(scores[i], scores[j])] = pairs.get((scores[i], scores[j]), 0) + 1
    icc = icc1(scores_by_submission)
    full = f"{title} (ICC {icc:.2f})" if icc is not None and math.isfinite(icc) else title
    pl, pt, pb = 36, 20, 30
    pw = ph = size - pl - 10
    height = pt + ph + pb
    out = _open(size, height, full)
    _axes(out, pl, pt, pw, ph, low, high, "one review's score", "another review's score", height)
    peak = max(pairs.values(), default=1)
    for (a, b), c in sorted(pairs.items()):
        x = pl + (min(max(a, low), high) - low) / (high - low) * pw
        y = pt + ph - (min(max(b, low), high) - low) / (high - low) * ph
        r = 2 + 4 * math.sqrt(c / peak)  # area shows how many pairs share the point (integer scores stack)
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{_BLUE}" fill-opacity="0.5">'
                   f'<title>{_e(f"{a:g} vs {b:g}: {c} pair" + ("s" if c != 1 else ""))}</title></circle>')
    out.append("</svg>")
    return "".join(out)
