"""Calibration items in the assignment (Moodle Workshop's example assessments, Kritik's calibration): every
student reviewer gets ONE calibration item (a submission with a reference mark, app.models.CalibrationItem) on
top of their assigned papers, so that the calibration can pin their bias against a known mark.

The choice is a pure function (`choose_calibration`); `changes.plan_auto` turns it into Changes on the one
assignment path. The solver itself never sees calibration items: their reviewers are exactly the students
given them here, spread evenly over the items.
"""

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlmodel import Session, select

from app.errors import BadInput
from app.models import Venue
from app.models.moderation import CalibrationItem
from app.services.assignments.scoring import VenueScores


@dataclass(frozen=True)
class CalibrationChoice:
    """Which calibration item each student reviews: `pairs` (item id, student id), current ones included."""

    pairs: list[tuple[int, int]]
    skipped: list[int] = field(default_factory=list)  # students no item is allowed for (own group, conflicts)


def choose_calibration(students: Sequence[int], items: Sequence[int], allowed: Callable[[int, int], bool],
                       current: Mapping[int, Iterable[int]] | None = None,
                       keep: Iterable[tuple[int, int]] = (),
                       affinity: Callable[[int, int], float] | None = None) -> CalibrationChoice:
    """One allowed item per student, spread evenly over the items, changing as little as possible.

    `current`: student -> the items they hold now. A pair in `keep` (locked, or its review started) always
    stays, even a second one. Otherwise a student keeps one current, still-allowed item while that item holds
    no more than its even share; every other student gets the least-reviewed allowed item (students with the
    fewest choices first; then the higher affinity, then the item order). Never a second item for anyone.
    """
    current = current or {}
    keep = set(keep)
    order = {item: n for n, item in enumerate(items)}
    options = {s: [i for i in items if allowed(i, s)] for s in students}
    eligible = [s for s in students if options[s]]
    load = dict.fromkeys(items, 0)
    pairs: list[tuple[int, int]] = []
    placed: set[int] = set()
    for s in students:  # work already done stays, whatever the balance
        for i in sorted(set(current.get(s, ())), key=lambda i: order.get(i, len(order))):
            if (i, s) in keep:
                pairs.append((i, s))
                load[i] = load.get(i, 0) + 1
                placed.add(s)
    share = math.ceil(len(eligible) / len(items)) if items and eligible else 0
    for s in eligible:  # then one current item each, up to its even share
        if s in placed:
            continue
        held = [i for i in sorted(set(current.get(s, ())), key=lambda i: order.get(i, len(order)))
                if i in order and allowed(i, s)]
        if held and load[held[0]] < share:
            pairs.append((held[0], s))
            load[held[0]] += 1
            placed.add(s)
    for s in sorted((s for s in eligible if s not in placed), key=lambda s: (len(options[s]), s)):
        best = min(options[s], key=lambda i: (load[i], -(affinity(i, s) if affinity else 0.0), order[i]))
        pairs.append((best, s))
        load[best] += 1
    return CalibrationChoice(pairs=sorted(pairs), skipped=[s for s in students if not options[s]])


# ---- the database side -----------------------------------------------------------------------------------------


def calibration_item_ids(session: Session, venue: Venue) -> set[int]:
    """The submissions the venue's chairs marked as calibration items."""
    return set(session.exec(select(CalibrationItem.submission_id).where(CalibrationItem.venue_id == venue.id)).all())


def without_items(sc: VenueScores, item_ids: set[int]) -> VenueScores:
    """The venue's scores without the calibration items' rows: what the solver assigns k reviewers to."""
    rows = [i for i, s in enumerate(sc.subs) if s.id not in item_ids]
    if not rows:
        raise BadInput("Every submission is a calibration item: there is nothing to assign besides them "
                       "(make at least one submission an ordinary one).")
    return VenueScores(subs=[sc.subs[i] for i in rows], members=sc.members, labels=sc.labels, items=sc.items,
                       matrix=sc.matrix[rows], item_scores=[x[rows] for x in sc.item_scores],
                       conflicts=sc.conflicts[rows])
