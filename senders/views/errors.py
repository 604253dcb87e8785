"""Friendly error pages: same look as the rest, no details leaked."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.template.defaultfilters import filesizeformat

from senders.adminqueries import REFUSED, RefusedAdminQuery


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request Django could not read: say why in words (too big, too many fields).

    An htmx request gets the message alone, swapped where its answer would have gone.
    """
    status, title = 400, "The request could not be read"
    explanation = "Reload the page and try again."
    if isinstance(exception, RequestDataTooBig):
        status, title = 413, "What you sent is too big"
        explanation = (
            f"A form may send at most {filesizeformat(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}; "
            f"a table (typed, pasted or uploaded) at most "
            f"{filesizeformat(settings.MAX_TABLE_UPLOAD_BYTES)}. Split it into smaller parts."
        )
    elif isinstance(exception, RefusedAdminQuery):
        title, explanation = "This list cannot be filtered or sorted that way", REFUSED
    elif isinstance(exception, TooManyFieldsSent):
        title = "The form has too many fields"
        explanation = (
            f"A form may send at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields. "
            "Edit a long table in the bulk editor instead."
        )
    context = {"title": title, "explanation": explanation}
    htmx = request.headers.get("HX-Request") == "true"  # the middleware may not have run
    template = "errors/400.html#message" if htmx else "errors/400.html"
    return render(request, template, context, status=status)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without context processors: they may be what failed.
    return HttpResponseServerError(loader.get_template("errors/500.html").render())
