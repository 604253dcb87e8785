from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD


def test_it_sends_anonymous_visitors_to_the_login_page(page: Any) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_wrong_password_is_refused_with_a_message(page: Any, viewer: Any) -> None:
    log_in(page, "vera", "not the password")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username")


def test_a_viewer_logs_in_and_sees_the_senders(page: Any, viewer: Any) -> None:
    log_in(page, "vera", PASSWORD)
    expect(page.get_by_role("button", name="Log out vera")).to_be_visible()
