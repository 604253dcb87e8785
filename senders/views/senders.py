"""Placeholder views: replaced as the pages are built."""

from django.http import Http404


def sender_list(request):  # type: ignore[no-untyped-def]
    raise Http404


def sender_create(request):  # type: ignore[no-untyped-def]
    raise Http404


def sender_edit(request, slug):  # type: ignore[no-untyped-def]
    raise Http404


def sender_delete(request, slug):  # type: ignore[no-untyped-def]
    raise Http404
