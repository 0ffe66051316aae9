"""Answers that used to be 500s: ids above 2**63, a manifest nested thousands deep, a database that stays locked."""

import io
import re
import sqlite3
import zipfile
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlmodel import func, select

from app.main import ROUTERS
from app.models import Artifact
from app.paths import _int_path_params

HUGE = 36893488147419103233  # 2**65 + 1


@pytest.fixture
def world(make, db):  # noqa: ANN001, ANN201
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    return venue, cast


def _blob_files(settings) -> int:  # noqa: ANN001
    root = Path(settings.data_dir) / "blobs"
    return sum(1 for p in root.rglob("*") if p.is_file() and "tmp" not in p.parts) if root.exists() else 0


def test_the_issue_example_is_404_not_500(world, as_user):  # noqa: ANN001
    venue, cast = world
    chair = as_user(cast["chair"])
    r = chair.get(f"/api/v1/venues/{venue.slug}/submissions/{HUGE}")
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "not-found" and r.json()["detail"]
    # Within 64 bits but beyond PostgreSQL's INTEGER: names nothing either, on both databases.
    assert chair.get(f"/api/v1/venues/{venue.slug}/submissions/{2 ** 63 - 1}").status_code == 404
    assert chair.get(f"/api/v1/venues/{venue.slug}/submissions/{2 ** 31}").status_code == 404
    assert chair.get(f"/venues/{venue.slug}/submissions/{HUGE}").status_code == 404


def test_every_int_path_parameter_above_2_63_is_404(app, world, as_user, browser_login):  # noqa: ANN001
    venue, cast = world
    api = as_user(cast["chair"])
    page = browser_login(cast["chair"])
    checked = 0
    for route in (r for module in ROUTERS for router in (module.api, module.pages) for r in router.routes):
        if not isinstance(route, APIRoute):
            continue
        ints = _int_path_params(route.dependant)
        if not ints:
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(HUGE) if m.group(1) in ints else
                      (venue.slug if m.group(1) == "slug" else "x"), route.path)
        for method in sorted(route.methods - {"HEAD"}):
            client = api if path.startswith("/api/") else page
            headers = {"x-csrf-token": page.csrf} if client is page else {}
            r = client.request(method, path, headers=headers, follow_redirects=False)
            assert r.status_code == 404, f"{method} {path}: {r.status_code} {r.text[:200]}"
            checked += 1
    assert checked > 40  # submissions, reviews, runs, members, groups, jobs, extensions, tokens …


def _zip_with_manifest(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("project/README.md", "hello")
        z.writestr("project/reproduce.toml", text)
    return buf.getvalue()


def test_a_manifest_nested_5000_deep_is_refused_and_its_blob_removed(world, as_user, db, settings):  # noqa: ANN001
    venue, cast = world
    student = as_user(cast["student"])
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions", json={"title": "Deep"}).status_code == 200
    before = _blob_files(settings)
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/archive",
                     files={"file": ("code.zip", _zip_with_manifest("x = " + "[" * 5000), "application/zip")})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "bad-input" and "nested too deeply" in r.json()["detail"]
    assert _blob_files(settings) == before
    assert db.exec(select(func.count()).select_from(Artifact)).one() == 0


def test_parse_manifest_reports_deep_nesting_as_a_manifest_error():
    from app.artifacts.manifest import ManifestError, parse_manifest

    for text in ("x = " + "[" * 5000 + "]" * 5000, "x = " + "{a = " * 3000 + "1" + "}" * 3000):
        with pytest.raises(ManifestError, match="nested too deeply"):
            parse_manifest(text)


def _locked() -> OperationalError:
    return OperationalError("UPDATE venue SET …", {}, sqlite3.OperationalError("database is locked"))


def test_database_is_locked_maps_to_503_with_retry_after(world, as_user, browser_login, monkeypatch):  # noqa: ANN001
    from app.services import venues as venue_service

    venue, cast = world

    def locked(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise _locked()

    monkeypatch.setattr(venue_service, "get_venue", locked)
    r = as_user(cast["chair"]).get(f"/api/v1/venues/{venue.slug}")
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == "2"
    assert r.json() == {"detail": "The database is busy with other changes. Try again in a moment.", "code": "busy"}
    page = browser_login(cast["chair"]).get(f"/venues/{venue.slug}")
    assert page.status_code == 503 and page.headers["retry-after"] == "2" and "busy" in page.text


def test_other_operational_errors_stay_server_errors(world, as_user, monkeypatch):  # noqa: ANN001
    from app.db import is_busy
    from app.services import venues as venue_service

    venue, cast = world
    assert is_busy(_locked())
    assert not is_busy(OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: venue")))

    def broken(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: venue"))

    monkeypatch.setattr(venue_service, "get_venue", broken)
    client = as_user(cast["chair"])
    quiet = TestClient(client.app, headers=dict(client.headers), raise_server_exceptions=False)
    assert quiet.get(f"/api/v1/venues/{venue.slug}").status_code == 500


def test_a_body_number_beyond_64_bits_is_a_422(world, as_user, db):  # noqa: ANN001
    venue, cast = world
    chair = as_user(cast["chair"])
    r = chair.post(f"/api/v1/venues/{venue.slug}/groups/move", json={"member_id": HUGE, "group_id": None})
    assert r.status_code in (404, 422), r.text  # never a driver's OverflowError
    assert r.json()["code"] in ("not-found", "bad-input")
    r = chair.post(f"/api/v1/venues/{venue.slug}/conflicts", json={"member_id": HUGE, "group_id": HUGE})
    assert r.status_code in (404, 422), r.text


def test_values_the_database_refuses_are_bad_input_not_server_errors():
    from sqlalchemy.exc import DataError

    from app.db import refused_value

    class PgDataError(Exception):
        pass

    assert "NUL" in refused_value(DataError("INSERT", {}, PgDataError(
        "PostgreSQL text fields cannot contain NUL (0x00) bytes")))
    assert "out of range" in refused_value(DataError("INSERT", {}, PgDataError("integer out of range")))
    assert "too large" in refused_value(OverflowError("Python int too large to convert to SQLite INTEGER"))
    assert refused_value(DataError("INSERT", {}, PgDataError("invalid input syntax for type json"))) is None
    assert refused_value(OverflowError("math range error")) is None
