"""`reproreview reanonymize`: reviewer views stored by an older version (a reviewers' PDF copy that kept the
document's metadata) are built again with the current masker and PDF rebuild, audited, and only once."""

from sqlmodel import select

from app.models import AuditEvent, Revision
from app.services.anonymization import reanonymize_venue
from app.services.artifacts import store
from tests.api.test_blob_gc import _cli
from tests.api.test_submissions import make_pdf

AUTHOR = "Wilhelmina Quaresma-Drummond"


def test_an_old_reviewer_copy_is_rebuilt_once_and_audited(make, db, as_user, settings):  # noqa: ANN001
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    student = as_user(cast["student"])
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions", json={"title": "Kept"}).status_code == 200
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/revisions",
                     files={"file": ("paper.pdf", make_pdf(6, author=AUTHOR), "application/pdf")})
    assert r.status_code == 201, r.text
    revision = db.exec(select(Revision)).one()
    current = revision.reviewer_blob_sha
    blobs = store(settings)
    assert AUTHOR.encode() in blobs.read_bytes(revision.blob_sha)
    assert AUTHOR.encode() not in blobs.read_bytes(current)
    # As an older version stored it: the reviewers' copy was the upload, metadata and all.
    revision.reviewer_blob_sha = revision.blob_sha
    db.add(revision)
    db.commit()

    assert reanonymize_venue(db, settings, None, venue) == (0, 1)
    db.commit()
    db.refresh(revision)
    assert revision.reviewer_blob_sha == current  # the same rebuild as at upload (deterministic)
    assert AUTHOR.encode() not in blobs.read_bytes(revision.reviewer_blob_sha)
    events = db.exec(select(AuditEvent).where(AuditEvent.action == "revision.reanonymize")).all()
    assert len(events) == 1 and "#1" in events[0].summary
    # Run again: nothing changes, nothing more is audited.
    assert reanonymize_venue(db, settings, None, venue) == (0, 0)
    db.commit()
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "revision.reanonymize")).all()) == 1


def test_the_command_names_an_unknown_venue_and_changes_nothing(tmp_path):  # noqa: ANN001
    assert _cli(["db", "upgrade"], tmp_path).returncode == 0
    r = _cli(["reanonymize", "--venue", "no-such-venue"], tmp_path)
    assert r.returncode == 2 and "There is no venue 'no-such-venue'" in r.stderr, r.stderr
    assert "rebuilt" not in r.stdout
