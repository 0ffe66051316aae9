"""A venue's course options for the auto-solve (`AssignmentSettings`): at most one reviewer per group on a
submission, no reciprocal pairs between two groups, every student reviews. A venue without a row has them all on,
the default for a course (its reviewers are students in groups); a chair changes them on the assignment page or
with PUT /api/v1/venues/{slug}/assignment/settings."""

from datetime import UTC, datetime

from sqlmodel import Session

from app.models import User, Venue
from app.models.assignment import AssignmentSettings
from app.services import audit

# field -> what the chair reads (the solver's infeasibility reasons quote the same words)
OPTIONS = {
    "one_reviewer_per_group": "at most one reviewer per group on a submission",
    "no_reciprocal_groups": "no reciprocal pairs between two groups",
    "every_student_reviews": "every student reviews",
}


def get_options(session: Session, venue: Venue) -> AssignmentSettings:
    """The venue's options (a fresh, unsaved row with every option on when none is stored)."""
    return session.get(AssignmentSettings, venue.id) or AssignmentSettings(venue_id=venue.id)


def options_view(row: AssignmentSettings) -> dict:
    return {name: bool(getattr(row, name)) for name in OPTIONS}


def set_options(session: Session, actor: User, venue: Venue, **flags: bool) -> AssignmentSettings:
    """Change some options (the others stay) and record an audit event naming what changed."""
    row = get_options(session, venue)
    changed = {}
    for name, value in flags.items():
        if name not in OPTIONS:
            raise KeyError(name)
        if value is not None and bool(value) != bool(getattr(row, name)):
            changed[name] = bool(value)
            setattr(row, name, bool(value))
    if changed:
        row.updated_by, row.updated_at = actor.id, datetime.now(UTC)
        session.add(row)
        session.flush()
        audit.record(session, venue_id=venue.id, actor=actor, action="assignment.options",
                     summary="assignment options: " + ", ".join(f"{OPTIONS[n]} {'on' if v else 'off'}"
                                                                for n, v in changed.items()), changed=changed)
    return row
