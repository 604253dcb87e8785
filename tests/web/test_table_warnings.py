"""Warnings on the table page: grouped by kind with counts, collapsible, not drowning the table."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from senders.models import MailSender
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
