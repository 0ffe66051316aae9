"""app.outbox: what a transaction recorded is handed on once, after its real commit; savepoints neither hand
anything on when released nor drop more than their own records when rolled back."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import outbox
from app.db import make_engine

KIND = "test-outbox"


@pytest.fixture
def handed_on():  # noqa: ANN201
    calls: list[list[dict]] = []
    outbox.handler(KIND)(lambda _bind, payloads: calls.append([p["n"] for p in payloads]))
    return calls


@pytest.fixture
def engine():  # noqa: ANN201
    eng = make_engine("sqlite://")
    with eng.begin() as c:
        c.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    yield eng
    eng.dispose()


def _insert(s: Session, n: int) -> None:
    s.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})


def test_a_savepoint_release_hands_nothing_on_the_commit_hands_on_everything_once(engine, handed_on):  # noqa: ANN001
    with Session(engine) as s:
        _insert(s, 1)
        outbox.after_commit(s, KIND, n=1)
        with s.begin_nested():  # e.g. enqueue's insert of the next mail
            _insert(s, 2)
            outbox.after_commit(s, KIND, n=2)
        with s.begin_nested():
            _insert(s, 3)
        assert handed_on == [] and [p["n"] for p in outbox.pending(s, KIND)] == [1, 2]
        s.commit()
        assert handed_on == [[1, 2]]
        _insert(s, 4)
        s.commit()
    assert handed_on == [[1, 2]]


def test_a_failed_savepoint_drops_only_what_it_recorded(engine, handed_on):  # noqa: ANN001
    with Session(engine) as s:
        _insert(s, 1)
        outbox.after_commit(s, KIND, n=1)
        with pytest.raises(IntegrityError), s.begin_nested():  # a race lost on a unique key
            outbox.after_commit(s, KIND, n=2)
            _insert(s, 1)
        outbox.after_commit(s, KIND, n=3)
        s.commit()
    assert handed_on == [[1, 3]]


def test_a_rollback_drops_everything(engine, handed_on):  # noqa: ANN001
    with Session(engine) as s:
        _insert(s, 1)
        outbox.after_commit(s, KIND, n=1)
        with s.begin_nested():
            outbox.after_commit(s, KIND, n=2)
        s.rollback()
        assert outbox.pending(s) == []
        _insert(s, 2)
        s.commit()
    assert handed_on == []


def test_a_session_joined_to_an_outer_transaction_hands_on_at_its_commit(engine, handed_on):  # noqa: ANN001
    binds = []
    outbox.handler(KIND)(lambda bind, payloads: binds.append((outbox.is_outer_transaction(bind), len(payloads))))
    with engine.connect() as conn:
        outer = conn.begin()
        s = Session(bind=conn, join_transaction_mode="create_savepoint")
        _insert(s, 1)
        outbox.after_commit(s, KIND, n=1)
        with s.begin_nested():
            outbox.after_commit(s, KIND, n=2)
        assert binds == []
        s.commit()
        assert binds == [(True, 2)]
        s.close()
        outer.rollback()
