"""Middleware of the app: a body declared too big is refused before it is read; htmx
requests whose session ran out go to the login page; a database failure the view did
not handle is a friendly 503, not a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import resolve_url
from django.template import loader
from django_htmx.http import HttpResponseClientRedirect


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
        if not isinstance(exception, DatabaseError):
            return None
        from senders.views.common import database_trouble

        database_trouble(exception)
        body = loader.get_template("errors/503.html").render()
        return HttpResponse(body, status=503, headers={"Retry-After": "10"})
