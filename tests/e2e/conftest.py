"""A live server (uvicorn in a thread, its own fresh database) and Debian's Chromium driven by Playwright."""

import email
import email.policy
import os
import shutil
from pathlib import Path

import pytest

from app.settings import Settings
from tests.live import serve_in_thread

CHROMIUM = os.environ.get("REPROREVIEW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


class LiveServer:
    def __init__(self, url: str, settings: Settings, engine) -> None:  # noqa: ANN001
        self.url, self.settings, self.engine = url, settings, engine

    def outbox(self) -> list[str]:
        box = Path(self.settings.data_dir) / "outbox"
        if not box.exists():
            return []
        mails = []
        for path in sorted(box.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            mails.append(f"To: {msg['To']}\nSubject: {msg['Subject']}\n\n{msg.get_content()}")
        return mails


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    with serve_in_thread(tmp_path_factory.mktemp("live"), secret_key="e2e-secret") as served:
        yield LiveServer(served.url, served.settings, served.engine)


@pytest.fixture(scope="session")
def browser():  # noqa: ANN201
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the browser tests need Debian's Chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):  # noqa: ANN001, ANN201
    context = browser.new_context()
    pg = context.new_page()
    pg.set_default_timeout(30_000)  # generous: CI machines are shared and slow at times; a hang still fails
    yield pg
    context.close()


def sign_in(page, url: str, email: str, password: str) -> None:  # noqa: ANN001
    """Sign in through the login form and wait until the page says so."""
    page.goto(f"{url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("button:has-text('Sign out')")


def register_and_upload_archive(page, url: str, slug: str, title: str, archive) -> None:  # noqa: ANN001
    """On the authors' submission page: save the title, then store a code archive (a path) as the artifact."""
    page.goto(f"{url}/venues/{slug}/submission")
    page.fill("#title", title)
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=Submission #1 saved.")
    page.set_input_files("#archive", str(archive))
    page.click("button:has-text('Store code snapshot')")
