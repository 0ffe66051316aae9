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
    ("POST", "/api/v1/venues/{slug}/copy", {"slug": "copied-venue", "title": "Copied venue"}, {"chair", "admin"}),
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
    # reviewers ask in the review phase only (per role there: tests/api/test_reviewer_extensions.py)
    ("POST", "/api/v1/venues/{slug}/extensions/review", {"reason": "Two exams this week, sorry."}, set()),
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
    ("GET", "/api/v1/venues/{slug}/submissions/1/contributions", None, {"student", "ta", "chair", "admin"}),
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


# ---- pages: every GET page as every role ----------------------------------------------------------------------
# (path template as the app declares it, url tail, expectation). The venue is in the submission phase; Team Alpha
# ("student") owns submission #1 with a PDF and a code artifact. An expectation maps roles to a status; roles not
# named get 403 for a venue page and 404 for a page of a submission they may not see (app.deps.VisibleSubmission).
MEMBERS = {"loner", "student", "reviewer", "ta", "chair"}
VENUE_SIDE = MEMBERS | {"admin"}
STAFF = {"ta", "chair", "admin"}
SEE_SUB1 = {"student", "ta", "chair", "admin"}  # who may see submission #1 in the submission phase
SUB1 = "/venues/{slug}/submissions/{number:int}"
PAGE_CASES = [
    ("/", "/", {"outsider": 200, "admin": 200, **{r: 303 for r in MEMBERS}}),  # one venue: straight to it
    ("/account", "/account", {r: 200 for r in ROLES if r != "anonymous"}),
    ("/rigs", "/rigs", {"chair": 200, "admin": 200}),
    ("/venues/{slug}", "", {r: 200 for r in VENUE_SIDE}),
    ("/venues/{slug}/settings", "/settings", {"chair": 200, "admin": 200}),
    ("/venues/{slug}/phase", "/phase?to=assignment", {"chair": 200, "admin": 200}),  # the phase checklist
    ("/venues/{slug}/roster", "/roster", {r: 200 for r in STAFF}),
    ("/venues/{slug}/groups", "/groups", {r: 200 for r in VENUE_SIDE}),
    ("/venues/{slug}/extensions", "/extensions", {r: 200 for r in VENUE_SIDE}),
    ("/venues/{slug}/audit", "/audit", {r: 200 for r in STAFF}),
    ("/venues/{slug}/submission", "/submission", {"student": 200}),
    ("/venues/{slug}/submissions", "/submissions", {r: 200 for r in STAFF}),
    (SUB1, "/submissions/1", {"ta": 200, "chair": 200, "admin": 200, "student": 303}),  # authors: their own page
    (SUB1 + "/artifact", "/submissions/1/artifact", {r: 200 for r in SEE_SUB1}),
    (SUB1 + "/artifact/{path:path}", "/submissions/1/artifact/README.md", {r: 200 for r in SEE_SUB1}),
    ("/venues/{slug}/submissions/{number}/runs", "/submissions/1/runs", {r: 200 for r in SEE_SUB1}),
    ("/venues/{slug}/submissions/{number}/runs/live", "/submissions/1/runs/live", {r: 200 for r in SEE_SUB1}),
    ("/venues/{slug}/submissions/{number}/review", "/submissions/1/review", {}),  # nobody is assigned
    ("/venues/{slug}/submissions/{number}/reviews", "/submissions/1/reviews", {r: 200 for r in STAFF}),
    ("/venues/{slug}/assignments", "/assignments", {r: 200 for r in STAFF}),
    ("/venues/{slug}/bids", "/bids", {r: 200 for r in MEMBERS}),  # interests are open in the submission phase
    ("/venues/{slug}/conflicts", "/conflicts", {r: 200 for r in VENUE_SIDE}),
    ("/venues/{slug}/reviews", "/reviews", {r: 200 for r in MEMBERS}),
    ("/venues/{slug}/review-form", "/review-form", {r: 200 for r in STAFF}),
]


def _page_status(path: str, expect: dict, role: str) -> int:
    if role in expect:
        return expect[role]
    if role == "anonymous":
        return 303  # to the sign-in page
    if role == "outsider" and path.startswith("/venues/"):
        return 404  # the venue is not there for them
    if "/submissions/{number" in path and role not in SEE_SUB1:
        return 404  # neither is a submission they may not see
    return 403


@pytest.mark.parametrize("role", ROLES)
def test_every_page_as_role(make, as_user, app, db, settings, role):  # noqa: ANN001
    from app.services import submissions as subs
    from tests.api.test_submissions import make_pdf

    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    sub = subs.save_submission(db, cast["student"], venue, cast["members"]["student"], title="Paper One",
                               abstract="", keywords=[])
    subs.upload_revision(db, settings, cast["student"], venue, sub, make_pdf(2), "p.pdf")
    subs.artifact_from_archive(db, settings, cast["student"], venue, sub, _code_zip(), "code.zip")
    db.commit()
    client = TestClient(app) if role == "anonymous" else as_user(cast[role])
    wrong = []
    for path, tail, expect in PAGE_CASES:
        url = tail if not path.startswith("/venues/") else f"/venues/{venue.slug}{tail}"
        r = client.get(url, follow_redirects=False)
        want = _page_status(path, expect, role)
        ok = r.status_code == want
        if ok and want == 303 and role == "anonymous":
            ok = r.headers["location"].startswith("/login")
        if not ok:
            wrong.append((path, want, r.status_code, r.text[:100]))
    assert not wrong, wrong


# ---- page forms: anonymous people are sent to sign in, outsiders find no venue --------------------------------
# Each form's role rule is the same can_* as its API twin (named here, and itself in this table), or is checked
# per role by the test named.
PAGE_FORMS = {
    ("POST", "/account/tokens"): "tests/api/test_accounts.py::test_api_tokens_authenticate_and_can_be_revoked",
    ("POST", "/account/tokens/{token_id}/revoke"):
        "tests/api/test_accounts.py::test_api_tokens_authenticate_and_can_be_revoked",
    ("POST", "/account/timezone"): "tests/api/test_venues.py::test_deadlines_shown_in_the_venue_and_the_viewer_time_zone",
    ("POST", "/account/password"): "tests/api/test_accounts.py::test_changing_password_signs_out_other_sessions",
    ("POST", "/account/notifications"): "tests/api/test_notifications.py::test_account_page_checkboxes_and_calendar_url",
    ("POST", "/account/sessions/end"): "tests/api/test_sessions.py::test_sign_out_everywhere_else_keeps_this_browser",
    ("POST", "/venues"): ("POST", "/api/v1/venues"),
    ("POST", "/rigs"): ("POST", "/api/v1/rigs"),
    ("POST", "/venues/{slug}/settings"): ("PATCH", "/api/v1/venues/{slug}"),
    ("POST", "/venues/{slug}/phase"): ("POST", "/api/v1/venues/{slug}/phase"),
    ("POST", "/venues/{slug}/copy"): ("POST", "/api/v1/venues/{slug}/copy"),
    ("POST", "/venues/{slug}/deadlines"): ("PUT", "/api/v1/venues/{slug}/deadlines/{kind}"),
    ("POST", "/venues/{slug}/roster"): ("POST", "/api/v1/venues/{slug}/roster"),
    ("POST", "/venues/{slug}/members/{member_id}/role"): ("PATCH", "/api/v1/venues/{slug}/members/{member_id}"),
    ("POST", "/venues/{slug}/groups"): ("POST", "/api/v1/venues/{slug}/groups"),
    ("POST", "/venues/{slug}/groups/join"): ("POST", "/api/v1/venues/{slug}/groups/join"),
    ("POST", "/venues/{slug}/groups/leave"): ("POST", "/api/v1/venues/{slug}/groups/leave"),
    ("POST", "/venues/{slug}/groups/move"): ("POST", "/api/v1/venues/{slug}/groups/move"),
    ("POST", "/venues/{slug}/extensions"): ("POST", "/api/v1/venues/{slug}/extensions"),
    ("POST", "/venues/{slug}/extensions/{extension_id}/decision"):
        ("POST", "/api/v1/venues/{slug}/extensions/{extension_id}/decision"),
    ("POST", "/venues/{slug}/extensions/review"): ("POST", "/api/v1/venues/{slug}/extensions/review"),
    ("POST", "/venues/{slug}/submission"): ("POST", "/api/v1/venues/{slug}/submissions"),
    ("POST", "/venues/{slug}/submission/revisions"): ("POST", "/api/v1/venues/{slug}/submissions/{number}/revisions"),
    ("POST", "/venues/{slug}/submission/artifact"):
        ("POST", "/api/v1/venues/{slug}/submissions/{number}/artifact/archive"),
    ("POST", "/venues/{slug}/assignments/jobs"): ("POST", "/api/v1/venues/{slug}/assignment/jobs"),
    ("POST", "/venues/{slug}/assignments/jobs/{job_id}/apply"):
        ("POST", "/api/v1/venues/{slug}/assignment/jobs/{job_id}/apply"),
    ("POST", "/venues/{slug}/assignments/change"): ("POST", "/api/v1/venues/{slug}/assignments"),
    ("POST", "/venues/{slug}/assignments/settings"): ("PUT", "/api/v1/venues/{slug}/assignment/settings"),
    ("POST", "/venues/{slug}/assignments/import"): ("POST", "/api/v1/venues/{slug}/assignments/import"),
    ("POST", "/venues/{slug}/bids/{number}"): ("PUT", "/api/v1/venues/{slug}/bids/{number}"),
    ("POST", "/venues/{slug}/interests"): ("PUT", "/api/v1/venues/{slug}/interests"),
    ("POST", "/venues/{slug}/conflicts"): ("POST", "/api/v1/venues/{slug}/conflicts"),
    ("POST", "/venues/{slug}/conflicts/import"): ("POST", "/api/v1/venues/{slug}/conflicts/import"),
    ("POST", "/venues/{slug}/submission/runs"): ("POST", "/api/v1/venues/{slug}/submissions/{number}/runs"),
    ("POST", "/venues/{slug}/submissions/{number}/runs/{run_id}/cancel"):
        ("POST", "/api/v1/venues/{slug}/submissions/{number}/runs/{run_id}/cancel"),
    ("POST", "/venues/{slug}/submission/claims"): ("POST", "/api/v1/venues/{slug}/submissions/{number}/claims"),
    ("POST", "/venues/{slug}/submission/claims/{claim_id}"):
        ("PUT", "/api/v1/venues/{slug}/submissions/{number}/claims/{claim_id}"),
    ("POST", "/venues/{slug}/submission/claims/{claim_id}/delete"):
        ("DELETE", "/api/v1/venues/{slug}/submissions/{number}/claims/{claim_id}"),
    ("POST", "/venues/{slug}/submissions/{number}/badges/{badge}"):
        ("PUT", "/api/v1/venues/{slug}/submissions/{number}/badges/{badge}"),
    ("POST", "/venues/{slug}/submissions/{number}/review/draft"):
        ("PUT", "/api/v1/venues/{slug}/submissions/{number}/review"),
    ("POST", "/venues/{slug}/submissions/{number}/review/submit"):
        ("POST", "/api/v1/venues/{slug}/submissions/{number}/review/submit"),
    ("POST", "/venues/{slug}/submissions/{number}/comments"):
        ("POST", "/api/v1/venues/{slug}/submissions/{number}/comments"),
    ("POST", "/venues/{slug}/submissions/{number}/response"):
        ("PUT", "/api/v1/venues/{slug}/submissions/{number}/response"),
    ("POST", "/venues/{slug}/submissions/{number}/reviews/{review_id}/rating"):
        ("PUT", "/api/v1/venues/{slug}/submissions/{number}/reviews/{review_id}/rating"),
    ("POST", "/venues/{slug}/markdown-preview"): ("POST", "/api/v1/markdown"),
    ("POST", "/venues/{slug}/review-form"): ("PUT", "/api/v1/venues/{slug}/review-form"),
    ("POST", "/venues/{slug}/submissions/{number}/mark"): ("PUT", "/api/v1/venues/{slug}/submissions/{number}/mark"),
    ("POST", "/venues/{slug}/members/{member_id}/mark"): ("PUT", "/api/v1/venues/{slug}/members/{member_id}/mark"),
    ("POST", "/venues/{slug}/submissions/{number}/calibration-item"):
        ("PUT", "/api/v1/venues/{slug}/submissions/{number}/calibration-item"),
    ("POST", "/venues/{slug}/reviews/{review_id}/moderation"):
        ("PUT", "/api/v1/venues/{slug}/reviews/{review_id}/moderation"),
    ("POST", "/venues/{slug}/members/{member_id}/calibration"):
        ("PUT", "/api/v1/venues/{slug}/members/{member_id}/calibration"),
    ("POST", "/venues/{slug}/review-marks/{review_id}"):
        ("PUT", "/api/v1/venues/{slug}/reviews/{review_id}/assessment"),
    ("POST", "/venues/{slug}/marking-scheme"): ("PUT", "/api/v1/venues/{slug}/marking-scheme"),
    ("POST", "/venues/{slug}/marking-scheme/unfreeze"): ("POST", "/api/v1/venues/{slug}/marking-scheme/unfreeze"),
    ("POST", "/venues/{slug}/marks/release"): ("POST", "/api/v1/venues/{slug}/marks/release"),
    ("POST", "/venues/{slug}/submissions/{number}/extra-review"):
        ("POST", "/api/v1/venues/{slug}/submissions/{number}/extra-review"),
    ("POST", "/venues/{slug}/reviewers/{member_id}/remind"): ("POST", "/api/v1/venues/{slug}/reviewers/{member_id}/remind"),
}

# ---- API routes checked per role in another module (they need data this matrix does not build) -----------------
_RUNS = "tests/api/test_runs.py::"
_ASSIGN = "tests/api/test_assignments.py::"
_CONTRIB = "tests/api/test_contributions.py::"
ELSEWHERE = {
    ("POST", "/api/v1/venues/{slug}/submissions/{number}/contributions/identities"):
        _CONTRIB + "test_identity_claims_disputes_and_chair_mapping",
    ("DELETE", "/api/v1/venues/{slug}/submissions/{number}/contributions/identities/{email}"):
        _CONTRIB + "test_identity_claims_disputes_and_chair_mapping",
    ("GET", "/api/v1/me"): "tests/api/test_accounts.py::test_api_tokens_authenticate_and_can_be_revoked",
    ("GET", "/api/v1/tokens"): "tests/api/test_accounts.py::test_api_tokens_authenticate_and_can_be_revoked",
    ("POST", "/api/v1/tokens"): "tests/api/test_accounts.py::test_api_tokens_authenticate_and_can_be_revoked",
    ("DELETE", "/api/v1/tokens/{token_id}"):
        "tests/api/test_accounts.py::test_api_tokens_authenticate_and_can_be_revoked",
    ("GET", "/api/v1/venues"): "tests/api/test_venues.py::test_venue_list_shows_only_own_venues",
    ("POST", "/api/v1/venues"): "tests/api/test_venues.py::test_admin_creates_a_venue_and_others_cannot",
    ("POST", "/api/v1/venues/{slug}/assignment/solve"): _ASSIGN + "test_assignment_endpoints_per_role",
    ("GET", "/api/v1/venues/{slug}/assignments"): _ASSIGN + "test_assignment_endpoints_per_role",
    ("POST", "/api/v1/venues/{slug}/assignments"): _ASSIGN + "test_assignment_endpoints_per_role",
    ("POST", "/api/v1/venues/{slug}/assignments/import"): _ASSIGN + "test_assignment_endpoints_per_role",
    ("GET", "/api/v1/venues/{slug}/assignments/export"): _ASSIGN + "test_assignment_endpoints_per_role",
    ("PUT", "/api/v1/venues/{slug}/bids/{number}"): _ASSIGN + "test_assignment_endpoints_per_role",
    ("POST", "/api/v1/venues/{slug}/conflicts"): _ASSIGN + "test_assignment_endpoints_per_role",
    ("POST", "/api/v1/venues/{slug}/conflicts/import"): _ASSIGN + "test_assignment_endpoints_per_role",
    ("POST", "/api/v1/venues/{slug}/assignment/jobs"): _ASSIGN + "test_job_and_explain_endpoints_per_role",
    ("GET", "/api/v1/venues/{slug}/assignment/jobs/{job_id}"): _ASSIGN + "test_job_and_explain_endpoints_per_role",
    ("POST", "/api/v1/venues/{slug}/assignment/jobs/{job_id}/apply"):
        _ASSIGN + "test_job_and_explain_endpoints_per_role",
    ("GET", "/api/v1/venues/{slug}/assignments/explain"): _ASSIGN + "test_job_and_explain_endpoints_per_role",
    ("GET", "/api/v1/venues/{slug}/assignment/settings"):
        "tests/api/test_assignment_options.py::test_options_endpoints_per_role",
    ("PUT", "/api/v1/venues/{slug}/assignment/settings"):
        "tests/api/test_assignment_options.py::test_options_endpoints_per_role",
    ("GET", "/venues/{slug}/assignments/jobs/{job_id}"):
        "tests/api/test_assignment_pages.py::test_the_progress_fragment_polls_until_the_job_finishes",
    ("POST", "/api/v1/venues/{slug}/submissions/{number}/claims"): _RUNS + "test_who_may_change_claims",
    ("PUT", "/api/v1/venues/{slug}/submissions/{number}/claims/{claim_id}"): _RUNS + "test_who_may_change_claims",
    ("DELETE", "/api/v1/venues/{slug}/submissions/{number}/claims/{claim_id}"): _RUNS + "test_who_may_change_claims",
    ("POST", "/api/v1/venues/{slug}/submissions/{number}/runs"):
        _RUNS + "test_other_group_reviewer_and_outsider_cannot_see_or_start_runs",
    ("GET", "/api/v1/venues/{slug}/submissions/{number}/runs"):
        _RUNS + "test_other_group_reviewer_and_outsider_cannot_see_or_start_runs",
    ("GET", "/api/v1/venues/{slug}/submissions/{number}/runs/{run_id}"):
        _RUNS + "test_other_group_reviewer_and_outsider_cannot_see_or_start_runs",
    ("GET", "/api/v1/venues/{slug}/submissions/{number}/runs/{run_id}/log"):
        _RUNS + "test_other_group_reviewer_and_outsider_cannot_see_or_start_runs",
    ("POST", "/api/v1/venues/{slug}/submissions/{number}/runs/{run_id}/cancel"):
        _RUNS + "test_cancel_a_queued_and_a_running_run",
    ("GET", "/venues/{slug}/submissions/{number}/runs/{run_id}/status"):
        _RUNS + "test_other_group_reviewer_and_outsider_cannot_see_or_start_runs",
    ("POST", "/api/v1/rigs"): _RUNS + "test_rigs_are_registered_by_chairs_and_admins_only",
    ("GET", "/api/v1/rigs"): _RUNS + "test_rigs_are_registered_by_chairs_and_admins_only",
    ("POST", "/api/v1/rig/heartbeat"): _RUNS + "test_rig_protocol_claim_log_heartbeat_result",
    ("POST", "/api/v1/rig/runs/{run_id}/claim"): _RUNS + "test_rig_protocol_claim_log_heartbeat_result",
    ("GET", "/api/v1/rig/runs/{run_id}/bundle"): _RUNS + "test_rig_protocol_claim_log_heartbeat_result",
    ("POST", "/api/v1/rig/runs/{run_id}/log"): _RUNS + "test_rig_protocol_claim_log_heartbeat_result",
    ("POST", "/api/v1/rig/runs/{run_id}/heartbeat"): _RUNS + "test_rig_protocol_claim_log_heartbeat_result",
    ("POST", "/api/v1/rig/runs/{run_id}/result"): _RUNS + "test_rig_protocol_claim_log_heartbeat_result",
    ("GET", "/api/v1/me/notifications"):
        "tests/api/test_notifications.py::test_settings_api_rejects_bad_input_and_anonymous_callers",
    ("PUT", "/api/v1/me/notifications"):
        "tests/api/test_notifications.py::test_settings_api_rejects_bad_input_and_anonymous_callers",
    ("GET", "/api/v1/me/calendar-url"): "tests/api/test_notifications.py::test_account_page_checkboxes_and_calendar_url",
    ("DELETE", "/api/v1/sessions"): "tests/api/test_sessions.py::test_api_sign_out_everywhere",
    ("POST", "/api/v1/venues/{slug}/reviewers/{member_id}/remind"):
        "tests/api/test_home.py::test_remind_refuses_students_other_phases_and_reviewers_with_nothing_to_write",
}

# ---- public: no sign-in (or their own credential) -----------------------------------------------------------
PUBLIC = {
    ("GET", "/login"): "the sign-in form", ("POST", "/login"): "signing in",
    ("POST", "/logout"): "signing out (CSRF-checked)",
    ("GET", "/password/forgot"): "reset form", ("POST", "/password/forgot"): "reset mail (answers the same always)",
    ("GET", "/password/reset"): "reset form", ("POST", "/password/reset"): "reset with the mailed token",
    ("POST", "/api/v1/session"): "signing in", ("DELETE", "/api/v1/session"): "signing out",
    ("GET", "/api/v1/csrf"): "the CSRF token", ("POST", "/api/v1/password/forgot"): "reset mail",
    ("POST", "/api/v1/password/reset"): "reset with the mailed token",
    ("GET", "/calendar/{token}.ics"): "the calendar feed's own token (tests/api/test_notifications.py)",
    ("GET", "/healthz"): "liveness", ("GET", "/openapi.json"): "API description", ("GET", "/docs"): "API docs",
    ("GET", "/docs/oauth2-redirect"): "API docs", ("GET", "/redoc"): "API docs",
    ("MOUNT", "/static"): "vendored CSS and JS",
}


def _app_routes(app) -> set[tuple[str, str]]:  # noqa: ANN001
    """Every (method, path template) the application answers, walked through the included routers."""
    def walk(routes):  # noqa: ANN001, ANN202
        for route in routes:
            if hasattr(route, "effective_candidates"):
                yield from walk(route.effective_candidates())
                yield from walk(route.effective_low_priority_routes())
            else:
                yield route

    out = set()
    for route in walk(app.router.routes):
        methods = getattr(route, "methods", None) or {"MOUNT"}
        out |= {(m, route.path) for m in methods if m != "HEAD"}
    return out


def _template(path: str) -> str:
    return (path.replace("{member}", "{member_id}").replace("{group}", "{group_id}")
            .replace("{ext}", "{extension_id}").replace("/deadlines/review", "/deadlines/{kind}")
            .replace("/submissions/1", "/submissions/{number}").replace("{rev}", "{revision_id}")
            .replace("/files/README.md", "/files/{path:path}").replace("/badges/available", "/badges/{badge}"))


def _route_table() -> dict[tuple[str, str], object]:
    from tests.api.test_moderation import MODERATION_PAGES, MODERATION_ROUTES
    from tests.api.test_review_permissions import REVIEW_ROUTES

    parts = [
        {(m, _template(p)): ("matrix", allowed) for m, p, _body, allowed in CASES},
        {("GET", path): ("pages", expect) for path, _tail, expect in PAGE_CASES},
        {route: ("tests/api/test_review_permissions.py::test_review_endpoints_as_role_in_phase",)
         for route in REVIEW_ROUTES},
        {route: ("tests/api/test_moderation.py::test_every_moderation_route_per_role",) for route in MODERATION_ROUTES},
        {("GET", "/venues/{slug}/" + page): ("tests/api/test_moderation.py::test_moderation_pages_per_role",)
         for page in MODERATION_PAGES},
        {route: ("form", twin) for route, twin in PAGE_FORMS.items()},
        {route: (ref,) for route, ref in ELSEWHERE.items()},
        {route: ("public", why) for route, why in PUBLIC.items()},
    ]
    table: dict = {}
    for part in parts:
        twice = set(table) & set(part)
        assert not twice, f"routes listed twice: {sorted(twice)}"
        table.update(part)
    return table


def test_every_route_is_in_the_matrix_exactly(app):  # noqa: ANN001
    """Each route, by method and path template, has its expectation here (or is public); a new route fails, and
    so does an entry for a route that no longer exists."""
    import ast
    from pathlib import Path

    routes = _app_routes(app)
    assert len(routes) > 150  # the walk itself works (pages and API)
    table = _route_table()
    assert not routes - set(table), f"routes without a permission expectation: {sorted(routes - set(table))}"
    assert not set(table) - routes, f"entries for routes that do not exist: {sorted(set(table) - routes)}"
    root = Path(__file__).resolve().parents[2]
    for route, entry in table.items():
        if entry[0] == "form":
            twin = entry[1]
            assert isinstance(twin, str) or twin in table, (route, twin)
            ref = twin if isinstance(twin, str) else None
        else:
            ref = entry[0] if "::" in str(entry[0]) else None
        if ref:
            file, name = ref.split("::")
            tests = {n.name for n in ast.parse((root / file).read_text()).body if isinstance(n, ast.FunctionDef)}
            assert name in tests, (route, ref)


FORM_ROUTES = sorted(PAGE_FORMS)


@pytest.mark.parametrize(("method", "path"), FORM_ROUTES, ids=[f"{m} {p}" for m, p in FORM_ROUTES])
def test_page_forms_send_anonymous_people_to_sign_in_and_outsiders_find_no_venue(make, as_user, app, db, method,
                                                                                path):  # noqa: ANN001
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    ids = {"slug": venue.slug, "member_id": 1, "extension_id": 1, "number": 1, "run_id": 1, "claim_id": 1,
           "badge": "available", "review_id": 1, "job_id": 1, "token_id": 1}
    url = path.format(**ids)
    r = TestClient(app).request(method, url, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), (r.status_code, r.text[:200])
    if path.startswith("/venues/{slug}"):
        r = as_user(cast["outsider"]).request(method, url, follow_redirects=False)
        assert r.status_code == 404, (r.status_code, r.text[:200])


def test_openapi_documents_the_api(client):  # noqa: ANN001
    spec = client.get("/openapi.json").json()
    assert "/api/v1/venues/{slug}/roster" in spec["paths"]
    assert not any(p.startswith("/venues") for p in spec["paths"])  # pages are not in the API docs
