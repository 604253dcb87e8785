"""The table services: dense positions, revisions, stale edits, kept passwords."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from senders import tables
from senders.engine import OverrideSyntaxError
from senders.models import MailSender, Revision
from senders.tables import (
    Actor,
    StaleTable,
    acknowledge_warning,
    add_rule,
    delete_rule,
    document_of,
    entries_of,
    export_text,
    move_rule,
    replace_table,
    update_rule,
)
from senders.tabletext import format_document, parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)


def texts(sender: MailSender) -> list[str]:
    return list(sender.rules.order_by("position").values_list("text", flat=True))


def positions(sender: MailSender) -> list[int]:
    return list(sender.rules.order_by("position").values_list("position", flat=True))


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    for domain in ("a.example", "b.example", "c.example", "d.example"):
        add_rule(sender, f"{domain} relay.example.net", actor=ACTOR)
    sender.refresh_from_db()
    return sender


def test_add_stores_canonical_text_and_records_a_revision(sender: MailSender) -> None:
    change = add_rule(sender, "  Example.COM\tSMTP.MyISP.com:587   $END ", actor=ACTOR)
    assert change.rule is not None
    assert change.rule.text == "example.com smtp.myisp.com:587 $end"
    assert change.revision.number == 1
    assert change.revision.document == "example.com smtp.myisp.com:587 $end\n"
    sender.refresh_from_db()
    assert sender.revision == 1


def test_add_rejects_bad_text_and_changes_nothing(table: MailSender) -> None:
    before = texts(table)
    with pytest.raises(OverrideSyntaxError) as error:
        add_rule(table, "example.com smtp.example.com $sizee>5", actor=ACTOR)
    assert str(error.value) == 'line 1, col 30: unknown attribute "$sizee" (did you mean $size?)'
    assert texts(table) == before
    assert table.revisions.count() == 4


def test_insert_at_a_position_shifts_the_rest_down(table: MailSender) -> None:
    add_rule(table, "new.example relay.example.net", position=2, actor=ACTOR)
    assert [t.split()[0] for t in texts(table)] == [
        "a.example",
        "new.example",
        "b.example",
        "c.example",
        "d.example",
    ]
    assert positions(table) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("start", "to", "order"),
    [
        (1, 4, "bcda"),
        (4, 1, "dabc"),
        (2, 3, "acbd"),
        (3, 2, "acbd"),
        (2, 99, "acdb"),
        (3, 0, "cabd"),
        (2, 2, "abcd"),
    ],
)
def test_move_keeps_positions_dense(table: MailSender, start: int, to: int, order: str) -> None:
    rule = table.rules.get(position=start)
    move_rule(rule, to, actor=ACTOR)
    assert "".join(t[0] for t in texts(table)) == order
    assert positions(table) == [1, 2, 3, 4]


def test_delete_closes_the_gap(table: MailSender) -> None:
    delete_rule(table.rules.get(position=2), actor=ACTOR)
    assert "".join(t[0] for t in texts(table)) == "acd"
    assert positions(table) == [1, 2, 3]


def test_a_stale_revision_is_refused_and_nothing_changes(table: MailSender) -> None:
    before = texts(table)
    with pytest.raises(StaleTable) as error:
        add_rule(table, "x.example relay.example.net", actor=ACTOR, expected_revision=2)
    assert "you saw revision 2, it is now at revision 4" in str(error.value)
    assert texts(table) == before


def test_update_with_the_mask_keeps_the_stored_password(sender: MailSender) -> None:
    change = add_rule(sender, "* joe:s3cr3t@smtp.corp.example", actor=ACTOR)
    assert change.rule is not None
    update_rule(change.rule, text="* joe:********@smtp.corp.example $end", actor=ACTOR)
    assert texts(sender) == ["* joe:s3cr3t@smtp.corp.example $end"]


def test_the_mask_cannot_invent_a_password(sender: MailSender) -> None:
    with pytest.raises(OverrideSyntaxError) as error:
        add_rule(sender, "* joe:********@smtp.corp.example", actor=ACTOR)
    assert error.value.message == (
        "type the password for joe at smtp.corp.example:25: "
        "******** only keeps a password that is already stored"
    )
    assert texts(sender) == []


def test_replace_table_keeps_comments_disabled_rules_and_masked_passwords(
    sender: MailSender,
) -> None:
    add_rule(sender, "* joe:s3cr3t@smtp.corp.example", actor=ACTOR)
    document = (
        "# the corporate relay\n"
        "* joe:********@smtp.corp.example $authsender=joe\n"
        "#disabled: example.com smtp.myisp.com\n"
    )
    replace_table(sender, parse_document(document), actor=ACTOR)
    assert document_of(sender) == (
        "# the corporate relay\n"
        "* joe:s3cr3t@smtp.corp.example $authsender=joe\n"
        "#disabled: example.com smtp.myisp.com\n"
    )
    assert document_of(sender, mask_passwords=True) == document
    assert export_text(sender) == "* joe:s3cr3t@smtp.corp.example $authsender=joe\n"


def test_every_change_records_one_revision_with_its_author(table: MailSender, editor: Any) -> None:
    actor = Actor(user=editor, source=Revision.Source.EDITOR, remote_addr="192.0.2.7")
    rule = table.rules.get(position=1)
    update_rule(rule, enabled=False, actor=actor)
    revision = table.revisions.order_by("-number").first()
    assert revision is not None
    assert (revision.number, revision.author, revision.remote_addr) == (5, editor, "192.0.2.7")
    assert revision.document.splitlines()[0] == "#disabled: a.example relay.example.net"


# ------------------------------------------------------------ the kept table

OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["add", "toggle", "edit", "delete", "move", "acknowledge"]),
        st.integers(min_value=1, max_value=9),
        st.integers(min_value=1, max_value=9),
        st.sampled_from(["x.example r.example", "*.example u:secret@r.example:587 $end"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_a_change_makes_the_same_snapshot_from_the_kept_table_as_from_a_fresh_read(
    operations: list[tuple[str, int, int, str]],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Each change after the first makes its table from the one kept at the revision
    before (no read of the rules): it is the table a read finds, and the revision's
    document is that table's."""
    sender = MailSender.objects.create(name="Kept", slug=f"kept-{MailSender.objects.count()}")
    document = "a.example r.example\n#disabled: b.example r.example\n# why\nc.example r.example\n"
    with django_capture_on_commit_callbacks(execute=True):
        replace_table(sender, parse_document(document), actor=ACTOR)
    reads = []
    monkeypatch.setattr(tables, "entries_of", lambda s: reads.append(s) or entries_of(s))
    for number, (operation, where, to, text) in enumerate(operations):
        rules = list(sender.rules.order_by("position"))
        rule = rules[(where - 1) % len(rules)] if rules else None
        with django_capture_on_commit_callbacks(execute=True):
            if operation == "add" or rule is None:
                change = add_rule(sender, text, actor=ACTOR, position=where, comment=f"c{number}")
            elif operation == "toggle":
                change = update_rule(rule, enabled=not rule.enabled, actor=ACTOR)
            elif operation == "edit":
                change = update_rule(rule, text=text, comment=f"e{number}", actor=ACTOR)
            elif operation == "delete":
                change = delete_rule(rule, actor=ACTOR)
            elif operation == "move":
                change = move_rule(rule, to, actor=ACTOR)
            else:
                change = acknowledge_warning(rule, "duplicate", actor=ACTOR)
        assert change.table == entries_of(sender)
        assert change.revision.document == format_document(entries_of(sender))
    assert reads == [sender]  # only the first change read the table
