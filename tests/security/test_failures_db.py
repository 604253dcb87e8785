"""Database failures during a save: the table stays exactly as it was, the user's text stays
in the form, and the page says what happened (a 503 in words, never a bare 500).

Two injections: a real lock timeout on PostgreSQL (a second connection holds the
sender's row lock while the saving side has a short `lock_timeout`), and, on any
database, the cursor raising OperationalError half-way through the save (after the
old rules are deleted: only the transaction's rollback can put them back).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError, connection, connections
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.urls import reverse

from senders.models import MailSender
from senders.tables import document_of
from tests.security.conftest import client_as, postgres_only

TROUBLE = "The database did not answer in time (it may be busy or restarting)"
NEW_TABLE = "# typed by hand\nnew.example relay.example.net:587\n"


@contextmanager
def failing_insert() -> Iterator[None]:
    """Every INSERT into the rules table fails, as if the connection dropped then."""
    real = CursorWrapper.execute

    def execute(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        if sql.lstrip().upper().startswith(("INSERT", "COPY")) and "overriderule" in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return real(self, sql, params)

    real_many = CursorWrapper.executemany

    def executemany(self: CursorWrapper, sql: str, params: Any) -> Any:
        if "overriderule" in sql and sql.lstrip().upper().startswith("INSERT"):
            raise OperationalError("server closed the connection unexpectedly")
        return real_many(self, sql, params)

    with (
        mock.patch.object(CursorWrapper, "execute", execute),
        mock.patch.object(CursorWrapper, "executemany", executemany),
    ):
        if connection.vendor == "postgresql":  # the COPY path: fail it the same way
            with mock.patch("senders.tables._insert_rules", side_effect=OperationalError("gone")):
                yield
        else:
            yield


def snapshot(sender: MailSender) -> tuple[str, int, int]:
    sender.refresh_from_db()
    return document_of(sender), sender.revision, sender.revisions.count()


@pytest.mark.django_db
def test_a_bulk_save_that_fails_half_way_changes_nothing_and_keeps_the_text(
    table: MailSender, django_user_model: Any
) -> None:
    editor = client_as(django_user_model, "editor")
    before = snapshot(table)
    url = reverse("senders:bulk", args=[table.slug])
    with failing_insert():
        response = editor.post(url, {"text": NEW_TABLE, "action": "save", "revision": 2})
    assert response.status_code == 503
    assert TROUBLE in response.content.decode()
    assert response.context["form"]["text"].value() == NEW_TABLE
    assert snapshot(table) == before


@pytest.mark.django_db
def test_a_rule_add_or_edit_that_fails_keeps_the_typed_rule(
    table: MailSender, django_user_model: Any
) -> None:
    editor = client_as(django_user_model, "editor")
    before = snapshot(table)
    typed = "typed.example relay.example.net:2525"
    with failing_insert():
        response = editor.post(
            reverse("senders:rule_add", args=[table.slug]),
            {"text": typed, "enabled": "on", "revision": 2},
        )
    assert response.status_code == 503
    assert TROUBLE in response.content.decode()
    assert response.context["add_form"]["text"].value() == typed
    assert snapshot(table) == before
    rule = table.rules.get(position=1)
    real = CursorWrapper.execute

    def fail_updates(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        if sql.lstrip().upper().startswith("INSERT") and "revision" in sql:
            raise OperationalError("lock timeout")
        return real(self, sql, params)

    with mock.patch.object(CursorWrapper, "execute", fail_updates):
        response = editor.post(
            reverse("senders:rule_edit", args=[table.slug, rule.pk]),
            {"text": typed, "enabled": "on", "revision": 2},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 503
    assert TROUBLE in response.content.decode()
    assert response.context["form"]["text"].value() == typed
    assert snapshot(table) == before


@pytest.mark.django_db
def test_other_saves_that_fail_get_a_friendly_503(
    table: MailSender, django_user_model: Any
) -> None:
    editor = client_as(django_user_model, "editor")
    before = snapshot(table)
    rule = table.rules.get(position=1)
    with mock.patch("senders.tables._record", side_effect=OperationalError("gone")):
        for url, data in [
            (reverse("senders:rule_toggle", args=[table.slug, rule.pk]), {"enabled": "0"}),
            (reverse("senders:rule_move", args=[table.slug, rule.pk]), {"to": "bottom"}),
            (reverse("senders:rule_delete", args=[table.slug, rule.pk]), {}),
            (reverse("senders:rollback", args=[table.slug, 1]), {}),
        ]:
            response = editor.post(url, data | {"revision": 2})
            assert response.status_code == 503, url
            assert "Nothing was saved" in response.content.decode()
            assert "Traceback" not in response.content.decode()
    assert snapshot(table) == before


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_lock_held_elsewhere_times_out_cleanly(table: MailSender, django_user_model: Any) -> None:
    """Another connection holds the sender's row lock; the save gives up after its
    lock_timeout with the page in words, and the table is unchanged."""
    editor: Client = client_as(django_user_model, "editor")
    before = snapshot(table)
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(
                    "SELECT 1 FROM senders_mailsender WHERE id = %s FOR UPDATE", [table.pk]
                )
                locked.set()
                release.wait(30)
                cursor.execute("ROLLBACK")
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert locked.wait(10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        url = reverse("senders:bulk", args=[table.slug])
        response = editor.post(url, {"text": NEW_TABLE, "action": "save", "revision": 2})
    finally:
        release.set()
        holder.join(30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert response.status_code == 503
    assert TROUBLE in response.content.decode()
    assert response.context["form"]["text"].value() == NEW_TABLE
    assert snapshot(table) == before
    # Once the lock is free, the same save goes through.
    response = editor.post(url, {"text": NEW_TABLE, "action": "save", "revision": 2})
    assert response.status_code == 302
    assert snapshot(table)[1] == 3
