"""All tables, imported here so Alembic and the app see the same metadata."""

from app.models.account import ApiToken, LoginAttempt, User
from app.models.audit import AuditEvent
from app.models.submission import Artifact, Revision, Submission
from app.models.venue import (
    PHASES,
    Deadline,
    DeadlineKind,
    Extension,
    ExtensionStatus,
    Group,
    Member,
    Phase,
    Role,
    Venue,
)

__all__ = [
    "PHASES", "ApiToken", "Artifact", "Revision", "Submission", "AuditEvent", "Deadline", "DeadlineKind", "Extension", "ExtensionStatus",
    "Group", "LoginAttempt", "Member", "Phase", "Role", "User", "Venue",
]
