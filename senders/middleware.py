"""Middleware of the app: a body declared too big is refused before it is read; htmx
requests whose session ran out go to the login page; a database failure the view did
not handle, or stored passwords that the configured encryption key cannot open, is a
clear 503, not a 500; sessions end when idle or too old; pages for a logged-in user
are never stored by a cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url
from django.template import loader
from django.utils.cache import patch_cache_control
from django_htmx.http import HttpResponseClientRedirect

from senders.accounts import SESSION_LAST_SEEN, SESSION_STARTED, duration_in_words
from senders.fields import EncryptionKeyMismatch

logger = logging.getLogger(__name__)

# The last-seen time is written at most this often, not on every request: the idle
# timeout is exact to within this much.
LAST_SEEN_RESOLUTION_SECONDS = 60


class RequestSizeLimitMiddleware:
    """A request whose Content-Length is over the largest form we accept gets the 413 page
    at once, before any byte of its body is read (Django itself would read, or spool to
    disk, the whole of an uploaded file before the form could say it is too big).

    The limit is DATA_UPLOAD_MAX_MEMORY_SIZE: a table of MAX_TABLE_UPLOAD_BYTES plus room
    for the other fields. A body without a declared length is bounded by the upload
    handler (senders.uploads) and, in front of us, by the proxy (docs/security.md).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads such a body as empty
        if limit is not None and declared > limit:
            from senders.views.errors import bad_request

            return bad_request(request, RequestDataTooBig(f"Content-Length {declared}"))
        return self.get_response(request)


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


class SessionClockMiddleware:
    """Log out a session idle for SESSION_IDLE_MINUTES or older than SESSION_MAX_AGE_HOURS.

    The log-in starts the clock (senders.accounts.start_session_clock). A request moves
    the last-seen time on, and with it the session's expiry (SESSION_COOKIE_AGE is the
    idle timeout), at most once a minute, so most requests write nothing. Requests
    without a session cookie (the export's agents) never touch the session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        session, now = request.session, int(time.time())
        started = session.setdefault(SESSION_STARTED, now)
        last_seen = session.get(SESSION_LAST_SEEN, now)
        idle = settings.SESSION_IDLE_MINUTES * 60
        if now - last_seen > idle:
            reason = f"after {duration_in_words(timedelta(seconds=idle))} without activity"
        elif now - started > settings.SESSION_MAX_AGE_HOURS * 3600:
            hours = timedelta(hours=settings.SESSION_MAX_AGE_HOURS)
            reason = f"{duration_in_words(hours)} after you logged in"
        else:
            if now - last_seen >= LAST_SEEN_RESOLUTION_SECONDS or SESSION_LAST_SEEN not in session:
                session[SESSION_LAST_SEEN] = now
            return
        logout(request)
        messages.info(request, f"Your session ended {reason}. Please log in again.")


class NoStoreMiddleware:
    """Pages for a logged-in user get `Cache-Control: private, no-store`, so that no
    browser or proxy cache keeps them (the Back button after logging out, a shared
    computer). A response that sets its own Cache-Control keeps it: the export's ETag
    caching, Django's never_cache pages (login, admin: no-store already)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not response.has_header("Cache-Control") and request.user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
