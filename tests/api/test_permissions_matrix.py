"""Every API endpoint as every role: allowed roles get through, the others get 401/403/404, never a 500."""

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

ROLES = ["anonymous", "outsider", "loner", "student", "reviewer", "ta", "chair", "admin"]
FUTURE = (datetime.now(UTC) + timedelta(days=30)).isoformat()

# (method, path template, json/body builder, roles allowed). {slug}, {member}, {group}, {ext} are filled per case.
CASES = [
    ("GET", "/api/v1/venues/{slug}", None, {"loner", "student", "reviewer", "ta", "chair", "admin"}),
    ("PATCH", "/api/v1/venues/{slug}", {"title": "Renamed"}, {"chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/phase", {"phase": "assignment"}, {"chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/deadlines", None, {"loner", "student", "reviewer", "ta", "chair", "admin"}),
    ("PUT", "/api/v1/venues/{slug}/deadlines/review", {"due_at": FUTURE}, {"chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/members", None, {"ta", "chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/members", {"email": "new.person@uni.example", "full_name": "New Person"},
     {"chair", "admin"}),
    ("PATCH", "/api/v1/venues/{slug}/members/{member}", {"role": "reviewer"}, {"chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/roster", "roster", {"chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/groups", None, {"loner", "student", "reviewer", "ta", "chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/groups", {"name": "Brand New"}, {"loner", "ta", "chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/groups/join", {"code": "{code}"}, {"loner"}),
    ("POST", "/api/v1/venues/{slug}/groups/leave", None, {"student"}),
    ("POST", "/api/v1/venues/{slug}/groups/move", {"member_id": "{member}", "group_id": None},
     {"ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/groups/{group}", None, {"student", "ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/extensions", None, {"loner", "student", "reviewer", "ta", "chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/extensions", {"reason": "Our GPU quota ran out this week."}, {"student"}),
    ("POST", "/api/v1/venues/{slug}/extensions/{ext}/decision", {"grant": False}, {"ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/audit", None, {"ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/submissions", None, {"loner", "student", "reviewer", "ta", "chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/submissions", {"title": "A Better Title"}, {"student"}),
    ("GET", "/api/v1/venues/{slug}/submissions/1", None, {"student", "ta", "chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/submissions/1/revisions", "pdf", {"student"}),
    ("GET", "/api/v1/venues/{slug}/submissions/1/revisions", None, {"student", "ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/submissions/1/revisions/{rev}/pdf", None, {"student", "ta", "chair", "admin"}),
    ("POST", "/api/v1/venues/{slug}/submissions/1/artifact/git", {"repo_url": "{repo}", "commit": "{commit}"},
     {"student"}),
    ("POST", "/api/v1/venues/{slug}/submissions/1/artifact/archive", "zip", {"student"}),
    ("GET", "/api/v1/venues/{slug}/submissions/1/artifact/files", None, {"student", "ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/submissions/1/artifact/files/README.md", None,
     {"student", "ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/submissions/1/claims", None, {"student", "ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/submissions/1/badges", None, {"student", "ta", "chair", "admin"}),
    ("PUT", "/api/v1/venues/{slug}/submissions/1/badges/available", {"granted": True, "reason": "Checked by hand."},
     {"chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/conflicts", None, {"loner", "student", "reviewer", "ta", "chair", "admin"}),
    ("GET", "/api/v1/venues/{slug}/interests", None, {"loner", "student", "reviewer", "ta", "chair"}),
    ("PUT", "/api/v1/venues/{slug}/interests", {"items": ["int8 inference on microcontrollers"]},
     {"loner", "student", "reviewer", "ta", "chair"}),
    ("GET", "/api/v1/venues/{slug}/bids", None, set()),  # bidding opens in the assignment phase only
]


def _fill(value, ids):  # noqa: ANN001, ANN202
    if isinstance(value, str):
        filled = value.format(**ids)
        return int(filled) if value == "{member}" else filled
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory):  # noqa: ANN001, ANN201
    from tests.api.test_submissions import _repo

    return _repo(tmp_path_factory.mktemp("repo"))


def _code_zip() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("README.md", "code")
    return buf.getvalue()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "allowed"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_endpoint_as_role(make, as_user, app, db, settings, shared_repo, role, method, path, body, allowed):  # noqa: ANN001
    from app.services.extensions import request_extension
    from tests.api.test_submissions import make_pdf

    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    ext = request_extension(db, cast["student"], venue, cast["group"].id, "An existing request for decision.") \
        if "{ext}" in path else None
    # The target of member operations: the ungrouped student (or a grouped one for "move").
    target = cast["members"]["student"] if "move" in path else cast["members"]["loner"]
    rev_id, repo, commit = 0, "", ""
    if "/submissions/1" in path:
        from app.services import submissions as subs

        sub = subs.save_submission(db, cast["student"], venue, cast["members"]["student"], title="Paper One",
                                   abstract="", keywords=[])
        rev_id = subs.upload_revision(db, settings, cast["student"], venue, sub, make_pdf(2), "p.pdf").id
        repo, commit = shared_repo
        subs.artifact_from_archive(db, settings, cast["student"], venue, sub, _code_zip(), "code.zip")
    db.commit()
    ids = {"slug": venue.slug, "member": target.id, "group": cast["group"].id, "ext": ext.id if ext else 0,
           "code": cast["group"].join_code, "rev": rev_id, "repo": repo, "commit": commit}
    client = TestClient(app) if role == "anonymous" else as_user(cast[role])
    url = path.format(**ids)
    if body == "pdf":
        r = client.request(method, url, files={"file": ("p.pdf", make_pdf(3), "application/pdf")})
    elif body == "zip":
        r = client.request(method, url, files={"file": ("code.zip", _code_zip(), "application/zip")})
    elif body == "roster":
        r = client.request(method, url, files={"file": ("r.csv", b"Email address,First name,Last name\n"
                                                                   b"x.y@uni.example,X,Y\n", "text/csv")})
    else:
        r = client.request(method, url, json=_fill(body, ids) if body is not None else None)
    assert r.status_code < 500, r.text
    if role == "anonymous":
        assert r.status_code == 401
    elif role == "outsider":
        assert r.status_code == 404
    elif role in allowed:
        assert r.status_code in (200, 201, 204), (role, r.status_code, r.text)
    else:
        assert r.status_code in (403, 404), (role, r.status_code, r.text)
        assert "detail" in r.json()


def _api_routes(app) -> set[tuple[str, str]]:  # noqa: ANN001
    """Every (method, path) of the JSON API, read from the OpenAPI description (app.routes nests routers)."""
    return {(method.upper(), path) for path, ops in app.openapi()["paths"].items() if path.startswith("/api/v1")
            for method in ops}


def test_every_api_route_is_in_the_matrix_or_covered_elsewhere(app):  # noqa: ANN001
    covered = {(m, p.replace("{member}", "{member_id}").replace("{group}", "{group_id}")
                .replace("{ext}", "{extension_id}").replace("/deadlines/review", "/deadlines/{kind}").replace("/submissions/1", "/submissions/{number}")
                .replace("{rev}", "{revision_id}").replace("/files/README.md", "/files/{path}")
                .replace("/badges/available", "/badges/{badge}")) for m, p, _, _ in CASES}
    elsewhere = {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session"), ("GET", "/api/v1/me"),
                 ("GET", "/api/v1/csrf"), ("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"),
                 ("DELETE", "/api/v1/tokens/{token_id}"), ("POST", "/api/v1/password/forgot"),
                 ("POST", "/api/v1/password/reset"), ("GET", "/api/v1/venues"), ("POST", "/api/v1/venues")}
    # tests/api/test_assignments.py checks these per role (they need submissions with text to embed).
    elsewhere |= {("POST", "/api/v1/venues/{slug}/assignment/solve"), ("GET", "/api/v1/venues/{slug}/assignments"),
                  ("POST", "/api/v1/venues/{slug}/assignments"), ("POST", "/api/v1/venues/{slug}/assignments/import"),
                  ("GET", "/api/v1/venues/{slug}/assignments/export"), ("PUT", "/api/v1/venues/{slug}/bids/{number}"),
                  ("POST", "/api/v1/venues/{slug}/conflicts"), ("POST", "/api/v1/venues/{slug}/conflicts/import"),
                  ("POST", "/api/v1/venues/{slug}/assignment/jobs"),
                  ("GET", "/api/v1/venues/{slug}/assignment/jobs/{job_id}"),
                  ("POST", "/api/v1/venues/{slug}/assignment/jobs/{job_id}/apply"),
                  ("GET", "/api/v1/venues/{slug}/assignments/explain")}
    # tests/api/test_runs.py checks changing claims per role (they need an artifact with a reproduce.toml).
    elsewhere |= {("POST", "/api/v1/venues/{slug}/submissions/{number}/claims"),
                  ("PUT", "/api/v1/venues/{slug}/submissions/{number}/claims/{claim_id}"),
                  ("DELETE", "/api/v1/venues/{slug}/submissions/{number}/claims/{claim_id}")}
    # tests/api/test_runs.py checks the run and rig endpoints per role (rigs authenticate with rig tokens).
    elsewhere |= {(m, p) for m, p in _api_routes(app) if "/runs" in p or "/rig" in p}
    # tests/api/test_notifications.py checks these (anonymous 401; each person reads and changes only their own).
    elsewhere |= {("GET", "/api/v1/me/notifications"), ("PUT", "/api/v1/me/notifications"),
                  ("GET", "/api/v1/me/calendar-url")}
    # tests/api/test_review_permissions.py checks the review endpoints per role and per phase.
    from tests.api.test_review_permissions import REVIEW_ROUTES

    elsewhere |= REVIEW_ROUTES
    routes = _api_routes(app)
    assert len(routes) > 40  # the enumeration itself works
    missing = routes - covered - elsewhere
    assert not missing, f"API routes without permission tests: {sorted(missing)}"


def test_openapi_documents_the_api(client):  # noqa: ANN001
    spec = client.get("/openapi.json").json()
    assert "/api/v1/venues/{slug}/roster" in spec["paths"]
    assert not any(p.startswith("/venues") for p in spec["paths"])  # pages are not in the API docs
