"""In a real browser: an author uploads a code archive on the submission page, opens the tree browser, expands
a directory and reads a file, anonymized by default and original after switching the view."""

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.models import Deadline, Group, Member, User, Venue
from app.security.passwords import hash_password
from tests.e2e.conftest import register_and_upload_archive, sign_in

pytestmark = pytest.mark.e2e


def _seed(engine) -> None:  # noqa: ANN001
    with Session(engine) as s:
        venue = Venue(slug="art-e2e", title="Artifacts E2E", timezone="Europe/London", phase="submission")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=3)))
        group = Group(venue_id=venue.id, name="Team Browse", join_code="BROWSE22")
        user = User(email="ines.quarrington@uni.example", full_name="Ines Quarrington",
                    password_hash=hash_password("browse pass 1"))
        s.add_all([group, user])
        s.flush()
        s.add(Member(venue_id=venue.id, user_id=user.id, group_id=group.id))
        s.commit()


def _code_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("kws/README.md", "# KWS\n\nBy Ines Quarrington.\n")
        z.writestr("kws/src/train.py", "# author: Ines Quarrington <ines.quarrington@uni.example>\n"
                                       "import json\nprint('<i>training</i>')\n")
        z.writestr("kws/reproduce.toml", '[artifact]\nrig = "local"\ntimeout = "5m"\n\n[[experiment]]\nid = "E1"\n'
                                         'command = "python src/train.py"\nmetrics = "m.json"\n')
    return buf.getvalue()


def test_author_uploads_an_archive_and_browses_it(live_server, page, tmp_path):  # noqa: ANN001
    _seed(live_server.engine)
    url = live_server.url
    sign_in(page, url, "ines.quarrington@uni.example", "browse pass 1")
    archive = tmp_path / "code.zip"
    archive.write_bytes(_code_zip())
    register_and_upload_archive(page, url, "art-e2e", "Keyword Spotting on a Budget", archive)
    page.wait_for_selector("#flashes >> text=Code snapshot stored (3 files)")

    page.click("#browse-files")
    page.wait_for_selector("#artifact-tree")
    assert "Anonymized view" in page.inner_text("#artifact-view")
    src = page.locator("details#src")
    assert src.get_attribute("open") is not None
    page.click("details#src > summary")  # collapse, then open again: plain <details>, no script needed
    assert src.get_attribute("open") is None
    assert not page.is_visible("text=train.py")
    page.click("details#src > summary")
    page.click("#artifact-tree >> text=train.py")
    page.wait_for_selector("#file-content")
    assert page.url.endswith("/venues/art-e2e/submissions/1/artifact/src/train.py")
    code = page.inner_text("#file-content")
    assert "[anonymized]" in code and "Quarrington" not in code and "<i>training</i>" in code
    assert page.locator("#file-content .line").count() == 3
    assert page.inner_text("#L3 .ln") == "3"

    page.click("#view-switch")
    page.wait_for_selector("text=Original view")
    assert "Ines Quarrington <ines.quarrington@uni.example>" in page.inner_text("#file-content")
    with page.expect_download() as info:
        page.click("#download")
    assert info.value.suggested_filename == "train.py"
    assert "Quarrington" in open(info.value.path(), encoding="utf-8").read()
