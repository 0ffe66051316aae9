"""Team contributions from the repository: the history is read when a git artifact is submitted, stored with the
artifact version (never the .git), and summarised per member by `reproreview contributions`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlmodel import select

from app.models import ArtifactHistory
from tests.api.test_moderation import cli  # noqa: F401 — the in-process CLI fixture
from tests.api.test_submissions import _create

MANIFEST = ('[artifact]\nrig = "local"\ntimeout = "5m"\n\n[[experiment]]\nid = "E1"\ncommand = "python train.py"\n'
            'metrics = "m.json"\n')


def _commit(work: Path, name: str, email: str, message: str, when: int) -> None:
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
           "GIT_COMMITTER_EMAIL": email, "GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000",
           "HOME": str(work), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "add", "-A"], cwd=work, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=work, env=env, check=True)


@pytest.fixture
def venue_cast(make):  # noqa: ANN001, ANN201
    venue = make.venue(phase="submission")
    return venue, make.cast(venue)


def test_history_stored_with_the_artifact_and_summarised_per_member(venue_cast, as_user, db, cli, capsys,  # noqa: ANN001, F811
                                                                     tmp_path):
    venue, cast = venue_cast
    student = as_user(cast["student"])
    assert _create(student, venue).status_code == 200
    email = cast["student"].email
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=work, check=True)
    (work / "reproduce.toml").write_text(MANIFEST)
    (work / "train.py").write_text("a = 1\nb = 2\n")
    _commit(work, cast["student"].full_name, email, "start", 1_700_000_000)
    (work / "train.py").write_text("a = 1\nb = 2\nc = 3\n")
    (work / "poetry.lock").write_text("x\n" * 40)
    _commit(work, "laptop", "me@laptop.local", "pair\n\nCo-authored-by: Someone <someone@uni.example>",
            1_700_003_600)
    bare = tmp_path / "repo.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/git", json={"repo_url": str(bare),
                                                                                      "commit": "main"})
    assert r.status_code == 201, r.text
    stored = db.exec(select(ArtifactHistory).where(ArtifactHistory.artifact_id == r.json()["id"])).one()
    assert stored.note is None and len(stored.summary["commits"]) == 2
    # the history names people: the reviewers' (anonymized) files hold none of it
    files = {f["path"] for f in student.get(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/files").json()}
    assert files == {"reproduce.toml", "train.py", "poetry.lock"}

    code, out, err = cli(capsys, "contributions", "--venue", venue.slug, "1", "--json")
    assert code == 0, err
    data = json.loads(out)
    people = {p["label"]: p for p in data["people"]}
    me = people[cast["student"].full_name]
    assert me["member_id"] is not None and (me["commits"], me["added"]) == (1, len(MANIFEST.splitlines()) + 2)
    assert people["laptop <me@laptop.local>"]["member_id"] is None  # unclaimed until claimed
    assert people["laptop <me@laptop.local>"]["added"] == 1 and people["Someone <someone@uni.example>"]["co_authored"] == 1
    assert data["excluded"]["lockfile"]["files"] == 1 and "weak evidence" in data["caveat"]

    code, out, _err = cli(capsys, "contributions", "--venue", venue.slug, "1")
    assert code == 0 and "(unclaimed)" in out and "lockfile" in out
    code, _out, err = cli(capsys, "contributions", "--venue", venue.slug, "7")
    assert code == 2 and "#7" in err


def test_an_archive_has_no_history_and_says_so(venue_cast, as_user, cli, capsys):  # noqa: ANN001, F811
    venue, cast = venue_cast
    student = as_user(cast["student"])
    assert _create(student, venue).status_code == 200
    code, out, _err = cli(capsys, "contributions", "--venue", venue.slug, "1", "--json")
    assert code == 0 and "No code was submitted from a git repository" in json.loads(out)["note"]
