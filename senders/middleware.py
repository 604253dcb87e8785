"""Middleware of the app: htmx requests whose session ran out go to the login page; a
database failure the view did not handle, or stored passwords that the configured
encryption key cannot open, is a clear 503, not a 500."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url
from django.template import loader
from django_htmx.http import HttpResponseClientRedirect

from senders.fields import EncryptionKeyMismatch

logger = logging.getLogger(__name__)


class HtmxLoginRedirectMiddleware:
    """An htmx request from a logged-out user gets HX-Redirect to the login page.

    Without this, htmx follows the 302 to the login page itself and swaps that whole
    page into the region it was updating (a table row, the verdict under a field).
    After logging in, the user comes back to the page they were on, not to the URL
    of the fragment.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        htmx = getattr(request, "htmx", None)
        if (
            htmx
            and response.status_code == 302
            and not request.user.is_authenticated
            and response.get("Location", "").startswith(resolve_url(settings.LOGIN_URL))
        ):
            page = htmx.current_url_abs_path or request.get_full_path()
            return HttpResponseClientRedirect(redirect_to_login(page).url)
        return response


class DatabaseTroubleMiddleware:
    """A DatabaseError (lock timeout, lost connection) left to propagate: every change runs
    in one transaction, so it rolled back whole; say so with a 503 instead of a 500.

    The forms that hold typed text (rule add and edit, bulk editor, import) handle it
    themselves and keep the text. Rendered without the database or context processors.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, EncryptionKeyMismatch):
            # Not the user's doing and not passing: say what the operator must fix.
            logger.error("%s", exception)
            body = loader.get_template("errors/503_encryption_key.html").render()
            return HttpResponse(body, status=503)
        if not isinstance(exception, DatabaseError):
            return None
        from senders.views.common import database_trouble

        database_trouble(exception)
        body = loader.get_template("errors/503.html").render()
        return HttpResponse(body, status=503, headers={"Retry-After": "10"})
