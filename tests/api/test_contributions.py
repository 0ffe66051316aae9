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


def test_identity_claims_disputes_and_chair_mapping(venue_cast, as_user, make, db, tmp_path):  # noqa: ANN001
    """Members claim identities of their history; a second claim is a dispute the chair sees and settles; nobody
    outside the group (a reviewer, a loner) reads or changes any of it."""
    from app.models import IdentityClaim

    venue, cast = venue_cast
    _other, mate_m = make.member(venue, "student", group=cast["group"], name="Mate Two")
    student, chair = as_user(cast["student"]), as_user(cast["chair"])
    mate = as_user(_other)
    assert _create(student, venue).status_code == 200
    base = f"/api/v1/venues/{venue.slug}/submissions/1/contributions"
    assert student.post(base + "/identities", json={"email": "Stu@Laptop.local"}).status_code == 201
    # a teammate says it is theirs: refused, but recorded for the chair
    r = mate.post(base + "/identities", json={"email": "stu@laptop.local"})
    assert r.status_code == 409 and r.json()["code"] == "identity-disputed"
    claim = db.exec(select(IdentityClaim)).one()
    db.refresh(claim)
    assert claim.member_id == cast["members"]["student"].id and claim.disputed_by == mate_m.id
    assert chair.get(base).json()["claims"][0]["disputed_by"] == mate_m.id
    # the chair settles it for the teammate
    r = chair.post(base + "/identities", json={"email": "stu@laptop.local", "member_id": mate_m.id})
    assert r.status_code == 201 and r.json()["origin"] == "chair"
    db.refresh(claim)
    assert claim.member_id == mate_m.id and claim.disputed_by is None
    # the student no longer owns it, so cannot withdraw it; the teammate can
    assert student.delete(base + "/identities/stu@laptop.local").status_code == 404
    assert mate.delete(base + "/identities/stu@laptop.local").status_code == 204
    assert db.exec(select(IdentityClaim)).all() == []
    # bad input: not an email; a chair mapping to someone outside the group
    assert student.post(base + "/identities", json={"email": "x"}).status_code == 422
    r = chair.post(base + "/identities", json={"email": "a@b.c", "member_id": cast["members"]["loner"].id})
    assert r.status_code == 422 and "member of the submitting group" in r.json()["detail"]
    # outside the group: nothing to read, nothing to claim
    for who in ("reviewer", "loner"):
        c = as_user(cast[who])
        assert c.get(base).status_code in (403, 404)
        assert c.post(base + "/identities", json={"email": "z@uni.example"}).status_code in (403, 404)
    # a member cannot map (member_id) or claim for someone else
    assert student.post(base + "/identities", json={"email": "q@uni.example", "member_id": mate_m.id}).status_code == 403
    assert db.exec(select(IdentityClaim)).all() == []
