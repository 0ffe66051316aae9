"""Team contributions: what the repository's history says about who did what (staff and the group only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Text
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
