"""The reproreview command: db upgrade, demo data, roster import, create-admin, start-up refusal."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.db import make_engine
from app.main import create_app
from app.migrate import DatabaseNotMigrated
from app.models import Group, Member, User, Venue
from app.models.assignment import AssignmentSettings
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], data_dir: Path, **env) -> subprocess.CompletedProcess:  # noqa: ANN003
    e = {**os.environ, "REPROREVIEW_DATA_DIR": str(data_dir), **env}
    e.pop("REPROREVIEW_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=120)


def test_app_refuses_to_start_on_an_unmigrated_database(tmp_path):  # noqa: ANN001
    settings = Settings(data_dir=tmp_path, secret_key="k", _env_file=None)
    app = create_app(settings)
    with pytest.raises(DatabaseNotMigrated, match="reproreview db upgrade"):
        with TestClient(app):
            pass
    r = _run(["serve", "--port", "8999"], tmp_path)
    assert r.returncode == 2 and "has no schema" in r.stderr and "reproreview db upgrade" in r.stderr


def test_demo_creates_a_realistic_course_once(tmp_path):  # noqa: ANN001
    r = _run(["demo", "--no-serve", "--port", "8123"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "reproreview-demo" in r.stdout and "ada.lovelace@uni.example" in r.stdout
    # links in mails follow --port when no base URL is configured (the demo's discussion posts mailed people)
    mails = [p.read_text() for p in (tmp_path / "outbox").glob("*.eml")]
    assert mails and all("http://127.0.0.1:8123/" in m and "127.0.0.1:8000" not in m for m in mails)
    r2 = _run(["demo", "--no-serve", "--port", "8124"], tmp_path, REPROREVIEW_BASE_URL="https://review.uni.example")
    assert r2.returncode == 0
    assert "use https://review.uni.example" in r2.stdout  # a configured base URL wins over --port
    engine = make_engine(f"sqlite:///{tmp_path / 'reproreview.db'}")
    with Session(engine) as s:
        venue, last_term, finished = s.exec(select(Venue).order_by(Venue.id)).all()
        assert venue.title == "MLSys 2026" and last_term.phase == "moderation" and finished.phase == "released"
        roles = dict(s.exec(select(Member.role, func.count()).where(Member.venue_id == venue.id)
                            .group_by(Member.role)).all())
        assert roles == {"student": 60, "chair": 2, "ta": 2}
        sizes = s.exec(select(func.count()).select_from(Member).where(Member.group_id != None,  # noqa: E711
                                                                      Member.venue_id == venue.id)
                       .group_by(Member.group_id)).all()
        assert len(sizes) == 20 and all(2 <= n <= 4 for n in sizes)
        assert s.exec(select(func.count()).select_from(Group).where(Group.venue_id == venue.id)).one() == 20
        from app.models import Review, Submission

        assert s.exec(select(func.count()).select_from(Submission).where(Submission.venue_id == venue.id)).one() == 18
        statuses = s.exec(select(Review.status, func.count()).where(Review.venue_id == last_term.id)
                          .group_by(Review.status)).all()
        assert dict(statuses) == {"submitted": 17, "draft": 1}
    # Each demo login sees its own dashboard.
    app = create_app(Settings(data_dir=tmp_path, _env_file=None), engine=engine)
    with TestClient(app) as c:
        for email, marker in [("ada.lovelace@uni.example", "Audit log"), ("grace.hopper@uni.example", "Roster")]:
            c.cookies.clear()
            c.post("/api/v1/session", json={"email": email, "password": "reproreview-demo"})
            assert marker in c.get("/venues/mlsys-2026").text
        student = next(w for line in r.stdout.splitlines() if "student in a group" in line
                       for w in line.split() if "@" in w)
        c.cookies.clear()
        assert c.post("/api/v1/session", json={"email": student, "password": "reproreview-demo"}).status_code == 200
        assert "Your group" in c.get("/venues/mlsys-2026").text
        # last term: the author reads #1's reviews under pseudonyms, with the response and the discussion
        author = next(w for line in r.stdout.splitlines() if "author (last term)" in line for w in line.split()
                      if "@" in w)
        c.cookies.clear()
        assert c.post("/api/v1/session", json={"email": author, "password": "reproreview-demo"}).status_code == 200
        reviews = c.get("/api/v1/venues/mlsys-2025/submissions/1/reviews").json()
        assert sorted(v["reviewer"] for v in reviews) == ["Reviewer A", "Reviewer B", "Reviewer C"]
        assert all(v["my_rating"] for v in reviews)
        page = c.get("/venues/mlsys-2025/submissions/1/reviews").text
        assert "Thank you for the careful reviews" in page
        assert "should count against the reproducibility score" not in page  # the reviewers-only post
        # the finished venue: its student reads their released marks and the lecturer's feedback
        finished_student = next(w for line in r.stdout.splitlines() if "(MLSys 2024)" in line for w in line.split()
                                if "@" in w)
        c.cookies.clear()
        assert c.post("/api/v1/session", json={"email": finished_student,
                                                "password": "reproreview-demo"}).status_code == 200
        mine = c.get("/api/v1/venues/mlsys-2024/marks")
        assert mine.status_code == 200, mine.text
        assert "Total" in c.get("/venues/mlsys-2024/marks").text
    assert (tmp_path / "exports" / "mlsys-2024-marks-moodle.csv").read_text().startswith("ID number,Email address")


def test_import_roster_and_create_admin_commands(tmp_path):  # noqa: ANN001
    assert _run(["db", "upgrade"], tmp_path).returncode == 0
    r = _run(["create-admin", "boss@uni.example", "--name", "The Boss"], tmp_path,
             REPROREVIEW_ADMIN_PASSWORD="a very good password")
    assert r.returncode == 0, r.stderr
    engine = make_engine(f"sqlite:///{tmp_path / 'reproreview.db'}")
    with Session(engine) as s:
        s.add(Venue(slug="ml-101", title="ML 101"))
        s.commit()
    csv = tmp_path / "roster.csv"
    csv.write_text("First name;Last name;Email address\nAna;Li;ana.li@uni.example\n")
    r = _run(["import-roster", str(csv), "--venue", "ml-101"], tmp_path)
    assert r.returncode == 0 and "1 created" in r.stdout
    r = _run(["import-roster", str(csv), "--venue", "ml-101"], tmp_path)
    assert "1 unchanged" in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("First name,Last name\nA,B\n")
    r = _run(["import-roster", str(bad), "--venue", "ml-101"], tmp_path)
    assert r.returncode == 2 and "no email column" in r.stderr
    r = _run(["import-roster", str(csv), "--venue", "nope"], tmp_path)
    assert r.returncode == 2 and "no venue 'nope'" in r.stderr
    with Session(engine) as s:
        assert s.exec(select(User).where(User.email == "boss@uni.example")).one().is_admin
        assert s.exec(select(func.count()).select_from(Member)).one() == 1


def test_assign_dry_run_json_bad_input_and_a_real_run(tmp_path):  # noqa: ANN001
    """`reproreview assign`: --dry-run --json changes nothing and lists the pairs; bad flags exit 2 with the
    reason (as JSON on stdout with --json), never a traceback; a real run saves the pairs, with a progress bar."""
    from app.migrate import upgrade
    from app.models import Assignment
    from app.services.submissions import save_submission
    from tests.factories import Factory

    url = f"sqlite:///{tmp_path / 'rr.db'}"
    upgrade(url)
    engine = make_engine(url)
    topics = [("Int8 keyword spotting on a Cortex-M4", "TFLite Micro on the Nano 33 BLE Sense."),
              ("ZeRO sharding for data-parallel training", "Optimizer state sharded over 8 GPUs with NCCL."),
              ("Fused softmax in Triton", "A CUDA kernel study of memory coalescing and occupancy.")]
    with Session(engine, expire_on_commit=False) as db:
        make = Factory(db)
        venue = make.venue(phase="submission")
        # two or three groups reviewing each other: the course options (tests/api/test_assignment_options.py) off
        db.add(AssignmentSettings(venue_id=venue.id, one_reviewer_per_group=False, no_reciprocal_groups=False,
                                  every_student_reviews=False))
        for i, (title, abstract) in enumerate(topics):
            grp = make.group(venue, f"Team {i}")
            members = [make.member(venue, "student", group=grp, name=f"Student {i}{x}") for x in "ab"]
            save_submission(db, members[0][0], venue, members[0][1], title=title, abstract=abstract, keywords=[])
        venue.phase = "assignment"
        db.add(venue)
        db.commit()
        slug = venue.slug

    env = {**os.environ, "REPROREVIEW_DATA_DIR": str(tmp_path / "data"), "REPROREVIEW_DATABASE_URL": url,
           "HF_HUB_OFFLINE": "1"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)

    def assign(*flags: str) -> subprocess.CompletedProcess:
        return cli("assign", "--venue", slug, *flags)

    def saved() -> int:
        with Session(engine) as db:
            return db.exec(select(func.count()).select_from(Assignment)).one()

    dry = assign("--k", "2", "--max-load", "2", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    out = json.loads(dry.stdout)
    assert out["dry_run"] is True and out["stats"]["added"] == 6 and len(out["pairs"]) == 6
    assert all(0 <= p["affinity"] <= 1 for p in out["pairs"]) and saved() == 0
    for flags, words in ((["--min-load", "-1"], "min load cannot be negative"), (["--max-load", "0"], "max load"),
                         (["--k", "9"], "only 6 reviewer(s)"), (["--venue", "nope"], "")):
        bad = cli("assign", *flags) if flags[0] == "--venue" else assign(*flags, "--json")
        assert bad.returncode == 2 and "Traceback" not in bad.stderr and words in bad.stderr, (flags, bad.stderr)
        if flags[0] != "--venue":
            assert words in json.loads(bad.stdout)["error"]
        assert saved() == 0
    real = assign("--k", "2", "--max-load", "2")
    assert real.returncode == 0, real.stderr
    assert "embedding texts [" in real.stderr and "6 added" in real.stdout and saved() == 6
    engine.dispose()


def test_base_url_follows_the_served_address_unless_configured(tmp_path, monkeypatch):  # noqa: ANN001
    from app.cli import _base_url_follows
    from app.services.notifications.calendar import calendar_url
    from app.settings import get_settings

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("REPROREVIEW_BASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        assert _base_url_follows("0.0.0.0", 8080) == "http://127.0.0.1:8080"  # a wildcard bind: the local address
        assert get_settings().base_url == "http://127.0.0.1:8080"
        monkeypatch.delenv("REPROREVIEW_BASE_URL")  # what the call above set for the served process
        get_settings.cache_clear()
        assert _base_url_follows("::1", 9000) == "http://[::1]:9000"
        monkeypatch.setenv("REPROREVIEW_BASE_URL", "https://review.uni.example")
        get_settings.cache_clear()
        assert _base_url_follows("127.0.0.1", 8123) == "https://review.uni.example"  # configured: kept
        user = User(id=1, email="a@uni.example", full_name="A", password_hash="x")
        assert calendar_url(get_settings(), user).startswith("https://review.uni.example/calendar/")
    finally:
        get_settings.cache_clear()
