"""Team contributions: who did what, from the repository's history (staff and the group's own members only).

Today: the history stored with each git artifact version (app.models.ArtifactHistory, read by
app.artifacts.history at snapshot time) summarised per person. A git identity whose email is a member's account
email counts as that member's; every other identity stays its own row ("unclaimed") until identity claims land.
Everything here names authors: no reviewer may reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.artifacts import history as kernel
from app.models import Artifact, ArtifactHistory, Group, Submission, Venue
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

    def to_json(self) -> dict:
        return {"submission": self.submission.number, "artifact_id": self.artifact.id if self.artifact else None,
                "commit": self.artifact.commit if self.artifact else None, "note": self.note,
                "deadline": self.deadline, "shallow": self.shallow, "truncated": self.truncated,
                "excluded": self.excluded or {}, "caveat": CAVEAT,
                "people": [{**p.to_json(), "member_id": self.members.get(p.label)} for p in self.people]}


def contributions(session: Session, venue: Venue, submission: Submission) -> Contributions:
    """The latest git artifact's history, per person."""
    row = session.exec(select(Artifact, ArtifactHistory).join(ArtifactHistory, col(ArtifactHistory.artifact_id)
                                                              == Artifact.id)
                       .where(Artifact.submission_id == submission.id).order_by(col(Artifact.id).desc())).first()
    if row is None:
        return Contributions(submission, None, "No code was submitted from a git repository, so there is no history.",
                             [], {}, None)
    artifact, stored = row
    due = effective_deadline(session, venue, "submission", submission.group_id).due_at
    deadline = int(due.timestamp()) if due else None
    if stored.summary is None:
        return Contributions(submission, artifact, stored.note or "The history could not be read.", [], {}, deadline)
    h = kernel.History.from_json(stored.summary)
    by_email = {}
    group = session.get(Group, submission.group_id)
    for member, user in (group_members(session, group) if group else []):
        by_email[user.email.lower()] = (user.full_name, member.id)
    owners, members = {}, {}
    for ident in h.identities:
        owner = by_email.get(ident.email.lower())
        if owner:
            owners[ident.key] = owner[0]
            members[owner[0]] = owner[1]
    people = kernel.activity(h, owners=owners, deadline=deadline)
    return Contributions(submission, artifact, stored.note, people, members, deadline, h.shallow, h.truncated,
                         h.excluded_summary())
