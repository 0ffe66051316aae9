"""Team contributions: what the repository's history says about who did what (staff and the group only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import ts_field


class ArtifactHistory(SQLModel, table=True):
    """The git history of an artifact version up to its commit, as app.artifacts.history summarised it when the
    snapshot was made (the ``.git`` itself is never kept). ``summary`` is None when it could not be read; ``note``
    says why (too large, too slow, a shallow history, too many identities). It names authors: never reviewers."""

    id: int | None = Field(default=None, primary_key=True)
    artifact_id: int = Field(foreign_key="artifact.id", unique=True)
    summary: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = ts_field(default_now=True)


class IdentityClaim(SQLModel, table=True):
    """A git identity (by email) that counts as one group member's work: claimed by the member on the group's
    contributions page, or mapped by a chair. One identity is claimed once per group; a second member who says it
    is theirs is recorded as `disputed_by` for the chair to settle."""

    __table_args__ = (UniqueConstraint("group_id", "email"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="group.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    email: str = Field(max_length=320)        # lower-cased
    origin: str = Field(default="member", max_length=10)  # member | chair
    disputed_by: int | None = Field(default=None, foreign_key="member.id")
    created_at: datetime = ts_field(default_now=True)
