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
from typing import Any

from sqlmodel import Session, col, select

from app.errors import BadInput, Conflict, NotFound, PhaseError
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
    for review, member, user in session.exec(
            select(Review, Member, User).join(Member, col(Member.id) == Review.member_id)
            .join(User, col(User.id) == Member.user_id)
            .where(Review.venue_id == venue.id, Review.status == ReviewStatus.submitted.value)
            .order_by(col(Review.id))).all():
        answers = review.published or {}
        mod = moderation.get(review.id)
        reviews.append(ReviewInput(
            id=review.id, submission_id=review.submission_id, member_id=member.id, reviewer_name=user.full_name,
            pseudonym=labels.get((review.submission_id, member.id), "Reviewer"),
            is_lecturer=member.role in STAFF_ROLES,
            scores={k: v for k, v in answers.items() if kinds.get(k) == "score" and isinstance(v, int)},
            texts={k: v for k, v in answers.items() if kinds.get(k) == "text" and isinstance(v, str)},
            is_late=review.is_late, submitted_at=review.submitted_at, ratings=ratings.get(review.id, []),
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
    from app.artifacts.runs import runs_overview  # moving to app.services.runs (the lead repoints it)

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
    return validate_scheme(row.config) if row else default_scheme()


def save_scheme(session: Session, actor: User, venue: Venue, config: Any) -> MarkingScheme:
    """Replace the scheme after the kernel's checks (every problem listed); refused while frozen."""
    row = get_scheme_row(session, venue)
    if row is not None and row.frozen_at is not None:
        raise Conflict("The marking scheme is frozen since marks were released: unfreeze it first (audited).")
    checked = validate_scheme(config)  # raises with every problem named; nothing changes
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


def _freeze_scheme(session: Session, actor: User, venue: Venue, config: dict) -> MarkingScheme:
    row = get_scheme_row(session, venue)
    if row is None:
        row = MarkingScheme(venue_id=venue.id, config=config, version=1, updated_by=actor.id)
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
    wanted = (config or {}).get("calibrate_on") or "overall"
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
    suggestion = suggest_for(data, config, compute_marks(session, venue, data=data, config=config), review.id)
    if accept_suggestion:
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
    overridden = not accept_suggestion and abs(value - suggestion["mark"]) > 1e-9
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
                 summary=f"{verb} mark of a review of #{sub.number}: {value:g} (suggested {suggestion['mark']:g})",
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
    marks = compute_marks(session, venue)
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
    marks = compute_marks(session, venue)
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
    config = scheme_config(session, venue)
    scheme = _freeze_scheme(session, actor, venue, config)
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
    """One mail per student through the notification outbox, keyed like the phase change's release mail
    (released:<submission>:user:<id>), so moving the venue to `released` afterwards does not mail them again."""
    wanting = notifications._wanting(session, (s.user.id for s in students), "on_release")  # noqa: SLF001
    sent = 0
    for s in students:
        if s.user.id not in wanting:
            continue
        sub = s.submission
        key = f"released:{sub.id}:user:{s.user.id}" if sub else f"released:venue{venue.id}:user:{s.user.id}"
        context = {"venue_title": venue.title, "venue_slug": venue.slug, "number": sub.number if sub else 0,
                   "title": sub.title if sub else venue.title, "reviews": 0, "path": f"/venues/{venue.slug}/marks"}
        sent += notifications.enqueue(session, key=key, user=s.user, kind="released", venue=venue, context=context)
    return sent


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


# --- the kernel adapter -------------------------------------------------------------------------------------------
# app.moderation (scheme, marks, flags, quality) is being written beside this service; until its functions are
# there these small pure functions stand in for them, with the same inputs. Each says what it computes.

DEFAULT_SCHEME: dict[str, Any] = {
    "components": [{"id": "group", "label": "Group work (paper and code)", "weight": 70},
                   {"id": "individual", "label": "Individual work (review quality)", "weight": 30}],
    "group": {"fields": {"overall": 1.0}, "peer_weight": 0.7, "calibrated": True, "badges": {"reproduced": 0}},
    "scale": {"min": 0, "max": 100, "bands": [["A", 70], ["B", 60], ["C", 50], ["D", 40], ["E", 30], ["F", 0]]},
    "rounding": 1,
    "rubric": [
        {"id": "specific", "label": "Specific", "levels": [[0, "vague"], [1, "some detail"], [2, "specific"],
                                                          [3, "precise: sections, figures, numbers, lines"]]},
        {"id": "constructive", "label": "Constructive", "levels": [[0, "no"], [1, "partly"], [2, "yes"],
                                                                   [3, "clear, actionable suggestions"]]},
        {"id": "coverage", "label": "Covers paper and code", "levels": [[0, "neither"], [1, "one of them"],
                                                                        [2, "both"], [3, "both, in depth"]]},
        {"id": "accurate", "label": "Accurate about the runs", "levels": [[0, "wrong"], [1, "partly"],
                                                                          [2, "accurate"], [3, "checked them"]]},
    ],
    "calibrate_on": "overall",
    "flags": {"min_reviews": 3, "disagreement": 0.3, "outlier": 0.3},
}


def default_scheme() -> dict:
    import copy

    return copy.deepcopy(DEFAULT_SCHEME)


def validate_scheme(config: Any) -> dict:
    """A chair's scheme checked whole: weights sum to 100 %, a rubric's criteria have levels, a sane scale and
    rounding. Raises BadInput naming every problem (details: one line each); missing parts take the defaults."""
    if not isinstance(config, dict):
        raise BadInput("A marking scheme is an object (components, group, scale, rounding, rubric).")
    out = default_scheme()
    unknown = set(config) - set(out)
    problems: list[str] = [f"unknown key(s): {', '.join(sorted(unknown))}"] if unknown else []
    out.update({k: v for k, v in config.items() if k in out})
    comps = out["components"]
    if not isinstance(comps, list) or not comps or not all(isinstance(c, dict) for c in comps):
        problems.append("components: a non-empty list of {id, label, weight}")
    else:
        ids = [c.get("id") for c in comps]
        if len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
            problems.append("components: each needs its own id")
        weights = [c.get("weight") for c in comps]
        if not all(isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in weights):
            problems.append("components: each weight is a number of percent, at least 0")
        elif abs(sum(weights) - 100) > 1e-6:
            problems.append(f"components: the weights sum to {sum(weights):g} %, they must sum to 100 %")
        for c in comps:
            c.setdefault("label", c.get("id", ""))
    scale = out["scale"]
    if not isinstance(scale, dict) or not all(isinstance(scale.get(k), int | float) for k in ("min", "max")) \
            or scale["min"] >= scale["max"]:
        problems.append("scale: needs numbers min < max")
    else:
        bands = scale.get("bands", [])
        if not isinstance(bands, list) or not all(isinstance(b, list) and len(b) == 2 and isinstance(b[0], str)
                                                  and isinstance(b[1], int | float) for b in bands):
            problems.append("scale: bands are [letter, lowest mark] pairs")
        elif any(not scale["min"] <= b[1] <= scale["max"] for b in bands):
            problems.append("scale: a band's lowest mark is outside the scale")
    if not isinstance(out["rounding"], int) or isinstance(out["rounding"], bool) or not 0 <= out["rounding"] <= 4:
        problems.append("rounding: the number of decimals, 0 to 4")
    rubric = out["rubric"]
    if not isinstance(rubric, list) or not rubric:
        problems.append("rubric: a non-empty list of criteria")
    else:
        for n, crit in enumerate(rubric, start=1):
            levels = crit.get("levels") if isinstance(crit, dict) else None
            if not isinstance(crit, dict) or not crit.get("id"):
                problems.append(f"rubric criterion {n}: needs an id")
            elif not isinstance(levels, list) or len(levels) < 2 or not all(
                    isinstance(lv, list) and len(lv) == 2 and isinstance(lv[0], int | float) for lv in levels):
                problems.append(f"rubric criterion {n} ({crit['id']}): needs at least two [points, label] levels")
    group = out["group"]
    if not isinstance(group, dict) or not isinstance(group.get("fields"), dict) or not group["fields"]:
        problems.append("group: fields maps review-form score fields to weights")
    elif not all(isinstance(w, int | float) and w >= 0 for w in group["fields"].values()) \
            or sum(group["fields"].values()) <= 0:
        problems.append("group: field weights are numbers at least 0, not all 0")
    elif not isinstance(group.get("peer_weight", 0.7), int | float) or not 0 <= group.get("peer_weight", 0.7) <= 1:
        problems.append("group: peer_weight is between 0 and 1 (the lecturer's review weighs the rest)")
    if problems:
        raise BadInput("The marking scheme has problems: " + "; ".join(problems), details=problems)
    return out


def round_half_up(value: float, decimals: int) -> float:
    from decimal import ROUND_HALF_UP, Decimal

    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def letter_for(config: dict, mark: float | None) -> str | None:
    if mark is None:
        return None
    for letter, lowest in sorted(config["scale"].get("bands", []), key=lambda b: -b[1]):
        if mark >= lowest:
            return letter
    return None


def rubric_mark(config: dict, levels: dict) -> float:
    """A review's mark from its rubric levels: points earned over points possible, on the scheme's scale."""
    lo, hi = config["scale"]["min"], config["scale"]["max"]
    got = best = 0.0
    for crit in config["rubric"]:
        points = [lv[0] for lv in crit["levels"]]
        best += max(points)
        got += float(levels.get(crit["id"], min(points)))
    return lo + (hi - lo) * (got / best if best else 0.0)


def validate_levels(config: dict, levels: Any) -> dict:
    if not isinstance(levels, dict):
        raise BadInput("Levels map each rubric criterion to one of its levels.")
    out, problems = {}, []
    for crit in config["rubric"]:
        raw = levels.get(crit["id"])
        allowed = [lv[0] for lv in crit["levels"]]
        try:
            value = float(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            value = -1.0
        if value is None:
            problems.append(f"{crit.get('label', crit['id'])}: choose a level")
        elif value not in allowed:
            problems.append(f"{crit.get('label', crit['id'])}: {raw!r} is not one of its levels")
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
    flags: list[dict] = field(default_factory=list)  # {"code", "reason", "weight"}
    is_calibration: bool = False

    @property
    def need(self) -> float:
        return sum(f["weight"] for f in self.flags)


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
        from app.moderation.calibrate import CalibrationError, fit
    except ImportError:  # the kernel is not there yet: a plain alternating least-squares bias correction
        est, sds, bias, bias_sds = _als(triples, target["low"], target["high"], known)
    else:
        try:
            result = fit(triples, target["low"], target["high"], known=known)
        except CalibrationError:
            return {}, {}, {}
        est, sds, bias, bias_sds = result.estimates, result.sds, result.biases, result.bias_sds
    estimates = {int(k): (v, sds.get(k, 0.0)) for k, v in est.items()}
    biases = {int(k): (v, bias_sds.get(k, 0.0)) for k, v in bias.items()}
    return estimates, biases, known or {}


def _als(triples: list[tuple[str, str, float]], low: float, high: float, known: dict | None,
         shrink: float = 1.0, rounds: int = 50) -> tuple[dict, dict, dict, dict]:
    """true_s = mean(score - bias_r), bias_r = sum(score - true_s) / (n_r + shrink), alternately; sd from the
    residual spread. Only used until app.moderation.calibrate.fit is there."""
    import statistics

    known = known or {}
    subs = {s for _r, s, _x in triples}
    reviewers = {r for r, _s, _x in triples}
    bias = dict.fromkeys(reviewers, 0.0)
    true = {s: known.get(s, statistics.fmean(x for _r, t, x in triples if t == s)) for s in subs}
    for _ in range(rounds):
        for s in subs:
            if s not in known:
                true[s] = statistics.fmean(x - bias[r] for r, t, x in triples if t == s)
        for r in reviewers:
            own = [x - true[s] for q, s, x in triples if q == r]
            bias[r] = sum(own) / (len(own) + shrink)
    residuals = [x - true[s] - bias[r] for r, s, x in triples]
    noise = max(0.25, statistics.pstdev(residuals)) if len(residuals) > 1 else (high - low) / 4
    sds = {s: 0.0 if s in known else noise / sum(1 for _r, t, _x in triples if t == s) ** 0.5 for s in subs}
    bias_sds = {r: noise / (sum(1 for q, _s, _x in triples if q == r) + shrink) ** 0.5 for r in reviewers}
    return ({s: min(high, max(low, v)) for s, v in true.items()}, sds, bias, bias_sds)


def compute_marks(session: Session, venue: Venue, *, data: VenueData | None = None,
                  config: dict | None = None) -> MarksResult:
    """Every mark of the venue, live, with how each came about (lecturers' view; students read the snapshot)."""
    data = data or gather(session, venue)
    config = config or scheme_config(session, venue)
    fields = {f["id"]: f for f in data.score_fields}
    target = fields.get(config.get("calibrate_on") or "overall") or (data.score_fields[0] if data.score_fields
                                                                      else None)
    estimates, biases, _known = _calibrate(data, target) if target else ({}, {}, {})
    lo, hi, decimals = config["scale"]["min"], config["scale"]["max"], config["rounding"]
    group_cfg = config["group"]
    weights = {k: float(w) for k, w in group_cfg["fields"].items() if k in fields and w > 0}
    wsum = sum(weights.values()) or 1.0
    peer_weight = float(group_cfg.get("peer_weight", 0.7))
    by_sub: dict[int, list[ReviewInput]] = {}
    for r in data.reviews:
        by_sub.setdefault(r.submission_id, []).append(r)
    evidence: dict[int, dict] = {}

    def evidence_of(sub: Submission) -> dict:
        if sub.id not in evidence:
            evidence[sub.id] = artifact_evidence(session, sub)
        return evidence[sub.id]

    subs: dict[int, SubmissionMarks] = {}
    for sub in data.submissions:
        rows = by_sub.get(sub.id, [])
        peers = [r for r in rows if not r.is_lecturer]
        lecturers = [r for r in rows if r.is_lecturer]
        raw = [float(r.scores[target["id"]]) for r in peers if target and target["id"] in r.scores]
        est = estimates.get(sub.id)
        lect = [float(r.scores[target["id"]]) for r in lecturers if target and target["id"] in r.scores]

        def part(reviews: list[ReviewInput], *, calibrated: bool) -> float | None:
            total, have = 0.0, 0.0
            for fid, w in weights.items():
                vals = [r.scores[fid] for r in reviews if fid in r.scores]
                if calibrated and target and fid == target["id"] and est is not None and group_cfg.get("calibrated", True):
                    value = est[0]
                elif vals:
                    value = sum(vals) / len(vals)
                else:
                    continue
                total += w * _pct(value, fields[fid]["low"], fields[fid]["high"])
                have += w
            return lo + (hi - lo) * total / have if have else None

        peer = part(peers, calibrated=True)
        lecturer = part(lecturers, calibrated=False)
        explanation = []
        if peer is not None:
            explanation.append(f"peer score {peer:.1f} ({'calibrated ' if est and group_cfg.get('calibrated', True) else ''}"
                               f"{', '.join(f'{k} × {w / wsum:.0%}' for k, w in weights.items())})")
        if lecturer is not None and peer is not None:
            computed = peer_weight * peer + (1 - peer_weight) * lecturer
            explanation.append(f"{peer_weight:.0%} × {peer:.1f} (peers) + {1 - peer_weight:.0%} × {lecturer:.1f} "
                               f"(lecturer) = {computed:.1f}")
        else:
            computed = peer if peer is not None else lecturer
            if lecturer is not None:
                explanation.append(f"lecturer's review only: {lecturer:.1f}")
        bonus_cfg = group_cfg.get("badges") or {}
        if computed is not None and any(bonus_cfg.values()):
            granted = evidence_of(sub)["granted"]
            bonus = sum(float(bonus_cfg.get(b, 0)) for b in granted)
            if bonus:
                computed = min(hi, computed + bonus)
                explanation.append(f"+ {bonus:g} for badges ({', '.join(granted)}) = {computed:.1f}")
        override = data.overrides.get(("submission", sub.id, "group"))
        computed_r = round_half_up(computed, decimals) if computed is not None else None
        mark = override.value if override else computed_r
        if override:
            explanation.append(f"set to {override.value:g} by a moderator (computed {_fmt(computed_r)}): "
                               f"{override.reason}")
        subs[sub.id] = SubmissionMarks(
            submission=sub, field=target["id"] if target else "", scores=raw,
            mean=sum(raw) / len(raw) if raw else None, median=_median(raw),
            calibrated=est[0] if est else None, sd=est[1] if est else None,
            lecturer=sum(lect) / len(lect) if lect else None, computed=computed_r, mark=mark, override=override,
            explanation=explanation, is_calibration=sub.id in data.calibration)
    _flag(data, config, subs, target, evidence_of)
    # individual marks: the lecturers' marks of each student's reviews
    reviews_by_member: dict[int, list[ReviewInput]] = {}
    for r in data.reviews:
        if not r.is_lecturer:
            reviews_by_member.setdefault(r.member_id, []).append(r)
    sub_of_group = {s.group_id: s for s in data.submissions}
    components = config["components"]
    students, member_computed, unmarked = [], {}, []
    for member, user in data.students:
        sub = sub_of_group.get(member.group_id) if member.group_id else None
        own = reviews_by_member.get(member.id, [])
        marked = [data.assessments[r.id].mark for r in own if r.id in data.assessments]
        missing = [f"review of #{_num(data, r.submission_id)} not marked" for r in own if r.id not in data.assessments]
        unmarked += [r for r in own if r.id not in data.assessments]
        individual = round_half_up(sum(marked) / len(marked), decimals) if marked else None
        computed = {"group": subs[sub.id].computed if sub else None, "individual": individual}
        values = {"group": subs[sub.id].mark if sub else None, "individual": individual}
        lines = []
        for c in components:
            cid = c["id"]
            o = data.overrides.get(("member", member.id, cid))
            if o is not None:
                values[cid] = o.value
                lines.append(f"{c['label']}: set to {o.value:g} (computed {_fmt(computed.get(cid))}): {o.reason}")
        member_computed[member.id] = computed
        for c in components:
            if values.get(c["id"]) is not None:
                continue
            if c["id"] == "group":
                missing.append("no group mark (no submission, or no scores yet)")
            elif c["id"] == "individual":
                if not own:
                    missing.append("wrote no submitted review")
            else:
                missing.append(f"no {c['label'].lower()} mark")
        total = None
        if all(values.get(c["id"]) is not None for c in components):
            raw_total = sum(c["weight"] / 100 * values[c["id"]] for c in components)
            total = round_half_up(raw_total, decimals)
            lines.insert(0, " + ".join(f"{c['weight']:g} % × {values[c['id']]:g}" for c in components)
                         + f" = {total:g}")
        o_total = data.overrides.get(("member", member.id, "total"))
        if o_total is not None:
            lines.append(f"total set to {o_total.value:g} (computed {_fmt(total)}): {o_total.reason}")
            total = o_total.value
            missing = []
        feedback = "\n\n".join(data.assessments[r.id].feedback for r in own
                               if r.id in data.assessments and data.assessments[r.id].feedback)
        breakdown = {"components": [{"id": c["id"], "label": c["label"], "weight": c["weight"],
                                     "mark": values.get(c["id"])} for c in components],
                     "explanation": lines,
                     "group": subs[sub.id].explanation if sub else [],
                     "reviews": [{"submission": _num(data, r.submission_id),
                                  "mark": data.assessments[r.id].mark if r.id in data.assessments else None}
                                 for r in own]}
        students.append(StudentMarks(member=member, user=user, submission=sub, components=values,
                                     computed=computed, total=total, letter=letter_for(config, total),
                                     breakdown=breakdown, feedback=feedback, missing=missing))
    return MarksResult(config=config, submissions=subs, students=students,
                       group_computed={sid: {"group": s.computed} for sid, s in subs.items()},
                       member_computed=member_computed, biases=biases, unmarked=unmarked)


def _num(data: VenueData, submission_id: int) -> int:
    return next((s.number for s in data.submissions if s.id == submission_id), 0)


# --- flags: why a submission needs moderation ------------------------------------------------------------------------

_POSITIVE = ("good", "clear", "strong", "well", "novel", "convincing", "solid", "impressive", "excellent", "nice")
_NEGATIVE = ("missing", "wrong", "unclear", "weak", "fails", "not ", "no ", "lacks", "poor", "incorrect", "broken")


def _tone(texts: dict[str, str]) -> tuple[int, int]:
    text = " ".join(texts.values()).lower()
    return sum(text.count(w) for w in _POSITIVE), sum(text.count(w) for w in _NEGATIVE)


def _flag(data: VenueData, config: dict, subs: dict[int, SubmissionMarks], target: dict | None,
          evidence_of) -> None:  # noqa: ANN001
    """Each submission's flags, each with its reason in words and a weight (the queue sorts by their sum)."""
    cfg = {"min_reviews": 3, "disagreement": 0.3, "outlier": 0.3, **(config.get("flags") or {})}
    fields = {f["id"]: f for f in data.score_fields}
    for sub_id, sm in subs.items():
        rows = [r for r in data.reviews if r.submission_id == sub_id and not r.is_lecturer]
        flags = sm.flags
        if len(rows) < cfg["min_reviews"]:
            flags.append({"code": "few-reviews", "weight": 3 if not rows else 2,
                          "reason": f"only {len(rows)} submitted review(s), fewer than {cfg['min_reviews']}"})
        if target and len(sm.scores) >= 2:
            width = target["high"] - target["low"]
            spread = max(sm.scores) - min(sm.scores)
            if width and spread / width > cfg["disagreement"]:
                flags.append({"code": "disagreement", "weight": 2,
                              "reason": f"reviewers disagree: {target['label']} scores range from {min(sm.scores):g} "
                                        f"to {max(sm.scores):g} ({spread / width:.0%} of the scale, threshold "
                                        f"{cfg['disagreement']:.0%})"})
            centre = sm.calibrated if sm.calibrated is not None else sm.median
            if len(sm.scores) >= 3 and centre is not None and width:
                for r in rows:
                    v = r.scores.get(target["id"])
                    if v is not None and abs(v - centre) / width > cfg["outlier"] and \
                            abs(v - centre) >= max(abs(x - centre) for x in sm.scores):
                        flags.append({"code": "outlier", "weight": 1,
                                      "reason": f"{r.pseudonym}'s {target['label']} {v} is far from the consensus "
                                                f"{centre:.1f}"})
                        break
        if target:
            for r in rows:
                v = r.scores.get(target["id"])
                if v is None:
                    continue
                pos, neg = _tone(r.texts)
                high = _pct(v, target["low"], target["high"]) >= 0.75
                low = _pct(v, target["low"], target["high"]) <= 0.25
                if high and neg >= 3 and pos == 0:
                    flags.append({"code": "contradiction", "weight": 1,
                                  "reason": f"{r.pseudonym} gives {target['label']} {v}/{target['high']} but the text "
                                            f"names only weaknesses ({neg} critical phrases, no praise)"})
                elif low and pos >= 3 and neg == 0:
                    flags.append({"code": "contradiction", "weight": 1,
                                  "reason": f"{r.pseudonym} gives {target['label']} {v}/{target['high']} but the text "
                                            f"only praises ({pos} positive phrases, no criticism)"})
        repro = fields.get("reproducible")
        if repro:
            believers = [r for r in rows if _pct(r.scores.get("reproducible", repro["low"]), repro["low"],
                                                 repro["high"]) >= 0.66]
            if believers:
                failed = evidence_of(sm.submission)["failed_claims"]
                if failed:
                    flags.append({"code": "claims-failed", "weight": 2,
                                  "reason": f"{len(believers)} reviewer(s) call it reproducible, but claim(s) "
                                            f"{', '.join(c['key'] for c in failed)} failed on the rig"})
        abusive = [r for r in data.reviews if r.submission_id == sub_id and r.abusive]
        if abusive:
            flags.append({"code": "abusive", "weight": 3,
                          "reason": f"{len(abusive)} review(s) marked abusive: "
                                    f"{', '.join(r.pseudonym for r in abusive)}"})


# --- review-quality suggestions -----------------------------------------------------------------------------------------

import re as _re  # noqa: E402

_SPECIFIC = _re.compile(r"\b(section|sec\.|§|figure|fig\.|table|tab\.|eq(uation)?\.?|line[s]?|page|appendix)\s*\d+"
                        r"|\b\d+(\.\d+)?\s*(%|x|ms|us|µs|kb|mb|gb)\b|`[^`]+`|\w+\.py\b", _re.IGNORECASE)


def suggest_for(data: VenueData, config: dict, marks: MarksResult, review_id: int) -> dict:
    """A suggested review-quality mark with its reasons: length and specificity, agreement with the calibrated
    consensus, the authors' helpfulness ratings, timeliness, and closeness to a calibration item's reference."""
    r = next((x for x in data.reviews if x.id == review_id), None)
    if r is None:
        raise NotFound("There is no such submitted review in this venue.")
    text = "\n".join(r.texts.values())
    words = len(text.split())
    specifics = len(_SPECIFIC.findall(text))
    reasons, signal = [], {}
    signal["specific"] = min(1.0, specifics / 6) * 0.7 + min(1.0, words / 400) * 0.3
    reasons.append(f"{words} words, {specifics} specific references (sections, figures, numbers, code)")
    paper_fields = {f["id"] for f in data.fields if f.get("section") == "paper" and f.get("type") == "text"}
    code_fields = {f["id"] for f in data.fields if f.get("section") == "code" and f.get("type") == "text"}
    has_paper = any(len(r.texts.get(f, "").split()) >= 15 for f in paper_fields)
    has_code = any(len(r.texts.get(f, "").split()) >= 15 for f in code_fields)
    signal["coverage"] = (has_paper + has_code) / 2
    reasons.append("covers " + (" and ".join(w for w, on in (("the paper", has_paper), ("the code", has_code)) if on)
                                or "neither the paper nor the code in depth"))
    if r.ratings:
        mean_rating = sum(r.ratings) / len(r.ratings)
        signal["constructive"] = (mean_rating - 1) / 4
        reasons.append(f"authors rated it {mean_rating:.1f}/5 for helpfulness")
    else:
        signal["constructive"] = min(1.0, signal["specific"] + 0.2)
        reasons.append("no helpfulness rating from the authors")
    sm = marks.submissions.get(r.submission_id)
    target = next((f for f in data.score_fields if sm and f["id"] == sm.field), None)
    agreement = None
    if sm and target and target["id"] in r.scores:
        item = data.calibration.get(r.submission_id)
        ref = item.reference if item else sm.calibrated
        if ref is not None:
            agreement = 1 - min(1.0, abs(r.scores[target["id"]] - ref) / (target["high"] - target["low"]) * 2)
            reasons.append(f"its {target['label']} {r.scores[target['id']]} vs the "
                           f"{'calibration item reference' if item else 'calibrated consensus'} {ref:.1f}")
    signal["accurate"] = agreement if agreement is not None else 0.5
    if r.is_late:
        reasons.append("submitted late (within an extension): one level less for being specific")
    levels = {}
    for crit in config["rubric"]:
        points = sorted(lv[0] for lv in crit["levels"])
        fraction = signal.get(crit["id"], (signal["specific"] + signal["coverage"]) / 2)
        if r.is_late and crit["id"] == "specific":
            fraction = max(0.0, fraction - 1 / max(1, len(points) - 1))
        levels[crit["id"]] = points[min(len(points) - 1, round(fraction * (len(points) - 1)))]
    mark = round_half_up(rubric_mark(config, levels), config["rounding"])
    return {"levels": levels, "mark": mark, "reasons": reasons}


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
    marks = compute_marks(session, venue, data=data, config=config)
    out = []
    for r in data.reviews:
        if r.is_lecturer:
            continue
        assessment = data.assessments.get(r.id)
        if only_unmarked and assessment is not None:
            continue
        out.append({"review": r, "number": _num(data, r.submission_id), "assessment": assessment,
                    "suggestion": suggest_for(data, config, marks, r.id)})
    return out


def review_marking_one(session: Session, venue: Venue, review: Review) -> dict:
    data = gather(session, venue)
    config = scheme_config(session, venue)
    marks = compute_marks(session, venue, data=data, config=config)
    r = next(x for x in data.reviews if x.id == review.id)
    return {"review": r, "number": _num(data, r.submission_id), "assessment": data.assessments.get(r.id),
            "suggestion": suggest_for(data, config, marks, r.id), "config": config, "fields": data.fields}


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


# --- the gradebook export ------------------------------------------------------------------------------------------------

EXPORT_FORMATS = ("moodle", "learn", "csv", "json")


@dataclass
class ExportRow:
    name: str
    email: str
    id_number: str | None
    components: dict[str, float | None]
    total: float | None
    letter: str | None
    feedback: str


def _learn_username(email: str) -> str:
    """Learn's "Username" is the university login, which is the local part of the roster's university email."""
    return email.split("@", 1)[0]


def export_marks(session: Session, venue: Venue, fmt: str, *, draft: bool = False) -> tuple[str, str]:
    """(file name, text) of the gradebook export. Released marks only, unless `draft` (then the file name says
    DRAFT). Raises Conflict listing the members when there are no marks or a member lacks the identifier the
    format needs; nothing is written by the caller then."""
    import json

    if fmt not in EXPORT_FORMATS:
        raise BadInput(f"The export format is one of {', '.join(EXPORT_FORMATS)}.")
    config = scheme_config(session, venue)
    components = config["components"]
    rows: list[ExportRow] = []
    if draft:
        for s in compute_marks(session, venue, config=config).students:
            if s.total is None and all(v is None for v in s.components.values()):
                continue
            rows.append(ExportRow(s.user.full_name, s.user.email, s.user.student_id, s.components, s.total,
                                  s.letter, s.feedback))
    else:
        for snap, member, user in session.exec(
                select(ReleasedMark, Member, User).join(Member, col(Member.id) == ReleasedMark.member_id)
                .join(User, col(User.id) == Member.user_id).where(ReleasedMark.venue_id == venue.id)
                .order_by(col(User.full_name))).all():
            rows.append(ExportRow(user.full_name, user.email, user.student_id, snap.components, snap.total,
                                  snap.letter, snap.feedback))
    if not rows:
        raise Conflict("There are no marks to export yet: " + ("nothing could be computed." if draft else
                       "none have been released (a chair may export a draft)."))
    if fmt == "moodle":
        lacking = [r for r in rows if not (r.id_number or "").strip()]
        if lacking:
            raise Conflict(f"{len(lacking)} member(s) have no ID number, which Moodle's import matches on: "
                           + ", ".join(f"{r.name} <{r.email}>" for r in lacking) + ". Import the roster with "
                           "ID numbers first; nothing was exported.",
                           details=[{"name": r.name, "email": r.email} for r in lacking])
    stem = f"{venue.slug}-marks-{fmt}" + ("-DRAFT" if draft else "")
    if fmt == "json":
        payload = {"venue": venue.slug, "draft": draft, "components": [{"id": c["id"], "label": c["label"],
                                                                        "weight": c["weight"]} for c in components],
                   "marks": [{"name": r.name, "email": r.email, "id_number": r.id_number, "components": r.components,
                              "total": r.total, "letter": r.letter, "feedback": r.feedback} for r in rows]}
        return stem + ".json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def value(v: float | None) -> str:
        return "" if v is None else f"{v:g}"

    if fmt == "moodle":
        header = ["ID number", "Email address", "Full name"]
        for c in components:
            header += [c["label"], f"{c['label']} Feedback"]
        header += ["Total", "Total Feedback"]
        writer.writerow(header)
        for r in rows:
            line = [r.id_number, r.email, r.name]
            for c in components:
                line += [value(r.components.get(c["id"])), ""]
            line += [value(r.total), r.feedback]
            writer.writerow(line)
    elif fmt == "learn":
        hi = config["scale"]["max"]
        header = ["Last Name", "First Name", "Username"]
        header += [f"{c['label']} [Total Pts: {hi:g} Score]" for c in components]
        header += [f"Total [Total Pts: {hi:g} Score]", "Feedback to Learner"]
        writer.writerow(header)
        for r in rows:
            first, _, last = r.name.rpartition(" ")
            writer.writerow([last or r.name, first, _learn_username(r.email)]
                            + [value(r.components.get(c["id"])) for c in components] + [value(r.total), r.feedback])
    else:
        writer.writerow(["Name", "Email", "ID number"] + [c["id"] for c in components] + ["total", "letter"])
        for r in rows:
            writer.writerow([r.name, r.email, r.id_number or ""] + [value(r.components.get(c["id"])) for c in components]
                            + [value(r.total), r.letter or ""])
    return stem + ".csv", buf.getvalue()


# --- plots (server-side SVG) -----------------------------------------------------------------------------------------------


def _esc(text: str) -> str:
    from html import escape

    return escape(str(text), quote=True)


def svg_histogram(values: list[float], low: float, high: float, title: str, bins: int = 10) -> str:
    """A small histogram of marks (counts per bin of the scale)."""
    w, h, pad = 360, 140, 24
    counts = [0] * bins
    for v in values:
        i = min(bins - 1, max(0, int((v - low) / (high - low) * bins))) if high > low else 0
        counts[i] += 1
    top = max(counts) or 1
    bw = (w - 2 * pad) / bins
    bars = "".join(f'<rect x="{pad + i * bw:.1f}" y="{h - pad - c / top * (h - 2 * pad):.1f}" width="{bw - 2:.1f}" '
                   f'height="{c / top * (h - 2 * pad):.1f}" fill="#4a7bb7"><title>{c}</title></rect>'
                   for i, c in enumerate(counts))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="{_esc(title)}">'
            f'<text x="{pad}" y="14" font-size="11">{_esc(title)} (n={len(values)})</text>{bars}'
            f'<text x="{pad}" y="{h - 6}" font-size="10">{low:g}</text>'
            f'<text x="{w - pad}" y="{h - 6}" font-size="10" text-anchor="end">{high:g}</text></svg>')


def svg_intervals(rows: list[tuple[str, float, float, float | None]], low: float, high: float, title: str) -> str:
    """Points with ±sd whiskers (calibrated estimates, or bias estimates), and the raw mean as a hollow mark."""
    w, pad, row_h = 360, 70, 14
    h = 24 + row_h * max(1, len(rows)) + 10

    def x(v: float) -> float:
        return pad + (w - pad - 10) * ((v - low) / (high - low) if high > low else 0)

    parts = [f'<text x="4" y="14" font-size="11">{_esc(title)}</text>']
    for i, (label, centre, sd, raw) in enumerate(rows):
        y = 28 + i * row_h
        parts.append(f'<text x="4" y="{y + 3}" font-size="9">{_esc(label)}</text>'
                     f'<line x1="{x(max(low, centre - sd)):.1f}" x2="{x(min(high, centre + sd)):.1f}" y1="{y}" '
                     f'y2="{y}" stroke="#888"/><circle cx="{x(centre):.1f}" cy="{y}" r="3" fill="#b74a4a"/>')
        if raw is not None:
            parts.append(f'<circle cx="{x(raw):.1f}" cy="{y}" r="3" fill="none" stroke="#4a7bb7"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="{_esc(title)}">'
            + "".join(parts) + "</svg>")


def plots(marks: MarksResult, data_fields: list[dict] | None = None) -> dict[str, str]:
    """The lecturers' plots: mark distribution per component, calibrated vs raw mean per submission, bias."""
    cfg = marks.config
    lo, hi = cfg["scale"]["min"], cfg["scale"]["max"]
    out = {}
    for c in cfg["components"]:
        values = [s.components.get(c["id"]) for s in marks.students]
        out[f"dist-{c['id']}"] = svg_histogram([v for v in values if v is not None], lo, hi, c["label"])
    out["dist-total"] = svg_histogram([s.total for s in marks.students if s.total is not None], lo, hi, "Total")
    subs = [s for s in marks.submissions.values() if s.calibrated is not None]
    if subs:
        flo = min([s.calibrated - (s.sd or 0) for s in subs] + [min(s.scores) for s in subs if s.scores])
        fhi = max([s.calibrated + (s.sd or 0) for s in subs] + [max(s.scores) for s in subs if s.scores])
        out["calibrated"] = svg_intervals([(f"#{s.submission.number}", s.calibrated, s.sd or 0, s.mean)
                                           for s in sorted(subs, key=lambda s: s.submission.number)],
                                          flo - 0.5, fhi + 0.5, "Calibrated (red, ± sd) vs raw mean (blue)")
    if marks.biases:
        bound = max(1.0, max(abs(b) + sd for b, sd in marks.biases.values()))
        out["bias"] = svg_intervals([(f"reviewer {m}", b, sd, None) for m, (b, sd) in sorted(marks.biases.items())],
                                    -bound, bound, "Reviewer bias (+ lenient, − harsh) ± sd")
    return out
