"""Every mark of a venue, computed live through the kernel (calibration, group marks, each student's mark, flags,
review-quality suggestions), with how each came about."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

import app.moderation as kernel
from app.errors import NotFound
from app.models import (
    MarkOverride,
    Member,
    Submission,
    User,
    Venue,
)
from app.moderation import marks as kernel_marks
from app.services.moderation.base import _decimal_plain, _fmt, _median, _pct
from app.services.moderation.data import ReviewInput, VenueData, artifact_evidence, gather
from app.services.moderation.scheme import _with_form_scales, rubric_mark, scheme_config

# --- computing every mark -------------------------------------------------------------------------------------------


@dataclass
class SubmissionMarks:
    """One submission's aggregate: raw scores, mean, median, calibrated estimate ± sd, the group mark."""

    submission: Submission
    field: str                       # the calibrated score field
    scores: list[float]              # peer scores on it
    mean: float | None
    median: float | None
    calibrated: float | None
    sd: float | None
    lecturer: float | None           # the lecturer's own score on it (mean of staff reviews)
    computed: float | None           # the group mark the scheme gives (0..scale)
    mark: float | None               # with an override, if any
    override: MarkOverride | None
    explanation: list[str]
    flags: list[dict] = field(default_factory=list)  # {"code", "reason", "weight"}, most severe first
    is_calibration: bool = False
    exact: Decimal | None = None     # the group mark before rounding (what the total is computed from)

    @property
    def need(self) -> float:
        """The most severe flag, then half a point per further flag (as app.moderation.flags.moderation_queue)."""
        return self.flags[0]["weight"] + 0.5 * (len(self.flags) - 1) if self.flags else 0.0


@dataclass
class StudentMarks:
    member: Member
    user: User
    submission: Submission | None
    components: dict[str, float | None]
    computed: dict[str, float | None]
    total: float | None
    letter: str | None
    breakdown: dict
    feedback: str
    missing: list[str]


@dataclass
class MarksResult:
    config: dict
    submissions: dict[int, SubmissionMarks]
    students: list[StudentMarks]
    group_computed: dict[int, dict[str, float | None]]
    member_computed: dict[int, dict[str, float | None]]
    biases: dict[int, tuple[float, float]]          # member id -> (bias, sd), staff only
    unmarked: list[ReviewInput]


def _calibrate(data: VenueData, target: dict) -> tuple[dict, dict, dict]:
    """PG1 fit on the calibrated field's peer scores (lecturers and excluded reviewers left out)."""
    triples = [(str(r.member_id), str(r.submission_id), float(r.scores[target["id"]])) for r in data.reviews
               if not r.is_lecturer and r.member_id not in data.excluded and target["id"] in r.scores]
    known = {str(sid): item.reference for sid, item in data.calibration.items()}
    if not triples:
        return {}, {}, {}
    known = {k: v for k, v in known.items() if any(t[1] == k for t in triples)} or None
    try:
        result = kernel.fit(triples, target["low"], target["high"], known=known)
    except kernel.CalibrationError:
        return {}, {}, {}
    est, sds, bias, bias_sds = result.estimates, result.sds, result.biases, result.bias_sds
    estimates = {int(k): (v, sds.get(k, 0.0)) for k, v in est.items()}
    biases = {int(k): (v, bias_sds.get(k, 0.0)) for k, v in bias.items()}
    return estimates, biases, known or {}


def compute_marks(session: Session, venue: Venue, *, data: VenueData | None = None,
                  config: dict | None = None, with_flags: bool = True) -> MarksResult:
    """Every mark of the venue, live, with how each came about (lecturers' view; students read the snapshot).

    Calibration per group score field (app.moderation.calibrate.fit), the group mark per submission and every
    student's mark (app.moderation.marks: one pure computation, rounded once, with its explanation)."""
    data = data or gather(session, venue)
    config = config or scheme_config(session, venue)
    scheme = _with_form_scales(config["_scheme"], data.score_fields)
    fields = {f["id"]: f for f in data.score_fields}
    group_keys = [f.key for f in scheme.group.fields]
    target = fields.get(group_keys[0]) if group_keys and group_keys[0] in fields else (
        data.score_fields[0] if data.score_fields else None)
    calibrated = {k: _calibrate(data, fields[k]) for k in group_keys if k in fields}
    if target is not None and target["id"] not in calibrated:
        calibrated[target["id"]] = _calibrate(data, target)
    estimates, biases, _known = calibrated.get(target["id"], ({}, {}, {})) if target else ({}, {}, {})
    decimals = scheme.scale.decimals
    evidence: dict[int, dict] = {}

    def evidence_of(sub: Submission) -> dict:
        if sub.id not in evidence:
            evidence[sub.id] = artifact_evidence(session, sub)
        return evidence[sub.id]

    by_sub: dict[int, list[ReviewInput]] = {}
    for r in data.reviews:
        by_sub.setdefault(r.submission_id, []).append(r)
    subs: dict[int, SubmissionMarks] = {}
    for sub in data.submissions:
        rows = by_sub.get(sub.id, [])
        peers = [r for r in rows if not r.is_lecturer]
        lecturers = [r for r in rows if r.is_lecturer]
        raw = [float(r.scores[target["id"]]) for r in peers if target and target["id"] in r.scores]
        lect = [float(r.scores[target["id"]]) for r in lecturers if target and target["id"] in r.scores]
        est = estimates.get(sub.id)
        peer: dict[str, float] = {}
        for key in group_keys:
            vals = [float(r.scores[key]) for r in peers if key in r.scores]
            cal = calibrated.get(key, ({}, {}, {}))[0].get(sub.id)
            if scheme.group.peer_estimate == "calibrated" and cal is not None:
                peer[key] = cal[0]
            elif vals:
                peer[key] = _median(vals) if scheme.group.peer_estimate == "median" else sum(vals) / len(vals)
        lecturer = {}
        for key in group_keys:
            vals = [float(r.scores[key]) for r in lecturers if key in r.scores]
            if vals:
                lecturer[key] = sum(vals) / len(vals)
        explanation: list[str] = []
        exact = None
        if len(peer) == len(group_keys) and group_keys:
            badges = frozenset(evidence_of(sub)["granted"]) if scheme.group.badges else frozenset()
            try:
                exact, explanation = kernel_marks.group_mark(
                    scheme.group, kernel.GroupInputs(peer=peer, lecturer=lecturer if len(lecturer) == len(group_keys)
                                                     else None, badges=badges), scheme.scale)
            except kernel.MarkError as exc:
                explanation = [f"no group mark: {exc}"]
        else:
            explanation = ["no group mark: no peer scores yet"]
        override = data.overrides.get(("submission", sub.id, "group"))
        computed = float(kernel.round_half_up(exact, decimals)) if exact is not None else None
        mark = override.value if override else computed
        if override:
            explanation.append(f"set to {override.value:g} by a moderator (computed {_fmt(computed)}): "
                               f"{override.reason}")
        subs[sub.id] = SubmissionMarks(
            submission=sub, field=target["id"] if target else "", scores=raw,
            mean=sum(raw) / len(raw) if raw else None, median=_median(raw),
            calibrated=est[0] if est else None, sd=est[1] if est else None,
            lecturer=sum(lect) / len(lect) if lect else None, computed=computed, mark=mark, override=override,
            explanation=explanation, is_calibration=sub.id in data.calibration, exact=exact)
    from app.models.run import Run, RunStatus

    with_runs = set() if not with_flags else set(session.exec(select(Run.submission_id).where(
        Run.venue_id == venue.id, col(Run.status).in_([RunStatus.passed.value, RunStatus.failed.value]))).all())
    if with_flags:
        _flag(data, config, subs, target, biases, lambda sub: evidence_of(sub) if sub.id in with_runs else
              {"claims": []}, by_sub)
    reviews_by_member: dict[int, list[ReviewInput]] = {}
    for r in data.reviews:
        if not r.is_lecturer:
            reviews_by_member.setdefault(r.member_id, []).append(r)
    sub_of_group = {s.group_id: s for s in data.submissions}
    students, member_computed, unmarked = [], {}, []
    for member, user in data.students:
        sub = sub_of_group.get(member.group_id) if member.group_id else None
        sm = subs.get(sub.id) if sub else None
        own = reviews_by_member.get(member.id, [])
        marked = [data.assessments[r.id].mark for r in own if r.id in data.assessments]
        missing = [f"review of #{_num(data, r.submission_id)} not marked" for r in own if r.id not in data.assessments]
        unmarked += [r for r in own if r.id not in data.assessments]
        values: dict[str, Any] = {}
        overrides: dict[str, kernel.Override] = {}
        for c in scheme.components:
            if c.kind == "group" and sm is not None and sm.exact is not None:
                values[c.key] = sm.exact
            elif c.kind == "individual" and marked and not missing:
                values[c.key] = Decimal(repr(sum(marked) / len(marked)))
            if c.kind == "group" and sm is not None and sm.override is not None:
                overrides[c.key] = kernel.Override(Decimal(repr(sm.override.value)), sm.override.reason)
            o = data.overrides.get(("member", member.id, c.key))
            if o is not None:
                overrides[c.key] = kernel.Override(Decimal(repr(o.value)), o.reason)
            if c.key not in values and c.key not in overrides:
                if c.kind == "group":
                    missing.append("no group mark (no submission, or no scores yet)")
                elif c.kind == "individual" and not own:
                    missing.append("wrote no submitted review")
                elif c.kind != "individual":
                    missing.append(f"no {c.name.lower()} mark")
        o_total = data.overrides.get(("member", member.id, "total"))
        shown = {c.key: (float(kernel.round_half_up(overrides[c.key].value if c.key in overrides
                                                    else values[c.key], decimals))
                         if c.key in values or c.key in overrides else None) for c in scheme.components}
        computed = {c.key: float(kernel.round_half_up(values[c.key], decimals)) if c.key in values else None
                    for c in scheme.components}
        total = letter = None
        lines: list[str] = []
        if not missing:
            result = kernel.compute_mark(scheme, kernel.MarkInputs(
                values=values, overrides=overrides,
                total_override=kernel.Override(Decimal(repr(o_total.value)), o_total.reason) if o_total else None))
            shown = {cm.key: float(cm.value) for cm in result.components}
            total, letter, lines = float(result.value), result.letter, list(result.explanation)
            computed["total"] = float(result.computed)
        elif o_total is not None:
            total = float(kernel.round_half_up(Decimal(repr(o_total.value)), decimals))
            letter = scheme.scale.letter(Decimal(repr(total)))
            lines = [f"total set to {total:g} by a moderator (not all components computed): {o_total.reason}"]
            missing = []
        member_computed[member.id] = computed
        feedback = "\n\n".join(data.assessments[r.id].feedback for r in own
                               if r.id in data.assessments and data.assessments[r.id].feedback)
        breakdown = {"components": [{"id": c.key, "label": c.name, "weight": _decimal_plain(c.weight),
                                     "mark": shown.get(c.key)} for c in scheme.components],
                     "explanation": lines, "group": sm.explanation if sm else [],
                     "reviews": [{"submission": _num(data, r.submission_id),
                                  "mark": data.assessments[r.id].mark if r.id in data.assessments else None}
                                 for r in own]}
        students.append(StudentMarks(member=member, user=user, submission=sub, components=shown, computed=computed,
                                     total=total, letter=letter, breakdown=breakdown, feedback=feedback,
                                     missing=missing))
    return MarksResult(config=config, submissions=subs, students=students,
                       group_computed={sid: {"group": s.computed} for sid, s in subs.items()},
                       member_computed=member_computed, biases=biases, unmarked=unmarked)


def _num(data: VenueData, submission_id: int) -> int:
    return next((s.number for s in data.submissions if s.id == submission_id), 0)


# --- flags: why a submission needs moderation (app.moderation.flags) ----------------------------------------------------


def _calls_reproducible(data: VenueData, r: ReviewInput) -> bool | None:
    field_ = next((f for f in data.score_fields if f["id"] == "reproducible"), None)
    if field_ is None or "reproducible" not in r.scores:
        return None
    return _pct(r.scores["reproducible"], field_["low"], field_["high"]) >= 0.66


def _checks(evidence: dict) -> list:
    return [kernel.CheckInput(claim=c["key"], passed=c["passed"]) for c in evidence["claims"]]


def _flag(data: VenueData, config: dict, subs: dict[int, SubmissionMarks], target: dict | None,
          biases: dict, evidence_of, by_sub: dict[int, list[ReviewInput]]) -> None:  # noqa: ANN001
    """Each submission's flags from the kernel, each with its reason in words (peers' reviews only)."""
    settings = kernel.FlagSettings(**config.get("flags", {}))
    low, high = (target["low"], target["high"]) if target else (0, 1)
    for sub_id, sm in subs.items():
        rows = [r for r in by_sub.get(sub_id, []) if not r.is_lecturer]
        inputs = [kernel.ReviewInput(reviewer=r.pseudonym, score=r.scores.get(target["id"]) if target else None,
                                     texts=r.texts, submitted=True, abusive=r.abusive,
                                     calls_reproducible=_calls_reproducible(data, r)) for r in rows]
        checks = _checks(evidence_of(sm.submission)) if any(i.calls_reproducible for i in inputs) else []
        flags = kernel.flag_submission(kernel.SubmissionInput(
            submission=f"#{sm.submission.number}", reviews=inputs, low=low, high=high, checks=checks,
            calibrated=sm.calibrated, calibrated_sd=sm.sd,
            biases={r.pseudonym: biases[r.member_id][0] for r in rows if r.member_id in biases}), settings)
        sm.flags = [{"code": f.code, "reason": f.message, "weight": f.severity} for f in flags]


# --- review-quality suggestions (app.moderation.quality) ---------------------------------------------------------------


def suggest_for(data: VenueData, config: dict, marks: MarksResult, review_id: int, evidence_of=None) -> dict:  # noqa: ANN001
    """The kernel's suggested review-quality mark with its reasons: length and specificity, agreement with the
    calibrated consensus, the authors' helpfulness ratings, timeliness, calibration items, the runs."""
    r = next((x for x in data.reviews if x.id == review_id), None)
    if r is None:
        raise NotFound("There is no such submitted review in this venue.")
    sm = marks.submissions.get(r.submission_id)
    target = next((f for f in data.score_fields if sm and f["id"] == sm.field), None)
    score = r.scores.get(target["id"]) if target else None
    calibration = [(float(x.scores[target["id"]]), data.calibration[x.submission_id].reference)
                   for x in data.reviews if target and x.member_id == r.member_id
                   and x.submission_id in data.calibration and target["id"] in x.scores]
    calls = _calls_reproducible(data, r)
    checks = _checks(evidence_of(sm.submission)) if evidence_of and sm and calls is not None else []
    signals = kernel.ReviewSignals(
        texts=r.texts, score=score, low=target["low"] if target else 1.0, high=target["high"] if target else 10.0,
        consensus=sm.calibrated if sm else None, consensus_sd=sm.sd if sm else None,
        helpfulness=[float(x) for x in r.ratings], late=r.is_late, calibration=calibration, checks=checks,
        calls_reproducible=calls)
    scheme = config["_scheme"]
    s = kernel.suggest(signals, scheme.rubric)
    levels = {k: _decimal_plain(v) for k, v in s.rubric_points().items()}
    mark = rubric_mark(config, levels) if s.complete else None
    reasons = [f"{c.name}: {c.level.name if c.level else 'no suggestion'} — {'; '.join(c.reasons)}" for c in s.criteria]
    return {"levels": levels, "mark": mark, "reasons": reasons + list(s.notes), "complete": s.complete}
