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


def test_the_text_has_line_numbers_with_the_error_lines_marked(
    page: Any, admin_user: Any, sender_with_rules: Any
) -> None:
    log_in(page, "ada", PASSWORD)
    page.goto("/senders/main/bulk/")
    page.wait_for_load_state()
    text = page.get_by_label("Table text")
    gutter = page.locator(".numbered .gutter")
    numbers = gutter.locator("span")
    expect(numbers).to_have_text(["1", "2", "3", "4"])  # three rules and the last newline
    text.fill(TEXT)
    expect(page.get_by_role("status").get_by_role("link", name="line 3, col 30")).to_be_visible()
    expect(gutter.locator(".error-line")).to_have_text(["3"])
    # Each number sits level with its line.
    lines = text.evaluate("t => parseFloat(getComputedStyle(t).lineHeight)")
    gutter_lines = gutter.evaluate("g => parseFloat(getComputedStyle(g).lineHeight)")
    assert abs(lines - gutter_lines) < 0.5
    text.fill("a.example b.example\n")
    expect(gutter.locator(".error-line")).to_have_count(0)
    expect(numbers).to_have_text(["1", "2"])
    # Line 2 of the gutter is level with line 2 of the text.
    first, second = (numbers.nth(i).bounding_box()["y"] for i in (0, 1))
    assert abs((second - first) - lines) < 0.5
