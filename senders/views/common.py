"""Small helpers shared by the views."""

from __future__ import annotations

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from senders.models import MailSender, Revision
from senders.tables import Actor


def get_sender(slug: str) -> MailSender:
    return get_object_or_404(MailSender, slug=slug)


def actor_for(
    request: HttpRequest, source: str = Revision.Source.EDITOR, message: str = ""
) -> Actor:
    return Actor(
        user=request.user,
        source=source,
        remote_addr=request.META.get("REMOTE_ADDR"),
        message=message,
    )


def posted_revision(request: HttpRequest) -> int | None:
    """The table revision the user's page showed (hidden input `revision`).

    Junk or absent → None (no stale check) would silently allow overwrites, so a
    form that should carry it and doesn't gets -1: it always counts as stale.
    """
    value = request.POST.get("revision", "")
    try:
        return int(value)
    except ValueError:
        return -1
