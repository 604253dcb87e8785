"""The bulk editor's errors link to their place: a click puts the cursor there."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

TEXT = "example.com smtp.myisp.com:587\n# a comment\n*.demon.co.uk smtp.demon.net:0\n"


def test_an_error_link_puts_the_cursor_at_its_line_and_column(
    page: Any, admin_user: Any, sender_with_rules: Any
) -> None:
    log_in(page, "ada", PASSWORD)
    page.goto("/senders/main/bulk/")
    page.wait_for_load_state()
    text = page.get_by_label("Table text")
    text.fill(TEXT)
    verdict = page.get_by_role("status")
    expect(verdict.get_by_role("listitem")).to_have_text(
        ["line 3, col 30: port 0 is out of range 1-65535"]
    )
    verdict.get_by_role("link", name="line 3, col 30").click()
    expect(text).to_be_focused()
    where = text.evaluate("t => [t.selectionStart, t.selectionEnd]")
    offset = TEXT.index("*.demon") + 29
    assert where == [offset, offset]
    assert TEXT[offset] == "0"
