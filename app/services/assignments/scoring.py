"""Scoring a venue: texts and profiles embedded (cached), the bid-adjusted affinity matrix, per-item scores and
the conflicts, in one `VenueScores` that solving and explanations both read."""

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlmodel import Session

from app.errors import BadInput, DomainError
from app.models import Member, Submission, Venue
from app.assignment.embeddings import EmbeddingCache
from app.services.assignments.bids import bid_matrix
from app.services.assignments.conflicts import conflict_matrix
from app.services.assignments.embedding import StoredEmbeddings
from app.services.assignments.profiles import (ProfileItem, interests_by_member, profile_items, reviewers,
                                               submission_text, submissions)
from app.settings import Settings


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


def score_venue(session: Session, settings: Settings, venue: Venue, *, include_tas: bool = False,
                progress: Callable[[int, int], None] | None = None, cache_only: bool = False,
                on_phase: Callable[[str, int, int], None] | None = None,
                cache: EmbeddingCache | None = None) -> VenueScores:
    """Texts, profiles, the bid-adjusted affinity matrix and per-item scores; embeds only texts not stored yet.

    cache_only: raise NotEmbedded instead of running the model (for explanations on the request path).
    cache: where vectors are read and written; default the `Embedding` table through this session.
    """
    from app.assignment.affinity import apply_bids, score

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
    known = interests_by_member(session, [m.id for m in members])
    items = [profile_items(session, settings, m, own, by_id, known.get(m.id, [])) for m in members]
    if on_phase:
        on_phase("embedding", 0, 0)
    report = progress
    if cache_only:
        def report(done: int, total: int) -> None:  # the first call comes before any text is encoded
            if done < total:
                raise NotEmbedded(total - done, total)
            if progress:
                progress(done, total)
    cache = cache or StoredEmbeddings(session, settings.embedding_model)
    result = score(texts, [[i.text for i in its] or [""] for its in items], cache=cache,
                   model_name=settings.embedding_model, progress=report)
    matrix = apply_bids(result.matrix, bid_matrix(session, venue, subs, members))
    return VenueScores(subs=subs, members=members, labels=[u.email for _m, u in pool], items=items, matrix=matrix,
                       item_scores=result.item_scores, conflicts=conflict_matrix(session, venue, subs, members))


def readable(reason: str, sc: VenueScores) -> str:
    """The solver names submissions and reviewers by index; the chair needs numbers and emails."""
    def sub(i: str) -> str:
        return f"#{sc.subs[int(i)].number}" if int(i) < len(sc.subs) else i

    def rev(j: str) -> str:
        return sc.labels[int(j)] if int(j) < len(sc.labels) else j

    def repl(m: re.Match) -> str:
        name = sub if m.group(1).startswith("submission") else rev
        return f"{m.group(1)} " + ", ".join(name(x) for x in m.group(2).split(", "))

    return re.sub(r"\b(submissions?|reviewers?) (\d+(?:, \d+)*)", repl, reason)


def for_ranking(sc: VenueScores) -> np.ndarray:
    """The matrix with conflicted pairs pushed below every real score: ranks count only eligible alternatives
    (an author's own paper would otherwise be every author's best "match")."""
    return np.where(sc.conflicts, -1.0, sc.matrix)


