"""Shared fixtures of the security suite: a table holding a relay password, users in
every role, and the limits that keep Hypothesis bounded (the whole suite runs in well
under two minutes on two cores)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from hypothesis import HealthCheck, settings

from senders.models import MailSender, Revision
from senders.roles import ADMIN, EDITOR, VIEWER
from senders.tables import Actor, replace_table
from senders.tabletext import parse_document
from tests.conftest import PASSWORD

# A relay password that must never appear anywhere but the export (and the database).
SECRET = "Zq7-relay-SECRET-x9"
TABLE = (
    "# the parent company's relay\n"
    "example.com smtp.myisp.com:587\n"
    f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end\n"
    "#disabled: *.example.org relay.example.net\n"
    "* backup.example.net $retries>=3 $priority:20 $adddns\n"
)
ACTOR = Actor(source=Revision.Source.COMMAND)
ROLES = ("anonymous", "nobody", VIEWER, EDITOR, ADMIN)

# Hypothesis budgets: examples per test. Web tests go through the whole Django stack
# (a few ms each); engine tests are cheap.
WEB = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
ENGINE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks and real concurrency need PostgreSQL"
)


def fill(sender: MailSender, document: str = TABLE) -> MailSender:
    replace_table(sender, parse_document(document), actor=ACTOR)
    sender.refresh_from_db()
    return sender


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    """The sender `main` with TABLE saved twice (two revisions to diff and roll back to)."""
    fill(sender, TABLE.replace("$priority:20", "$priority:30"))
    return fill(sender)


def user_in(django_user_model: Any, role: str, *, staff: bool = False) -> Any:
    user = django_user_model.objects.create_user(
        username=f"{role}-user", password=PASSWORD, is_staff=staff
    )
    if role in (VIEWER, EDITOR, ADMIN):
        user.groups.add(Group.objects.get(name=role))
    return user


def client_as(django_user_model: Any, role: str, *, staff: bool = False) -> Client:
    """A logged-in client for `role` ("anonymous": not logged in; "nobody": no role)."""
    client = Client()
    if role != "anonymous":
        client.force_login(user_in(django_user_model, role, staff=staff))
    return client
