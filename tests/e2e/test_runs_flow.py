"""In a real browser: a student stores a code snapshot, its smoke run (the server's embedded rig, sandboxed)
shows live and stops polling when done; the student adds a claim in the form, runs again, reads the checks."""

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from app.models import Deadline, Group, Member, User, Venue
from app.security.passwords import hash_password
from runners.sandbox import bwrap_available
from tests.api.test_runs import MANIFEST
from tests.e2e.conftest import register_and_upload_archive, sign_in

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not bwrap_available(), reason="artifacts only run inside bubblewrap")]
SCRIPT = ('import json, time\nprint("warming up", flush=True)\ntime.sleep(1.5)\n'
          'json.dump({"accuracy": 0.92, "latency_ms": 31.0}, open("metrics.json", "w"))\nprint("done")\n')


def _seed(engine) -> None:  # noqa: ANN001
    with Session(engine) as s:
        venue = Venue(slug="runs-e2e", title="Runs E2E", timezone="Europe/London", phase="submission")
        s.add(venue)
        s.flush()
        s.add(Deadline(venue_id=venue.id, kind="submission", due_at=datetime.now(UTC) + timedelta(days=3)))
        group = Group(venue_id=venue.id, name="Team Runner", join_code="RUNNER22")
        user = User(email="runner@uni.example", full_name="Rhea Runner", password_hash=hash_password("runner pass 1"))
        s.add_all([group, user])
        s.flush()
        s.add(Member(venue_id=venue.id, user_id=user.id, group_id=group.id))
        s.commit()


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("reproduce.toml", MANIFEST)
        z.writestr("run.py", SCRIPT)
    return buf.getvalue()


def test_smoke_run_live_status_claims_form_and_run_now(live_server, page, tmp_path):  # noqa: ANN001
    _seed(live_server.engine)
    url = live_server.url
    sign_in(page, url, "runner@uni.example", "runner pass 1")
    code = tmp_path / "code.zip"
    code.write_bytes(_zip())
    register_and_upload_archive(page, url, "runs-e2e", "Int8 keyword spotting", code)
    page.wait_for_selector("text=Code snapshot stored")

    # the smoke run was queued with the snapshot; its fragment polls until the run is done, then stops
    status = page.locator(".run-status").first
    assert status.get_attribute("hx-trigger") == "every 2s"
    page.wait_for_selector(".run-status .status[data-status='passed']", timeout=60_000)
    finished = page.locator(".run-status").first
    assert finished.get_attribute("hx-trigger") is None
    assert "done" in finished.locator(".log-tail").inner_text()
    assert "C1" in finished.locator("table.checks").inner_text()

    # a claim from the form, checked by the next run
    page.click("#add-claim summary")
    page.fill("#new-claim-key", "C2")
    page.fill("#new-claim-text", "Latency stays under 20 ms")
    page.fill("#new-claim-page", "5")
    page.fill("#new-claim-metric", "latency_ms")
    page.fill("#new-claim-value", "20")
    page.select_option("#new-claim-direction", "at_most")
    page.click("button:has-text('Add claim')")
    page.wait_for_selector("text=Claim C2 added.")
    row = page.locator("#claims-table tr[data-claim='C2']")
    assert "Latency stays under 20 ms" in row.inner_text() and row.locator(".check").inner_text() == "fail"
    page.click("button:has-text('Run now')")
    page.wait_for_selector("text=queued on a local rig")
    # a function, not an expression: Playwright evals a bare expression in the page, which the CSP refuses
    page.wait_for_function(
        "() => document.querySelectorAll('.run-status .status[data-status=\"failed\"]').length >= 1", timeout=60_000)
    newest = page.locator(".run-status").first
    text = newest.inner_text()
    assert "claim C2" in text and "Latency stays under 20 ms" in text
    log = page.request.get(url + newest.locator("a:has-text('Download the full log')").get_attribute("href"))
    assert log.ok and "warming up" in log.text() and "attachment" in log.headers["content-disposition"]
