"""The relays page: every relay of a table, its last check, and "check" buttons."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from senders.models import MailSender
from senders.relays import TooSoon, check_limits, relay_rows, relays_for, run_checks
from senders.views.common import get_sender
from senders.views.rules import relay_checked, table_url

logger = logging.getLogger(__name__)


@login_required
@permission_required("senders.view_overriderule", raise_exception=True)
@require_http_methods(["GET", "POST"])
def relays(request: HttpRequest, slug: str) -> HttpResponse:
    sender = get_sender(slug)
    if request.method == "GET":
        return _render(request, sender)
    if not request.user.has_perm("senders.change_overriderule"):
        raise PermissionDenied
    # "Check relay" on a rule of the table page (?back=<rule id>) goes back there.
    back = _rule_back(sender, request.GET.get("back", ""))
    wanted = request.POST.get("relay", "")
    known = relays_for(sender)
    chosen = known if wanted == "all" else [relay for relay in known if relay.key == wanted]
    if not chosen:
        error = "That relay is not in this table (any more): reload the page."
        if back:
            return _back(request, sender, back, wanted, error, messages.ERROR, status=400)
        return _render(request, sender, error=error, status=400)
    # Clear text is allowed for one chosen relay at a time, never for "check all".
    allow_plaintext = len(chosen) == 1 and wanted != "all" and "allow_plaintext" in request.POST
    try:
        check_limits(sender, chosen, request.user)
    except TooSoon as refused:
        if back:
            return _back(request, sender, back, wanted, str(refused), messages.ERROR, status=429)
        return _render(request, sender, error=str(refused), status=429)
    results = run_checks(sender, chosen, request.user, allow_plaintext=allow_plaintext)
    logger.info("relay check of %s by %s: %d relay(s)", sender.slug, request.user, len(results))
    if back:
        (result,) = results
        level = messages.SUCCESS if result.level == "ok" else messages.WARNING
        text = f"{result.relay.label}: {result.verdict}"
        return _back(request, sender, back, wanted, text, level)
    ready = sum(result.level == "ok" for result in results)
    summary = f"Checked {len(results)} relay{'s' if len(results) != 1 else ''}: {ready} ready."
    if request.htmx:
        return _render(request, sender, notice=summary)
    messages.success(request, summary)
    return redirect("senders:relays", sender.slug)


def _rule_back(sender: MailSender, value: str) -> tuple[int, int] | None:
    """(id, position) of the rule of this table that `value` names, or None."""
    if not (value.isascii() and value.isdigit() and len(value) < 19):
        return None
    position = sender.rules.filter(pk=int(value)).values_list("position", flat=True).first()
    return None if position is None else (int(value), position)


def _back(
    request: HttpRequest,
    sender: MailSender,
    rule: tuple[int, int],
    relay_key: str,
    text: str,
    level: int,
    status: int = 200,
) -> HttpResponse:
    """The table page again, with the check's verdict as its message. With htmx only
    the verdict and the rows using the relay come back (the page stays as it is)."""
    pk, position = rule
    if request.htmx:
        if level == messages.ERROR:
            return relay_checked(request, sender, position, relay_key, error=text, status=status)
        return relay_checked(request, sender, position, relay_key, notice=text)
    messages.add_message(request, level, text)
    return redirect(table_url(sender, position, pk))


def _render(
    request: HttpRequest,
    sender: MailSender,
    *,
    error: str = "",
    notice: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "sender": sender,
        "rows": relay_rows(sender),
        "error": error,
        "notice": notice,
        "total_seconds": settings.RELAY_CHECK_TOTAL_SECONDS,
    }
    template = "senders/relays.html"
    if request.htmx:
        template += "#relays-card"
    return render(request, template, context, status=status)
