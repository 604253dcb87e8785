"""Test a message, in a browser: the result always belongs to the inputs next to it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import expect

from tests.browser.conftest import body_rows, log_in
from tests.conftest import PASSWORD


def _open_tester(page: Any) -> Any:
    log_in(page, "ada", PASSWORD)
    page.goto("/senders/main/test/")
    page.wait_for_load_state()
    page.get_by_label("MX records typed in below").check()
    page.get_by_label("MX records (typed in)").fill("example.com 10 mx1.example.com")
    page.get_by_label("Recipient address(es)").fill("bob@example.com")
    return page.get_by_role("region", name="Result")


def test_invalid_retries_clear_the_previous_result(
    page: Any, admin_user: Any, sender_with_rules: Any
) -> None:
    result = _open_tester(page)
    hops = result.get_by_role("table", name="Next hops, in the order a deliverer tries them")
    expect(body_rows(hops)).to_have_count(1)

    page.get_by_label("Retries ($retries)").fill("-1")
    expect(result.get_by_role("listitem")).to_have_text(
        ["Retries ($retries): Value must be greater than or equal to 0."]
    )
    expect(result.get_by_text("Fix this to see a result:")).to_be_visible()
    expect(hops).to_be_hidden()

    # Valid again: a fresh result for these inputs, no trace of the note.
    page.get_by_label("Retries ($retries)").fill("3")
    expect(result.get_by_text("Fix this to see a result:")).to_have_count(0)
    expect(body_rows(hops)).to_have_text(["1 smtp.myisp.com 587 10 override, rule 1 none"])


def test_a_result_has_an_address_to_bookmark(
    page: Any, admin_user: Any, sender_with_rules: Any
) -> None:
    result = _open_tester(page)
    page.get_by_label("Size ($size)").fill("20M")
    expect(result).to_contain_text("A message of 20971520 bytes")
    query = parse_qs(urlsplit(page.url).query)
    assert query["recipients"] == ["bob@example.com"]
    assert query["size"] == ["20M"]
    assert query["dns"] == ["manual"]
    # Opened again from that address: the same result, without typing.
    page.goto(page.url)
    expect(page.get_by_role("region", name="Result")).to_contain_text("A message of 20971520 bytes")
    expect(page.get_by_label("Size ($size)")).to_have_value("20M")
