"""View models for the moderation pages and the API, and the lecturers' plots."""

from __future__ import annotations

from sqlmodel import Session, select

from app.models import (
    ReleasedMark,
    Review,
    Submission,
    Venue,
)
from app.services.moderation.actions import override_history
from app.services.moderation.data import _evidence_cache, artifact_evidence, gather
from app.services.moderation.marks import MarksResult, StudentMarks, SubmissionMarks, _num, compute_marks, suggest_for
from app.services.moderation.scheme import scheme_config

# --- views for the pages and the API ----------------------------------------------------------------------------------


def moderation_queue(session: Session, venue: Venue) -> tuple[MarksResult, list[SubmissionMarks]]:
    """Submissions sorted by need (the sum of their flags' weights), then by number."""
    marks = compute_marks(session, venue)
    rows = sorted(marks.submissions.values(), key=lambda s: (-s.need, s.submission.number))
    return marks, rows


def submission_view(session: Session, venue: Venue, submission: Submission) -> dict:
    """A submission as moderators see it: each review's scores (names and pseudonyms), calibrated estimate ± sd,
    the reviewers' bias estimates, the artifact's runs, badges and claim checks, the lecturer's own review."""
    data = gather(session, venue)
    marks = compute_marks(session, venue, data=data)
    sm = marks.submissions[submission.id]
    reviews = [r for r in data.reviews if r.submission_id == submission.id]
    return {"marks": sm, "reviews": [r for r in reviews if not r.is_lecturer],
            "lecturer_reviews": [r for r in reviews if r.is_lecturer],
            "biases": {r.member_id: marks.biases.get(r.member_id) for r in reviews},
            "excluded": {r.member_id: data.excluded.get(r.member_id) for r in reviews},
            "evidence": artifact_evidence(session, submission), "score_fields": data.score_fields,
            "calibration": data.calibration.get(submission.id), "config": marks.config,
            "overrides": [o for o, _u in override_history(session, venue) if o.submission_id == submission.id]}


def review_marking(session: Session, venue: Venue, *, only_unmarked: bool = False) -> list[dict]:
    """Every submitted student review with the suggestion beside it and the lecturer's mark once confirmed."""
    data = gather(session, venue)
    config = scheme_config(session, venue)
    marks = compute_marks(session, venue, data=data, config=config, with_flags=False)
    evidence_of = _evidence_cache(session)
    out = []
    for r in data.reviews:
        if r.is_lecturer:
            continue
        assessment = data.assessments.get(r.id)
        if only_unmarked and assessment is not None:
            continue
        out.append({"review": r, "number": _num(data, r.submission_id), "assessment": assessment,
                    "suggestion": suggest_for(data, config, marks, r.id, evidence_of)})
    return out


def review_marking_one(session: Session, venue: Venue, review: Review) -> dict:
    data = gather(session, venue)
    config = scheme_config(session, venue)
    marks = compute_marks(session, venue, data=data, config=config, with_flags=False)
    r = next(x for x in data.reviews if x.id == review.id)
    return {"review": r, "number": _num(data, r.submission_id), "assessment": data.assessments.get(r.id),
            "suggestion": suggest_for(data, config, marks, r.id, _evidence_cache(session)), "config": config,
            "fields": data.fields}


def student_marks_json(s: StudentMarks | ReleasedMark, *, name: str | None = None) -> dict:
    if isinstance(s, ReleasedMark):
        return {"components": s.components, "total": s.total, "letter": s.letter, "breakdown": s.breakdown,
                "feedback": s.feedback, "released_at": s.released_at}
    return {"member_id": s.member.id, "name": name or s.user.full_name, "email": s.user.email,
            "id_number": s.user.student_id, "submission": s.submission.number if s.submission else None,
            "components": s.components, "computed": s.computed, "total": s.total, "letter": s.letter,
            "breakdown": s.breakdown, "feedback": s.feedback, "missing": s.missing}


def released_member_ids(session: Session, venue: Venue) -> set[int]:
    return set(session.exec(select(ReleasedMark.member_id).where(ReleasedMark.venue_id == venue.id)).all())


# --- plots (server-side SVG, app.moderation.plots) ----------------------------------------------------------------------------


def plots(marks: MarksResult) -> dict[str, str]:
    """The lecturers' plots: mark distribution per component, calibrated vs raw mean, reviewer bias, agreement."""
    from app.moderation import plots as kernel_plots

    cfg = marks.config
    lo, hi = cfg["scale"]["min"], cfg["scale"]["max"]
    out = {}
    for c in cfg["components"]:
        values = [s.components.get(c["id"]) for s in marks.students]
        out[f"dist-{c['id']}"] = kernel_plots.mark_histogram([v for v in values if v is not None], low=lo, high=hi,
                                                             title=c["label"])
    out["dist-total"] = kernel_plots.mark_histogram([s.total for s in marks.students if s.total is not None],
                                                    low=lo, high=hi, title="Total")
    subs = sorted(marks.submissions.values(), key=lambda s: s.submission.number)
    scored = [s for s in subs if s.calibrated is not None and s.mean is not None]
    if scored:
        flo = min(min(s.scores) for s in scored)
        fhi = max(max(s.scores) for s in scored)
        out["calibrated"] = kernel_plots.calibrated_vs_mean(
            [(f"#{s.submission.number}", s.mean, s.calibrated, s.sd) for s in scored], low=min(flo, fhi - 1),
            high=max(fhi, flo + 1))
        by_sub = {f"#{s.submission.number}": s.scores for s in subs if len(s.scores) >= 2}
        if by_sub:
            out["agreement"] = kernel_plots.agreement(by_sub, low=min(flo, fhi - 1), high=max(fhi, flo + 1))
    if marks.biases:
        out["bias"] = kernel_plots.bias_intervals([(f"member {m}", b, sd) for m, (b, sd) in sorted(marks.biases.items())])
    return out
