"""Moving rules: up, down, top, bottom, to a number; positions stay dense and unique."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from senders.models import MailSender, OverrideRule, Revision
from senders.tables import Actor, StaleTable, add_rule, delete_rule, move_rule, replace_table
from senders.tabletext import Entry
from tests.threads import run_at_once

ACTOR = Actor(source=Revision.Source.COMMAND)
HX = {"HTTP_HX_REQUEST": "true"}
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and real concurrency need PostgreSQL"
)


def fill(sender: MailSender, count: int) -> MailSender:
    replace_table(
        sender, [Entry(f"d{n}.example h{n}.example") for n in range(1, count + 1)], actor=ACTOR
    )
    sender.refresh_from_db()
    return sender


def order(sender: MailSender) -> list[str]:
    return [
        text.split()[0] for text in sender.rules.order_by("position").values_list("text", flat=True)
    ]


def positions(sender: MailSender) -> list[int]:
    return list(sender.rules.order_by("position").values_list("position", flat=True))


def move(client: Client, sender: MailSender, domain: str, to: str, **headers: Any) -> Any:
    rule = sender.rules.get(text__startswith=domain + " ")
    sender.refresh_from_db()
    url = reverse("senders:rule_move", args=[sender.slug, rule.pk])
    return client.post(url, {"to": to, "revision": sender.revision}, **headers)


@pytest.fixture
def five(db: None, sender: MailSender) -> MailSender:
    return fill(sender, 5)


# ------------------------------------------------------------------ semantics


def test_the_database_refuses_two_rules_at_one_position(five: MailSender) -> None:
    # The constraint is checked at the end of a statement on PostgreSQL (one UPDATE
    # renumbers a range) and row by row on SQLite: either way it is there.
    with pytest.raises(IntegrityError), transaction.atomic():
        OverrideRule.objects.create(sender=five, position=3, text="x.example h.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        five.rules.filter(position=4).update(position=3)
    assert positions(five) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("domain", "to", "expected", "message"),
    [
        ("d3.example", "up", ["d1", "d3", "d2", "d4", "d5"], "Rule 3 moved to position 2."),
        ("d3.example", "down", ["d1", "d2", "d4", "d3", "d5"], "Rule 3 moved to position 4."),
        ("d3.example", "top", ["d3", "d1", "d2", "d4", "d5"], "Rule 3 moved to position 1."),
        ("d3.example", "bottom", ["d1", "d2", "d4", "d5", "d3"], "Rule 3 moved to position 5."),
        ("d1.example", "4", ["d2", "d3", "d4", "d1", "d5"], "Rule 1 moved to position 4."),
        ("d5.example", "2", ["d1", "d5", "d2", "d3", "d4"], "Rule 5 moved to position 2."),
        ("d2.example", "999", ["d1", "d3", "d4", "d5", "d2"], "Rule 2 moved to position 5."),
        ("d2.example", " 3 ", ["d1", "d3", "d2", "d4", "d5"], "Rule 2 moved to position 3."),
    ],
)
def test_it_moves_a_rule(
    editor_client: Client, five: MailSender, domain: str, to: str, expected: list[str], message: str
) -> None:
    response = move(editor_client, five, domain, to)
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [message]
    assert [d.removesuffix(".example") for d in order(five)] == expected
    assert positions(five) == [1, 2, 3, 4, 5]


def test_the_redirect_lands_on_the_moved_rule(editor_client: Client, five: MailSender) -> None:
    rule = five.rules.get(position=1)
    response = move(editor_client, five, "d1.example", "bottom")
    assert response["Location"] == f"/senders/main/?page=1#rule-{rule.pk}"


@pytest.mark.parametrize(("domain", "to"), [("d1.example", "up"), ("d1.example", "top"),
                                             ("d5.example", "down"), ("d5.example", "bottom"),
                                             ("d3.example", "3")])  # fmt: skip
def test_a_move_that_goes_nowhere_changes_nothing(
    editor_client: Client, five: MailSender, domain: str, to: str
) -> None:
    revision = five.revision
    response = move(editor_client, five, domain, to)
    assert response.status_code == 302
    (message,) = (str(m) for m in get_messages(response.wsgi_request))
    assert message.endswith("is already there.")
    assert MailSender.objects.get(pk=five.pk).revision == revision
    assert order(five) == [f"d{n}.example" for n in range(1, 6)]


@pytest.mark.parametrize(
    "to", ["", "sideways", "0", "-1", "1.5", "\N{FULLWIDTH DIGIT ONE}", "9" * 50, "up up"]
)
def test_it_refuses_a_junk_target(editor_client: Client, five: MailSender, to: str) -> None:
    response = move(editor_client, five, "d3.example", to)
    assert response.status_code == 400
    assert (
        "Choose where to move the rule: up, down, top, bottom or a position from 1."
        in response.content.decode()
    )
    assert order(five) == [f"d{n}.example" for n in range(1, 6)]


def test_a_stale_move_is_refused(editor_client: Client, five: MailSender) -> None:
    rule = five.rules.get(position=3)
    url = reverse("senders:rule_move", args=[five.slug, rule.pk])
    response = editor_client.post(url, {"to": "top", "revision": five.revision - 1})
    assert response.status_code == 409
    assert "Nothing was changed: here is the current table; try again." in response.content.decode()
    assert order(five)[0] == "d1.example"


def test_moving_with_htmx_sends_back_only_the_moved_rule(
    editor_client: Client, five: MailSender
) -> None:
    rule = five.rules.get(position=4)
    response = move(editor_client, five, "d4.example", "1", **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<section id="rules"' not in html and "Add a rule" not in html
    assert "Rule 4 moved to position 1." in html
    # The moved rule, at its new position; the page renumbers the ones it passed.
    assert f'<tr id="rule-{rule.pk}" class="rule" data-position="1"' in html
    assert 'hx-swap-oob="true" data-fresh' in html
    assert html.count("<tr ") == 1 and "<code>d1.example" not in html
    assert f'<h2 id="rules-heading" data-revision="{five.revision + 1}" hx-swap-oob="true">' in html


def test_deleting_with_htmx_brings_the_next_rule_onto_the_page(
    editor_client: Client, sender: MailSender
) -> None:
    fill(sender, 250)
    gone = sender.rules.get(position=3)
    arriving = sender.rules.get(position=201)
    url = reverse("senders:rule_delete", args=[sender.slug, gone.pk])
    html = editor_client.post(url, {"revision": sender.revision}, **HX).content.decode()
    assert "Rule 3 deleted." in html
    assert f'<tr id="rule-{gone.pk}" hx-swap-oob="delete"></tr>' in html
    assert f'<tr id="rule-{arriving.pk}" class="rule" data-position="200" data-move-url=' in html
    assert 'hx-swap-oob="beforeend:#rules tbody" data-fresh' in html
    assert html.count("<tr ") == 2
    assert "Rules 1\N{EN DASH}200 of 249" in html  # the pagers, out of band
    assert len(html) < 20_000


def test_moving_to_another_page_shows_that_page(editor_client: Client, sender: MailSender) -> None:
    fill(sender, 250)
    response = move(editor_client, sender, "d1.example", "bottom", **HX)
    html = response.content.decode()
    assert "Rules 201\N{EN DASH}250 of 250" in html
    assert 'data-position="250"' in html and "<code>d1.example" in html
    response = move(editor_client, sender, "d1.example", "top")
    assert response["Location"].startswith("/senders/main/?page=1#rule-")


def test_a_stale_move_with_htmx_shows_the_current_table(
    editor_client: Client, five: MailSender
) -> None:
    rule = five.rules.get(position=2)
    add_rule(five, "new.example h.example", actor=ACTOR, position=1)
    url = reverse("senders:rule_move", args=[five.slug, rule.pk])
    response = editor_client.post(url, {"to": "top", "revision": five.revision}, **HX)
    assert response.status_code == 409
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="rules"')
    assert "<code>new.example h.example</code>" in html
    assert f'data-revision="{five.revision + 1}"' in html


def test_the_drag_handles_wait_for_javascript(editor_client: Client, five: MailSender) -> None:
    html = editor_client.get(reverse("senders:detail", args=[five.slug])).content.decode()
    assert html.count('class="drag-handle small secondary" hidden') == 5
    assert '<tbody data-first="1" data-count="5" ' in html
    assert 'id="announcer" class="visually-hidden" aria-live="assertive"' in html
    assert "<script>" not in html  # our JS lives in static/senders/app.js


# ------------------------------------------------------------------ concurrency (PostgreSQL)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_moves_inserts_and_deletes_keep_positions_dense(sender: MailSender) -> None:
    fill(sender, 30)

    def mover() -> None:
        for step in range(15):
            rule = sender.rules.order_by("?").first()
            if rule is not None:
                with contextlib.suppress(OverrideRule.DoesNotExist):
                    move_rule(rule, (step * 7) % 30 + 1, actor=ACTOR)

    def inserter() -> None:
        for step in range(15):
            add_rule(sender, f"n{step}.example h.example", actor=ACTOR, position=step % 5 + 1)

    def deleter() -> None:
        for _ in range(10):
            rule = sender.rules.order_by("?").first()
            if rule is not None:
                # Another thread may delete the picked rule first: fine.
                with contextlib.suppress(OverrideRule.DoesNotExist):
                    delete_rule(rule, actor=ACTOR)

    errors = run_at_once([mover, inserter, deleter, mover])
    assert errors == []
    count = sender.rules.count()
    assert positions(sender) == list(range(1, count + 1))
    sender.refresh_from_db()
    numbers = list(sender.revisions.order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, sender.revision + 1))


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_people_moving_from_the_same_page_one_is_told_it_is_stale(
    sender: MailSender, django_user_model: Any
) -> None:
    from django.contrib.auth.models import Group

    fill(sender, 10)
    clients = []
    for name in ("eve", "max"):
        user = django_user_model.objects.create_user(username=name, password="x")
        user.groups.add(Group.objects.get(name="editor"))
        client = Client()
        client.force_login(user)
        clients.append(client)
    seen = sender.revision
    first, last = sender.rules.get(position=1), sender.rules.get(position=10)
    statuses: list[int] = []

    def post(client: Client, rule: OverrideRule, to: str) -> Callable[[], None]:
        url = reverse("senders:rule_move", args=[sender.slug, rule.pk])
        return lambda: statuses.append(client.post(url, {"to": to, "revision": seen}).status_code)

    errors = run_at_once([post(clients[0], first, "bottom"), post(clients[1], last, "top")])
    assert errors == []
    assert sorted(statuses) == [302, 409]
    assert positions(sender) == list(range(1, 11))
    sender.refresh_from_db()
    assert sender.revision == seen + 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_stale_writer_waits_for_the_lock_then_is_refused(sender: MailSender) -> None:
    fill(sender, 3)
    seen = sender.revision
    rule = sender.rules.get(position=3)
    outcomes: list[str] = []

    def job() -> None:
        try:
            move_rule(rule, 1, actor=ACTOR, expected_revision=seen)
            outcomes.append("moved")
        except StaleTable:
            outcomes.append("stale")

    assert run_at_once([job, job, job]) == []
    assert sorted(outcomes) == ["moved", "stale", "stale"]
    assert positions(sender) == [1, 2, 3]
