"""Embeddings kept in the database (`Embedding`, keyed by sha256 of model + text) and embedded ahead of time: a
service that changes a text the assignment reads (a submission's title, abstract, keywords or PDF; a reviewer's
interests) records the after-commit event "texts" (venue_id, the request's settings from session.info, which
app.db.get_session puts there), and once its transaction commits the background job `assignment_embed`
(app.jobs.assignments) embeds whatever of that venue is not stored yet. A chair's Preview then finds every vector
and answers in about a second instead of loading the model and embedding the venue at click time."""

from collections.abc import Callable, Iterable, Mapping

import numpy as np
from sqlmodel import Session, select

from app.models import Venue
from app.models.assignment import Embedding
from app.services.assignments.profiles import (interests_by_member, profile_items, reviewers, submission_text,
                                               submissions)
from app.settings import Settings

EMBED_JOB = "assignment_embed"  # the background job's name (app.jobs.background)
_READ_BATCH = 500


class StoredEmbeddings:
    """The EmbeddingCache of app.assignment.embeddings over the `Embedding` table, read through `session`.

    New vectors go to `writer` when one is given (the job boundary: its own short transaction, so a long solve
    never holds SQLite's write lock), else into `session` (the caller commits them with its own work)."""

    def __init__(self, session: Session, model: str,
                 writer: Callable[[list[Embedding]], None] | None = None) -> None:
        self.session, self.model, self.writer = session, model, writer

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        keys = sorted(set(keys))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), _READ_BATCH):
            rows = self.session.exec(select(Embedding.key, Embedding.vector).where(
                Embedding.key.in_(keys[start:start + _READ_BATCH]))).all()
            found.update({k: np.frombuffer(v, dtype="<f4").copy() for k, v in rows})
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        rows = [Embedding(key=k, model=self.model[:300], dim=int(np.asarray(v).shape[-1]),
                          vector=np.asarray(v, dtype="<f4").tobytes()) for k, v in items.items()]
        if self.writer is not None:
            self.writer(rows)
            return
        have = set(self.get_many([r.key for r in rows]))
        for row in rows:
            if row.key not in have:
                self.session.add(row)
        self.session.flush()


def venue_texts(session: Session, settings: Settings, venue: Venue) -> list[str]:
    """Every text an assignment of the venue embeds: each submission's text and each reviewer's profile items
    (TAs included, whether or not a solve includes them)."""
    subs = submissions(session, venue)
    texts = {s.id: submission_text(session, settings, s) for s in subs}
    own = {s.group_id: s for s in subs}
    out = [t for t in texts.values() if t.strip()]
    pool = [m for m, _u in reviewers(session, venue, include_tas=True)]
    known = interests_by_member(session, [m.id for m in pool])
    for member in pool:
        out += [i.text for i in profile_items(session, settings, member, own, texts, known.get(member.id, []))]
    return out
