"""Debris in the blob store: `reproreview gc` removes old unreferenced blobs and crashed writers' temp files,
keeps everything a row names and everything recent (an upload in progress), and the app cleans temp files
when it starts."""

import os
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.services.artifacts import store
from app.services.blob_gc import collect_garbage
from tests.api.test_submissions import make_pdf

ROOT = Path(__file__).resolve().parents[2]
HOUR = 3600


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _temp(blobs, name: str, age_s: float) -> Path:  # noqa: ANN001
    path = blobs.tmp_dir / name
    path.write_bytes(b"half a pdf")
    _age(path, age_s)
    return path


def test_gc_removes_old_unreferenced_blobs_only(make, db, as_user, settings):  # noqa: ANN001
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    student = as_user(cast["student"])
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions", json={"title": "Kept"}).status_code == 200
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/revisions",
                     files={"file": ("paper.pdf", make_pdf(6), "application/pdf")})
    assert r.status_code == 201, r.text
    blobs = store(settings)
    referenced = set(blobs.iter_blobs())
    assert len(referenced) == 2  # the PDF and its reviewer copy
    for sha in referenced:
        _age(blobs.path(sha), 5 * HOUR)  # old, but named by the revision row
    orphan = blobs.put_bytes(b"a PDF whose revision row was never written (the API crashed)")
    _age(blobs.path(orphan), 2 * HOUR)
    fresh = blobs.put_bytes(b"an upload in progress: its row is not committed yet")
    old_tmp, new_tmp = _temp(blobs, ".tmp-crashed", 2 * HOUR), _temp(blobs, ".tmp-writing", 60)

    report = collect_garbage(db, blobs, grace_s=HOUR)

    assert report.removed == [orphan] and report.young == [fresh] and report.referenced == 2
    assert report.temp_removed == 1 and not old_tmp.exists() and new_tmp.exists()
    assert set(blobs.iter_blobs()) == referenced | {fresh}
    rev = student.get(f"/api/v1/venues/{venue.slug}/submissions/1/revisions").json()[0]
    pdf = student.get(f"/api/v1/venues/{venue.slug}/submissions/1/revisions/{rev['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_a_blob_stored_again_during_gc_is_kept(db, settings):  # noqa: ANN001
    """The same bytes uploaded again renew the blob's time, so a collector that judged it old keeps it."""
    blobs = store(settings)
    data = b"the same paper, uploaded again after a crash lost its first row"
    sha = blobs.put_bytes(data)
    _age(blobs.path(sha), 2 * HOUR)
    cutoff = time.time() - HOUR
    assert blobs.put_bytes(data) == sha  # a live upload reuses the blob ...
    assert not blobs.remove_if_older(sha, cutoff)  # ... so it is young again and stays
    assert blobs.read_bytes(sha) == data
    assert collect_garbage(db, blobs, grace_s=HOUR).removed == []
    _age(blobs.path(sha), 2 * HOUR)
    assert blobs.remove_if_older(sha, cutoff) and not blobs.exists(sha)
    assert blobs.put_bytes(data) == sha and blobs.read_bytes(sha) == data  # a writer after the removal rewrites it
    assert not list(blobs.tmp_dir.iterdir())


def test_the_app_cleans_crashed_writers_temp_files_when_it_starts(settings, engine):  # noqa: ANN001
    blobs = store(settings)
    old_tmp, new_tmp = _temp(blobs, ".tmp-abc", 2 * HOUR), _temp(blobs, ".tmp-live", 10)
    with TestClient(create_app(settings, engine=engine, check_schema=False)) as client:
        assert client.get("/healthz").status_code == 200
    assert not old_tmp.exists() and new_tmp.exists()


def _cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "REPROREVIEW_DATA_DIR": str(data_dir)}
    env.pop("REPROREVIEW_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_gc_command_prints_what_it_removed_and_kept(tmp_path):  # noqa: ANN001
    assert _cli(["db", "upgrade"], tmp_path).returncode == 0
    from app.storage import BlobStore

    blobs = BlobStore(tmp_path / "blobs")
    old = blobs.put_bytes(b"old orphan")
    _age(blobs.path(old), 3 * HOUR)
    young = blobs.put_bytes(b"young orphan")
    dry = _cli(["gc", "--dry-run"], tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert f"would remove {old}" in dry.stdout and blobs.exists(old)
    r = _cli(["gc", "--grace-hours", "2"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"removed {old}" in r.stdout and f"kept {young}" in r.stdout
    assert "removed 1 unreferenced blob(s)" in r.stdout
    assert not blobs.exists(old) and blobs.exists(young)
