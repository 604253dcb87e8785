"""axe-core (bundled by axe-playwright-python, nothing fetched) on every page: no violations.

At 1280 and 375 px, in the light and the dark colour scheme, logged out and in, our
pages and the Django admin pages of the senders.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from senders import tables
from senders.models import MailSender
from senders.tabletext import parse_document
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

AXE = Axe()

TEST = "?recipients=bob%40example.com&size=20M&dns=manual&mx_records=example.com+10+mx1.example.com"

PAGES = [
    "/",
    "/?q=main",
    "/senders/new/",
    "/senders/main/",
    "/senders/main/edit/",
    "/senders/main/delete/",
    "/senders/main/rules/{rule}/edit/",
    "/senders/main/rules/{rule}/delete/",
    "/senders/main/bulk/",
    "/senders/main/import/",
    "/senders/main/test/",
    "/senders/main/test/" + TEST,
    "/senders/main/history/",
    "/senders/main/history/diff/?a=1&b=2",
    "/senders/main/history/2/",
    "/senders/main/token/",
    "/accounts/password_change/",
    "/admin/",
    "/admin/senders/mailsender/",
    "/admin/senders/mailsender/{sender}/change/",
    "/admin/senders/overriderule/?sender__id__exact={sender}",
    "/admin/senders/overriderule/{rule}/change/",
    "/admin/senders/revision/",
    "/senders/main/relays/",
    "/senders/main/impact/",
    "/senders/main/?template=google",
]


@pytest.fixture(
    params=[(1280, "light"), (375, "light"), (1280, "dark"), (375, "dark")],
    ids=["1280px", "375px", "1280px dark", "375px dark"],
)
def view(request: pytest.FixtureRequest, browser: Any, live_server: Any) -> Iterator[Any]:
    width, scheme = request.param
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}, color_scheme=scheme
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def two_revisions(sender: MailSender, django_user_model: Any) -> MailSender:
    """A superuser "admin" (as `make run` makes) and a table with a history and a password."""
    admin = django_user_model.objects.create_superuser("admin", password=PASSWORD)
    actor = tables.Actor(admin)
    first = (
        "example.com smtp.myisp.com:587\n"
        "* relay.myisp.com:587 $size>10000000 $end\n"
        "* joe:secret@smtp.corp.example $authsender=joe $end\n"
    )
    tables.replace_table(sender, parse_document(first), actor=actor)
    second = first.replace(":587 $size", ":465 $size") + "#disabled: *.demon.co.uk smtp.demon.net\n"
    tables.replace_table(sender, parse_document(second), actor=actor)
    sender.refresh_from_db()
    return sender


def _violations(page: Any, context: dict[str, Any] | None = None) -> list[str]:
    results = AXE.run(page, context=context)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in results.response["violations"]
    ]


def test_the_login_page_has_no_violations(view: Any, db: None) -> None:
    view.goto("/accounts/login/")
    assert _violations(view) == []
    view.get_by_role("button", name="Log in").click()  # refused: the errors, too
    assert _violations(view) == []


def test_every_page_has_no_violations(view: Any, two_revisions: MailSender) -> None:
    log_in(view, "admin", PASSWORD)
    expect(view.get_by_role("button", name="Log out admin")).to_be_visible()
    rule = two_revisions.rules.get(position=2).pk
    found = {}
    for path in PAGES:
        view.goto(path.format(rule=rule, sender=two_revisions.pk))
        view.wait_for_load_state()
        if path.startswith("/senders/main/test/?"):
            expect(view.get_by_role("region", name="Result")).to_contain_text("20971520 bytes")
        if problems := _violations(view):
            found[path] = problems
    assert not found, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in found.items())


def test_a_new_token_and_an_open_edit_row_have_no_violations(
    view: Any, two_revisions: MailSender
) -> None:
    log_in(view, "admin", PASSWORD)
    view.goto("/senders/main/token/")
    view.get_by_role("button", name="Create a token").click()
    expect(view.get_by_label("Export token", exact=True)).to_be_focused()
    assert _violations(view) == []
    view.goto("/senders/main/")
    view.wait_for_load_state()
    view.get_by_role("link", name="Edit rule 2", exact=True).click()
    rule = view.locator("tr.editing").get_by_label("Rule", exact=True)
    rule.fill("* relay.myisp.com $sise>10")
    expect(view.locator("tr.editing")).to_contain_text("unknown attribute")
    assert _violations(view) == []


CONTRAST = """el => {
  const rgb = c => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let back = el.parentElement;
  const clear = "rgba(0, 0, 0, 0)";
  while (back && getComputedStyle(back).backgroundColor === clear) back = back.parentElement;
  const bg = rgb(back ? getComputedStyle(back).backgroundColor : "rgb(255, 255, 255)");
  const style = getComputedStyle(el);
  const ring = rgb(style.outlineColor);
  const [a, b] = [lum(ring), lum(bg)].sort((x, y) => y - x);
  const ratio = (a + 0.05) / (b + 0.05);
  return {style: style.outlineStyle, width: parseFloat(style.outlineWidth), ratio: ratio};
}"""


def test_the_focus_ring_stands_out_3_to_1(view: Any, two_revisions: MailSender) -> None:
    log_in(view, "admin", PASSWORD)
    view.goto("/senders/main/")
    view.wait_for_load_state()
    for control in (
        view.get_by_role("button", name="Log out admin"),  # on the dark header
        view.get_by_role("link", name="Test a message"),  # on the page
        view.get_by_role("button", name="Disable rule 1", exact=True),  # in the table
        view.get_by_label("Rule", exact=True),  # in the "Add a rule" card
    ):
        control.focus()
        ring = control.evaluate(CONTRAST)
        assert ring["style"] == "solid" and ring["width"] >= 2, ring
        assert ring["ratio"] >= 3, ring
