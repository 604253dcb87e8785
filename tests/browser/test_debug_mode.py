"""Under DEBUG (as `make run` starts the app) a refused form shows its error in place."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in, rule_texts
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("debug_on_and_off")

TYPO = "* relay.myisp.com $sise>10"
MESSAGE = 'col 19: unknown attribute "$sise" (did you mean $size?)'


def _open_table(page: Any) -> None:
    log_in(page, "ada", PASSWORD)
    page.get_by_role("link", name="Main office").click()
    page.wait_for_load_state()


def test_a_refused_new_rule_keeps_the_page_and_the_typed_text(
    page: Any, admin_user: Any, sender_with_rules: Any
) -> None:
    _open_table(page)
    rule = page.get_by_label("Rule", exact=True)
    rule.fill(TYPO)
    with page.expect_response(re.compile(r"/rules/add/$")) as answer:
        rule.press("Enter")
    assert answer.value.status == 400
    expect(rule).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#" + rule.get_attribute("aria-describedby"))).to_contain_text(MESSAGE)
    expect(rule).to_have_value(TYPO)
    # Still the whole page: its header, its styles, its table.
    expect(page.get_by_role("link", name="DNS overrides")).to_be_visible()
    expect(page).to_have_title(re.compile(r"DNS overrides admin$"))
    expect(rule_texts(page)).to_have_count(3)


def test_a_refused_edit_keeps_the_page_and_the_typed_text(
    page: Any, admin_user: Any, sender_with_rules: Any
) -> None:
    _open_table(page)
    page.get_by_role("link", name="Edit rule 2", exact=True).click()
    rule = page.locator("tr.editing").get_by_label("Rule", exact=True)
    rule.fill(TYPO)
    page.get_by_role("button", name="Save rule 2").click()
    expect(rule).to_have_attribute("aria-invalid", "true")
    expect(page.locator("tr.editing")).to_contain_text(MESSAGE)
    expect(rule).to_have_value(TYPO)
    expect(page.get_by_role("link", name="DNS overrides")).to_be_visible()
    expect(rule_texts(page)).to_have_count(2)  # the row being edited shows its form


def test_no_debug_script_is_loaded(page: Any, admin_user: Any, sender_with_rules: Any) -> None:
    _open_table(page)
    scripts = page.locator("script[src]").evaluate_all("els => els.map(e => e.src)")
    assert not [s for s in scripts if "django-htmx.js" in s], scripts
