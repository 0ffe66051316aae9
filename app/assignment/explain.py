"""Why each pair was chosen, how good the whole assignment is, and a dependency-free SVG histogram."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html import escape

import numpy as np

from app.assignment.solver import Solution


@dataclass
class PairExplanation:
    """One assigned pair: its affinity, how it ranks for the reviewer and the paper, and the closest item."""

    paper: int
    reviewer: int
    affinity: float
    rank_for_reviewer: int  # 1 = this submission is the reviewer's best match among all submissions
    rank_for_paper: int  # 1 = this reviewer is the submission's best match among all reviewers
    closest_item: int | None  # index into the reviewer's profile items; None without item scores
    closest_item_score: float | None


def _rank(values: np.ndarray, index: int) -> int:
    """1 + how many entries beat values[index] (ties share the better rank)."""
    return int((values > values[index]).sum()) + 1


def explain_pairs(affinity: np.ndarray, solution: Solution,
                  item_scores: list[np.ndarray] | None = None) -> list[PairExplanation]:
    """Per assigned pair: affinity, ranks, closest profile item (item_scores[j] is papers × items of reviewer j)."""
    aff = np.asarray(affinity, dtype=np.float64)
    out = []
    for i, j in solution.pairs:
        item, item_score = None, None
        if item_scores is not None and item_scores[j].shape[1] > 0:
            item = int(np.argmax(item_scores[j][i]))
            item_score = float(item_scores[j][i, item])
        out.append(PairExplanation(paper=i, reviewer=j, affinity=float(aff[i, j]),
                                   rank_for_reviewer=_rank(aff[:, j], i), rank_for_paper=_rank(aff[i], j),
                                   closest_item=item, closest_item_score=item_score))
    return out


DIGITS = 3  # every page and the API show these quantities rounded once, here (not re-rounded by each template)


def quality_summary(affinity: np.ndarray, solution: Solution, n_reviewers: int | None = None) -> dict:
    """Mean / min affinity, per-submission totals, load histogram (reviewers with 0 included), median ranks.

    Computed once from the pairs and rounded once to DIGITS decimals: the preview, the quality table, the audit
    stats and the API all read these numbers, so one quantity shows one number everywhere."""
    aff = np.asarray(affinity, dtype=np.float64)
    n_papers, n_rev = aff.shape if n_reviewers is None else (aff.shape[0], n_reviewers)
    values = np.array([aff[i, j] for i, j in solution.pairs])
    totals = np.zeros(n_papers)
    loads = np.zeros(n_rev, dtype=np.int64)
    for i, j in solution.pairs:
        totals[i] += aff[i, j]
        loads[j] += 1
    pairs = explain_pairs(aff, solution)
    def r(x: float) -> float:
        return round(float(x), DIGITS)

    return {
        "pairs": len(solution.pairs),
        "total_affinity": r(values.sum()) if len(values) else 0.0,
        "mean_affinity": r(values.mean()) if len(values) else 0.0,
        "min_affinity": r(values.min()) if len(values) else 0.0,
        "min_paper_total": r(totals.min()) if n_papers else 0.0,
        "mean_paper_total": r(totals.mean()) if n_papers else 0.0,
        "load_histogram": {int(k): int(v) for k, v in sorted(Counter(loads.tolist()).items())},
        "share_reviewer_top3": float(np.mean([p.rank_for_paper <= 3 for p in pairs])) if pairs else 0.0,
        "median_rank_for_paper": float(np.median([p.rank_for_paper for p in pairs])) if pairs else 0.0,
    }


def svg_histogram(values: list[float] | np.ndarray, *, bins: int = 10, lo: float = 0.0, hi: float = 1.0,
                  width: int = 320, height: int = 160, title: str = "Affinity of assigned pairs") -> str:
    """A small accessible SVG bar chart of values binned on [lo, hi]; no plotting library needed."""
    if bins < 1 or hi <= lo:
        raise ValueError("need bins >= 1 and hi > lo")
    counts, edges = np.histogram(np.clip(np.asarray(values, dtype=np.float64), lo, hi), bins=bins, range=(lo, hi))
    pad_l, pad_b, pad_t = 30, 20, 18
    plot_w, plot_h = width - pad_l - 6, height - pad_b - pad_t
    peak = max(int(counts.max()) if len(counts) else 0, 1)
    bar_w = plot_w / bins
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<text x="{pad_l}" y="12" font-size="11">{escape(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" stroke="#555"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 8}" font-size="9" text-anchor="end">{peak}</text>',
             f'<text x="{pad_l - 4}" y="{pad_t + plot_h}" font-size="9" text-anchor="end">0</text>']
    for b, c in enumerate(counts):
        h = plot_h * int(c) / peak
        x = pad_l + b * bar_w
        parts.append(f'<rect x="{x + 1:.1f}" y="{pad_t + plot_h - h:.1f}" width="{max(bar_w - 2, 1):.1f}" '
                     f'height="{h:.1f}" fill="#4a7bb7"><title>{edges[b]:.2f}–{edges[b + 1]:.2f}: {int(c)}'
                     f"</title></rect>")
    for b in (0, bins):
        parts.append(f'<text x="{pad_l + b * bar_w:.1f}" y="{height - 6}" font-size="9" text-anchor="middle">'
                     f"{edges[b]:.2g}</text>")
    parts.append("</svg>")
    return "".join(parts)
