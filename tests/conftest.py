"""Shared fixtures: users in each role, a sender, logged-in clients."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from senders.models import MailSender
from senders.roles import ADMIN, EDITOR, VIEWER

PASSWORD = "correct horse battery staple"


def _user(django_user_model: Any, username: str, role: str | None) -> Any:
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(django_user_model: Any) -> Any:
    return _user(django_user_model, "vera", VIEWER)


@pytest.fixture
def editor(django_user_model: Any) -> Any:
    return _user(django_user_model, "eddie", EDITOR)


@pytest.fixture
def admin_user(django_user_model: Any) -> Any:
    return _user(django_user_model, "ada", ADMIN)


@pytest.fixture
def nobody(django_user_model: Any) -> Any:
    """Logged in, but in no role."""
    return _user(django_user_model, "nobody", None)


def _client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(viewer: Any) -> Client:
    return _client_for(viewer)


@pytest.fixture
def editor_client(editor: Any) -> Client:
    return _client_for(editor)


@pytest.fixture
def admin_client_role(admin_user: Any) -> Client:
    return _client_for(admin_user)


@pytest.fixture
def sender(db: None) -> MailSender:
    return MailSender.objects.create(name="Main office", slug="main")
