"""Moderation and marks: the venue's marking scheme, calibration items, lecturers' marks of review quality,
mark overrides, releases, moderation of reviews, reviewers excluded from calibration, and the marks as
released (the snapshot that students and exports read)."""

from datetime import datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import ts_field


class MarkingScheme(SQLModel, table=True):
    """A venue's marking scheme (components, weights, scale, rounding: validated by app.moderation.scheme).

    `version` rises on every edit; `frozen_at` is set when marks are first released (edits are refused
    until a chair unfreezes it, which is audited)."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", unique=True)
    config: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 1
    frozen_at: datetime | None = ts_field(nullable=True)
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = ts_field(default_now=True)


class CalibrationItem(SQLModel, table=True):
    """A submission with a reference mark (on the review form's overall scale) that pins reviewers' bias."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    submission_id: int = Field(foreign_key="submission.id", unique=True)
    reference: float
    note: str = Field(default="", max_length=1000)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = ts_field(default_now=True)


class ReviewAssessment(SQLModel, table=True):
    """A lecturer's mark of one review's quality (the individual component).

    `suggestion` is the system's suggestion as the marker saw it when confirming; `overridden` says the
    marker's mark differs from it."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    review_id: int = Field(foreign_key="review.id", unique=True)
    levels: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    mark: float
    feedback: str = Field(default="", sa_column=Column(Text, nullable=False))
    suggestion: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    overridden: bool = False
    confirmed_by: int = Field(foreign_key="user.id")
    confirmed_at: datetime = ts_field(default_now=True)


class MarkOverride(SQLModel, table=True):
    """A moderator's mark for a group (submission) or a member, on one component, with its reason.

    Rows are never edited: the newest per target is in force; `value` None withdraws the override.
    `computed` keeps the mark the scheme gave at that moment, beside it."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    component: str = Field(max_length=40)
    value: float | None = None
    computed: float | None = None
    reason: str = Field(max_length=2000)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = ts_field(default_now=True)


class MarkRelease(SQLModel, table=True):
    """One release of marks: venue-wide (submission_id None) or of one submission."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
    scheme_version: int = 1
    released_by: int = Field(foreign_key="user.id")
    released_at: datetime = ts_field(default_now=True)


class ReviewModeration(SQLModel, table=True):
    """A chair's decision on a review: hidden from the authors (kept for chairs) and/or marked abusive."""

    id: int | None = Field(default=None, primary_key=True)
    review_id: int = Field(foreign_key="review.id", unique=True)
    hidden: bool = False
    reason: str = Field(default="", max_length=2000)
    abusive: bool = False
    decided_by: int = Field(foreign_key="user.id")
    decided_at: datetime = ts_field(default_now=True)


class CalibrationExclusion(SQLModel, table=True):
    """A reviewer whose scores the calibration leaves out (their reviews still count as reviews)."""

    __table_args__ = (UniqueConstraint("venue_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    reason: str = Field(max_length=2000)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = ts_field(default_now=True)


class ReleasedMark(SQLModel, table=True):
    """A student's marks as released: written at release, read by the student's marks page and exports."""

    __table_args__ = (UniqueConstraint("venue_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
    release_id: int = Field(foreign_key="markrelease.id")
    components: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    total: float | None = None
    letter: str | None = Field(default=None, max_length=20)
    breakdown: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    feedback: str = Field(default="", sa_column=Column(Text, nullable=False))
    released_at: datetime = ts_field(default_now=True)
