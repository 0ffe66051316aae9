"""Author text that reached reviewers around the masker, and identities in forms it missed (issue 18): the leak
crawl's seed (tests/leak_seed.py) plants the authors' names, in every form (underscored, CamelCase, run together,
initial + surname, student ID numbers, home paths), in run reasons, metric names, claim texts (reproduce.toml's
and the form's), file and directory names, and in files the masker used to skip (latin-1, UTF-16, a NUL byte,
above its size limit, a pickle, a PNG's text chunk, a PDF); these tests crawl what the reviewers can read, GET and
POST/PUT alike, and count what leaks by class (`leak_table`)."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from tests.api.test_leaks import Finding, Scanner, World, _report, all_routes, crawl, world  # noqa: F401
from tests.leak_seed import variants

REVIEWERS = ["cosima", "alessandra", "bartholomew", "ignatius"]  # they review #1, #2, #3 and #1 + #2
SKIPPED = ("notes/latin1.txt", "notes/utf16.txt", "notes/nul.txt", "logs/big.log", "models/model.pkl",
           "figures/plot.png", "paper/draft.pdf")
ONLY = re.compile(r"/submissions/\d+(/|$)")


def identities(findings: list[Finding]) -> list[Finding]:
    """Only identities: the seed's mark tokens ("57.3") may match a timestamp's seconds by chance, and marks are
    test_leaks.py's concern."""
    return [f for f in findings if f.whose.startswith(("author of", "reviewer", "group name"))]


def leak_class(f: Finding, variant_tokens: set[str], ids: set[str]) -> tuple[str, str]:
    """(where, which form of identity) of one finding, for the before/after table."""
    where = f.where.split("?")[0]
    if any(where.endswith(p) or f"/{p}" in f.where for p in SKIPPED) or "as utf-16" in f.channel:
        place = "files the masker skipped"
    elif "/artifact" in where or "archive member name" in f.channel:
        place = "file and directory names"
    elif ".metrics" in f.channel or "metric" in f.channel:
        place = "metric names"
    elif f.channel.endswith(".reason"):
        place = "run reason"
    elif "/claims" in where or ".checks" in f.channel or f.channel.endswith(".text"):
        place = "claim texts"
    elif "/runs" in where or where.endswith("/review") or "/review/" in where:
        place = "runs pages, review page (reason, metrics, claims)"
    elif "/reviews" in where or "/response" in where or "/comments" in where or f.channel.startswith("mail"):
        place = "response and discussion (pages, API, mail)"
    else:
        place = "other: " + f.channel
    token = f.token.lower()
    form = "student ID" if token in ids else "name variant" if token in variant_tokens else "name / email"
    return place, form


def leak_table(w: World, findings: list[Finding]) -> Counter:
    people = w.seed.people.values()
    variant_tokens = {t.lower() for p in people for t in variants(p.name).values()}
    ids = {p.user.student_id.lower() for p in people if p.user.student_id}
    return Counter(leak_class(f, variant_tokens, ids) for f in findings)


def _print_table(title: str, table: Counter) -> None:
    print(f"\n{title}: {sum(table.values())} leak(s)")
    for (place, form), n in sorted(table.items()):
        print(f"  {place:40} {form:14} {n}")


def test_reviewers_read_no_author_text_around_the_masker(world: World) -> None:
    """Every GET route of the reviewers' submissions (pages and JSON: runs, claims, the artifact tree, every file in
    every view and variant, breadcrumbs), in the discussion phase."""
    from tests.api.test_leaks import set_phase

    set_phase(world, "discussion")
    findings = identities(crawl(world, REVIEWERS, only=ONLY, every_file=True))
    _print_table("GET", leak_table(world, findings))
    assert not findings, _report(findings)


def _probe_body(path: str) -> dict:
    """A plausible body for a reviewer's POST/PUT (what a hostile one would send): a claim, a run, a comment."""
    if path.endswith("/claims") or "/claims/" in path:
        return {"key": "C1", "experiment": "E1", "metric": "acc", "value": 1.0, "text": "x"}
    return {"body": "probe", "smoke": True, "reason": "probe", "granted": True}


def test_reviewers_post_and_put_answers_hold_no_identity(world: World) -> None:
    """Every POST/PUT route of a submission that a reviewer can send, as the reviewers: the answers (refusals,
    validation errors, what a write gives back) name no author, whatever the body."""
    from tests.api.test_leaks import _other_ids, set_phase, urls_for

    set_phase(world, "discussion")
    s = world.seed
    routes = [r for r in all_routes(world.app) if r.methods & {"POST", "PUT"} and "{number" in r.path
              and "/rig/" not in r.path]
    assert len(routes) >= 10, [r.path for r in routes]
    findings: list[Finding] = []
    probed = 0
    for viewer in REVIEWERS:
        scanner = Scanner(viewer, s.forbidden(viewer))
        client = world.clients[viewer]
        for route in routes:
            for url in urls_for(route, s, _other_ids(world))[:6]:
                url = url.split("?")[0]
                for method in sorted(route.methods & {"POST", "PUT"}):
                    body = _probe_body(url)
                    r = client.request(method, url, json=body) if url.startswith("/api/") else client.request(
                        method, url, data={**{k: str(v) for k, v in body.items()}, "csrf_token": "x"},
                        follow_redirects=False)
                    probed += 1
                    assert r.status_code < 500, (viewer, method, url, r.status_code, r.text[:300])
                    scanner.response(f"{method} {url}", r)
        findings += identities(scanner.findings)
    _print_table("POST/PUT", leak_table(world, findings))
    assert probed > 100
    assert not findings, _report(findings)


def test_the_crawl_sees_every_class_it_plants(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the masker an identity function, the crawl would report a leak of every class above: the seed does
    plant them where reviewers read."""
    import app.artifacts.anonymize as anonymize
    from tests.api.test_leaks import set_phase

    set_phase(world, "discussion")
    monkeypatch.setattr(anonymize.Masker, "mask", lambda self, text: text)
    monkeypatch.setattr(anonymize.Masker, "value", lambda self, value: value)
    findings = crawl(world, ["cosima"], only=re.compile(r"/submissions/1/(runs|claims)"))
    places = {place for place, _form in leak_table(world, findings)}
    assert {"metric names", "run reason", "claim texts"} <= places, _report(findings)
    forms = {form for _place, form in leak_table(world, findings)}
    assert {"student ID", "name variant"} <= forms, _report(findings)


def test_files_the_masker_cannot_mask_are_withheld_visibly_and_text_files_are_masked(world: World) -> None:
    """The reviewer of #1 sees the pickle, the PNG and the PDF (they name the authors) as withheld in the tree, the
    file page, the download and the JSON list; the latin-1, UTF-16, NUL-holding and large text files are shown
    masked. The authors still read every file as uploaded."""
    from tests.api.test_leaks import set_phase

    set_phase(world, "discussion")
    s = world.seed
    slug, reviewer = s.venue.slug, world.clients["cosima"]
    base, api = f"/venues/{slug}/submissions/1/artifact", f"/api/v1/venues/{slug}/submissions/1/artifact/files"
    withheld = ("models/model.pkl", "figures/plot.png", "paper/draft.pdf")
    tree = reviewer.get(base).text
    for path in withheld:
        item = tree.split(f'href="{base}/{path}"', 1)[1].split("</li>", 1)[0]
        assert "withheld: could not be anonymized" in item, (path, item)
        page = reviewer.get(f"{base}/{path}").text
        assert 'id="withheld"' in page and "contains the authors" in page, path
        download = reviewer.get(f"{base}/{path}?download=1").content
        assert download.startswith(b"[withheld: could not be anonymized]"), path
        assert reviewer.get(f"{api}/{path}").content.startswith(b"[withheld: could not be anonymized]")
    listed = {e["path"]: e for e in reviewer.get(api).json()}
    assert all("withheld" in listed[p] for p in withheld) and "withheld" not in listed["README.md"]
    for path in ("notes/latin1.txt", "notes/utf16.txt", "notes/nul.txt", "logs/big.log"):
        page = reviewer.get(f"{base}/{path}").text
        assert 'id="withheld"' not in page and "[anonymized]" in page, path
    assert "Grüße" in reviewer.get(f"{base}/notes/latin1.txt").text  # decoded as latin-1, not shown as binary
    author = world.clients["alessandra"]
    original = author.get(f"{api}/models/model.pkl?view=original").content
    assert b"Alessandra Marchetti-Oyelaran" in original
    assert 'id="withheld"' not in author.get(f"{base}/models/model.pkl?view=original").text


def test_authors_and_staff_read_runs_and_claims_as_written(world: World) -> None:
    """The masker is for reviewers: the group and the chairs read the reason, metric names and claim texts
    unmasked, in the API and on the pages."""
    from tests.api.test_leaks import set_phase
    from tests.leak_seed import variants

    set_phase(world, "discussion")
    s = world.seed
    v = variants(s.people["alessandra"].name)
    url = f"/api/v1/venues/{s.venue.slug}/submissions/1"
    for who in ("alessandra", "octavia"):
        run = world.clients[who].get(f"{url}/runs/{s.runs[1][0]}").json()
        assert v["login"] in run["reason"] and f"{v['underscored']}_acc" in run["metrics"]["E1"], run
        claims = {c["key"]: c for c in world.clients[who].get(f"{url}/claims").json()}
        assert v["camelcase"] in claims["C1"]["text"] and claims["C1"]["metric"] == f"{v['login']}_acc"
    mine = world.clients["cosima"].get(f"{url}/runs/{s.runs[1][0]}").json()
    assert "[anonymized]" in mine["reason"] and "[anonymized]_acc" in mine["metrics"]["E1"], mine
