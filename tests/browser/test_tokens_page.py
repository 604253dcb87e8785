"""The export token page in a browser: create, copy, rotate after a confirmation, revoke."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from senders.export import hash_token
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


def _delivery(page: Any) -> Any:
    return page.get_by_role("region", name="Delivery")


def test_a_new_token_is_focused_copied_and_rotated_only_after_asking(
    page: Any, admin_user: Any, sender: Any
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, "ada", PASSWORD)
    page.goto(f"/senders/{sender.slug}/token/")
    page.wait_for_load_state()
    expect(_delivery(page)).to_contain_text("no token")

    page.get_by_role("button", name="Create a token").click()
    field = page.get_by_label("Export token", exact=True)
    expect(field).to_be_focused()
    token = field.input_value()
    sender.refresh_from_db()
    assert sender.export_token_hash == hash_token(token)
    # The delivery card below agrees with the card above.
    expect(_delivery(page)).not_to_contain_text("no token")

    page.get_by_role("button", name="Copy the token").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == token

    # Rotate is not the main button, and a second Enter does not kill the token.
    rotate = page.get_by_role("button", name="Rotate: new token, old one stops working")
    expect(rotate).to_have_class("secondary")
    questions: list[str] = []

    def dismiss(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    rotate.click()
    expect(field).to_have_value(token)
    assert questions == [
        "Rotate the export token? The current token stops working at once: "
        "delivery agents fail until they get the new one."
    ]
    sender.refresh_from_db()
    assert sender.export_token_hash == hash_token(token)

    page.once("dialog", lambda dialog: dialog.accept())
    rotate.click()
    expect(field).not_to_have_value(token)
    expect(field).to_be_focused()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("Export token revoked: delivery can no longer fetch.")).to_be_visible()
    expect(_delivery(page)).to_contain_text("no token")
    expect(page.get_by_role("button", name="Create a token")).to_be_visible()


def test_without_javascript_the_token_is_a_selectable_field(
    page_without_js: Any, admin_user: Any, sender: Any
) -> None:
    page = page_without_js
    log_in(page, "ada", PASSWORD)
    page.goto(f"/senders/{sender.slug}/token/")
    page.get_by_role("button", name="Create a token").click()
    field = page.get_by_label("Export token", exact=True)
    expect(field).to_have_attribute("readonly", "")
    assert len(field.input_value()) > 30
    expect(page.get_by_role("button", name="Copy the token")).to_be_hidden()
    expect(_delivery(page)).not_to_contain_text("no token")
