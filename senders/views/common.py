"""Small helpers shared by the views."""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from senders.accounts import client_address
from senders.models import MailSender, Revision
from senders.tables import Actor

logger = logging.getLogger("senders")

# A save that failed in the database (a lock held too long, a lost connection): the
# transaction rolled back whole, so the table is as it was; the form keeps the text.
DATABASE_TROUBLE = (
    "The database did not answer in time (it may be busy or restarting), so nothing was "
    "saved and the table is as it was. Your text is kept here: try again in a moment."
)


def database_trouble(error: Exception) -> str:
    """Log a failed save (no user input in the line) and return what to tell the user."""
    logger.error("a save failed in the database and was rolled back: %s", type(error).__name__)
    return DATABASE_TROUBLE


def get_sender(slug: str) -> MailSender:
    # The fetch record comes with the sender: the table page shows it.
    return get_object_or_404(MailSender.objects.select_related("fetch"), slug=slug)


def actor_for(
    request: HttpRequest, source: str = Revision.Source.EDITOR, message: str = ""
) -> Actor:
    return Actor(
        user=request.user,
        source=source,
        remote_addr=client_address(request),
        message=message,
    )


def posted_revision(request: HttpRequest) -> int:
    """The table revision the user's page showed (hidden input `revision`).

    Junk or absent gives -1, which always counts as stale: treating it as "no
    check" would let a form that lost its revision overwrite someone's change.
    """
    value = request.POST.get("revision", "")
    try:
        return int(value)
    except ValueError:
        return -1
