"""The admin role cannot raise anyone's rights above its own (issue 10, item 7).

Real POSTs to the Django admin's user change page, as a staff user in the admin
group (not a superuser): staff status, superuser status, single permissions and the
admin role stay as they were; the viewer and editor roles can still be given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from senders.roles import ADMIN, EDITOR, VIEWER

pytestmark = pytest.mark.django_db


def change_url(user: Any) -> str:
    return reverse("admin:auth_user_change", args=[user.pk])


def form_data(client: Client, user: Any) -> dict[str, Any]:
    """What the change page's form posts back untouched (only the choices it offers)."""
    form = client.get(change_url(user)).context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if value in (None, "", False, []):
            continue
        if value is True:
            value = "on"
        elif isinstance(value, list):
            offered = {choice.pk for choice in field.queryset}
            value = [v for v in value if v in offered]
        elif isinstance(value, datetime):
            data[f"{name}_0"], data[f"{name}_1"] = str(value.date()), str(value.time())[:8]
            continue
        data[name] = value
    return data


@pytest.fixture
def ada(admin_user: Any) -> Client:
    """The admin role, staff, not a superuser."""
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    return client


def group(name: str) -> Group:
    return Group.objects.get(name=name)


@pytest.mark.parametrize(
    "field, value",
    [
        ("is_superuser", "on"),
        ("is_staff", "on"),
        ("user_permissions", "delete_group"),
    ],
)
def test_the_admin_role_cannot_make_itself_superuser_staff_or_give_permissions(
    ada: Client, admin_user: Any, field: str, value: Any
) -> None:
    data = form_data(ada, admin_user)
    if field == "user_permissions":
        value = [Permission.objects.get(codename=value).pk]
    data[field] = value
    response = ada.post(change_url(admin_user), data)
    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser
    assert list(admin_user.user_permissions.all()) == []


def test_the_admin_role_cannot_make_someone_else_staff(ada: Client, viewer: Any) -> None:
    data = form_data(ada, viewer)
    data["is_staff"] = "on"
    assert ada.post(change_url(viewer), data).status_code == 403
    viewer.refresh_from_db()
    assert not viewer.is_staff


def test_the_fields_are_read_only_for_the_admin_role(ada: Client, viewer: Any) -> None:
    form = ada.get(change_url(viewer)).context["adminform"].form
    assert not {"is_superuser", "is_staff", "user_permissions"} & set(form.fields)
    assert [g.name for g in form.fields["groups"].queryset.order_by("name")] == [EDITOR, VIEWER]


def test_the_admin_role_gives_roles_below_its_own(ada: Client, viewer: Any) -> None:
    data = form_data(ada, viewer)
    data["groups"] = [group(EDITOR).pk]
    data["first_name"] = "Vera"
    assert ada.post(change_url(viewer), data).status_code == 302
    viewer.refresh_from_db()
    assert [g.name for g in viewer.groups.all()] == [EDITOR]
    assert viewer.first_name == "Vera"


def test_the_admin_role_cannot_give_the_admin_role(ada: Client, viewer: Any) -> None:
    data = form_data(ada, viewer)
    data["groups"] = [group(VIEWER).pk, group(ADMIN).pk]
    response = ada.post(change_url(viewer), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["groups"] == [
        f"Select a valid choice. {group(ADMIN).pk} is not one of the available choices."
    ]
    assert [g.name for g in viewer.groups.all()] == [VIEWER]


def test_the_admin_role_cannot_take_the_admin_role_away(
    ada: Client, django_user_model: Any
) -> None:
    other = django_user_model.objects.create_user(username="otto", password="x" * 20)
    other.groups.add(group(ADMIN))
    data = form_data(ada, other)
    assert data.get("groups", []) == []  # the admin role is not offered
    data["last_name"] = "Other"
    assert ada.post(change_url(other), data).status_code == 302
    other.refresh_from_db()
    assert [g.name for g in other.groups.all()] == [ADMIN]
    assert other.last_name == "Other"


def test_superusers_accounts_are_read_only_for_the_admin_role(
    ada: Client, django_user_model: Any
) -> None:
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x" * 20)
    password = root.password
    assert ada.get(change_url(root)).status_code == 200  # view only
    assert ada.post(change_url(root), {"username": "root", "is_active": ""}).status_code == 403
    url = reverse("admin:auth_user_password_change", args=[root.pk])
    new = {"password1": "Another-pass-2026", "password2": "Another-pass-2026"}
    assert ada.post(url, new).status_code == 403
    delete = reverse("admin:auth_user_delete", args=[root.pk])
    assert ada.post(delete, {"post": "yes"}).status_code == 403
    root.refresh_from_db()
    assert root.password == password
    assert root.is_active


def test_a_superuser_still_grants_everything(django_user_model: Any, viewer: Any) -> None:
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x" * 20)
    client = Client()
    client.force_login(root)
    data = form_data(client, viewer)
    data.update({"is_staff": "on", "is_superuser": "on", "groups": [group(ADMIN).pk]})
    assert client.post(change_url(viewer), data).status_code == 302
    viewer.refresh_from_db()
    assert viewer.is_staff and viewer.is_superuser
    assert [g.name for g in viewer.groups.all()] == [ADMIN]
