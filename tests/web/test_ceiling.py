"""The benchmark's /bench/ceiling view exists only when BENCHMARK_CEILING_VIEW is set."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import clear_url_caches

import overrides_admin.urls


def _reload_urls() -> None:
    importlib.reload(overrides_admin.urls)
    clear_url_caches()


@pytest.fixture
def ceiling_on(settings: Any) -> Iterator[None]:
    settings.BENCHMARK_CEILING_VIEW = True
    _reload_urls()
    yield
    settings.BENCHMARK_CEILING_VIEW = False
    _reload_urls()


def test_the_ceiling_is_not_served_by_default(client: Client) -> None:
    assert client.get("/bench/ceiling").status_code == 404


def test_with_the_setting_it_answers_a_constant_text_without_login(
    client: Client, ceiling_on: None
) -> None:
    response = client.get("/bench/ceiling")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert response.content == b"ok\n"


def test_it_sends_as_many_bytes_as_asked_up_to_a_mebibyte(client: Client, ceiling_on: None) -> None:
    assert len(client.get("/bench/ceiling?size=54321").content) == 54321
    assert len(client.get("/bench/ceiling?size=99999999").content) == 1024 * 1024
    assert client.get("/bench/ceiling?size=1e9").content == b"ok\n"
    assert client.post("/bench/ceiling").status_code == 405


@pytest.mark.django_db
def test_it_can_make_one_query_first(
    client: Client, ceiling_on: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        assert client.get("/bench/ceiling?size=5&query=1").content == b"ceili"
