"""The assignment pages: chair page (preview/apply, table, lock, add, CSV import errors, quality summary), the
job progress fragment, the bidding page (titles and abstracts only, htmx and plain forms) and conflicts."""

from sqlmodel import func, select

from app.jobs import assignments as solve_jobs
from app.models.assignment import Assignment, Bid, Conflict
from app.services import assignments as assignment_service
from tests.api.test_assignments import TOPICS, _venue, held_jobs, inline_jobs, on_test_connection  # noqa: F401


def _count(db, model) -> int:  # noqa: ANN001
    return db.exec(select(func.count()).select_from(model)).one()


def test_chair_previews_applies_locks_and_sees_quality(make, db, browser_login, inline_jobs):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = browser_login(chair)
    url = f"/venues/{venue.slug}/assignments"
    page = c.get(url)
    assert page.status_code == 200 and 'id="solve"' in page.text and "Nothing is assigned yet" in page.text
    r = c.post(f"{url}/jobs", data={"csrf_token": c.csrf, "k": "2", "min_load": "0", "max_load": "2",
                                    "keep_existing": "on", "action": "preview"})
    assert r.status_code == 200 and "Preview started" in r.text  # redirected back to the page
    assert 'id="preview-changes"' in r.text and r.text.count("<td>add</td>") == 8
    assert "<svg" in r.text and _count(db, Assignment) == 0
    job_id = int(r.text.split('/assignments/jobs/')[1].split('/apply')[0])
    r = c.post(f"{url}/jobs/{job_id}/apply", data={"csrf_token": c.csrf})
    assert "Preview applied." in r.text and _count(db, Assignment) == 8
    assert 'id="quality-summary"' in r.text and 'id="affinity-plot"' in r.text and "8 reviewer(s) with 1" in r.text
    assert r.text.count('data-origin="auto"') == 8 and "own submission #" in r.text
    a = db.exec(select(Assignment).where(Assignment.venue_id == venue.id)).first()
    sub_number = next(s.number for s in assignment_service.submissions(db, venue) if s.id == a.submission_id)
    r = c.post(f"{url}/change", data={"csrf_token": c.csrf, "op": "lock", "submission": str(sub_number),
                                      "member_id": str(a.member_id)})
    assert "Pair locked." in r.text and r.text.count('data-origin="locked"') == 1
    db.refresh(a)
    assert a.locked
    # Removing a locked pair is refused with the reason, and nothing changes.
    r = c.post(f"{url}/change", data={"csrf_token": c.csrf, "op": "remove", "submission": str(sub_number),
                                      "member_id": str(a.member_id)})
    assert "unlock first" in r.text and _count(db, Assignment) == 8
    # Adding an author to their own paper: refused.
    own = people["Tiny A"][0][1]
    r = c.post(f"{url}/change", data={"csrf_token": c.csrf, "op": "add", "submission": "1", "member_id": str(own.id)})
    assert "is an author of #1" in r.text and _count(db, Assignment) == 8
    # A form without the CSRF token changes nothing.
    r = c.post(f"{url}/change", data={"op": "unlock", "submission": str(sub_number), "member_id": str(a.member_id)})
    assert r.status_code == 403
    db.refresh(a)
    assert a.locked


def test_csv_import_on_the_page_lists_every_bad_line(make, db, browser_login):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    c = browser_login(chair)
    url = f"/venues/{venue.slug}/assignments"
    author = people["Tiny A"][0][0]
    data = f"1,{author.email}\n2,ghost@uni.example\n".encode()
    r = c.post(f"{url}/import", data={"csrf_token": c.csrf}, files={"file": ("a.csv", data, "text/csv")})
    assert r.status_code == 200 and 'id="import-problems"' in r.text
    assert f"line 1: {author.email} is an author of #1" in r.text
    assert "line 2: ghost@uni.example is not a reviewer in this venue" in r.text
    assert _count(db, Assignment) == 0


def test_ta_reads_the_page_without_forms_and_students_are_refused(make, db, browser_login):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    ta, _ = make.member(venue, "ta", name="TA")
    db.commit()
    page = browser_login(ta).get(f"/venues/{venue.slug}/assignments")
    assert page.status_code == 200 and 'id="read-only"' in page.text
    assert 'id="solve"' not in page.text and 'id="add-pair"' not in page.text and "Lock</button>" not in page.text
    student = people["Dist A"][0][0]
    assert browser_login(student).get(f"/venues/{venue.slug}/assignments").status_code == 403


def test_the_progress_fragment_polls_until_the_job_finishes(make, db, browser_login, held_jobs):  # noqa: ANN001
    venue, chair, _people = _venue(make, db)
    c = browser_login(chair)
    url = f"/venues/{venue.slug}/assignments"
    c.post(f"{url}/jobs", data={"csrf_token": c.csrf, "k": "2", "max_load": "2", "action": "preview"})
    job = assignment_service.latest_job(db, venue)
    frag = c.get(f"{url}/jobs/{job.id}", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in frag.text and "<progress" in frag.text and "HX-Refresh" not in frag.headers
    assert held_jobs == [job.id]
    solve_jobs.run_job(on_test_connection(db), c.app.state.settings, job.id)
    db.expire_all()
    frag = c.get(f"{url}/jobs/{job.id}", headers={"HX-Request": "true"})
    assert "hx-trigger" not in frag.text and "<progress" not in frag.text
    assert frag.headers["HX-Refresh"] == "true"  # the page reloads once, to show the preview


def test_bidding_page_titles_and_abstracts_only(make, db, browser_login):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    user, member = people["Dist A"][0]
    c = browser_login(user)
    url = f"/venues/{venue.slug}/bids"
    page = c.get(url)
    assert page.status_code == 200
    listed = page.text.split('id="bids"')[1]
    assert "#1 Keyword spotting" in listed and "#4 ZeRO" in listed and "#3 " not in listed  # not their own
    assert TOPICS["Tiny A"][1][:40] in listed  # abstracts shown
    assert not any(name in listed for name in TOPICS) and "student" not in listed  # no groups, no authors
    # htmx: the row is saved on change and comes back marked
    r = c.post(f"{url}/1", data={"value": "eager"}, headers={"HX-Request": "true", "X-CSRF-Token": c.csrf})
    assert r.status_code == 200 and 'id="bid-1"' in r.text and "Saved: eager" in r.text
    assert 'value="eager" checked' in r.text
    # a plain form post works too (no JS)
    r = c.post(f"{url}/2", data={"value": "not_willing", "csrf_token": c.csrf})
    assert "Bid on #2 saved." in r.text
    bids = {b.submission_id: b.value for b in db.exec(select(Bid).where(Bid.member_id == member.id)).all()}
    assert sorted(bids.values()) == ["eager", "not_willing"]
    r = c.post(f"{url}/3", data={"value": "eager", "csrf_token": c.csrf})
    assert "own group" in r.text and len(db.exec(select(Bid).where(Bid.member_id == member.id)).all()) == 2
    # interests on the same page
    r = c.post(f"/venues/{venue.slug}/interests", data={"csrf_token": c.csrf,
                                                       "interests": "Pipeline parallelism\n\nZeRO and sharding"})
    assert "Interests saved (2 item(s))." in r.text and "ZeRO and sharding</textarea>" in r.text


def test_students_declare_conflicts_and_chairs_import_them_on_pages(make, db, browser_login):  # noqa: ANN001
    venue, chair, people = _venue(make, db)
    user, member = people["Tiny B"][0]
    c = browser_login(user)
    url = f"/venues/{venue.slug}/conflicts"
    assert "Import conflicts" not in c.get(url).text
    r = c.post(url, data={"csrf_token": c.csrf, "with_email": people["Dist A"][1][0].email, "reason": "flatmates"})
    assert "Conflict declared" in r.text and "flatmates" in r.text and "Dist A" not in r.text
    assert db.exec(select(Conflict).where(Conflict.member_id == member.id)).one().source == "declared"
    cc = browser_login(chair)
    bad = f"{user.email},#99\nnobody@uni.example,1\n".encode()
    r = cc.post(f"{url}/import", data={"csrf_token": cc.csrf}, files={"file": ("c.csv", bad, "text/csv")})
    assert "line 1: there is no submission #99" in r.text and "line 2: nobody@uni.example is not a member" in r.text
    assert _count(db, Conflict) == 1
    good = f"{user.email},#4,same team last term\n".encode()
    r = cc.post(f"{url}/import", data={"csrf_token": cc.csrf}, files={"file": ("c.csv", good, "text/csv")})
    assert "Imported 1 conflict(s)" in r.text and "same team last term" in r.text and "Dist B" in r.text
    assert _count(db, Conflict) == 2
