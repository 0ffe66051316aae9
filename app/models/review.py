"""Reviews and what surrounds them: the venue's review form, drafts with their history, pseudonyms,
discussion comments, the authors' response, helpfulness ratings, notification settings and sent mail."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import ts_field


class ReviewStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"


class Audience(StrEnum):
    """Who may read a comment (chairs always may)."""

    everyone = "everyone"    # authors, reviewers of the submission, chairs
    reviewers = "reviewers"  # reviewers of the submission and chairs
    chairs = "chairs"        # chairs only


class ReviewForm(SQLModel, table=True):
    """A venue's review form: an ordered list of field specs (see app.services.review_forms)."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", unique=True)
    fields: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = ts_field(default_now=True)


class Review(SQLModel, table=True):
    """One reviewer's review of one submission.

    `answers` is the reviewer's working copy (autosaved; `version` rises on every save, so two tabs detect
    each other's writes); `published` is what others read: the answers as last submitted.
    """

    __table_args__ = (UniqueConstraint("submission_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    status: str = Field(default=ReviewStatus.draft.value, max_length=20)
    answers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    published: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    published_version: int | None = None
    is_late: bool = False
    created_at: datetime = ts_field(default_now=True)
    updated_at: datetime = ts_field(default_now=True)
    submitted_at: datetime | None = ts_field(nullable=True)


class ReviewHistory(SQLModel, table=True):
    """Earlier states of a review: each submitted version, and any save refused as a conflict (kept, not lost)."""

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    version: int
    kind: str = Field(max_length=20)  # submitted | updated | conflict
    answers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    saved_by: int = Field(foreign_key="user.id")
    saved_at: datetime = ts_field(default_now=True)


class Pseudonym(SQLModel, table=True):
    """A reviewer's stable label on one submission ("Reviewer B"), given in order of first save."""

    __table_args__ = (UniqueConstraint("submission_id", "member_id"), UniqueConstraint("submission_id", "label"))

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    label: str = Field(max_length=8)


class Comment(SQLModel, table=True):
    """A discussion post on a submission; `as_role` is how it is signed (reviewer, author, chair)."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="comment.id")
    member_id: int | None = Field(default=None, foreign_key="member.id")
    user_id: int = Field(foreign_key="user.id")
    as_role: str = Field(max_length=20)
    audience: str = Field(default=Audience.everyone.value, max_length=20)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = ts_field(default_now=True, index=True)


class Response(SQLModel, table=True):
    """The group's one response (rebuttal) to the reviews of its submission."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", unique=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    version: int = 1
    updated_by: int = Field(foreign_key="user.id")
    updated_at: datetime = ts_field(default_now=True)


class Rating(SQLModel, table=True):
    """An author's rating of a review's helpfulness (1-5); chairs read them, reviewers never by name."""

    __table_args__ = (UniqueConstraint("review_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    score: int
    comment: str = Field(default="", max_length=2000)
    updated_at: datetime = ts_field(default_now=True)


class NotificationSetting(SQLModel, table=True):
    """A person's choices about email; absent means the defaults (everything on)."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    on_assignment: bool = True
    on_comment: bool = True
    on_release: bool = True
    deadline_digest: bool = True


class NotificationStatus(StrEnum):
    pending = "pending"  # written with the event, in its transaction; sent after the commit
    sending = "sending"  # claimed by one sender (claim says which); stale claims are taken over
    sent = "sent"
    failed = "failed"    # the last attempt failed (error says why); `reproreview notify send` retries it


class SentNotification(SQLModel, table=True):
    """One mail in the outbox: written in the event's transaction, sent only once it commits.

    `key` is unique (e.g. "comment:41:user:7", "digest:3:7:2026-11-24"), so a re-run or a second process
    never queues the same mail twice; `context` holds what the template needs, already anonymised for the
    recipient, and `subject`/`body` keep what was actually rendered and sent.
    """

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    venue_id: int | None = Field(default=None, foreign_key="venue.id")
    kind: str = Field(max_length=30)
    to_email: str = Field(max_length=320)
    context: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    subject: str | None = Field(default=None, max_length=300)
    body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default=NotificationStatus.pending.value, max_length=20, index=True)
    attempts: int = 0
    error: str | None = Field(default=None, max_length=1000)
    claim: str | None = Field(default=None, max_length=32)
    created_at: datetime = ts_field(default_now=True)
    claimed_at: datetime | None = ts_field(nullable=True)
    sent_at: datetime | None = ts_field(nullable=True)
