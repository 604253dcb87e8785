"""At 375 px (a phone): every page fits the screen and "Log out" can be seen and reached."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from senders import tables
from senders.tabletext import parse_document
from tests.browser.conftest import log_in, rule_texts
from tests.conftest import PASSWORD

PHONE = {"width": 375, "height": 740}

TEST = "?recipients=bob%40example.com&size=20M&dns=manual&mx_records=example.com+10+mx1.example.com"

PAGES = [
    "/",
    "/senders/new/",
    "/senders/main/",
    "/senders/main/edit/",
    "/senders/main/delete/",
    "/senders/main/bulk/",
    "/senders/main/test/" + TEST,
    "/senders/main/history/",
    "/senders/main/history/diff/?a=1&b=2",
    "/senders/main/history/2/",
    "/senders/main/token/",
    "/senders/main/relays/",
    "/senders/main/impact/",
    "/accounts/password_change/",
]


@pytest.fixture
def phone(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def two_revisions(sender_with_rules: Any, admin_user: Any) -> Any:
    text = "example.com smtp.myisp.com:587\n*.demon.co.uk smtp.demon.net $priority:5\n"
    tables.replace_table(sender_with_rules, parse_document(text), actor=tables.Actor(admin_user))
    return sender_with_rules


WIDEST = """() => {
  const width = document.documentElement.clientWidth;
  const over = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 0.5 && box.width > 0) {
      const cls = String(el.getAttribute("class") || "").split(" ")[0];
      const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (cls ? "." + cls : "");
      over.push(name + " " + Math.round(box.right - width));
    }
  }
  return over.slice(-3);
}"""


def _sideways(page: Any) -> list[str]:
    """The innermost elements that stick out on the right (none: the page fits)."""
    extra = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return page.evaluate(WIDEST) if extra > 0 else []


def test_log_out_is_visible_in_the_header_at_375px(
    phone: Any, django_user_model: Any, sender: Any
) -> None:
    # As `make run` sets it up: a superuser "admin", so the header has all its links.
    django_user_model.objects.create_superuser("admin", password=PASSWORD)
    log_in(phone, "admin", PASSWORD)
    expect(phone.get_by_role("link", name="Django admin")).to_be_visible()
    button = phone.get_by_role("button", name="Log out admin")
    expect(button).to_be_in_viewport(ratio=1)
    box = button.bounding_box()
    header = phone.locator("header.site-header").bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"]
    assert header["y"] <= box["y"] and box["y"] + box["height"] <= header["y"] + header["height"]


def test_no_page_scrolls_sideways_at_375px(phone: Any, admin_user: Any, two_revisions: Any) -> None:
    log_in(phone, "ada", PASSWORD)
    wide = {}
    for path in PAGES:
        phone.goto(path)
        phone.wait_for_load_state()
        if path.startswith("/senders/main/test/"):
            expect(phone.get_by_role("region", name="Result")).to_contain_text("20971520 bytes")
        if path == "/senders/main/":
            expect(rule_texts(phone)).to_have_count(2)
        if extra := _sideways(phone):
            wide[path] = extra
    assert not wide, "\n".join(f"{path}: {', '.join(els)}" for path, els in wide.items())


@pytest.mark.parametrize("width", [1280, 375])
def test_the_search_button_stays_beside_its_field(
    browser: Any, live_server: Any, admin_user: Any, sender: Any, width: int
) -> None:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 700}
    )
    try:
        page = context.new_page()
        log_in(page, "ada", PASSWORD)
        field = page.get_by_role("searchbox", name="Search senders").bounding_box()
        button = page.get_by_role("button", name="Search").bounding_box()
        assert button["height"] < 50  # one line of text
        assert abs(button["y"] + button["height"] / 2 - (field["y"] + field["height"] / 2)) < 4
        assert button["x"] > field["x"] + field["width"]
        assert _sideways(page) == []
    finally:
        context.close()
