"""Reviewer assignment: texts, conflicts, bids, auto-solving, and the one path every change goes through.

Every change — auto-solve, manual add/remove, lock/unlock, CSV import — is a list of `Change`s given to
`apply_changes`, which checks them all (conflicts, own group, unknown people, duplicates) before
applying any, and records one audit event. A failed check changes nothing.
"""

import csv
import io
from dataclasses import dataclass, field

import numpy as np
from sqlmodel import Session, select

from app.errors import BadInput, Conflict as ConflictError, NotFound
from app.models import Group, Member, Revision, Role, Submission, User, Venue
from app.models.assignment import Assignment, Bid, BidValue, Conflict, Origin, ReviewerInterest
from app.services import audit
from app.settings import Settings

PDF_PAGES_FOR_TEXT = 2
REVIEWER_ROLES = (Role.student.value, Role.reviewer.value)


@dataclass(frozen=True)
class Change:
    op: str  # add | remove | lock | unlock
    submission_id: int
    member_id: int
    origin: str = Origin.manual.value
    affinity: float | None = None


@dataclass
class Problem:
    change: Change | None
    message: str


@dataclass
class AssignmentPlan:
    """What an auto-solve would do, and why (for --dry-run, the API and the audit event)."""

    changes: list[Change]
    pairs: list[tuple[int, int]]
    affinity: dict[tuple[int, int], float]
    total: float
    stats: dict = field(default_factory=dict)


# ---- who and what ------------------------------------------------------------------------------------


def reviewers(session: Session, venue: Venue, include_tas: bool = False) -> list[tuple[Member, User]]:
    roles = [*REVIEWER_ROLES, Role.ta.value] if include_tas else list(REVIEWER_ROLES)
    return list(session.exec(select(Member, User).join(User, User.id == Member.user_id)
                             .where(Member.venue_id == venue.id, Member.role.in_(roles))
                             .order_by(Member.id)).all())


def submissions(session: Session, venue: Venue) -> list[Submission]:
    return list(session.exec(select(Submission).where(Submission.venue_id == venue.id)
                             .order_by(Submission.number)).all())


def _pdf_text(settings: Settings, revision: Revision | None) -> str:
    """The first pages' text of the current PDF: more signal than the abstract alone, cheap to embed."""
    if revision is None:
        return ""
    from pypdf import PdfReader

    from app.services.submissions import store

    try:
        reader = PdfReader(str(store(settings).path(revision.blob_sha)))
        return "\n".join((p.extract_text() or "") for p in reader.pages[:PDF_PAGES_FOR_TEXT])[:6000]
    except Exception:  # noqa: BLE001  (an unreadable PDF just adds no text)
        return ""


def submission_text(session: Session, settings: Settings, sub: Submission) -> str:
    from app.services.submissions import current_revision

    parts = [sub.title, sub.abstract, ", ".join(sub.keywords), _pdf_text(settings, current_revision(session, sub))]
    return "\n".join(p for p in parts if p and p.strip())


def reviewer_profile(session: Session, settings: Settings, member: Member,
                     own: dict[int, Submission]) -> list[str]:
    """Profile items: the reviewer's own group's submission, plus interests they (or staff) typed."""
    items = []
    if member.group_id is not None and member.group_id in own:
        items.append(submission_text(session, settings, own[member.group_id]))
    items += [i.text for i in session.exec(select(ReviewerInterest).where(ReviewerInterest.member_id == member.id)
                                           .order_by(ReviewerInterest.id)).all()]
    return [i for i in items if i.strip()]


def conflict_matrix(session: Session, venue: Venue, subs: list[Submission], members: list[Member]) -> np.ndarray:
    """Hard conflicts: own group, declared/imported conflicts, and 'conflict' bids."""
    sub_index = {s.id: i for i, s in enumerate(subs)}
    group_index = {s.group_id: i for i, s in enumerate(subs)}
    member_index = {m.id: j for j, m in enumerate(members)}
    mask = np.zeros((len(subs), len(members)), dtype=bool)
    for j, m in enumerate(members):
        if m.group_id in group_index:
            mask[group_index[m.group_id], j] = True
    for c in session.exec(select(Conflict).where(Conflict.venue_id == venue.id)).all():
        if c.group_id in group_index and c.member_id in member_index:
            mask[group_index[c.group_id], member_index[c.member_id]] = True
    for b in session.exec(select(Bid).where(Bid.venue_id == venue.id, Bid.value == BidValue.conflict.value)).all():
        if b.submission_id in sub_index and b.member_id in member_index:
            mask[sub_index[b.submission_id], member_index[b.member_id]] = True
    return mask


def bid_matrix(session: Session, venue: Venue, subs: list[Submission], members: list[Member]) -> list[list[str | None]]:
    sub_index = {s.id: i for i, s in enumerate(subs)}
    member_index = {m.id: j for j, m in enumerate(members)}
    bids: list[list[str | None]] = [[None] * len(members) for _ in subs]
    for b in session.exec(select(Bid).where(Bid.venue_id == venue.id)).all():
        if b.submission_id in sub_index and b.member_id in member_index:
            bids[sub_index[b.submission_id]][member_index[b.member_id]] = b.value
    return bids


def current(session: Session, venue: Venue) -> list[Assignment]:
    return list(session.exec(select(Assignment).where(Assignment.venue_id == venue.id)
                             .order_by(Assignment.submission_id, Assignment.member_id)).all())


# ---- the one path -------------------------------------------------------------------------------------


def check_changes(session: Session, venue: Venue, changes: list[Change]) -> list[Problem]:
    """Every reason these changes cannot be applied together (empty when they can)."""
    subs = {s.id: s for s in submissions(session, venue)}
    members = {m.id: m for m, _u in reviewers(session, venue, include_tas=True)}
    existing = {(a.submission_id, a.member_id): a for a in current(session, venue)}
    conflicts = {(c.group_id, c.member_id) for c in session.exec(select(Conflict).where(Conflict.venue_id == venue.id))}
    conflict_bids = {(b.submission_id, b.member_id) for b in session.exec(
        select(Bid).where(Bid.venue_id == venue.id, Bid.value == BidValue.conflict.value))}
    problems: list[Problem] = []
    seen: set[tuple[str, int, int]] = set()
    for ch in changes:
        key = (ch.op, ch.submission_id, ch.member_id)
        sub, member = subs.get(ch.submission_id), members.get(ch.member_id)
        if ch.op not in {"add", "remove", "lock", "unlock"}:
            problems.append(Problem(ch, f"unknown operation '{ch.op}'"))
        elif sub is None:
            problems.append(Problem(ch, f"there is no submission with id {ch.submission_id} in this venue"))
        elif member is None:
            problems.append(Problem(ch, f"member {ch.member_id} is not a reviewer in this venue"))
        elif key in seen:
            problems.append(Problem(ch, f"the same change to #{sub.number} is given twice"))
        elif ch.op == "add":
            if (ch.submission_id, ch.member_id) in existing:
                problems.append(Problem(ch, f"is already assigned to #{sub.number}"))
            elif member.group_id == sub.group_id:
                problems.append(Problem(ch, f"is an author of #{sub.number}"))
            elif (sub.group_id, member.id) in conflicts or (sub.id, member.id) in conflict_bids:
                problems.append(Problem(ch, f"has a conflict with #{sub.number}"))
        elif (ch.submission_id, ch.member_id) not in existing:
            problems.append(Problem(ch, f"is not assigned to #{sub.number}"))
        elif ch.op == "remove" and existing[(ch.submission_id, ch.member_id)].locked:
            problems.append(Problem(ch, f"is locked to #{sub.number}: unlock first"))
        seen.add(key)
    return problems


def apply_changes(session: Session, actor: User, venue: Venue, changes: list[Change], *, action: str,
                  summary: str | None = None, detail: dict | None = None) -> list[Assignment]:
    """Check all changes, then apply them and record one audit event; raises BadInput naming each problem."""
    problems = check_changes(session, venue, changes)
    if problems:
        names = _member_labels(session, {p.change.member_id for p in problems if p.change})
        lines = [f"{names.get(p.change.member_id, p.change.member_id)} {p.message}" if p.change else p.message
                 for p in problems[:20]]
        raise BadInput(f"Nothing was changed: {len(problems)} problem(s): " + "; ".join(lines),
                       details=[{"message": m} for m in lines])
    existing = {(a.submission_id, a.member_id): a for a in current(session, venue)}
    touched = []
    for ch in changes:
        key = (ch.submission_id, ch.member_id)
        if ch.op == "add":
            a = Assignment(venue_id=venue.id, submission_id=ch.submission_id, member_id=ch.member_id,
                           origin=ch.origin, affinity=ch.affinity, created_by=actor.id if actor else None)
            session.add(a)
            existing[key] = a
        elif ch.op == "remove":
            session.delete(existing.pop(key))
            continue
        else:
            a = existing[key]
            a.locked = ch.op == "lock"
            session.add(a)
        touched.append(existing[key])
    session.flush()
    counts = {op: sum(1 for c in changes if c.op == op) for op in ("add", "remove", "lock", "unlock")}
    audit.record(session, venue_id=venue.id, actor=actor, action=action,
                 summary=summary or ", ".join(f"{n} {op}" for op, n in counts.items() if n) or "no change",
                 counts=counts, **(detail or {}))
    return touched


def _member_labels(session: Session, member_ids: set[int]) -> dict[int, str]:
    rows = session.exec(select(Member, User).join(User, User.id == Member.user_id)
                        .where(Member.id.in_(member_ids))).all() if member_ids else []
    return {m.id: u.email for m, u in rows}


# ---- auto-solve -----------------------------------------------------------------------------------------


def plan_auto(session: Session, settings: Settings, venue: Venue, *, k: int, min_load: int, max_load: int,
              include_tas: bool = False, fair: bool = False, progress=None) -> AssignmentPlan:  # noqa: ANN001
    """Solve for the whole venue keeping locked pairs; changes are the difference from the current state."""
    from app.assignment.affinity import affinity_matrix, apply_bids
    from app.assignment.embeddings import FileEmbeddingCache
    from app.assignment.solver import solve

    subs = submissions(session, venue)
    if not subs:
        raise BadInput("There are no submissions to assign.")
    pool = reviewers(session, venue, include_tas)
    if not pool:
        raise BadInput("There are no reviewers in this venue.")
    members = [m for m, _u in pool]
    texts = [submission_text(session, settings, s) for s in subs]
    empty = [s.number for s, t in zip(subs, texts, strict=True) if not t.strip()]
    if empty:
        raise BadInput(f"Submission(s) {', '.join(f'#{n}' for n in empty)} have no text to match reviewers on.")
    own = {s.group_id: s for s in subs}
    profiles = [reviewer_profile(session, settings, m, own) or [""] for m in members]
    cache = FileEmbeddingCache(settings.data_dir / "embeddings")
    aff = affinity_matrix(texts, profiles, cache=cache, progress=progress)
    aff = apply_bids(aff, bid_matrix(session, venue, subs, members))
    conflicts = conflict_matrix(session, venue, subs, members)
    sub_index = {s.id: i for i, s in enumerate(subs)}
    member_index = {m.id: j for j, m in enumerate(members)}
    now = current(session, venue)
    locked = [(sub_index[a.submission_id], member_index[a.member_id]) for a in now
              if a.locked and a.submission_id in sub_index and a.member_id in member_index]
    previous = [(sub_index[a.submission_id], member_index[a.member_id]) for a in now
                if a.submission_id in sub_index and a.member_id in member_index]
    solution = solve(aff, k, min_load, max_load, conflicts, locked, fair=fair, previous=previous)
    chosen = {(subs[i].id, members[j].id) for i, j in solution.pairs}
    have = {(a.submission_id, a.member_id) for a in now}
    affinity = {(subs[i].id, members[j].id): float(aff[i, j]) for i, j in solution.pairs}
    changes = [Change("remove", s, m) for s, m in sorted(have - chosen)]
    changes += [Change("add", s, m, Origin.auto.value, affinity[(s, m)]) for s, m in sorted(chosen - have)]
    stats = {"submissions": len(subs), "reviewers": len(members), "k": k, "min_load": min_load,
             "max_load": max_load, "kept": len(have & chosen), "added": len(chosen - have),
             "removed": len(have - chosen), "total_affinity": round(float(solution.total), 4),
             "mean_affinity": round(float(np.mean([affinity[p] for p in chosen])), 4) if chosen else 0.0,
             "min_affinity": round(float(min(affinity.values())), 4) if affinity else 0.0}
    return AssignmentPlan(changes=changes, pairs=sorted(chosen), affinity=affinity, total=float(solution.total),
                          stats=stats)


def auto_assign(session: Session, settings: Settings, actor: User | None, venue: Venue, *, k: int, min_load: int,
                max_load: int, include_tas: bool = False, fair: bool = False, dry_run: bool = False,
                progress=None) -> AssignmentPlan:  # noqa: ANN001
    plan = plan_auto(session, settings, venue, k=k, min_load=min_load, max_load=max_load, include_tas=include_tas,
                     fair=fair, progress=progress)
    if not dry_run:
        apply_changes(session, actor, venue, plan.changes, action="assignment.auto",
                      summary=f"auto-assigned: {plan.stats['added']} added, {plan.stats['removed']} removed, "
                              f"{plan.stats['kept']} kept (k={k}, load {min_load}-{max_load})",
                      detail={"stats": plan.stats})
    return plan


# ---- CSV import / export, conflicts, bids ------------------------------------------------------------


def export_csv(session: Session, venue: Venue) -> str:
    subs = {s.id: s for s in submissions(session, venue)}
    labels = _member_labels(session, {a.member_id for a in current(session, venue)})
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["submission", "reviewer_email", "origin", "locked", "affinity"])
    for a in current(session, venue):
        w.writerow([subs[a.submission_id].number, labels.get(a.member_id, ""), a.origin, int(a.locked),
                    "" if a.affinity is None else f"{a.affinity:.4f}"])
    return out.getvalue()


def import_csv(session: Session, actor: User, venue: Venue, data: bytes) -> list[Change]:
    """Rows `submission,reviewer_email[,action]` (action add | remove | lock | unlock; default add)."""
    from app.services.roster import decode_csv

    text = decode_csv(data)
    subs = {s.number: s for s in submissions(session, venue)}
    by_email = {u.email: m for m, u in reviewers(session, venue, include_tas=True)}
    changes, problems = [], []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not any(c.strip() for c in row):
            continue
        if line_no == 1 and not row[0].strip().lstrip("#").isdigit():
            continue  # header
        number = row[0].strip().lstrip("#")
        email = row[1].strip().lower() if len(row) > 1 else ""
        op = row[2].strip().lower() if len(row) > 2 and row[2].strip() else "add"
        if not number.isdigit() or int(number) not in subs:
            problems.append(f"line {line_no}: no submission #{number}")
        elif email not in by_email:
            problems.append(f"line {line_no}: {email or '(empty)'} is not a reviewer in this venue")
        else:
            changes.append(Change(op, subs[int(number)].id, by_email[email].id, Origin.imported.value))
    if problems:
        raise BadInput("Nothing was changed: " + "; ".join(problems[:20]), details=[{"message": p} for p in problems])
    if not changes:
        raise BadInput("The file names no assignments.")
    apply_changes(session, actor, venue, changes, action="assignment.import",
                  summary=f"imported {len(changes)} assignment change(s) from CSV")
    return changes


def declare_conflict(session: Session, actor: User, venue: Venue, member: Member, group: Group, reason: str,
                     source: str = "declared") -> Conflict:
    existing = session.exec(select(Conflict).where(Conflict.member_id == member.id,
                                                   Conflict.group_id == group.id)).first()
    if existing:
        raise ConflictError("This conflict is declared already.")
    assigned = session.exec(select(Assignment).join(Submission, Submission.id == Assignment.submission_id)
                            .where(Assignment.member_id == member.id, Submission.group_id == group.id)).first()
    conflict = Conflict(venue_id=venue.id, member_id=member.id, group_id=group.id, source=source,
                        reason=reason.strip()[:500], created_by=actor.id)
    session.add(conflict)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="conflict.declare",
                 summary="declared a conflict" + (" (the reviewer is assigned to it: re-solve)" if assigned else ""),
                 member_id=member.id, group_id=group.id)
    return conflict


def set_bid(session: Session, venue: Venue, member: Member, submission: Submission, value: str) -> Bid:
    if value not in {b.value for b in BidValue}:
        raise BadInput(f"'{value[:20]}' is not a bid; bids are eager, willing, not_willing, conflict.")
    if member.group_id == submission.group_id:
        raise BadInput("You cannot bid on your own group's submission.")
    bid = session.exec(select(Bid).where(Bid.member_id == member.id, Bid.submission_id == submission.id)).first()
    if bid is None:
        bid = Bid(venue_id=venue.id, member_id=member.id, submission_id=submission.id, value=value)
    bid.value = value
    session.add(bid)
    session.flush()
    return bid


def get_assignment_sub(session: Session, venue: Venue, number: int) -> Submission:
    sub = session.exec(select(Submission).where(Submission.venue_id == venue.id, Submission.number == number)).first()
    if sub is None:
        raise NotFound(f"There is no submission #{number}.")
    return sub
