"""Moderation and marks: the database side of app.moderation (the pure kernel).

Gathers what marks are made of (each submission's submitted reviews and their score fields, the lecturers'
own reviews, the artifact's runs, badges and claim checks, calibration items, review-quality marks,
overrides), hands it to the kernel, and returns view models for the pages and the API. Every change is an
audit event; nothing here commits. What students and exports read is the snapshot written at release
(ReleasedMark), never the live computation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

import app.moderation as kernel
from app.errors import BadInput, Conflict, NotFound, PhaseError
from app.moderation import export as kernel_export
from app.moderation import marks as kernel_marks
from app.models import (
    CalibrationExclusion,
    CalibrationItem,
    Group,
    MarkingScheme,
    MarkOverride,
    MarkRelease,
    Member,
    Phase,
    Rating,
    ReleasedMark,
    Review,
    ReviewAssessment,
    ReviewModeration,
    ReviewStatus,
    Role,
    Submission,
    User,
    Venue,
)
from app.models.base import utcnow
from app.services import audit, notifications
from app.services.review_forms import get_fields
from app.services.runs import runs_overview

REASON_MIN, REASON_MAX = 3, 2000
STAFF_ROLES = {Role.chair.value, Role.ta.value}


def _reason(text: str | None, what: str = "a reason") -> str:
    text = " ".join((text or "").split())
    if not REASON_MIN <= len(text) <= REASON_MAX:
        raise BadInput(f"Give {what} ({REASON_MIN} to {REASON_MAX} characters): it is kept in the audit log.")
    return text


def _number(value: Any, what: str) -> float:
    if isinstance(value, str):
        value = value.strip()
        try:
            value = float(value)
        except ValueError:
            raise BadInput(f"{what} must be a number (got {value[:20]!r}).") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN
        raise BadInput(f"{what} must be a number.")
    return float(value)


# --- lookups --------------------------------------------------------------------------------------------------


def get_submission(session: Session, venue: Venue, number: int) -> Submission:
    sub = session.exec(select(Submission).where(Submission.venue_id == venue.id,
                                                Submission.number == number)).first()
    if sub is None:
        raise NotFound(f"There is no submission #{number} in this venue.")
    return sub


def get_review(session: Session, venue: Venue, review_id: int) -> Review:
    review = session.get(Review, review_id)
    if review is None or review.venue_id != venue.id or review.status != ReviewStatus.submitted.value:
        raise NotFound("There is no such submitted review in this venue.")
    return review


def get_member(session: Session, venue: Venue, member_id: int) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.venue_id != venue.id:
        raise NotFound("There is no such member of this venue.")
    return member


# --- what marks are made of -----------------------------------------------------------------------------------


@dataclass
class ReviewInput:
    """One submitted review as moderation reads it (staff only: names included)."""

    id: int
    submission_id: int
    member_id: int
    reviewer_name: str
    pseudonym: str
    is_lecturer: bool          # written by a chair or TA: the lecturer's own review
    scores: dict[str, int]     # score field id -> value
    texts: dict[str, str]      # text field id -> text
    is_late: bool
    submitted_at: datetime | None
    ratings: list[int] = field(default_factory=list)  # authors' helpfulness ratings (1-5)
    hidden: bool = False
    hidden_reason: str = ""
    abusive: bool = False


@dataclass
class VenueData:
    """Everything the kernel needs for one venue, read in a handful of queries."""

    venue: Venue
    fields: list[dict]
    score_fields: list[dict]
    submissions: list[Submission]
    groups: dict[int, Group]
    reviews: list[ReviewInput]
    students: list[tuple[Member, User]]            # the roster's students (authors and reviewers)
    calibration: dict[int, CalibrationItem]        # submission id -> item
    excluded: dict[int, CalibrationExclusion]      # member id -> exclusion
    assessments: dict[int, ReviewAssessment]       # review id -> lecturer's mark of its quality
    overrides: dict[tuple[str, int, str], MarkOverride]  # ("submission"|"member", id, component) -> newest


def score_fields(fields: list[dict]) -> list[dict]:
    """The review form's score fields, each with its scale's low and high end."""
    out = []
    for f in fields:
        if f.get("type") == "score" and f.get("scale"):
            values = [p[0] for p in f["scale"]]
            out.append({**f, "low": min(values), "high": max(values)})
    return out


def gather(session: Session, venue: Venue) -> VenueData:
    from app.models import Pseudonym

    fields = get_fields(session, venue)
    subs = list(session.exec(select(Submission).where(Submission.venue_id == venue.id)
                             .order_by(col(Submission.number))).all())
    groups = {g.id: g for g in session.exec(select(Group).where(Group.venue_id == venue.id)).all()}
    labels = {(p.submission_id, p.member_id): f"Reviewer {p.label}" for p in session.exec(
        select(Pseudonym).join(Submission, col(Submission.id) == Pseudonym.submission_id)
        .where(Submission.venue_id == venue.id)).all()}
    moderation = {m.review_id: m for m in session.exec(
        select(ReviewModeration).join(Review, col(Review.id) == ReviewModeration.review_id)
        .where(Review.venue_id == venue.id)).all()}
    ratings: dict[int, list[int]] = {}
    for review_id, score in session.exec(select(Rating.review_id, Rating.score).join(
            Review, col(Review.id) == Rating.review_id).where(Review.venue_id == venue.id)).all():
        ratings.setdefault(review_id, []).append(score)
    kinds = {f["id"]: f["type"] for f in fields}
    reviews = []
    # Columns, not whole rows: a 300-student venue has ~900 reviews, and every timestamp read costs.
    for review_id, submission_id, published, is_late, submitted_at, member_id, role, full_name in session.exec(
            select(Review.id, Review.submission_id, Review.published, Review.is_late, Review.submitted_at,
                   Member.id, Member.role, User.full_name)
            .join(Member, col(Member.id) == Review.member_id).join(User, col(User.id) == Member.user_id)
            .where(Review.venue_id == venue.id, Review.status == ReviewStatus.submitted.value)
            .order_by(col(Review.id))).all():
        answers = published or {}
        mod = moderation.get(review_id)
        reviews.append(ReviewInput(
            id=review_id, submission_id=submission_id, member_id=member_id, reviewer_name=full_name,
            pseudonym=labels.get((submission_id, member_id), "Reviewer"), is_lecturer=role in STAFF_ROLES,
            scores={k: v for k, v in answers.items() if kinds.get(k) == "score" and isinstance(v, int)},
            texts={k: v for k, v in answers.items() if kinds.get(k) == "text" and isinstance(v, str)},
            is_late=is_late, submitted_at=submitted_at, ratings=ratings.get(review_id, []),
            hidden=bool(mod and mod.hidden), hidden_reason=mod.reason if mod else "", abusive=bool(mod and mod.abusive)))
    students = list(session.exec(select(Member, User).join(User, col(User.id) == Member.user_id)
                                 .where(Member.venue_id == venue.id, Member.role == Role.student.value)
                                 .order_by(col(User.full_name), col(Member.id))).all())
    calibration = {c.submission_id: c for c in session.exec(
        select(CalibrationItem).where(CalibrationItem.venue_id == venue.id)).all()}
    excluded = {e.member_id: e for e in session.exec(
        select(CalibrationExclusion).where(CalibrationExclusion.venue_id == venue.id)).all()}
    assessments = {a.review_id: a for a in session.exec(
        select(ReviewAssessment).where(ReviewAssessment.venue_id == venue.id)).all()}
    overrides: dict[tuple[str, int, str], MarkOverride] = {}
    for o in session.exec(select(MarkOverride).where(MarkOverride.venue_id == venue.id)
                          .order_by(col(MarkOverride.id))).all():
        key = ("submission", o.submission_id, o.component) if o.submission_id else ("member", o.member_id,
                                                                                   o.component)
        overrides[key] = o
    overrides = {k: o for k, o in overrides.items() if o.value is not None}
    return VenueData(venue=venue, fields=fields, score_fields=score_fields(fields), submissions=subs,
                     groups=groups, reviews=reviews, students=students, calibration=calibration,
                     excluded=excluded, assessments=assessments, overrides=overrides)


def artifact_evidence(session: Session, submission: Submission) -> dict:
    """The artifact's runs, badges and claim checks, as the moderation view and the kernel read them."""
    overview = runs_overview(session, submission)
    runs = [{"id": r.id, "status": r.status, "rig_kind": r.rig_kind, "reason": r.reason,
             "finished_at": r.finished_at, "badges": list(r.badges or [])} for r in overview["runs"]]
    claims = [{"key": c["key"], "text": c["text"], "metric": c["metric"], "value": c["value"],
               "measured": c["measured"], "passed": c["passed"], "reason": c["reason"]} for c in overview["claims"]]
    badges = [{"badge": b["badge"], "label": b["label"], "granted": b["granted"], "decision": b["decision"]}
              for b in overview["badges"]]
    return {"runs": runs, "claims": claims, "badges": badges,
            "granted": [b["badge"] for b in badges if b["granted"]],
            "failed_claims": [c for c in claims if c["passed"] is False]}


# --- the marking scheme ---------------------------------------------------------------------------------------


def get_scheme_row(session: Session, venue: Venue) -> MarkingScheme | None:
    return session.exec(select(MarkingScheme).where(MarkingScheme.venue_id == venue.id)).first()


def scheme_config(session: Session, venue: Venue) -> dict:
    """The venue's scheme, or the kernel's default (group 70 / individual 30) when the chair set none."""
    row = get_scheme_row(session, venue)
    if row is None:
        return _view(kernel.default_scheme(), {})
    return _view(*parse_config(row.config))


def stored_scheme(session: Session, venue: Venue) -> dict:
    """The scheme as stored (the kernel's JSON plus "flags"): what the editor shows and the API returns."""
    row = get_scheme_row(session, venue)
    return row.config if row else default_config()


def save_scheme(session: Session, actor: User, venue: Venue, config: Any) -> MarkingScheme:
    """Replace the scheme after the kernel's checks (every problem listed); refused while frozen."""
    row = get_scheme_row(session, venue)
    if row is not None and row.frozen_at is not None:
        raise Conflict("The marking scheme is frozen since marks were released: unfreeze it first (audited).")
    checked = stored_config(*parse_config(config))  # raises with every problem named; nothing changes
    if row is None:
        row = MarkingScheme(venue_id=venue.id, config=checked, version=1, updated_by=actor.id)
    else:
        row.config, row.version, row.updated_by, row.updated_at = checked, row.version + 1, actor.id, utcnow()
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="scheme.set",
                 summary=f"marking scheme set (version {row.version})", version=row.version, config=checked)
    return row


def unfreeze_scheme(session: Session, actor: User, venue: Venue, reason: str) -> MarkingScheme:
    row = get_scheme_row(session, venue)
    if row is None or row.frozen_at is None:
        raise Conflict("The marking scheme is not frozen.")
    reason = _reason(reason, "a reason for unfreezing the scheme")
    row.frozen_at = None
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="scheme.unfreeze",
                 summary=f"marking scheme unfrozen: {reason}", version=row.version, reason=reason)
    return row


def _freeze_scheme(session: Session, actor: User, venue: Venue) -> MarkingScheme:
    row = get_scheme_row(session, venue)
    if row is None:
        row = MarkingScheme(venue_id=venue.id, config=default_config(), version=1, updated_by=actor.id)
    if row.frozen_at is None:
        row.frozen_at = utcnow()
    session.add(row)
    session.flush()
    return row


# --- calibration items and exclusions ---------------------------------------------------------------------------


def calibration_items(session: Session, venue: Venue) -> list[tuple[CalibrationItem, Submission]]:
    return list(session.exec(select(CalibrationItem, Submission)
                             .join(Submission, col(Submission.id) == CalibrationItem.submission_id)
                             .where(CalibrationItem.venue_id == venue.id).order_by(col(Submission.number))).all())


def _overall_field(session: Session, venue: Venue, config: dict | None = None) -> dict:
    """The score field the calibration works on (the scheme's `calibrate_on`, else `overall`, else the first)."""
    fields = score_fields(get_fields(session, venue))
    if not fields:
        raise Conflict("The review form has no score field: there is nothing to calibrate.")
    wanted = ((config or {}).get("group_fields") or ["overall"])[0]
    return next((f for f in fields if f["id"] == wanted), fields[0])


def set_calibration_item(session: Session, actor: User, venue: Venue, submission: Submission, reference: Any,
                         note: str = "") -> CalibrationItem:
    """Mark a submission as a calibration item with its reference mark on the calibrated field's scale."""
    target = _overall_field(session, venue, scheme_config(session, venue))
    value = _number(reference, "The reference mark")
    if not target["low"] <= value <= target["high"]:
        raise BadInput(f"The reference mark {value:g} is outside the scale of '{target['label']}' "
                       f"({target['low']}–{target['high']}).")
    note = " ".join((note or "").split())[:1000]
    row = session.exec(select(CalibrationItem).where(CalibrationItem.submission_id == submission.id)).first()
    if row is None:
        row = CalibrationItem(venue_id=venue.id, submission_id=submission.id, reference=value, note=note,
                              created_by=actor.id)
    else:
        row.reference, row.note = value, note
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="calibration.item",
                 summary=f"#{submission.number} is a calibration item (reference {value:g})",
                 submission=submission.number, reference=value)
    return row


def remove_calibration_item(session: Session, actor: User, venue: Venue, submission: Submission) -> None:
    row = session.exec(select(CalibrationItem).where(CalibrationItem.submission_id == submission.id)).first()
    if row is None:
        raise NotFound(f"#{submission.number} is not a calibration item.")
    session.delete(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="calibration.item_remove",
                 summary=f"#{submission.number} is no longer a calibration item", submission=submission.number)


def set_exclusion(session: Session, actor: User, venue: Venue, member: Member, excluded: bool,
                  reason: str = "") -> CalibrationExclusion | None:
    """Leave a reviewer's scores out of the calibration (or take them back in), with a reason."""
    row = session.exec(select(CalibrationExclusion).where(CalibrationExclusion.venue_id == venue.id,
                                                          CalibrationExclusion.member_id == member.id)).first()
    if excluded:
        reason = _reason(reason, "a reason for excluding this reviewer")
        if row is None:
            row = CalibrationExclusion(venue_id=venue.id, member_id=member.id, reason=reason, created_by=actor.id)
        else:
            row.reason = reason
        session.add(row)
        session.flush()
        summary = f"reviewer {member.id} excluded from calibration: {reason}"
    else:
        if row is None:
            raise Conflict("This reviewer is not excluded from calibration.")
        session.delete(row)
        session.flush()
        row, summary = None, f"reviewer {member.id} counted in calibration again"
    audit.record(session, venue_id=venue.id, actor=actor, action="calibration.exclude",
                 summary=summary, member_id=member.id, excluded=excluded, reason=reason or None)
    return row


# --- moderating a review ------------------------------------------------------------------------------------------


def moderate_review(session: Session, actor: User, venue: Venue, review: Review, *, hidden: bool,
                    abusive: bool = False, reason: str = "") -> ReviewModeration:
    """Hide a review from the authors (kept for chairs) and/or mark it abusive, with a reason."""
    if hidden or abusive:
        reason = _reason(reason, "a reason (the authors are not shown it)")
    row = session.exec(select(ReviewModeration).where(ReviewModeration.review_id == review.id)).first()
    if row is None:
        row = ReviewModeration(review_id=review.id, decided_by=actor.id)
    row.hidden, row.abusive, row.reason = hidden, abusive, reason
    row.decided_by, row.decided_at = actor.id, utcnow()
    session.add(row)
    session.flush()
    sub = session.get(Submission, review.submission_id)
    state = ", ".join([w for w, on in (("hidden from the authors", hidden), ("abusive", abusive)) if on]) or "shown"
    audit.record(session, venue_id=venue.id, actor=actor, action="review.moderate",
                 summary=f"a review of #{sub.number} is {state}" + (f": {reason}" if reason else ""),
                 review_id=review.id, hidden=hidden, abusive=abusive, reason=reason or None)
    return row


def hidden_review_ids(session: Session, submission_id: int) -> set[int]:
    """Reviews of this submission the chairs hid from its authors (reviews.visible_reviews leaves them out
    for authors)."""
    return set(session.exec(select(ReviewModeration.review_id).join(Review, col(Review.id) == ReviewModeration.review_id)
                            .where(Review.submission_id == submission_id, ReviewModeration.hidden == True)  # noqa: E712
                            ).all())


# --- marks of review quality (the individual component) ------------------------------------------------------------


def confirm_assessment(session: Session, actor: User, venue: Venue, review: Review, *, levels: Any = None,
                       mark: Any = None, feedback: str = "", accept_suggestion: bool = False) -> ReviewAssessment:
    """A lecturer marks a review's quality: confirms the suggestion as it is shown now, or overrides it with
    their own levels or mark. Both are audited; the suggestion as shown is kept beside the mark."""
    data = gather(session, venue)
    config = scheme_config(session, venue)
    marks = compute_marks(session, venue, data=data, config=config, with_flags=False)
    suggestion = suggest_for(data, config, marks, review.id, _evidence_cache(session))
    if accept_suggestion:
        if suggestion["mark"] is None:
            raise BadInput("There is no complete suggestion for this review (some criteria have no signal): "
                           "choose a level for each criterion, or give a mark.")
        levels, value = dict(suggestion["levels"]), suggestion["mark"]
    else:
        levels = validate_levels(config, levels) if levels else {}
        if mark not in (None, ""):
            value = _number(mark, "The review mark")
        elif levels:
            value = round_half_up(rubric_mark(config, levels), config["rounding"])
        else:
            raise BadInput("Give a mark, or a level for each criterion of the rubric, or confirm the suggestion.")
    low, high = config["scale"]["min"], config["scale"]["max"]
    if not low <= value <= high:
        raise BadInput(f"The review mark {value:g} is outside the scale ({low:g}–{high:g}).")
    feedback = (feedback or "").replace("\r\n", "\n").strip()
    if len(feedback) > 10_000:
        raise BadInput("Feedback has at most 10,000 characters.")
    overridden = not accept_suggestion and (suggestion["mark"] is None or abs(value - suggestion["mark"]) > 1e-9)
    row = session.exec(select(ReviewAssessment).where(ReviewAssessment.review_id == review.id)).first()
    before = row.mark if row else None
    if row is None:
        row = ReviewAssessment(venue_id=venue.id, review_id=review.id, mark=value, confirmed_by=actor.id)
    row.levels, row.mark, row.feedback, row.suggestion = levels, value, feedback, suggestion
    row.overridden, row.confirmed_by, row.confirmed_at = overridden, actor.id, utcnow()
    session.add(row)
    session.flush()
    sub = session.get(Submission, review.submission_id)
    verb = "overrode the suggested" if overridden else "confirmed the suggested"
    audit.record(session, venue_id=venue.id, actor=actor, action="review_mark.override" if overridden
                 else "review_mark.confirm",
                 summary=f"{verb} mark of a review of #{sub.number}: {value:g} (suggested {_fmt(suggestion['mark'])})",
                 review_id=review.id, mark=value, suggested=suggestion["mark"], before=before, levels=levels)
    return row


# --- overrides -------------------------------------------------------------------------------------------------------


def override_mark(session: Session, actor: User, venue: Venue, *, component: str, value: Any, reason: str,
                  submission: Submission | None = None, member: Member | None = None) -> MarkOverride:
    """Set or adjust a group's (submission) or a member's mark on one component, with a reason; value None
    withdraws the override. The mark the scheme computes is kept beside it."""
    if (submission is None) == (member is None):
        raise BadInput("An override is for one submission (its group) or one member.")
    config = scheme_config(session, venue)
    components = {c["id"]: c for c in config["components"]}
    allowed = ["group"] if submission is not None else [*components, "total"]
    if component not in allowed:
        raise BadInput(f"There is no component {component!r} to set here; choose {', '.join(allowed)}.")
    reason = _reason(reason, "a reason for the mark")
    low, high = config["scale"]["min"], config["scale"]["max"]
    number = None if value in (None, "") else _number(value, "The mark")
    if number is not None and not low <= number <= high:
        raise BadInput(f"The mark {number:g} is outside the scale ({low:g}–{high:g}).")
    marks = compute_marks(session, venue, with_flags=False)
    if submission is not None:
        computed = marks.group_computed.get(submission.id, {}).get(component)
        target = f"#{submission.number}"
    else:
        computed = marks.member_computed.get(member.id, {}).get(component)
        target = f"member {member.id}"
    row = MarkOverride(venue_id=venue.id, submission_id=submission.id if submission else None,
                       member_id=member.id if member else None, component=component, value=number,
                       computed=computed, reason=reason, created_by=actor.id)
    session.add(row)
    session.flush()
    shown = "withdrawn" if number is None else f"{number:g}"
    audit.record(session, venue_id=venue.id, actor=actor, action="mark.override",
                 summary=f"{component} mark of {target} {shown} (computed {_fmt(computed)}): {reason}",
                 submission=submission.number if submission else None, member_id=member.id if member else None,
                 component=component, value=number, computed=computed, reason=reason)
    return row


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


def override_history(session: Session, venue: Venue) -> list[tuple[MarkOverride, User]]:
    return list(session.exec(select(MarkOverride, User).join(User, col(User.id) == MarkOverride.created_by)
                             .where(MarkOverride.venue_id == venue.id).order_by(col(MarkOverride.id).desc())).all())


# --- release ---------------------------------------------------------------------------------------------------------


@dataclass
class ReleaseResult:
    release: MarkRelease
    released: list[int]                 # member ids whose marks were written
    skipped: list[dict]                 # {"member_id", "name", "missing"}: not complete, left for later
    mails: int


def _incomplete_rows(students: list[StudentMarks]) -> list[dict]:
    return [{"member_id": s.member.id, "name": s.user.full_name, "missing": s.missing} for s in students if s.missing]


def release(session: Session, actor: User, venue: Venue, *, submission: Submission | None = None,
            allow_incomplete: bool = False) -> ReleaseResult:
    """Release marks for the venue or one submission: write each student's snapshot, freeze the scheme, queue
    one mail per student. With marks still missing (unmarked reviews, no group mark) it refuses with the list,
    unless `allow_incomplete`: then what is complete is released and the rest listed."""
    if venue.phase not in (Phase.moderation.value, Phase.released.value):
        raise PhaseError(f"Marks are released in the moderation phase (the venue is in the {venue.phase} phase).")
    marks = compute_marks(session, venue, with_flags=False)
    targets = [s for s in marks.students if submission is None or (s.submission and s.submission.id == submission.id)]
    if submission is not None and not targets:
        raise Conflict(f"#{submission.number} has no student authors whose marks could be released.")
    incomplete = _incomplete_rows(targets)
    if incomplete and not allow_incomplete:
        names = "; ".join(f"{r['name']}: {', '.join(r['missing'])}" for r in incomplete[:10])
        raise Conflict(f"{len(incomplete)} student(s) have marks that are not complete, so nothing was released: "
                       f"{names}{' …' if len(incomplete) > 10 else ''}. Mark what is missing, or release what is "
                       "complete.", details=incomplete)
    ready = [s for s in targets if not s.missing]
    if not ready:
        raise Conflict("No student's marks are complete yet: nothing to release.", details=incomplete)
    scheme = _freeze_scheme(session, actor, venue)
    row = MarkRelease(venue_id=venue.id, submission_id=submission.id if submission else None,
                      scheme_version=scheme.version, released_by=actor.id)
    session.add(row)
    session.flush()
    existing = {r.member_id: r for r in session.exec(select(ReleasedMark).where(
        ReleasedMark.venue_id == venue.id, col(ReleasedMark.member_id).in_([s.member.id for s in ready]))).all()}
    now = utcnow()
    for s in ready:
        snap = existing.get(s.member.id) or ReleasedMark(venue_id=venue.id, member_id=s.member.id, release_id=row.id)
        snap.submission_id = s.submission.id if s.submission else None
        snap.release_id, snap.components, snap.total, snap.letter = row.id, dict(s.components), s.total, s.letter
        snap.breakdown, snap.feedback, snap.released_at = s.breakdown, s.feedback, now
        session.add(snap)
    session.flush()
    mails = _release_mails(session, venue, ready)
    where = f"#{submission.number}" if submission else "the venue"
    audit.record(session, venue_id=venue.id, actor=actor, action="marks.release",
                 summary=f"released marks of {where}: {len(ready)} student(s)"
                         + (f", {len(incomplete)} not complete left out" if incomplete else ""),
                 release_id=row.id, submission=submission.number if submission else None,
                 released=[s.member.id for s in ready], skipped=[r["member_id"] for r in incomplete],
                 scheme_version=scheme.version)
    return ReleaseResult(row, [s.member.id for s in ready], incomplete, mails)


def _release_mails(session: Session, venue: Venue, students: list[StudentMarks]) -> int:
    """One mail per student released, through the notification outbox."""
    return notifications.marks_released(session, venue, [(s.user, s.submission) for s in students])


def released_marks(session: Session, venue: Venue, member: Member | None) -> ReleasedMark | None:
    """The member's marks as released (None before any release covers them)."""
    if member is None:
        return None
    return session.exec(select(ReleasedMark).where(ReleasedMark.venue_id == venue.id,
                                                   ReleasedMark.member_id == member.id)).first()


def releases(session: Session, venue: Venue) -> list[tuple[MarkRelease, User, Submission | None]]:
    rows = session.exec(select(MarkRelease, User).join(User, col(User.id) == MarkRelease.released_by)
                        .where(MarkRelease.venue_id == venue.id).order_by(col(MarkRelease.id).desc())).all()
    return [(r, u, session.get(Submission, r.submission_id) if r.submission_id else None) for r, u in rows]


# --- the marking scheme, through the kernel (app.moderation.scheme) ---------------------------------------------------
# Stored as the kernel's JSON (scheme_to_dict) plus "flags": the moderation queue's thresholds. The pages read
# a plain view of it (`config`): components, scale, rounding, rubric, flags, and the kernel's scheme under
# "_scheme".

FLAG_KEYS = ("min_reviews", "disagreement", "outlier", "outlier_spread", "top", "bottom", "min_sentiment_words")


def _decimal_plain(d: Decimal) -> float | int:
    return int(d) if d == d.to_integral_value() else float(d)


def _view(scheme: kernel.MarkingScheme, flags: dict) -> dict:
    scale = scheme.scale
    return {
        "_scheme": scheme,
        "components": [{"id": c.key, "label": c.name, "weight": _decimal_plain(c.weight), "kind": c.kind}
                       for c in scheme.components],
        "scale": {"min": _decimal_plain(scale.low), "max": _decimal_plain(scale.high),
                  "bands": [[b.letter, _decimal_plain(b.low)] for b in scale.bands]},
        "rounding": scale.decimals,
        "rubric": [{"id": c.key, "label": c.name,
                    "levels": [[_decimal_plain(lv.points), lv.name] for lv in c.levels]} for c in scheme.rubric.criteria],
        "group_fields": [f.key for f in scheme.group.fields],
        "flags": flags,
    }


def parse_config(config: Any) -> tuple[kernel.MarkingScheme, dict]:
    """A chair's scheme (the kernel's JSON, with optional "flags") checked whole; BadInput naming every problem."""
    if not isinstance(config, dict):
        raise BadInput("A marking scheme is an object (components, group, rubric, scale, flags).")
    data = {k: v for k, v in config.items() if k != "flags"}
    flags = config.get("flags") or {}
    problems = []
    unknown_keys = sorted(set(config) - {"components", "group", "rubric", "scale", "flags"})
    if unknown_keys:
        problems.append(f"unknown key(s) {', '.join(unknown_keys)} (the scheme has components, group, rubric, "
                        "scale and flags)")
    if not isinstance(flags, dict):
        problems, flags = ["flags: an object of thresholds"], {}
    unknown = sorted(set(flags) - set(FLAG_KEYS))
    if unknown:
        problems.append(f"flags: unknown setting(s) {', '.join(unknown)} (known: {', '.join(FLAG_KEYS)})")
    if any(isinstance(v, bool) or not isinstance(v, int | float) or v < 0 for v in flags.values()):
        problems.append("flags: each threshold is a number at least 0")
    try:
        scheme = kernel.parse_scheme(data)
    except kernel.SchemeError as exc:
        problems = list(exc.problems) + problems
        scheme = None
    if problems:
        raise BadInput("The marking scheme has problems: " + "; ".join(problems), details=problems)
    return scheme, {k: v for k, v in flags.items() if k in FLAG_KEYS}


def stored_config(scheme: kernel.MarkingScheme, flags: dict) -> dict:
    return {**kernel.scheme_to_dict(scheme), "flags": flags}


def default_config() -> dict:
    return stored_config(kernel.default_scheme(), {})


def _with_form_scales(scheme: kernel.MarkingScheme, fields: list[dict]) -> kernel.MarkingScheme:
    """The group rule's score fields on the review form's own scales (the form decides what a score means)."""
    from dataclasses import replace

    by_id = {f["id"]: f for f in fields}
    group_fields = tuple(replace(f, low=Decimal(by_id[f.key]["low"]), high=Decimal(by_id[f.key]["high"]))
                         if f.key in by_id else f for f in scheme.group.fields)
    return replace(scheme, group=replace(scheme.group, fields=group_fields))


def round_half_up(value: float, decimals: int) -> float:
    return float(kernel.round_half_up(Decimal(repr(float(value))), decimals))


def rubric_mark(config: dict, levels: dict) -> float:
    """A review's mark from its rubric levels (criterion -> points), on the scheme's scale, rounded once."""
    scheme = config["_scheme"]
    try:
        exact, _lines = kernel_marks.rubric_mark(scheme.rubric, levels, scheme.scale)
    except (kernel.MarkError, kernel.SchemeError) as exc:
        raise BadInput(f"The rubric levels have problems: {exc}") from None
    return float(kernel.round_half_up(exact, scheme.scale.decimals))


def validate_levels(config: dict, levels: Any) -> dict:
    """Levels as criterion -> points, each one of its criterion's levels; BadInput naming every problem."""
    if not isinstance(levels, dict):
        raise BadInput("Levels map each rubric criterion to the points of one of its levels.")
    out, problems = {}, []
    for crit in config["rubric"]:
        raw = levels.get(crit["id"])
        allowed = [lv[0] for lv in crit["levels"]]
        try:
            value = float(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            value = float("nan")
        if value is None:
            problems.append(f"{crit['label']}: choose a level")
        elif value not in allowed:
            problems.append(f"{crit['label']}: {raw!r} is not one of its levels ({', '.join(map(str, allowed))})")
        else:
            out[crit["id"]] = int(value) if value == int(value) else value
    unknown = set(levels) - {c["id"] for c in config["rubric"]}
    if unknown:
        problems.append(f"no rubric criterion {', '.join(sorted(map(str, unknown)))}")
    if problems:
        raise BadInput("The rubric levels have problems: " + "; ".join(problems), details=problems)
    return out


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


def _pct(value: float, low: float, high: float) -> float:
    return (value - low) / (high - low) if high > low else 0.0


def _median(xs: list[float]) -> float | None:
    if not xs:
        return None
    ys = sorted(xs)
    mid = len(ys) // 2
    return ys[mid] if len(ys) % 2 else (ys[mid - 1] + ys[mid]) / 2


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


def _evidence_cache(session: Session):  # noqa: ANN202
    """artifact_evidence, read once per submission."""
    cache: dict[int, dict] = {}

    def evidence_of(sub: Submission) -> dict:
        if sub.id not in cache:
            cache[sub.id] = artifact_evidence(session, sub)
        return cache[sub.id]
    return evidence_of


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


# --- the gradebook export (app.moderation.export) --------------------------------------------------------------------------

EXPORT_FORMATS = kernel_export.FORMATS


def _learn_username(email: str) -> str:
    """Learn's "Username" is the university login: the local part of the roster's university email."""
    return email.split("@", 1)[0]


def export_marks(session: Session, venue: Venue, fmt: str, *, draft: bool = False) -> tuple[str, str]:
    """(file name, text) of the gradebook export. Released marks only, unless `draft` (then the file name says
    DRAFT). Raises Conflict naming the members when there are no marks or a member lacks the identifier the
    format needs; nothing is written by the caller then."""
    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"The export format is one of {', '.join(EXPORT_FORMATS)}.")
    config = scheme_config(session, venue)
    items = [kernel.GradeItem(c["id"], c["label"]) for c in config["components"]]
    rows: list = []

    def row(user: User, components: dict, total: float | None, letter: str | None, feedback: str):  # noqa: ANN202
        return kernel.ExportRow(name=user.full_name, email=user.email, id_number=user.student_id,
                                username=_learn_username(user.email), marks=dict(components), total=total,
                                letter=letter, feedback={"total": feedback} if feedback else {})

    if draft:
        for s in compute_marks(session, venue, config=config, with_flags=False).students:
            if s.total is not None or any(v is not None for v in s.components.values()):
                rows.append(row(s.user, s.components, s.total, s.letter, s.feedback))
    else:
        for snap, _member, user in session.exec(
                select(ReleasedMark, Member, User).join(Member, col(Member.id) == ReleasedMark.member_id)
                .join(User, col(User.id) == Member.user_id).where(ReleasedMark.venue_id == venue.id)
                .order_by(col(User.full_name))).all():
            rows.append(row(user, snap.components, snap.total, snap.letter, snap.feedback))
    if not rows:
        raise Conflict("There are no marks to export yet: " + ("nothing could be computed." if draft else
                       "none have been released (a chair may export a draft)."))
    try:
        text = kernel.render(fmt, rows, items)
    except kernel.ExportError as exc:
        raise Conflict(f"Nothing was exported: {exc}.") from None
    return kernel.filename(venue.slug, fmt, draft), text


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


# --- request an extra review (goes through the one assignment path) --------------------------------------------------


@dataclass
class ExtraReview:
    """One more reviewer asked for a submission: who, how they were chosen, their affinity when known."""

    submission: Submission
    member: Member
    user: User
    affinity: float | None
    chosen: str  # "chair" (named by the chair) | "affinity" (the best-affinity eligible reviewer)


def extra_review_candidates(session: Session, venue: Venue, submission: Submission) -> list[tuple[Member, User]]:
    """Who may be asked for an extra review of `submission`: reviewers (students, external reviewers, TAs) not yet
    assigned to it, not its authors, without a conflict with it — as the one assignment path checks them."""
    from app.services import assignments

    pool = assignments.reviewers(session, venue, include_tas=True)
    trial = [assignments.Change("add", submission.id, m.id) for m, _u in pool]
    refused = {p.change.member_id for p in assignments.check_changes(session, venue, trial) if p.change}
    return [(m, u) for m, u in pool if m.id not in refused]


def _best_affinity(session: Session, settings, venue: Venue, submission: Submission,  # noqa: ANN001
                   candidates: list[tuple[Member, User]]) -> tuple[Member, User, float]:
    """The eligible peer reviewer (student or external reviewer) closest to the submission, from cached
    embeddings only (a request never waits for the model)."""
    from app.services import assignments

    peers = {m.id: (m, u) for m, u in candidates if m.role in assignments.REVIEWER_ROLES}
    if not peers:
        raise Conflict(f"No student or external reviewer is free to review #{submission.number} (each is assigned "
                       "to it already, an author of it or in conflict with it): name a reviewer, e.g. a TA.")
    try:
        sc = assignments.score_venue(session, settings, venue, cache_only=True)
    except assignments.NotEmbedded:
        raise Conflict("The reviewers' affinity to the submissions is not computed yet (no embeddings are cached): "
                       "pick a reviewer by name, or run an assignment Preview first to compute it.") from None
    row = next(i for i, s in enumerate(sc.subs) if s.id == submission.id)
    scored = [(float(sc.matrix[row, j]), -j, m.id) for j, m in enumerate(sc.members) if m.id in peers]
    affinity, _order, member_id = max(scored)
    return (*peers[member_id], affinity)


def request_extra_review(session: Session, settings, actor: User, venue: Venue, submission: Submission,  # noqa: ANN001
                         member_id: int | None = None) -> ExtraReview:
    """Ask one more reviewer for `submission` (e.g. when its reviewers disagree): the one named, or with None the
    best-affinity eligible reviewer. Added through assignments.apply_changes (origin manual, one audit event, the
    assignment mail as usual); refused with the reason for an author, a conflicted or an assigned reviewer."""
    from app.models.assignment import Origin
    from app.services import assignments
    from app.services.deadlines import effective_deadline, format_in

    if member_id is None:
        member, user, affinity = _best_affinity(session, settings, venue, submission,
                                                extra_review_candidates(session, venue, submission))
        chosen = "affinity"
    else:
        member = get_member(session, venue, member_id)
        user = session.get(User, member.user_id)
        affinity, chosen = None, "chair"
        if member.role not in (*assignments.REVIEWER_ROLES, Role.ta.value):
            raise BadInput(f"{user.full_name} is a {member.role} of this venue, not a reviewer: choose a student, "
                           "an external reviewer or a TA.")
    change = assignments.Change("add", submission.id, member.id, Origin.manual.value, affinity)
    problems = assignments.check_changes(session, venue, [change])
    if problems:
        raise BadInput(f"{user.full_name} {problems[0].message}: nothing was changed; choose another reviewer.")
    due = effective_deadline(session, venue, "review", member.group_id, member.id).due_at
    if due is not None and utcnow() > due:
        raise Conflict(f"The review deadline ({format_in(due, venue.timezone)}) has passed for {user.full_name}, "
                       "who could not write the review: extend it first, or choose another reviewer.")
    how = "best affinity" if chosen == "affinity" else "named by the chair"
    assignments.apply_changes(session, actor, venue, [change], action="assignment.extra_review",
                              summary=f"extra review of #{submission.number} asked of {user.email} ({how})",
                              detail={"submission": submission.number, "member_id": member.id, "chosen": chosen,
                                      "affinity": affinity})
    return ExtraReview(submission, member, user, affinity, chosen)
