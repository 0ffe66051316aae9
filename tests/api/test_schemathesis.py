"""Every API operation, fuzzed from the OpenAPI description (schemathesis), as a chair and as a student signed in
with the session cookie and the CSRF header: no server error (5xx other than the 503 "busy" retry answer), and
every answer matches what the description declares (status, content type, body schema).

Bounded for CI: a fixed seed (derandomized), a few examples per operation; findings are collected for every
operation first, so one failure lists all of them (the note's 500s-per-endpoint table comes from here).
"""

from __future__ import annotations

import os
import re
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.api.test_submissions import make_pdf

EXAMPLES = int(os.environ.get("REPROREVIEW_FUZZ_EXAMPLES", "4"))
# Signing out would end the session the rest of the run uses (sessions are revocable server-side).
SKIP = {("DELETE", "/api/v1/session")}
TIMES: dict[str, float] = {}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]


@pytest.fixture
def world(make, db, as_user):  # noqa: ANN001, ANN201
    """A venue in its submission phase with a submission, a revision and people in every role."""
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    student = as_user(cast["student"])
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions", json={"title": "Fuzzed"}).status_code == 200
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions/1/revisions",
                        files={"file": ("paper.pdf", make_pdf(6), "application/pdf")}).status_code == 201
    return venue, cast


def _fuzz(app, venue, client) -> dict[str, list[str]]:  # noqa: ANN001
    """Run every operation; returns {operation label: [problems]}."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = {"x-csrf-token": client.csrf}
    cookies = dict(client.cookies)
    found: dict[str, list[str]] = {}
    ran = 0
    for result in schema.get_all_operations():
        op = result.ok()
        if (op.method.upper(), op.path) in SKIP:
            continue
        ran += 1

        @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def one(case) -> None:  # noqa: ANN001
            params = case.path_parameters or {}
            if "slug" in params:
                params["slug"] = venue.slug  # the real venue, so requests get past the first 404
            for name, value in list(params.items()):
                if isinstance(value, int) and -(2 ** 63) <= value < 2 ** 63:
                    params[name] = abs(value) % 4  # small ids: some exist (ids above 2**63 stay: they must 404)
            try:
                response = case.call(headers=headers, cookies=cookies)
            except Exception as exc:  # noqa: BLE001 — the app raised: a 500
                found.setdefault(op.label, []).append(f"raised {type(exc).__name__}: {str(exc)[:200]}")
                return
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 — collect, report every operation at once
                text = re.sub(r"\s+", " ", str(exc))[:400]
                found.setdefault(op.label, []).append(f"{response.status_code}: {text}")

        t0 = time.monotonic()
        one()
        TIMES[op.label] = time.monotonic() - t0
    assert ran > 80  # every operation of the API
    return found


@pytest.mark.parametrize("role", ["chair", "student"])
def test_every_operation_answers_as_declared_and_never_500(role, app, world, browser_login):  # noqa: ANN001
    venue, cast = world
    found = _fuzz(app, venue, browser_login(cast[role]))
    print(sorted(TIMES.items(), key=lambda kv: -kv[1])[:12])
    lines = [f"{label}: {problems[0]} (+{len(problems) - 1} more)" for label, problems in sorted(found.items())]
    assert not found, f"{len(found)} operations misbehave as {role}:\n" + "\n".join(lines)
