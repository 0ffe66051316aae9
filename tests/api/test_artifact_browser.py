"""The artifact tree browser and the staff submission page: who reads which view, no identity leaks in the
anonymized view, no way out of the snapshot, downloads, markdown rendered safely, manifest problems by line."""

import io
import re
import tarfile

import pytest
from sqlmodel import select

from app.artifacts.anonymize import anonymized_view
from app.artifacts.snapshot import TreeBuilder, _Entry, scratch_dir, snapshot_from_archive
from app.models import Artifact
from app.services import submissions as subs
from tests.api.test_submissions import make_pdf

NAME, EMAIL = "Amelia Hartwell", "amelia.hartwell@uni.example"
BINARY = bytes(range(256)) * 8 + b"\x00\x01weights"
MANIFEST = ('[artifact]\nrig = "local"\ntimeout = "5m"\n\n[[experiment]]\nid = "E1"\ncommand = "python src/model.py"\n'
            'metrics = "m.json"\n')
README = (f"# Int8 KWS\n\nBy {NAME} ({EMAIL}).\n\n<script>alert('readme')</script>\n\n"
          "See [the model](src/model.py) and ![plot](https://tracker.example/pixel.png) and ![fig](docs/fig.png).\n\n"
          "[click](javascript:alert(1))\n")
MODEL = f"# Written by {NAME} <{EMAIL}>\nimport json\nprint('<b>not bold</b>')\n"


def _targz(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"project/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"project/{name}")
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def _artifact_files() -> dict[str, bytes]:
    big = "".join(f"step {i}: loss {1 / (i + 1):.6f}\n" for i in range(20_000)).encode()
    return {"README.md": README.encode(), "src/model.py": MODEL.encode(), "reproduce.toml": MANIFEST.encode(),
            "data/weights.bin": BINARY, "logs/train.log": big}


@pytest.fixture
def setup(make, db, as_user, settings):  # noqa: ANN001, ANN201
    """A submission of Team Alpha (with Amelia Hartwell in it) that has a PDF and an archive artifact."""
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    amelia = make.user(NAME, email=EMAIL)
    make.member(venue, user=amelia, group=cast["group"])
    db.commit()
    student = as_user(cast["student"])
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions",
                        json={"title": "Fast Int8 Keyword Spotting", "abstract": "We measure int8 KWS.",
                              "keywords": ["TinyML"]}).status_code == 200
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions/1/revisions",
                        files={"file": ("p.pdf", make_pdf(4), "application/pdf")}).status_code == 201
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/archive",
                     files={"file": ("code.tar.gz", _targz(_artifact_files(), {"link.py": "src/model.py"}),
                                     "application/gzip")})
    assert r.status_code == 201, r.text
    return venue, cast, f"/venues/{venue.slug}/submissions/1/artifact"


def _assert_no_identity(text: str) -> None:
    assert NAME not in text and "Hartwell" not in text and "Amelia" not in text
    assert EMAIL not in text and "amelia.hartwell" not in text


def test_tree_lists_directories_files_and_sizes(setup, as_user):  # noqa: ANN001
    venue, cast, base = setup
    r = as_user(cast["student"]).get(base)
    assert r.status_code == 200, r.text
    html = r.text
    for d in ("src", "data", "logs"):
        assert re.search(rf'<details[^>]*id="{d}"', html), d
    assert f'href="{base}/src/model.py"' in html and f'href="{base}/data/weights.bin"' in html
    assert "2.0 KiB" in html  # data/weights.bin: 2057 bytes
    assert "symbolic link, not followed" in html
    assert "Anonymized view" in html and "?view=original" in html
    _assert_no_identity(html)


def test_anonymized_view_hides_identities_and_original_shows_them(setup, as_user):  # noqa: ANN001
    venue, cast, base = setup
    for who in ("student", "chair", "ta"):
        client = as_user(cast[who])
        readme = client.get(f"{base}/README.md")
        model = client.get(f"{base}/src/model.py")
        assert readme.status_code == model.status_code == 200
        _assert_no_identity(readme.text)
        _assert_no_identity(model.text)
        assert "[anonymized]" in readme.text and "[anonymized]" in model.text
        original_readme = client.get(f"{base}/README.md?view=original")
        original_model = client.get(f"{base}/src/model.py?view=original")
        assert NAME in original_readme.text and EMAIL in original_readme.text
        assert NAME in original_model.text and EMAIL in original_model.text
        assert "Original view" in original_model.text
        # the README's relative links stay in the view the reader chose; links elsewhere are left alone
        assert 'href="src/model.py?view=original"' in original_readme.text
        assert 'href="docs/fig.png?view=original"' in original_readme.text
        assert 'href="src/model.py"' in readme.text and "view=original" not in readme.text.split('id="markdown"')[1]


def test_others_who_may_see_the_submission_get_only_the_anonymized_view(setup, as_user, db):  # noqa: ANN001
    """An assigned reviewer sees the artifact from the review phase on, and cannot ask for the original."""
    from app.models import Submission
    from app.services.assignments import Change, apply_changes

    venue, cast, base = setup
    reviewer = as_user(cast["reviewer"])
    assert reviewer.get(base).status_code == 404
    assert reviewer.get(f"{base}/README.md").status_code == 404
    sub = db.exec(select(Submission).where(Submission.venue_id == venue.id)).one()
    apply_changes(db, cast["chair"], venue, [Change("add", sub.id, cast["members"]["reviewer"].id)],
                  action="assignment.manual")
    db.commit()
    assert reviewer.get(base).status_code == 404  # assigned, but the review phase has not begun
    venue.phase = "review"
    db.add(venue)
    db.commit()
    for url in (base, f"{base}?view=original", f"{base}/README.md?view=original", f"{base}/src/model.py?view=original",
                f"{base}/src/model.py?view=original&source=1"):
        r = reviewer.get(url)
        assert r.status_code == 200, url
        _assert_no_identity(r.text)
        assert "Original view" not in r.text and 'id="view-switch"' not in r.text
        if "README" in url:  # the reviewer's links lead to the anonymized view, the only one they have
            assert 'href="src/model.py"' in r.text and "view=original" not in r.text.split('id="markdown"')[1]
    download = reviewer.get(f"{base}/src/model.py?download=1&view=original")
    assert download.status_code == 200 and b"[anonymized]" in download.content
    _assert_no_identity(download.content.decode())
    api = f"/api/v1/venues/{venue.slug}/submissions/1/artifact/files"
    _assert_no_identity(reviewer.get(f"{api}/README.md?view=original").text)
    assert reviewer.get(f"{api}/README.md?view=original").text.count("[anonymized]") >= 2
    # The same request from an author gets the original: the query string is honoured only for them.
    assert NAME in as_user(cast["student"]).get(f"{api}/README.md?view=original").text


@pytest.mark.parametrize("who", ["reviewer", "loner", "outsider"])
def test_people_who_may_not_see_the_submission_get_404(setup, as_user, make, db, who):  # noqa: ANN001
    venue, cast, base = setup
    client = as_user(cast[who])
    for url in (base, f"{base}/README.md", f"{base}/README.md?view=original", f"{base}/data/weights.bin?download=1",
                f"/venues/{venue.slug}/submissions/1"):
        r = client.get(url)
        assert r.status_code == 404, (who, url, r.status_code)
        _assert_no_identity(r.text)


def test_an_author_of_another_group_gets_404(setup, as_user, make, db):  # noqa: ANN001
    venue, cast, base = setup
    other, _ = make.member(venue, group=make.group(venue, "Beta"))
    db.commit()
    client = as_user(other)
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/src/model.py?view=original").status_code == 404


@pytest.mark.parametrize("path", [
    "%2e%2e/%2e%2e/etc/passwd", "src/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "%2Fetc%2Fpasswd", "/etc/passwd",
    "..%2F..%2Fetc%2Fpasswd", "src/..%5C..%5Cetc", "C:%5Cwindows", "link.py", "src", "nope.py", "README.md%00.txt",
])
def test_traversal_links_and_missing_paths_are_404(setup, as_user, path):  # noqa: ANN001
    venue, cast, base = setup
    client = as_user(cast["chair"])
    for suffix in ("", "?download=1", "?view=original"):
        r = client.get(f"{base}/{path}{suffix}")
        assert r.status_code == 404, (path, suffix, r.status_code)
        # It reached the browser (the app's page says why), not a router miss.
        assert "<html" in r.text and ("no file" in r.text or "symbolic link" in r.text), r.text[:300]
        assert "root:" not in r.text
    if path == "link.py":
        assert "links are not followed" in client.get(f"{base}/link.py").text


def test_api_refuses_traversal_too(setup, as_user):  # noqa: ANN001
    venue, cast, _ = setup
    api = f"/api/v1/venues/{venue.slug}/submissions/1/artifact/files"
    client = as_user(cast["student"])
    for path in ("%2e%2e/%2e%2e/etc/passwd", "%2Fetc%2Fpasswd", "src/%2e%2e/%2e%2e/x"):
        r = client.get(f"{api}/{path}?view=original")
        assert r.status_code == 404 and r.json()["code"] == "not-found", (path, r.text)


def test_a_snapshot_with_an_escaping_symlink_is_never_followed(setup, as_user, db, settings):  # noqa: ANN001
    """Defence in depth: even a stored snapshot holding links out of the tree (snapshots refuse them) serves 404."""
    venue, cast, base = setup
    store = subs.store(settings)
    with scratch_dir(store) as staging:
        tree = TreeBuilder(staging, max_bytes=10**6, max_files=10)
        tree.add_file("README.md", b"hello")
        # Written past TreeBuilder's checks on purpose: add_symlink / finish would refuse both.
        tree.entries["evil"] = _Entry("symlink", "evil", target="../../../../etc/passwd")
        tree.entries["abs"] = _Entry("symlink", "abs", target="/etc/passwd")
        tree.write_tarball(staging / "t.tar.gz")
        sha, _ = store.put_file(staging / "t.tar.gz")
    sub = subs.get_submission(db, venue, 1)
    db.add(Artifact(submission_id=sub.id, source="archive", snapshot_sha=sha, anonymized_sha=sha, file_count=1,
                    total_bytes=5, created_by=cast["student"].id))
    db.commit()
    client = as_user(cast["chair"])
    tree_page = client.get(base)
    assert "evil" in tree_page.text and 'href="' + base + '/evil"' not in tree_page.text
    for name in ("evil", "abs"):
        assert client.get(f"{base}/{name}").status_code == 404
        assert client.get(f"{base}/{name}?download=1").status_code == 404
    assert client.get(f"{base}/README.md").status_code == 200


def test_binary_files_are_offered_for_download(setup, as_user):  # noqa: ANN001
    venue, cast, base = setup
    client = as_user(cast["student"])
    page = client.get(f"{base}/data/weights.bin")
    assert page.status_code == 200 and 'id="binary"' in page.text and "?download=1" in page.text
    assert "weights\n" not in page.text and 'id="file-content"' not in page.text
    r = client.get(f"{base}/data/weights.bin?download=1")
    assert r.status_code == 200 and r.content == BINARY
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''weights.bin"
    assert r.headers["x-content-type-options"] == "nosniff"
    text = client.get(f"{base}/src/model.py?download=1&view=original")
    assert text.content == MODEL.encode()


def test_text_is_escaped_with_line_numbers_and_big_files_are_truncated(setup, as_user):  # noqa: ANN001
    venue, cast, base = setup
    client = as_user(cast["student"])
    html = client.get(f"{base}/src/model.py").text
    assert "&lt;b&gt;not bold&lt;/b&gt;" in html and "<b>not bold</b>" not in html
    assert 'id="L3"' in html and 'href="#L3">3</a>' in html and 'id="L4"' not in html
    log = client.get(f"{base}/logs/train.log")
    assert 'id="truncated"' in log.text and "only its first 25" in log.text
    assert "step 0: loss 1.000000" in log.text and "step 19999:" not in log.text
    full = client.get(f"{base}/logs/train.log?download=1")
    assert full.content.endswith(b"step 19999: loss 0.000050\n")
    assert 'id="truncated"' not in client.get(f"{base}/src/model.py").text


def test_readme_is_rendered_sanitised_and_loads_nothing_remote(setup, as_user):  # noqa: ANN001
    venue, cast, base = setup
    client = as_user(cast["chair"])
    html = client.get(f"{base}/README.md?view=original").text
    body = html.split('id="markdown">', 1)[1].split("</article>", 1)[0]
    assert "<h1>Int8 KWS</h1>" in body
    assert "<script" not in body and "&lt;script&gt;" in body
    assert "<img" not in body and "tracker.example" not in body.split("image not loaded", 1)[0]
    assert "[image not loaded: plot]" in body
    assert '<a href="docs/fig.png?view=original"' in body and '<a href="src/model.py?view=original"' in body
    assert "javascript:" not in body.replace("[click](javascript:alert(1))", "")
    source = client.get(f"{base}/README.md?view=original&source=1").text
    assert 'id="markdown"' not in source and "&lt;script&gt;alert(" in source and 'id="L1"' in source


def test_manifest_problems_are_shown_by_line(setup, as_user, db, settings):  # noqa: ANN001
    """A snapshot whose reproduce.toml has mistakes (uploads refuse them, older snapshots may have them)."""
    venue, cast, base = setup
    good = as_user(cast["student"]).get(f"{base}/reproduce.toml").text
    assert 'id="manifest-ok"' in good and 'id="manifest-issues"' not in good
    bad = '[artifact]\nrig = "local"\ncomand = "x"\n\n[[claim]]\nid = "C1"\nexperiment = "E9"\n'
    store = subs.store(settings)
    snap = snapshot_from_archive(_targz({"reproduce.toml": bad.encode(), "a.py": b"x = 1\n"}), "c.tar.gz", store=store)
    anon = anonymized_view(store, snap.sha, [NAME], [EMAIL])
    sub = subs.get_submission(db, venue, 1)
    db.add(Artifact(submission_id=sub.id, source="archive", snapshot_sha=snap.sha, anonymized_sha=anon,
                    file_count=2, total_bytes=snap.total_bytes, created_by=cast["student"].id))
    db.commit()
    html = as_user(cast["student"]).get(f"{base}/reproduce.toml").text
    issues = html.split('id="manifest-issues"', 1)[1].split("</section>", 1)[0]
    assert 'href="#L3">line 3</a>' in issues and "comand" in issues
    line3 = html.split('id="L3"', 1)[1].split('id="L4"', 1)[0]
    assert "has-issue" in html.split('id="L3"', 1)[0].rsplit("<span", 1)[1]
    assert 'class="issue"' in line3 and "comand" in line3


def test_staff_page_for_chairs_and_tas(setup, as_user, browser_login, db):  # noqa: ANN001
    venue, cast, base = setup
    url = f"/venues/{venue.slug}/submissions/1"
    for who in ("chair", "ta"):
        r = as_user(cast[who]).get(url)
        assert r.status_code == 200, r.text
        html = r.text
        assert "Fast Int8 Keyword Spotting" in html and "We measure int8 KWS." in html and "TinyML" in html
        assert "Team Alpha" in html and NAME in html and EMAIL in html and "Stu Dent" in html
        assert 'id="format-report"' in html and "content page(s)" in html
        assert "/revisions/" in html and "pdf?copy=original" in html and "pdf?copy=reviewer" in html
        assert f'href="{base}"' in html and "5 files" in html
    # A second revision: both are listed, the older one's report in its own section.
    student = as_user(cast["student"])
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions/1/revisions",
                        files={"file": ("p2.pdf", make_pdf(5), "application/pdf")}).status_code == 201
    html = as_user(cast["chair"]).get(url).text
    assert html.count("data-revision=") == 2 and html.count('id="format-report') == 2
    # The list links to it.
    assert f'href="{url}"' in as_user(cast["chair"]).get(f"/venues/{venue.slug}/submissions").text
    # Authors are sent to their own page; nobody else gets in.
    own = student.get(url, follow_redirects=False)
    assert own.status_code == 303 and own.headers["location"] == f"/venues/{venue.slug}/submission"
    assert as_user(cast["reviewer"]).get(url).status_code == 404
    assert as_user(cast["chair"]).get(f"/venues/{venue.slug}/submissions/9").status_code == 404


def test_authors_page_links_to_the_browser(setup, browser_login):  # noqa: ANN001
    venue, cast, base = setup
    html = browser_login(cast["student"]).get(f"/venues/{venue.slug}/submission").text
    assert f'id="browse-files" href="{base}"' in html


def test_no_artifact_yet_is_404_with_a_message(make, db, as_user):  # noqa: ANN001
    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    as_user(cast["student"]).post(f"/api/v1/venues/{venue.slug}/submissions", json={"title": "Only a title"})
    r = as_user(cast["chair"]).get(f"/venues/{venue.slug}/submissions/1/artifact")
    assert r.status_code == 404 and "no code artifact" in r.text
    assert "No code artifact yet." in as_user(cast["chair"]).get(f"/venues/{venue.slug}/submissions/1").text



def test_code_is_masked_again_when_someone_joins_and_stays_masked_when_they_leave(make, db, as_user, settings):  # noqa: ANN001
    """A student who joins after the upload, and whose name is in the code, must not show in the reviewers'
    view; one who is moved out later stays masked (they may now review the paper); a renamed group's old
    name stays masked too."""
    from app.models import AuditEvent
    from app.services import groups

    venue = make.venue(phase="submission")
    cast = make.cast(venue)
    loner = cast["loner"]
    code = (f"# Authors: Stu Dent and {loner.full_name} <{loner.email}> (Team Alpha)\nprint('kws')\n").encode()
    student = as_user(cast["student"])
    assert student.post(f"/api/v1/venues/{venue.slug}/submissions",
                        json={"title": "Int8 KWS", "abstract": "We measure.", "keywords": []}).status_code == 200
    r = student.post(f"/api/v1/venues/{venue.slug}/submissions/1/artifact/archive",
                     files={"file": ("c.tar.gz", _targz({"kws.py": code, "reproduce.toml": MANIFEST.encode()}),
                                     "application/gzip")})
    assert r.status_code == 201, r.text
    api = f"/api/v1/venues/{venue.slug}/submissions/1/artifact/files/kws.py"
    chair = as_user(cast["chair"])

    def anonymized() -> str:
        return chair.get(api).text  # the chair asks for the view reviewers get (the default)

    assert "Stu Dent" not in anonymized() and loner.full_name in anonymized()  # not a member yet: not masked
    before = db.exec(select(Artifact)).one().anonymized_sha
    join = as_user(loner).post(f"/api/v1/venues/{venue.slug}/groups/join", json={"code": cast["group"].join_code})
    assert join.status_code == 200, join.text
    db.expire_all()
    art = db.exec(select(Artifact)).one()
    assert art.anonymized_sha != before
    view = anonymized()
    assert loner.full_name not in view and loner.email not in view and "Team Alpha" not in view
    assert "print('kws')" in view
    assert [e.action for e in db.exec(select(AuditEvent).where(AuditEvent.action == "artifact.reanonymize"))]
    # the chair moves them to no group: their name stays masked
    r = chair.post(f"/api/v1/venues/{venue.slug}/groups/move",
                   json={"member_id": cast["members"]["loner"].id, "group_id": None})
    assert r.status_code == 200, r.text
    assert loner.full_name not in anonymized()
    # a rename keeps the old name masked
    groups.rename_group(db, settings, cast["chair"], venue, cast["group"], "Keyword Spotters")
    db.commit()
    view = anonymized()
    assert "Team Alpha" not in view and loner.full_name not in view and "print('kws')" in view
    # the group and staff still read the original
    assert loner.full_name in chair.get(f"{api}?view=original").text
