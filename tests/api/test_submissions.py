"""Submissions through the API: metadata, PDF revisions with the format check, artifacts, bad input."""

import io
import subprocess
import tarfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4, letter
from reportlab.pdfgen import canvas
from sqlmodel import func, select

from app.models import Artifact, Revision, Submission

LOREM = ("We measure the latency of an int8 keyword spotting network on a Cortex-M4 microcontroller and compare "
         "it with the float baseline across several compiler settings and memory layouts in detail.")


def make_pdf(pages: int = 6, *, size=letter, author: str | None = None, left: float = 108, width: float = 396,  # noqa: ANN001
             title: str = "Fast Int8 Keyword Spotting on Microcontrollers", body: str = LOREM) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=size)
    if author:
        c.setAuthor(author)
    c.setTitle(title)
    for page in range(1, pages + 1):
        y = size[1] - 72
        if page == 1:
            c.setFont("Times-Bold", 17)
            c.drawCentredString(left + width / 2, y, title)
            y -= 40
            c.setFont("Times-Roman", 10)
            c.drawCentredString(left + width / 2, y, "Anonymous Author(s)")
            y -= 30
            c.drawCentredString(left + width / 2, y, "Abstract")
            y -= 20
        if page == pages:
            c.setFont("Times-Bold", 12)
            c.drawString(left, y, "References")
            y -= 20
        c.setFont("Times-Roman", 10)
        words = body.split()
        while y > 90:
            line, i = "", 0
            while i < len(words) and c.stringWidth(line + " " + words[i], "Times-Roman", 10) < width:
                line = (line + " " + words[i]).strip()
                i += 1
            c.drawString(left, y, line)
            y -= 12
        c.drawCentredString(size[0] / 2, 40, str(page))
        c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture
def venue_cast(make):  # noqa: ANN001, ANN201
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    return venue, cast


def _create(client, venue, title="Fast Int8 Keyword Spotting on Microcontrollers"):  # noqa: ANN001, ANN202
    return client.post(f"/api/v1/venues/{venue.slug}/submissions",
                       json={"title": title, "abstract": LOREM, "keywords": ["TinyML", "int8", "tinyml"]})


def _upload(client, venue, number, data: bytes, name="paper.pdf"):  # noqa: ANN001, ANN202
    return client.post(f"/api/v1/venues/{venue.slug}/submissions/{number}/revisions",
                       files={"file": (name, data, "application/pdf")})


def _blob_files(settings) -> int:  # noqa: ANN001
    root = Path(settings.data_dir) / "blobs"
    return sum(1 for p in root.rglob("*") if p.is_file() and "tmp" not in p.parts) if root.exists() else 0


def test_submit_metadata_and_revisions(venue_cast, as_user, make, db, settings):  # noqa: ANN001
    venue, cast = venue_cast
    student = as_user(cast["student"])
    r = _create(student, venue)
    assert r.status_code == 200, r.text
    sub = r.json()
    assert sub["number"] == 1 and sub["keywords"] == ["TinyML", "int8"] and sub["group_name"] == "Team Alpha"
    other_group = make.group(venue, "Beta", size=0)
    u, _ = make.member(venue, group=other_group)
    db.commit()
    assert _create(as_user(u), venue, "Federated Things").json()["number"] == 2
    first = _upload(student, venue, 1, make_pdf(6))
    assert first.status_code == 201, first.text
    rep = first.json()["format_report"]
    assert rep["pages_total"] == 6 and rep["paper_size"] == "letter"
    second = _upload(student, venue, 1, make_pdf(7))
    assert second.status_code == 201
    revs = student.get(f"/api/v1/venues/{venue.slug}/submissions/1/revisions").json()
    assert [r["pages_total"] for r in revs] == [7, 6] and [r["current"] for r in revs] == [True, False]
    assert student.get(f"/api/v1/venues/{venue.slug}/submissions/1").json()["current_revision"]["pages_total"] == 7
    # Another group cannot see it; staff can.
    assert as_user(u).get(f"/api/v1/venues/{venue.slug}/submissions/1").status_code == 404
    assert len(as_user(cast["ta"]).get(f"/api/v1/venues/{venue.slug}/submissions").json()) == 2
    assert as_user(cast["loner"]).post(f"/api/v1/venues/{venue.slug}/submissions",
                                       json={"title": "No group"}).status_code == 403


def test_reviewer_copy_has_no_author_metadata(venue_cast, as_user, db):  # noqa: ANN001
    venue, cast = venue_cast
    student = as_user(cast["student"])
    _create(student, venue)
    rev = _upload(student, venue, 1, make_pdf(5, author="Stu Dent")).json()
    assert any(f["code"] == "metadata" for f in rev["format_report"]["findings"])
    base = f"/api/v1/venues/{venue.slug}/submissions/1/revisions/{rev['id']}/pdf"
    scrubbed = PdfReader(io.BytesIO(student.get(base).content))
    assert not (scrubbed.metadata or {}).get("/Author")
    original = PdfReader(io.BytesIO(as_user(cast["chair"]).get(base + "?copy=original").content))
    assert original.metadata["/Author"] == "Stu Dent"
    assert len(scrubbed.pages) == 5


@pytest.mark.parametrize(("data", "status", "message"), [
    (b"", 422, "empty"),
    (b"PK\x03\x04" + b"\x00" * 200, 422, "not a PDF: it is a zip archive or Word"),
    (b"hello, this is text", 422, "not a PDF"),
    ("truncated", 422, "cannot be read"),
    ("encrypted", 422, "cannot be read"),
])
def test_bad_pdfs_are_refused_and_store_nothing(venue_cast, as_user, db, settings, data, status, message):  # noqa: ANN001
    venue, cast = venue_cast
    student = as_user(cast["student"])
    _create(student, venue)
    assert _upload(student, venue, 1, make_pdf(3)).status_code == 201
    blobs_before = _blob_files(settings)
    if data == "truncated":
        data = make_pdf(3)[:700]
    elif data == "encrypted":
        w = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(2))))
        w.encrypt("secret")
        out = io.BytesIO()
        w.write(out)
        data = out.getvalue()
    r = _upload(student, venue, 1, data)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]
    assert _blob_files(settings) == blobs_before
    assert db.exec(select(func.count()).select_from(Revision)).one() == 1


def test_too_large_upload_is_refused(venue_cast, as_user, db, settings):  # noqa: ANN001
    venue, cast = venue_cast
    settings.pdf_max_bytes = 200_000
    student = as_user(cast["student"])
    _create(student, venue)
    r = _upload(student, venue, 1, b"%PDF-1.4\n" + b"0" * 400_000)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    assert db.exec(select(func.count()).select_from(Revision)).one() == 0


def test_late_upload_is_refused_and_extension_reopens(venue_cast, as_user, db):  # noqa: ANN001
    venue, cast = venue_cast
    student = as_user(cast["student"])
    _create(student, venue)
    assert _upload(student, venue, 1, make_pdf(4)).status_code == 201
    from app.models import Deadline

    deadline = db.exec(select(Deadline).where(Deadline.venue_id == venue.id)).one()
    deadline.due_at = datetime.now(UTC) - timedelta(minutes=1)
    db.add(deadline)
    db.commit()
    r = _upload(student, venue, 1, make_pdf(5))
    assert r.status_code == 409 and "deadline" in r.json()["detail"] and "latest on-time revision counts" in \
        r.json()["detail"]
    assert _create(student, venue, "A new title").status_code == 409
    assert db.exec(select(Submission)).one().title.startswith("Fast Int8")
    revs = student.get(f"/api/v1/venues/{venue.slug}/submissions/1/revisions").json()
    assert [r["pages_total"] for r in revs] == [4]
    from app.services.extensions import decide_extension, request_extension

    ext = request_extension(db, cast["student"], venue, cast["group"].id, "The GPU cluster was down all week.")
    decide_extension(db, cast["chair"], venue, ext, grant=True, new_due_at=datetime.now(UTC) + timedelta(days=1))
    db.commit()
    assert _upload(student, venue, 1, make_pdf(5)).status_code == 201


def test_mandatory_format_blocks_a_bad_pdf(venue_cast, as_user, db, settings):  # noqa: ANN001
    venue, cast = venue_cast
    venue.format_mandatory = True
    db.add(venue)
    db.commit()
    student = as_user(cast["student"])
    _create(student, venue)
    blobs_before = _blob_files(settings)
    r = _upload(student, venue, 1, make_pdf(4, size=A4, left=72, width=451))
    assert r.status_code == 422 and "does not meet the submission format" in r.json()["detail"]
    codes = {f["code"] for f in r.json()["details"]["findings"]}
    assert "paper-size" in codes
    assert _blob_files(settings) == blobs_before


def _git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Stu Dent", "GIT_AUTHOR_EMAIL": "stu@uni.example", "GIT_COMMITTER_NAME": "Stu Dent",
           "GIT_COMMITTER_EMAIL": "stu@uni.example", "HOME": str(cwd), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def _repo(tmp_path: Path) -> tuple[str, str]:
    work = tmp_path / "work"
    work.mkdir()
    _git(work, "init", "-q", "-b", "main")
    (work / "README.md").write_text("# Int8 KWS\nBy Stu Dent (stu@uni.example). Run `python bench.py`.\n")
    (work / "bench.py").write_text("import json\njson.dump({'accuracy': 0.91}, open('m.json', 'w'))\n")
    (work / "reproduce.toml").write_text(
        '[artifact]\nrig = "local"\ntimeout = "5m"\n\n[[experiment]]\nid = "E1"\ncommand = "python bench.py"\n'
        'metrics = "m.json"\n\n[[claim]]\nid = "C1"\ntext = "91 % accuracy"\nexperiment = "E1"\n'
        'metric = "accuracy"\nvalue = 0.91\ndirection = "at_least"\ntolerance = 0.01\n')
    _git(work, "add", ".")
    _git(work, "commit", "-q", "-m", "first")
    commit = _git(work, "rev-parse", "HEAD")
    bare = tmp_path / "repo.git"
    _git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    return str(bare), commit


def test_git_artifact_snapshot_and_anonymized_view(venue_cast, as_user, tmp_path, db):  # noqa: ANN001
    venue, cast = venue_cast
    student = as_user(cast["student"])
    _create(student, venue)
    url, commit = _repo(tmp_path)
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/git",
                     json={"repo_url": url, "commit": commit})
    assert r.status_code == 201, r.text
    art = r.json()
    assert art["manifest_ok"] is True and art["file_count"] == 3
    files = {f["path"] for f in student.get(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/files").json()}
    assert files == {"README.md", "bench.py", "reproduce.toml"}
    readme = student.get(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/files/README.md").text
    assert "Stu Dent" not in readme and "stu@uni.example" not in readme and "python bench.py" in readme
    original = student.get(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/files/README.md?view=original")
    assert "Stu Dent" in original.text
    bad = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/git",
                       json={"repo_url": url, "commit": "0" * 40})
    assert bad.status_code == 422 and "does not exist" in bad.json()["detail"]
    assert db.exec(select(func.count()).select_from(Artifact)).one() == 1


def test_archive_artifacts_and_hostile_archives(venue_cast, as_user, db, settings):  # noqa: ANN001
    venue, cast = venue_cast
    student = as_user(cast["student"])
    _create(student, venue)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("project/README.md", "hello")
        z.writestr("project/reproduce.toml", '[artifact]\nrig = "local"\ncomand = "x"\n')
    blobs_before = _blob_files(settings)
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/archive",
                     files={"file": ("code.zip", buf.getvalue(), "application/zip")})
    assert r.status_code == 422, r.text
    assert "line 3" in r.json()["detail"] and "comand" in r.json()["detail"]
    assert _blob_files(settings) == blobs_before
    assert db.exec(select(func.count()).select_from(Artifact)).one() == 0
    ok = io.BytesIO()
    with zipfile.ZipFile(ok, "w") as z:
        z.writestr("project/README.md", "hello")
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/archive",
                     files={"file": ("code.zip", ok.getvalue(), "application/zip")})
    assert r.status_code == 201 and r.json()["manifest_ok"] is False
    assert "No reproduce.toml" in r.json()["manifest_errors"][0]["message"]
    blobs_before = _blob_files(settings)
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as t:
        data = b"owned"
        info = tarfile.TarInfo("../../etc/evil")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/archive",
                     files={"file": ("code.tar.gz", evil.getvalue(), "application/gzip")})
    assert r.status_code == 422 and "../../etc/evil" in r.json()["detail"]
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", b"\0" * (60 * 1024 * 1024))
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/archive",
                     files={"file": ("bomb.zip", bomb.getvalue(), "application/zip")})
    assert r.status_code == 422
    assert _blob_files(settings) == blobs_before
    assert db.exec(select(func.count()).select_from(Artifact)).one() == 1
