"""The one path every assignment change goes through (HotCRP's AssignmentSet): auto-solve, manual add/remove,
lock/unlock and CSV import are each a list of `Change`s given to `apply_changes`, which checks them all
(conflicts, own group, unknown people, duplicates) before applying any, and records one audit event. A failed
check changes nothing."""

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlmodel import Session, select

from app.errors import BadInput
from app.models import Member, Role, User, Venue
from app.models.assignment import Assignment, Bid, BidValue, Origin
from app.services import audit, notifications
from app.services.assignments.calibration import calibration_item_ids, choose_calibration, without_items
from app.services.assignments.conflicts import conflict_pairs
from app.services.assignments.options import OPTIONS, get_options, options_view
from app.services.assignments.profiles import current, member_labels, reviewers, submissions
from app.services.assignments.scoring import VenueScores, for_ranking, readable, score_venue
from app.settings import Settings


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
    summary: dict = field(default_factory=dict)  # explain.quality_summary of the planned assignment
    values: list[float] = field(default_factory=list)  # affinity of each planned pair, for the histogram


# ---- the one path -------------------------------------------------------------------------------------


def check_changes(session: Session, venue: Venue, changes: list[Change]) -> list[Problem]:
    """Every reason these changes cannot be applied together (empty when they can)."""
    subs = {s.id: s for s in submissions(session, venue)}
    members = {m.id: m for m, _u in reviewers(session, venue, include_tas=True)}
    # Removing or unlocking a pair is always allowed, also for someone who no longer reviews (role changed).
    everyone = {m.id: m for m in session.exec(select(Member).where(Member.venue_id == venue.id)).all()}
    existing = {(a.submission_id, a.member_id): a for a in current(session, venue)}
    conflicts = conflict_pairs(session, venue)
    conflict_bids = {(b.submission_id, b.member_id) for b in session.exec(
        select(Bid).where(Bid.venue_id == venue.id, Bid.value == BidValue.conflict.value))}
    problems: list[Problem] = []
    seen: set[tuple[str, int, int]] = set()
    for ch in changes:
        key = (ch.op, ch.submission_id, ch.member_id)
        sub = subs.get(ch.submission_id)
        member = (members if ch.op == "add" else everyone).get(ch.member_id)
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
        names = member_labels(session, {p.change.member_id for p in problems if p.change})
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
    notifications.assignments_changed(session, venue, changes)
    return touched


# ---- auto-solve -------------------------------------------------------------------------------------------


def pairs_to_keep(session: Session, venue: Venue) -> set[tuple[int, int]]:
    """(submission_id, member_id) pairs every re-solve must keep: the locked ones and every pair whose review
    was started or submitted, so that a re-solve after a late submission or a dropped reviewer never takes
    away work already done."""
    from app.models import Review

    reviewed = set(session.exec(select(Review.submission_id, Review.member_id).where(Review.venue_id == venue.id)).all())
    return {(a.submission_id, a.member_id) for a in current(session, venue)
            if a.locked or (a.submission_id, a.member_id) in reviewed}


def plan_auto(session: Session, settings: Settings, venue: Venue, *, k: int, min_load: int, max_load: int,
              include_tas: bool = False, fair: bool = False, keep_existing: bool = True, progress=None,  # noqa: ANN001
              on_phase: Callable[[str, int, int], None] | None = None, cache=None) -> AssignmentPlan:  # noqa: ANN001
    """Solve for the whole venue; changes are the difference from the current state.

    Pairs from pairs_to_keep() always stay. keep_existing (the incremental mode): every current pair that is
    still valid stays too and only open slots are filled (after a late submission or a dropped reviewer); if
    that is infeasible (k or loads changed), it falls back to a full re-solve where kept pairs earn a
    stickiness bonus, so the assignment still changes little. stats["mode"] says which happened.
    """
    from app.assignment.explain import quality_summary
    from app.assignment.solver import Infeasible, every_reviewer_min_load, solve

    if k < 1:
        raise BadInput("k (reviewers per submission) must be at least 1.")
    if min_load < 0:
        raise BadInput(f"min load cannot be negative (got {min_load}).")
    if max_load < 1:
        raise BadInput("max load must be at least 1: with max load 0 no reviewer may take any submission.")
    if min_load > max_load:
        raise BadInput(f"min load {min_load} is above max load {max_load}.")
    n_pool = len(reviewers(session, venue, include_tas))
    if n_pool and k > n_pool:  # checked before embedding: no need to wait a minute for this answer
        raise BadInput(f"k={k} reviewers per submission, but the venue has only {n_pool} reviewer(s)"
                       f"{'' if include_tas else ' (TAs not included)'}: nothing was assigned.")
    started = time.perf_counter()
    scored = score_venue(session, settings, venue, include_tas=include_tas, progress=progress, on_phase=on_phase,
                         cache=cache)
    scored_at = time.perf_counter()
    # Calibration items are not the solver's: each student reviews one of them on top of their papers (below).
    item_ids = calibration_item_ids(session, venue)
    sc = without_items(scored, item_ids) if item_ids else scored
    subs, members, aff = sc.subs, sc.members, sc.matrix
    eligible = ~sc.conflicts
    sub_index = {s.id: i for i, s in enumerate(subs)}
    member_index = {m.id: j for j, m in enumerate(members)}
    everything = current(session, venue)
    now = [a for a in everything if a.submission_id not in item_ids]
    keep_all = pairs_to_keep(session, venue)
    keep = {p for p in keep_all if p[0] not in item_ids}
    outside = {(s, m) for s, m in keep if s not in sub_index or m not in member_index}
    locked_outside = sorted(outside & {(a.submission_id, a.member_id) for a in now if a.locked})
    if locked_outside:
        raise BadInput(f"{len(locked_outside)} locked pair(s) name a reviewer outside this reviewer pool "
                       f"({'' if include_tas else 'include TAs, or '}unlock them first): nothing was assigned.")
    # A review started by someone who has left the pool (role changed) cannot be kept as an assignment: its
    # slot is filled again. The review itself stays on record for the chair; nothing is deleted.
    departed = len(outside)
    keep -= outside
    locked = [(sub_index[s], member_index[m]) for s, m in sorted(keep)]
    previous = [(sub_index[a.submission_id], member_index[a.member_id]) for a in now
                if a.submission_id in sub_index and a.member_id in member_index]
    if on_phase:
        on_phase("solving", 0, 0)
    opts = options_view(get_options(session, venue))
    notices: list[str] = []
    asked_min_load = min_load
    if opts["every_student_reviews"]:
        least, notice = every_reviewer_min_load(len(subs), k, len(members), max_load)
        min_load = max(min_load, min(least, max_load))
        if notice:
            notices.append(notice)
    course = {"reviewer_groups": np.array([-1 if m.group_id is None else m.group_id for m in members]),
              "paper_groups": np.array([s.group_id for s in subs]),
              "one_per_group": opts["one_reviewer_per_group"], "no_reciprocal": opts["no_reciprocal_groups"]}

    def run(pairs: list[tuple[int, int]]):  # noqa: ANN202
        try:
            return solve(aff, k, min_load, max_load, sc.conflicts, pairs, fair=fair, previous=previous, **course)
        except Infeasible:
            if min_load == asked_min_load:
                raise
        # the min load of "every student reviews" may be what fails: say so when the asked one works
        try:
            solve(aff, k, asked_min_load, max_load, sc.conflicts, pairs, fair=fair, previous=previous, **course)
        except Infeasible as exc:
            raise exc from None
        raise Infeasible(f'"{OPTIONS["every_student_reviews"]}" makes this impossible: giving each of the '
                         f"{len(members)} reviewers at least one submission (min load {min_load}) cannot be met with "
                         "the conflicts, groups and max load (turn the option off, or change k or the loads)")

    mode = "full"
    solution = None
    if keep_existing and previous:
        valid = [p for p in previous if eligible[p] and p not in set(locked)]
        try:
            solution = run(locked + valid)
            mode = "incremental"
            if solution.reciprocal_locked > 0 and opts["no_reciprocal_groups"]:
                # kept pairs (made before the option) hold reciprocal groups: a full, sticky re-solve removes them
                solution, mode = None, "full (the current pairs hold reciprocal groups)"
        except Infeasible as exc:
            mode = f"full (keeping every current pair is impossible: {readable(exc.reason, sc)})"
    if solution is None:
        try:
            solution = run(locked)
        except Infeasible as exc:
            raise Infeasible(readable(exc.reason, sc)) from None
    solved_at = time.perf_counter()
    if solution.reciprocal_locked:
        notices.append(f"{solution.reciprocal_locked} pair(s) of groups still review each other through locked "
                       "pairs or reviews already started; unlock or remove one of each to rule them out.")
    chosen = {(subs[i].id, members[j].id) for i, j in solution.pairs}
    have = {(a.submission_id, a.member_id) for a in now}
    affinity = {(subs[i].id, members[j].id): float(aff[i, j]) for i, j in solution.pairs}
    changes = [Change("remove", s, m) for s, m in sorted(have - chosen)]
    changes += [Change("add", s, m, Origin.auto.value, affinity[(s, m)]) for s, m in sorted(chosen - have)]
    summary = quality_summary(for_ranking(sc), solution, len(members))
    cal_changes, cal_pairs, cal_stats = _plan_calibration(scored, item_ids, everything, keep_all)
    changes += cal_changes
    affinity.update(cal_pairs)
    cal_added = sum(1 for c in cal_changes if c.op == "add")
    cal_removed = len(cal_changes) - cal_added
    stats = {"submissions": len(subs), "reviewers": len(members), "k": k, "min_load": min_load,
             "max_load": max_load, "kept": len(have & chosen) + cal_stats.get("kept", 0),
             "added": len(chosen - have) + cal_added, "removed": len(have - chosen) + cal_removed,
             # the quality summary's numbers, rounded once there (one number per quantity on every page)
             "total_affinity": summary["total_affinity"], "mean_affinity": summary["mean_affinity"],
             "min_affinity": summary["min_affinity"],
             "mode": mode, "fair": fair, "include_tas": include_tas, "reviews_by_departed": departed,
             "calibration": cal_stats, "options": opts, "asked_min_load": asked_min_load, "notices": notices,
             "reciprocal_bans": solution.reciprocal_bans, "reciprocal_locked": solution.reciprocal_locked,
             "seconds": {"scoring": round(scored_at - started, 3), "solving": round(solved_at - scored_at, 3),
                         "flows": solution.reciprocal_rounds + 1}}
    return AssignmentPlan(changes=changes, pairs=sorted(chosen | set(cal_pairs)), affinity=affinity,
                          total=float(solution.total), stats=stats, summary=summary,
                          values=[float(aff[i, j]) for i, j in solution.pairs])


def _plan_calibration(sc: VenueScores, item_ids: set[int], now: list[Assignment], keep: set[tuple[int, int]]
                      ) -> tuple[list[Change], dict[tuple[int, int], float], dict]:
    """Each student reviewer's one calibration item (calibration.choose_calibration), as Changes from now, with
    every chosen pair's affinity.

    Only students are given one (TAs' reviews are the lecturers' own; external reviewers are not marked); a
    calibration pair of anyone else is left as it is. stats say how many items, given, kept, removed, skipped."""
    if not item_ids:
        return [], {}, {"items": 0}
    rows = {s.id: i for i, s in enumerate(sc.subs)}
    cols = {m.id: j for j, m in enumerate(sc.members)}
    students = [m.id for m in sc.members if m.role == Role.student.value]
    items = [s.id for s in sc.subs if s.id in item_ids]
    held: dict[int, list[int]] = {}
    for a in now:
        if a.submission_id in item_ids:
            held.setdefault(a.member_id, []).append(a.submission_id)
    choice = choose_calibration(
        students, items, lambda i, s: not sc.conflicts[rows[i], cols[s]], current=held, keep=keep,
        affinity=lambda i, s: float(sc.matrix[rows[i], cols[s]]))
    chosen = set(choice.pairs)
    have = {(i, s) for s in students for i in held.get(s, [])}
    changes = [Change("remove", i, s) for i, s in sorted(have - chosen)]
    changes += [Change("add", i, s, Origin.auto.value, float(sc.matrix[rows[i], cols[s]]))
                for i, s in sorted(chosen - have)]
    numbers = {s.id: s.number for s in sc.subs}
    per_item = {f"#{numbers[i]}": sum(1 for j, _s in chosen if j == i) for i in items}
    labels = dict(zip([m.id for m in sc.members], sc.labels, strict=True))
    stats = {"items": len(items), "students": len(students), "per_item": per_item, "added": len(chosen - have),
             "removed": len(have - chosen), "kept": len(have & chosen), "skipped": [labels[s] for s in choice.skipped]}
    return changes, {(i, s): float(sc.matrix[rows[i], cols[s]]) for i, s in chosen}, stats


def auto_assign(session: Session, settings: Settings, actor: User | None, venue: Venue, *, k: int, min_load: int,
                max_load: int, include_tas: bool = False, fair: bool = False, keep_existing: bool = True,
                dry_run: bool = False, progress=None, on_phase=None) -> AssignmentPlan:  # noqa: ANN001
    plan = plan_auto(session, settings, venue, k=k, min_load=min_load, max_load=max_load, include_tas=include_tas,
                     fair=fair, keep_existing=keep_existing, progress=progress, on_phase=on_phase)
    if not dry_run:
        apply_plan(session, actor, venue, plan.changes, plan.stats)
    return plan


def apply_plan(session: Session, actor: User | None, venue: Venue, changes: list[Change], stats: dict,
               note: str = "") -> None:
    """Apply an auto-solve's changes through the one path, with the solve's stats in the audit event."""
    st = stats
    cal = st.get("calibration") or {}
    given = (f"; calibration items: {cal.get('added', 0)} given, {cal.get('removed', 0)} taken back, "
             f"{cal.get('kept', 0)} kept" if cal.get("items") else "")
    apply_changes(session, actor, venue, changes, action="assignment.auto",
                  summary=f"auto-assigned{note}: {st['added']} added, {st['removed']} removed, {st['kept']} kept "
                          f"(k={st['k']}, load {st['min_load']}-{st['max_load']}, {st.get('mode', 'full')}){given}",
                  detail={"stats": st})


# ---- CSV import / export ----------------------------------------------------------------------------------


def export_csv(session: Session, venue: Venue) -> str:
    subs = {s.id: s for s in submissions(session, venue)}
    labels = member_labels(session, {a.member_id for a in current(session, venue)})
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["submission", "reviewer_email", "origin", "locked", "affinity"])
    for a in current(session, venue):
        w.writerow([subs[a.submission_id].number, labels.get(a.member_id, ""), a.origin, int(a.locked),
                    "" if a.affinity is None else f"{a.affinity:.4f}"])
    return out.getvalue()


def import_csv(session: Session, actor: User, venue: Venue, data: bytes) -> list[Change]:
    """Rows `submission,reviewer_email[,action]` (action add | remove | lock | unlock; default add).

    Strict: every bad line is listed (unknown submission or person, conflict, own group, duplicate…) and
    nothing changes unless every line is good.
    """
    from app.services.roster import decode_csv

    text = decode_csv(data)
    subs = {s.number: s for s in submissions(session, venue)}
    by_email = {u.email.lower(): m for m, u in reviewers(session, venue, include_tas=True)}
    changes: list[Change] = []
    line_of: dict[int, tuple[int, str]] = {}
    problems: list[tuple[int, str]] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or not any(c.strip() for c in row):
            continue
        if line_no == 1 and not row[0].strip().lstrip("#").isdigit():
            continue  # header
        number = row[0].strip().lstrip("#")
        email = row[1].strip().lower() if len(row) > 1 else ""
        op = row[2].strip().lower() if len(row) > 2 and row[2].strip() else "add"
        if not number.isdigit() or int(number) not in subs:
            problems.append((line_no, f"no submission #{number}"))
        elif email not in by_email:
            problems.append((line_no, f"{email or '(empty)'} is not a reviewer in this venue"))
        else:
            change = Change(op, subs[int(number)].id, by_email[email].id, Origin.imported.value)
            changes.append(change)
            line_of[id(change)] = (line_no, email)
    for p in check_changes(session, venue, changes):
        line_no, email = line_of[id(p.change)] if p.change else (0, "")
        problems.append((line_no, f"{email} {p.message}"))
    if problems:
        lines = [f"line {n}: {m}" for n, m in sorted(problems, key=lambda x: x[0])]
        raise BadInput(f"Nothing was changed: {len(lines)} bad line(s): " + "; ".join(lines[:20])
                       + (" …" if len(lines) > 20 else ""), details=[{"message": m} for m in lines])
    if not changes:
        raise BadInput("The file names no assignments.")
    apply_changes(session, actor, venue, changes, action="assignment.import",
                  summary=f"imported {len(changes)} assignment change(s) from CSV")
    return changes


