"""Reviewer assignment: texts, conflicts, bids, auto-solving, and the one path every change goes through.

Every change — auto-solve, manual add/remove, lock/unlock, CSV import — is a list of `Change`s given to
`apply_changes`, which checks them all (conflicts, own group, unknown people, duplicates) before
applying any, and records one audit event. A failed check changes nothing.

A solve can take a minute on a CPU (embedding a venue's texts), so pages and scripts run it as an
`AssignmentJob`: a row whose phase and progress (texts embedded / total) the job writes as it goes, so any
API process can report it. Without Redis the job runs in a daemon thread of the API process that started it
(like the embedded rig in app.artifacts.queue); with Redis it does too: the arq workers are rigs for
artifacts, and an assignment solve needs the database, which rigs never touch.
"""

import csv
import io
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.errors import BadInput, Conflict as ConflictError, DeadlinePassed, DomainError, NotFound
from app.models import Group, Member, Revision, Role, Submission, User, Venue
from app.models.assignment import (
    Assignment,
    AssignmentJob,
    Bid,
    BidValue,
    Conflict,
    JobStatus,
    Origin,
    ReviewerInterest,
)
from app.services import audit, notifications
from app.settings import Settings

log = logging.getLogger(__name__)

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
    summary: dict = field(default_factory=dict)  # explain.quality_summary of the planned assignment
    values: list[float] = field(default_factory=list)  # affinity of each planned pair, for the histogram


@dataclass
class ProfileItem:
    """One thing a reviewer knows: a label for the chair ("own submission #3", "interest 2") and its text."""

    label: str
    text: str


@dataclass
class VenueScores:
    """Everything an assignment is scored on: who, what, the bid-adjusted affinity and the per-item scores."""

    subs: list[Submission]
    members: list[Member]
    labels: list[str]  # reviewer emails (chairs see them)
    items: list[list[ProfileItem]]
    matrix: np.ndarray  # submissions x reviewers, bids applied
    item_scores: list[np.ndarray]  # per reviewer: submissions x profile items
    conflicts: np.ndarray


class NotEmbedded(DomainError):
    """Some texts have no cached embedding yet (explanations read the cache only, they never embed)."""

    status_code = 409
    code = "not-embedded"

    def __init__(self, missing: int, total: int) -> None:
        super().__init__(f"{missing} of {total} texts are not embedded yet: run a Preview to embed them "
                         "(about a minute on a CPU for a whole venue); explanations then appear here.")
        self.missing, self.total = missing, total


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
    """The first pages' text of the current PDF: more signal than the abstract alone, cheap to embed.

    Extracted once per stored PDF and kept beside the blobs (a blob never changes, so neither does its text):
    the chair's page and every re-solve read it back instead of parsing the PDF again.
    """
    if revision is None:
        return ""
    cache = Path(settings.data_dir) / "texts" / f"{revision.blob_sha}-p{PDF_PAGES_FOR_TEXT}.txt"
    try:
        return cache.read_text(encoding="utf-8")
    except OSError:
        pass
    from pypdf import PdfReader

    from app.services.submissions import store

    try:
        reader = PdfReader(str(store(settings).path(revision.blob_sha)))
        text = "\n".join((p.extract_text() or "") for p in reader.pages[:PDF_PAGES_FOR_TEXT])[:6000]
    except Exception:  # noqa: BLE001  (an unreadable PDF just adds no text)
        return ""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, cache)
    except OSError:
        pass
    return text


def submission_text(session: Session, settings: Settings, sub: Submission) -> str:
    from app.services.submissions import current_revision

    parts = [sub.title, sub.abstract, ", ".join(sub.keywords), _pdf_text(settings, current_revision(session, sub))]
    return "\n".join(p for p in parts if p and p.strip())


def profile_items(session: Session, settings: Settings, member: Member, own: dict[int, Submission],
                  texts: dict[int, str] | None = None) -> list[ProfileItem]:
    """The reviewer's profile, in a stable order (own group's submission, then interests by id), blanks left out.

    The order is what makes "closest item" stable: explanations recompute the item scores from cached
    embeddings and index into this same list.
    """
    items = []
    if member.group_id is not None and member.group_id in own:
        sub = own[member.group_id]
        text = texts[sub.id] if texts and sub.id in texts else submission_text(session, settings, sub)
        items.append(ProfileItem(f"own submission #{sub.number}", text))
    items += [ProfileItem(f"interest {n}", i.text) for n, i in enumerate(interests(session, member), start=1)]
    return [i for i in items if i.text.strip()]


def reviewer_profile(session: Session, settings: Settings, member: Member,
                     own: dict[int, Submission]) -> list[str]:
    """Profile items: the reviewer's own group's submission, plus interests they (or staff) typed."""
    return [i.text for i in profile_items(session, settings, member, own)]


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
    notifications.assignments_changed(session, venue, changes)
    return touched


def _member_labels(session: Session, member_ids: set[int]) -> dict[int, str]:
    rows = session.exec(select(Member, User).join(User, User.id == Member.user_id)
                        .where(Member.id.in_(member_ids))).all() if member_ids else []
    return {m.id: u.email for m, u in rows}


# ---- scoring ---------------------------------------------------------------------------------------------


def interests(session: Session, member: Member) -> list[ReviewerInterest]:
    return list(session.exec(select(ReviewerInterest).where(ReviewerInterest.member_id == member.id)
                             .order_by(ReviewerInterest.id)).all())


def score_venue(session: Session, settings: Settings, venue: Venue, *, include_tas: bool = False,
                progress: Callable[[int, int], None] | None = None, cache_only: bool = False,
                on_phase: Callable[[str, int, int], None] | None = None) -> VenueScores:
    """Texts, profiles, the bid-adjusted affinity matrix and per-item scores; embeds only uncached texts.

    cache_only: raise NotEmbedded instead of running the model (for explanations on the request path).
    """
    from app.assignment.affinity import apply_bids, score
    from app.assignment.embeddings import FileEmbeddingCache

    subs = submissions(session, venue)
    if not subs:
        raise BadInput("There are no submissions to assign.")
    pool = reviewers(session, venue, include_tas)
    if not pool:
        raise BadInput("There are no reviewers in this venue.")
    members = [m for m, _u in pool]
    texts = []
    for n, s in enumerate(subs):
        if on_phase:
            on_phase("reading texts", n, len(subs))
        texts.append(submission_text(session, settings, s))
    empty = [s.number for s, t in zip(subs, texts, strict=True) if not t.strip()]
    if empty:
        raise BadInput(f"Submission(s) {', '.join(f'#{n}' for n in empty)} have no text to match reviewers on "
                       "(no title, abstract or readable PDF): nothing was assigned.")
    own = {s.group_id: s for s in subs}
    by_id = {s.id: t for s, t in zip(subs, texts, strict=True)}
    items = [profile_items(session, settings, m, own, by_id) for m in members]
    if on_phase:
        on_phase("embedding", 0, 0)
    report = progress
    if cache_only:
        def report(done: int, total: int) -> None:  # the first call comes before any text is encoded
            if done < total:
                raise NotEmbedded(total - done, total)
            if progress:
                progress(done, total)
    cache = FileEmbeddingCache(settings.data_dir / "embeddings")
    result = score(texts, [[i.text for i in its] or [""] for its in items], cache=cache,
                   model_name=settings.embedding_model, progress=report)
    matrix = apply_bids(result.matrix, bid_matrix(session, venue, subs, members))
    return VenueScores(subs=subs, members=members, labels=[u.email for _m, u in pool], items=items, matrix=matrix,
                       item_scores=result.item_scores, conflicts=conflict_matrix(session, venue, subs, members))


def _readable(reason: str, sc: VenueScores) -> str:
    """The solver names submissions and reviewers by index; the chair needs numbers and emails."""
    def sub(i: str) -> str:
        return f"#{sc.subs[int(i)].number}" if int(i) < len(sc.subs) else i

    def rev(j: str) -> str:
        return sc.labels[int(j)] if int(j) < len(sc.labels) else j

    def repl(m: re.Match) -> str:
        name = sub if m.group(1).startswith("submission") else rev
        return f"{m.group(1)} " + ", ".join(name(x) for x in m.group(2).split(", "))

    return re.sub(r"\b(submissions?|reviewers?) (\d+(?:, \d+)*)", repl, reason)


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
              on_phase: Callable[[str, int, int], None] | None = None) -> AssignmentPlan:
    """Solve for the whole venue; changes are the difference from the current state.

    Pairs from pairs_to_keep() always stay. keep_existing (the incremental mode): every current pair that is
    still valid stays too and only open slots are filled (after a late submission or a dropped reviewer); if
    that is infeasible (k or loads changed), it falls back to a full re-solve where kept pairs earn a
    stickiness bonus, so the assignment still changes little. stats["mode"] says which happened.
    """
    from app.assignment.explain import quality_summary
    from app.assignment.solver import Infeasible, solve

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
    sc = score_venue(session, settings, venue, include_tas=include_tas, progress=progress, on_phase=on_phase)
    subs, members, aff = sc.subs, sc.members, sc.matrix
    eligible = ~sc.conflicts
    sub_index = {s.id: i for i, s in enumerate(subs)}
    member_index = {m.id: j for j, m in enumerate(members)}
    now = current(session, venue)
    keep = pairs_to_keep(session, venue)
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
    mode = "full"
    solution = None
    if keep_existing and previous:
        valid = [p for p in previous if eligible[p] and p not in set(locked)]
        try:
            solution = solve(aff, k, min_load, max_load, sc.conflicts, locked + valid, fair=fair, previous=previous)
            mode = "incremental"
        except Infeasible as exc:
            mode = f"full (keeping every current pair is impossible: {_readable(exc.reason, sc)})"
    if solution is None:
        try:
            solution = solve(aff, k, min_load, max_load, sc.conflicts, locked, fair=fair, previous=previous)
        except Infeasible as exc:
            raise Infeasible(_readable(exc.reason, sc)) from None
    chosen = {(subs[i].id, members[j].id) for i, j in solution.pairs}
    have = {(a.submission_id, a.member_id) for a in now}
    affinity = {(subs[i].id, members[j].id): float(aff[i, j]) for i, j in solution.pairs}
    changes = [Change("remove", s, m) for s, m in sorted(have - chosen)]
    changes += [Change("add", s, m, Origin.auto.value, affinity[(s, m)]) for s, m in sorted(chosen - have)]
    stats = {"submissions": len(subs), "reviewers": len(members), "k": k, "min_load": min_load,
             "max_load": max_load, "kept": len(have & chosen), "added": len(chosen - have),
             "removed": len(have - chosen), "total_affinity": round(float(solution.total), 4),
             "mean_affinity": round(float(np.mean([affinity[p] for p in chosen])), 4) if chosen else 0.0,
             "min_affinity": round(float(min(affinity.values())), 4) if affinity else 0.0,
             "mode": mode, "fair": fair, "include_tas": include_tas, "reviews_by_departed": departed}
    summary = quality_summary(_for_ranking(sc), solution, len(members))
    return AssignmentPlan(changes=changes, pairs=sorted(chosen), affinity=affinity, total=float(solution.total),
                          stats=stats, summary=summary, values=[float(aff[i, j]) for i, j in solution.pairs])


def auto_assign(session: Session, settings: Settings, actor: User | None, venue: Venue, *, k: int, min_load: int,
                max_load: int, include_tas: bool = False, fair: bool = False, keep_existing: bool = True,
                dry_run: bool = False, progress=None, on_phase=None) -> AssignmentPlan:  # noqa: ANN001
    plan = plan_auto(session, settings, venue, k=k, min_load=min_load, max_load=max_load, include_tas=include_tas,
                     fair=fair, keep_existing=keep_existing, progress=progress, on_phase=on_phase)
    if not dry_run:
        _apply_plan(session, actor, venue, plan.changes, plan.stats)
    return plan


def _apply_plan(session: Session, actor: User | None, venue: Venue, changes: list[Change], stats: dict,
                note: str = "") -> None:
    st = stats
    apply_changes(session, actor, venue, changes, action="assignment.auto",
                  summary=f"auto-assigned{note}: {st['added']} added, {st['removed']} removed, {st['kept']} kept "
                          f"(k={st['k']}, load {st['min_load']}-{st['max_load']}, {st.get('mode', 'full')})",
                  detail={"stats": st})


# ---- explanations -----------------------------------------------------------------------------------------


def explain_current(session: Session, settings: Settings, venue: Venue) -> dict:
    """Why each current pair is there (affinity, ranks, closest profile item) and the whole assignment's quality.

    Computed on demand from the cached embeddings (never running the model on the request path): when a
    text is not embedded yet, "available" is false with the reason. For chairs and TAs only: the closest item
    may be the reviewer's own submission.
    """
    from app.assignment.explain import explain_pairs, quality_summary
    from app.assignment.solver import Solution

    rows = current(session, venue)
    tas = {m.id for m in session.exec(select(Member).where(Member.venue_id == venue.id,
                                                           Member.role == Role.ta.value)).all()}
    include_tas = any(a.member_id in tas for a in rows)
    try:
        sc = score_venue(session, settings, venue, include_tas=include_tas, cache_only=True)
    except (NotEmbedded, BadInput) as exc:
        return {"available": False, "reason": exc.message, "pairs": [], "summary": {}, "values": []}
    sub_index = {s.id: i for i, s in enumerate(sc.subs)}
    member_index = {m.id: j for j, m in enumerate(sc.members)}
    pairs = sorted((sub_index[a.submission_id], member_index[a.member_id]) for a in rows
                   if a.submission_id in sub_index and a.member_id in member_index)
    solution = Solution(pairs=pairs, total=float(sum(sc.matrix[i, j] for i, j in pairs)))
    ranked = _for_ranking(sc)
    out = []
    for e in explain_pairs(ranked, solution, sc.item_scores):
        item = sc.items[e.reviewer][e.closest_item] if e.closest_item is not None else None
        out.append({"submission": sc.subs[e.paper].number, "submission_id": sc.subs[e.paper].id,
                    "member_id": sc.members[e.reviewer].id, "reviewer": sc.labels[e.reviewer],
                    "affinity": round(e.affinity, 4), "rank_for_reviewer": e.rank_for_reviewer,
                    "rank_for_paper": e.rank_for_paper,
                    "closest_item": None if item is None else {
                        "label": item.label, "excerpt": " ".join(item.text.split())[:160],
                        "score": round(float(e.closest_item_score), 4)}})
    summary = quality_summary(ranked, solution, len(sc.members))
    return {"available": True, "reason": None, "pairs": out, "summary": summary,
            "values": [float(sc.matrix[i, j]) for i, j in pairs]}


def _for_ranking(sc: VenueScores) -> np.ndarray:
    """The matrix with conflicted pairs pushed below every real score: ranks count only eligible alternatives
    (an author's own paper would otherwise be every author's best "match")."""
    return np.where(sc.conflicts, -1.0, sc.matrix)


def histogram_svg(values: list[float]) -> str:
    from app.assignment.explain import svg_histogram

    return svg_histogram(values)


# ---- jobs -------------------------------------------------------------------------------------------------

JOB_STALE_AFTER = timedelta(minutes=15)  # no progress for this long: the process running the job is gone
PROGRESS_EVERY_S = 0.5
_job_lock = threading.Lock()  # one solve at a time per process: embedding uses every core already
OpenSession = Callable[[], AbstractContextManager[Session]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def is_stale(job: AssignmentJob, now: datetime | None = None) -> bool:
    last = job.heartbeat_at or job.created_at
    return job.status in (JobStatus.queued.value, JobStatus.running.value) and \
        (now or _utcnow()) - last > JOB_STALE_AFTER


def job_view(job: AssignmentJob) -> dict:
    """The job as the API and the page show it (a stale job reads as failed)."""
    stale = is_stale(job)
    status = JobStatus.failed.value if stale else job.status
    return {"id": job.id, "dry_run": job.dry_run, "params": job.params, "status": status,
            "finished": status in (JobStatus.done.value, JobStatus.failed.value),
            "phase": "failed" if stale else job.phase, "done": job.done, "total": job.total,
            "error": "The process running this job stopped; start it again." if stale else job.error,
            "result": job.result, "created_at": job.created_at, "finished_at": job.finished_at,
            "applied_at": job.applied_at}


def start_job(session: Session, actor: User, venue: Venue, *, k: int, min_load: int, max_load: int,
              include_tas: bool = False, fair: bool = False, keep_existing: bool = True,
              dry_run: bool = True) -> AssignmentJob:
    """Record a solve job (queued); the caller commits, then hands it to launch_job."""
    if not 1 <= k <= 20:
        raise BadInput(f"k (reviewers per submission) must be between 1 and 20, not {k}.")
    if min_load < 0:
        raise BadInput("min load cannot be negative.")
    if max_load < 1:
        raise BadInput("max load must be at least 1: with max load 0 no reviewer may take any submission.")
    if min_load > max_load:
        raise BadInput(f"min load {min_load} is above max load {max_load}.")
    for job in session.exec(select(AssignmentJob).where(
            AssignmentJob.venue_id == venue.id,
            AssignmentJob.status.in_([JobStatus.queued.value, JobStatus.running.value]))).all():
        if not is_stale(job):
            raise ConflictError(f"An assignment job is already {job.status} (job {job.id}): wait for it to finish.")
        job.status, job.phase, job.error = JobStatus.failed.value, "failed", "The process running it stopped."
        session.add(job)
    job = AssignmentJob(venue_id=venue.id, requested_by=actor.id, dry_run=dry_run,
                        params={"k": k, "min_load": min_load, "max_load": max_load, "include_tas": include_tas,
                                "fair": fair, "keep_existing": keep_existing})
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # another process started one between our check and our insert
        raise ConflictError("An assignment job was just started by someone else: wait for it to finish.") from None
    return job


def get_job(session: Session, venue: Venue, job_id: int) -> AssignmentJob:
    job = session.get(AssignmentJob, job_id)
    if job is None or job.venue_id != venue.id:
        raise NotFound(f"There is no assignment job {job_id} in this venue.")
    return job


def latest_job(session: Session, venue: Venue) -> AssignmentJob | None:
    return session.exec(select(AssignmentJob).where(AssignmentJob.venue_id == venue.id)
                        .order_by(AssignmentJob.id.desc())).first()


def _plan_result(session: Session, plan: AssignmentPlan) -> dict:
    """What a finished job keeps: the stats, the quality summary and the changes with numbers and emails."""
    subs = {s.id: s for s in session.exec(select(Submission).where(
        Submission.id.in_({c.submission_id for c in plan.changes} or {0}))).all()}
    numbers = {i: s.number for i, s in subs.items()}
    labels = _member_labels(session, {c.member_id for c in plan.changes})
    return {"stats": plan.stats, "summary": plan.summary, "values": [round(v, 4) for v in plan.values],
            "changes": [{"op": c.op, "submission_id": c.submission_id, "submission": numbers.get(c.submission_id),
                         "member_id": c.member_id, "reviewer": labels.get(c.member_id, str(c.member_id)),
                         "affinity": None if c.affinity is None else round(c.affinity, 4)} for c in plan.changes]}


def run_job(open_session: OpenSession, settings: Settings, job_id: int) -> None:
    """Run one solve job: progress goes to the job row in short transactions of their own, so other
    processes see it while the solve's own (read-only) transaction is still open."""
    from app.db import begin_write

    last = [0.0]

    def report(force: bool = True, **fields) -> None:  # noqa: ANN003
        if not force and time.monotonic() - last[0] < PROGRESS_EVERY_S:
            return
        last[0] = time.monotonic()
        with open_session() as ps:
            begin_write(ps)
            job = ps.get(AssignmentJob, job_id)
            for key, value in fields.items():
                setattr(job, key, value)
            job.heartbeat_at = _utcnow()
            ps.add(job)
            ps.commit()

    def on_phase(phase: str, done: int, total: int) -> None:
        counts = {"done": done, "total": total} if total else {}  # solving keeps the embedding's counts on show
        report(force=phase != "reading texts" or done == 0, phase=phase, **counts)

    def on_embedding(done: int, total: int) -> None:
        report(force=done == total, phase="embedding", done=done, total=total)

    report(status=JobStatus.running.value, phase="starting", started_at=_utcnow())
    with open_session() as s:
        try:
            job = s.get(AssignmentJob, job_id)
            venue, actor = s.get(Venue, job.venue_id), s.get(User, job.requested_by) if job.requested_by else None
            dry_run, p = job.dry_run, dict(job.params)
            plan = plan_auto(s, settings, venue, progress=on_embedding, on_phase=on_phase, **p)
            result = _plan_result(s, plan)
            s.commit()  # end the long read before writing
            report(phase="saving")
            begin_write(s)
            if not dry_run:
                _apply_plan(s, actor, venue, plan.changes, plan.stats, note=f" (job {job_id})")
            job = s.get(AssignmentJob, job_id)
            s.refresh(job)
            job.status, job.phase, job.result, job.error = JobStatus.done.value, "done", result, None
            job.finished_at = job.heartbeat_at = _utcnow()
            if not dry_run:
                job.applied_at = job.finished_at
            s.add(job)
            s.commit()
        except DomainError as exc:
            s.rollback()
            message = f"No assignment is possible: {exc.message}" if exc.code == "infeasible" else exc.message
        except Exception as exc:  # noqa: BLE001 — a background job has nobody to raise to
            s.rollback()
            log.exception("assignment job %s failed", job_id)
            message = f"The job failed unexpectedly ({type(exc).__name__}); see the server log."
        else:
            if not dry_run:
                deliver_committed_mail(settings, s.get_bind())
            return
    report(status=JobStatus.failed.value, phase="failed", error=message[:2000], finished_at=_utcnow())


def deliver_committed_mail(settings: Settings, bind) -> None:  # noqa: ANN001
    """Send the assignment mails a committed apply queued: no request follows a background job or the CLI
    to do it (DeliverAfterCommit); a failure stays in the outbox for `reproreview notify send`."""
    from app.services.notifications import deliver_pending

    try:
        deliver_pending(settings, bind)
    except Exception:  # noqa: BLE001 — the assignment is committed; the mails wait in the outbox
        log.exception("sending assignment mails failed; `reproreview notify send` retries them")


def launch_job(settings: Settings, engine, job_id: int) -> threading.Thread:  # noqa: ANN001
    """Run a committed job in a daemon thread of this process (one solve at a time per process)."""

    def target() -> None:
        with _job_lock:
            try:
                run_job(lambda: Session(engine, expire_on_commit=False), settings, job_id)
            except Exception:  # noqa: BLE001
                log.exception("assignment job %s crashed", job_id)

    thread = threading.Thread(target=target, name=f"assignment-job-{job_id}", daemon=True)
    thread.start()
    return thread


def apply_preview(session: Session, actor: User, venue: Venue, job: AssignmentJob) -> AssignmentJob:
    """Apply exactly the changes a finished preview showed (checked again against the current state)."""
    view = job_view(job)
    if not job.dry_run or view["status"] != JobStatus.done.value:
        raise BadInput("Only a finished preview can be applied.")
    if job.applied_at is not None:
        raise ConflictError("This preview is applied already.")
    newer = latest_job(session, venue)
    if newer is not None and newer.id != job.id:
        raise ConflictError("A newer assignment job exists: apply that one, or preview again.")
    changes = [Change(c["op"], c["submission_id"], c["member_id"], Origin.auto.value, c.get("affinity"))
               for c in job.result.get("changes", [])]
    _apply_plan(session, actor, venue, changes, job.result["stats"], note=f" (preview {job.id})")
    job.applied_at = _utcnow()
    session.add(job)
    session.flush()
    return job


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


def declare_conflict(session: Session, actor: User, venue: Venue, member: Member, group: Group, reason: str,
                     source: str = "declared", other: Member | None = None) -> Conflict:
    """member must not review group's submission; with `other` (the person named), other must not review
    member's group's submission either."""
    existing = session.exec(select(Conflict).where(Conflict.member_id == member.id,
                                                   Conflict.group_id == group.id)).first()
    if existing:
        raise ConflictError("This conflict is declared already.")
    assigned = session.exec(select(Assignment).join(Submission, Submission.id == Assignment.submission_id)
                            .where(Assignment.member_id == member.id, Submission.group_id == group.id)).first()
    conflict = Conflict(venue_id=venue.id, member_id=member.id, group_id=group.id, source=source,
                        other_member_id=other.id if other is not None else None, reason=reason.strip()[:500],
                        created_by=actor.id)
    session.add(conflict)
    session.flush()
    audit.record(session, venue_id=venue.id, actor=actor, action="conflict.declare",
                 summary="declared a conflict" + (" (the reviewer is assigned to it: re-solve)" if assigned else ""),
                 member_id=member.id, group_id=group.id)
    return conflict


def bidding_window(session: Session, venue: Venue, now: datetime | None = None) -> dict:
    """When bidding closes (the venue's bidding deadline, if set), in the venue's time zone, and whether it has."""
    from app.services.deadlines import effective_deadline, format_in, is_past

    due = effective_deadline(session, venue, "bidding")
    return {"due_at": due.due_at, "closes": format_in(due.due_at, venue.timezone) if due.due_at else None,
            "closed": is_past(due, now)}


def set_bid(session: Session, venue: Venue, member: Member, submission: Submission, value: str,
            now: datetime | None = None) -> Bid:
    """Record a bid; the bidding window closes at the venue's bidding deadline, when one is set."""
    window = bidding_window(session, venue, now)
    if window["closed"]:
        raise DeadlinePassed(f"Bidding closed on {window['closes']}: your bids are kept as they were.")
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
    subs = submissions(session, venue)
    number_of_group = {s.group_id: s.number for s in subs}
    rows = []
    for c in session.exec(select(Conflict).where(Conflict.venue_id == venue.id).order_by(Conflict.id)).all():
        _m, u = people[c.member_id]
        other = people.get(c.other_member_id)
        rows.append({"id": c.id, "member_id": c.member_id, "reviewer": u.email, "reviewer_name": u.full_name,
                     "group_id": c.group_id, "group": groups[c.group_id].name if c.group_id in groups else "",
                     "submission": number_of_group.get(c.group_id), "source": c.source, "reason": c.reason,
                     "with": other[1].email if other else None, "created_at": c.created_at})
    group_of_sub = {s.id: s.group_id for s in subs}
    for b in session.exec(select(Bid).where(Bid.venue_id == venue.id, Bid.value == BidValue.conflict.value)
                          .order_by(Bid.id)).all():
        _m, u = people[b.member_id]
        gid = group_of_sub.get(b.submission_id)
        rows.append({"id": None, "member_id": b.member_id, "reviewer": u.email, "reviewer_name": u.full_name,
                     "group_id": gid, "group": groups[gid].name if gid in groups else "",
                     "submission": number_of_group.get(gid), "source": "bid", "reason": "", "with": None,
                     "created_at": b.updated_at})
    return rows


def own_conflicts(session: Session, member: Member) -> list[dict]:
    """A reviewer's own declared conflicts, without group names or submission numbers (double-blind)."""
    return [{"source": c.source, "reason": c.reason, "created_at": c.created_at}
            for c in session.exec(select(Conflict).where(Conflict.member_id == member.id)
                                  .order_by(Conflict.id)).all()]


# ---- interests, bidding ------------------------------------------------------------------------------------

MAX_INTERESTS = 10
MAX_INTEREST_CHARS = 5000


def split_interests(text: str) -> list[str]:
    """A textarea's items: paragraphs separated by a blank line."""
    return [p.strip() for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]


def set_interests(session: Session, member: Member, items: list[str]) -> list[str]:
    """Replace the member's interests (profile items for the assignment); the embedding cache keeps old ones."""
    items = [" ".join(i.split()) if len(i) < 300 else i.strip() for i in items if i and i.strip()]
    if len(items) > MAX_INTERESTS:
        raise BadInput(f"Give at most {MAX_INTERESTS} interests (you gave {len(items)}); "
                       "merge the smaller ones.")
    long = [n for n, i in enumerate(items, start=1) if len(i) > MAX_INTEREST_CHARS]
    if long:
        raise BadInput(f"Interest {long[0]} is longer than {MAX_INTEREST_CHARS} characters: "
                       "a title and an abstract are enough.")
    for old in interests(session, member):
        session.delete(old)
    session.flush()
    for text in items:
        session.add(ReviewerInterest(member_id=member.id, text=text))
    session.flush()
    return items


def bidding_list(session: Session, venue: Venue, member: Member) -> list[dict]:
    """What a reviewer bids on: number, title, abstract and their bid; never authors or groups; not their own."""
    bids = {b.submission_id: b.value for b in session.exec(select(Bid).where(Bid.member_id == member.id)).all()}
    return [{"number": s.number, "title": s.title, "abstract": s.abstract, "bid": bids.get(s.id)}
            for s in submissions(session, venue) if s.group_id != member.group_id]
