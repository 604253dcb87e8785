"""Warnings on the table page: grouped by kind with counts, collapsible, not drowning the table."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import reverse

from senders.models import MailSender, WarningAcknowledgement
from senders.tables import Actor, replace_table
from senders.tabletext import Entry

ACTOR = Actor()


def _catch_alls(sender: MailSender, count: int) -> MailSender:
    """`count` manual catch-all rules, each a relay-loop warning once example.com is local."""
    entries = [Entry(f"* relay{n}.example.net $authsender=u{n}") for n in range(1, count + 1)]
    entries.append(Entry("d.example h.example"))
    entries.append(Entry("d.example h.example"))  # a duplicate: one warning of another kind
    sender.local_domains = "example.com"
    sender.save()
    replace_table(sender, entries, actor=ACTOR)
    sender.refresh_from_db()
    return sender


def test_warnings_are_grouped_by_kind_with_counts_and_collapsed(
    viewer_client: Client, sender: MailSender
) -> None:
    _catch_alls(sender, 30)
    html = viewer_client.get(reverse("senders:detail", args=[sender.slug])).content.decode()
    summary = html[html.index('<div id="lint-summary">') :]
    summary = summary[: summary.index("</section>")]
    assert '<h2 id="lint-title">31 warnings</h2>' in summary
    group = r'<summary><span class="badge warn">(\d+)</span> ([^<]+)</summary>'
    groups = re.findall(group, summary)
    assert groups == [("30", "Possible relay loops"), ("1", "Duplicate rules")]
    # Collapsed (<details> without `open`: works without JavaScript), and each kind lists at
    # most 20: the rest are beside their own rules.
    assert summary.count('<details class="lint-group">') == 2 and " open" not in summary
    assert summary.count("<li>") == 20 + 1
    assert "and 10 more: each rule shows its own." in summary


def test_the_local_domains_help_says_it_drives_the_relay_loop_warning(
    admin_client: Client, sender: MailSender
) -> None:
    html = admin_client.get(reverse("senders:edit", args=[sender.slug])).content.decode()
    assert (
        "This sender&#x27;s own domains, one per line. They drive the relay-loop warning: a "
        "catch-all rule (such as *) that also covers one of them is flagged, as mail to your "
        "own domain would go to that relay, which may send it straight back."
    ) in html


def test_the_reorder_help_shows_only_when_there_are_rules(
    editor_client: Client, sender: MailSender
) -> None:
    url = reverse("senders:detail", args=[sender.slug])
    assert 'id="reorder-help"' not in editor_client.get(url).content.decode()
    replace_table(sender, [Entry("d.example h.example")], actor=ACTOR)
    assert 'id="reorder-help"' in editor_client.get(url).content.decode()


def test_live_checks_answer_soon_after_the_last_keystroke_and_the_newest_wins(
    editor_client: Client, sender: MailSender
) -> None:
    html = editor_client.get(reverse("senders:detail", args=[sender.slug])).content.decode()
    field = re.search(r'<input type="text" name="text" id="add-text".*?>', html, re.S)
    assert field is not None
    assert 'hx-trigger="input changed delay:100ms"' in field.group()
    assert 'hx-sync="this:replace"' in field.group()  # a newer keystroke cancels the older ask


def _acknowledge(
    client: Client, sender: MailSender, position: int, code: str, **headers: str
) -> Any:
    rule = sender.rules.get(position=position)
    url = reverse("senders:rule_acknowledge", args=[sender.slug, rule.pk])
    return client.post(url, {"code": code, "revision": sender.revision}, **headers)


def test_an_editor_marks_a_warning_as_intended_and_history_says_who(
    editor_client: Client, editor: Any, sender: MailSender
) -> None:
    _catch_alls(sender, 3)
    response = _acknowledge(editor_client, sender, 2, "relay-loop")
    assert response.status_code == 302
    revision = sender.revisions.get(number=sender.revision + 1)
    assert revision.message == "rule 2: the relay-loop warning acknowledged as intended"
    assert revision.author == editor

    html = editor_client.get(reverse("senders:detail", args=[sender.slug])).content.decode()
    assert "Rule 2: the warning is marked as intended." in html
    summary = html[html.index('<div id="lint-summary">') :]
    summary = summary[: summary.index("</section>")]
    assert '<h2 id="lint-title">3 warnings</h2>' in summary  # 2 relay loops and the duplicate
    group = r'<summary><span class="badge warn">(\d+)</span> ([^<]+)</summary>'
    assert re.findall(group, summary) == [
        ("2", "Possible relay loops"),
        ("1", "Duplicate rules"),
        ("1", "Acknowledged as intended"),
    ]
    row = html[html.index(f'id="warnings-{sender.rules.get(position=2).pk}"') :]
    assert re.search(
        r'<span class="badge">intended</span>[^<]*<span class="muted">'
        r"— acknowledged by eddie on \d{4}-\d\d-\d\d \d\d:\d\d</span>",
        row,
    )


def test_with_htmx_marking_as_intended_sends_back_the_rule_and_the_summary(
    editor_client: Client, sender: MailSender
) -> None:
    _catch_alls(sender, 3)
    html = _acknowledge(editor_client, sender, 1, "relay-loop", HTTP_HX_REQUEST="true")
    html = html.content.decode()
    assert html.count("<tr ") == 1 and '<div id="lint-summary" hx-swap-oob="true">' in html
    assert '<h2 id="lint-title">3 warnings</h2>' in html


def test_editing_the_rule_brings_the_warning_back(
    editor_client: Client, sender: MailSender
) -> None:
    _catch_alls(sender, 3)
    _acknowledge(editor_client, sender, 1, "relay-loop")
    rule = sender.rules.get(position=1)
    rule.text = "* other.example.net"
    rule.save()
    html = editor_client.get(reverse("senders:detail", args=[sender.slug])).content.decode()
    assert '<h2 id="lint-title">4 warnings</h2>' in html


def test_only_a_warning_the_rule_has_can_be_marked(
    editor_client: Client, sender: MailSender
) -> None:
    _catch_alls(sender, 3)
    response = _acknowledge(editor_client, sender, 1, "duplicate")
    assert response.status_code == 400
    assert "Rule 1 has no such warning to mark as intended." in response.content.decode()
    assert not WarningAcknowledgement.objects.exists()


def test_a_viewer_cannot_mark_a_warning(viewer_client: Client, sender: MailSender) -> None:
    _catch_alls(sender, 3)
    assert _acknowledge(viewer_client, sender, 1, "relay-loop").status_code == 403
    assert not WarningAcknowledgement.objects.exists()


def test_a_rule_with_warnings_still_has_one_form(editor_client: Client, sender: MailSender) -> None:
    _catch_alls(sender, 3)
    html = editor_client.get(reverse("senders:detail", args=[sender.slug])).content.decode()
    forms = html.count('<form method="post" action="/senders/main/')
    relays = html.count('<form method="post" action="/senders/main/relays/"')  # changes no rule
    assert forms - relays == 5 + 1  # rules, add
    rule = sender.rules.get(position=1)
    assert (
        f'<button type="submit" form="actions-{rule.pk}" '
        f'formaction="/senders/main/rules/{rule.pk}/acknowledge/" formnovalidate name="code" '
        'value="relay-loop"'
    ) in html


def test_a_bulk_save_keeps_the_marks_of_the_rules_it_leaves_alone(
    editor_client: Client, editor: Any, sender: MailSender
) -> None:
    _catch_alls(sender, 3)
    _acknowledge(editor_client, sender, 1, "relay-loop")
    _acknowledge(editor_client, sender, 2, "relay-loop")
    sender.refresh_from_db()
    given = WarningAcknowledgement.objects.get(rule__position=1).created_at
    # The bulk editor: rule 2 edited, a rule added on top; rule 1 moves to 2 unchanged.
    text = (
        "new.example smtp.new.example\n"
        "* relay1.example.net $authsender=u1\n"
        "* relay2.example.net $authsender=u2 $end\n"
        "* relay3.example.net $authsender=u3\n"
        "d.example h.example\n"
        "d.example h.example\n"
    )
    url = reverse("senders:bulk", args=[sender.slug])
    data = {"text": text, "action": "save", "revision": sender.revision}
    response = editor_client.post(url, data)
    assert response.status_code == 302
    [kept] = WarningAcknowledgement.objects.all()
    assert (kept.rule.position, kept.code, kept.user) == (2, "relay-loop", editor)
    assert kept.created_at == given  # who and when, as given
    html = editor_client.get(reverse("senders:detail", args=[sender.slug])).content.decode()
    # Rules 3 and 4 warn (rule 3 was edited: its mark went with its old text); 2 stays quiet.
    assert '<h2 id="lint-title">3 warnings</h2>' in html
    row = html[html.index(f'id="warnings-{kept.rule.pk}"') :]
    assert '<span class="badge">intended</span>' in row.split("</tr>")[0]
