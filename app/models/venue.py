"""A course's conference: phases, deadlines, members, groups, extensions."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import ts_field


class Phase(StrEnum):
    setup = "setup"
    submission = "submission"
    assignment = "assignment"
    review = "review"
    response = "response"
    discussion = "discussion"
    moderation = "moderation"
    released = "released"
    closed = "closed"


PHASES: list[Phase] = list(Phase)


class Role(StrEnum):
    student = "student"
    reviewer = "reviewer"  # reviews but does not author (e.g. a student from another cohort)
    ta = "ta"
    chair = "chair"


class DeadlineKind(StrEnum):
    submission = "submission"
    bidding = "bidding"
    review = "review"
    response = "response"
    discussion = "discussion"


class Venue(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    title: str = Field(max_length=200)
    course_code: str = Field(default="", max_length=64)
    timezone: str = Field(default="UTC", max_length=64)
    phase: str = Field(default=Phase.setup.value, max_length=20)
    group_min: int = 2
    group_max: int = 4
    page_limit: int = 9
    format_mandatory: bool = False
    created_at: datetime = ts_field(default_now=True)


class Deadline(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("venue_id", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    kind: str = Field(max_length=20)
    due_at: datetime = ts_field()


class Group(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("venue_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    name: str = Field(max_length=120)
    join_code: str = Field(max_length=16, unique=True, index=True)
    created_at: datetime = ts_field(default_now=True)


class Member(SQLModel, table=True):
    """A person's role in one venue; group_id makes "one group per venue" hold by construction."""

    __table_args__ = (UniqueConstraint("venue_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role: str = Field(default=Role.student.value, max_length=20)
    group_id: int | None = Field(default=None, foreign_key="group.id", index=True)
    created_at: datetime = ts_field(default_now=True)


class ExtensionStatus(StrEnum):
    pending = "pending"
    granted = "granted"
    refused = "refused"


class Extension(SQLModel, table=True):
    """More time for a group (any deadline, `member_id` None) or for one reviewer (the review deadline,
    `member_id` set; `group_id` is then the reviewer's group, if any)."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    group_id: int | None = Field(default=None, foreign_key="group.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    kind: str = Field(default=DeadlineKind.submission.value, max_length=20)
    reason: str = Field(max_length=4000)
    requested_by: int = Field(foreign_key="user.id")
    requested_until: datetime | None = ts_field(nullable=True)
    status: str = Field(default=ExtensionStatus.pending.value, max_length=20)
    new_due_at: datetime | None = ts_field(nullable=True)
    decision_note: str = Field(default="", max_length=4000)
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = ts_field(nullable=True)
    created_at: datetime = ts_field(default_now=True)
