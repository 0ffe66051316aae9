"""Notifications: who gets which mail, an outbox that sends only what committed, per-user settings, and the
.ics feed of a person's deadlines.

Every mail is first a `SentNotification` row written in the same transaction as the event (a comment, an
assignment, a phase change, the daily digest). Rows are sent only after that transaction commits, by
`deliver_pending`: the request that wrote them runs it once its response is out (see
app.routers.notifications.DeliverAfterCommit), and `reproreview notify send` (cron) retries failures. A sender
claims each row with `UPDATE … WHERE status='pending'`, so two senders never send one row twice, and the
unique `key` keeps a re-run (or a second process) from queueing the same mail twice.

Mails never name authors to reviewers or reviewers to authors: what a mail says about a person comes from
app.anonymity (the same gate as the pages), and submissions are named by number and title only.
"""

from __future__ import annotations

import contextvars
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy import and_, event, func, or_, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app.db import begin_write
from app.errors import BadInput
from app.models import (
    Assignment,
    Comment,
    Member,
    NotificationSetting,
    Phase,
    Review,
    ReviewStatus,
    Revision,
    Role,
    SentNotification,
    Submission,
    User,
    Venue,
)
from app.models.base import utcnow
from app.models.review import NotificationStatus
from app.security import permissions
from app.security.tokens import password_fingerprint
from app.services.deadlines import effective_deadline, format_in, venue_deadlines, zone
from app.settings import ROOT, Settings

log = logging.getLogger(__name__)

FLAGS = ("on_assignment", "on_comment", "on_release", "deadline_digest")
DIGEST_WINDOW = timedelta(hours=48)
MAX_ATTEMPTS = 10            # `notify send` stops retrying a mail after this many failed attempts
STALE_CLAIM = timedelta(minutes=15)  # a claim this old belongs to a sender that died: take it over
BATCH = 500
BODY_EXCERPT = 4000          # characters of a comment quoted in its mail

_PENDING = "notifications.pending"  # session.info key: this transaction wrote outbox rows


# --- settings ---------------------------------------------------------------------------------------------------


def get_settings_for(session: Session, user: User) -> dict[str, bool]:
    """The person's choices; everything is on until they change it."""
    row = session.get(NotificationSetting, user.id)
    return {f: bool(getattr(row, f)) if row else True for f in FLAGS}


def set_settings_for(session: Session, user: User, changes: dict[str, bool]) -> dict[str, bool]:
    """Change some of the four switches; the others keep their value."""
    unknown = set(changes) - set(FLAGS)
    if unknown:
        raise BadInput(f"Unknown notification setting(s): {', '.join(sorted(unknown))}; "
                       f"the settings are {', '.join(FLAGS)}.")
    row = session.get(NotificationSetting, user.id) or NotificationSetting(user_id=user.id)
    for name, value in changes.items():
        setattr(row, name, bool(value))
    session.add(row)
    session.flush()
    return get_settings_for(session, user)


def _wanting(session: Session, user_ids: Iterable[int], flag: str) -> set[int]:
    """Of these people, those who want mail of this kind (no row: yes)."""
    ids = set(user_ids)
    if not ids:
        return set()
    off = set(session.exec(select(NotificationSetting.user_id).where(
        col(NotificationSetting.user_id).in_(ids), getattr(NotificationSetting, flag) == False)).all())  # noqa: E712
    return ids - off


# --- the outbox -------------------------------------------------------------------------------------------------


def enqueue(session: Session, *, key: str, user: User, kind: str, venue: Venue | None, context: dict) -> bool:
    """Queue one mail in the caller's transaction; False when a mail with this key exists already."""
    key = key[:200]
    if session.exec(select(SentNotification.id).where(SentNotification.key == key)).first() is not None:
        return False
    try:
        with session.begin_nested():  # another process may queue the same key at the same moment
            session.add(SentNotification(key=key, user_id=user.id, venue_id=venue.id if venue else None,
                                         kind=kind, to_email=user.email, context=context))
    except IntegrityError:
        return False
    session.info[_PENDING] = True
    return True


@dataclass
class _RequestOutbox:
    """Set per request by the delivery middleware: whether a commit in it wrote outbox rows, and on what bind."""

    bind: Engine | Connection | None = None
    pending: bool = False


_request_outbox: contextvars.ContextVar[_RequestOutbox | None] = contextvars.ContextVar("request_outbox",
                                                                                        default=None)


def start_request() -> tuple[_RequestOutbox, contextvars.Token]:
    box = _RequestOutbox()
    return box, _request_outbox.set(box)


def end_request(token: contextvars.Token) -> None:
    _request_outbox.reset(token)


@event.listens_for(OrmSession, "after_commit")
def _committed(session: OrmSession) -> None:
    """Tell the request (if any) that its outbox rows are committed and may be sent."""
    if not session.info.pop(_PENDING, False):
        return
    box = _request_outbox.get()
    if box is not None:
        box.pending, box.bind = True, session.get_bind()


@event.listens_for(OrmSession, "after_rollback")
def _rolled_back(session: OrmSession) -> None:
    session.info.pop(_PENDING, None)


def _open(bind: Engine | Connection) -> Session:
    """A session on an engine, or inside a connection's transaction (tests) as savepoints."""
    if isinstance(bind, Connection):
        return Session(bind=bind, join_transaction_mode="create_savepoint", expire_on_commit=False)
    return Session(bind, expire_on_commit=False)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def _claimable(now: datetime, retry_failed_before: datetime | None):  # noqa: ANN202
    """Pending rows; failed ones last tried before `retry_failed_before`; claims abandoned by a dead sender."""
    ready = col(SentNotification.status) == NotificationStatus.pending.value
    if retry_failed_before is not None:
        ready = or_(ready, and_(col(SentNotification.status) == NotificationStatus.failed.value,
                                col(SentNotification.claimed_at) < retry_failed_before))
    return or_(and_(ready, col(SentNotification.attempts) < MAX_ATTEMPTS),
               and_(col(SentNotification.status) == NotificationStatus.sending.value,
                    col(SentNotification.claimed_at) < now - STALE_CLAIM))


def claim(bind: Engine | Connection, *, retry_failed: bool = False, limit: int = BATCH,
          started: datetime | None = None) -> tuple[str, list[int]]:
    """Take up to `limit` rows for this sender: each by an UPDATE that only a still-unclaimed row matches."""
    token, now = uuid.uuid4().hex, utcnow()
    retry_before = (started or now) if retry_failed else None  # a failure of this very run waits for the next
    with _open(bind) as s:
        begin_write(s)
        # SKIP LOCKED (PostgreSQL; SQLite has one writer anyway) lets a second sender take the next rows
        # instead of queueing behind the first; the UPDATE's WHERE is what makes a claim exclusive.
        ids = s.exec(select(SentNotification.id).where(_claimable(now, retry_before))
                     .order_by(col(SentNotification.id)).limit(limit).with_for_update(skip_locked=True)).all()
        mine = []
        for row_id in ids:
            done = s.execute(update(SentNotification)
                             .where(col(SentNotification.id) == row_id, _claimable(now, retry_before))
                             .values(status=NotificationStatus.sending.value, claim=token, claimed_at=now,
                                     attempts=SentNotification.attempts + 1)
                             .execution_options(synchronize_session=False))
            if done.rowcount == 1:
                mine.append(row_id)
        s.commit()
    return token, mine


def deliver_pending(settings: Settings, bind: Engine | Connection, *, retry_failed: bool = False,
                    limit: int = BATCH) -> DeliveryReport:
    """Send the committed, unsent mails (and, for `notify send`, retry failed ones), batch after batch."""
    report, started = DeliveryReport(), utcnow()
    while True:
        token, ids = claim(bind, retry_failed=retry_failed, limit=limit, started=started)
        if not ids:
            return report
        _send_claimed(settings, bind, token, ids, report)


def _send_claimed(settings: Settings, bind: Engine | Connection, token: str, ids: list[int],
                  report: DeliveryReport) -> None:
    from app.services.mail import send_mail

    for row_id in ids:
        with _open(bind) as s:
            row = s.get(SentNotification, row_id)
            to, kind, context = row.to_email, row.kind, dict(row.context)
            s.rollback()  # hold no transaction (nor SQLite's lock) while the SMTP server answers
        error = None
        try:
            subject, body = render(kind, context, settings)
            send_mail(settings, to, subject, body)
        except Exception as exc:  # noqa: BLE001 — any failure is recorded on the row and retried later
            error = f"{type(exc).__name__}: {exc}"[:1000]
            subject = body = None
        with _open(bind) as s:
            begin_write(s)
            values = ({"status": NotificationStatus.failed.value, "error": error} if error else
                      {"status": NotificationStatus.sent.value, "error": None, "sent_at": utcnow(),
                       "subject": subject[:300], "body": body})
            s.execute(update(SentNotification).where(col(SentNotification.id) == row_id,
                                                     col(SentNotification.claim) == token)
                      .values(**values).execution_options(synchronize_session=False))
            s.commit()
        if error:
            report.failed += 1
            report.errors.append(f"mail {row_id} to {to}: {error}")
            log.warning("mail %s to %s failed: %s", row_id, to, error)
        else:
            report.sent += 1


# --- rendering --------------------------------------------------------------------------------------------------

_env = Environment(loader=FileSystemLoader(str(ROOT / "templates" / "emails")), autoescape=False,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(kind: str, context: dict, settings: Settings) -> tuple[str, str]:
    """(subject, body) of a mail: templates/emails/<kind>.txt, whose first line is `Subject: …`."""
    text = _env.get_template(f"{kind}.txt").render(**context, base_url=settings.base_url.rstrip("/"))
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise ValueError(f"templates/emails/{kind}.txt must start with a 'Subject:' line")
    subject = " ".join(first[len("Subject:"):].split())  # one line, whatever a title holds
    return subject[:300], body.lstrip("\n")


def _when(moment: datetime | None, venue: Venue, user: User) -> str | None:
    """A deadline in the venue's zone, and in the person's own zone when they set a different one."""
    if moment is None:
        return None
    text = format_in(moment, venue.timezone)
    if user.timezone and user.timezone != venue.timezone:
        text += f" ({format_in(moment, user.timezone)} your time)"
    return text


def _base(venue: Venue) -> dict:
    return {"venue_title": venue.title, "venue_slug": venue.slug}


# --- events -----------------------------------------------------------------------------------------------------


def _assignment_notice(session: Session, venue: Venue, assignment: Assignment, sub: Submission, member: Member,
                       user: User) -> bool:
    due = effective_deadline(session, venue, "review", member.group_id)
    return enqueue(session, key=f"assignment:{assignment.id}", user=user, kind="assignment", venue=venue,
                   context={**_base(venue), "number": sub.number, "title": sub.title,
                            "due": _when(due.due_at, venue, user), "extended": due.extended,
                            "path": f"/venues/{venue.slug}/submissions/{sub.number}/review"})


def _notify_assignments(session: Session, venue: Venue, rows: list[tuple[Assignment, Submission, Member, User]]) -> int:
    """Tell each reviewer of each pair they can see now (from the review phase on; earlier they wait)."""
    wanting = _wanting(session, (u.id for _a, _s, _m, u in rows), "on_assignment")
    sent = 0
    for a, sub, member, user in rows:
        if user.id in wanting and permissions.can_view_submission(user, member, venue, sub, assigned=True):
            sent += _assignment_notice(session, venue, a, sub, member, user)
    return sent


def assignments_changed(session: Session, venue: Venue, changes: list) -> int:  # noqa: ANN001
    """After apply_changes: mail each reviewer a pair was added for (changes are assignments.Change)."""
    added = {(c.submission_id, c.member_id) for c in changes if c.op == "add"}
    if not added:
        return 0
    rows = session.exec(select(Assignment, Submission, Member, User)
                        .join(Submission, col(Submission.id) == Assignment.submission_id)
                        .join(Member, col(Member.id) == Assignment.member_id)
                        .join(User, col(User.id) == Member.user_id)
                        .where(Assignment.venue_id == venue.id,
                               col(Assignment.member_id).in_({m for _s, m in added}))).all()
    return _notify_assignments(session, venue, [r for r in rows if (r[0].submission_id, r[0].member_id) in added])


def comment_posted(session: Session, comment: Comment, submission: Submission) -> int:
    """Mail everyone who may read the new post (its audience, their phase), except its author."""
    from app.anonymity import comment_signature
    from app.services.reviews import comment_recipients, pseudonyms, relation

    venue = session.get(Venue, submission.venue_id)
    recipients = comment_recipients(session, comment, submission)
    wanting = _wanting(session, (u.id for u in recipients), "on_comment")
    if not wanting:
        return 0
    author = session.get(User, comment.user_id)
    author_member = session.get(Member, comment.member_id) if comment.member_id else None
    members = {m.user_id: m for m in session.exec(select(Member).where(
        Member.venue_id == venue.id, col(Member.user_id).in_(wanting))).all()}
    labels = pseudonyms(session, submission)
    body = comment.body if len(comment.body) <= BODY_EXCERPT else comment.body[:BODY_EXCERPT] + " […]"
    sent = 0
    for user in recipients:
        member = members.get(user.id)
        if user.id not in wanting or member is None:
            continue
        rel = relation(session, member, submission)
        if not permissions.can_read_discussion(user, member, venue, submission, assigned=rel.assigned,
                                               submitted_own=rel.submitted_own):
            continue  # e.g. authors before the response phase: the post waits for them on the site
        signature = comment_signature(user, member, author, author_member, comment.as_role, submission,
                                      labels.get(comment.member_id) if comment.member_id else None)
        sent += enqueue(session, key=f"comment:{comment.id}:user:{user.id}", user=user, kind="comment",
                        venue=venue,
                        context={**_base(venue), "number": submission.number, "title": submission.title,
                                 "signature": signature, "audience": comment.audience, "body": body,
                                 "is_reply": comment.parent_id is not None,
                                 "path": f"/venues/{venue.slug}/submissions/{submission.number}/reviews"})
    return sent


def _authors_by_submission(session: Session, venue: Venue) -> list[tuple[Submission, Member, User]]:
    return list(session.exec(select(Submission, Member, User)
                             .join(Member, col(Member.group_id) == Submission.group_id)
                             .join(User, col(User.id) == Member.user_id)
                             .where(Submission.venue_id == venue.id)
                             .order_by(col(Submission.number), col(User.id))).all())


def _submitted_counts(session: Session, venue: Venue) -> dict[int, int]:
    return dict(session.exec(select(Review.submission_id, func.count()).where(
        Review.venue_id == venue.id, Review.status == ReviewStatus.submitted.value)
        .group_by(Review.submission_id)).all())


def phase_changed(session: Session, venue: Venue, before: str, after: str) -> int:
    """After move_phase: reviewers hear of their assignments when reviewing opens; authors hear when their
    reviews become readable (response) and when reviews and marks are released. Once per person and event."""
    if after == Phase.review.value:
        rows = session.exec(select(Assignment, Submission, Member, User)
                            .join(Submission, col(Submission.id) == Assignment.submission_id)
                            .join(Member, col(Member.id) == Assignment.member_id)
                            .join(User, col(User.id) == Member.user_id)
                            .where(Assignment.venue_id == venue.id).order_by(col(Assignment.id))).all()
        return _notify_assignments(session, venue, list(rows))
    if after not in (Phase.response.value, Phase.released.value):
        return 0
    authors = _authors_by_submission(session, venue)
    wanting = _wanting(session, (u.id for _s, _m, u in authors), "on_release")
    counts = _submitted_counts(session, venue)
    sent = 0
    for sub, member, user in authors:
        if user.id not in wanting:
            continue
        context = {**_base(venue), "number": sub.number, "title": sub.title, "reviews": counts.get(sub.id, 0),
                   "path": f"/venues/{venue.slug}/submissions/{sub.number}/reviews"}
        if after == Phase.response.value:
            if not counts.get(sub.id):
                continue  # nothing to read or answer yet
            due = effective_deadline(session, venue, "response", member.group_id)
            context |= {"due": _when(due.due_at, venue, user), "extended": due.extended}
        sent += enqueue(session, key=f"{after}:{sub.id}:user:{user.id}", user=user, kind=after, venue=venue,
                        context=context)
    return sent


# --- the daily digest -------------------------------------------------------------------------------------------


@dataclass
class DigestItem:
    kind: str  # submission | review | response
    due: str
    extended: bool
    what: list[str]


def _in_window(due: datetime | None, now: datetime) -> bool:
    return due is not None and now < due <= now + DIGEST_WINDOW


def digest_items(session: Session, venue: Venue, now: datetime) -> dict[int, tuple[User, list[DigestItem]]]:
    """Per person: the deadlines of this venue in the next 48 hours that still ask something of them."""
    out: dict[int, tuple[User, list[DigestItem]]] = {}
    members = session.exec(select(Member, User).join(User, col(User.id) == Member.user_id)
                           .where(Member.venue_id == venue.id).order_by(col(Member.id))).all()
    subs = {s.group_id: s for s in session.exec(select(Submission).where(Submission.venue_id == venue.id)).all()}

    def add(user: User, kind: str, due, what: list[str]) -> None:  # noqa: ANN001
        out.setdefault(user.id, (user, []))[1].append(
            DigestItem(kind=kind, due=_when(due.due_at, venue, user), extended=due.extended, what=what))

    if venue.phase == Phase.submission.value:
        with_pdf = set(session.exec(select(Revision.submission_id).join(
            Submission, col(Submission.id) == Revision.submission_id).where(Submission.venue_id == venue.id)).all())
        for member, user in members:
            if member.group_id is None:
                continue
            sub = subs.get(member.group_id)
            if sub is not None and sub.id in with_pdf:
                continue
            due = effective_deadline(session, venue, "submission", member.group_id)
            if _in_window(due.due_at, now):
                add(user, "submission", due, [f"#{sub.number}: {sub.title}" if sub else "your group's paper"])
    elif venue.phase == Phase.review.value:
        open_pairs = session.exec(select(Assignment.member_id, Submission)
                                  .join(Submission, col(Submission.id) == Assignment.submission_id)
                                  .outerjoin(Review, (col(Review.submission_id) == Assignment.submission_id)
                                             & (col(Review.member_id) == Assignment.member_id))
                                  .where(Assignment.venue_id == venue.id,
                                         or_(col(Review.id).is_(None),
                                             Review.status != ReviewStatus.submitted.value))
                                  .order_by(col(Submission.number))).all()
        todo: dict[int, list[str]] = {}
        for member_id, sub in open_pairs:
            todo.setdefault(member_id, []).append(f"#{sub.number}: {sub.title}")
        for member, user in members:
            if member.id in todo:
                due = effective_deadline(session, venue, "review", member.group_id)
                if _in_window(due.due_at, now):
                    add(user, "review", due, todo[member.id])
    elif venue.phase == Phase.response.value:
        for member, user in members:
            sub = subs.get(member.group_id) if member.group_id else None
            if sub is None:
                continue
            due = effective_deadline(session, venue, "response", member.group_id)
            if _in_window(due.due_at, now):
                add(user, "response", due, [f"#{sub.number}: {sub.title}"])
    return out


def queue_digests(session: Session, now: datetime | None = None, venue: Venue | None = None) -> int:
    """Queue today's digest for each person with a deadline in the next 48 h; once per person, venue and day
    (the venue's day), whoever runs it and however often."""
    now = now or utcnow()
    venues = [venue] if venue else list(session.exec(select(Venue).where(
        col(Venue.phase).in_([Phase.submission.value, Phase.review.value, Phase.response.value]))
        .order_by(col(Venue.id))).all())
    queued = 0
    for v in venues:
        day = now.astimezone(zone(v.timezone)).date().isoformat()
        people = digest_items(session, v, now)
        wanting = _wanting(session, people, "deadline_digest")
        for user_id, (user, items) in people.items():
            if user_id not in wanting:
                continue
            queued += enqueue(session, key=f"digest:{v.id}:{user_id}:{day}", user=user, kind="digest", venue=v,
                              context={**_base(v), "day": day,
                                       "items": [{"kind": i.kind, "due": i.due, "extended": i.extended,
                                                  "what": i.what} for i in items]})
    return queued


def run_digest(settings: Settings, bind: Engine | Connection, *, venue_slug: str | None = None,
               now: datetime | None = None) -> tuple[int, DeliveryReport]:
    """The cron job: queue the digests in one transaction, commit, then send what is pending."""
    from app.services.venues import get_venue

    with _open(bind) as s:
        begin_write(s)
        venue = get_venue(s, venue_slug) if venue_slug else None
        queued = queue_digests(s, now, venue)
        s.commit()
    return queued, deliver_pending(settings, bind)


# --- the calendar feed ------------------------------------------------------------------------------------------


def _calendar_serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="calendar-feed")


def make_calendar_token(settings: Settings, user: User) -> str:
    """A URL-safe, signed token naming the user; it dies when their password changes (or they sign out everywhere)."""
    return _calendar_serializer(settings.resolved_secret_key).dumps(
        {"u": user.id, "p": password_fingerprint(user.password_hash), "e": user.session_epoch})


def user_from_calendar_token(session: Session, settings: Settings, token: str) -> User | None:
    try:
        data = _calendar_serializer(settings.resolved_secret_key).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = session.get(User, data["u"])
    if user is None or data.get("p") != password_fingerprint(user.password_hash) \
            or data.get("e") != user.session_epoch:
        return None
    return user


def calendar_url(settings: Settings, user: User) -> str:
    return f"{settings.base_url.rstrip('/')}/calendar/{make_calendar_token(settings, user)}.ics"


@dataclass
class CalendarEvent:
    uid: str
    due_at: datetime
    summary: str
    description: str
    url: str


KIND_TITLES = {"submission": "Submission deadline", "review": "Review deadline", "response": "Response deadline",
               "bidding": "Bidding deadline", "discussion": "Discussion ends"}


def calendar_events(session: Session, settings: Settings, user: User) -> list[CalendarEvent]:
    """The person's deadlines in every venue they belong to: chairs and TAs see the venue's; authors their
    group's submission and response deadlines (with extensions); reviewers the review deadline."""
    host = urlsplit(settings.base_url).hostname or "reproreview"
    base = settings.base_url.rstrip("/")
    rows = session.exec(select(Venue, Member).join(Member, col(Member.venue_id) == Venue.id)
                        .where(Member.user_id == user.id).order_by(col(Venue.id))).all()
    events = []
    for venue, member in rows:
        if member.role in (Role.chair.value, Role.ta.value):
            wanted = [(k, effective_deadline(session, venue, k, None)) for k in venue_deadlines(session, venue)]
        else:
            kinds = (["submission", "response"] if member.group_id is not None else []) + ["review"]
            wanted = [(k, effective_deadline(session, venue, k, member.group_id)) for k in kinds]
        for kind, due in wanted:
            if due.due_at is None:
                continue
            title = KIND_TITLES.get(kind, f"{kind.capitalize()} deadline")
            note = " (extended for your group)" if due.extended else ""
            events.append(CalendarEvent(
                uid=f"reproreview-{venue.id}-{kind}-{user.id}@{host}", due_at=due.due_at,
                summary=f"{title}: {venue.title}",
                description=f"{title} of {venue.title}{note}: {format_in(due.due_at, venue.timezone)}.\n"
                            f"{base}/venues/{venue.slug}",
                url=f"{base}/venues/{venue.slug}"))
    return events


def ics_escape(text: str) -> str:
    """RFC 5545 TEXT: backslash, semicolon, comma and newlines escaped."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n"))


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets (continuations start with a space), never inside a UTF-8 character."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # do not cut a multi-byte character
            end -= 1
        parts.append(data[start:end].decode())
        start, limit = end, 74  # the leading space counts
    return "\r\n ".join(parts)


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def calendar_ics(events: list[CalendarEvent], user_label: str, now: datetime | None = None) -> str:
    """A VCALENDAR (RFC 5545): CRLF line ends, folded lines, escaped text, times in UTC."""
    stamp = _ics_time(now or utcnow())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//ReproReview//Deadlines//EN", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{ics_escape(f'ReproReview deadlines ({user_label})')}"]
    for e in sorted(events, key=lambda e: (e.due_at, e.uid)):
        lines += ["BEGIN:VEVENT", f"UID:{e.uid}", f"DTSTAMP:{stamp}", f"DTSTART:{_ics_time(e.due_at)}",
                  f"SUMMARY:{ics_escape(e.summary)}",
                  f"DESCRIPTION:{ics_escape(e.description)}", f"URL:{e.url}", "TRANSP:TRANSPARENT",
                  "BEGIN:VALARM", "ACTION:DISPLAY", f"DESCRIPTION:{ics_escape(e.summary)}", "TRIGGER:-PT24H",
                  "END:VALARM", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)


def calendar_for_token(session: Session, settings: Settings, token: str) -> str | None:
    """The feed for a calendar URL, or None when the token is forged or outdated."""
    user = user_from_calendar_token(session, settings, token)
    if user is None:
        return None
    return calendar_ics(calendar_events(session, settings, user), user.full_name)


def account_context(session: Session, settings: Settings, user: User) -> dict:
    """What the account page shows about notifications: the four switches and the calendar URL."""
    return {"notification_settings": get_settings_for(session, user),
            "calendar_url": calendar_url(settings, user)}


