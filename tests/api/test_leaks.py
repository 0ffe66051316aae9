"""The double-blind leak crawl: every page and API route, as every role, in every phase of a seeded venue.

A reviewer must never see an author's name, email or group name, and an author never a reviewer's — in
page text, HTML attributes, JSON fields, headers (Content-Disposition file names), PDF metadata, archive
members and mail. Marks are gated the same way: until their release no student (author or reviewer) sees any
mark, calibrated score, bias estimate, flag, review-quality suggestion or moderator's note (the seed plants
distinctive ones, tests/leak_seed.py); from the released phase on, with the marks released, a student sees
their own marks only, and still no reviewer's identity or bias estimate.

The routes come from the application itself (OpenAPI and the router tree, which also holds the
include_in_schema=False pages), so a route added later is crawled without anyone listing it; a path parameter
the crawl cannot fill fails the test rather than being skipped. The last tests plant leaks
and check that the crawl reports each of them, so a crawl that looks at nothing cannot pass.
"""

from __future__ import annotations

import html
import io
import re
import tarfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from itertools import product
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlmodel import Session

from app.models import PHASES, Revision
from app.services.accounts import create_api_token
from app.services.notifications import make_calendar_token
from app.settings import Settings
from tests.leak_seed import Seed, deliver_mail, seed
from tests.testapp import app_on_session

# Query parameters that switch what a route shows, and the values the crawl tries beside the default.
QUERY_VARIANTS = {"view": ["original"], "copy": ["original"], "download": ["1"], "source": ["1"],
                  "format": ["moodle", "learn", "json"], "draft": ["1"]}
MIN_GET_ROUTES = 60  # the app had 69 GET routes when the crawl was written; fewer means the walk missed some
KNOWN_ROUTES = {
    "/venues/{slug}/submissions/{number:int}/artifact/{path:path}",  # a page (not in OpenAPI), nested params
    "/api/v1/venues/{slug}/submissions/{number}/revisions/{revision_id}/pdf",
    "/api/v1/venues/{slug}/submissions/{number}/reviews",
    "/venues/{slug}/submissions/{number}/reviews",
    "/venues/{slug}/submissions/{number}/runs/{run_id}/status",
    "/venues/{slug}/assignments/jobs/{job_id}",
    "/api/v1/rig/runs/{run_id}/bundle",
    "/", "/login", "/account", "/healthz",
}
NOT_CRAWLED = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}  # framework pages, no venue data


# ---- the world: one seeded venue for the whole module (seeding is the slow part) -------------------------


@dataclass
class World:
    seed: Seed
    db: Session
    app: object
    clients: dict[str, TestClient]


@pytest.fixture(scope="module")
def world(engine, database_url, tmp_path_factory) -> Iterator[World]:  # noqa: ANN001
    """The venue seeded once, inside one outer transaction rolled back at the end of the module."""
    tmp = tmp_path_factory.mktemp("leaks")
    settings = Settings(data_dir=tmp / "data", database_url=database_url, secret_key="leak-secret-key",
                        base_url="http://testserver", allow_local_repos=True, _env_file=None)
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    application = app_on_session(settings, engine, db)
    stack = ExitStack()
    try:
        s = seed(db, settings, tmp)
        deliver_mail(db, settings)
        clients = {}
        for key, person in s.people.items():
            token, plaintext = create_api_token(db, person.user, f"crawl-{uuid.uuid4().hex[:6]}")
            # Marked as just used (for the whole module): the shared session never sees the touch (a core
            # UPDATE), so every request would write it again.
            token.last_used_at = datetime.now(UTC) + timedelta(hours=1)
            db.add(token)
            # entered once: used outside `with`, a TestClient starts an event loop per request (~6x slower)
            clients[key] = stack.enter_context(TestClient(application,
                                                          headers={"Authorization": f"Bearer {plaintext}"}))
        db.commit()
        yield World(s, db, application, clients)
    finally:
        stack.close()
        db.close()
        outer.rollback()
        connection.close()


def set_phase(w: World, phase: str) -> None:
    """Move the venue straight to a phase (the crawl is about visibility, not the moves between phases)."""
    w.seed.venue.phase = phase
    w.db.add(w.seed.venue)
    w.db.commit()


RELEASED = {"alessandra", "bartholomew", "cosima", "evangelina", "florian"}  # Dmitri wrote no review: not complete


def set_released(w: World, released: bool) -> None:
    """Release the venue's marks as the chair does (what is complete), or take the release back (test plumbing:
    the product has no un-release), so that each test finds the marks in the state it names."""
    from sqlmodel import select

    from app.models import MarkRelease, ReleasedMark
    from app.services import moderation

    s = w.seed
    if released == bool(s.released):
        return
    if released:
        phase = s.venue.phase
        set_phase(w, "released")
        result = moderation.release(w.db, s.people["octavia"].user, s.venue, allow_incomplete=True)
        s.released = {p.key for p in s.people.values() if p.member is not None and p.member.id in result.released}
        assert s.released == RELEASED, s.released
        deliver_mail(w.db, s.settings)
        set_phase(w, phase)
        return
    for model in (ReleasedMark, MarkRelease):
        for row in w.db.exec(select(model).where(model.venue_id == s.venue.id)).all():
            w.db.delete(row)
        w.db.flush()
    scheme = moderation.get_scheme_row(w.db, s.venue)
    scheme.frozen_at = None
    w.db.add(scheme)
    w.db.commit()
    s.released = set()


# ---- enumerating every route --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteInfo:
    path: str
    methods: frozenset[str]
    query: tuple[str, ...]  # query parameter names the endpoint reads
    in_schema: bool


def _walk(routes) -> Iterator:  # noqa: ANN001
    """Every leaf route, through FastAPI's included-router wrappers (this version nests them lazily)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from _walk(route.effective_candidates())
            yield from _walk(route.effective_low_priority_routes())
        elif getattr(route, "routes", None) and not hasattr(route, "methods"):  # a Mount of a sub-application
            yield from _walk(route.routes)
        else:
            yield route


def all_routes(app) -> list[RouteInfo]:  # noqa: ANN001
    """Every route the application answers, with its methods and the query parameters it reads."""
    out: dict[tuple[str, frozenset[str]], RouteInfo] = {}
    for route in _walk(app.router.routes):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not path or not methods:
            continue  # the /static mount: vendored files, no data
        dependant = getattr(route, "dependant", None)
        query = tuple(sorted(_query_params(dependant))) if dependant else ()
        info = RouteInfo(path, frozenset(methods), query, bool(getattr(route, "include_in_schema", False)))
        out[(path, info.methods)] = info
    return list(out.values())


def _query_params(dependant) -> set[str]:  # noqa: ANN001
    """The query parameters an endpoint and its dependencies read (walked by hand: FastAPI's helpers move)."""
    names = {p.name for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_params(sub)
    return names


def get_routes(app) -> list[RouteInfo]:  # noqa: ANN001
    """The GET routes to crawl, checked against two other lists: OpenAPI's, and every router module's own."""
    from app.main import ROUTERS

    routes = [r for r in all_routes(app) if "GET" in r.methods and r.path not in NOT_CRAWLED]
    crawled = {_plain(r.path) for r in routes}
    api_gets = {p for p, ops in app.openapi()["paths"].items() if "get" in ops}
    assert api_gets <= crawled, f"OpenAPI GET routes the walk missed: {sorted(api_gets - crawled)}"
    declared = {_plain(r.path) for module in ROUTERS for router in (module.api, module.pages)
                for r in router.routes if "GET" in (getattr(r, "methods", None) or ())}
    assert declared <= crawled, f"router GET routes the walk missed: {sorted(declared - crawled)}"
    assert KNOWN_ROUTES <= {r.path for r in routes}, f"missing: {sorted(KNOWN_ROUTES - {r.path for r in routes})}"
    assert len(routes) >= MIN_GET_ROUTES, f"only {len(routes)} GET routes found"
    assert sum(not r.in_schema for r in routes) >= 25, "the include_in_schema=False pages are missing"
    return routes


def _plain(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def urls_for(route: RouteInfo, s: Seed, ids: dict[str, list], *, every_file: bool = True) -> list[str]:
    """Every URL of a route: each path parameter filled with every seeded value, then the default view plus
    each query variant the endpoint reads. Ids that belong to a submission (revisions, runs, reviews,
    artifact files) go with their own submission's number, and once with another number's (no cross-reads)."""
    names = re.findall(r"\{(\w+)(?::\w+)?\}", route.path)
    per_sub = {"revision_id": s.revision_ids, "run_id": s.runs, "review_id": s.review_ids,
               "path": {n: sorted(p) for n, p in s.artifact_paths.items()}}
    values = {"slug": [s.venue.slug], "number": list(s.subs), "job_id": [s.job_id], **ids}
    unknown = [n for n in names if n not in values and n not in per_sub]
    assert not unknown, f"teach the leak crawl how to fill {unknown} in {route.path}"
    dependent = [n for n in names if n in per_sub]
    independent = [n for n in names if n not in per_sub]
    out: list[tuple[str, bool]] = []  # (url, names another submission's row)
    for combo in product(*[values[n] for n in independent]):
        filled = dict(zip(independent, combo, strict=True))
        choices: list[tuple[dict, bool]] = [({}, False)]
        if dependent:
            number = filled.get("number")
            for n in dependent:
                if number is None:  # e.g. a rig's route by run id: every one
                    picks = [(v, False) for v in sorted({v for vs in per_sub[n].values() for v in vs})]
                else:
                    own = list(per_sub[n].get(number, []))
                    other = number % len(s.subs) + 1
                    picks = [(v, False) for v in own] + [(v, True) for v in per_sub[n].get(other, [])[:1]
                                                        if v not in own]
                choices = [({**c, n: v}, f or foreign) for c, f in choices for v, foreign in picks]
        for extra, foreign in choices:
            url = route.path
            for n, v in {**filled, **extra}.items():
                url = re.sub(r"\{" + n + r"(?::\w+)?\}", str(v), url)
            out.append((url, foreign))
    variants = [""] + [f"?{q}={v}" for q in route.query if q in QUERY_VARIANTS for v in QUERY_VARIANTS[q]]
    if "download" in route.query and "view" in route.query:
        variants.append("?download=1&view=original")
    if "{path" in route.path and not every_file:
        # Per phase, the README (it names the authors, their emails and their group) in both views; every
        # file of every artifact, under both views' names, in every variant (downloads, source) is crawled by
        # test_every_artifact_file_in_every_view: an artifact's content does not change with the phase, and
        # which snapshot a viewer reads is decided per submission (the view), not per file or variant.
        out = [(u, f) for u, f in out if u.endswith("/README.md")]
        variants = [v for v in variants if v in ("", "?view=original")]
    # A row of another submission (a cross-read) must be refused whatever the variant: the default suffices.
    return [u + v for u, foreign in out for v in (variants[:1] if foreign else variants)]


# ---- scanning one response ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    viewer: str
    where: str     # the URL or mail
    channel: str   # html text | html attribute | json <path> | header <name> | pdf metadata | archive … | mail
    token: str
    whose: str

    def __str__(self) -> str:
        return f"{self.viewer} sees {self.token!r} ({self.whose}) in {self.channel} of {self.where}"


class _HtmlParts(HTMLParser):
    """Page text and attribute values apart, so a finding says where it hid."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:  # noqa: ANN001
        self.attrs += [f"{k}={v}" for k, v in attrs if v]

    handle_startendtag = handle_starttag

    def handle_data(self, data) -> None:  # noqa: ANN001
        self.text.append(data)

    def handle_comment(self, data) -> None:  # noqa: ANN001
        self.text.append(data)


def _pattern(tokens: dict[str, str]) -> re.Pattern[str] | None:
    if not tokens:
        return None
    alts = sorted(tokens, key=len, reverse=True)
    numbers = [t for t in alts if re.fullmatch(r"[-+]?[\d.]+", t)]
    words = [t for t in alts if t not in numbers]
    # One pair of boundary checks around each alternation (it backtracks into it as before): several times faster
    # than a pair per token, with ~100 tokens per viewer.
    # Letters only bound a word: a name joined by underscores or digits ("marchetti_acc", "Marchetti2") is seen.
    parts = []
    if words:
        parts.append(r"(?<![^\W\d_])(?:" + "|".join(re.escape(t) for t in words) + r")(?![^\W\d_])")
    # Digits and a decimal point bound a number: "2.45" is not inside the timestamp "12:30:12.452345".
    if numbers:
        parts.append(r"(?<![\d.])(?:" + "|".join(re.escape(t) for t in numbers) + r")(?!\d)")
    return re.compile("|".join(parts), re.IGNORECASE)


def _variants(text: str) -> str:
    """The text as written, unescaped and URL-decoded, with whitespace runs made single spaces."""
    forms = [text]
    if "&" in text:
        forms.append(html.unescape(text))
    if "%" in text:
        forms.append(unquote(text))
    return re.sub(r"\s+", " ", "\n".join(forms))


class Scanner:
    """Collects what one viewer saw that they must not, and where: page text, attribute, JSON path, header,
    PDF metadata or text, archive member (name or content), mail header or body."""

    def __init__(self, viewer: str, forbidden: dict[str, str]) -> None:
        self.viewer, self.forbidden = viewer, {k.lower(): v for k, v in forbidden.items()}
        self.pattern = _pattern(forbidden)
        self.findings: list[Finding] = []

    def maybe(self, text: str) -> bool:
        """Whether any token occurs at all (str.find speed; the regex then says where, with its boundaries):
        a megabyte of text costs the regex seconds."""
        low = text.lower()
        return any(t in low for t in self.forbidden)

    def text(self, where: str, channel: str, text: str) -> None:
        if self.pattern is None or not text:
            return
        text = _variants(text)
        if not self.maybe(text):
            return
        # What the viewer typed into the URL comes back in error messages and breadcrumbs: not a leak.
        echoed = {m.group(0).lower() for m in self.pattern.finditer(unquote(where))}
        for m in self.pattern.finditer(text):
            token = m.group(0)
            if token.lower() in echoed:
                continue
            self.findings.append(Finding(self.viewer, where, channel, token, self.forbidden.get(token.lower(), "?")))

    def _json(self, where: str, value, path: str) -> None:  # noqa: ANN001
        if isinstance(value, dict):
            for k, v in value.items():
                self.text(where, f"json key {path}", str(k))
                self._json(where, v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self._json(where, v, f"{path}[{i}]")
        elif value is not None:
            self.text(where, f"json {path or '.'}", str(value))

    def _pdf(self, where: str, data: bytes) -> None:
        reader = PdfReader(io.BytesIO(data))
        for key, value in (reader.metadata or {}).items():
            self.text(where, f"pdf metadata {key}", str(value))
        xmp = reader.xmp_metadata
        if xmp is not None:
            self.text(where, "pdf xmp metadata", xmp.stream.get_data().decode("utf-8", "replace"))
        self.text(where, "pdf text", "\n".join(page.extract_text() or "" for page in reader.pages[:2]))
        self.text(where, "pdf bytes", data.decode("latin-1"))

    def _archive(self, where: str, data: bytes) -> None:
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    self.text(where, "archive member name", info.filename)
                    self.text(where, f"archive member {info.filename}", z.read(info).decode("utf-8", "replace"))
            return
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for m in tar.getmembers():
                self.text(where, "archive member name", m.name)
                self.text(where, "archive member owner", f"{m.uname} {m.gname} {m.linkname}")
                f = tar.extractfile(m) if m.isreg() else None
                if f is not None:
                    self.text(where, f"archive member {m.name}", f.read().decode("utf-8", "replace"))

    def response(self, url: str, r) -> None:  # noqa: ANN001
        if self.pattern is None:
            return
        for name, value in r.headers.items():
            if name.lower() not in ("content-length", "date"):
                self.text(url, f"header {name}", value)
        kind = r.headers.get("content-type", "").split(";")[0].strip()
        data = r.content
        if kind == "application/pdf" or data[:5] == b"%PDF-":
            self._pdf(url, data)
        elif kind in ("application/gzip", "application/x-tar", "application/zip") or data[:2] == b"\x1f\x8b" \
                or data[:4] == b"PK\x03\x04":
            self._archive(url, data)
        elif b"\x00" in data[:4096] and kind not in ("application/json", "text/html"):
            # UTF-16 text or a binary: read it as UTF-16 (both alignments) and as bytes
            self.text(url, f"body ({kind or 'no type'}, as utf-16 and bytes)", "\n".join(
                [data.decode("utf-16", "ignore"), data[1:].decode("utf-16-le", "ignore"), data.decode("latin-1")]))
        elif not self.maybe(_variants(r.text)) or not self.pattern.search(_variants(r.text)):
            return  # nothing forbidden anywhere in the body: no need to say where
        elif kind == "application/json":
            self._json(url, r.json(), "")
        elif kind == "text/html":
            parts = _HtmlParts()
            parts.feed(r.text)
            before = len(self.findings)
            self.text(url, "html text", " ".join(parts.text))
            self.text(url, "html attribute", "\n".join(parts.attrs))
            if len(self.findings) == before:  # in script bodies, or anything else the parser did not hand over
                self.text(url, "html source", r.text)
        else:
            self.text(url, f"body ({kind or 'no type'})", data.decode("utf-8", "replace"))

    def mail(self, name: str, raw: bytes) -> None:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        for key, value in msg.items():
            if key.lower() != "to":
                self.text(name, f"mail header {key}", str(value))
        for part in msg.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            if part.get_filename():
                self.text(name, "mail attachment name", part.get_filename())
            self.text(name, f"mail body ({part.get_content_type()})", payload.decode("utf-8", "replace"))


# ---- the crawl ----------------------------------------------------------------------------------------------


@dataclass
class CrawlStats:
    requests: int = 0
    ok: int = 0


def crawl(w: World, viewers: list[str], *, only: re.Pattern[str] | None = None,
          stats: CrawlStats | None = None, every_file: bool = False) -> list[Finding]:
    """GET every URL of every GET route as each viewer; return what each saw that they must not."""
    s = w.seed
    other_ids = _other_ids(w)
    routes = get_routes(w.app)
    findings: list[Finding] = []
    for viewer in viewers:
        ids = {**other_ids, **_own_ids(w, viewer)}
        forbidden = s.forbidden(viewer)
        # Staff may see everyone, and someone outside the venue is stopped at its gate whatever the row: their
        # crawl shows that every route answers them as it should with one URL per route.
        sample = not forbidden or s.people[viewer].member is None
        urls = [(u, r.in_schema) for r in routes for u in urls_for(r, s, ids, every_file=every_file)[
            : 1 if sample else None]]
        scanner = Scanner(viewer, forbidden)
        client = w.clients[viewer]
        for url, is_api in urls:
            if only is not None and not only.search(url):
                continue
            r = client.get(url, follow_redirects=False)
            _count(stats, r)
            assert r.status_code < 500, f"{viewer} GET {url}: {r.status_code} {r.text[:300]}"
            scanner.response(url, r)
            if not is_api and 300 <= r.status_code < 400:
                # a page that redirects a browser may answer htmx with a fragment (a job's progress)
                fragment = client.get(url, headers={"HX-Request": "true"}, follow_redirects=False)
                _count(stats, fragment)
                assert fragment.status_code < 500, f"{viewer} GET {url} (htmx): {fragment.status_code}"
                scanner.response(url + " (htmx)", fragment)
        findings += scanner.findings
    return findings


def _count(stats: CrawlStats | None, r) -> None:  # noqa: ANN001
    if stats is not None:
        stats.requests += 1
        stats.ok += r.status_code == 200


def _other_ids(w: World) -> dict[str, list]:
    """Ids of the rows that routes name by id, read back from the seeded venue."""
    from sqlmodel import select

    from app.models import Extension, Group, Member
    from app.models.claim import SubmissionClaim

    venue_id = w.seed.venue.id
    return {
        "group_id": list(w.db.exec(select(Group.id).where(Group.venue_id == venue_id)).all()),
        "member_id": list(w.db.exec(select(Member.id).where(Member.venue_id == venue_id)).all()),
        "extension_id": list(w.db.exec(select(Extension.id).where(Extension.venue_id == venue_id)).all()),
        "claim_id": list(w.db.exec(select(SubmissionClaim.id)).all()) or [1],
        "badge": ["available", "functional", "reproduced"],
        "kind": ["submission", "review"],
        "token_id": [1],
    }


def _own_ids(w: World, viewer: str) -> dict[str, list]:
    """Path parameters that are the viewer's own secrets (their calendar feed's token)."""
    return {"token": [make_calendar_token(w.seed.settings, w.seed.people[viewer].user)]}


def _report(findings: list[Finding]) -> str:
    """One line per kind of leak (the same channel of the same route for the same identity), first seen first."""
    seen, lines = set(), []
    for f in findings:
        key = (re.sub(r"\[\d+\]", "[]", f.channel), re.sub(r"\d+|\?.*", "", f.where), f.whose.split()[0])
        if key not in seen:
            seen.add(key)
            lines.append(str(f))
    return f"{len(findings)} leak(s), {len(lines)} kind(s):\n" + "\n".join(lines[:80])


VIEWERS = ["alessandra", "bartholomew", "cosima", "dmitri", "evangelina", "florian", "ignatius", "philippa",
           "octavia", "quentin"]


@pytest.mark.parametrize("phase", [p.value for p in PHASES])
def test_no_role_sees_a_forbidden_identity_in_any_route(world: World, phase: str) -> None:
    """Identities in every phase; marks unreleased up to moderation, released from the released phase on."""
    set_released(world, phase in ("released", "closed"))
    set_phase(world, phase)
    stats = CrawlStats()
    findings = crawl(world, VIEWERS, stats=stats)
    assert not findings, _report(findings)
    # The crawl read real content, not only refusals: staff and authors get pages in every phase.
    assert stats.requests > 1000 and stats.ok > 200, stats


def test_every_artifact_file_in_every_view(world: World) -> None:
    """Every file of every artifact (source, LICENSE, manifest, binary, under both views' names), in every
    variant, in a phase when the reviewers too read the artifacts: as a student reviewer of each submission
    (who is also an author another group's reviewers must not learn of) and the external reviewer."""
    set_phase(world, "discussion")
    stats = CrawlStats()
    viewers = ["cosima", "alessandra", "bartholomew", "ignatius"]  # they review #1, #2, #3 and #1 + #2
    findings = crawl(world, viewers, only=re.compile(r"/artifact"), every_file=True, stats=stats)
    assert not findings, _report(findings)
    assert stats.ok > 100, stats


def test_marks_reach_their_owners_once_released(world: World) -> None:
    """The other half of the gate: before the release every student is refused their marks (page and API);
    after it each released student reads their own marks, feedback and breakdown, and the one whose marks are
    not complete is still refused."""
    from tests.leak_seed import FEEDBACK, GROUP_MARK

    s = world.seed
    slug = s.venue.slug
    set_released(world, False)
    set_phase(world, "moderation")
    students = [p.key for p in s.people.values() if p.role == "student"]
    for key in students:
        for url in (f"/venues/{slug}/marks", f"/api/v1/venues/{slug}/marks"):
            r = world.clients[key].get(url, follow_redirects=False)
            assert r.status_code == 403, (key, url, r.status_code)
    set_released(world, True)
    for key in students:
        page = world.clients[key].get(f"/venues/{slug}/marks")
        api = world.clients[key].get(f"/api/v1/venues/{slug}/marks")
        if key not in RELEASED:
            assert page.status_code == api.status_code == 403, key
            continue
        assert page.status_code == api.status_code == 200, (key, page.text[:300])
        mine = api.json()["mine"]
        assert mine["total"] is not None and FEEDBACK[key] in mine["feedback"], mine
        assert FEEDBACK[key] in page.text and f"{mine['total']:g}" in page.text
        if s.people[key].group == s.group_of_sub[GROUP_MARK[0]]:
            assert mine["components"]["group"] == GROUP_MARK[1] and GROUP_MARK[2] in page.text


def test_every_mail_is_free_of_identities_its_recipient_must_not_see(world: World) -> None:
    """Every .eml in the outbox (reset mails now; notification mails once they are sent) per recipient."""
    findings = scan_outbox(world)
    outbox = sorted((world.seed.settings.data_dir / "outbox").glob("*.eml"))
    resets = [p for p in outbox if b"Reset your ReproReview password" in p.read_bytes()]
    assert len(resets) == len(world.seed.people), "the seed's mails are not in the outbox"
    # assignments, comments in every audience, response and release notices, a deadline digest
    assert len(outbox) - len(resets) >= 20, f"only {len(outbox) - len(resets)} notification mails were sent"
    assert not findings, _report(findings)


def scan_outbox(w: World) -> list[Finding]:
    by_email = {p.email.lower(): key for key, p in w.seed.people.items()}
    findings: list[Finding] = []
    for path in sorted((w.seed.settings.data_dir / "outbox").glob("*.eml")):
        raw = path.read_bytes()
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        recipients = [a.addr_spec.lower() for a in msg["To"].addresses] if msg["To"] else []
        assert recipients, f"{path.name} has no recipient"
        for email in recipients:
            viewer = by_email.get(email, "quentin")  # someone outside the venue: nothing of it
            scanner = Scanner(viewer, w.seed.forbidden(viewer))
            scanner.mail(f"mail {path.name} to {email}", raw)
            findings += scanner.findings
    return findings


# ---- the crawl can fail: planted leaks are caught ------------------------------------------------------------


def test_enumeration_is_complete(world: World) -> None:
    routes = get_routes(world.app)
    every = all_routes(world.app)
    assert {r.path for r in every if not r.in_schema and "GET" in r.methods} >= {
        "/venues/{slug}", "/venues/{slug}/submission", "/venues/{slug}/reviews"}
    # Every GET route gives at least one URL, and every path parameter is filled from the seed.
    urls = {r.path: urls_for(r, world.seed, {**_other_ids(world), **_own_ids(world, "cosima")}) for r in routes}
    assert all(urls.values())
    files = urls["/venues/{slug}/submissions/{number:int}/artifact/{path:path}"]
    assert any("notes/krzyzanowski-lab-notes.md" in u for u in files)          # the original's file names
    assert any("notes/[anonymized]-lab-notes.md" in u for u in files)          # and the anonymized view's
    assert any(u.endswith("?download=1&view=original") for u in files)
    pdfs = urls["/api/v1/venues/{slug}/submissions/{number}/revisions/{revision_id}/pdf"]
    revisions = [r for ids in world.seed.revision_ids.values() for r in ids]
    assert sum(u.endswith("?copy=original") for u in pdfs) >= len(revisions) and len(pdfs) > 2 * len(revisions)


def test_planted_mark_leaks_are_caught(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A student handed the live marks before the release, let into the lecturers' pages, and handed another
    group's released marks after it: the crawl reports the marks, their explanations, flags, bias estimates,
    suggestions, notes, and the other student's feedback."""
    import app.services.moderation as moderation
    from app.models import ReleasedMark
    from tests.leak_seed import FEEDBACK, GROUP_MARK

    s, db = world.seed, world.db
    only = re.compile(r"/marks$")
    set_released(world, False)
    set_phase(world, "moderation")
    assert not crawl(world, ["alessandra"], only=only)
    live = {m.member.id: m for m in moderation.compute_marks(db, s.venue, with_flags=False).students}

    def early(session, venue, member):  # noqa: ANN001, ANN202
        m = live[member.id]
        return ReleasedMark(venue_id=venue.id, member_id=member.id, release_id=0, components=m.components,
                            total=m.total, letter=m.letter, breakdown=m.breakdown, feedback=m.feedback)

    monkeypatch.setattr(moderation, "released_marks", early)
    findings = crawl(world, ["alessandra"], only=only)
    seen = {f.token for f in findings}
    assert {str(GROUP_MARK[1]), FEEDBACK["alessandra"]} <= seen, _report(findings)
    assert any(GROUP_MARK[2] in token for token in seen), _report(findings)  # the reason, in its explanation
    monkeypatch.undo()

    # The lecturers' pages, were a student let in: flags, bias estimates, suggestions and notes are all seen.
    import app.security.permissions as permissions

    staff_pages = re.compile(r"/moderation$|/review-marks")
    assert not crawl(world, ["alessandra"], only=staff_pages)
    for check in ("can_moderate", "can_mark_reviews"):
        monkeypatch.setattr(permissions, check, lambda *args, **kwargs: True)
    findings = crawl(world, ["alessandra"], only=staff_pages)
    kinds = {re.sub(r" (of|from) .*", "", f.whose) for f in findings}
    assert {"a flag", "the bias estimate", "a review-quality suggestion", "a moderator's note",
            "#2's calibrated score"} <= kinds, _report(findings)
    monkeypatch.undo()

    set_released(world, True)
    assert not crawl(world, ["alessandra"], only=only)
    cosima = s.people["cosima"].member
    original = moderation.released_marks
    monkeypatch.setattr(moderation, "released_marks", lambda session, venue, member: original(session, venue, cosima))
    findings = crawl(world, ["alessandra"], only=only)
    assert FEEDBACK["cosima"] in {f.token for f in findings}, _report(findings)


def test_planted_leaks_are_caught(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real names through the identity gate, in an HTML attribute, a Content-Disposition file name, a
    reviewer's PDF copy with its metadata, an archive and a mail: the crawl reports each one."""
    import app.anonymity
    import app.routers.submissions as submission_routes
    from app.services.mail import send_mail
    from app.web import templates

    s, db = world.seed, world.db
    set_phase(world, "discussion")
    reviewer_of_1 = "evangelina"
    assert not crawl(world, [reviewer_of_1], only=re.compile(r"/submissions/1/|/venues/[\w-]+$"))

    monkeypatch.setattr(app.anonymity, "display_name", lambda viewer, vm, person, pm, **kw: person.full_name)
    original_response = templates.TemplateResponse

    def with_attribute(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        response = original_response(*args, **kwargs)
        body = response.body.replace(b"<main", b'<main data-owner="Alessandra Marchetti-Oyelaran"', 1)
        response.body = body
        response.headers["content-length"] = str(len(body))
        return response

    monkeypatch.setattr(templates, "TemplateResponse", with_attribute)
    original_file = submission_routes.FileResponse
    monkeypatch.setattr(submission_routes, "FileResponse", lambda path, **kw: original_file(
        path, **{**kw, "filename": "zephyr-quokkas-paper.pdf"}))
    revision = db.get(Revision, s.revision_ids[1][-1])  # the current one: reviewers cannot open earlier ones
    scrubbed = revision.reviewer_blob_sha
    revision.reviewer_blob_sha = revision.blob_sha  # reviewers would get the original, metadata and all
    db.add(revision)
    db.commit()
    try:
        findings = crawl(world, [reviewer_of_1], only=re.compile(r"/submissions/1/|/venues/[\w-]+$"))
    finally:
        revision.reviewer_blob_sha = scrubbed
        db.add(revision)
        db.commit()
    channels = {f.channel for f in findings}
    assert "html attribute" in channels, _report(findings)
    assert "html text" in channels, _report(findings)
    assert any(f.channel.startswith("json ") and f.channel.endswith(".reviewer") for f in findings), \
        _report(findings)
    assert any(f.channel == "header content-disposition" and f.whose == "group name Zephyr Quokkas"
               for f in findings), _report(findings)
    assert any(f.channel == "pdf metadata /Author" for f in findings), _report(findings)

    # The rig's bundle is the original snapshot (rigs run the authors' code as given): were a person ever
    # handed it, the crawl would see the names in its member names and contents.
    rig = TestClient(world.app, headers={"Authorization": f"Bearer {s.rig_token}"})
    url = f"/api/v1/rig/runs/{s.runs[1][0]}/bundle"
    bundle = rig.get(url)
    assert bundle.status_code == 200, bundle.text
    scanner = Scanner(reviewer_of_1, s.forbidden(reviewer_of_1))
    scanner.response(url, bundle)
    archive = {f.channel for f in scanner.findings}
    assert "archive member name" in archive and "archive member README.md" in archive, archive

    send_mail(s.settings, s.people["alessandra"].email, "New comment on #1",
              f"{s.people['cosima'].name} (Reviewer A) wrote: hello")
    mails = scan_outbox(world)
    assert any(f.viewer == "alessandra" and f.channel.startswith("mail body") for f in mails), _report(mails)
    for path in (s.settings.data_dir / "outbox").glob("*.eml"):
        if b"New comment on #1" in path.read_bytes():
            path.unlink()

