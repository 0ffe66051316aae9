"""The gradebook export (app.moderation.export): released marks, or a draft the file name says is one."""

from __future__ import annotations

from sqlmodel import Session, col, select

import app.moderation as kernel
from app.errors import BadInput, Conflict
from app.models import (
    Member,
    ReleasedMark,
    User,
    Venue,
)
from app.moderation import export as kernel_export
from app.services.moderation.marks import compute_marks
from app.services.moderation.scheme import scheme_config

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
