"""Conflicts: who must not review which group's submission (own group, declared, imported, 'conflict' bids),
the matrix the solver reads, and the chairs' import and lists."""

import csv
import io

import numpy as np
from sqlmodel import Session, select

from app.errors import BadInput, Conflict as ConflictError
from app.models import AuditEvent, Group, Member, Submission, User, Venue
from app.models.assignment import Assignment, Bid, BidValue, Conflict
from app.services import audit
from app.services.assignments.profiles import current, submissions


def conflict_pairs(session: Session, venue: Venue) -> set[tuple[int, int]]:
    """(group_id, member_id): the member must not review that group's submission. A conflict that names the
    other person holds both ways: that person does not review the declarer's own group's submission either."""
    rows = session.exec(select(Conflict).where(Conflict.venue_id == venue.id)).all()
    pairs = {(c.group_id, c.member_id) for c in rows}
    named = [c for c in rows if c.other_member_id is not None]
    if named:
        group_of = dict(session.exec(select(Member.id, Member.group_id).where(
            Member.id.in_({c.member_id for c in named}))).all())
        pairs |= {(group_of[c.member_id], c.other_member_id) for c in named if group_of.get(c.member_id)}
    # A person named by email holds wherever they are now: in a group formed or joined after the declaration.
    group_of = dict(session.exec(select(Member.id, Member.group_id).where(Member.venue_id == venue.id)).all())
    for d in _email_declarations(session, venue):
        other, mine = d["other"], group_of.get(d["member_id"])
        if other is not None and other.group_id is not None and other.group_id != mine:
            pairs.add((other.group_id, d["member_id"]))
            if mine is not None:
                pairs.add((mine, other.id))
    return pairs


def conflict_matrix(session: Session, venue: Venue, subs: list[Submission], members: list[Member]) -> np.ndarray:
    """Hard conflicts: own group, declared/imported conflicts, and 'conflict' bids."""
    sub_index = {s.id: i for i, s in enumerate(subs)}
    group_index = {s.group_id: i for i, s in enumerate(subs)}
    member_index = {m.id: j for j, m in enumerate(members)}
    mask = np.zeros((len(subs), len(members)), dtype=bool)
    for j, m in enumerate(members):
        if m.group_id in group_index:
            mask[group_index[m.group_id], j] = True
    for group_id, member_id in conflict_pairs(session, venue):
        if group_id in group_index and member_id in member_index:
            mask[group_index[group_id], member_index[member_id]] = True
    for b in session.exec(select(Bid).where(Bid.venue_id == venue.id, Bid.value == BidValue.conflict.value)).all():
        if b.submission_id in sub_index and b.member_id in member_index:
            mask[sub_index[b.submission_id], member_index[b.member_id]] = True
    return mask



def declare_conflict(session: Session, actor: User, venue: Venue, member: Member, group: Group, reason: str,
                     source: str = "declared", other: Member | None = None) -> Conflict:
    """member must not review group's submission; with `other` (the person named), other must not review
    member's group's submission either."""
    existing = session.exec(select(Conflict).where(Conflict.member_id == member.id,
                                                   Conflict.group_id == group.id)).first()
    if existing:
        raise ConflictError("This conflict is declared already.")
    return _add_declared(session, actor, venue, member, group, reason, source, other)


def _add_declared(session: Session, actor: User, venue: Venue, member: Member, group: Group, reason: str,
                  source: str, other: Member | None, **detail) -> Conflict:  # noqa: ANN003
    assigned = session.exec(select(Assignment).join(Submission, Submission.id == Assignment.submission_id)
                            .where(Assignment.member_id == member.id, Submission.group_id == group.id)).first()
    conflict = Conflict(venue_id=venue.id, member_id=member.id, group_id=group.id, source=source,
                        other_member_id=other.id if other is not None else None, reason=reason.strip()[:500],
                        created_by=actor.id)
    session.add(conflict)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="conflict.declare",
                 summary="declared a conflict" + (" (the reviewer is assigned to it: re-solve)" if assigned else ""),
                 member_id=member.id, group_id=group.id, **detail)
    return conflict


# A student declares conflicts by naming a person; how many they may name (the chairs import more).
MAX_DECLARED_CONFLICTS = 10
DECLARED_MESSAGE = ("Conflict declared: if that person is in a group of this venue, now or when the assignment "
                    "is made, you will not be assigned their group's submission.")
_BY_EMAIL = "conflict.declare_email"


def _email_declarations(session: Session, venue: Venue, member: Member | None = None) -> list[dict]:
    """What members declared by email, oldest first (one member's, or everyone's), each with the venue member
    that email belongs to now (`other`, None when nobody), whatever it resolved to when declared."""
    events = session.exec(select(AuditEvent).where(AuditEvent.venue_id == venue.id, AuditEvent.action == _BY_EMAIL)
                          .order_by(AuditEvent.id)).all()
    found = [{**e.detail, "created_at": e.at} for e in events
             if member is None or (e.detail or {}).get("member_id") == member.id]
    emails = {d.get("email") for d in found}
    people = {u.email.lower(): m for m, u in session.exec(
        select(Member, User).join(User, User.id == Member.user_id)
        .where(Member.venue_id == venue.id, User.email.in_(emails or {""}))).all()} if found else {}
    return [{**d, "other": people.get(d.get("email"))} for d in found]


def declare_conflict_by_email(session: Session, actor: User, venue: Venue, member: Member, email: str,
                              reason: str) -> dict:
    """A member names a person they must not review; the answer is the same whatever the roster holds.

    Whether the person exists, is in a group, is in the member's own group, or that group is already
    conflicted, the member gets the same answer and the same entry in their own list (the email they typed):
    anything else would tell a student who is in which group. Only a person in another group makes a
    conflict row; the request itself is kept (for the member's list, the cap and the chairs' audit).
    """
    email = email.strip().lower()
    if not email or "@" not in email or len(email) > 320:
        raise BadInput("Give the email address of the person you must not review.")
    mine = _email_declarations(session, venue, member)
    if any(d.get("email") == email for d in mine):
        return {"status": "recorded", "message": DECLARED_MESSAGE}
    if len(mine) >= MAX_DECLARED_CONFLICTS:
        raise ConflictError(f"You have declared {MAX_DECLARED_CONFLICTS} conflicts, the most one person may "
                            f"declare here: nothing was changed. Ask the chairs if you need more.")
    reason = reason.strip()[:500]
    audit.record(session, venue_id=venue.id, actor=actor, action=_BY_EMAIL,
                 summary="named a person to conflict with", member_id=member.id, email=email, reason=reason)
    other = session.exec(select(Member).join(User, User.id == Member.user_id)
                         .where(Member.venue_id == venue.id, User.email == email)).first()
    if other is not None and other.group_id is not None and other.group_id != member.group_id:
        group = session.get(Group, other.group_id)
        taken = session.exec(select(Conflict).where(Conflict.member_id == member.id,
                                                    Conflict.group_id == group.id)).first()
        if taken is None:
            _add_declared(session, actor, venue, member, group, reason, "declared", other, email=email)
    session.flush()
    return {"status": "recorded", "message": DECLARED_MESSAGE}


# ---- conflicts: chair import, lists ----------------------------------------------------------------------


def import_conflicts(session: Session, actor: User, venue: Venue, data: bytes) -> dict:
    """Rows `reviewer_email,other_email[,reason]` (the other person's group) or `reviewer_email,submission number`.

    Strict like every import: each bad line is listed and nothing is stored unless all lines are good.
    Pairs that exist already and own-group pairs (always a conflict) are skipped, not errors.
    """
    from app.services.roster import decode_csv

    text = decode_csv(data)
    people = {u.email.lower(): m for m, u in session.exec(
        select(Member, User).join(User, User.id == Member.user_id).where(Member.venue_id == venue.id)).all()}
    by_number = {s.number: s for s in submissions(session, venue)}
    existing = {(c.member_id, c.group_id) for c in session.exec(select(Conflict).where(Conflict.venue_id == venue.id))}
    new: dict[tuple[int, int], str] = {}
    named: dict[tuple[int, int], int] = {}  # the other person, for rows that name one (the conflict holds both ways)
    problems: list[str] = []
    skipped = 0
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not any(c.strip() for c in row):
            continue
        first = row[0].strip().lower()
        if line_no == 1 and "@" not in first:
            continue  # header
        second = row[1].strip() if len(row) > 1 else ""
        reason = row[2].strip()[:500] if len(row) > 2 else ""
        member = people.get(first)
        group_id = other_id = None
        if member is None:
            problems.append(f"line {line_no}: {first or '(empty)'} is not a member of this venue")
            continue
        if "@" in second:
            other = people.get(second.lower())
            if other is None:
                problems.append(f"line {line_no}: {second} is not a member of this venue")
            elif other.group_id is None:
                problems.append(f"line {line_no}: {second} is not in a group, so there is no submission to avoid")
            else:
                group_id, other_id = other.group_id, other.id
        elif second.lstrip("#").isdigit():
            sub = by_number.get(int(second.lstrip("#")))
            if sub is None:
                problems.append(f"line {line_no}: there is no submission #{second.lstrip('#')}")
            else:
                group_id = sub.group_id
        else:
            problems.append(f"line {line_no}: the second column must be an email or a submission number, "
                            f"not '{second[:40]}'")
        if group_id is None:
            continue
        key = (member.id, group_id)
        if member.group_id == group_id or key in existing or key in new:
            skipped += 1
            continue
        new[key] = reason or "imported by the chairs"
        if other_id is not None:
            named[key] = other_id
    if problems:
        raise BadInput(f"Nothing was changed: {len(problems)} bad line(s): " + "; ".join(problems[:20])
                       + (" …" if len(problems) > 20 else ""), details=[{"message": p} for p in problems])
    if not new and not skipped:
        raise BadInput("The file names no conflicts.")
    for (member_id, group_id), reason in new.items():
        session.add(Conflict(venue_id=venue.id, member_id=member_id, group_id=group_id, source="imported",
                             other_member_id=named.get((member_id, group_id)), reason=reason, created_by=actor.id))
    session.flush()
    group_of = {s.id: s.group_id for s in by_number.values()}
    assigned = sum(1 for a in current(session, venue) if (a.member_id, group_of.get(a.submission_id)) in new)
    audit.record(session, venue_id=venue.id, actor=actor, action="conflict.import",
                 summary=f"imported {len(new)} conflict(s) ({skipped} skipped)"
                         + (f"; {assigned} assigned pair(s) now conflict: re-solve" if assigned else ""),
                 created=len(new), skipped=skipped, assigned=assigned)
    return {"created": len(new), "skipped": skipped, "assigned_now_conflicted": assigned}


def list_conflicts(session: Session, venue: Venue) -> list[dict]:
    """Every conflict of the venue for the chairs: declared, imported and 'conflict' bids (own groups implicit)."""
    people = {m.id: (m, u) for m, u in session.exec(
        select(Member, User).join(User, User.id == Member.user_id).where(Member.venue_id == venue.id)).all()}
    groups = {g.id: g for g in session.exec(select(Group).where(Group.venue_id == venue.id)).all()}
    users = {u.id: u for _m, u in people.values()}
    subs = submissions(session, venue)
    number_of_group = {s.group_id: s.number for s in subs}
    rows = []
    for c in session.exec(select(Conflict).where(Conflict.venue_id == venue.id).order_by(Conflict.id)).all():
        _m, u = people[c.member_id]
        other = people.get(c.other_member_id)
        rows.append({"id": c.id, "member_id": c.member_id, "reviewer": u.email, "reviewer_name": u.full_name,
                     "group_id": c.group_id, "group": groups[c.group_id].name if c.group_id in groups else "",
                     "submission": number_of_group.get(c.group_id), "source": c.source, "reason": c.reason,
                     "with": other[1].email if other else None, "created_at": c.created_at,
                     "declared_by": _declarer(people, users, c)})
    with_row = {(r["member_id"], r["with"]) for r in rows if r["with"]}
    for d in _email_declarations(session, venue):
        if (d["member_id"], d["email"]) in with_row or d["member_id"] not in people:
            continue
        _m, u = people[d["member_id"]]
        other = d["other"]
        gid = other.group_id if other is not None else None
        rows.append({"id": None, "member_id": d["member_id"], "reviewer": u.email, "reviewer_name": u.full_name,
                     "group_id": gid, "group": groups[gid].name if gid in groups else "",
                     "submission": number_of_group.get(gid),
                     "source": "declared (no group)" if gid is None else "declared (own group)"
                     if gid == _m.group_id else "declared", "reason": d.get("reason", ""), "with": d["email"],
                     "created_at": d["created_at"], "declared_by": u.full_name})
    group_of_sub = {s.id: s.group_id for s in subs}
    for b in session.exec(select(Bid).where(Bid.venue_id == venue.id, Bid.value == BidValue.conflict.value)
                          .order_by(Bid.id)).all():
        _m, u = people[b.member_id]
        gid = group_of_sub.get(b.submission_id)
        rows.append({"id": None, "member_id": b.member_id, "reviewer": u.email, "reviewer_name": u.full_name,
                     "group_id": gid, "group": groups[gid].name if gid in groups else "",
                     "submission": number_of_group.get(gid), "source": "bid", "reason": "", "with": None,
                     "created_at": b.updated_at, "declared_by": u.full_name})
    return rows


def _declarer(people: dict, users: dict, c: Conflict) -> str:
    """Who declared it: the reviewer themself, a chair (imported or entered), or someone else by name."""
    user = users.get(c.created_by)
    return user.full_name if user is not None else ("the chairs" if c.source == "imported" else "")


def own_conflicts(session: Session, venue: Venue, member: Member) -> list[dict]:
    """A member's own declarations: the emails they named (whatever those resolved to) and the conflicts
    declared for them, without group names or submission numbers (double-blind)."""
    named = [{"source": "declared", "email": d.get("email"), "reason": d.get("reason", ""),
              "created_at": d["created_at"]} for d in _email_declarations(session, venue, member)]
    by_email = {d["email"] for d in named}
    rows = [{"source": c.source, "reason": c.reason, "created_at": c.created_at}
            for c in session.exec(select(Conflict).where(Conflict.member_id == member.id).order_by(Conflict.id)).all()
            if not (c.source == "declared" and c.created_by == member.user_id and _named_email(session, c) in by_email)]
    return sorted(named + rows, key=lambda r: r["created_at"])


def _named_email(session: Session, conflict: Conflict) -> str | None:
    other = session.get(Member, conflict.other_member_id) if conflict.other_member_id else None
    user = session.get(User, other.user_id) if other else None
    return user.email.lower() if user else None
