"""Marking a warning as intended, in the browser: with htmx and without JavaScript."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


@pytest.fixture
def loop(sender: Any) -> Any:
    from senders import tables
    from senders.tabletext import parse_document

    sender.local_domains = "example.com"
    sender.save()
    text = "a.example smtp.a.example\n* relay.example.net $authsender=joe\n"
    tables.replace_table(sender, parse_document(text), actor=tables.Actor())
    sender.refresh_from_db()
    return sender


@pytest.mark.parametrize("client", ["page", "page_without_js"])
def test_an_editor_marks_the_relay_loop_warning_as_intended(
    browser: Any, live_server: Any, client: str, request: Any, editor: Any, loop: Any
) -> None:
    page = request.getfixturevalue(client)  # the live server (and its database) come first
    log_in(page, editor.username, PASSWORD)
    page.goto(f"/senders/{loop.slug}/")
    summary = page.locator("#lint")
    expect(summary.get_by_role("heading", level=2)).to_have_text("1 warning")
    page.get_by_role("button", name="Mark the relay-loop warning on rule 2 as intended").click()

    expect(page.get_by_role("status")).to_have_text("Rule 2: the warning is marked as intended.")
    expect(summary.get_by_role("heading", level=2)).to_have_text("0 warnings")
    expect(summary.get_by_text("Acknowledged as intended")).to_be_visible()
    row = page.locator(f"#rule-{loop.rules.get(position=2).pk}")
    expect(row.get_by_text("acknowledged by eddie on")).to_be_visible()
    # The rest of the page still works on the new revision.
    page.get_by_role("button", name="Disable rule 1", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Rule 1 disabled: it is kept but not used.")
