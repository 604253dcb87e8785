"""Placeholder views: replaced as the pages are built."""

from django.http import Http404


def export_text(request, slug):  # type: ignore[no-untyped-def]
    raise Http404


def export_json(request, slug):  # type: ignore[no-untyped-def]
    raise Http404
