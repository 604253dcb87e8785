"""The number of SQL queries a page makes does not grow with the number of rules.

Each page is asked for at 10 and at 1,000 rules with the same ceiling, and with the
process's caches emptied first (as after a save: the most queries a page makes).
bench/pages.py measures the same pages at 10,000 rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from senders import tables, tabletext, tester
from senders.export import create_token
from senders.models import MailSender, Revision
from senders.tables import Actor, replace_table, update_rule
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
MX = "customer3.example 10 mx.customer3.example"
TEST = {"recipients": "bob@customer3.example", "dns": "manual", "mx_records": MX}
HTMX = {"HX-Request": "true"}


def document(size: int) -> str:
    lines = []
    for n in range(1, size + 1):
        if n % 25 == 0:
            lines.append(f"# rule {n}")
        rule = f"customer{n}.example u:pw{n % 3}@smtp{n % 7}.relay.example:587"
        rule += " $size>1000 $end" if n % 2 else " $priority:20"
        lines.append(f"#disabled: {rule}" if n % 100 == 0 else rule)
    return "\n".join(lines) + "\n"


def _at(sender: MailSender, name: str, *args: object) -> str:
    return reverse(name, args=[sender.slug, *args])


# page: (most queries, request). The numbers are what each page makes today; a page
# that needs one more for a good reason may raise its own, never per rule.
Request = Callable[[Client, MailSender, str, int], Any]
PAGES: dict[str, tuple[int, Request]] = {
    # The table page: one more for the warnings marked as intended (acknowledgements),
    # one for the last relay checks shown beside the rules.
    "table page": (10, lambda c, s, _, __: c.get(_at(s, "senders:detail"))),
    "table page, last page": (10, lambda c, s, _, __: c.get(_at(s, "senders:detail"), {"page": 5})),
    "bulk editor": (6, lambda c, s, _, __: c.get(_at(s, "senders:bulk"))),
    # The expensive ones take and give back their slots (senders.limits): in a test's
    # transaction a savepoint, an insert and a release each, then one delete.
    "bulk validate": (
        5 + 7,
        lambda c, s, text, _: c.post(
            _at(s, "senders:bulk"), {"text": text, "action": "validate"}, headers=HTMX
        ),
    ),
    "history": (7, lambda c, s, _, __: c.get(_at(s, "senders:history"))),
    "one revision": (7, lambda c, s, _, __: c.get(_at(s, "senders:revision", s.revision))),
    "diff": (8 + 7, lambda c, s, _, __: c.get(_at(s, "senders:diff"))),
    "test a message": (6, lambda c, s, _, __: c.get(_at(s, "senders:test"), TEST, headers=HTMX)),
    "live validation": (
        5,
        lambda c, s, _, __: c.post(
            _at(s, "senders:rule_validate"), {"text": "x.example relay.example"}, headers=HTMX
        ),
    ),
    # One for the last relay check of the rule's relay, shown in its row.
    "edit form of one rule": (
        7,
        lambda c, s, _, pk: c.get(_at(s, "senders:rule_edit", pk)),
    ),
    # Row actions (htmx): they answer with what changed only (table.html#changes). Their
    # transaction takes a savepoint here; a move or delete renumbers rules in one UPDATE
    # on PostgreSQL, two on SQLite (the ceiling is SQLite's).
    "toggle a rule": (
        22,
        lambda c, s, _, pk: c.post(
            _at(s, "senders:rule_toggle", pk),
            {"enabled": "0", "revision": s.revision},
            headers=HTMX,
        ),
    ),
    "move a rule": (
        27,
        lambda c, s, _, pk: c.post(
            _at(s, "senders:rule_move", pk), {"to": "up", "revision": s.revision}, headers=HTMX
        ),
    ),
    "save an edit of a rule": (
        22,
        lambda c, s, _, pk: c.post(
            _at(s, "senders:rule_edit", pk),
            {"text": "x.example relay.example", "comment": "", "revision": s.revision},
            headers=HTMX,
        ),
    ),
    "delete a rule": (
        25,
        lambda c, s, _, pk: c.post(
            _at(s, "senders:rule_delete", pk), {"revision": s.revision}, headers=HTMX
        ),
    ),
}


@pytest.fixture(params=[10, 1_000], ids=["10 rules", "1000 rules"])
def table(request: pytest.FixtureRequest, sender: MailSender) -> tuple[MailSender, str]:
    text = document(request.param)
    replace_table(sender, parse_document(text), actor=ACTOR)
    for rule in sender.rules.order_by("position")[:3]:  # a few revisions for the history
        update_rule(rule, actor=ACTOR, comment="checked")
    sender.refresh_from_db()
    return sender, text


def _empty_caches() -> None:
    cache.clear()
    tester._saved_table.cache_clear()
    tabletext.forget_parsed()
    tables.forget_tables()


@pytest.mark.parametrize("page", PAGES)
def test_a_page_makes_as_many_queries_for_1000_rules_as_for_10(
    page: str,
    table: tuple[MailSender, str],
    admin_client_role: Client,
    django_assert_max_num_queries: Any,
) -> None:
    most, ask = PAGES[page]
    sender, text = table
    rule = sender.rules.get(position=5).pk
    _empty_caches()
    with django_assert_max_num_queries(most):
        response = ask(admin_client_role, sender, text, rule)
    assert response.status_code == 200


@pytest.mark.parametrize("conditional", [False, True], ids=["200", "304"])
def test_an_export_poll_makes_as_many_queries_for_1000_rules_as_for_10(
    conditional: bool,
    table: tuple[MailSender, str],
    client: Client,
    django_assert_max_num_queries: Any,
    django_assert_num_queries: Any,
) -> None:
    sender, _ = table
    token = create_token(sender)
    headers = {"Authorization": f"Bearer {token}"}
    _empty_caches()
    # The first poll of a revision: the sender, the revision's snapshot, the fetch record.
    with django_assert_max_num_queries(3):
        first = client.get(f"/export/{sender.slug}.txt", headers=headers)
    assert first.status_code == 200
    if conditional:
        headers["If-None-Match"] = first["ETag"]
    with django_assert_num_queries(1):  # every later poll: the sender's row alone
        again = client.get(f"/export/{sender.slug}.txt", headers=headers)
    assert again.status_code == (304 if conditional else 200)
