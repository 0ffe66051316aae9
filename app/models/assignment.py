"""Reviewer assignment: conflicts, bids, reviewer interests, the assignments themselves and solve jobs."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.models.base import ts_field


class BidValue(StrEnum):
    eager = "eager"
    willing = "willing"
    not_willing = "not_willing"
    conflict = "conflict"


class Origin(StrEnum):
    auto = "auto"
    manual = "manual"
    imported = "imported"


class Conflict(SQLModel, table=True):
    """A reviewer (member) must not review a group's submission. Own-group conflicts are implicit."""

    __table_args__ = (UniqueConstraint("member_id", "group_id"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    group_id: int = Field(foreign_key="group.id", index=True)
    # The person in that group the conflict is with, when one was named: then it holds both ways, and that
    # person does not review the member's own group's submission either.
    other_member_id: int | None = Field(default=None, foreign_key="member.id")
    source: str = Field(max_length=20)  # declared | imported
    reason: str = Field(default="", max_length=500)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = ts_field(default_now=True)


class Bid(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("member_id", "submission_id"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    value: str = Field(max_length=20)
    updated_at: datetime = ts_field(default_now=True)


class ReviewerInterest(SQLModel, table=True):
    """Text that describes a reviewer's expertise: typed interests, or a paper title + abstract."""

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    text: str = Field(max_length=5000)
    created_at: datetime = ts_field(default_now=True)


class Assignment(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("submission_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    origin: str = Field(default=Origin.auto.value, max_length=20)
    locked: bool = False
    affinity: float | None = None
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = ts_field(default_now=True)


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class AssignmentJob(SQLModel, table=True):
    """One auto-solve (a preview or an apply) run in the background; its progress lives here so any API process
    can report it. `heartbeat_at` going stale means the process running it stopped."""

    # At most one active job per venue, enforced by the database: two chairs pressing Preview at the same
    # instant in two API processes cannot both start one.
    __table_args__ = (Index("uq_assignmentjob_active_venue", "venue_id", unique=True,
                            sqlite_where=text("status IN ('queued', 'running')"),
                            postgresql_where=text("status IN ('queued', 'running')")),)

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    requested_by: int | None = Field(default=None, foreign_key="user.id")
    dry_run: bool = True
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=JobStatus.queued.value, max_length=20, index=True)
    phase: str = Field(default="queued", max_length=40)
    done: int = 0
    total: int = 0
    result: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = ts_field(default_now=True)
    started_at: datetime | None = ts_field(nullable=True)
    heartbeat_at: datetime | None = ts_field(nullable=True)
    finished_at: datetime | None = ts_field(nullable=True)
    applied_at: datetime | None = ts_field(nullable=True)


class AssignmentSettings(SQLModel, table=True):
    """A venue's course options for the auto-solve; a venue without a row has every option on (the default for a
    course: reviewers are students in groups)."""

    venue_id: int = Field(foreign_key="venue.id", primary_key=True)
    one_reviewer_per_group: bool = True
    no_reciprocal_groups: bool = True
    every_student_reviews: bool = True
    updated_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: datetime = ts_field(default_now=True)


class Embedding(SQLModel, table=True):
    """A text's embedding, content-addressed: key = sha256(model + text) (app.assignment.embeddings.cache_key),
    so it is computed once per text and model, whichever process or worker needs it."""

    key: str = Field(primary_key=True, max_length=64)
    model: str = Field(max_length=300)
    dim: int
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))  # float32, little-endian
    created_at: datetime = ts_field(default_now=True)
