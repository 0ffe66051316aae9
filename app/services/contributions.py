"""Team contributions: who did what, from the repository's history (staff and the group's own members only).

The history stored with each git artifact version (app.models.ArtifactHistory, read by app.artifacts.history at
snapshot time), summarised per person. A git identity counts as a member's when the member claimed it (or a chair
mapped it: app.models.IdentityClaim), or when its email is the member's account email; every other identity stays
its own row, "unclaimed".
Everything here names authors: no reviewer may reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.artifacts import history as kernel
from app.errors import BadInput, NotFound
from app.models import Artifact, ArtifactHistory, Group, IdentityClaim, Member, Submission, User, Venue
from app.services import audit
from app.services.deadlines import effective_deadline
from app.services.groups import group_members

CAVEAT = ("Commit counts and lines are weak evidence of who did the work: squash merges, one person pushing for a "
          "pair, and generated code all distort them. Read them beside the team's own statements.")


@dataclass
class Contributions:
    submission: Submission
    artifact: Artifact | None
    note: str | None                       # why there is no history, in words
    people: list[kernel.PersonActivity]
    members: dict[str, int]                # person label -> member id, for the group's members
    deadline: int | None                   # unix seconds, the group's effective submission deadline
    shallow: bool = False
    truncated: bool = False
    excluded: dict | None = None
    claims: list[IdentityClaim] | None = None
    unclaimed: list[str] | None = None     # identity keys of the history nobody claimed

    def to_json(self) -> dict:
        return {"submission": self.submission.number, "artifact_id": self.artifact.id if self.artifact else None,
                "commit": self.artifact.commit if self.artifact else None, "note": self.note,
                "deadline": self.deadline, "shallow": self.shallow, "truncated": self.truncated,
                "excluded": self.excluded or {}, "caveat": CAVEAT,
                "people": [{**p.to_json(), "member_id": self.members.get(p.label)} for p in self.people],
                "claims": [{"email": c.email, "member_id": c.member_id, "origin": c.origin,
                            "disputed_by": c.disputed_by} for c in self.claims or []],
                "unclaimed": self.unclaimed or []}


def contributions(session: Session, venue: Venue, submission: Submission) -> Contributions:
    """The latest git artifact's history, per person."""
    row = session.exec(select(Artifact, ArtifactHistory).join(ArtifactHistory, col(ArtifactHistory.artifact_id)
                                                              == Artifact.id)
                       .where(Artifact.submission_id == submission.id).order_by(col(Artifact.id).desc())).first()
    claims = claims_of(session, submission.group_id)
    if row is None:
        return Contributions(submission, None, "No code was submitted from a git repository, so there is no history.",
                             [], {}, None, claims=claims)
    artifact, stored = row
    due = effective_deadline(session, venue, "submission", submission.group_id).due_at
    deadline = int(due.timestamp()) if due else None
    if stored.summary is None:
        return Contributions(submission, artifact, stored.note or "The history could not be read.", [], {}, deadline,
                             claims=claims)
    h = kernel.History.from_json(stored.summary)
    by_email = {}
    group = session.get(Group, submission.group_id)
    roster = group_members(session, group) if group else []
    names = {member.id: user.full_name for member, user in roster}
    for member, user in roster:
        by_email[user.email.lower()] = (user.full_name, member.id)
    for c in claims:
        if c.member_id in names:
            by_email[c.email] = (names[c.member_id], c.member_id)
    owners, members, unclaimed = {}, {}, []
    for ident in h.identities:
        owner = by_email.get(ident.email.lower())
        if owner:
            owners[ident.key] = owner[0]
            members[owner[0]] = owner[1]
        else:
            unclaimed.append(ident.key)
    people = kernel.activity(h, owners=owners, deadline=deadline)
    return Contributions(submission, artifact, stored.note, people, members, deadline, h.shallow, h.truncated,
                         h.excluded_summary(), claims, unclaimed)


# --- identity claims ---------------------------------------------------------------------------------------------


def claims_of(session: Session, group_id: int) -> list[IdentityClaim]:
    return list(session.exec(select(IdentityClaim).where(IdentityClaim.group_id == group_id)
                             .order_by(col(IdentityClaim.email))).all())


def _email(value: str) -> str:
    email = " ".join((value or "").split()).lower()
    if not 3 <= len(email) <= 320 or "@" not in email:
        raise BadInput("Give the email address of the git identity (as `git log` shows it).")
    return email


def claim_identity(session: Session, actor: User, venue: Venue, submission: Submission, member: Member,
                   email: str, *, by_chair: bool = False) -> tuple[IdentityClaim, bool]:
    """`email`'s commits count as `member`'s: (the claim, False). Claimed once per group: a second member's claim
    leaves the first in place and is recorded as a dispute for the chair: (the claim, True), which the caller
    answers as a refusal (the dispute itself is kept). A chair's mapping replaces the claim and settles it."""
    email = _email(email)
    if member.group_id != submission.group_id:
        raise BadInput("Only a member of the submitting group can own its git identities.")
    row = session.exec(select(IdentityClaim).where(IdentityClaim.group_id == submission.group_id,
                                                   IdentityClaim.email == email)).first()
    if row is not None and row.member_id != member.id and not by_chair:
        row.disputed_by = member.id
        session.add(row)
        session.flush()
        audit.record(session, venue_id=venue.id, actor=actor, action="identity.dispute",
                     summary=f"{email} in #{submission.number} is claimed by another member: disputed",
                     submission=submission.number, email=email, member_id=member.id)
        return row, True
    if row is None:
        row = IdentityClaim(group_id=submission.group_id, member_id=member.id, email=email)
    row.member_id, row.origin = member.id, "chair" if by_chair else "member"
    if by_chair:
        row.disputed_by = None
    session.add(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="identity.claim",
                 summary=f"{email} in #{submission.number} counts as member {member.id}'s"
                         + (" (set by a chair)" if by_chair else ""),
                 submission=submission.number, email=email, member_id=member.id)
    return row, False


DISPUTED = ("Another member of your group has claimed this identity; the chairs are told and will decide whose "
            "it is.")


def unclaim_identity(session: Session, actor: User, venue: Venue, submission: Submission, email: str,
                     member: Member | None) -> None:
    """Withdraw a claim: a member their own, a chair (member None) any."""
    email = _email(email)
    row = session.exec(select(IdentityClaim).where(IdentityClaim.group_id == submission.group_id,
                                                   IdentityClaim.email == email)).first()
    if row is None or (member is not None and row.member_id != member.id):
        raise NotFound(f"You have no claim on {email} in this group.")
    session.delete(row)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="identity.unclaim",
                 summary=f"{email} in #{submission.number} is unclaimed", submission=submission.number, email=email)
