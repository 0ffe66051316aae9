"""What a phase change will do, computed from the venue before a chair confirms it.

Each transition gets a checklist (deadline passed or not, submissions without a PDF or with format errors,
unassigned submissions, draft reviews, students whose marks are withheld, how many mails go out) and a
fingerprint of what it found. A chair confirms by echoing the fingerprint; when the venue changed since the
list was shown (another chair acted, a PDF came in), the fingerprint differs and the move is refused with the
new list (app.services.venues.change_phase).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import (
    PHASES,
    Assignment,
    DeadlineKind,
    Extension,
    ExtensionStatus,
    Member,
    Phase,
    ReleasedMark,
    Review,
    ReviewStatus,
    Revision,
    Role,
    Submission,
    Venue,
)
from app.services import notifications
from app.services.deadlines import format_in, venue_deadlines

# Which deadline must be set (and in the future) before a venue may enter a phase.
PHASE_NEEDS_DEADLINE = {Phase.submission.value: DeadlineKind.submission.value,
                        Phase.review.value: DeadlineKind.review.value}
# The deadline that belongs to the phase a venue leaves (leaving it early closes what the deadline promised).
PHASE_DEADLINE = {Phase.submission.value: DeadlineKind.submission.value,
                  Phase.review.value: DeadlineKind.review.value,
                  Phase.response.value: DeadlineKind.response.value,
                  Phase.discussion.value: DeadlineKind.discussion.value}
LISTED = 20  # submissions named per item; the count says how many in all

OK, WARNING, BLOCKER = "ok", "warning", "blocker"


@dataclass
class CheckItem:
    code: str                 # deadline, deadline-needed, no-pdf, format-errors, unassigned, draft-reviews,
    level: str                # marks-withheld, mails, back
    message: str
    count: int = 0
    names: list[str] = field(default_factory=list)  # e.g. "#3" for the submissions concerned (at most LISTED)


@dataclass
class Checklist:
    venue_phase: str
    target: str
    items: list[CheckItem]
    mails: int
    fingerprint: str = ""

    @property
    def blockers(self) -> list[CheckItem]:
        return [i for i in self.items if i.level == BLOCKER]

    def as_dict(self) -> dict:
        return {"from": self.venue_phase, "to": self.target, "items": [asdict(i) for i in self.items],
                "mails": self.mails, "fingerprint": self.fingerprint, "can_confirm": not self.blockers}


def _fingerprint(checklist: Checklist) -> str:
    """What the chair saw, without the wording (which names times relative to now)."""
    seen = [checklist.venue_phase, checklist.target, checklist.mails,
            [(i.code, i.level, i.count, i.names) for i in checklist.items]]
    return hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()[:24]


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _numbers(subs: list[Submission]) -> list[str]:
    return [f"#{s.number}" for s in sorted(subs, key=lambda s: s.number)[:LISTED]]


def _submissions(session: Session, venue: Venue) -> list[Submission]:
    return list(session.exec(select(Submission).where(Submission.venue_id == venue.id)
                             .order_by(col(Submission.number))).all())


def _current_revisions(session: Session, subs: list[Submission]) -> dict[int, Revision]:
    """Each submission's latest revision (the one that counts)."""
    if not subs:
        return {}
    rows = session.exec(select(Revision).where(col(Revision.submission_id).in_([s.id for s in subs]))
                        .order_by(col(Revision.submission_id), col(Revision.uploaded_at), col(Revision.id))).all()
    return {r.submission_id: r for r in rows}  # later rows win


def _deadline_item(session: Session, venue: Venue, kind: str, now: datetime, closing: str) -> CheckItem:
    due = venue_deadlines(session, venue).get(kind)
    if due is None:
        return CheckItem("deadline", OK, f"No {kind} deadline was set.")
    extended = session.exec(select(func.count()).select_from(Extension).where(
        Extension.venue_id == venue.id, Extension.kind == kind, Extension.status == ExtensionStatus.granted.value,
        col(Extension.new_due_at) > now)).one()
    if due <= now and not extended:
        return CheckItem("deadline", OK, f"The {kind} deadline ({format_in(due, venue.timezone)}) has passed.")
    if due > now:
        days = (due - now).total_seconds() / 86400
        left = f"{days:.0f} days" if days >= 2 else f"{days * 24:.0f} hours"
        text = (f"The {kind} deadline ({format_in(due, venue.timezone)}) has not passed: it is {left} away. "
                f"{closing}")
    else:
        text = f"The {kind} deadline has passed, but {closing[0].lower()}{closing[1:]}"
    if extended:
        text += f" ({_plural(extended, 'granted extension')} of this deadline still running.)"
    return CheckItem("deadline", WARNING, text, count=1 + extended)


def phase_checklist(session: Session, venue: Venue, target: str, *, now: datetime | None = None) -> Checklist:
    """The checklist of moving `venue` to `target` (a move that allowed_phase_moves allows)."""
    now = now or datetime.now(UTC)
    i_from, i_to = PHASES.index(Phase(venue.phase)), PHASES.index(Phase(target))
    items: list[CheckItem] = []
    if i_to < i_from:
        items.append(CheckItem("back", WARNING, f"This reopens the {target} phase: what the {venue.phase} phase "
                                                f"showed (e.g. pages and forms of that phase) is closed again."))
    else:
        items += _forward_items(session, venue, target, now)
    preview = Venue(**{**venue.model_dump(), "phase": target})  # not in the session: nothing is written
    mails = notifications.phase_changed(session, preview, venue.phase, target, dry_run=True)
    items.append(CheckItem("mails", OK if mails == 0 else WARNING,
                           "No mail goes out." if mails == 0 else f"{_plural(mails, 'mail')} will go out "
                           "when you confirm.", count=mails))
    checklist = Checklist(venue.phase, target, items, mails)
    checklist.fingerprint = _fingerprint(checklist)
    return checklist


def _forward_items(session: Session, venue: Venue, target: str, now: datetime) -> list[CheckItem]:
    items: list[CheckItem] = []
    needed = PHASE_NEEDS_DEADLINE.get(target)
    if needed:
        due = venue_deadlines(session, venue).get(needed)
        if due is None:
            items.append(CheckItem("deadline-needed", BLOCKER,
                                   f"Set the {needed} deadline before opening the {target} phase."))
        elif due <= now:
            items.append(CheckItem("deadline-needed", BLOCKER,
                                   f"The {needed} deadline ({format_in(due, venue.timezone)}) has passed: "
                                   f"set a new one before opening the {target} phase."))
    leaving = PHASE_DEADLINE.get(venue.phase)
    if leaving:
        closing = {"submission": "Groups can no longer upload once the phase moves on.",
                   "review": "Reviews not yet submitted can no longer be submitted once the phase moves on.",
                   "response": "Authors can no longer write their response once the phase moves on.",
                   "discussion": "The discussion closes once the phase moves on."}[leaving]
        items.append(_deadline_item(session, venue, leaving, now, closing))
    if target in (Phase.assignment.value, Phase.review.value):
        if leaving != DeadlineKind.submission.value:  # reaching review with uploads still promised
            due = venue_deadlines(session, venue).get(DeadlineKind.submission.value)
            if due is not None and due > now:
                items.append(CheckItem("deadline", WARNING, f"The submission deadline ({format_in(due, venue.timezone)})"
                                       " has not passed: reviewers may read papers that are still changing.",
                                       count=1))
        items += _submission_items(session, venue, target)
    if target == Phase.review.value:
        items.append(_unassigned_item(session, venue))
    if PHASES.index(Phase(target)) > PHASES.index(Phase.review.value):
        items.append(_draft_item(session, venue, target))
    if target == Phase.released.value:
        items.append(_withheld_item(session, venue))
    return items


def _submission_items(session: Session, venue: Venue, target: str) -> list[CheckItem]:
    subs = _submissions(session, venue)
    current = _current_revisions(session, subs)
    no_pdf = [s for s in subs if s.id not in current]
    bad = [s for s in subs if s.id in current and not current[s.id].format_ok]
    who = "reviewers will see \"No PDF was uploaded\"" if target == Phase.review.value else \
        "they have nothing to assign reviewers to read"
    items = [CheckItem("no-pdf", WARNING if no_pdf else OK,
                       (f"{_plural(len(no_pdf), 'submission')} without a PDF ({', '.join(_numbers(no_pdf))}): "
                        f"{who}.") if no_pdf else f"Every submission has a PDF ({len(subs)} in all).",
                       count=len(no_pdf), names=_numbers(no_pdf))]
    items.append(CheckItem("format-errors", WARNING if bad else OK,
                           (f"{_plural(len(bad), 'PDF')} with format errors ({', '.join(_numbers(bad))})."
                            if bad else "No PDF has format errors."), count=len(bad), names=_numbers(bad)))
    return items


def _unassigned_item(session: Session, venue: Venue) -> CheckItem:
    subs = _submissions(session, venue)
    assigned = set(session.exec(select(Assignment.submission_id).where(Assignment.venue_id == venue.id)).all())
    missing = [s for s in subs if s.id not in assigned]
    if not missing:
        return CheckItem("unassigned", OK, "Every submission has reviewers.")
    return CheckItem("unassigned", WARNING, f"{_plural(len(missing), 'submission')} without a reviewer "
                     f"({', '.join(_numbers(missing))}): nobody will review them.", count=len(missing),
                     names=_numbers(missing))


def _draft_item(session: Session, venue: Venue, target: str) -> CheckItem:
    drafts = session.exec(select(Review, Submission).join(Submission, col(Submission.id) == Review.submission_id)
                          .where(Review.venue_id == venue.id, Review.status == ReviewStatus.draft.value)).all()
    reviewed = {tuple(r) for r in session.exec(select(Review.submission_id, Review.member_id)
                                               .where(Review.venue_id == venue.id)).all()}
    pairs = session.exec(select(Assignment.submission_id, Assignment.member_id).where(
        Assignment.venue_id == venue.id)).all()
    not_started = [p for p in pairs if tuple(p) not in reviewed]
    subs = {s.id: s for s in _submissions(session, venue)}
    concerned = sorted({s.number for _r, s in drafts} | {subs[p[0]].number for p in not_started if p[0] in subs})
    if not drafts and not not_started:
        return CheckItem("draft-reviews", OK, "Every assigned review is submitted.")
    after = ("they will not be shown to the authors or count towards marks" if target == Phase.released.value
             else "their reviewers can no longer submit them")
    parts = [_plural(len(drafts), "review is still a draft", "reviews are still drafts")] if drafts else []
    if not_started:
        parts.append(_plural(len(not_started), "assigned review was never started",
                             "assigned reviews were never started"))
    return CheckItem("draft-reviews", WARNING, f"{' and '.join(parts)} (on "
                     f"{', '.join(f'#{n}' for n in concerned[:LISTED])}): {after}.",
                     count=len(drafts) + len(not_started), names=[f"#{n}" for n in concerned[:LISTED]])


def _withheld_item(session: Session, venue: Venue) -> CheckItem:
    students = session.exec(select(Member.id).join(Submission, col(Submission.group_id) == Member.group_id)
                            .where(Member.venue_id == venue.id, Member.role == Role.student.value,
                                   Submission.venue_id == venue.id)).all()
    released = set(session.exec(select(ReleasedMark.member_id).where(ReleasedMark.venue_id == venue.id)).all())
    withheld = [m for m in students if m not in released]
    if not withheld:
        return CheckItem("marks-withheld", OK, "Every author's marks are released.")
    return CheckItem("marks-withheld", WARNING,
                     f"{_plural(len(withheld), 'student')} whose marks are not released (withheld or not complete):"
                     " they are told that the reviews are final and that their marks come later.",
                     count=len(withheld))
