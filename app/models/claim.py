"""Claims authors enter in the form (beside reproduce.toml's) and chairs' badge decisions, per submission."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import ts_field


class SubmissionClaim(SQLModel, table=True):
    """A number the paper states, entered on the submission page; checked like a manifest [[claim]]."""

    __table_args__ = (UniqueConstraint("submission_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    key: str = Field(max_length=32, description="the claim's id, e.g. C3; unique with the manifest's")
    text: str = Field(default="", max_length=1000)
    page: int | None = None
    experiment: str = Field(max_length=64)
    metric: str = Field(max_length=128)
    value: float
    direction: str = Field(default="at_least", max_length=10)
    tolerance: str = Field(default="0", max_length=20, description='"10%" (relative) or "0.02" (absolute)')
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = ts_field(default_now=True)
    updated_at: datetime = ts_field(default_now=True)


class BadgeOverride(SQLModel, table=True):
    """A chair's decision on one badge of a submission: confirm or override what the runs earned, with a reason."""

    __table_args__ = (UniqueConstraint("submission_id", "badge"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    badge: str = Field(max_length=20)
    granted: bool
    reason: str = Field(max_length=1000)
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime = ts_field(default_now=True)
