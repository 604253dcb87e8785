"""Bounds on expensive requests, so that one user cannot make the site slow for everyone.

Checking or saving a whole table, importing one, testing a message against unsaved
text, comparing two revisions and an impact analysis each cost up to about a second
of CPU at the largest table we support (MAX_TABLE_RULES). `@expensive` lets a user
run MAX_EXPENSIVE_PER_USER of them at once and everybody together
MAX_EXPENSIVE_REQUESTS, across every worker process; a request over either limit
gets 429 with Retry-After at once, without doing the work, and the workers left
over keep answering everything else (log-in, pages, the export).

The slots are rows of `WorkSlot` (see there), so the limits hold across gunicorn
workers and machines sharing the database.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django_htmx.http import reswap

from senders.models import WorkSlot

RETRY_AFTER_SECONDS = 2
YOURS_BUSY = "Another check of yours is still running"
ALL_BUSY = "The server is busy checking other tables"
EXPLANATION = (
    "Try again in a moment. Your text is not lost: if it is not on the page any more, go "
    "back (the browser's Back button) and send it again."
)

View = Callable[..., HttpResponse]


def expensive(when: Callable[[HttpRequest], bool] = lambda request: True) -> Callable[[View], View]:
    """Run the view only in a free slot (per user and in all); else answer 429.

    `when` says which requests of the view are expensive (e.g. only POSTs).
    """

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not when(request):
                return view(request, *args, **kwargs)
            token = secrets.token_hex(16)
            user_slot = _take(f"user:{request.user.pk}", settings.MAX_EXPENSIVE_PER_USER, token)
            if user_slot is None:
                return busy(request, YOURS_BUSY)
            try:
                if _take("all", settings.MAX_EXPENSIVE_REQUESTS, token) is None:
                    return busy(request, ALL_BUSY)
                return view(request, *args, **kwargs)
            finally:
                _give_back(token)

        return wrapped

    return decorator


def _take(prefix: str, count: int, token: str) -> str | None:
    """The name of a slot now held with `token`, or None when all `count` are taken."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EXPENSIVE_SLOT_SECONDS)
    for number in range(count):
        name = f"{prefix}:{number}"
        try:
            with transaction.atomic():
                WorkSlot.objects.create(name=name, token=token, started_at=now)
            return name
        except IntegrityError:
            taken_over = WorkSlot.objects.filter(name=name, started_at__lt=stale).update(
                token=token, started_at=now
            )
            if taken_over:
                return name
    return None


def _give_back(token: str) -> None:
    """Free this request's slots (by token: never one taken over after it went stale)."""
    WorkSlot.objects.filter(token=token).delete()


def busy(request: HttpRequest, title: str) -> HttpResponse:
    """429: the message alone for htmx (in place of the region it was updating)."""
    target = request.headers.get("HX-Target", "") if request.htmx else ""
    context = {"title": title, "explanation": EXPLANATION, "target": target}
    template = "errors/429.html#message" if request.htmx else "errors/429.html"
    response = render(request, template, context, status=429)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if target:
        reswap(response, "outerHTML")  # the message keeps the region's id for the next answer
    return response
