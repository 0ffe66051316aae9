"""Explanations of the current assignment (why each pair, the whole assignment's quality) from cached embeddings,
and the affinity histogram the chair's page draws."""

from sqlmodel import Session, select

from app.errors import BadInput
from app.models import Member, Role, Venue
from app.services.assignments.calibration import calibration_item_ids
from app.services.assignments.profiles import current
from app.services.assignments.scoring import NotEmbedded, for_ranking, score_venue
from app.settings import Settings


def explain_current(session: Session, settings: Settings, venue: Venue) -> dict:
    """Why each current pair is there (affinity, ranks, closest profile item) and the whole assignment's quality.

    Computed on demand from the cached embeddings (never running the model on the request path): when a
    text is not embedded yet, "available" is false with the reason. For chairs and TAs only: the closest item
    may be the reviewer's own submission.
    """
    from app.assignment.explain import explain_pairs, quality_summary
    from app.assignment.solver import Solution

    rows = current(session, venue)
    tas = {m.id for m in session.exec(select(Member).where(Member.venue_id == venue.id,
                                                           Member.role == Role.ta.value)).all()}
    include_tas = any(a.member_id in tas for a in rows)
    try:
        sc = score_venue(session, settings, venue, include_tas=include_tas, cache_only=True)
    except (NotEmbedded, BadInput) as exc:
        return {"available": False, "reason": exc.message, "pairs": [], "summary": {}, "values": []}
    sub_index = {s.id: i for i, s in enumerate(sc.subs)}
    member_index = {m.id: j for j, m in enumerate(sc.members)}
    pairs = sorted((sub_index[a.submission_id], member_index[a.member_id]) for a in rows
                   if a.submission_id in sub_index and a.member_id in member_index)
    solution = Solution(pairs=pairs, total=float(sum(sc.matrix[i, j] for i, j in pairs)))
    ranked = for_ranking(sc)
    candidates_for_reviewer = (ranked >= 0).sum(axis=0)  # the submissions a reviewer may review
    candidates_for_paper = (ranked >= 0).sum(axis=1)
    out = []
    for e in explain_pairs(ranked, solution, sc.item_scores):
        item = sc.items[e.reviewer][e.closest_item] if e.closest_item is not None else None
        out.append({"submission": sc.subs[e.paper].number, "submission_id": sc.subs[e.paper].id,
                    "member_id": sc.members[e.reviewer].id, "reviewer": sc.labels[e.reviewer],
                    "affinity": round(e.affinity, 4), "rank_for_reviewer": e.rank_for_reviewer,
                    "rank_for_paper": e.rank_for_paper,
                    "of_for_reviewer": int(candidates_for_reviewer[e.reviewer]),
                    "of_for_paper": int(candidates_for_paper[e.paper]),
                    "closest_item": None if item is None else {
                        "label": item.label, "excerpt": " ".join(item.text.split())[:160],
                        "score": round(float(e.closest_item_score), 4)}})
    # Calibration items are reviewed on top of the solved papers and left out of the solve's own summary; the
    # same here, so that after Apply the preview's numbers and this table's are the same numbers.
    items = {sub_index[i] for i in calibration_item_ids(session, venue) if i in sub_index}
    solved = Solution(pairs=[p for p in pairs if p[0] not in items], total=0.0)
    summary = quality_summary(ranked, solved, len(sc.members))
    return {"available": True, "reason": None, "pairs": out, "summary": summary,
            "values": [float(sc.matrix[i, j]) for i, j in pairs]}


def histogram_svg(values: list[float]) -> str:
    from app.assignment.explain import svg_histogram

    return svg_histogram(values)


