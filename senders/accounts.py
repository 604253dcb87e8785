"""Who is logging in, and from where: the client address behind trusted proxies, the
log-in limits (per account and address, and per address across accounts), the lockout
page, and the session clock (idle timeout and absolute lifetime).

The client address is the one recorded everywhere: django-axes' lockouts
(`AXES_CLIENT_IP_CALLABLE`), a revision's `remote_addr`, the export's fetch record.
"""

from __future__ import annotations

import ipaddress
import re
import time
from datetime import timedelta
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# "192.0.2.1:5678" and "[2001:db8::1]:5678": some proxies append the client's port.
_WITH_PORT = re.compile(r"^\[?(?P<host>[0-9A-Fa-f:.]+?)\]?(?::\d+)?$")

# Session keys of the session clock (Unix seconds).
SESSION_STARTED = "accounts.started"
SESSION_LAST_SEEN = "accounts.last_seen"


def _ip(value: str) -> str | None:
    value = value.strip()
    for candidate in (value, (m.group("host") if (m := _WITH_PORT.match(value)) else "")):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def client_address(request: HttpRequest) -> str | None:
    """The address of the client, as seen by the outermost of our trusted proxies.

    Each proxy appends the address it received the request from to X-Forwarded-For, so
    with N trusted proxies the client is the N-th entry from the right; anything to the
    left of it was sent by the client and is ignored. With no trusted proxy, or when the
    header has fewer entries than there are proxies (the request did not come through
    them) or an entry that is no address, it is REMOTE_ADDR.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    if len(forwarded) < count:
        return remote
    return _ip(forwarded[-count]) or remote


# ------------------------------------------------------------------ log-in limits


def address_failures(request: HttpRequest) -> int:
    """Failed log-ins from the request's address within the cool-off, for any username."""
    address = getattr(request, "axes_ip_address", None)
    if address is None:
        return 0
    recent = AccessAttempt.objects.filter(
        ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
    )
    return int(recent.aggregate(total=Sum("failures_since_start"))["total"] or 0)


def address_is_refused(request: HttpRequest) -> bool:
    limit = settings.AXES_ADDRESS_FAILURE_LIMIT
    return limit > 0 and address_failures(request) >= limit


class LoginAttemptHandler(AxesDatabaseHandler):
    """django-axes' database handler plus a limit per address across usernames.

    Axes locks out the pair (username, address) after AXES_FAILURE_LIMIT failures. On
    top of that, AXES_ADDRESS_FAILURE_LIMIT failures from one address, whatever the
    usernames, refuse that address for every username (password spraying).
    """

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        failures = int(super().get_failures(request, credentials))
        if address_is_refused(request):
            return max(failures, int(get_failure_limit(request, credentials)))
        return failures


def duration_in_words(duration: timedelta) -> str:
    """ "15 minutes", "1 hour", "90 minutes", "2 hours"."""
    minutes = max(1, round(duration.total_seconds() / 60))
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """The lockout page (AXES_LOCKOUT_CALLABLE): which lock, and for how long.

    Every attempt during the lockout counts as a failure and starts the cool-off of its
    (username, address) pair again (axes' AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT),
    so the wait is the whole cool-off from now; for an address refused as a whole it is
    at most that.
    """
    cool_off = get_cool_off(request) or timedelta(0)
    context = {
        "duration": duration_in_words(cool_off),
        "whole_address": address_is_refused(request),
    }
    response = render(
        request, settings.AXES_LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE
    )
    response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response


# ------------------------------------------------------------------ session clock


def start_session_clock(sender: Any, request: HttpRequest | None, **kwargs: Any) -> None:
    """user_logged_in: the idle timeout and the absolute lifetime start at the log-in."""
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SESSION_STARTED] = now
        request.session[SESSION_LAST_SEEN] = now
