"""JSON shapes of the API (/api/v1)."""

from datetime import datetime

from pydantic import BaseModel, Field


class ErrorOut(BaseModel):
    detail: str
    code: str
    details: list | dict | None = None


class UserOut(BaseModel):
    id: int
    email: str
    full_name: str
    is_admin: bool
    timezone: str | None


class TokenIn(BaseModel):
    name: str = Field(max_length=100)


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    token: str | None = Field(default=None, description="The secret, shown once at creation.")


class SessionsEndedOut(BaseModel):
    ended: int = Field(description="How many sessions (signed-in browsers) were signed out.")


class LoginIn(BaseModel):
    email: str
    password: str


class PasswordForgotIn(BaseModel):
    email: str


class PasswordResetIn(BaseModel):
    token: str
    password: str


class DeadlineOut(BaseModel):
    kind: str
    due_at: datetime | None
    venue_due_at: datetime | None
    extended: bool
    due_local: str | None = Field(description="In the venue's time zone.")


class VenueOut(BaseModel):
    slug: str
    title: str
    course_code: str
    timezone: str
    phase: str
    group_min: int
    group_max: int
    page_limit: int
    format_mandatory: bool
    my_role: str | None
    allowed_phase_moves: list[str]
    deadlines: list[DeadlineOut]


class VenueIn(BaseModel):
    slug: str
    title: str
    course_code: str = ""
    timezone: str = "UTC"
    group_min: int = 2
    group_max: int = 4
    page_limit: int = 9


class VenuePatch(BaseModel):
    title: str | None = None
    course_code: str | None = None
    timezone: str | None = None
    group_min: int | None = None
    group_max: int | None = None
    page_limit: int | None = None
    format_mandatory: bool | None = None


class PhaseIn(BaseModel):
    phase: str
    confirm: str | None = Field(default=None, description="The checklist's fingerprint from a dry run; without "
                                "it nothing changes and the checklist is returned (a dry run).")


class CheckItemOut(BaseModel):
    code: str
    level: str = Field(description="ok | warning | blocker (a blocker refuses the move)")
    message: str
    count: int
    names: list[str]


class ChecklistOut(BaseModel):
    from_phase: str = Field(alias="from")
    to: str
    items: list[CheckItemOut]
    mails: int
    fingerprint: str
    can_confirm: bool

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class PhaseChangeOut(VenueOut):
    moved: bool = Field(description="false on a dry run: nothing changed")
    checklist: ChecklistOut


class VenueCopyIn(BaseModel):
    slug: str
    title: str
    course_code: str | None = None
    shift_days: int | None = Field(default=None, description="Days added to every deadline; by default the "
                                   "smallest number of whole weeks that puts every deadline in the future.")


class DeadlineIn(BaseModel):
    due_at: str = Field(description="ISO 8601; without an offset it is read in the venue's time zone.")


class MemberOut(BaseModel):
    id: int
    user_id: int
    full_name: str
    email: str | None
    student_id: str | None
    role: str
    group_id: int | None


class MemberIn(BaseModel):
    email: str
    full_name: str
    role: str = "student"


class RoleIn(BaseModel):
    role: str


class RosterReportOut(BaseModel):
    applied: bool
    created: int
    updated: int
    unchanged: int
    rejected: list[dict]
    created_emails: list[str]
    updated_emails: list[str]
    summary: str


class GroupMemberOut(BaseModel):
    member_id: int
    full_name: str


class GroupOut(BaseModel):
    id: int
    name: str
    join_code: str | None
    size: int
    members: list[GroupMemberOut]


class GroupIn(BaseModel):
    name: str
    member_ids: list[int] = Field(default_factory=list, description="Staff only: students to put in it.")


class JoinIn(BaseModel):
    code: str


class MoveIn(BaseModel):
    member_id: int
    group_id: int | None


class ExtensionIn(BaseModel):
    reason: str
    requested_until: str | None = None
    kind: str = "submission"


class ReviewExtensionIn(BaseModel):
    reason: str
    requested_until: str | None = None


class ExtensionDecisionIn(BaseModel):
    grant: bool
    new_due_at: str | None = None
    note: str = ""


class ExtensionOut(BaseModel):
    id: int
    group_id: int | None
    group_name: str
    member_id: int | None = Field(default=None, description="set for a reviewer's own extension of the review "
                                  "deadline")
    for_reviewer: bool = False
    kind: str
    reason: str
    requested_until: datetime | None
    status: str
    new_due_at: datetime | None
    decision_note: str
    created_at: datetime


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    action: str
    summary: str
    detail: dict


class SubmissionIn(BaseModel):
    title: str
    abstract: str = ""
    keywords: list[str] = Field(default_factory=list)


class RevisionOut(BaseModel):
    id: int
    uploaded_at: datetime
    size: int
    filename: str
    format_ok: bool
    pages_main: int
    pages_total: int
    format_report: dict
    current: bool


class ArtifactOut(BaseModel):
    id: int
    source: str
    repo_url: str | None
    commit: str | None
    archive_name: str | None
    file_count: int
    total_bytes: int
    manifest_ok: bool
    manifest_errors: list
    created_at: datetime


class SubmissionOut(BaseModel):
    number: int
    title: str
    abstract: str
    keywords: list[str]
    group_name: str | None = Field(description="Only for the authors and the chairs.")
    updated_at: datetime
    current_revision: RevisionOut | None
    artifact: ArtifactOut | None


class GitArtifactIn(BaseModel):
    repo_url: str
    commit: str


def served_as(*media_types: str, description: str = "The file") -> dict:
    """`responses=` for a route that answers a file rather than JSON (with `response_class=Response`), so the
    OpenAPI description declares the content types it really serves."""
    return {200: {"description": description,
                  "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types}}}
