"""The table page by keyboard: few tab stops per rule, every action reachable, a skip link."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import TABLE, rule_texts
from tests.browser.test_focus import open_table

OWN_DOMAIN, RELAY, CORP = TABLE.splitlines()
CORP_MASKED = CORP.replace("secret", "********")

FOCUSED_RULE = """() => {
  const row = document.activeElement.closest("tr[data-position]");
  return row ? Number(row.dataset.position) : null;
}"""
FOCUSED_NAME = """() => {
  const el = document.activeElement;
  return el.getAttribute("aria-label") || (el.labels && el.labels[0] && el.labels[0].textContent);
}"""


def test_each_rule_takes_at_most_three_tab_stops(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    page.get_by_role("button", name="Reorder rule 1").focus()
    stops: dict[int, list[str]] = {}
    for _ in range(20):
        rule = page.evaluate(FOCUSED_RULE)
        if rule is None:
            break
        stops.setdefault(rule, []).append(page.evaluate(FOCUSED_NAME))
        page.keyboard.press("Tab")
    # The handle, the position field (Enter moves), the actions toolbar (arrow keys).
    assert stops == {
        n: [f"Reorder rule {n}", f"New position for rule {n}", f"Edit rule {n}"] for n in (1, 2, 3)
    }
    # After the last rule: "Add a rule".
    expect(page.locator("#add-rule").get_by_label("Rule", exact=True)).to_be_focused()


def test_every_action_of_a_rule_is_reached_with_the_arrow_keys(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    page.get_by_role("link", name="Edit rule 2").focus()
    names = [page.evaluate(FOCUSED_NAME)]
    for _ in range(7):
        page.keyboard.press("ArrowRight")
        names.append(page.evaluate(FOCUSED_NAME))
    assert names == [
        "Edit rule 2",
        "Disable rule 2",
        "Move rule 2 to the top",
        "Move rule 2 up",
        "Move rule 2 down",
        "Move rule 2 to the bottom",
        "Check the relay of rule 2",
        "Delete rule 2",
    ]
    page.keyboard.press("ArrowRight")  # round to the start
    expect(page.get_by_role("link", name="Edit rule 2")).to_be_focused()
    page.keyboard.press("End")
    expect(page.get_by_role("link", name="Delete rule 2")).to_be_focused()
    page.keyboard.press("Home")
    expect(page.get_by_role("link", name="Edit rule 2")).to_be_focused()

    # Down with the keyboard: the moved rule keeps the focus where it was.
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    expect(page.get_by_role("button", name="Move rule 2 down")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Rule 2 moved to position 3.")
    expect(rule_texts(page)).to_have_text([OWN_DOMAIN, CORP_MASKED, RELAY])
    expect(page.get_by_role("button", name="Move rule 3 down")).to_be_focused()

    # The position field: type a number, Enter moves the rule there.
    page.get_by_label("New position for rule 3").fill("1")
    page.get_by_label("New position for rule 3").press("Enter")
    expect(page.get_by_role("status")).to_have_text("Rule 3 moved to position 1.")
    expect(rule_texts(page)).to_have_text([RELAY, OWN_DOMAIN, CORP_MASKED])

    # Disable, edit and delete, by keyboard.
    page.get_by_role("link", name="Edit rule 1").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Rule 1 disabled: it is kept but not used.")
    # The focus stays on the toggle, now named for what it does next.
    expect(page.get_by_role("button", name="Enable rule 1")).to_be_focused()
    page.get_by_role("link", name="Edit rule 1").focus()
    page.keyboard.press("Enter")
    expect(page.locator("tr.editing").get_by_label("Rule", exact=True)).to_be_focused()
    page.locator("tr.editing").get_by_role("link", name="Cancel").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Edit rule 1")).to_be_focused()
    page.get_by_role("link", name="Delete rule 3").focus()
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Delete rule 3").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Rule 3 deleted.")
    expect(rule_texts(page)).to_have_text([RELAY, OWN_DOMAIN])


def test_the_move_button_asks_for_a_position_then_moves_the_rule_there(
    page: Any, editor: Any, sender_with_rules: Any
) -> None:
    open_table(page, editor, sender_with_rules)
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    position = page.get_by_label("New position for rule 1")

    # Nothing typed: the field asks for a position, nothing is sent.
    page.get_by_role("button", name="Move rule 1 to the position typed").click()
    expect(position).to_be_focused()
    assert position.evaluate("el => el.validity.valueMissing")
    assert not [request for request in sent if "/move/" in request]

    position.fill("3")
    page.get_by_role("button", name="Move rule 1 to the position typed").click()
    expect(page.get_by_role("status")).to_have_text("Rule 1 moved to position 3.")
    expect(rule_texts(page)).to_have_text([RELAY, CORP_MASKED, OWN_DOMAIN])
    assert len([request for request in sent if request.startswith("POST")]) == 1


def test_the_skip_link_leads_to_add_a_rule(page: Any, editor: Any, sender_with_rules: Any) -> None:
    open_table(page, editor, sender_with_rules)
    skip = page.get_by_role("link", name="Skip to “Add a rule”")
    skip.focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#add-rule").get_by_label("Rule", exact=True)).to_be_focused()
