"""One rule at a time: add, edit in place, delete, enable/disable."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from senders.models import MailSender, OverrideRule, Revision
from senders.tables import Actor, add_rule

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
SECRET = "let:me@in"
STORED = f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end"
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    add_rule(sender, "example.com smtp.myisp.com", actor=ACTOR)
    add_rule(sender, STORED, actor=ACTOR, comment="Joe's relay")
    add_rule(sender, "*.demon.co.uk smtp.demon.net", actor=ACTOR)
    sender.refresh_from_db()
    return sender


def texts(sender: MailSender) -> list[str]:
    return list(sender.rules.order_by("position").values_list("text", flat=True))


def rule_at(sender: MailSender, position: int) -> OverrideRule:
    return sender.rules.get(position=position)


def url(name: str, sender: MailSender, rule: OverrideRule | None = None) -> str:
    args = [sender.slug] if rule is None else [sender.slug, rule.pk]
    return reverse(f"senders:{name}", args=args)


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def add(
    client: Client,
    sender: MailSender,
    text: str,
    headers: dict[str, str] | None = None,
    **data: Any,
) -> Any:
    data = {"text": text, "revision": sender.revision, "enabled": "on", **data}
    return client.post(url("rule_add", sender), data, **(headers or {}))


# ------------------------------------------------------------------ add


def test_it_adds_a_rule_at_the_end_in_canonical_form(
    editor_client: Client, table: MailSender
) -> None:
    response = add(
        editor_client, table, "EXAMPLE.org   relay.myisp.com:587  $SIZE>10", comment="Big"
    )
    assert response.status_code == 302
    assert response["Location"] == f"/senders/main/?page=1#rule-{rule_at(table, 4).pk}"
    assert messages_of(response) == ["Rule added at position 4."]
    rule = rule_at(table, 4)
    assert (rule.text, rule.comment, rule.enabled) == (
        "example.org relay.myisp.com:587 $size>10",
        "Big",
        True,
    )
    assert rule.updated_by is not None and rule.updated_by.username == "eddie"
    revision = table.revisions.get(number=table.revision + 1)
    assert revision.source == Revision.Source.EDITOR


def test_it_inserts_at_a_position_and_moves_the_others_down(
    editor_client: Client, table: MailSender
) -> None:
    add(editor_client, table, "first.example smtp.first.example", position="1")
    assert texts(table)[0] == "first.example smtp.first.example"
    assert list(table.rules.order_by("position").values_list("position", flat=True)) == [1, 2, 3, 4]


def test_it_adds_a_disabled_rule(editor_client: Client, table: MailSender) -> None:
    add(editor_client, table, "off.example smtp.off.example", enabled="")
    assert rule_at(table, 4).enabled is False


def test_an_invalid_rule_is_not_saved_and_the_typed_text_stays(
    editor_client: Client, table: MailSender
) -> None:
    typed = "example.com smtp.myisp.com:587 $sizee>10000000"
    response = add(editor_client, table, typed)
    assert response.status_code == 400
    html = response.content.decode()
    assert "col 32: unknown attribute &quot;$sizee&quot; (did you mean $size?)" in html
    assert 'value="example.com smtp.myisp.com:587 $sizee&gt;10000000"' in html
    assert 'aria-invalid="true"' in html
    assert f"{' ' * 31}^</pre>" in html
    assert table.rules.count() == 3
    assert MailSender.objects.get(pk=table.pk).revision == table.revision


def test_an_empty_rule_is_refused_with_an_example(editor_client: Client, table: MailSender) -> None:
    response = add(editor_client, table, "   ")
    assert response.status_code == 400
    assert b"Type a rule, e.g. example.com smtp.example.net:587" in response.content


def test_a_comment_must_be_one_line(editor_client: Client, table: MailSender) -> None:
    response = add(editor_client, table, "a.example b.example", comment="one\nsmtp.evil $end")
    assert response.status_code == 400
    assert b"A comment is one line of text." in response.content
    assert table.rules.count() == 3


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("position", "0", "Ensure this value is greater than or equal to 1."),
        ("position", "x", "Enter a whole number."),
        ("position", "9" * 5000, "Enter a whole number."),
        ("comment", "c" * 501, "Ensure this value has at most 500 characters (it has 501)."),
    ],
)
def test_it_explains_bad_fields(
    editor_client: Client, table: MailSender, field: str, value: str, message: str
) -> None:
    response = add(editor_client, table, "a.example b.example", **{field: value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert table.rules.count() == 3


def test_a_masked_password_with_nothing_stored_is_refused(
    editor_client: Client, table: MailSender
) -> None:
    response = add(editor_client, table, "x.example  ann:********@smtp.other.example")
    assert response.status_code == 400
    message = (
        "col 16: type the password for ann at smtp.other.example:25: "
        "******** only keeps a password that is already stored"
    )
    assert response.content.decode().count(message) == 1
    assert table.rules.count() == 3


def test_adding_with_htmx_swaps_the_table_region(editor_client: Client, table: MailSender) -> None:
    response = add(editor_client, table, "new.example smtp.new.example", headers=HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="rules"')
    assert "<html" not in html
    assert "Rule added at position 4." in html
    assert "<code>new.example smtp.new.example</code>" in html
    assert f'name="revision" value="{table.revision + 1}"' in html
    # A fresh form, out of band: "Add a rule" lives outside the region.
    assert 'class="card" id="add-rule"' in html and 'hx-swap-oob="true"' in html
    assert 'id="add-text" class="code" required\n    value=""' in html
    assert messages_of(response) == []


def test_an_invalid_rule_with_htmx_comes_back_in_its_form(
    editor_client: Client, table: MailSender
) -> None:
    response = add(editor_client, table, "x.example smtp.x $end $end", headers=HX)
    assert response.status_code == 400
    html = response.content.decode()
    assert html.lstrip().startswith('<form method="post" action="/senders/main/rules/add/"')
    assert response["HX-Retarget"] == "#add-rule" and response["HX-Reswap"] == "outerHTML"
    assert "<table" not in html
    assert "col 23: repeated option $end" in html
    assert 'value="x.example smtp.x $end $end"' in html


def test_adding_to_a_stale_table_is_refused_and_keeps_the_text(
    editor_client: Client, table: MailSender
) -> None:
    seen = table.revision
    add_rule(table, "other.example smtp.other.example", actor=ACTOR)  # someone else
    response = add(editor_client, table, "mine.example smtp.mine.example", revision=seen)
    assert response.status_code == 409
    html = response.content.decode()
    assert (
        f"This table was changed by someone else since you opened it (you saw revision {seen}, "
        f"it is now at revision {seen + 1}). Your text is kept below; review the changes and "
        "save again."
    ) in html
    assert 'value="mine.example smtp.mine.example"' in html
    assert f'name="revision" value="{seen + 1}"' in html  # saving again is a choice
    assert "<code>other.example smtp.other.example</code>" in html
    assert "mine.example" not in "".join(texts(table))


def test_a_stale_edit_shows_what_the_other_person_changed(
    editor_client: Client, table: MailSender
) -> None:
    seen = table.revision
    add_rule(table, "other.example smtp.other.example", actor=ACTOR)  # someone else
    response = add(editor_client, table, "mine.example smtp.mine.example", revision=seen)
    html = response.content.decode()
    assert "What changed since you opened the page" in html
    changes = html.split("What changed since you opened the page")[1].split("</details>")[0]
    assert "other.example smtp.other.example" in changes
    assert SECRET not in html


def test_a_post_without_revision_counts_as_stale(editor_client: Client, table: MailSender) -> None:
    response = editor_client.post(url("rule_add", table), {"text": "a.example b.example"})
    assert response.status_code == 409
    assert table.rules.count() == 3


# ------------------------------------------------------------------ edit


def test_edit_without_javascript_is_a_page_with_the_masked_text(
    editor_client: Client, table: MailSender
) -> None:
    rule = rule_at(table, 2)
    response = editor_client.get(url("rule_edit", table, rule))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Edit rule 2 of Main office</h1>" in html
    assert 'value="* joe:********@smtp.corp.example $authsender=joe $end"' in html
    assert 'value="Joe&#x27;s relay"' in html
    form_tag = html.split("<form")[2].split(">")[0]
    assert "hx-post" not in form_tag  # the page's own form posts plainly
    assert SECRET not in html
    # The cursor waits in the rule field, as in the table's inline edit row.
    assert html.count("autofocus") == 1
    rule_field = html.split(f'id="rule-{rule.pk}-text"')[1].split(">")[0]
    assert "autofocus" in rule_field


def test_edit_with_htmx_turns_the_row_into_a_form(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 2)
    response = editor_client.get(url("rule_edit", table, rule), **HX)
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="rule-{rule.pk}" class="editing"')
    assert "<html" not in html
    assert f'hx-post="{url("rule_edit", table, rule)}" hx-swap="none"' in html
    assert SECRET not in html
    assert "autofocus" not in html  # the table page places the focus itself


def test_the_edit_form_keeps_the_revision_the_page_showed(
    editor_client: Client, table: MailSender
) -> None:
    rule = rule_at(table, 2)
    edit = url("rule_edit", table, rule)
    html = editor_client.get(edit, {"revision": "1"}, **HX).content.decode()
    assert 'name="revision" value="1"' in html  # saving it will be refused as stale
    html = editor_client.get(edit, {"revision": "junk"}, **HX).content.decode()
    assert f'name="revision" value="{table.revision}"' in html


def test_saving_the_masked_text_unchanged_keeps_the_password(
    editor_client: Client, table: MailSender
) -> None:
    rule = rule_at(table, 2)
    data = {
        "text": "* joe:********@smtp.corp.example $authsender=joe $end $priority:5",
        "comment": "Joe",
        "enabled": "on",
        "revision": table.revision,
    }
    response = editor_client.post(url("rule_edit", table, rule), data)
    assert response.status_code == 302
    assert messages_of(response) == ["Rule 2 saved."]
    rule.refresh_from_db()
    assert rule.text == f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end $priority:5"
    assert rule.comment == "Joe"


def test_a_new_password_replaces_the_stored_one(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 2)
    data = {"text": "* joe:n3w@smtp.corp.example", "enabled": "on", "revision": table.revision}
    editor_client.post(url("rule_edit", table, rule), data)
    rule.refresh_from_db()
    assert rule.text == "* joe:n3w@smtp.corp.example"


def test_an_invalid_edit_leaves_the_rule_and_keeps_the_typed_text(
    editor_client: Client, table: MailSender
) -> None:
    rule = rule_at(table, 2)
    typed = "* joe:********@smtp.corp.example $authsender~joe"
    data = {"text": typed, "enabled": "on", "revision": table.revision}
    response = editor_client.post(url("rule_edit", table, rule), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "col 45: expected an operator after $authsender "
        "(=, ==, !=, &lt;&gt;, &lt;, &lt;=, &gt;, &gt;=, ~= or ~!), found &quot;~joe&quot;"
    ) in html
    assert 'value="* joe:********@smtp.corp.example $authsender~joe"' in html
    assert SECRET not in html
    rule.refresh_from_db()
    assert rule.text == STORED


def test_an_invalid_edit_with_htmx_replaces_only_its_row(
    editor_client: Client, table: MailSender
) -> None:
    rule = rule_at(table, 1)
    data = {"text": "example.com smtp.myisp.com:0", "enabled": "on", "revision": table.revision}
    response = editor_client.post(url("rule_edit", table, rule), data, **HX)
    assert response.status_code == 400
    assert response["HX-Retarget"] == f"#rule-{rule.pk}"
    assert response["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="rule-{rule.pk}" class="editing"')
    assert "col 28: port 0 is out of range 1-65535" in html


def test_a_good_edit_with_htmx_sends_back_its_row(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 1)
    data = {"text": "example.com smtp.myisp.com:2525", "enabled": "on", "revision": table.revision}
    response = editor_client.post(url("rule_edit", table, rule), data, **HX)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<section id="rules"' not in html and html.count("<tr ") == 1
    assert f'<tr id="rule-{rule.pk}" class="rule" data-position="1"' in html
    assert "Rule 1 saved." in html
    assert "<code>example.com smtp.myisp.com:2525</code>" in html


def test_a_stale_edit_is_refused_keeps_the_text_and_shows_the_current_rule(
    editor_client: Client, table: MailSender
) -> None:
    seen = table.revision
    rule = rule_at(table, 1)
    OverrideRule.objects.filter(pk=rule.pk).update(text="example.com theirs.example")
    add_rule(table, "z.example smtp.z.example", actor=ACTOR)
    data = {"text": "example.com mine.example", "enabled": "on", "revision": seen}
    response = editor_client.post(url("rule_edit", table, rule), data)
    assert response.status_code == 409
    html = response.content.decode()
    assert f"(you saw revision {seen}, it is now at revision {seen + 1})" in html
    assert 'value="example.com mine.example"' in html
    assert "Stored now: <code>example.com theirs.example</code>" in html
    assert f'name="revision" value="{seen + 1}"' in html
    rule.refresh_from_db()
    assert rule.text == "example.com theirs.example"


def test_a_stale_edit_with_htmx_rerenders_the_table_with_the_form_open(
    editor_client: Client, table: MailSender
) -> None:
    seen = table.revision
    rule = rule_at(table, 3)
    add_rule(table, "top.example smtp.top.example", actor=ACTOR, position=1)
    data = {"text": "*.demon.co.uk mine.example", "enabled": "on", "revision": seen}
    response = editor_client.post(url("rule_edit", table, rule), data, **HX)
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#rules" and response["HX-Reswap"] == "outerHTML"
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="rules"')
    assert "This table was changed by someone else since you opened it" in html
    assert "<code>top.example smtp.top.example</code>" in html
    assert f'<tr id="rule-{rule.pk}" class="editing" data-position="4">' in html
    assert 'value="*.demon.co.uk mine.example"' in html


def test_editing_a_deleted_rule_says_so(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 3)
    OverrideRule.objects.filter(pk=rule.pk).delete()
    response = editor_client.get(url("rule_edit", table, rule))
    assert response.status_code == 302
    assert messages_of(response) == [
        "That rule no longer exists: someone may have deleted it. Here is the current table."
    ]
    response = editor_client.post(url("rule_edit", table, rule), {"text": "a b"}, **HX)
    assert response.status_code == 409
    assert b"That rule no longer exists" in response.content


def test_a_rule_of_another_sender_is_not_found_here(
    editor_client: Client, table: MailSender
) -> None:
    other = MailSender.objects.create(name="Other", slug="other")
    add_rule(other, "o.example smtp.o.example", actor=ACTOR)
    foreign = other.rules.get()
    data = {"text": "a.example b.example", "revision": table.revision}
    editor_client.post(reverse("senders:rule_edit", args=[table.slug, foreign.pk]), data)
    foreign.refresh_from_db()
    assert foreign.text == "o.example smtp.o.example"


def test_huge_ids_are_not_found(editor_client: Client, table: MailSender) -> None:
    response = editor_client.get(f"/senders/main/rules/{'9' * 30}/edit/")
    assert response.status_code == 302


# ------------------------------------------------------------------ delete


def test_delete_without_javascript_asks_first(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 2)
    response = editor_client.get(url("rule_delete", table, rule))
    html = response.content.decode()
    assert "<h1>Delete rule 2 of Main office?</h1>" in html
    assert "<code>* joe:********@smtp.corp.example $authsender=joe $end</code>" in html
    assert SECRET not in html
    assert table.rules.count() == 3


def test_delete_with_htmx_asks_in_the_row(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 2)
    html = editor_client.get(url("rule_delete", table, rule), **HX).content.decode()
    assert html.lstrip().startswith(f'<tr id="rule-{rule.pk}" class="confirm-delete"')
    assert '<button type="submit" class="danger" data-renumber>Delete rule 2</button>' in html


def test_deleting_closes_the_gap(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 2)
    response = editor_client.post(url("rule_delete", table, rule), {"revision": table.revision})
    assert response.status_code == 302
    assert messages_of(response) == ["Rule 2 deleted."]
    assert texts(table) == ["example.com smtp.myisp.com", "*.demon.co.uk smtp.demon.net"]
    assert list(table.rules.values_list("position", flat=True)) == [1, 2]


def test_deleting_with_htmx_removes_only_its_row(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 3)
    response = editor_client.post(
        url("rule_delete", table, rule), {"revision": table.revision}, **HX
    )
    html = response.content.decode()
    assert '<section id="rules"' not in html
    assert "Rule 3 deleted." in html
    assert f'<tr id="rule-{rule.pk}" hx-swap-oob="delete"></tr>' in html
    assert html.count("<tr ") == 1


def test_a_stale_delete_is_refused(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 3)
    response = editor_client.post(url("rule_delete", table, rule), {"revision": table.revision - 1})
    assert response.status_code == 409
    assert (
        f"This table was changed by someone else since you opened it (you saw revision "
        f"{table.revision - 1}, it is now at revision {table.revision}). Nothing was changed: "
        "here is the current table; try again."
    ) in response.content.decode()
    assert table.rules.count() == 3


# ------------------------------------------------------------------ enable / disable


def test_disabling_keeps_the_rule(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 1)
    response = editor_client.post(
        url("rule_toggle", table, rule), {"enabled": "0", "revision": table.revision}
    )
    assert messages_of(response) == ["Rule 1 disabled: it is kept but not used."]
    rule.refresh_from_db()
    assert rule.enabled is False and rule.text == "example.com smtp.myisp.com"


def test_enabling_with_htmx_sends_back_its_row(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 1)
    OverrideRule.objects.filter(pk=rule.pk).update(enabled=False)
    response = editor_client.post(
        url("rule_toggle", table, rule), {"enabled": "1", "revision": table.revision}, **HX
    )
    html = response.content.decode()
    assert '<section id="rules"' not in html and html.count("<tr ") == 1
    assert 'aria-label="Disable rule 1">Disable</button>' in html
    assert "Rule 1 enabled." in html
    rule.refresh_from_db()
    assert rule.enabled is True


@pytest.mark.parametrize("junk", [{}, {"enabled": "yes"}, {"enabled": ["0", "1", "x"]}])
def test_a_junk_toggle_is_refused(editor_client: Client, table: MailSender, junk: Any) -> None:
    rule = rule_at(table, 1)
    response = editor_client.post(
        url("rule_toggle", table, rule), {"revision": table.revision, **junk}
    )
    assert response.status_code == 400
    assert b"Choose whether the rule is enabled." in response.content
    rule.refresh_from_db()
    assert rule.enabled is True


# ------------------------------------------------------------------ permissions, CSRF


def _posts(sender: MailSender, rule: OverrideRule) -> list[tuple[str, dict[str, Any]]]:
    revision = sender.revision
    return [
        (url("rule_add", sender), {"text": "a.example b.example", "revision": revision}),
        (url("rule_edit", sender, rule), {"text": "a.example b.example", "revision": revision}),
        (url("rule_delete", sender, rule), {"revision": revision}),
        (url("rule_toggle", sender, rule), {"enabled": "0", "revision": revision}),
        (url("rule_move", sender, rule), {"to": "down", "revision": revision}),
    ]


def test_anonymous_changes_go_to_the_login_page(client: Client, table: MailSender) -> None:
    for target, data in _posts(table, rule_at(table, 1)):
        response = client.post(target, data)
        assert response.status_code == 302, target
        assert response["Location"].startswith(reverse("login"))
    assert texts(table)[0] == "example.com smtp.myisp.com"


def test_viewers_cannot_change_rules(viewer_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 1)
    for target, data in _posts(table, rule):
        assert viewer_client.post(target, data).status_code == 403, target
    for name in ("rule_edit", "rule_delete"):
        assert viewer_client.get(url(name, table, rule)).status_code == 403
    assert MailSender.objects.get(pk=table.pk).revision == table.revision


def test_users_without_a_role_cannot_change_rules(nobody: Any, table: MailSender) -> None:
    client = Client()
    client.force_login(nobody)
    for target, data in _posts(table, rule_at(table, 1)):
        assert client.post(target, data).status_code == 403, target
    assert client.post(url("rule_validate", table), {"text": "a b"}).status_code == 403


def test_changes_need_post(editor_client: Client, table: MailSender) -> None:
    rule = rule_at(table, 1)
    for name in ("rule_toggle", "rule_move"):
        assert editor_client.get(url(name, table, rule)).status_code == 405
    assert editor_client.get(url("rule_add", table)).status_code == 405


def test_changes_need_the_csrf_token(editor: Any, table: MailSender) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    response = add(client, table, "a.example b.example")
    assert response.status_code == 403
    assert table.rules.count() == 3


def test_the_csrf_token_of_the_page_lets_the_change_through(editor: Any, table: MailSender) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    client.get(reverse("senders:detail", args=[table.slug]))
    token = client.cookies["csrftoken"].value
    response = add(client, table, "a.example b.example", csrfmiddlewaretoken=token)
    assert response.status_code == 302
    assert table.rules.count() == 4


# ------------------------------------------------------------------ never a 500, never a password


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"text": ""},
        {"text": "x" * 100_000, "revision": "1"},
        {"text": "a\nb c", "revision": "junk"},
        {"text": ["a.example b.example", "c d"], "revision": ["1", "2"]},
        {"revision": "99999999999999999999999999"},
        {"text": "\x00\x01\x7f", "comment": "\x00"},
    ],
)
def test_junk_posts_get_an_answer_not_a_crash(
    editor_client: Client, table: MailSender, data: dict[str, Any]
) -> None:
    rule = rule_at(table, 2)
    for target in (
        url("rule_add", table),
        url("rule_edit", table, rule),
        url("rule_delete", table, rule),
        url("rule_toggle", table, rule),
        url("rule_move", table, rule),
        url("rule_validate", table),
    ):
        for headers in ({}, HX):
            response = editor_client.post(target, data, **headers)
            assert response.status_code in (200, 400, 409), (target, response.status_code)
            assert SECRET.encode() not in response.content
    rule.refresh_from_db()
    assert rule.text == STORED


def test_no_response_of_a_whole_session_holds_the_password(
    editor_client: Client, table: MailSender
) -> None:
    rule = rule_at(table, 2)
    responses = [
        editor_client.get(url("rule_edit", table, rule)),
        editor_client.get(url("rule_edit", table, rule), **HX),
        editor_client.get(url("rule_delete", table, rule)),
        editor_client.get(url("rule_delete", table, rule), **HX),
        editor_client.post(
            url("rule_toggle", table, rule), {"enabled": "0", "revision": table.revision}, **HX
        ),
        editor_client.post(
            url("rule_validate", table), {"text": "* joe:********@smtp.corp.example"}
        ),
        editor_client.get(reverse("senders:detail", args=[table.slug]), follow=True),
    ]
    for response in responses:
        assert response.status_code == 200
        assert SECRET.encode() not in response.content
