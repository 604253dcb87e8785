"""The Django admin's changelists are no oracle on stored passwords (issue 10, items 1, 14).

A lookup, search or sort on text that holds relay passwords would answer "1 result"
for the right guess and "0 results" for a wrong one. Every changelist accepts only
the parameters its page offers; anything else is a 400 that looks the same whatever
was guessed, before any query runs.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from senders.adminqueries import SECRET_FIELDS, StrictQueryAdmin
from senders.models import MailSender
from tests.security.conftest import SECRET

pytestmark = pytest.mark.django_db

REVISIONS = "admin:senders_revision_changelist"
REFUSED_PAGE = "This list cannot be filtered or sorted that way."


def staff_client(user: Any) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(params=["viewer", "admin_user"])
def staff(request: pytest.FixtureRequest) -> Client:
    """A staff user in the viewer role, then one in the admin role."""
    return staff_client(request.getfixturevalue(request.param))


def get(client: Client, name: str, query: dict[str, str]) -> Any:
    return client.get(reverse(name), query)


def refused(response: Any) -> str:
    """The 400 page, its (per-response masked) CSRF tokens left out."""
    assert response.status_code == 400
    page = response.content.decode()
    assert REFUSED_PAGE in page
    return re.sub(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", page)


def test_a_right_and_a_wrong_password_guess_get_the_same_400(
    staff: Client, table: MailSender
) -> None:
    right = get(staff, REVISIONS, {"document__contains": SECRET})
    wrong = get(staff, REVISIONS, {"document__contains": "not-the-password"})
    assert refused(right) == refused(wrong)
    assert SECRET not in right.content.decode()


@pytest.mark.parametrize(
    "query",
    [
        {"document__regex": r"joe:Zq7[\x21-\x4f]"},
        {"document__regex": "("},
        {"document": "x"},
        {"document__startswith": "#"},
        {"sender__rules__text__contains": "Zq7"},
        {"sender__rules__comment__icontains": "relay"},
        {"message__contains": "x"},
        {"created_at__year": "99999999999"},
        {"created_at__year": "0"},
        {"number__gt": "0"},
    ],
)
def test_lookups_the_page_does_not_offer_are_refused(
    staff: Client, table: MailSender, query: dict[str, str]
) -> None:
    refused(get(staff, REVISIONS, query))


def test_junk_dates_are_refused(staff: Client, table: MailSender) -> None:
    refused(get(staff, REVISIONS, {"created_at__gte": "99999999999-01-01"}))
    refused(get(staff, REVISIONS, {"created_at__gte": "junk"}))
    refused(get(staff, REVISIONS, {"created_at__lt": "0000-00-00"}))
    unknown = get(staff, REVISIONS, {"source__exact": "no-such-source"})
    assert unknown.status_code == 200
    assert list(unknown.context["cl"].result_list) == []


@pytest.mark.parametrize("order", ["99", "x", "1.", "--1", "1;drop"])
def test_sorting_by_anything_but_a_column_header_is_refused(
    staff: Client, table: MailSender, order: str
) -> None:
    refused(get(staff, REVISIONS, {"o": order}))


def test_the_offered_filters_search_sorting_and_pages_still_work(
    staff: Client, table: MailSender
) -> None:
    for query in [
        {},
        {"source__exact": "command"},
        {
            "created_at__gte": "2000-01-01 00:00:00+00:00",
            "created_at__lt": "2999-01-01 00:00:00+00:00",
        },
        {"q": "main"},
        {"o": "-1.0", "p": "1"},
        {"_facets": "1"},
        {"e": "1"},
    ]:
        response = get(staff, REVISIONS, query)
        assert response.status_code == 200, query
        assert [r.number for r in response.context["cl"].result_list] == [2, 1], query


def test_the_sender_list_refuses_lookups_on_rules(staff: Client, table: MailSender) -> None:
    url = "admin:senders_mailsender_changelist"
    assert get(staff, url, {"enabled__exact": "1", "q": "main"}).status_code == 200
    refused(get(staff, url, {"rules__text__contains": SECRET}))
    refused(get(staff, url, {"description__regex": "."}))


def test_the_user_list_is_no_oracle_on_password_hashes(admin_user: Any, table: MailSender) -> None:
    client = staff_client(admin_user)
    url = "admin:auth_user_changelist"
    assert get(client, url, {"is_staff__exact": "1"}).status_code == 200
    right = get(client, url, {"password__startswith": admin_user.password[:12]})
    wrong = get(client, url, {"password__startswith": "md5$"})
    assert refused(right) == refused(wrong)


def test_every_admin_is_strict_and_never_searches_or_sorts_secrets() -> None:
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, StrictQueryAdmin), model
        searched = {f.lstrip("^=@").partition("__")[0] for f in model_admin.search_fields}
        assert not searched & SECRET_FIELDS, model
        assert not {str(f) for f in model_admin.list_filter} & SECRET_FIELDS, model


def test_the_rule_list_filters_by_sender_only(staff: Client, table: MailSender) -> None:
    url = "admin:senders_overriderule_changelist"
    response = get(staff, url, {"sender__id__exact": str(table.pk), "p": "1"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 4
    right = get(staff, url, {"text__contains": SECRET})
    wrong = get(staff, url, {"text__contains": "not-the-password"})
    assert refused(right) == refused(wrong)
    refused(get(staff, url, {"comment__icontains": "relay"}))
    refused(get(staff, url, {"q": "joe"}))  # no search box: rule text is never searched
    refused(get(staff, url, {"o": "1"}))  # the table's own order only
