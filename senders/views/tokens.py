"""Placeholder views: replaced as the pages are built."""

from django.http import Http404


def token(request, slug):  # type: ignore[no-untyped-def]
    raise Http404
