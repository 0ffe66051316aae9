"""Bidding: the window (the venue's bidding deadline), reviewers' bids, what they may bid on, and the bid
matrix the affinity is adjusted by."""

from datetime import datetime

from sqlmodel import Session, select

from app.errors import BadInput, DeadlinePassed
from app.models import Member, Submission, Venue
from app.models.assignment import Bid, BidValue
from app.services.anonymization import masker_for
from app.services.assignments.profiles import submissions


def bid_matrix(session: Session, venue: Venue, subs: list[Submission], members: list[Member]) -> list[list[str | None]]:
    sub_index = {s.id: i for i, s in enumerate(subs)}
    member_index = {m.id: j for j, m in enumerate(members)}
    bids: list[list[str | None]] = [[None] * len(members) for _ in subs]
    for b in session.exec(select(Bid).where(Bid.venue_id == venue.id)).all():
        if b.submission_id in sub_index and b.member_id in member_index:
            bids[sub_index[b.submission_id]][member_index[b.member_id]] = b.value
    return bids



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



def bidding_list(session: Session, venue: Venue, member: Member) -> list[dict]:
    """What a reviewer bids on: number, title, abstract and their bid; never authors or groups; not their own."""
    bids = {b.submission_id: b.value for b in session.exec(select(Bid).where(Bid.member_id == member.id)).all()}
    out = []
    for s in submissions(session, venue):
        if s.group_id != member.group_id:
            mask = masker_for(session, s)  # the authors' own words, read by would-be reviewers: masked
            out.append({"number": s.number, "title": mask(s.title), "abstract": mask(s.abstract or ""),
                        "bid": bids.get(s.id)})
    return out
