"""Keyboard users keep their place when htmx replaces the table."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import log_in, rule_texts
from tests.conftest import PASSWORD


def open_table(page: Any, editor: Any, sender: Any) -> None:
    log_in(page, editor.username, PASSWORD)
    page.goto(f"/senders/{sender.slug}/")
    expect(rule_texts(page).first).to_be_visible()


def test_focus_stays_on_the_toggle_after_disabling_with_the_keyboard(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    page.get_by_role("button", name="Disable rule 2").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Enable rule 2")).to_be_focused()


def test_focus_follows_a_rule_moved_up_with_the_keyboard(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    second = rule_texts(page).nth(1).inner_text()
    page.get_by_role("button", name="Move rule 2 up").focus()
    page.keyboard.press("Enter")
    expect(rule_texts(page).first).to_have_text(second)
    expect(page.get_by_role("button", name="Move rule 1 up")).to_be_focused()


def test_editing_puts_focus_in_the_rule_field_and_cancel_brings_it_back(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    page.get_by_role("link", name="Edit rule 1").focus()
    page.keyboard.press("Enter")
    row = page.locator("tr.editing")
    expect(row.get_by_label("Rule", exact=True)).to_be_focused()
    row.get_by_role("link", name="Cancel").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Edit rule 1")).to_be_focused()


def test_a_row_just_swapped_in_works_at_once(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    """A fast hand (or a screen reader's quick command) uses a row the moment it is back:
    Edit then opens in the table, not as a page of its own."""
    open_table(page, editor, sender_with_rules)
    table_url = page.url
    # Press "Edit" on the row that comes back from "Disable" in the very next task
    # after it appears, as a key already on its way would.
    page.evaluate(
        """() => {
      const rules = document.getElementById("rules");
      new MutationObserver((changes, observer) => {
        const link = rules.querySelector("tr.disabled a[aria-label='Edit rule 2']");
        if (!link) return;
        observer.disconnect();
        setTimeout(() => link.click(), 0);
      }).observe(rules, {childList: true, subtree: true});
    }"""
    )
    page.get_by_role("button", name="Disable rule 2").focus()
    page.keyboard.press("Enter")
    expect(page.locator("tr.editing").get_by_label("Rule", exact=True)).to_be_focused()
    assert page.url == table_url
