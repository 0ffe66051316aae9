"""The demo in the browser: every demo login signs in and opens its main pages, and each page shows data
(the demo is what a newcomer sees first)."""

import pytest
from sqlmodel import Session

from app.demo import DEMO_PASSWORD, build_demo, demo_logins
from tests.e2e.conftest import sign_in
from tests.live import serve_in_thread

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NOW, LAST, DONE = "/venues/mlsys-2026", "/venues/mlsys-2025", "/venues/mlsys-2024"
KWS = "Keyword spotting on the Arduino Nano 33 BLE Sense"

# login role (as demo_logins names it) -> [(path, text the page must show)]
PAGES = {
    "site admin": [("/", "MLSys 2025"), (NOW, "MLSys 2026"), (LAST, "MLSys 2025"), (DONE, "MLSys 2024")],
    "lecturer (chair)": [(NOW, "Audit log"), (f"{NOW}/roster", "student.uni.example"),
                         (f"{NOW}/groups", "Warp Speed"), (f"{NOW}/extensions", "Arduino Nano 33 BLE Sense"),
                         (f"{NOW}/audit", "created MLSys 2026"),
                         (f"{NOW}/submissions", "problems"), (f"{LAST}/submissions", KWS),
                         (f"{LAST}/submissions/1", KWS), (f"{LAST}/reviews", KWS), (f"{LAST}/moderation", KWS),
                         (f"{DONE}/marks", "Total")],
    "ta": [(NOW, "Roster"), (f"{LAST}/moderation", KWS)],
    "student in a group": [(NOW, "Your group"), (f"{NOW}/submission", "Submission"), ("/account", "calendar")],
    "student without a group": [(NOW, "join")],
    "author (last term)": [(f"{LAST}/submission", "fits in 180 KB of flash"),
                           (f"{LAST}/submissions/1/reviews", "Reviewer A")],
    "reviewer (last term)": [(f"{LAST}/submissions/1/review", "fits in 180 KB of flash"),
                             (f"{LAST}/submissions/1/reviews", "should count against the reproducibility")],
    "student (MLSys 2024)": [(f"{DONE}/marks", "Total")],
}


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):  # noqa: ANN001, ANN201
    with serve_in_thread(tmp_path_factory.mktemp("demo-live"), secret_key="demo-e2e",
                         seed=lambda settings, engine: build_demo(engine, settings)) as served:
        with Session(served.engine) as s:
            logins = {role: email for role, email, _ in demo_logins(s)}
        yield served, logins


@pytest.mark.parametrize("role", list(PAGES))
def test_each_demo_login_opens_its_main_pages(demo_server, page, role):  # noqa: ANN001
    served, logins = demo_server
    sign_in(page, served.url, logins[role], DEMO_PASSWORD)
    for path, text in PAGES[role]:
        response = page.goto(served.url + path)
        assert response is not None and response.status == 200, f"{role}: {path} answered {response.status}"
        body = page.inner_text("body")
        assert text.lower() in body.lower(), f"{role}: {path} does not show {text!r}"
