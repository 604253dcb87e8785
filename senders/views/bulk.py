"""Placeholder views: replaced as the pages are built."""

from django.http import Http404


def bulk_edit(request, slug):  # type: ignore[no-untyped-def]
    raise Http404


def bulk_import(request, slug):  # type: ignore[no-untyped-def]
    raise Http404
