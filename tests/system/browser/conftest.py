"""A real browser for page tests: Debian's Chromium driven by Playwright (its own download is not reachable).

`make test` installs Chromium where it can (root with apt); elsewhere these tests are skipped with
the reason. The site runs under pytest-django's live server, backed by the per-run test database.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    configured = os.environ.get("ISC_CHROMIUM")
    if configured:
        return configured
    return next((path for path in map(shutil.which, CHROMIUM_CANDIDATES) if path), None)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip(
            "no Chromium on this machine: `apt-get install chromium` (or set ISC_CHROMIUM) to run browser tests"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.console_errors = errors
    yield opened
    context.close()
