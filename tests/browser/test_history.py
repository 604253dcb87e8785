"""A person changes a rule, finds the change in the history, compares, and rolls back."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule, document_of
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


def test_change_a_rule_see_the_revision_and_diff_then_roll_back(
    page: Any, editor: Any, sender: MailSender
) -> None:
    add_rule(sender, "example.com smtp.myisp.com", actor=Actor(source=Revision.Source.COMMAND))
    log_in(page, "eddie", PASSWORD)
    page.goto("/senders/main/")
    page.get_by_role("link", name="Edit rule 1").click()
    editing = page.get_by_role("row", name=re.compile("Editing rule 1"))
    editing.get_by_label("Rule", exact=True).fill("example.com relay.myisp.com:587")
    page.get_by_role("button", name="Save rule 1").click()
    expect(page.get_by_text("relay.myisp.com:587").first).to_be_visible()

    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("heading", name="Main office: history")).to_be_visible()
    rows = page.get_by_role("row")
    expect(rows.filter(has_text="current")).to_contain_text("rule editor")

    # Compare with htmx: the diff appears on the history page itself.
    page.get_by_label("from r1").check()
    page.get_by_label("to r2").check()
    page.get_by_role("button", name="Compare the chosen revisions").click()
    diff = page.locator("#diff-region table.diff")
    expect(diff.get_by_role("row", name="removed")).to_contain_text("example.com smtp.myisp.com")
    expect(diff.get_by_role("row", name="added")).to_contain_text("relay.myisp.com:587")
    assert page.url.endswith("/senders/main/history/")  # stayed on the page

    page.get_by_role("link", name="1", exact=True).click()
    page.get_by_label("Reason (optional)").fill("wrong relay")
    page.get_by_role("button", name="Roll back to revision 1").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Rolled back to revision 1: the table is now at revision 3."
    )
    expect(page.get_by_role("row").filter(has_text="current")).to_contain_text("rollback")
    sender.refresh_from_db()
    assert document_of(sender) == "example.com smtp.myisp.com\n"


def test_history_and_diff_work_without_javascript(
    page_without_js: Any, viewer: Any, sender: MailSender
) -> None:
    actor = Actor(source=Revision.Source.COMMAND)
    add_rule(sender, "a.example x.net", actor=actor)
    add_rule(sender, "b.example joe:s3cret@y.net", actor=actor)
    page = page_without_js
    log_in(page, "vera", PASSWORD)
    page.goto("/senders/main/history/")
    page.get_by_role("button", name="Compare the chosen revisions").click()
    expect(
        page.get_by_role("heading", name="changes from revision 1 to revision 2")
    ).to_be_visible()
    expect(page.get_by_role("row", name="added")).to_contain_text("b.example joe:********@y.net")
    assert "s3cret" not in page.content()
