"""Rigs (registered runners), runs (one execution of an artifact on a rig) and their log chunks."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.artifacts.manifest import RIGS
from app.models.base import ts_field


# The kernel's list of rig kinds (reproduce.toml's `[artifact] rig`), as an enum.
RigKind = StrEnum("RigKind", {kind: kind for kind in RIGS})


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    passed = "passed"
    failed = "failed"
    timed_out = "timed_out"
    cancelled = "cancelled"
    error = "error"


FINISHED = {RunStatus.passed.value, RunStatus.failed.value, RunStatus.timed_out.value, RunStatus.cancelled.value,
            RunStatus.error.value}
RESULT_STATUSES = {RunStatus.passed.value, RunStatus.failed.value, RunStatus.timed_out.value, RunStatus.error.value}


class Rig(SQLModel, table=True):
    """A registered runner; it authenticates with a `rig_…` token whose SHA-256 is kept here."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=20, index=True)
    description: str = Field(default="", max_length=1000)
    token_hash: str = Field(max_length=64, unique=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = ts_field(default_now=True)
    last_seen_at: datetime | None = ts_field(nullable=True)
    facts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    gpus: int = 0
    disabled: bool = False
    # A rig serves the venues its creator chairs; only a site admin makes a site-wide rig (permissions.can_rig_serve).
    site_wide: bool = False


class Run(SQLModel, table=True):
    """One execution of an artifact; `heartbeat_at` going stale re-queues it (or fails it after max attempts)."""

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    artifact_id: int = Field(foreign_key="artifact.id", index=True)
    rig_kind: str = Field(max_length=20)
    status: str = Field(default=RunStatus.queued.value, max_length=20, index=True)
    reason: str | None = Field(default=None, max_length=2000)
    requested_by: int | None = Field(default=None, foreign_key="user.id")
    smoke: bool = False
    queued_at: datetime = ts_field(default_now=True, index=True)
    started_at: datetime | None = ts_field(nullable=True)
    finished_at: datetime | None = ts_field(nullable=True)
    heartbeat_at: datetime | None = ts_field(nullable=True)
    rig_id: int | None = Field(default=None, foreign_key="rig.id", index=True)
    attempts: int = 0
    duration_s: float | None = None
    metrics: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    facts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    checks: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    badges: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    log_bytes: int = 0
    gpus: int = Field(default=0, description="GPUs the artifact needs (gpu rigs with fewer do not claim it)")


class RunLog(SQLModel, table=True):
    """One chunk of a run's output, in the order the rig sent it (`seq`)."""

    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    seq: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    at: datetime = ts_field(default_now=True)
