"""What marks are made of, read from the database in a handful of queries (staff only: names included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from app.models import (
    CalibrationExclusion,
    CalibrationItem,
    Group,
    MarkOverride,
    Member,
    Rating,
    Review,
    ReviewAssessment,
    ReviewModeration,
    ReviewStatus,
    Role,
    Submission,
    User,
    Venue,
)
from app.services.moderation.base import STAFF_ROLES
from app.services.review_forms import get_fields
from app.services.runs import runs_overview

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


def _evidence_cache(session: Session):  # noqa: ANN202
    """artifact_evidence, read once per submission."""
    cache: dict[int, dict] = {}

    def evidence_of(sub: Submission) -> dict:
        if sub.id not in cache:
            cache[sub.id] = artifact_evidence(session, sub)
        return cache[sub.id]
    return evidence_of
