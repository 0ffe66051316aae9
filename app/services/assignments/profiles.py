"""Who and what an assignment matches: the venue's submissions and reviewers, the texts of submissions, the
reviewers' profiles (own group's submission, interests) and the current assignment rows."""

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from app import outbox
from app.errors import BadInput, NotFound
from app.models import Member, Revision, Role, Submission, User, Venue
from app.models.assignment import Assignment, ReviewerInterest
from app.settings import Settings

PDF_PAGES_FOR_TEXT = 2
REVIEWER_ROLES = (Role.student.value, Role.reviewer.value)
MAX_INTERESTS = 10
MAX_INTEREST_CHARS = 5000


@dataclass
class ProfileItem:
    """One thing a reviewer knows: a label for the chair ("own submission #3", "interest 2") and its text."""

    label: str
    text: str


# ---- who and what ------------------------------------------------------------------------------------


def reviewers(session: Session, venue: Venue, include_tas: bool = False) -> list[tuple[Member, User]]:
    roles = [*REVIEWER_ROLES, Role.ta.value] if include_tas else list(REVIEWER_ROLES)
    return list(session.exec(select(Member, User).join(User, User.id == Member.user_id)
                             .where(Member.venue_id == venue.id, Member.role.in_(roles))
                             .order_by(Member.id)).all())


def submissions(session: Session, venue: Venue) -> list[Submission]:
    return list(session.exec(select(Submission).where(Submission.venue_id == venue.id)
                             .order_by(Submission.number)).all())


def current(session: Session, venue: Venue) -> list[Assignment]:
    return list(session.exec(select(Assignment).where(Assignment.venue_id == venue.id)
                             .order_by(Assignment.submission_id, Assignment.member_id)).all())


def get_assignment_sub(session: Session, venue: Venue, number: int) -> Submission:
    sub = session.exec(select(Submission).where(Submission.venue_id == venue.id, Submission.number == number)).first()
    if sub is None:
        raise NotFound(f"There is no submission #{number}.")
    return sub


def member_labels(session: Session, member_ids: set[int]) -> dict[int, str]:
    """Member id -> email (chairs name reviewers by email)."""
    rows = session.exec(select(Member, User).join(User, User.id == Member.user_id)
                        .where(Member.id.in_(member_ids))).all() if member_ids else []
    return {m.id: u.email for m, u in rows}


# ---- texts -------------------------------------------------------------------------------------------


def _pdf_text(settings: Settings, revision: Revision | None) -> str:
    """The first pages' text of the current PDF: more signal than the abstract alone, cheap to embed.

    Extracted once per stored PDF and kept beside the blobs (a blob never changes, so neither does its text):
    the chair's page and every re-solve read it back instead of parsing the PDF again.
    """
    if revision is None:
        return ""
    cache = Path(settings.data_dir) / "texts" / f"{revision.blob_sha}-p{PDF_PAGES_FOR_TEXT}.txt"
    try:
        return cache.read_text(encoding="utf-8")
    except OSError:
        pass
    from pypdf import PdfReader

    from app.services.submissions import store

    try:
        reader = PdfReader(str(store(settings).path(revision.blob_sha)))
        text = "\n".join((p.extract_text() or "") for p in reader.pages[:PDF_PAGES_FOR_TEXT])[:6000]
    except Exception:  # noqa: BLE001  (an unreadable PDF just adds no text)
        return ""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")  # unique per writer
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:
        pass
    return text


def submission_text(session: Session, settings: Settings, sub: Submission) -> str:
    from app.services.submissions import current_revision

    parts = [sub.title, sub.abstract, ", ".join(sub.keywords), _pdf_text(settings, current_revision(session, sub))]
    return "\n".join(p for p in parts if p and p.strip())


# ---- profiles and interests --------------------------------------------------------------------------


def interests(session: Session, member: Member) -> list[ReviewerInterest]:
    return list(session.exec(select(ReviewerInterest).where(ReviewerInterest.member_id == member.id)
                             .order_by(ReviewerInterest.id)).all())


def interests_by_member(session: Session, member_ids: list[int]) -> dict[int, list[ReviewerInterest]]:
    """Every listed member's interests in one query (a venue's 300 students: one query, not 300)."""
    out: dict[int, list[ReviewerInterest]] = {}
    for start in range(0, len(member_ids), 500):
        for i in session.exec(select(ReviewerInterest).where(ReviewerInterest.member_id.in_(
                member_ids[start:start + 500])).order_by(ReviewerInterest.id)).all():
            out.setdefault(i.member_id, []).append(i)
    return out


def profile_items(session: Session, settings: Settings, member: Member, own: dict[int, Submission],
                  texts: dict[int, str] | None = None,
                  known: list[ReviewerInterest] | None = None) -> list[ProfileItem]:
    """The reviewer's profile, in a stable order (own group's submission, then interests by id), blanks left out.

    The order is what makes "closest item" stable: explanations recompute the item scores from cached
    embeddings and index into this same list.
    """
    items = []
    if member.group_id is not None and member.group_id in own:
        sub = own[member.group_id]
        text = texts[sub.id] if texts and sub.id in texts else submission_text(session, settings, sub)
        items.append(ProfileItem(f"own submission #{sub.number}", text))
    mine = interests(session, member) if known is None else known  # known: from interests_by_member
    items += [ProfileItem(f"interest {n}", i.text) for n, i in enumerate(mine, start=1)]
    return [i for i in items if i.text.strip()]


def reviewer_profile(session: Session, settings: Settings, member: Member,
                     own: dict[int, Submission]) -> list[str]:
    """Profile items: the reviewer's own group's submission, plus interests they (or staff) typed."""
    return [i.text for i in profile_items(session, settings, member, own)]


def split_interests(text: str) -> list[str]:
    """A textarea's items: paragraphs separated by a blank line."""
    return [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]


def set_interests(session: Session, member: Member, items: list[str]) -> list[str]:
    """Replace the member's interests (profile items for the assignment); the embedding cache keeps old ones."""
    items = [" ".join(i.split()) if len(i) < 300 else i.strip() for i in items if i and i.strip()]
    if len(items) > MAX_INTERESTS:
        raise BadInput(f"Give at most {MAX_INTERESTS} interests (you gave {len(items)}); "
                       "merge the smaller ones.")
    long = [n for n, i in enumerate(items, start=1) if len(i) > MAX_INTEREST_CHARS]
    if long:
        raise BadInput(f"Interest {long[0]} is longer than {MAX_INTEREST_CHARS} characters: "
                       "a title and an abstract are enough.")
    for old in interests(session, member):
        session.delete(old)
    session.flush()
    for text in items:
        session.add(ReviewerInterest(member_id=member.id, text=text))
    session.flush()
    # embedded ahead of a Preview (app.jobs.assignments, event "texts"; see services.assignments.embedding)
    outbox.after_commit(session, "texts", venue_id=member.venue_id, settings=session.info.get("settings"))
    return items
