"""A sender's table page: rules in order, masked text and breakdown, live validation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from senders.models import MailSender, OverrideRule, Revision
from senders.tables import Actor, add_rule, replace_table
from senders.tabletext import Entry

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
SECRET = "let:me@in"


def detail(sender: MailSender, **query: Any) -> str:
    url = reverse("senders:detail", args=[sender.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def validate_url(sender: MailSender) -> str:
    return reverse("senders:rule_validate", args=[sender.slug])


def fill(sender: MailSender, count: int) -> None:
    entries = [Entry(f"host{n}.example smtp{n}.example.net:587 $size>{n}") for n in range(count)]
    replace_table(sender, entries, actor=ACTOR)


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    add_rule(sender, "example.com smtp.myisp.com", actor=ACTOR, comment="Parent company")
    add_rule(sender, f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end", actor=ACTOR)
    add_rule(
        sender,
        "* backup.example.net $retries>=3 $priority:20 $adddns",
        actor=ACTOR,
        enabled=False,
    )
    sender.refresh_from_db()
    return sender


# ------------------------------------------------------------------ access


def test_it_sends_anonymous_visitors_to_the_login_page(client: Client, table: MailSender) -> None:
    response = client.get(detail(table))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_refuses_users_without_a_role(nobody: Any, table: MailSender) -> None:
    client = Client()
    client.force_login(nobody)
    assert client.get(detail(table)).status_code == 403


def test_it_answers_404_for_an_unknown_sender(viewer_client: Client, db: None) -> None:
    assert viewer_client.get("/senders/nope/").status_code == 404


# ------------------------------------------------------------------ what it shows


def test_it_shows_the_rules_in_order_as_masked_text(
    viewer_client: Client, table: MailSender
) -> None:
    response = viewer_client.get(detail(table))
    assert response.status_code == 200
    html = response.content.decode()
    first = html.index("<code>example.com smtp.myisp.com</code>")
    second = html.index("<code>* joe:********@smtp.corp.example $authsender=joe $end</code>")
    third = html.index("<code>* backup.example.net $retries&gt;=3 $priority:20 $adddns</code>")
    assert first < second < third
    assert "Parent company" in html


def test_it_never_renders_a_relay_password(
    editor_client: Client, admin_client_role: Client, table: MailSender
) -> None:
    for client in (editor_client, admin_client_role):
        for query in ({}, {"page": "1"}):
            response = client.get(detail(table, **query))
            assert SECRET.encode() not in response.content
            assert b"let:me" not in response.content
        response = client.get(detail(table), HTTP_HX_REQUEST="true")
        assert SECRET.encode() not in response.content


def test_it_breaks_each_rule_down(viewer_client: Client, table: MailSender) -> None:
    html = viewer_client.get(detail(table)).content.decode()
    assert "<dt>Server</dt><dd><code>smtp.corp.example</code> port 25</dd>" in html
    assert "<dt>User</dt><dd><code>joe</code>, password set</dd>" in html
    assert "<dt>Conditions</dt><dd>auth sender = joe</dd>" in html
    assert "priority 10 (default); $end: later lines are not checked" in html
    assert "<dt>Conditions</dt><dd>retries ≥ 3</dd>" in html
    assert "priority 20; $adddns: real MX hosts too" in html
    assert "none: every message to the domain" in html


def test_it_marks_disabled_rules(viewer_client: Client, table: MailSender) -> None:
    html = viewer_client.get(detail(table)).content.decode()
    row = re.search(r'<tr id="rule-\d+" class="rule disabled" data-position="3"', html)
    assert row is not None
    assert '<span class="badge">disabled</span>' in html


def test_viewers_see_no_controls_that_change_the_table(
    viewer_client: Client, table: MailSender
) -> None:
    html = viewer_client.get(detail(table)).content.decode()
    assert "Add a rule" not in html
    assert "rule_move" not in html and "/move/" not in html
    assert "/toggle/" not in html
    assert reverse("senders:test", args=[table.slug]) in html
    assert reverse("senders:history", args=[table.slug]) in html


def test_editors_get_every_action_and_the_tools(editor_client: Client, table: MailSender) -> None:
    html = editor_client.get(detail(table)).content.decode()
    rule = table.rules.get(position=2)
    for name in ("rule_edit", "rule_delete", "rule_move", "rule_toggle"):
        assert reverse(f"senders:{name}", args=[table.slug, rule.pk]) in html
    for name in ("bulk", "import", "history", "test"):
        assert reverse(f"senders:{name}", args=[table.slug]) in html
    assert 'aria-label="Move rule 2 up">Up</button>' in html
    assert '<label for="add-text">Rule</label>' in html
    # Only admins manage the sender itself and its export token.
    assert reverse("senders:edit", args=[table.slug]) not in html
    assert reverse("senders:token", args=[table.slug]) not in html


def test_admins_also_get_sender_and_token_links(
    admin_client_role: Client, table: MailSender
) -> None:
    html = admin_client_role.get(detail(table)).content.decode()
    for name in ("edit", "delete", "token"):
        assert reverse(f"senders:{name}", args=[table.slug]) in html


def test_each_rule_has_one_form_and_every_form_carries_the_revision_and_a_csrf_token(
    editor_client: Client, table: MailSender
) -> None:
    html = editor_client.get(detail(table)).content.decode()
    forms = re.findall(r'<form method="post".*?</form>', html, re.S)
    table_forms = [
        form
        for form in forms
        if "/senders/main/" in form and 'action="/senders/main/relays/"' not in form
    ]
    # One per rule (its buttons name their URL with formaction: Chrome and htmx pay per form),
    # and "Add a rule". ("Check all relays" in the toolbar changes no rule.)
    assert len(table_forms) == 3 + 1
    for form in table_forms:
        assert f'name="revision" value="{table.revision}"' in form
        assert 'name="csrfmiddlewaretoken"' in form


def test_it_says_so_when_there_are_no_rules(viewer_client: Client, sender: MailSender) -> None:
    html = viewer_client.get(detail(sender)).content.decode()
    assert "No rules yet: mail to every domain goes to the domain's real MX hosts." in html


def test_htmx_gets_only_the_rules_region(viewer_client: Client, table: MailSender) -> None:
    response = viewer_client.get(detail(table), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="rules"')
    assert "<html" not in html and "<h1>" not in html
    assert "example.com smtp.myisp.com" in html
    assert "HX-Request" in response["Vary"]


def test_a_history_restore_gets_the_whole_page(viewer_client: Client, table: MailSender) -> None:
    response = viewer_client.get(
        detail(table), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert b"<html" in response.content


# ------------------------------------------------------------------ big tables


def test_it_pages_big_tables_and_keeps_numbering(viewer_client: Client, sender: MailSender) -> None:
    fill(sender, 450)
    html = viewer_client.get(detail(sender, page=2)).content.decode()
    assert "Rules 201\N{EN DASH}400 of 450" in html
    assert 'data-position="201"' in html and 'data-position="400"' in html
    assert 'data-position="200"' not in html and 'data-position="401"' not in html
    assert "Page 2 of 3" in html


@pytest.mark.parametrize("page", ["junk", "0", "-1", "999999999999999999999", ""])
def test_it_survives_any_page_number(viewer_client: Client, sender: MailSender, page: str) -> None:
    fill(sender, 3)
    assert viewer_client.get(detail(sender), {"page": page}).status_code == 200


def test_a_rule_that_no_longer_parses_is_shown_without_its_text(
    viewer_client: Client, sender: MailSender
) -> None:
    OverrideRule.objects.create(sender=sender, position=1, text="bad joe:pw@ $nope")
    response = viewer_client.get(detail(sender))
    assert response.status_code == 200
    assert b"This stored rule no longer parses" in response.content
    assert b"joe:pw" not in response.content


@pytest.mark.parametrize("client_name", ["viewer_client", "editor_client"])
def test_the_query_count_does_not_grow_with_the_table(
    request: pytest.FixtureRequest,
    client_name: str,
    sender: MailSender,
    django_assert_max_num_queries: Any,
) -> None:
    client: Client = request.getfixturevalue(client_name)
    fill(sender, 10)
    with django_assert_max_num_queries(12) as small:
        client.get(detail(sender))
    fill(sender, 100)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(detail(sender))
    assert response.content.count(b'class="rule"') == 100


def test_ten_thousand_rules_render_one_page(viewer_client: Client, sender: MailSender) -> None:
    fill(sender, 10_000)
    response = viewer_client.get(detail(sender, page=50))
    assert response.status_code == 200
    assert response.content.count(b'class="rule"') == 200
    assert b"Rules 9801\xe2\x80\x9310000 of 10000" in response.content


# ------------------------------------------------------------------ live validation


def test_live_validation_points_at_the_column_of_the_error(
    viewer_client: Client, sender: MailSender
) -> None:
    text = "example.com smtp.myisp.com:587 $sizee>10"
    response = viewer_client.post(validate_url(sender), {"text": text})
    assert response.status_code == 200
    html = response.content.decode()
    assert "col 32: unknown attribute &quot;$sizee&quot; (did you mean $size?)" in html
    assert (
        f'<pre class="caret" aria-hidden="true">{text.replace(">", "&gt;")}\n{" " * 31}^</pre>'
        in html
    )


def test_live_validation_shows_the_canonical_form_and_breakdown(
    viewer_client: Client, sender: MailSender
) -> None:
    text = "EXAMPLE.com   joe:pw1@SMTP.myisp.com:587  $Size>10000000 $END"
    html = viewer_client.post(validate_url(sender), {"text": text}).content.decode()
    assert '<span class="badge ok">Valid</span>' in html
    assert "<code>example.com joe:********@smtp.myisp.com:587 $size&gt;10000000 $end</code>" in html
    assert "<dt>User</dt><dd><code>joe</code>, password set</dd>" in html
    assert "pw1" not in html


def test_live_validation_escapes_what_was_typed(viewer_client: Client, sender: MailSender) -> None:
    html = viewer_client.post(
        validate_url(sender), {"text": "<script>alert(1)</script> x"}
    ).content.decode()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_live_validation_of_nothing_says_nothing(viewer_client: Client, sender: MailSender) -> None:
    response = viewer_client.post(validate_url(sender), {})
    assert response.status_code == 200
    assert response.content.strip() == b""


def test_live_validation_of_a_huge_line_shows_only_the_part_around_the_error(
    viewer_client: Client, sender: MailSender
) -> None:
    response = viewer_client.post(validate_url(sender), {"text": "a" * 100_000})
    assert response.status_code == 200
    assert b"line is longer than 4096 characters (it has 100000)" in response.content
    assert len(response.content) < 2000


def test_live_validation_marks_control_characters(
    viewer_client: Client, sender: MailSender
) -> None:
    html = viewer_client.post(validate_url(sender), {"text": "exa\x00mple.com h"}).content.decode()
    assert "col 4: control character U+0000 is not allowed" in html
    assert "exa\N{REPLACEMENT CHARACTER}mple.com h\n   ^" in html


def test_live_validation_is_post_only(viewer_client: Client, sender: MailSender) -> None:
    assert viewer_client.get(validate_url(sender), {"text": "a b"}).status_code == 405


def test_each_action_shows_only_with_its_own_permission(
    django_user_model: Any, table: MailSender
) -> None:
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user(username="mover", password="x")
    perms = Permission.objects.filter(
        codename__in=["view_overriderule", "change_overriderule"], content_type__app_label="senders"
    )
    user.user_permissions.set(perms)
    client = Client()
    client.force_login(user)
    html = client.get(detail(table)).content.decode()
    assert "/move/" in html and "/toggle/" in html and "/edit/" in html
    assert "/delete/" not in html
    assert "Add a rule" not in html
