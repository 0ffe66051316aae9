"""People and their credentials."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import ts_field


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    full_name: str = Field(max_length=200)
    student_id: str | None = Field(default=None, max_length=64)
    password_hash: str | None = Field(default=None, max_length=200)
    is_admin: bool = False
    timezone: str | None = Field(default=None, max_length=64)
    # Bumped when the password changes: signed session cookies carry it, so old cookies die.
    session_epoch: int = 0
    created_at: datetime = ts_field(default_now=True)


class ApiToken(SQLModel, table=True):
    """A bearer token for scripts; only its sha256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=100)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = ts_field(default_now=True)
    last_used_at: datetime | None = ts_field(nullable=True)
    revoked_at: datetime | None = ts_field(nullable=True)


class LoginAttempt(SQLModel, table=True):
    """Sign-in attempts (and reset mails, resets), kept in the database so rate limits hold across API processes.

    `kind`: "password" (a sign-in with a password), "reset" (a password reset: lifts a lock-out),
    "reset-mail" (a reset link was mailed: throttled per address)."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, index=True)
    ip: str = Field(max_length=64, index=True)
    succeeded: bool = False
    kind: str = Field(default="password", max_length=20)
    at: datetime = ts_field(default_now=True, index=True)


class UserSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries a random key whose SHA-256 is kept here, so signing out (here,
    everywhere, or by a password change) ends it for every API process at once."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = ts_field(default_now=True)
    # Sessions expire after settings.session_max_age_s without use; last_seen_at is refreshed coarsely.
    last_seen_at: datetime = ts_field(default_now=True, index=True)
    user_agent: str = Field(default="", max_length=200)
