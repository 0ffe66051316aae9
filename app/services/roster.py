"""Roster import from the CSV that a Moodle / Learn gradebook exports.

Tolerates a BOM, UTF-16 exports, ';' or tab separators, quoted fields and extra columns.
Strict by default: if any row is rejected nothing is imported, so a lecturer fixes the file
and imports again; `partial=True` imports the valid rows and reports the rest.
Idempotent: importing the same file twice changes nothing the second time.
"""

import csv
import io
from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.errors import BadInput, TooLarge
from app.models import Member, Role, User, Venue
from app.services import audit
from app.services.accounts import normalise_email

HEADER_ALIASES = {
    "email": {"email address", "email", "e-mail", "e-mail address", "mail", "emailaddress"},
    "first": {"first name", "firstname", "given name", "forename", "first"},
    "last": {"last name", "lastname", "surname", "family name", "last"},
    "name": {"name", "full name", "fullname", "student name"},
    "student_id": {"id number", "idnumber", "student id", "student number", "matriculation number", "id"},
    "role": {"role", "roles"},
}


@dataclass
class RosterRow:
    line: int
    email: str
    full_name: str
    student_id: str | None
    role: str


@dataclass
class RejectedRow:
    line: int
    reason: str
    raw: str = ""


@dataclass
class RosterReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    applied: bool = False

    def as_dict(self) -> dict:
        return {
            "applied": self.applied,
            "created": len(self.created), "updated": len(self.updated), "unchanged": len(self.unchanged),
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "created_emails": self.created, "updated_emails": self.updated,
        }

    @property
    def summary(self) -> str:
        head = (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{len(self.rejected)} rejected")
        return head if self.applied else f"Nothing was imported ({head}): fix the rejected rows and try again."


def decode_csv(data: bytes) -> str:
    if not data.strip():
        raise BadInput("The file is empty.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"The file is not UTF-8 text (undecodable byte at line {line}). In Moodle choose "
            "'Download table data as Comma separated values (.csv)'; in Excel save as 'CSV UTF-8'."
        ) from None
    if "\x00" in text:
        raise BadInput("The file is not a CSV text file (it contains binary data).")
    return text


def parse_roster(data: bytes, *, max_bytes: int, default_role: str = Role.student.value
                 ) -> tuple[list[RosterRow], list[RejectedRow]]:
    """Rows and rejected rows from CSV bytes; BadInput when the file as a whole is unusable."""
    if len(data) > max_bytes:
        raise TooLarge(f"The roster file is {len(data) // 1024} KB; the limit is {max_bytes // 1024} KB.")
    text = decode_csv(data)
    first_line = text.splitlines()[0] if text.splitlines() else ""
    delimiter = max([",", ";", "\t"], key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise BadInput("The file has no header row.") from None
    columns = _map_header(header)
    if "email" not in columns:
        shown = ", ".join(f'"{h.strip()[:30]}"' for h in header[:8])
        raise BadInput(f"The file has no email column (looked for 'Email address'); its columns are {shown}.")
    if "name" not in columns and not ("first" in columns or "last" in columns):
        raise BadInput("The file has no name columns (looked for 'First name' and 'Last name', or 'Name').")
    rows: list[RosterRow] = []
    rejected: list[RejectedRow] = []
    seen: dict[str, int] = {}
    valid_roles = {r.value for r in Role}
    try:
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            raw = delimiter.join(fields)[:200]

            def col(key: str, fields: list[str] = fields) -> str:
                i = columns.get(key)
                return fields[i].strip() if i is not None and i < len(fields) else ""

            email_raw = col("email")
            if not email_raw:
                rejected.append(RejectedRow(line, "no email address", raw))
                continue
            try:
                email = normalise_email(email_raw)
            except BadInput as exc:
                rejected.append(RejectedRow(line, exc.message, raw))
                continue
            if email in seen:
                rejected.append(RejectedRow(line, f"{email} appears twice (first on line {seen[email]})", raw))
                continue
            seen[email] = line
            name = col("name") or " ".join(p for p in (col("first"), col("last")) if p)
            if not name:
                rejected.append(RejectedRow(line, f"no name for {email}", raw))
                continue
            role = (col("role") or default_role).lower()
            role = {"lecturer": "chair", "teacher": "chair", "teaching assistant": "ta",
                    "non-editing teacher": "ta"}.get(role, role)
            if role not in valid_roles:
                rejected.append(RejectedRow(line, f"unknown role '{role[:20]}'", raw))
                continue
            rows.append(RosterRow(line, email, name[:200], col("student_id")[:64] or None, role))
    except csv.Error as exc:
        raise BadInput(f"The file is not valid CSV near line {reader.line_num}: {exc}.") from None
    if not rows and not rejected:
        raise BadInput("The file has a header but no rows.")
    return rows, rejected


def _map_header(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, name in enumerate(header):
        key = " ".join(name.strip().strip('"').lower().replace("_", " ").split())
        for field_name, aliases in HEADER_ALIASES.items():
            if key in aliases and field_name not in columns:
                columns[field_name] = i
    return columns


def _user_changes(row: RosterRow, user: User) -> bool:
    return user.full_name != row.full_name or bool(row.student_id and user.student_id != row.student_id)


def _outcome(row: RosterRow, user: User | None, member: Member | None) -> str:
    """What importing `row` does: "created" (a new member of the venue), "updated" or "unchanged"."""
    if user is None or member is None:
        return "created"
    return "updated" if _user_changes(row, user) or member.role != row.role else "unchanged"


def import_roster(session: Session, actor: User, venue: Venue, data: bytes, *, max_bytes: int,
                  partial: bool = False) -> RosterReport:
    """Create or update users and members from a roster file; see the module docstring."""
    rows, rejected = parse_roster(data, max_bytes=max_bytes)
    report = RosterReport(rejected=rejected)
    users = {u.email: u for u in session.exec(select(User).where(User.email.in_([r.email for r in rows]))).all()}
    members = {m.user_id: m for m in session.exec(select(Member).where(Member.venue_id == venue.id)).all()}
    plan: list[tuple[RosterRow, User | None, Member | None]] = []
    for row in rows:
        user = users.get(row.email)
        member = members.get(user.id) if user else None
        if member is not None and member.role != row.role and member.group_id is not None:
            report.rejected.append(RejectedRow(row.line, f"{row.email} is in a group and cannot become {row.role}"))
            continue
        plan.append((row, user, member))
    report.rejected.sort(key=lambda r: r.line)
    # Counted the same way whether or not the import goes ahead, so strict mode's "nothing was imported" report
    # says what the import would have done (the counts partial mode then reports).
    for row, user, member in plan:
        outcome = _outcome(row, user, member)
        {"created": report.created, "updated": report.updated, "unchanged": report.unchanged}[outcome].append(
            row.email)
    if report.rejected and not partial:
        return report
    for row, user, member in plan:
        if user is None:
            user = User(email=row.email, full_name=row.full_name, student_id=row.student_id)
            session.add(user)
            session.flush()
        if _user_changes(row, user):
            user.full_name = row.full_name
            user.student_id = row.student_id or user.student_id
            session.add(user)
        if member is None:
            session.add(Member(venue_id=venue.id, user_id=user.id, role=row.role))
            continue
        if member.role != row.role:
            member.role = row.role
            session.add(member)
    report.applied = True
    if report.created or report.updated:
        audit.record(session, venue_id=venue.id, actor=actor, action="roster.import", summary=report.summary,
                     created=report.created, updated=report.updated,
                     rejected=[r.line for r in report.rejected])
    return report
