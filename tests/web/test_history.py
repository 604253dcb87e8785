"""History: the revision list, one revision, readable diffs, rollback, stale conflicts."""

from __future__ import annotations

import io
import threading
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client

from senders.history import (
    ADD,
    CHANGE,
    DEL,
    GAP,
    MOVE,
    SAME,
    NothingToRollBack,
    conflict_diff,
    diff_documents,
    rollback,
)
from senders.models import MailSender, Revision
from senders.tables import (
    Actor,
    StaleTable,
    add_rule,
    document_of,
    replace_table,
    update_rule,
)
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
SECRET = "s3cr3t-pw"


def kinds(old: str, new: str) -> list[tuple[str, int | None, int | None, str, str]]:
    return [(d.kind, d.old, d.new, d.text, d.note) for d in diff_documents(old, new).lines]


@pytest.fixture
def history(sender: MailSender) -> MailSender:
    """Three revisions: one rule, two rules, the first one with a password changed."""
    add_rule(sender, "a.example relay.example.net", actor=ACTOR)
    add_rule(sender, f"b.example joe:{SECRET}@smtp.example.net", actor=ACTOR)
    sender.refresh_from_db()
    update_rule(
        sender.rules.get(position=1),
        text="a.example relay2.example.net",
        actor=Actor(source=Revision.Source.EDITOR, message="new relay"),
    )
    sender.refresh_from_db()
    return sender


# ---------------------------------------------------------------- the diff itself


def test_diff_shows_added_and_removed_rules() -> None:
    assert kinds("a.org x.net\nb.org y.net\n", "a.org x.net\nc.org z.net\n") == [
        (SAME, 1, 1, "a.org x.net", ""),
        (DEL, 2, None, "b.org y.net", ""),
        (ADD, None, 2, "c.org z.net", ""),
    ]


def test_diff_shows_a_moved_rule_once_where_it_is_now() -> None:
    assert kinds(
        "a.org x.net\nb.org y.net\nc.org z.net\n", "c.org z.net\na.org x.net\nb.org y.net\n"
    ) == [
        (MOVE, 3, 1, "c.org z.net", "moved from 3"),
        (SAME, 1, 2, "a.org x.net", ""),
        (SAME, 2, 3, "b.org y.net", ""),
    ]
    diff = diff_documents("a.org x.net\nb.org y.net\n", "b.org y.net\na.org x.net\n")
    assert diff.summary == "1 rule moved."


def test_diff_names_switched_off_and_recommented_rules() -> None:
    old = "a.org x.net\nb.org y.net\n"
    new = "#disabled: a.org x.net\n# why\nb.org y.net\n"
    assert kinds(old, new) == [
        (CHANGE, 1, 1, "#disabled: a.org x.net", "switched off"),
        (CHANGE, 2, 2, "b.org y.net", "comment added"),
    ]
    assert diff_documents(old, new).summary == "2 rules changed."


def test_diff_masks_passwords_and_says_one_changed() -> None:
    old = "a.org joe:old-secret@smtp.example.net\n"
    new = "a.org joe:new-secret@smtp.example.net\n"
    diff = diff_documents(old, new)
    assert [(d.kind, d.text, d.note) for d in diff.lines] == [
        (CHANGE, "a.org joe:********@smtp.example.net", "password changed")
    ]
    assert "secret" not in diff.as_text()


def test_diff_as_text_is_readable() -> None:
    diff = diff_documents("a.org x.net\n# c\nb.org y.net\n", "a.org x.net\nb.org y.net $end\n")
    assert diff.as_text() == ("  a.org x.net\n- # c\n- b.org y.net\n+ b.org y.net $end\n")
    assert diff.summary == "1 rule added, 1 removed."


def test_diff_of_identical_tables_says_so() -> None:
    diff = diff_documents("a.org x.net\n", "a.org x.net\n")
    assert not diff.has_changes
    assert diff.summary == "No changes."


def test_long_unchanged_runs_are_folded() -> None:
    old = "".join(f"d{i}.org x.net\n" for i in range(20))
    new = old.replace("d10.org x.net", "d10.org y.net")
    lines = diff_documents(old, new, context=2).lines
    assert [(line.kind, line.hidden) for line in lines] == [
        (GAP, 8),
        (SAME, 0),
        (SAME, 0),
        (DEL, 0),
        (ADD, 0),
        (SAME, 0),
        (SAME, 0),
        (GAP, 7),
    ]


# ---------------------------------------------------------------- pages


def test_history_lists_revisions_with_who_when_where_and_why(
    viewer_client: Client, history: MailSender
) -> None:
    Revision.objects.filter(sender=history, number=3).update(remote_addr="192.0.2.9")
    response = viewer_client.get("/senders/main/history/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "rule editor",
        "command",
        "new relay",
        "192.0.2.9",
        'href="/senders/main/history/3/"',
    ):
        assert text in html
    assert "?a=2&amp;b=3" in html
    assert SECRET not in html


def test_history_of_an_untouched_table(viewer_client: Client, sender: MailSender) -> None:
    html = viewer_client.get("/senders/main/history/").content.decode()
    assert "No changes yet" in html


def test_revision_page_shows_the_table_masked_and_its_changes(
    viewer_client: Client, history: MailSender
) -> None:
    response = viewer_client.get("/senders/main/history/2/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "b.example joe:********@smtp.example.net" in html
    assert SECRET not in html
    assert "1 rule added." in html
    assert "Roll back" not in html  # viewers read only


def test_an_unknown_revision_is_404(viewer_client: Client, history: MailSender) -> None:
    assert viewer_client.get("/senders/main/history/99/").status_code == 404


def test_diff_page_compares_any_two_revisions(viewer_client: Client, history: MailSender) -> None:
    response = viewer_client.get("/senders/main/history/diff/?a=1&b=3")
    html = response.content.decode()
    assert response.status_code == 200
    assert "2 rules added, 1 removed." in html
    assert "a.example relay2.example.net" in html
    assert "b.example joe:********@smtp.example.net" in html
    assert SECRET not in html


def test_diff_page_defaults_to_the_latest_change(
    viewer_client: Client, history: MailSender
) -> None:
    html = viewer_client.get("/senders/main/history/diff/").content.decode()
    assert "changes from revision 2 to revision 3" in html


def test_diff_against_revision_zero_is_against_the_empty_table(
    viewer_client: Client, history: MailSender
) -> None:
    html = viewer_client.get("/senders/main/history/diff/?a=0&b=1").content.decode()
    assert "1 rule added." in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("a=x&b=2", "&quot;a&quot; must be a revision number, not &quot;x&quot;."),
        ("a=1&b=-2", "&quot;b&quot; must be a revision number, not &quot;-2&quot;."),
        ("a=1&b=99", "Revision 99 does not exist (this table has revisions 1 to 3)."),
        ("a=1&b=99999999999999999999", "&quot;b&quot; must be a revision number"),
    ],
)
def test_diff_page_explains_bad_revision_numbers(
    viewer_client: Client, history: MailSender, query: str, message: str
) -> None:
    response = viewer_client.get(f"/senders/main/history/diff/?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_diff_page_answers_htmx_with_the_fragment(
    viewer_client: Client, history: MailSender
) -> None:
    response = viewer_client.get(
        "/senders/main/history/diff/?a=1&b=2", headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert "<html" not in html
    assert '<table class="diff">' in html


def test_history_pages_need_a_role(client: Client, nobody: Any, history: MailSender) -> None:
    assert client.get("/senders/main/history/").status_code == 302  # login first
    client.force_login(nobody)
    for url in (
        "/senders/main/history/",
        "/senders/main/history/1/",
        "/senders/main/history/diff/",
    ):
        assert client.get(url).status_code == 403


# ---------------------------------------------------------------- rollback


def test_rollback_makes_a_new_revision_with_the_old_table(
    editor_client: Client, history: MailSender, editor: Any
) -> None:
    before = Revision.objects.get(sender=history, number=2).document
    response = editor_client.post(
        "/senders/main/history/2/rollback/",
        {"revision": "3", "message": "relay2 is down"},
        follow=True,
    )
    assert response.redirect_chain == [("/senders/main/history/", 302)]
    assert "Rolled back to revision 2: the table is now at revision 4." in response.content.decode()
    history.refresh_from_db()
    assert history.revision == 4
    assert document_of(history) == before
    revision = Revision.objects.get(sender=history, number=4)
    assert revision.source == Revision.Source.ROLLBACK
    assert revision.author == editor
    assert revision.message == "Rolled back to revision 2: relay2 is down"
    assert revision.remote_addr == "127.0.0.1"
    assert Revision.objects.filter(sender=history).count() == 4  # nothing rewritten


def test_rollback_keeps_real_passwords(editor_client: Client, history: MailSender) -> None:
    replace_table(history, [], actor=ACTOR)
    editor_client.post("/senders/main/history/3/rollback/", {"revision": "4"})
    assert f"b.example joe:{SECRET}@smtp.example.net" in document_of(history)


def test_a_stale_rollback_is_refused_with_what_changed(
    editor_client: Client, history: MailSender
) -> None:
    add_rule(history, "late.example relay.example.net", actor=ACTOR)
    response = editor_client.post("/senders/main/history/1/rollback/", {"revision": "3"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "you saw revision 3, it is now at revision 4" in html
    assert "late.example relay.example.net" in html
    assert 'name="revision" value="4"' in html  # the form is ready to retry
    history.refresh_from_db()
    assert history.revision == 4


def test_a_rollback_without_the_seen_revision_counts_as_stale(
    editor_client: Client, history: MailSender
) -> None:
    assert editor_client.post("/senders/main/history/1/rollback/", {}).status_code == 409
    history.refresh_from_db()
    assert history.revision == 3


def test_rolling_back_to_the_current_table_changes_nothing(
    editor_client: Client, history: MailSender
) -> None:
    response = editor_client.post(
        "/senders/main/history/3/rollback/", {"revision": "3"}, follow=True
    )
    assert "The table already is as it was at revision 3." in response.content.decode()
    history.refresh_from_db()
    assert history.revision == 3


def test_viewers_cannot_roll_back(viewer_client: Client, history: MailSender) -> None:
    assert (
        viewer_client.post("/senders/main/history/1/rollback/", {"revision": "3"}).status_code
        == 403
    )
    history.refresh_from_db()
    assert history.revision == 3


def test_rollback_needs_post_and_csrf(editor: Any, history: MailSender) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    assert client.get("/senders/main/history/1/rollback/").status_code == 405
    assert client.post("/senders/main/history/1/rollback/", {"revision": "3"}).status_code == 403
    history.refresh_from_db()
    assert history.revision == 3


def test_the_revision_page_offers_rollback_to_editors(
    editor_client: Client, history: MailSender
) -> None:
    html = editor_client.get("/senders/main/history/1/").content.decode()
    assert 'action="/senders/main/history/1/rollback/"' in html
    assert 'name="revision" value="3"' in html
    assert '<label for="rollback-message">' in html
    current = editor_client.get("/senders/main/history/3/").content.decode()
    assert "/rollback/" not in current


def test_rollback_service_checks_the_revision_and_the_content(history: MailSender) -> None:
    with pytest.raises(StaleTable):
        rollback(history, 1, actor=ACTOR, expected_revision=2)
    with pytest.raises(NothingToRollBack):
        rollback(history, 3, actor=ACTOR, expected_revision=3)
    change = rollback(history, 1, actor=ACTOR, expected_revision=3)
    assert change.revision.number == 4
    assert document_of(history) == "a.example relay.example.net\n"


# ---------------------------------------------------------------- stale-edit conflicts


def test_conflict_diff_shows_what_the_other_person_changed_and_what_saving_would_do(
    history: MailSender,
) -> None:
    mine = (
        "a.example relay.example.net\nb.example joe:********@smtp.example.net\nmine.example x.net\n"
    )
    with pytest.raises(StaleTable) as info:
        replace_table(history, parse_document(mine), actor=ACTOR, expected_revision=2)
    conflict = conflict_diff(info.value, user_document=mine)
    assert conflict.message.startswith("This table was changed by someone else since you opened it")
    assert (conflict.seen, conflict.current) == (2, 3)
    assert conflict.theirs is not None
    assert conflict.theirs.as_text() == (
        "- a.example relay.example.net\n"
        "+ a.example relay2.example.net\n"
        "  b.example joe:********@smtp.example.net\n"
    )
    assert conflict.yours is not None
    assert conflict.yours.as_text() == (
        "- a.example relay2.example.net\n"
        "+ a.example relay.example.net\n"
        "  b.example joe:********@smtp.example.net\n"
        "+ mine.example x.net\n"
    )


def test_conflict_diff_copes_with_bad_text_and_a_missing_revision(history: MailSender) -> None:
    conflict = conflict_diff(StaleTable(history, -1), user_document="nonsense here $x\n")
    assert conflict.theirs is None
    assert conflict.yours is None
    conflict = conflict_diff(StaleTable(history, 2))
    assert conflict.yours is None
    assert conflict.theirs is not None and conflict.theirs.changed + conflict.theirs.added >= 1


# ---------------------------------------------------------------- every door records a revision


def test_every_change_path_records_exactly_one_revision(
    admin_client_role: Client, admin_user: Any, sender: MailSender, tmp_path: Any
) -> None:
    """Rule editor, bulk editor, import, rollback, Django admin and command: each change
    is one revision whose snapshot is the table as it then is."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    def step(expected_source: str, action: Any) -> None:
        before = MailSender.objects.get(pk=sender.pk).revision
        action(before)
        sender.refresh_from_db()
        assert sender.revision == before + 1, expected_source
        latest = Revision.objects.get(sender=sender, number=sender.revision)
        assert latest.source == expected_source
        assert latest.document == document_of(sender)

    client = admin_client_role
    base = "/senders/main"
    table_file = tmp_path / "table.txt"
    table_file.write_text("e.example x.net\n")

    def rule_pk(position: int) -> int:
        return sender.rules.get(position=position).pk

    step(
        "editor",
        lambda r: client.post(
            f"{base}/rules/add/", {"text": "a.example x.net", "enabled": "on", "revision": r}
        ),
    )
    step(
        "editor",
        lambda r: client.post(
            f"{base}/rules/add/", {"text": "b.example y.net", "enabled": "on", "revision": r}
        ),
    )
    step(
        "editor",
        lambda r: client.post(
            f"{base}/rules/{rule_pk(1)}/edit/",
            {"text": "a.example z.net", "enabled": "on", "revision": r},
        ),
    )
    step(
        "editor",
        lambda r: client.post(
            f"{base}/rules/{rule_pk(1)}/toggle/", {"enabled": "0", "revision": r}
        ),
    )
    step(
        "editor",
        lambda r: client.post(f"{base}/rules/{rule_pk(2)}/move/", {"to": "top", "revision": r}),
    )
    step("editor", lambda r: client.post(f"{base}/rules/{rule_pk(2)}/delete/", {"revision": r}))
    step(
        "bulk",
        lambda r: client.post(
            f"{base}/bulk/", {"text": "c.example x.net\n", "revision": r, "action": "save"}
        ),
    )
    step(
        "import",
        lambda r: client.post(
            f"{base}/import/",
            {
                "file": SimpleUploadedFile("t.txt", b"d.example x.net\n"),
                "mode": "append",
                "revision": r,
            },
        ),
    )
    step("rollback", lambda r: client.post(f"{base}/history/1/rollback/", {"revision": r}))
    step("admin", lambda r: _admin_edit(admin_user, sender, "f.example x.net"))
    step(
        "command",
        lambda r: call_command(
            "import_overrides", "main", str(table_file), "--replace", stdout=io.StringIO()
        ),
    )
    assert list(Revision.objects.filter(sender=sender).values_list("number", flat=True)) == list(
        range(sender.revision, 0, -1)
    )


def _admin_edit(user: Any, sender: MailSender, first_rule: str) -> None:
    """Change the first rule on the Django admin change page, posting the page's own form."""
    from django.forms import BooleanField
    from django.urls import reverse

    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    rule = sender.rules.get(position=1)
    url = reverse("admin:senders_overriderule_change", args=[rule.pk])
    form = client.get(url).context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, BooleanField):
            value = "on" if value else None
        if value not in (None, ""):
            data[name] = value
    data["text"] = first_rule
    assert client.post(url, data).status_code == 302


def test_a_revision_that_no_longer_parses_is_explained_not_a_500(
    editor_client: Client, history: MailSender
) -> None:
    Revision.objects.filter(sender=history, number=1).update(document="a.example x.net $nonsense\n")
    page = editor_client.get("/senders/main/history/1/")
    assert page.status_code == 200
    assert "This revision can no longer be read: line 1, col 17: " in page.content.decode()
    response = editor_client.post("/senders/main/history/1/rollback/", {"revision": "3"})
    assert response.status_code == 400
    assert "Revision 1 can no longer be restored: line 1, col 17: " in response.content.decode()
    assert "Nothing was changed." in response.content.decode()
    history.refresh_from_db()
    assert history.revision == 3
    diff = editor_client.get("/senders/main/history/diff/?a=1&b=3")
    assert diff.status_code == 400
    assert "A revision can no longer be read: line 1, col 17: " in diff.content.decode()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and real concurrency need PostgreSQL"
)
@pytest.mark.django_db(transaction=True)
def test_two_rollbacks_from_the_same_page_one_wins_the_other_is_stale(
    history: MailSender,
) -> None:
    seen = history.revision
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def job(number: int) -> None:
        try:
            start.wait()
            rollback(history, number, actor=ACTOR, expected_revision=seen)
            outcomes.append("rolled back")
        except StaleTable:
            outcomes.append("stale")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=job, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["rolled back", "stale"]
    history.refresh_from_db()
    assert history.revision == seen + 1
    assert Revision.objects.get(sender=history, number=seen + 1).document == document_of(history)
