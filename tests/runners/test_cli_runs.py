"""`reproreview run` queues a run through the service (real database, real Redis); `check-manifest` validates."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlmodel import Session, select

from app.db import make_engine
from app.jobs import runs as queue
from app.migrate import upgrade
from app.models.run import Run
from app.services import submissions as submission_service
from app.settings import Settings
from tests import factories
from tests.api.test_runs import GPU_MANIFEST, artifact_zip
from tests.conftest import _fresh_database

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REPROREVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.fixture
def course(tmp_path):  # noqa: ANN001, ANN201
    """A migrated database with a venue and submission #1 whose artifact asks for a gpu rig with 2 GPUs."""
    base = os.environ.get("REPROREVIEW_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'cli.db'}"
    url, drop = _fresh_database(base)
    upgrade(url)
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="cli", redis_url=REDIS_URL,
                        _env_file=None)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as db:
        make = factories.Factory(db)
        venue = make.venue(phase="submission")
        cast = make.cast(venue)
        sub = submission_service.save_submission(db, cast["student"], venue, cast["members"]["student"],
                                                 title="Multi-GPU training", abstract="", keywords="")
        submission_service.artifact_from_archive(db, settings, cast["student"], venue, sub,
                                                 artifact_zip(GPU_MANIFEST), "code.zip")
        db.commit()
    env = {"REPROREVIEW_DATABASE_URL": url, "REPROREVIEW_DATA_DIR": str(tmp_path / "data"),
           "REPROREVIEW_REDIS_URL": REDIS_URL, "REPROREVIEW_SECRET_KEY": "cli"}
    yield {"engine": engine, "venue": venue, "env": env}
    engine.dispose()
    drop()


def test_run_queues_a_run_and_prints_its_id(course):
    out = cli("run", "--venue", course["venue"].slug, "1", env=course["env"])
    assert out.returncode == 0, out.stderr
    run_id = int(out.stdout.strip())
    with Session(course["engine"]) as db:
        run = db.get(Run, run_id)
        assert run.status == "queued" and run.rig_kind == "gpu" and run.gpus == 2 and not run.smoke
        assert run.requested_by is None
    assert redis.Redis.from_url(REDIS_URL).zscore("reproreview:gpu", queue.job_id(run_id, 0)) is not None
    out = cli("run", "--venue", course["venue"].slug, "1", "--rig-kind", "local", "--json", env=course["env"])
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rig_kind"] == "local"
    with Session(course["engine"]) as db:
        assert len(db.exec(select(Run)).all()) == 3  # the smoke run of the upload, and these two
    bad = cli("run", "--venue", course["venue"].slug, "9", env=course["env"])
    assert bad.returncode == 2 and "no submission #9" in bad.stderr.lower()
    assert cli("run", "--venue", "nope", "1", env=course["env"]).returncode == 2


def test_check_manifest_exit_codes_and_line_numbers(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "reproduce.toml").write_text('[[experiment]]\nid = "E1"\ncommand = "true"\nmetrics = "m.json"\n')
    out = cli("check-manifest", str(good))
    assert out.returncode == 0 and "valid" in out.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[artifact]\nrig = "tpu"\n\n[[experiment]]\nid = "E1"\ncomand = "x"\nmetrics = "m.json"\n')
    out = cli("check-manifest", str(bad))
    assert out.returncode == 2
    assert "line 2: 'rig' in [artifact] must be one of local, gpu, notebook, mcu" in out.stderr
    assert "(line 6); did you mean 'command'?" in out.stderr
    out = cli("check-manifest", str(bad), "--json")
    assert out.returncode == 2 and [e["line"] for e in json.loads(out.stdout)["errors"]] == [2, 6]
