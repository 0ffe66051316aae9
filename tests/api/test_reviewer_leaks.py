"""Identity leaks to a hostile assigned reviewer (issue 18): the format report's title and author text, superseded
revisions, and the conflict-declaration oracle. Each test plays the reviewer through the JSON API and the pages."""

import hashlib
import io
import re

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen import canvas
from sqlmodel import func, select

from app.models import Assignment, AuditEvent, Conflict, Revision, Submission
from app.services.assignments import MAX_DECLARED_CONFLICTS
from tests.api.test_submissions import LOREM, make_pdf

AUTHOR, MATE = "Zelda Quarkmore", "Yuri Nobody"


def _with_title(data: bytes, title: str) -> bytes:
    """The PDF with its document /Title set (what students fill with "Title - Name and Name")."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.add_metadata({"/Title": title})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _with_running_header(header: str, pages: int = 5) -> bytes:
    """A NeurIPS-like paper with a running header in the top margin on every page (the check quotes it)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter)
    for page in range(1, pages + 1):
        c.setFont("Times-Roman", 9)
        c.drawString(108, 760, header)
        y = 720
        if page == 1:
            c.setFont("Times-Bold", 17)
            c.drawCentredString(306, y, "Fast Int8 Keyword Spotting on Microcontrollers")
            c.setFont("Times-Roman", 10)
            c.drawCentredString(306, y - 40, "Anonymous Author(s)")
            c.drawCentredString(306, y - 70, "Abstract")
            y -= 90
        if page == pages:
            c.setFont("Times-Bold", 12)
            c.drawString(108, y, "References")
            y -= 20
        c.setFont("Times-Roman", 10)
        words = LOREM.split()
        while y > 90:
            line, i = "", 0
            while i < len(words) and c.stringWidth(line + " " + words[i], "Times-Roman", 10) < 396:
                line = (line + " " + words[i]).strip()
                i += 1
            c.drawString(108, y, line)
            y -= 12
        c.drawCentredString(306, 40, str(page))
        c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture
def paper(make, db, as_user):  # noqa: ANN001, ANN201
    """Submission #1 by Zelda Quarkmore and Yuri Nobody (Team Alpha) with two revisions, in the review phase,
    assigned to a student of Team Beta (the hostile reviewer)."""
    venue = make.venue(phase="submission")
    alpha, beta = make.group(venue, "Team Alpha"), make.group(venue, "Team Beta")
    author, _ = make.member(venue, "student", group=alpha, name=AUTHOR)
    mate, _ = make.member(venue, "student", group=alpha, name=MATE)
    reviewer, reviewer_m = make.member(venue, "student", group=beta, name="Hostile Reviewer")
    chair, _ = make.member(venue, "chair", name="Chair Person")
    db.commit()
    c = as_user(author)
    base = f"/api/v1/venues/{venue.slug}/submissions"
    assert c.post(base, json={"title": "Fast Int8 Keyword Spotting", "abstract": LOREM}).status_code == 200
    # The first upload names the authors in the PDF's properties; the second, the one that counts, does too,
    # in its /Title only (the common case), and sets a running header with a name in it.
    first = c.post(f"{base}/1/revisions", files={"file": ("zelda_quarkmore_v1.pdf",
                                                          make_pdf(5, author=f"{AUTHOR} and {MATE}"),
                                                          "application/pdf")})
    assert first.status_code == 201, first.text
    second_pdf = _with_title(_with_running_header(f"Draft by {AUTHOR}"),
                             f"Fast Int8 Keyword Spotting - {AUTHOR} and {MATE}")
    second = c.post(f"{base}/1/revisions", files={"file": ("final.pdf", second_pdf, "application/pdf")})
    assert second.status_code == 201, second.text
    assert second.json()["format_report"]["title"] == f"Fast Int8 Keyword Spotting - {AUTHOR} and {MATE}"
    venue.phase = "review"
    db.add(venue)
    sub = db.exec(select(Submission).where(Submission.venue_id == venue.id)).one()
    db.add(Assignment(venue_id=venue.id, submission_id=sub.id, member_id=reviewer_m.id))
    db.commit()
    return {"venue": venue, "author": author, "reviewer": reviewer, "chair": chair, "base": base,
            "first": first.json()["id"], "second": second.json()["id"]}


def _leaks(text: str) -> list[str]:
    return [word for word in ("Zelda", "Quarkmore", "Yuri", "Nobody", "zelda") if word in text]


def test_the_format_report_reaches_reviewers_without_title_or_author_text(paper, as_user,  # noqa: ANN001
                                                                           browser_login):
    reviewer, base = as_user(paper["reviewer"]), paper["base"]
    sub = reviewer.get(f"{base}/1")
    assert sub.status_code == 200, sub.text
    report = sub.json()["current_revision"]["format_report"]
    assert report["title"] is None and report["pages_total"] == 5
    revs = reviewer.get(f"{base}/1/revisions")
    assert revs.status_code == 200 and revs.json()[0]["format_report"]["title"] is None
    assert _leaks(sub.text) == [] and _leaks(revs.text) == []
    # the findings keep their codes and severities (format_ok still matches them), not the authors' words
    codes = {f["code"] for f in report["findings"]}
    assert "margins" in codes and "not-anonymous" in codes, report["findings"]
    # the authors and the chairs still read the report as the check wrote it
    for who in ("author", "chair"):
        mine = as_user(paper[who]).get(f"{base}/1").json()["current_revision"]["format_report"]
        assert AUTHOR in mine["title"] and any(AUTHOR in f["message"] for f in mine["findings"])
    # the pages a reviewer opens show none of it either
    page = browser_login(paper["reviewer"]).get(f"/venues/{paper['venue'].slug}/submissions/1/review")
    assert page.status_code == 200 and _leaks(page.text) == []


def test_reviewers_read_only_the_revision_that_counts(paper, as_user, browser_login):  # noqa: ANN001
    reviewer, base, first, second = as_user(paper["reviewer"]), paper["base"], paper["first"], paper["second"]
    listed = reviewer.get(f"{base}/1/revisions").json()
    assert [r["id"] for r in listed] == [second] and listed[0]["current"]
    for copy in ("reviewer", "original"):
        assert reviewer.get(f"{base}/1/revisions/{first}/pdf?copy={copy}").status_code == 404
    assert reviewer.get(f"{base}/1/revisions/{second}/pdf").status_code == 200
    assert reviewer.get(f"{base}/1/revisions/{second}/pdf?copy=original").status_code == 403
    page = browser_login(paper["reviewer"]).get(f"/venues/{paper['venue'].slug}/submissions/1/review")
    assert f"/revisions/{second}/pdf" in page.text and f"/revisions/{first}/pdf" not in page.text
    # authors and staff keep every revision
    for who in ("author", "chair"):
        c = as_user(paper[who])
        assert [r["id"] for r in c.get(f"{base}/1/revisions").json()] == [second, first]
        old = c.get(f"{base}/1/revisions/{first}/pdf?copy=original")
        assert old.status_code == 200 and PdfReader(io.BytesIO(old.content)).metadata["/Author"].startswith(AUTHOR)


def test_the_reviewer_reads_the_reviewer_copy_inline_never_the_original(paper, as_user, db):  # noqa: ANN001
    """Issue 17: the PDF is served inline (the pane beside the form shows it; no download on every visit), as a
    PDF the browser may not sniff into anything else, and the reviewer gets the scrubbed copy only."""
    reviewer, base, second = as_user(paper["reviewer"]), paper["base"], paper["second"]
    r = reviewer.get(f"{base}/1/revisions/{second}/pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline;") and "attachment" not in r.headers["content-disposition"]
    assert r.headers["x-content-type-options"] == "nosniff"
    rev = db.get(Revision, second)
    assert rev.reviewer_blob_sha != rev.blob_sha
    assert hashlib.sha256(r.content).hexdigest() == rev.reviewer_blob_sha
    assert _leaks(str(PdfReader(io.BytesIO(r.content)).metadata or {})) == []
    # whatever the query says, the reviewer never gets the original
    assert reviewer.get(f"{base}/1/revisions/{second}/pdf?copy=original").status_code == 403
    # the authors' original is inline too
    mine = as_user(paper["author"]).get(f"{base}/1/revisions/{second}/pdf?copy=original")
    assert mine.status_code == 200 and mine.headers["content-disposition"].startswith("inline;")
    assert hashlib.sha256(mine.content).hexdigest() == rev.blob_sha


@pytest.fixture
def roster(make, db):  # noqa: ANN001, ANN201
    """A student of Team Beta who probes the roster, and people in every standing they could name."""
    venue = make.venue(phase="assignment")
    alpha, beta = make.group(venue, "Team Alpha"), make.group(venue, "Team Beta")
    prober, prober_m = make.member(venue, "student", group=beta, name="Pro Ber")
    mate, _ = make.member(venue, "student", group=beta, name="Beta Mate")
    in_alpha, _ = make.member(venue, "student", group=alpha, name="Al Pha")
    alpha_two, _ = make.member(venue, "student", group=alpha, name="Al Two")
    loner, _ = make.member(venue, "student", name="Lone Student")
    outsider = make.user("Out Sider")
    chair, _ = make.member(venue, "chair", name="Chair Person")
    db.commit()
    return {"venue": venue, "prober": prober, "prober_m": prober_m, "mate": mate, "in_alpha": in_alpha,
            "alpha_two": alpha_two, "loner": loner, "outsider": outsider, "chair": chair}


def _count(db, model, *where) -> int:  # noqa: ANN001
    db.expire_all()
    return db.exec(select(func.count()).select_from(model).where(*where)).one()


def test_declaring_a_conflict_answers_the_same_whatever_the_roster_holds(roster, as_user,  # noqa: ANN001
                                                                         browser_login, db):
    c, url = as_user(roster["prober"]), f"/api/v1/venues/{roster['venue'].slug}/conflicts"
    emails = {"in a group": roster["in_alpha"].email, "already declared": roster["in_alpha"].email,
              "same group as a declared one": roster["alpha_two"].email, "not in a group": roster["loner"].email,
              "not in the venue": roster["outsider"].email, "nobody": "ghost@nowhere.example",
              "own group": roster["mate"].email, "upper case": roster["in_alpha"].email.upper()}
    answers = {}
    for what, email in emails.items():
        r = c.post(url, json={"with_email": email, "reason": "flatmates"})
        answers[what] = (r.status_code, r.json())
    assert len(set(map(repr, answers.values()))) == 1, answers
    status, body = answers["in a group"]
    assert status == 201 and set(body) == {"status", "message"}
    # the student's own list is the emails they typed, whatever each resolved to
    own = c.get(url).json()
    assert sorted(row["email"] for row in own) == sorted({e.lower() for e in emails.values()})
    assert all(set(row) == {"source", "email", "reason", "created_at"} for row in own)
    # the page answers the same too
    page = browser_login(roster["prober"])
    flashes = set()
    for email in (roster["alpha_two"].email, "ghost2@nowhere.example", roster["loner"].email):
        r = page.post(f"/venues/{roster['venue'].slug}/conflicts",
                      data={"csrf_token": page.csrf, "with_email": email, "reason": ""})
        assert r.status_code == 200
        flashes.add(tuple(re.findall(r'data-kind="(\w+)">([^<]*)</p>', r.text)))
    assert len(flashes) == 1, flashes
    [(kind, message)] = flashes.pop()
    assert kind == "ok" and message.startswith("Conflict declared"), message
    # only the real one made a conflict row, and the chairs see it with who declared it
    prober_m = roster["prober_m"]
    assert _count(db, Conflict, Conflict.member_id == prober_m.id) == 1
    listed = as_user(roster["chair"]).get(url).json()
    assert listed[0]["reviewer"] == roster["prober"].email and listed[0]["with"] == roster["in_alpha"].email
    assert listed[0]["declared_by"] == "Pro Ber" and listed[0]["source"] == "declared" and listed[0]["id"]
    # and every other declaration, with what it resolved to
    shown = {row["with"]: (row["declared_by"], row["source"], row["group"]) for row in listed}
    assert set(shown) == {e.lower() for e in emails.values()} | {roster["alpha_two"].email, "ghost2@nowhere.example"}
    assert shown[roster["loner"].email] == ("Pro Ber", "declared (no group)", "")
    assert shown[roster["mate"].email] == ("Pro Ber", "declared (own group)", "Team Beta")
    assert shown[roster["alpha_two"].email] == ("Pro Ber", "declared", "Team Alpha")
    chairs_page = browser_login(roster["chair"]).get(f"/venues/{roster['venue'].slug}/conflicts")
    assert "Pro Ber" in chairs_page.text and f"(with {roster['in_alpha'].email})" in chairs_page.text


def test_declared_conflicts_are_capped_and_the_refusal_changes_nothing(roster, as_user, db):  # noqa: ANN001
    c, url = as_user(roster["prober"]), f"/api/v1/venues/{roster['venue'].slug}/conflicts"
    for i in range(MAX_DECLARED_CONFLICTS - 1):
        assert c.post(url, json={"with_email": f"person{i}@nowhere.example"}).status_code == 201
    assert c.post(url, json={"with_email": roster["in_alpha"].email}).status_code == 201  # the tenth
    events, rows = _count(db, AuditEvent), _count(db, Conflict)
    for email in (roster["alpha_two"].email, "one-more@nowhere.example"):
        r = c.post(url, json={"with_email": email, "reason": "one too many"})
        assert r.status_code == 409 and f"{MAX_DECLARED_CONFLICTS} conflicts" in r.json()["detail"], r.text
    assert (_count(db, AuditEvent), _count(db, Conflict)) == (events, rows)
    assert len(c.get(url).json()) == MAX_DECLARED_CONFLICTS
    # naming someone already named again is not a new declaration: same answer, nothing added
    assert c.post(url, json={"with_email": roster["in_alpha"].email}).status_code == 201
    assert _count(db, AuditEvent) == events


def test_a_person_named_before_they_join_a_group_is_a_conflict_once_they_do(roster, as_user, db, make):  # noqa: ANN001
    """Declarations open in setup, before groups form: the conflict follows the person named."""
    from app.models import Member
    from app.services.assignments import conflict_pairs

    venue, prober_m = roster["venue"], roster["prober_m"]
    url = f"/api/v1/venues/{venue.slug}/conflicts"
    assert as_user(roster["prober"]).post(url, json={"with_email": roster["loner"].email}).status_code == 201
    db.expire_all()
    assert all(member_id != prober_m.id for _g, member_id in conflict_pairs(db, venue))
    gamma = make.group(venue, "Team Gamma")
    loner_m = db.exec(select(Member).where(Member.venue_id == venue.id,
                                           Member.user_id == roster["loner"].id)).one()
    loner_m.group_id = gamma.id
    db.add(loner_m)
    db.commit()
    pairs = conflict_pairs(db, venue)
    assert (gamma.id, prober_m.id) in pairs and (prober_m.group_id, loner_m.id) in pairs
