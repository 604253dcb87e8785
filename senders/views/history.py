"""Placeholder views: replaced as the pages are built."""

from django.http import Http404


def history(request, slug):  # type: ignore[no-untyped-def]
    raise Http404


def diff(request, slug):  # type: ignore[no-untyped-def]
    raise Http404


def revision(request, slug, number):  # type: ignore[no-untyped-def]
    raise Http404


def rollback(request, slug, number):  # type: ignore[no-untyped-def]
    raise Http404
