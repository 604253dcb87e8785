"""Lint warnings on the pages: the helpers the table page and the bulk editor call."""

from __future__ import annotations

import re

import pytest
from django.template.loader import render_to_string

from senders import lint
from senders.engine.lint import RELAY_LOOP, SHADOWED
from senders.lint import lint_context, lint_entries, lint_sender
from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    sender.local_domains = "mycompany.com"
    sender.save()
    add_rule(sender, "* relay.example.net $end", actor=ACTOR)
    add_rule(sender, "off.example x.net", actor=ACTOR, enabled=False)
    add_rule(sender, "example.com smtp.example.net", actor=ACTOR)
    sender.refresh_from_db()
    return sender


def test_lint_sender_numbers_warnings_by_table_position(table: MailSender) -> None:
    assert [(w.line, w.code) for w in lint_sender(table)] == [(1, RELAY_LOOP), (3, SHADOWED)]


def test_on_line_picks_each_rules_warnings(table: MailSender) -> None:
    from django.template import Context, Template

    context = Context(lint_context(table))
    template = Template(
        "{% load lint_tags %}{% for w in lint_warnings|on_line:n %}{{ w.code }}{% endfor %}"
    )
    shown = []
    for n in (1, 2, 3):
        context["n"] = n
        shown.append(template.render(context))
    assert shown == [RELAY_LOOP, "", SHADOWED]


def test_lint_entries_uses_the_lines_of_the_typed_text() -> None:
    entries = parse_document("# comment\n* relay.example.net $end\n\nexample.com x.net\n")
    assert [(w.line, w.code) for w in lint_entries(entries)] == [(4, SHADOWED)]


def test_the_partials_render_messages_and_fixes(table: MailSender) -> None:
    context = lint_context(table)
    html = render_to_string("senders/_lint.html", context)
    assert "2 warnings" in html
    assert "rule 3</span> can never match: rule 1" in html
    assert "<em>move rule 3 above rule 1, give rule 1 a condition, or delete rule 3</em>" in html
    one = render_to_string("senders/_lint.html#rule", {"warnings": context["lint_warnings"][1:]})
    assert "can never match" in one
    assert "<section" not in one
    empty = render_to_string("senders/_lint.html#rule", {"warnings": [], "pk": 7}).strip()
    assert empty == '<div id="warnings-7" class="rule-warnings"></div>'  # a row action may fill it


def test_a_clean_table_renders_nothing(sender: MailSender) -> None:
    add_rule(sender, "example.com smtp.example.net", actor=ACTOR)
    html = render_to_string("senders/_lint.html", lint_context(sender))
    assert re.sub(r"\s+", "", html) == '<divid="lint-summary"></div>'  # a row action may fill it


def test_lint_never_shows_a_password(sender: MailSender) -> None:
    add_rule(sender, "a.example joe:old-secret@relay.example.net", actor=ACTOR)
    add_rule(sender, "b.example joe:new-secret@relay.example.net", actor=ACTOR)
    html = render_to_string("senders/_lint.html", lint_context(sender))
    assert "send to relay.example.net:25 as joe" in html
    assert "secret" not in html


def test_lint_of_a_stored_table_is_computed_once_per_revision_and_local_domains(
    table: MailSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.cache import cache

    from senders import lint

    cache.clear()
    calls: list[int] = []
    real = lint.lint_table

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lint, "lint_table", counting)
    first = lint_sender(table)
    assert lint_sender(table) == first
    assert len(calls) == 1
    MailSender.objects.filter(pk=table.pk).update(local_domains="")
    table.refresh_from_db()
    assert [w.code for w in lint_sender(table)] == [SHADOWED]
    add_rule(table, "new.example x.net", actor=ACTOR)
    table.refresh_from_db()
    lint_sender(table)
    assert len(calls) == 3


def test_a_stored_table_that_no_longer_parses_has_no_lint(table: MailSender) -> None:
    table.rules.filter(position=3).update(text="x.org y.net $bogus")
    assert lint_sender(table) == []


def test_lint_read_during_a_save_is_kept_under_the_revision_it_belongs_to(
    table: MailSender,
) -> None:
    from django.core.cache import cache

    cache.clear()
    seen_before_the_save = MailSender.objects.get(pk=table.pk)
    add_rule(table, "example.com other.example.net $end", actor=ACTOR)
    # A page that loaded the sender before the save reads the rules after it.
    codes = [w.code for w in lint_sender(seen_before_the_save)]
    assert codes == [RELAY_LOOP, SHADOWED, SHADOWED]  # the added rule is shadowed too
    table.refresh_from_db()
    # The next revision's lint was cached under that revision, not the page's.
    assert cache.get(lint._lint_key(table, table.revision, table.local_domain_list)) is not None
    assert cache.get(lint._lint_key(table, table.revision - 1, table.local_domain_list)) is None


def test_a_change_lints_the_table_it_read_as_a_fresh_read_would(table: MailSender) -> None:
    from django.core.cache import cache

    from senders.tables import delete_rule, move_rule, update_rule

    first = table.rules.get(position=1)
    changes = [
        lambda: add_rule(table, "*.example.com relay.example.net $end", actor=ACTOR, position=2),
        lambda: update_rule(table.rules.get(position=3), enabled=True, actor=ACTOR),
        lambda: move_rule(first, 4, actor=ACTOR),
        lambda: delete_rule(table.rules.get(position=1), actor=ACTOR),
    ]
    for make in changes:
        change = make()
        assert change.table is not None
        from_change = lint_sender(change.sender, change.table)
        cache.clear()
        change.sender.refresh_from_db()
        assert from_change == lint_sender(change.sender)
        assert from_change  # the table has warnings to compare at every step
