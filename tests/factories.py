"""Factories for venues, users, members and groups, used by every test module."""

import re
from datetime import UTC, datetime, timedelta

from sqlmodel import Session

from app.models import Deadline, Group, Member, Phase, User, Venue
from app.security.passwords import hash_password
from app.security.tokens import new_join_code

PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)


def confirm_phase(client, slug: str, phase: str, **kwargs):  # noqa: ANN001, ANN003, ANN201
    """A chair's phase change through the API as a person makes it: the dry run (the checklist), then the
    confirm that echoes its fingerprint. Returns the dry run's response when that one failed."""
    dry = client.post(f"/api/v1/venues/{slug}/phase", json={"phase": phase}, **kwargs)
    if dry.status_code != 200:
        return dry
    return client.post(f"/api/v1/venues/{slug}/phase",
                       json={"phase": phase, "confirm": dry.json()["checklist"]["fingerprint"]}, **kwargs)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


class Factory:
    def __init__(self, db: Session) -> None:
        self.db = db
        self.n = 0

    def _next(self) -> int:
        self.n += 1
        return self.n

    def user(self, name: str | None = None, *, email: str | None = None, admin: bool = False,
             password: bool = True) -> User:
        i = self._next()
        user = User(email=email or f"user{i}-{id(self)}@uni.example", full_name=name or f"Person {i}",
                    is_admin=admin, password_hash=_HASH if password else None)
        self.db.add(user)
        self.db.flush()
        return user

    def venue(self, *, phase: Phase | str = Phase.setup, slug: str | None = None, group_max: int = 4,
              timezone: str = "Europe/London", submission_due: datetime | None | bool = True) -> Venue:
        i = self._next()
        venue = Venue(slug=slug or f"venue-{i}-{id(self) % 10000}", title=f"Venue {i}", course_code=f"CS{i}",
                      timezone=timezone, phase=str(phase), group_max=group_max)
        self.db.add(venue)
        self.db.flush()
        if submission_due is True:
            submission_due = datetime.now(UTC) + timedelta(days=7)
        if submission_due:
            self.db.add(Deadline(venue_id=venue.id, kind="submission", due_at=submission_due))
            self.db.flush()
        return venue

    def member(self, venue: Venue, role: str = "student", user: User | None = None, group: Group | None = None,
               name: str | None = None) -> tuple[User, Member]:
        user = user or self.user(name)
        member = Member(venue_id=venue.id, user_id=user.id, role=role, group_id=group.id if group else None)
        self.db.add(member)
        self.db.flush()
        return user, member

    def group(self, venue: Venue, name: str | None = None, size: int = 0) -> Group:
        group = Group(venue_id=venue.id, name=name or f"Group {self._next()}", join_code=new_join_code())
        self.db.add(group)
        self.db.flush()
        for _ in range(size):
            self.member(venue, "student", group=group)
        return group

    def cast(self, venue: Venue) -> dict:
        """One person per role in a venue: chair, ta, a grouped student, an ungrouped one, an outsider, admin."""
        group = self.group(venue, "Team Alpha")
        chair, chair_m = self.member(venue, "chair", name="Chair Person")
        ta, ta_m = self.member(venue, "ta", name="Teaching Assistant")
        student, student_m = self.member(venue, "student", group=group, name="Stu Dent")
        loner, loner_m = self.member(venue, "student", name="Lone Student")
        reviewer, reviewer_m = self.member(venue, "reviewer", name="Ext Reviewer")
        outsider = self.user("Out Sider")
        admin = self.user("Ad Min", admin=True)
        self.db.commit()
        return {"chair": chair, "ta": ta, "student": student, "loner": loner, "reviewer": reviewer,
                "outsider": outsider, "admin": admin, "group": group,
                "members": {"chair": chair_m, "ta": ta_m, "student": student_m, "loner": loner_m,
                            "reviewer": reviewer_m}}
