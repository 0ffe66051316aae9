"""All tables, imported here so Alembic and the app see the same metadata."""

from app.models.account import ApiToken, LoginAttempt, User, UserSession
from app.models.assignment import Assignment, Bid, BidValue, Conflict, Origin, ReviewerInterest
from app.models.audit import AuditEvent
from app.models.claim import BadgeOverride, SubmissionClaim
from app.models.contribution import ArtifactHistory, IdentityClaim
from app.models.review import (
    Audience,
    Comment,
    NotificationSetting,
    Pseudonym,
    Rating,
    Response,
    Review,
    ReviewForm,
    ReviewHistory,
    ReviewStatus,
    SentNotification,
)
from app.models.moderation import (
    CalibrationExclusion,
    CalibrationItem,
    MarkingScheme,
    MarkOverride,
    MarkRelease,
    ReleasedMark,
    ReviewAssessment,
    ReviewModeration,
)
from app.models.run import Rig, Run, RunLog
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
    "Audience", "Comment", "NotificationSetting", "Pseudonym", "Rating", "Response", "Review", "ReviewForm",
    "ReviewHistory", "ReviewStatus", "SentNotification",
    "Rig", "Run", "RunLog", "BadgeOverride", "SubmissionClaim", "ArtifactHistory", "IdentityClaim",
    "PHASES", "ApiToken", "Assignment", "Bid", "BidValue", "Conflict", "Origin", "ReviewerInterest", "Artifact", "Revision", "Submission", "AuditEvent", "Deadline", "DeadlineKind", "Extension", "ExtensionStatus",
    "Group", "LoginAttempt", "Member", "Phase", "Role", "User", "UserSession", "Venue",
    "CalibrationExclusion", "CalibrationItem", "MarkingScheme", "MarkOverride", "MarkRelease", "ReleasedMark",
    "ReviewAssessment", "ReviewModeration",
]
