"""Nothing a person typed on the table page is lost by an action elsewhere on the page."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from senders import tables
from tests.browser.conftest import TABLE, rule_texts
from tests.browser.test_focus import open_table

OWN_DOMAIN, RELAY, CORP = TABLE.splitlines()
CORP_MASKED = CORP.replace("secret", "********")


def _status(page: Any) -> Any:
    return page.get_by_role("region", name="Rules (3; revision 2)").get_by_role("status")


def test_what_is_typed_in_add_a_rule_survives_moving_a_rule(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    add = page.locator("#add-rule")
    add.get_by_label("Rule", exact=True).fill("new.example smtp.new.example")
    add.get_by_label("Comment").fill("typed, not saved yet")

    page.get_by_role("button", name="Move rule 3 up", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("Rule 3 moved to position 2.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, CORP_MASKED, RELAY])
    expect(add.get_by_label("Rule", exact=True)).to_have_value("new.example smtp.new.example")
    expect(add.get_by_label("Comment")).to_have_value("typed, not saved yet")


def test_an_edit_in_progress_survives_saving_another_rule(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    page.get_by_role("link", name="Edit rule 1", exact=True).click()
    page.get_by_role("link", name="Edit rule 3", exact=True).click()
    third = page.locator("tr.editing").filter(has=page.get_by_role("button", name="Save rule 3"))
    third.get_by_label("Comment").fill("half-way through")
    first = page.locator("tr.editing").filter(has=page.get_by_role("button", name="Save rule 1"))
    first.get_by_label("Comment").fill("our own server")

    first.get_by_role("button", name="Save rule 1").click()

    expect(page.get_by_role("status")).to_have_text("Rule 1 saved.")
    expect(page.get_by_text("our own server")).to_be_visible()
    expect(third.get_by_label("Comment")).to_have_value("half-way through")
    # It saves where it stands.
    third.get_by_role("button", name="Save rule 3").click()
    expect(page.get_by_role("status")).to_have_text("Rule 3 saved.")
    expect(page.get_by_text("half-way through")).to_be_visible()


def test_an_edit_in_progress_survives_deleting_a_rule_above_and_takes_its_new_number(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    page.get_by_role("link", name="Edit rule 3", exact=True).click()
    editing = page.locator("tr.editing")
    editing.get_by_label("Comment").fill("half-way through")
    page.get_by_role("link", name="Delete rule 1", exact=True).click()
    page.get_by_role("button", name="Delete rule 1", exact=True).click()

    expect(page.get_by_role("status")).to_have_text("Rule 1 deleted.")
    expect(editing.get_by_label("Comment")).to_have_value("half-way through")
    editing.get_by_role("button", name="Save rule 2").click()
    expect(page.get_by_role("status")).to_have_text("Rule 2 saved.")
    expect(rule_texts(page)).to_have_text([RELAY, CORP_MASKED])


def test_a_row_action_on_a_table_changed_elsewhere_shows_the_current_table(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    add = page.locator("#add-rule")
    add.get_by_label("Comment").fill("typed, not saved yet")
    # Someone else disables rule 3 meanwhile: the table is at revision 2, the page shows 1.
    tables.update_rule(sender_with_rules.rules.get(position=3), actor=tables.Actor(), enabled=False)

    page.get_by_role("button", name="Disable rule 2", exact=True).click()

    expect(page.get_by_role("alert")).to_contain_text(
        "This table was changed by someone else since you opened it (you saw revision 1, "
        "it is now at revision 2). Nothing was changed"
    )
    expect(page.get_by_role("heading", name="Rules (3; revision 2)")).to_be_visible()
    expect(page.get_by_role("button", name="Enable rule 3", exact=True)).to_be_visible()
    expect(add.get_by_label("Comment")).to_have_value("typed, not saved yet")
    # The page now shows revision 2: trying again goes through.
    page.get_by_role("button", name="Disable rule 2", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Rule 2 disabled: it is kept but not used.")
    expect(page.get_by_role("heading", name="Rules (3; revision 3)")).to_be_visible()


def test_check_relay_answers_in_place_at_any_address_and_keeps_what_is_typed(
    page: Any, editor: Any, sender: Any
) -> None:
    from senders.tabletext import parse_document
    from tests.relays.smtpservers import smtp_server

    with smtp_server() as (port, _):
        document = f"a.example 127.0.0.1:{port}\nb.example smtp.elsewhere.example\n"
        tables.replace_table(sender, parse_document(document), actor=tables.Actor())
        open_table(page, editor, sender)
        # The table as a link or a pager leaves it: with ?page=1 in the address, where
        # the old answer (a redirect to the same address) changed nothing on screen.
        page.goto(f"/senders/{sender.slug}/?page=1")
        add = page.locator("#add-rule")
        add.get_by_label("Rule", exact=True).fill("new.example smtp.new.example")

        page.get_by_role("button", name="Check the relay of rule 1").click()

        expect(page.get_by_role("status")).to_have_text(
            f"127.0.0.1:{port}: no STARTTLS: mail to this relay travels in clear"
        )
        row = page.locator("#rules tr.rule").first
        expect(row).to_contain_text("Relay check:")
        expect(page.locator("#rules tr.rule").nth(1)).not_to_contain_text("Relay check:")
        expect(add.get_by_label("Rule", exact=True)).to_have_value("new.example smtp.new.example")
