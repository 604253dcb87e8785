"""The whole journey of an administrator, with JavaScript, the way a person does it.

Log in, create a sender, type a rule with a mistake and read the live error under
the field, fix it, add more rules, reorder them with the keyboard and with the
mouse, disable one, rewrite the table in the bulk editor, then test a message and
read where it goes and why, rule by rule.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from senders import tables
from senders.export import create_token
from senders.models import MailSender
from senders.tabletext import parse_document
from tests.browser.conftest import body_rows, log_in, rule_texts, screenshot, table_tool
from tests.conftest import PASSWORD

RELAY = "* relay.myisp.com:587 $size>10000000 $end"
OWN_DOMAIN = "example.com smtp.myisp.com:587"
CORP = "* joe:********@smtp.corp.example $authsender=joe $end"
BACKUP = "* backup.example.net $retries>=3 $priority:20 $adddns"
DEMON = "*.demon.co.uk smtp.demon.net"

# As deployed and as `make run` starts it (DEBUG=1): a person sees the same pages.
pytestmark = pytest.mark.usefixtures("debug_on_and_off")

README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshot.png"


def _status(page: Any) -> Any:
    """The notice the table region shows after a change."""
    return page.get_by_role("region", name=re.compile(r"^Rules")).get_by_role("status")


def _add_rule(page: Any, text: str) -> None:
    page.get_by_label("Rule", exact=True).fill(text)
    page.get_by_role("button", name="Add rule").click()


def test_an_admin_builds_reorders_edits_and_tests_a_table(page: Any, admin_user: Any) -> None:
    log_in(page, "ada", PASSWORD)

    # A new sender; the slug is suggested from the name.
    page.get_by_role("link", name="New sender").click()
    page.get_by_label("Name").fill("Main office")
    expect(page.get_by_label("Slug")).to_have_value("main-office")
    page.get_by_label("Description").fill("Outgoing mail of the main office")
    page.get_by_role("button", name="Create sender").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Main office · main-office")
    page.wait_for_load_state()
    expect(page.get_by_text("No rules yet")).to_be_visible()

    # A typo: the parser's verdict appears under the field while typing, with a caret
    # under the column it names.
    rule = page.get_by_label("Rule", exact=True)
    rule.press_sequentially("* relay.myisp.com:587 $sise>10000000 $end")
    message = 'col 23: unknown attribute "$sise" (did you mean $size?)'
    expect(rule).to_have_accessible_description(re.compile(re.escape(message)))
    verdict = page.locator("#" + rule.get_attribute("aria-describedby"))
    expect(verdict.get_by_text(message)).to_be_visible()
    # The verdict on the whole line, not on a prefix typed before a pause.
    expect(verdict.locator("pre")).to_contain_text("$sise>10000000 $end")
    excerpt, caret = verdict.locator("pre").inner_text().splitlines()
    assert excerpt == "* relay.myisp.com:587 $sise>10000000 $end"
    assert caret == " " * excerpt.index("$sise") + "^"

    # Saving it anyway is refused; the typed text stays.
    page.get_by_role("button", name="Add rule").click()
    expect(rule).to_have_attribute("aria-invalid", "true")  # the server's answer is in
    # htmx wires the new field up when it settles: typing earlier would not be seen.
    expect(page.locator(".htmx-added, .htmx-settling")).to_have_count(0)
    expect(verdict.get_by_text(message)).to_be_visible()
    expect(rule).to_have_value("* relay.myisp.com:587 $sise>10000000 $end")
    expect(page.get_by_text("No rules yet")).to_be_visible()

    # Fixed: the verdict turns into the rule's breakdown.
    rule.fill(RELAY)
    expect(verdict).to_contain_text(f"Valid {RELAY}")
    expect(verdict).to_contain_text("size > 10000000 bytes")
    page.get_by_role("button", name="Add rule").click()
    expect(_status(page)).to_have_text("Rule added at position 1.")
    expect(rule_texts(page)).to_have_text([RELAY])
    expect(rule).to_have_value("")

    _add_rule(page, OWN_DOMAIN)
    expect(_status(page)).to_have_text("Rule added at position 2.")
    _add_rule(page, "*   joe:secret@SMTP.corp.example  $AuthSender=joe $end")
    expect(_status(page)).to_have_text("Rule added at position 3.")
    _add_rule(page, BACKUP)
    expect(_status(page)).to_have_text("Rule added at position 4.")
    # Stored in canonical form, the password never shown.
    expect(rule_texts(page)).to_have_text([RELAY, OWN_DOMAIN, CORP, BACKUP])
    joe = page.get_by_role("row", name=re.compile("joe"))
    expect(joe.get_by_role("definition").filter(has_text="password set")).to_have_text(
        "joe, password set"
    )
    expect(page.locator("body")).not_to_contain_text("secret")

    # Keyboard: pick rule 4 up, move it, change one's mind with Escape: nothing moves.
    handle = page.get_by_role("button", name="Reorder rule 4", exact=True)
    handle.focus()
    page.keyboard.press("Space")
    expect(handle).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("ArrowUp")
    expect(rule_texts(page)).to_have_text([RELAY, OWN_DOMAIN, BACKUP, CORP])
    page.keyboard.press("Escape")
    expect(handle).to_have_attribute("aria-pressed", "false")
    expect(rule_texts(page)).to_have_text([RELAY, OWN_DOMAIN, CORP, BACKUP])

    # Keyboard: rule 2 up to the top, dropped with Enter; the handle keeps the focus.
    page.get_by_role("button", name="Reorder rule 2", exact=True).focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # already at the top: stays
    page.keyboard.press("Enter")
    expect(_status(page)).to_have_text("Rule 2 moved to position 1.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, RELAY, CORP, BACKUP])
    expect(page.get_by_role("button", name="Reorder rule 1", exact=True)).to_be_focused()

    # Keyboard: rule 2 down twice, dropped with Space.
    page.get_by_role("button", name="Reorder rule 2", exact=True).focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    expect(_status(page)).to_have_text("Rule 2 moved to position 4.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, CORP, BACKUP, RELAY])

    # Mouse: drag rule 3's handle onto rule 2 (Joe's).
    page.get_by_role("button", name="Reorder rule 3", exact=True).drag_to(
        page.get_by_role("row", name=re.compile(r"joe"))
    )
    expect(_status(page)).to_have_text("Rule 3 moved to position 2.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, BACKUP, CORP, RELAY])

    # Disable the relay with credentials: kept, marked, not used.
    page.get_by_role("button", name="Disable rule 3", exact=True).click()
    expect(_status(page)).to_have_text("Rule 3 disabled: it is kept but not used.")
    corp_row = page.get_by_role("row", name=re.compile("joe"))
    expect(corp_row.get_by_text("disabled", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Enable rule 3", exact=True)).to_be_visible()

    # The bulk editor: the same table as text; a mistake is listed with its line as
    # one types, then fixed, validated and saved.
    table_tool(page, "Edit as text").click()
    page.wait_for_load_state()  # htmx listens once the page has loaded
    text = page.get_by_label("Table text")
    expect(text).to_have_value(f"{OWN_DOMAIN}\n{BACKUP}\n#disabled: {CORP}\n{RELAY}\n")
    verdict = page.get_by_role("status")
    new_text = (
        f"# our own domain goes straight to the ISP\n{OWN_DOMAIN}\n{BACKUP}\n"
        f"#disabled: {CORP}\n{RELAY}\n*.demon.co.uk smtp.demon.net:0\n"
    )
    text.fill(new_text)
    expect(verdict).to_contain_text("1 error.")
    expect(verdict.get_by_role("listitem")).to_have_text(
        ["line 6, col 30: port 0 is out of range 1-65535"]
    )
    text.fill(new_text.replace(":0\n", "\n"))
    expect(verdict).to_have_text("No errors: 5 rules, ready to save.")
    page.get_by_role("button", name="Validate").click()  # the same verdict, as a page
    expect(verdict).to_have_text("No errors: 5 rules, ready to save.")

    # Before saving: the unsaved text, tested in a new tab, sends mail for the new
    # rule's domain elsewhere than the saved table does.
    with page.context.expect_page() as new_tab:
        page.get_by_role("button", name="Test this text").click()
    tester = new_tab.value
    tester.wait_for_load_state()
    tester.get_by_label("MX records typed in below").check()
    tester.get_by_label("MX records (typed in)").fill("example.com 10 mx1.example.com")
    tester.get_by_label("Recipient address(es)").fill("bob@eu.demon.co.uk")
    outcome = tester.get_by_role("article", name=re.compile(r"^eu\.demon\.co\.uk override"))
    expect(outcome.get_by_role("heading", level=3)).to_have_text(
        "eu.demon.co.uk override differs from the saved table"
    )
    expect(outcome.get_by_role("heading", level=4)).to_have_text(
        "The saved table gives undeliverable"
    )
    expect(body_rows(outcome.get_by_role("table").first)).to_have_text(
        ["1 smtp.demon.net 25 10 override, line 6 none"]
    )
    tester.close()
    page.get_by_role("button", name="Save the table").click()
    # Four additions, three moves and a toggle made revisions 1 to 8.
    expect(page.get_by_role("status").first).to_have_text("Saved the table: 5 rules (revision 9).")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, BACKUP, CORP, RELAY, DEMON])
    expect(page.get_by_text("our own domain goes straight to the ISP")).to_be_visible()
    expect(page.get_by_role("button", name="Enable rule 3", exact=True)).to_be_visible()

    # Test a message: 20 MB to bob@example.com, MX records typed in.
    table_tool(page, "Test a message").click()
    page.wait_for_load_state()
    page.get_by_label("MX records typed in below").check()
    page.get_by_label("MX records (typed in)").fill("example.com 10 mx1.example.com")
    page.get_by_label("Size ($size)").fill("20M")
    page.get_by_label("Recipient address(es)").fill("bob@example.com")
    result = page.get_by_role("region", name="Result")
    expect(result).to_contain_text("A message of 20971520 bytes")
    outcome = result.get_by_role("article", name="example.com override")
    hops = outcome.get_by_role("table", name="Next hops, in the order a deliverer tries them")
    expect(outcome).to_contain_text("Hops marked “equal” have the same preference")
    expect(body_rows(hops)).to_have_text(
        [
            "1 (equal) smtp.myisp.com 587 10 override, rule 1 none",
            "1 (equal) relay.myisp.com 587 10 override, rule 4 none",
        ]
    )
    trace = outcome.get_by_role("group").filter(has_text="Trace")
    expect(body_rows(trace)).to_have_text(
        [
            f'1 {OWN_DOMAIN} matched domain "example.com" matches "example.com"',
            f"2 {BACKUP} no match $retries>=3 failed (retries is 0)",
            f"3 {CORP} disabled disabled, not evaluated",
            f'4 {RELAY} matched domain "example.com" matches "*"; '
            "$size>10000000 holds (size is 20971520); $end: later rules are not checked",
            f"5 {DEMON} not reached not reached: rule 4 ended the walk ($end)",
        ]
    )

    # A small message goes to the ISP alone.
    page.get_by_label("Size ($size)").fill("500k")
    expect(result).to_contain_text("A message of 512000 bytes")
    expect(body_rows(hops)).to_have_text(["1 smtp.myisp.com 587 10 override, rule 1 none"])
    expect(body_rows(trace).nth(3)).to_have_text(
        f"4 {RELAY} no match $size>10000000 failed (size is 512000)"
    )


def test_the_readme_screenshot_shows_a_realistic_table(
    browser: Any, live_server: Any, admin_user: Any
) -> None:
    """docs/screenshot.png; rewritten only with UPDATE_SCREENSHOT=1 (else test-artifacts/)."""
    sender = MailSender.objects.create(
        name="Main office",
        slug="main",
        description="Outgoing mail of the main office.",
    )
    document = (
        "example.com smtp.myisp.com:587\n"
        "* relay.myisp.com:587 $size>10000000 $end\n"
        "# Joe's mail leaves through the head office\n"
        "* joe:Tr0ub4dor@smtp.corp.example $authsender=joe $end\n"
        "* backup.example.net $retries>=3 $priority:20 $adddns\n"
        "#disabled: *.demon.co.uk smtp.demon.net\n"
        "* smtp.myisp.com $dnsmx:*.aspmx.l.google.com $end\n"
    )
    tables.replace_table(sender, parse_document(document), actor=tables.Actor(admin_user))
    token = create_token(sender)

    # A 1600x1000 window at 80 % zoom: 1280 pixels wide, the whole table in view.
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1600, "height": 1000}, device_scale_factor=0.8
    )
    try:
        page = context.new_page()
        # A delivery agent has fetched the table: the page says it is up to date.
        fetch = page.request.get("/export/main.txt", headers={"Authorization": f"Bearer {token}"})
        assert fetch.status == 200
        log_in(page, "ada", PASSWORD)
        page.get_by_role("link", name="Main office").click()
        expect(rule_texts(page)).to_have_count(6)
        joe = page.get_by_role("row", name=re.compile("joe"))
        expect(joe.get_by_role("definition").filter(has_text="password set")).to_have_text(
            "joe, password set"
        )
        expect(page.locator("body")).not_to_contain_text("Tr0ub4dor")
        expect(page.get_by_role("button", name="Reorder rule 1", exact=True)).to_be_visible()
        expect(page.get_by_role("region", name="Delivery")).to_contain_text("up to date")

        # From the top of the page down to the end of the table.
        table = page.get_by_role("table", name=re.compile("^Rules of")).bounding_box()
        clip = {"x": 0, "y": 0, "width": 1600, "height": table["y"] + table["height"] + 16}
        path = screenshot(page, "table-page", clip=clip)
    finally:
        context.close()
    if os.environ.get("UPDATE_SCREENSHOT"):
        shutil.copyfile(path, README_SCREENSHOT)
