"""Texts are embedded when they are saved, through the background job path (issue 17): saving a submission,
uploading a PDF or typing interests records the after-commit event "texts"; its handler starts the job
`assignment_embed` once per venue; the job stores every vector in the database, and a Preview afterwards runs
the model on nothing."""

import numpy as np
from sqlmodel import func, select

from app import outbox
from app.assignment import embeddings
from app.jobs import assignments as assignment_jobs
from app.jobs import background
from app.models.assignment import Embedding
from app.services import assignments as service
from app.services.submissions import save_submission
from tests.api.test_assignments import _venue, on_test_connection


def test_saving_texts_records_the_event_and_the_handler_starts_one_job_per_venue(make, db, settings,  # noqa: ANN001
                                                                                     monkeypatch):
    venue, _chair, people = _venue(make, db, phase="submission")
    db.info["settings"] = settings  # what app.db.get_session does for a request
    student, member = people["Tiny A"][0]
    save_submission(db, student, venue, member, title="Keyword spotting, revised", abstract="New abstract.",
                    keywords=[])
    service.set_interests(db, member, ["int8 quantisation on microcontrollers"])
    recorded = outbox.pending(db, "texts")
    assert recorded == [{"venue_id": venue.id, "settings": settings}] * 2
    started = []
    monkeypatch.setattr(background, "submit", lambda s, e, name, *args, job_id=None: started.append((name, args)))
    engine = db.get_bind().engine
    assignment_jobs.embed_texts_later(engine, recorded)
    assert started == [(service.EMBED_JOB, (venue.id,))]  # once per venue however many texts changed
    started.clear()
    assignment_jobs.embed_texts_later(engine, [{"venue_id": venue.id, "settings": None}])  # no app settings
    assignment_jobs.embed_texts_later(engine, [{"venue_id": venue.id,
                                                "settings": settings.model_copy(update={"embed_ahead": False})}])
    assignment_jobs.embed_texts_later(db.get_bind(), recorded)  # inside a test's transaction: nobody could see it
    assert started == []
    db.info.pop("settings")


def test_the_embed_job_stores_every_vector_and_a_preview_then_encodes_nothing(make, db, settings,  # noqa: ANN001
                                                                                 monkeypatch):
    venue, _chair, _people = _venue(make, db)
    texts = service.venue_texts(db, settings, venue)
    # four submissions; each of the 8 students' profile is their own group's submission (no interests yet)
    assert len(texts) == 4 + 8 and len(set(texts)) == 4
    assert assignment_jobs.embed_venue_texts(on_test_connection(db), settings, venue.id) == len(texts)
    db.expire_all()
    stored = db.exec(select(func.count()).select_from(Embedding)).one()
    assert stored == len(set(texts))
    row = db.exec(select(Embedding)).first()
    assert row.model == settings.embedding_model and row.dim == 384 and len(row.vector) == 384 * 4
    calls = []
    real = embeddings.encode_chunks
    monkeypatch.setattr(embeddings, "encode_chunks", lambda chunks, model_name=embeddings.DEFAULT_MODEL:
                        calls.append(len(chunks)) or real(chunks, model_name))
    plan = service.plan_auto(db, settings, venue, k=1, min_load=0, max_load=2)
    assert calls == [] and plan.stats["added"] == 4  # every vector came from the database
    # A stored vector reads back exactly.
    vec = service.StoredEmbeddings(db, settings.embedding_model).get_many([row.key])[row.key]
    assert vec.dtype == np.float32 and np.isclose(np.linalg.norm(vec), 1.0, atol=1e-5)
    # The job again with nothing new encodes nothing.
    assert assignment_jobs.embed_venue_texts(on_test_connection(db), settings, venue.id) == len(texts)
    assert calls == []


def test_a_concurrent_writer_of_the_same_vector_is_no_error(db, settings):  # noqa: ANN001
    cache_a = assignment_jobs.stored_embeddings(on_test_connection(db), db, settings)
    vec = np.ones(4, dtype=np.float32) / 2
    cache_a.put_many({"ab" * 32: vec})
    cache_a.put_many({"ab" * 32: vec, "cd" * 32: vec})  # the first key exists already: skipped, not an error
    db.expire_all()
    assert set(service.StoredEmbeddings(db, settings.embedding_model).get_many(["ab" * 32, "cd" * 32])) == \
        {"ab" * 32, "cd" * 32}
