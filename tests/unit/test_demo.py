"""The demo shows everything a newcomer opens: last term with real PDFs, finished runs whose claim checks
differ (one reproduced, one not), a distinct review per reviewer about its paper, coherent responses, and
deadlines in the past; this term at a sensible phase. Built once, as `reproreview demo` builds it."""

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.db import make_engine
from app.demo import DEMO_PASSWORD, DEMO_SLUG, FINISHED_SLUG, LAST_TERM_SLUG, build_demo, demo_logins
from app.demo_papers import LAST_TERM_PAPERS
from app.main import create_app
from app.migrate import upgrade
from app.models import Deadline, Response, Review, Revision, Submission, Venue
from app.models.run import Run
from app.pdf import check_pdf
from app.services.artifacts import store
from app.settings import Settings
from runners.sandbox import bwrap_available

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):  # noqa: ANN001, ANN201
    tmp = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{tmp / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(data_dir=tmp / "data", database_url=url, secret_key="demo-test", _env_file=None)
    built = build_demo(engine, settings)
    yield engine, settings, built
    engine.dispose()


def _venue(s: Session, slug: str) -> Venue:
    return s.exec(select(Venue).where(Venue.slug == slug)).one()


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9-]{4,}", text)}


STOP = {"about", "their", "which", "these", "model", "paper", "within", "using", "versus", "results", "after"}


def test_last_term_reviews_are_distinct_and_about_their_paper(demo):  # noqa: ANN001
    engine, _settings, _built = demo
    with Session(engine) as s:
        venue = _venue(s, LAST_TERM_SLUG)
        subs = {x.id: x for x in s.exec(select(Submission).where(Submission.venue_id == venue.id)).all()}
        reviews = s.exec(select(Review).where(Review.venue_id == venue.id, Review.status == "submitted")).all()
        assert len(reviews) == 17 and len(subs) == 6
        for field in ("summary", "strengths", "weaknesses", "code_review", "questions"):
            texts = [r.published[field] for r in reviews]
            assert len(set(texts)) == len(texts), f"two reviews share their {field}"
        for review in reviews:
            sub = subs[review.submission_id]
            topic = _words(sub.title + " " + sub.abstract) - STOP
            text = " ".join(review.published[f] for f in ("summary", "strengths", "weaknesses", "code_review"))
            assert _words(text) & topic, f"review of #{sub.number} does not mention its paper's topic"
            others = {w for o in subs.values() if o.id != sub.id for w in _words(o.title)} - topic - STOP
            assert not (_words(review.published["summary"]) & others) or sub.number in (1, 6), \
                f"review of #{sub.number} talks about another paper"  # 1 and 6 share keyword spotting
        # responses answer their own reviews: no paper's response quotes another paper's subject
        for sub in subs.values():
            response = s.exec(select(Response).where(Response.submission_id == sub.id)).one()
            assert "Triton" not in response.body and "Reviewer" in response.body
            assert _words(response.body) & (_words(LAST_TERM_PAPERS[sub.number - 1].abstract + " "
                                                   + " ".join(r.weaknesses for r in
                                                              LAST_TERM_PAPERS[sub.number - 1].reviews)) - STOP)


def test_last_term_pdfs_pass_the_format_check(demo):  # noqa: ANN001
    engine, settings, _built = demo
    with Session(engine) as s:
        venue = _venue(s, LAST_TERM_SLUG)
        shas = set()
        for sub in s.exec(select(Submission).where(Submission.venue_id == venue.id)).all():
            revision = s.exec(select(Revision).where(Revision.submission_id == sub.id)).one()
            assert revision.format_ok and revision.pages_main >= 2, revision.format_report
            data = store(settings).path(revision.blob_sha).read_bytes()
            report = check_pdf(data, page_limit=venue.page_limit)
            assert report.ok and not report.findings, report.to_dict()
            assert report.title == sub.title
            shas.add(revision.blob_sha)
        assert len(shas) == 6  # a different paper each, not one file six times


@pytest.mark.skipif(not bwrap_available(), reason="artifact runs need bubblewrap (scripts/system-packages.sh)")
def test_last_term_runs_finished_one_claim_reproduced_one_not(demo):  # noqa: ANN001
    engine, _settings, built = demo
    assert built["runs"] == {"passed": 5, "failed": 1}
    with Session(engine) as s:
        venue = _venue(s, LAST_TERM_SLUG)
        runs = s.exec(select(Run).where(Run.venue_id == venue.id)).all()
        assert len(runs) == 6 and all(r.finished_at is not None and r.checks for r in runs)
        by_number = {s.get(Submission, r.submission_id).number: r for r in runs}
        first = by_number[1]
        assert first.status == "failed" and [c["passed"] for c in first.checks] == [True, False]
        assert first.checks[1]["measured"] > first.checks[1]["claimed"]  # the flash size the paper got wrong
        assert all(c["passed"] for n, r in by_number.items() if n != 1 for c in r.checks)


def test_deadlines_phases_and_every_login_has_data(demo):  # noqa: ANN001
    engine, settings, _built = demo
    now = datetime.now(UTC)
    with Session(engine) as s:
        last, current, finished = (_venue(s, x) for x in (LAST_TERM_SLUG, DEMO_SLUG, FINISHED_SLUG))
        assert (last.phase, current.phase, finished.phase) == ("moderation", "submission", "released")
        past = s.exec(select(Deadline).where(Deadline.venue_id == last.id)).all()
        assert len(past) == 4 and all(d.due_at.replace(tzinfo=UTC) < now for d in past)
        ahead = s.exec(select(Deadline).where(Deadline.venue_id == current.id)).all()
        assert ahead and all(d.due_at.replace(tzinfo=UTC) > now for d in ahead)
        drafts = s.exec(select(Revision).join(Submission, Submission.id == Revision.submission_id)
                        .where(Submission.venue_id == current.id)).all()
        assert len(drafts) == 8  # this term: first drafts uploaded, one not anonymised (a format error to see)
        assert [[f["code"] for f in d.format_report["findings"] if f["severity"] == "error"]
                for d in drafts if not d.format_ok] == [["not-anonymous"]]
        logins = {role: email for role, email, _ in demo_logins(s)}
    app = create_app(settings, engine=engine)
    with TestClient(app) as c:
        def login(email: str) -> None:
            c.cookies.clear()
            assert c.post("/api/v1/session", json={"email": email, "password": DEMO_PASSWORD}).status_code == 200

        login(logins["reviewer (last term)"])
        page = c.get(f"/venues/{LAST_TERM_SLUG}/submissions/1/review")
        assert page.status_code == 200 and "/pdf" in page.text  # the PDF beside the review
        assert "fits in 180 KB of flash" in page.text  # the claim checks of the finished run
        login(logins["author (last term)"])
        reviews = c.get(f"/api/v1/venues/{LAST_TERM_SLUG}/submissions/1/reviews").json()
        assert len({r["answers"]["summary"] for r in reviews}) == 3
        pdf = c.get(f"/api/v1/venues/{LAST_TERM_SLUG}/submissions/1/runs").json()
        assert {r["status"] for r in pdf} == {"failed"}
        login(logins["lecturer (chair)"])
        queue = c.get(f"/venues/{LAST_TERM_SLUG}/moderation")
        assert queue.status_code == 200 and "Keyword spotting on the Arduino" in queue.text


def test_demo_build_is_idempotent(demo):  # noqa: ANN001
    engine, settings, built = demo
    again = build_demo(engine, settings)
    assert again["runs"] == built["runs"]
    with Session(engine) as s:
        assert len(s.exec(select(Venue)).all()) == 3
        assert len(s.exec(select(Run)).all()) == 6


def test_finished_term_reviews_are_distinct_too(demo):  # noqa: ANN001
    engine, _settings, _built = demo
    with Session(engine) as s:
        venue = _venue(s, FINISHED_SLUG)
        reviews = s.exec(select(Review).where(Review.venue_id == venue.id, Review.status == "submitted")).all()
        assert len(reviews) == 19
        for field in ("summary", "strengths", "weaknesses", "code_review"):
            texts = [r.published[field] for r in reviews]
            assert len(set(texts)) == len(texts), f"two MLSys 2024 reviews share their {field}"
