"""The same core path with JavaScript turned off: every action is a plain form post."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import body_rows, log_in, rule_texts, table_tool
from tests.conftest import PASSWORD

OWN_DOMAIN = "example.com smtp.myisp.com:587"
RELAY = "* relay.myisp.com:587 $size>10000000 $end"
BACKUP = "* backup.example.net $retries>=3 $priority:20 $adddns"
DEMON = "*.demon.co.uk smtp.demon.net"


def _message(page: Any) -> Any:
    """The message shown after a redirect back to the page."""
    return page.get_by_role("status").first


def _add_rule(page: Any, text: str) -> None:
    page.get_by_label("Rule", exact=True).fill(text)
    page.get_by_role("button", name="Add rule").click()


def test_an_admin_does_everything_without_javascript(page_without_js: Any, admin_user: Any) -> None:
    page = page_without_js
    log_in(page, "ada", PASSWORD)

    page.get_by_role("link", name="New sender").click()
    page.get_by_label("Name").fill("Branch office")
    page.get_by_label("Slug").fill("branch")
    page.get_by_role("button", name="Create sender").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Branch office · branch")
    # Without the script there is nothing to drag: no handles, no help about them.
    expect(page.get_by_text("No rules yet")).to_be_visible()

    # An invalid rule: the page comes back with the error under the field, the caret
    # under the column, and the typed text still there.
    typo = "example.com smtp.myisp.com:99999"
    _add_rule(page, typo)
    rule = page.get_by_label("Rule", exact=True)
    expect(rule).to_have_value(typo)
    expect(rule).to_have_attribute("aria-invalid", "true")
    message = "col 28: port 99999 is out of range 1-65535"
    expect(rule).to_have_accessible_description(f"Error {message}")
    verdict = page.locator("#" + rule.get_attribute("aria-describedby"))
    excerpt, caret = verdict.locator("pre").inner_text().splitlines()
    assert excerpt == typo
    assert caret == " " * excerpt.index("99999") + "^"
    expect(page.get_by_text("No rules yet")).to_be_visible()

    rule.fill(OWN_DOMAIN)
    page.get_by_role("button", name="Add rule").click()
    expect(_message(page)).to_have_text("Rule added at position 1.")
    _add_rule(page, BACKUP)
    expect(_message(page)).to_have_text("Rule added at position 2.")
    _add_rule(page, RELAY)
    expect(_message(page)).to_have_text("Rule added at position 3.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, BACKUP, RELAY])

    # One rule too many: deleting asks first, on a page of its own.
    _add_rule(page, RELAY)
    expect(_message(page)).to_have_text("Rule added at position 4.")
    page.get_by_role("link", name="Delete rule 4", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Delete rule 4 of Branch office?")
    page.get_by_role("button", name="Delete rule 4").click()
    expect(_message(page)).to_have_text("Rule 4 deleted.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, BACKUP, RELAY])
    expect(page.get_by_role("button", name="Reorder rule 1")).to_be_hidden()
    expect(page.get_by_text("To reorder with the keyboard")).to_be_hidden()

    # Move with the buttons, and to a typed position.
    page.get_by_role("button", name="Move rule 3 up", exact=True).click()
    expect(_message(page)).to_have_text("Rule 3 moved to position 2.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, RELAY, BACKUP])
    page.get_by_label("New position for rule 1", exact=True).fill("3")
    page.get_by_role("button", name="Move rule 1 to the position typed").click()
    expect(_message(page)).to_have_text("Rule 1 moved to position 3.")
    expect(rule_texts(page)).to_have_text([RELAY, BACKUP, OWN_DOMAIN])
    page.get_by_role("button", name="Move rule 3 to the top", exact=True).click()
    expect(_message(page)).to_have_text("Rule 3 moved to position 1.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, RELAY, BACKUP])

    # Disable one.
    page.get_by_role("button", name="Disable rule 3", exact=True).click()
    expect(_message(page)).to_have_text("Rule 3 disabled: it is kept but not used.")
    expect(page.get_by_role("button", name="Enable rule 3", exact=True)).to_be_visible()

    # Edit a rule on a page of its own: a comment for it.
    page.get_by_role("link", name="Edit rule 2", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit rule 2 of Branch office")
    page.get_by_label("Comment").fill("mail over 10 MB")
    page.get_by_role("button", name="Save rule 2").click()
    expect(_message(page)).to_have_text("Rule 2 saved.")
    relay = page.get_by_role("row", name=re.compile("relay"))
    expect(relay.get_by_text("mail over 10 MB")).to_be_visible()

    # Bulk edit: an error keeps the text and lists the line; then validate and save.
    table_tool(page, "Edit as text").click()
    text = page.get_by_label("Table text")
    saved = f"{OWN_DOMAIN}\n# mail over 10 MB\n{RELAY}\n#disabled: {BACKUP}\n"
    expect(text).to_have_value(saved)
    broken = f"{saved}*.demon.co.uk smtp.demon.net $end $end\n"
    text.fill(broken)
    page.get_by_role("button", name="Save the table").click()
    verdict = page.get_by_role("status")
    expect(verdict).to_contain_text("Nothing was saved: 1 error.")
    # The engine's wording may change; where it points may not.
    expect(verdict.get_by_role("listitem")).to_have_text([re.compile(r"^line 5, col 35: .*\$end")])
    expect(text).to_have_value(broken)
    text.fill(broken.replace(" $end $end", ""))
    page.get_by_role("button", name="Validate").click()
    expect(verdict).to_have_text("No errors: 4 rules, ready to save.")
    page.get_by_role("button", name="Save the table").click()
    expect(_message(page)).to_have_text("Saved the table: 4 rules (revision 11).")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, RELAY, BACKUP, DEMON])

    # Test a message: the form is a GET; the result is on the page that comes back.
    table_tool(page, "Test a message").click()
    page.get_by_label("Recipient address(es)").fill("alice@example.com, bob@eu.demon.co.uk")
    page.get_by_label("Size ($size)").fill("5M")
    page.get_by_label("MX records typed in below").check()
    page.get_by_label("MX records (typed in)").fill("example.com 10 mx1.example.com")
    page.get_by_role("button", name="Test", exact=True).click()
    result = page.get_by_role("region", name="Result")
    expect(result).to_contain_text("A message of 5242880 bytes")
    expect(result.get_by_role("article")).to_have_count(2)
    example = result.get_by_role("article", name="example.com override")
    expect(body_rows(example.get_by_role("table").first)).to_have_text(
        ["1 smtp.myisp.com 587 10 override, rule 1 none"]
    )
    expect(body_rows(example.get_by_role("group").get_by_role("table"))).to_have_text(
        [
            f'1 {OWN_DOMAIN} matched domain "example.com" matches "example.com"',
            f"2 {RELAY} no match $size>10000000 failed (size is 5242880)",
            f"3 {BACKUP} disabled disabled, not evaluated",
            f'4 {DEMON} no match domain "example.com" does not match "*.demon.co.uk"',
        ]
    )
    demon = result.get_by_role("article", name="eu.demon.co.uk override")
    expect(body_rows(demon.get_by_role("table").first)).to_have_text(
        ["1 smtp.demon.net 25 10 override, rule 4 none"]
    )
