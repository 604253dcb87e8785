"""The export for delivery agents: `/export/<slug>.txt` and `/export/<slug>.json`.

No login: a per-sender token (`Authorization: Bearer <token>` or `?token=`). An
unknown sender, a missing token and a wrong token all get the same 401, so the
URL does not tell which senders exist. A sender switched off in the admin answers
403 — but only to a caller holding its valid token. See docs/export.md.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from senders.accounts import client_address
from senders.engine import OverrideSyntaxError
from senders.export import Kind, export_of, record_fetch, sender_for_token

logger = logging.getLogger(__name__)

UNAUTHORIZED_BODY = (
    "401 Unauthorized: this export needs the sender's export token, sent as "
    '"Authorization: Bearer <token>" (or ?token=<token>).\n'
)
TEXT = "text/plain; charset=utf-8"


# csrf_exempt: these views change nothing and serve only GET and HEAD; without it a POST
# would get the CSRF middleware's 403 before require_safe could answer 405 (docs/export.md).
@csrf_exempt
@require_safe
def export_text(request: HttpRequest, slug: str) -> HttpResponse:
    return _export(request, slug, "txt")


@csrf_exempt
@require_safe
def export_json(request: HttpRequest, slug: str) -> HttpResponse:
    return _export(request, slug, "json")


def _export(request: HttpRequest, slug: str, kind: Kind) -> HttpResponse:
    sender = sender_for_token(slug, _token(request))
    if sender is None:
        return _plain(UNAUTHORIZED_BODY, 401, {"WWW-Authenticate": 'Bearer realm="export"'})
    if not sender.enabled:
        return _plain(f"403 Forbidden: sender {slug} is switched off in the admin.\n", 403)
    try:
        export = export_of(sender, kind)
    except OverrideSyntaxError as error:
        logger.error("export of %s failed: stored table does not parse: %s", slug, error)
        return _plain("503 Service Unavailable: the stored table cannot be read.\n", 503)
    response = HttpResponse(export.body, content_type=export.content_type)
    response["ETag"] = export.etag
    response["Cache-Control"] = "private, no-cache"
    response["X-Table-Revision"] = str(export.revision)
    patch_vary_headers(response, ["Authorization"])
    last_modified = int(export.last_modified.timestamp()) if export.last_modified else None
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified)
    response = get_conditional_response(
        request, etag=export.etag, last_modified=last_modified, response=response
    )
    if request.method == "HEAD":
        if response.status_code == 200:
            response.content = b""
            response["Content-Length"] = str(len(export.body))
    elif response.status_code in (200, 304):
        record_fetch(
            sender,
            client_address(request) or "",
            export.revision,
            request.headers.get("User-Agent", ""),
        )
    return response


def _token(request: HttpRequest) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.GET.get("token") or None


def _plain(body: str, status: int, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(body, content_type=TEXT, status=status, headers=headers)
    response["Cache-Control"] = "no-store"
    return response
