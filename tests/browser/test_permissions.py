"""A viewer reads everything and tests messages, but is offered no way to change a thing."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from senders import tables
from tests.browser.conftest import body_rows, log_in, rule_texts, table_tool
from tests.conftest import PASSWORD

EDIT_CONTROL = re.compile(
    r"^(Reorder|Edit|Delete|Disable|Enable|Move) rule|^(Add rule|Save the table|Import|Roll back)"
)


def test_a_viewer_sees_no_edit_controls_and_can_test_a_message(
    page: Any, viewer: Any, sender_with_rules: Any
) -> None:
    # A second revision, so that revision 1 is one an editor could roll back to.
    relay = sender_with_rules.rules.get(position=2)
    tables.update_rule(relay, actor=tables.Actor(), enabled=False)
    log_in(page, "vera", PASSWORD)
    expect(page.get_by_role("link", name="Main office")).to_be_visible()
    expect(page.get_by_role("link", name="New sender")).to_have_count(0)

    # The table: every rule readable, no control that would change it.
    page.get_by_role("link", name="Main office").click()
    expect(rule_texts(page)).to_have_text(
        [
            "example.com smtp.myisp.com:587",
            "* relay.myisp.com:587 $size>10000000 $end",
            "* joe:********@smtp.corp.example $authsender=joe $end",
        ]
    )
    expect(page.get_by_role("columnheader", name="Actions")).to_have_count(0)
    expect(page.get_by_role("button", name=EDIT_CONTROL)).to_have_count(0)
    expect(page.get_by_role("link", name=EDIT_CONTROL)).to_have_count(0)
    expect(page.get_by_role("heading", name="Add a rule")).to_have_count(0)
    expect(page.get_by_label("Rule", exact=True)).to_have_count(0)
    for name in ("Import a file", "Export token", "Edit sender", "Delete sender"):
        expect(page.get_by_role("link", name=name)).to_have_count(0)
    expect(page.get_by_text("To reorder with the keyboard")).to_have_count(0)

    # The bulk editor is read-only: the text can be validated and tested, not saved.
    table_tool(page, "Edit as text").click()
    expect(page.get_by_label("Table text")).not_to_be_editable()
    expect(page.get_by_text("changing it needs the editor role")).to_be_visible()
    expect(page.get_by_role("button", name="Save the table")).to_have_count(0)
    expect(page.get_by_role("heading", name="Import from a file")).to_have_count(0)

    # History and revisions are readable; rolling back is not offered.
    page.get_by_role("link", name="Back to the table of Main office").click()
    table_tool(page, "History").click()
    page.get_by_role("link", name="1", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Main office: revision 1")
    expect(page.get_by_role("heading", name="Roll back")).to_have_count(0)
    expect(page.get_by_role("button", name=EDIT_CONTROL)).to_have_count(0)

    # Test a message: Joe's authenticated mail leaves through the head office.
    page.get_by_role("link", name="History of Main office").click()
    page.get_by_role("link", name="Back to the table of Main office").click()
    table_tool(page, "Test a message").click()
    page.get_by_label("MX records typed in below").check()
    page.get_by_label("MX records (typed in)").fill("x.org 10 mx.x.org")
    page.get_by_label("Authenticated sender ($authsender)").fill("JOE")
    page.get_by_label("Recipient address(es)").fill("a@x.org")
    outcome = page.get_by_role("article", name="x.org override")
    hops = outcome.get_by_role("table", name="Next hops, in the order a deliverer tries them")
    expect(body_rows(hops)).to_have_text(
        ["1 smtp.corp.example 25 10 override, rule 3 joe · password set"]
    )
    expect(page.locator("body")).not_to_contain_text("secret")

    # Typing an edit address by hand is refused with the friendly page.
    rule = sender_with_rules.rules.get(position=1)
    page.goto(f"/senders/main/rules/{rule.pk}/edit/")
    expect(page.get_by_role("heading", level=1)).to_have_text("You may not do that")
