"""The person's four switches (which mails they want), and what the account page shows about notifications."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from app.errors import BadInput
from app.models import NotificationSetting, User
from app.services.notifications.calendar import calendar_url
from app.settings import Settings

FLAGS = ("on_assignment", "on_comment", "on_release", "deadline_digest")


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


def wanting(session: Session, user_ids: Iterable[int], flag: str) -> set[int]:
    """Of these people, those who want mail of this kind (no row: yes)."""
    ids = set(user_ids)
    if not ids:
        return set()
    off = set(session.exec(select(NotificationSetting.user_id).where(
        col(NotificationSetting.user_id).in_(ids), getattr(NotificationSetting, flag) == False)).all())  # noqa: E712
    return ids - off


def account_context(session: Session, settings: Settings, user: User) -> dict:
    """What the account page shows about notifications: the four switches and the calendar URL."""
    return {"notification_settings": get_settings_for(session, user),
            "calendar_url": calendar_url(settings, user)}
