"""Without Redis, the API's embedded rig takes runs of every kind as a rig of that kind: a gpu run on a machine
without GPUs stays queued saying why (it used to be refused as the wrong kind and wait forever)."""

import os
import threading

import pytest
from sqlmodel import Session, select

from app.db import make_engine
from app.jobs.runs import LocalRigClient
from app.migrate import upgrade
from app.models.run import Rig, Run
from app.services import runs as run_service
from app.services import submissions as submission_service
from app.settings import Settings
from runners.jobs import TOO_FEW_GPUS, execute_run
from runners.sandbox import bwrap_available
from tests import factories
from tests.api.test_runs import MANIFEST, artifact_zip


@pytest.fixture
def world(tmp_path):  # noqa: ANN001, ANN201
    """A database of its own: the embedded rig opens its own sessions and commits."""
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(data_dir=tmp_path / "data", database_url=url, _env_file=None)
    yield engine, settings
    engine.dispose()


def _smoke_run(engine, settings, manifest: str) -> int:  # noqa: ANN001
    """Store an artifact: its smoke run goes to the embedded rig after the commit; wait for that thread."""
    with Session(engine, expire_on_commit=False) as db:
        make = factories.Factory(db)
        venue = make.venue(phase="submission")
        cast = make.cast(venue)
        sub = submission_service.save_submission(db, cast["student"], venue, cast["members"]["student"],
                                                 title="Tiny artifact", abstract="", keywords=[])
        submission_service.artifact_from_archive(db, settings, cast["student"], venue, sub, artifact_zip(manifest),
                                                 "code.zip")
        db.commit()
        run_id = db.exec(select(Run.id).where(Run.submission_id == sub.id)).one()
    for thread in threading.enumerate():
        if thread.name == f"embedded-rig-run-{run_id}":
            thread.join(120)
    return run_id


def test_a_gpu_run_waits_on_a_machine_without_gpus(world):  # noqa: ANN001
    engine, settings = world
    if os.path.exists("/dev/nvidia0"):
        pytest.skip("this machine has a GPU: the embedded gpu rig would take the run")
    run_id = _smoke_run(engine, settings, MANIFEST.replace('rig = "local"', 'rig = "gpu"')
                        .replace('timeout = "1m"', 'timeout = "1m"\ngpus = 1'))
    assert execute_run(LocalRigClient(engine, settings, "gpu"), run_id) == TOO_FEW_GPUS  # and again: still waits
    with Session(engine) as db:
        run = db.get(Run, run_id)
        assert run.status == "queued" and "GPU" in (run.reason or "")
        rig = db.exec(select(Rig).where(Rig.kind == "gpu")).one()
        assert rig.name == "embedded-gpu" and rig.gpus == 0 and rig.facts.get("cores")


@pytest.mark.skipif(not bwrap_available(), reason="artifacts only run sandboxed")
def test_each_kind_has_its_embedded_rig(world):  # noqa: ANN001
    engine, settings = world
    local_run = _smoke_run(engine, settings, MANIFEST)
    with Session(engine) as db:
        run = db.get(Run, local_run)
        assert run.status == "passed" and db.get(Rig, run.rig_id).name == run_service.EMBEDDED_RIG
        assert run.metrics == {"E1": {"accuracy": 0.92}}
