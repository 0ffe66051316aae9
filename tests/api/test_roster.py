"""Roster import from gradebook CSVs: formats Moodle produces, bad files, idempotence."""

import os

from sqlmodel import func, select

from app.models import AuditEvent, Member, User

MOODLE = (
    '\ufeff"First name","Last name","ID number","Institution","Department","Email address","Last downloaded from this course"\n'
    '"Zoë","Dubois","s100","Uni","CS","zoe.dubois@student.uni.example","1700000000"\n'
    '"Kofi","Mensah","s101","Uni","CS","Kofi.Mensah@Student.Uni.Example","1700000000"\n'
    '"Priya","Sharma","s102","Uni","CS","priya.sharma@student.uni.example",""\n'
)


def _import(client, venue, content: bytes, partial: bool = False):  # noqa: ANN001, ANN202
    return client.post(f"/api/v1/venues/{venue.slug}/roster", files={"file": ("roster.csv", content, "text/csv")},
                       data={"partial": "true" if partial else "false"})


def _count(db, venue) -> int:  # noqa: ANN001
    return db.exec(select(func.count()).select_from(Member).where(Member.venue_id == venue.id)).one()


def test_moodle_export_with_bom_imports_and_is_idempotent(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    chair = as_user(cast["chair"])
    before = _count(db, venue)
    r = _import(chair, venue, MOODLE.encode("utf-8"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["created"], out["updated"], out["unchanged"], out["rejected"]) == (3, 0, 0, [])
    assert _count(db, venue) == before + 3
    kofi = db.exec(select(User).where(User.email == "kofi.mensah@student.uni.example")).one()
    assert kofi.full_name == "Kofi Mensah" and kofi.student_id == "s101"
    again = _import(chair, venue, MOODLE.encode("utf-8")).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
    assert _count(db, venue) == before + 3
    changed = MOODLE.replace('"Priya","Sharma"', '"Priya","Sharma-Iyer"').encode()
    third = _import(chair, venue, changed).json()
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 2)
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "roster.import")).all()


def test_semicolon_separated_utf16_export_with_role_column(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    text = "Email address;First name;Last name;Role\nta.one@uni.example;Tess;One;Teaching assistant\n" \
           "stud.two@uni.example;Sam;Two;student\n"
    r = _import(as_user(cast["chair"]), venue, text.encode("utf-16"))
    assert r.status_code == 200, r.text
    roles = {u.email: m.role for m, u in db.exec(select(Member, User).join(User, User.id == Member.user_id)
                                                  .where(Member.venue_id == venue.id)).all()}
    assert roles["ta.one@uni.example"] == "ta" and roles["stud.two@uni.example"] == "student"


def test_wrong_encoding_is_refused_and_changes_nothing(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    before = _count(db, venue)
    r = _import(as_user(cast["chair"]), venue, MOODLE.encode("utf-8").replace(b"\xc3\xab", b"\xeb"))
    assert r.status_code == 422 and "not UTF-8" in r.json()["detail"] and "line 2" in r.json()["detail"]
    assert _count(db, venue) == before


def test_missing_email_column_is_refused(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    r = _import(as_user(cast["chair"]), venue, b"First name,Last name,ID number\nA,B,1\n")
    assert r.status_code == 422 and "no email column" in r.json()["detail"]
    assert '"First name"' in r.json()["detail"]


def test_duplicate_emails_reject_the_file_unless_partial(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    before = _count(db, venue)
    content = (MOODLE + '"Zoe","Dubois","s103","Uni","CS","ZOE.DUBOIS@student.uni.example",""\n'
               '"No","Mail","s104","Uni","CS","not-an-email",""\n').encode()
    r = _import(as_user(cast["chair"]), venue, content)
    assert r.status_code == 422
    body = r.json()
    assert "Nothing was imported" in body["detail"]
    reasons = {row["line"]: row["reason"] for row in body["details"]["rejected"]}
    assert "appears twice (first on line 2)" in reasons[5]
    assert "not a valid email" in reasons[6]
    assert _count(db, venue) == before
    r = _import(as_user(cast["chair"]), venue, content, partial=True)
    assert r.status_code == 200 and r.json()["created"] == 3 and len(r.json()["rejected"]) == 2
    assert _count(db, venue) == before + 3


def test_ten_megabytes_of_junk_is_refused(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    before = _count(db, venue)
    r = _import(as_user(cast["chair"]), venue, os.urandom(10 * 1024 * 1024))
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    small_junk = _import(as_user(cast["chair"]), venue, os.urandom(50_000))
    assert small_junk.status_code == 422
    assert _count(db, venue) == before


def test_only_chairs_import(make, as_user, db):
    venue = make.venue()
    cast = make.cast(venue)
    for who in ("ta", "student", "reviewer"):
        assert _import(as_user(cast[who]), venue, MOODLE.encode()).status_code == 403, who
    assert _import(as_user(cast["outsider"]), venue, MOODLE.encode()).status_code == 404


def test_roster_page_import_shows_the_report(make, browser_login, db):
    venue = make.venue()
    cast = make.cast(venue)
    c = browser_login(cast["chair"])
    r = c.post(f"/venues/{venue.slug}/roster", files={"file": ("r.csv", MOODLE.encode(), "text/csv")},
               data={"csrf_token": c.csrf})
    assert r.status_code == 200 and "3 created, 0 updated, 0 unchanged, 0 rejected" in r.text
    assert "Kofi Mensah" in r.text
    r = c.post(f"/venues/{venue.slug}/roster", files={"file": ("r.csv", b"Name\nx\n", "text/csv")},
               data={"csrf_token": c.csrf})
    assert "no email column" in r.text


def test_strict_and_partial_report_the_same_counts_for_the_same_file(make, as_user, db):
    """Issue 17: strict mode said "0 created, 2 updated, 0 unchanged, 1 rejected" where partial said "2 unchanged"."""
    venue = make.venue()
    cast = make.cast(venue)
    chair = as_user(cast["chair"])
    assert _import(chair, venue, MOODLE.encode()).status_code == 200
    header = MOODLE.splitlines(keepends=True)[0]
    zoe, kofi, priya = MOODLE.splitlines(keepends=True)[1:]
    bad = '"No","Mail","s104","Uni","CS","not-an-email",""\n'
    same_two = (header + zoe + kofi + bad).encode()
    before = _count(db, venue)
    strict = _import(chair, venue, same_two)
    assert strict.status_code == 422
    counts = strict.json()["details"]
    assert (counts["created"], counts["updated"], counts["unchanged"], len(counts["rejected"])) == (0, 0, 2, 1)
    assert "0 created, 0 updated, 2 unchanged, 1 rejected" in strict.json()["detail"]
    partial = _import(chair, venue, same_two, partial=True).json()
    assert (partial["created"], partial["updated"], partial["unchanged"], len(partial["rejected"])) == (0, 0, 2, 1)
    # a file with one of each: strict says what partial then does, and strict changed nothing
    mixed = (header + zoe + priya.replace('"Sharma"', '"Sharma-Iyer"')
             + '"New","Person","s105","Uni","CS","new.person@student.uni.example",""\n' + bad).encode()
    strict = _import(chair, venue, mixed)
    counts = strict.json()["details"]
    assert strict.status_code == 422
    assert (counts["created"], counts["updated"], counts["unchanged"], len(counts["rejected"])) == (1, 1, 1, 1)
    assert _count(db, venue) == before
    assert db.exec(select(User).where(User.email == "priya.sharma@student.uni.example")).one().full_name == "Priya Sharma"
    partial = _import(chair, venue, mixed, partial=True).json()
    assert (partial["created"], partial["updated"], partial["unchanged"], len(partial["rejected"])) == (1, 1, 1, 1)
    assert _count(db, venue) == before + 1
