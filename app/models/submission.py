"""Submissions, their PDF revisions (with format reports) and code artifacts (immutable snapshots)."""

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import ts_field


class Submission(SQLModel, table=True):
    """One group's paper in a venue, numbered per venue (#17)."""

    __table_args__ = (UniqueConstraint("venue_id", "number"), UniqueConstraint("venue_id", "group_id"))

    id: int | None = Field(default=None, primary_key=True)
    venue_id: int = Field(foreign_key="venue.id", index=True)
    group_id: int = Field(foreign_key="group.id", index=True)
    number: int
    title: str = Field(max_length=300)
    abstract: str = Field(default="", max_length=5000)
    keywords: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = ts_field(default_now=True)
    updated_at: datetime = ts_field(default_now=True)


class Revision(SQLModel, table=True):
    """One uploaded PDF, kept forever, with the format check's report."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    blob_sha: str = Field(max_length=64)
    reviewer_blob_sha: str = Field(max_length=64, description="metadata-scrubbed copy for reviewers")
    size: int
    filename: str = Field(max_length=255)
    uploaded_by: int = Field(foreign_key="user.id")
    uploaded_at: datetime = ts_field(default_now=True, index=True)
    format_ok: bool = False
    pages_main: int = 0
    pages_total: int = 0
    format_report: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Artifact(SQLModel, table=True):
    """A code snapshot: a git commit or an uploaded archive, stored as an immutable tarball."""

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    source: str = Field(max_length=10)  # git | archive
    repo_url: str | None = Field(default=None, max_length=1000)
    commit: str | None = Field(default=None, max_length=64)
    archive_name: str | None = Field(default=None, max_length=255)
    snapshot_sha: str = Field(max_length=64)
    anonymized_sha: str = Field(max_length=64)
    file_count: int = 0
    total_bytes: int = 0
    manifest_ok: bool = False
    manifest_errors: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    manifest_text: str | None = Field(default=None)
    created_by: int = Field(foreign_key="user.id")
    created_at: datetime = ts_field(default_now=True, index=True)
