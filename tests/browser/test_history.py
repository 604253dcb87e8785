"""Change a rule, find the change in the history and its diff, roll it back."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule
from tests.browser.conftest import body_rows, log_in, rule_texts, table_tool
from tests.conftest import PASSWORD

OWN_DOMAIN = "example.com smtp.myisp.com:587"
RELAY = "* relay.myisp.com:587 $size>10000000 $end"
BIGGER = "* relay.myisp.com:587 $size>20000000 $end"
CORP = "* joe:********@smtp.corp.example $authsender=joe $end"


def test_an_editor_changes_a_rule_reads_the_diff_and_rolls_back(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    log_in(page, "eddie", PASSWORD)
    page.get_by_role("link", name="Main office").click()
    page.wait_for_load_state()  # htmx listens once the page has loaded
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, RELAY, CORP])

    # Edit rule 2 in place.
    page.get_by_role("link", name="Edit rule 2", exact=True).click()
    editing = page.get_by_role("row").filter(has=page.get_by_role("button", name="Save rule 2"))
    editing.get_by_label("Rule", exact=True).fill(BIGGER)
    editing.get_by_role("button", name="Save rule 2").click()
    rules = page.get_by_role("region", name=re.compile("^Rules"))
    expect(rules.get_by_role("status")).to_have_text("Rule 2 saved.")
    expect(rules.get_by_role("heading", level=2).first).to_have_text("Rules (3; revision 2)")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, BIGGER, CORP])

    # The history: the new revision on top, by whom and through which door.
    table_tool(page, "History").click()
    page.wait_for_load_state()
    revisions = page.get_by_role("table", name=re.compile("^Revisions, newest first"))
    expect(body_rows(revisions)).to_have_count(2)
    newest, first = body_rows(revisions).nth(0), body_rows(revisions).nth(1)
    expect(newest.get_by_role("cell").nth(2)).to_have_text("2 current")
    expect(newest.get_by_role("cell").nth(4)).to_have_text("eddie")
    expect(newest.get_by_role("cell").nth(5)).to_have_text("rule editor")
    expect(first.get_by_role("cell").nth(2)).to_have_text("1")

    # The diff of revision 1 → 2 (the preselected pair): the old rule out, the new one in.
    expect(page.get_by_label("from r1")).to_be_checked()
    expect(page.get_by_label("to r2")).to_be_checked()
    page.get_by_role("button", name="Compare the chosen revisions").click()
    diff = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Was"))
    expect(page.get_by_text("1 rule added, 1 removed.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/senders/main/history/$"))  # htmx: same page
    expect(body_rows(diff)).to_have_text(
        [
            f"1 1 {OWN_DOMAIN}",
            f"2 removed {RELAY}",
            f"2 added {BIGGER}",
            f"3 3 {CORP}",
        ]
    )

    # Roll back to revision 1, with a reason: a new revision 3.
    revisions.get_by_role("link", name="1", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Main office: revision 1")
    page.get_by_label("Reason (optional)").fill("20 MB was a typo")
    page.get_by_role("button", name="Roll back to revision 1").click()
    expect(page.get_by_role("status").first).to_have_text(
        "Rolled back to revision 1: the table is now at revision 3."
    )
    newest = body_rows(revisions).first
    expect(newest.get_by_role("cell").nth(2)).to_have_text("3 current")
    expect(newest.get_by_role("cell").nth(5)).to_have_text("rollback")
    expect(newest.get_by_role("cell").nth(7)).to_have_text(
        "Rolled back to revision 1: 20 MB was a typo"
    )
    expect(body_rows(revisions)).to_have_count(3)

    # The table is as it was, password and all.
    page.get_by_role("link", name="Back to the table of Main office").click()
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, RELAY, CORP])
    expect(
        page.get_by_role("row", name=re.compile("joe")).get_by_text("password set")
    ).to_be_visible()


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
