"""Security headers on every response: pages, fragments, JSON, errors, redirects, static and file views; and the
templates carry nothing the Content-Security-Policy refuses (no inline scripts, handlers or styles)."""

import re
from pathlib import Path

import pytest

from app.security.headers import CONTENT_SECURITY_POLICY
from tests.api.test_runs import enqueued, world  # noqa: F401 — fixtures of the runs tests (an artifact, a run)

ROOT = Path(__file__).resolve().parents[2]


def _policy(r) -> dict[str, str]:  # noqa: ANN001
    return {d.split()[0]: " ".join(d.split()[1:]) for d in r.headers["content-security-policy"].split(";") if d.strip()}


def _assert_hardened(r, *, framing: str = "DENY") -> None:  # noqa: ANN001
    assert r.headers["x-content-type-options"] == "nosniff", r.url
    assert r.headers["x-frame-options"] == framing, r.url
    assert r.headers["referrer-policy"] == "same-origin", r.url
    policy = _policy(r)
    assert policy["frame-ancestors"] == ("'none'" if framing == "DENY" else "'self'"), r.url
    assert policy["object-src"] == "'none'", r.url


def test_pages_get_a_strict_policy_without_unsafe_inline(client, make, db):
    r = client.get("/login")
    _assert_hardened(r)
    policy = _policy(r)
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    assert "unsafe-eval" not in r.headers["content-security-policy"]
    assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


def test_every_kind_of_response_carries_the_headers(world, client, as_user, browser_login, db):  # noqa: F811
    slug, n = world["venue"].slug, world["sub"].number
    student = as_user(world["student"])
    responses = [
        client.get("/healthz"),                                        # JSON
        client.get("/api/v1/me"),                                      # JSON error (401)
        client.get("/api/v1/venues/nowhere"),                          # JSON error (401, not signed in)
        student.get("/api/v1/venues/nowhere"),                         # JSON error (404)
        student.post("/api/v1/venues", json={}),                       # validation error (422) or 403
        client.get("/account", follow_redirects=False),                # redirect to sign in (303)
        client.get("/static/app.css"),                                 # static file
        client.get("/static/vendor/htmx-2.0.11.min.js"),
        client.get("/openapi.json"),
        student.get(f"/api/v1/venues/{slug}/submissions/{n}/artifact/files"),                 # artifact tree
        student.get(f"/api/v1/venues/{slug}/submissions/{n}/artifact/files/run.py"),          # a file's bytes
        student.get(f"/venues/{slug}/submissions/{n}/artifact/files/run.py"),                 # the file page
        student.get(f"/venues/{slug}/submissions/{n}/artifact/files/run.py?download=1"),      # a download
        student.get(f"/venues/{slug}/submission", headers={"HX-Request": "true"}),            # an htmx fragment
        student.get(f"/api/v1/venues/{slug}/submissions/{n}/runs"),
    ]
    assert {r.status_code for r in responses} >= {200, 401, 404, 303}
    for r in responses:
        _assert_hardened(r)
    assert responses[10].text.startswith("import json")  # the file view itself still answers its bytes


def test_the_pdf_may_be_framed_by_our_own_pages_only(world, as_user, db, settings):  # noqa: F811
    from tests.api.test_submissions import make_pdf  # a small valid PDF

    c = as_user(world["student"])
    slug, n = world["venue"].slug, world["sub"].number
    r = c.post(f"/api/v1/venues/{slug}/submissions/{n}/revisions",
               files={"file": ("paper.pdf", make_pdf(), "application/pdf")})
    assert r.status_code == 201, r.text
    pdf = c.get(f"/api/v1/venues/{slug}/submissions/{n}/revisions/{r.json()['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    _assert_hardened(pdf, framing="SAMEORIGIN")


def test_the_api_docs_get_their_own_policy(client):
    r = client.get("/docs")
    assert r.status_code == 200
    _assert_hardened(r)
    assert "cdn.jsdelivr.net" in _policy(r)["script-src"]


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
JS_URL = re.compile(r"""(href|src|action)\s*=\s*["']\s*javascript:""", re.I)


@pytest.mark.parametrize("pattern", [INLINE_SCRIPT, HANDLER, STYLE, JS_URL],
                         ids=["inline script", "event handler", "inline style", "javascript: URL"])
def test_templates_carry_nothing_the_policy_refuses(pattern):
    found = [f"{p.relative_to(ROOT)}: {m.group(0)[:80]}" for p in sorted((ROOT / "templates").rglob("*.html"))
             for m in pattern.finditer(p.read_text())]
    assert not found, found
