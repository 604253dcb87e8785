"""Placeholder views: replaced as the pages are built."""

from django.http import Http404


def table(request, slug):  # type: ignore[no-untyped-def]
    raise Http404


def rule_add(request, slug):  # type: ignore[no-untyped-def]
    raise Http404


def rule_validate(request, slug):  # type: ignore[no-untyped-def]
    raise Http404


def rule_edit(request, slug, pk):  # type: ignore[no-untyped-def]
    raise Http404


def rule_delete(request, slug, pk):  # type: ignore[no-untyped-def]
    raise Http404


def rule_toggle(request, slug, pk):  # type: ignore[no-untyped-def]
    raise Http404


def rule_move(request, slug, pk):  # type: ignore[no-untyped-def]
    raise Http404
