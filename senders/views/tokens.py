"""The export token page: create or rotate (the token is shown once), revoke."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from senders.export import create_token, export_status, revoke_token
from senders.models import MailSender
from senders.views.common import get_sender

logger = logging.getLogger(__name__)


@login_required
@permission_required("senders.manage_export_token", raise_exception=True)
@require_http_methods(["GET", "POST"])
@never_cache
def token(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    new_token = None
    revoked = False
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "rotate":
        new_token = create_token(sender)
        logger.info("export token of %s rotated by %s", slug, request.user)
    elif action == "revoke":
        revoke_token(sender)
        revoked = True
        logger.info("export token of %s revoked by %s", slug, request.user)
        if not request.htmx:
            messages.success(request, "Export token revoked: delivery can no longer fetch.")
            return redirect("senders:token", slug)
    elif request.method == "POST":
        return _render(request, sender, None, error="Choose Create or Revoke.", status=400)
    return _render(request, sender, new_token, revoked=revoked)


def _render(
    request: HttpRequest,
    sender: MailSender,
    new_token: str | None,
    *,
    error: str = "",
    revoked: bool = False,
    status: int = 200,
) -> HttpResponse:
    urls = {
        kind: request.build_absolute_uri(reverse(f"export_{kind}", args=[sender.slug]))
        for kind in ("text", "json")
    }
    context = {
        "sender": sender,
        "status": export_status(sender),
        "new_token": new_token,
        "export_url": urls["text"],
        "export_json_url": urls["json"],
        "error": error,
        "revoked": revoked,
    }
    template = "senders/token.html#token-region" if request.htmx else "senders/token.html"
    return render(request, template, context, status=status)
