"""Playwright driving Debian's chromium against Django's live server.

Playwright's own browser download cannot work here, so the tests use
/usr/bin/chromium (`apt-get install -y chromium`; scripts/test.sh installs it).
Locally, without it, the browser tests skip with a loud reason; in CI (CI=true)
a missing browser is a failure, never a skip.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS

# Playwright's sync API runs an event loop in this thread; the ORM calls that the
# tests make between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) and shutil.which(CHROMIUM)):
        reason = (
            f"BROWSER TESTS NOT RUN: {CHROMIUM} is missing. Install it with "
            "`apt-get install -y chromium` (scripts/test.sh does this when run as root)."
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(params=[False, True], ids=["DEBUG off", "DEBUG on"])
def debug_on_and_off(request: pytest.FixtureRequest, settings: Any) -> bool:
    """The live server with DEBUG off (as deployed) and on (as `make run` starts it).

    Use with `pytestmark = pytest.mark.usefixtures("debug_on_and_off")`: scripts that
    only load under DEBUG (django-htmx's debug handler once wiped rejected forms)
    must not change what a person sees.
    """
    settings.DEBUG = request.param
    return bool(request.param)


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page_without_js(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


TABLE = (
    "example.com smtp.myisp.com:587\n"
    "* relay.myisp.com:587 $size>10000000 $end\n"
    "* joe:secret@smtp.corp.example $authsender=joe $end\n"
)


@pytest.fixture
def sender_with_rules(sender: Any) -> Any:
    """The shared `sender` (Main office, slug main) with TABLE saved as revision 1."""
    from senders import tables
    from senders.tabletext import parse_document

    tables.replace_table(sender, parse_document(TABLE), actor=tables.Actor())
    sender.refresh_from_db()
    return sender


def log_in(page: Any, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def rule_texts(page: Any) -> Any:
    """The Rule column of a sender's table, top to bottom (passwords masked).

    For `expect(rule_texts(page)).to_have_text([...])`: the order a person reads.
    """
    table = page.get_by_role("table", name=re.compile(r"^Rules of "))
    return table.locator("tbody > tr > td.rule-text > code")


def table_tool(page: Any, name: str) -> Any:
    """A link of the table page's toolbar (Test a message, Edit as text, History...)."""
    return page.get_by_role("navigation", name="Table tools").get_by_role("link", name=name)


def body_rows(table: Any) -> Any:
    """A table's rows that hold data cells (not the header row)."""
    return table.get_by_role("row").filter(has=table.page.get_by_role("cell"))


def screenshot(page: Any, name: str, **options: Any) -> Path:
    """test-artifacts/<name>.png, the full page unless `options` say otherwise."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), **{"full_page": True, **options})
    return path
