"""Concurrency on PostgreSQL: editors racing through the web pages, and the export read while
a table is being replaced. (tests/web/test_reorder.py races the table services
directly; here the requests go through the views, with the revision each page showed.)
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
from django.db import transaction
from django.test import Client

from senders import export, tables
from senders.models import ExportFetch, MailSender
from senders.tabletext import parse_document
from tests.security.conftest import ACTOR, client_as, fill, postgres_only
from tests.threads import run_at_once

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]
STEPS = 12


def test_editors_racing_through_the_pages_lose_nothing(
    sender: MailSender, django_user_model: Any
) -> None:
    fill(sender, "".join(f"d{n}.example h{n}.example\n" for n in range(1, 21)))
    start_revision = sender.revision
    clients = [client_as(django_user_model, role) for role in ("editor", "admin")]
    outcomes: list[tuple[str, int, bytes]] = []

    def editor(client: Client, seed: int) -> Callable[[], None]:
        chance = random.Random(seed)

        def work() -> None:
            for step in range(STEPS):
                row = MailSender.objects.get(pk=sender.pk)
                rule = row.rules.order_by("?").first()
                assert rule is not None
                seen = {"revision": row.revision}
                action = chance.choice(["move", "add", "delete", "toggle"])
                base = f"/senders/{row.slug}/rules"
                if action == "move":
                    url, data = f"{base}/{rule.pk}/move/", {"to": str(chance.randint(1, 25))}
                elif action == "add":
                    url = f"{base}/add/"
                    data = {"text": f"n{seed}-{step}.example h.example", "position": "3"}
                    data["enabled"] = "on"
                elif action == "delete":
                    url, data = f"{base}/{rule.pk}/delete/", {}
                else:
                    url, data = f"{base}/{rule.pk}/toggle/", {"enabled": "0"}
                response = client.post(url, data | seen, HTTP_HX_REQUEST="true")
                outcomes.append((action, response.status_code, response.content))

        return work

    assert run_at_once([editor(clients[0], 1), editor(clients[1], 2)]) == []
    sender.refresh_from_db()
    count = sender.rules.count()
    positions = list(sender.rules.order_by("position").values_list("position", flat=True))
    assert positions == list(range(1, count + 1))  # no duplicate, no gap
    # htmx answers: the table region (200), or the refusal with the current table (409).
    assert {o[1] for o in outcomes} <= {200, 409}, [o[:2] for o in outcomes]
    done = [o for o in outcomes if o[1] == 200 and b"is already there." not in o[2]]
    refused = [o for o in outcomes if o[1] == 409]
    assert refused, "two editors from the same revision: someone must lose sometimes"
    # Every successful change is one revision; every revision is a successful change.
    numbers = list(sender.revisions.order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, sender.revision + 1))
    assert sender.revision == start_revision + len(done)
    # The losers were told, in words, and shown the current table.
    for _, _, body in refused:
        assert b"changed by someone else since you opened it" in body or b"no longer exists" in body
    # The stored table is what the last revision says.
    latest = sender.revisions.get(number=sender.revision).document
    assert parse_document(latest) == parse_document(tables.document_of(sender))


def test_the_export_serves_the_last_good_table_while_an_edit_is_in_progress(
    sender: MailSender, client: Client
) -> None:
    fill(sender, "old.example relay.example.net\n")
    token = export.create_token(sender)
    url, auth = f"/export/{sender.slug}.txt", {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(url, **auth).content == b"old.example relay.example.net\n"
    half_way, finish = threading.Event(), threading.Event()
    real_record = tables._record

    def slow_record(*args: Any, **kwargs: Any) -> Any:
        # The old rules are deleted and the new ones written, not yet committed.
        half_way.set()
        finish.wait(30)
        return real_record(*args, **kwargs)

    new = "".join(f"new{n}.example relay.example.net\n" for n in range(500))

    def edit() -> None:
        with mock.patch.object(tables, "_record", slow_record):
            tables.replace_table(sender, parse_document(new), actor=ACTOR)

    served: list[tuple[int, bytes, float]] = []

    def fetch() -> None:
        assert half_way.wait(30)
        for _ in range(5):
            start = time.perf_counter()
            response = Client().get(url, **auth)
            served.append((response.status_code, response.content, time.perf_counter() - start))
        finish.set()

    assert run_at_once([edit, fetch]) == []
    assert [status for status, _, _ in served] == [200] * 5
    assert {body for _, body, _ in served} == {b"old.example relay.example.net\n"}
    assert max(seconds for _, _, seconds in served) < 5  # not waiting for the editor's lock
    assert client.get(url, **auth).content == new.encode()


def test_a_poll_records_its_fetch_without_waiting_for_a_save(sender: MailSender) -> None:
    fill(sender, "old.example relay.example.net\n")
    token = export.create_token(sender)
    url, auth = f"/export/{sender.slug}.txt", {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    locked, release = threading.Event(), threading.Event()

    def save() -> None:  # holds the sender's row lock as every save does (senders.tables)
        with transaction.atomic():
            MailSender.objects.select_for_update().get(pk=sender.pk)
            locked.set()
            release.wait(30)

    served: list[tuple[int, float]] = []

    def poll() -> None:
        assert locked.wait(30)
        try:
            # The first poll ever, then one from another address: both records are due.
            for address in ("192.0.2.1", "192.0.2.2"):
                start = time.perf_counter()
                response = Client().get(url, REMOTE_ADDR=address, **auth)
                served.append((response.status_code, time.perf_counter() - start))
        finally:
            release.set()

    assert run_at_once([save, poll]) == []
    assert [status for status, _ in served] == [200, 200]
    assert max(seconds for _, seconds in served) < 1  # not waiting for the lock
    record = ExportFetch.objects.get(sender=sender)
    assert (record.by, record.revision) == ("192.0.2.2", 1)
