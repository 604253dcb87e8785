"""History reads like a changelog: each revision says in one line what changed."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from senders import tables
from senders.models import MailSender, Revision
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

EDITOR = tables.Actor(source=Revision.Source.EDITOR)


def _summary(sender: MailSender) -> str:
    return sender.revisions.get(number=sender.revisions.count()).summary


def _rule(sender: MailSender, position: int) -> object:
    return sender.rules.get(position=position)


def test_each_change_of_one_rule_is_summarised(sender: MailSender) -> None:
    tables.add_rule(sender, "a.example smtp.example.net:25", actor=EDITOR)
    assert _summary(sender) == "added rule 1: a.example smtp.example.net"
    tables.add_rule(sender, "* joe:s3cret@relay.example $end", actor=EDITOR, position=1)
    assert _summary(sender) == "added rule 1: * joe:********@relay.example $end"

    tables.update_rule(_rule(sender, 2), actor=EDITOR, text="a.example smtp.example.net:587")
    assert _summary(sender) == "rule 2: port 25 → 587"
    tables.update_rule(
        _rule(sender, 1), actor=EDITOR, text="* joe:other@relay.example $size>10 $end"
    )
    assert _summary(sender) == "rule 1: password changed; $end → $size>10 $end"
    tables.update_rule(_rule(sender, 1), actor=EDITOR, enabled=False, comment="paused")
    assert _summary(sender) == "rule 1: switched off; comment added"

    tables.move_rule(_rule(sender, 2), 1, actor=EDITOR)
    assert _summary(sender) == "moved rule 2 to 1"
    tables.delete_rule(_rule(sender, 2), actor=EDITOR)
    assert _summary(sender) == "removed rule 2: * joe:********@relay.example $size>10 $end"
    assert not sender.revisions.filter(summary__contains="s3cret").exists()
    assert not sender.revisions.filter(summary__contains="other@").exists()


def test_whole_table_writes_are_summarised(sender: MailSender) -> None:
    document = "".join(f"d{n}.example relay.example\n" for n in range(120))
    importer = tables.Actor(source=Revision.Source.IMPORT)
    tables.replace_table(sender, parse_document(document), actor=importer)
    assert _summary(sender) == "imported 120 rules"
    bulk = tables.Actor(source=Revision.Source.BULK)
    edited = document.replace("d5.example relay.example\n", "") + "new.example relay.example\n"
    tables.replace_table(sender, parse_document(edited), actor=bulk)
    assert _summary(sender) == "1 rule added, 1 removed"


def test_the_history_shows_the_summary_when_no_message_was_typed(
    viewer_client: Client, sender: MailSender
) -> None:
    tables.add_rule(sender, "a.example smtp.example.net:25", actor=EDITOR)
    typed = tables.Actor(source=Revision.Source.EDITOR, message="ISP changed its port")
    tables.update_rule(_rule(sender, 1), actor=typed, text="a.example smtp.example.net:587")
    html = viewer_client.get(reverse("senders:history", args=[sender.slug])).content.decode()
    assert '<td><span class="muted">added rule 1: a.example smtp.example.net</span></td>' in html
    assert "<td>ISP changed its port</td>" in html
    page = viewer_client.get(reverse("senders:revision", args=[sender.slug, 2])).content.decode()
    assert "What changed: rule 1: port 25 → 587" in page
