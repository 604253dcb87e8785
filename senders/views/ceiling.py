"""`/bench/ceiling`: the benchmark's yardstick, never on unless BENCHMARK_CEILING_VIEW is set.

bench/export.py compares the export's requests per second with this view's, served
by the same gunicorn through the same middleware: the fastest any view of this app
can answer. `?size=N` makes the body N bytes (at most 1 MiB), so that the export
is compared with a view sending as much; the body is built once per size.
`?query=1` also sends one trivial query (`SELECT 1`) first: what one round trip
to the database costs, which the export (one query a poll) cannot do without.
"""

from __future__ import annotations

from functools import lru_cache

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

MAX_SIZE = 1024 * 1024
LINE = b"ceiling.example relay.example.net\n"


@lru_cache(maxsize=8)
def _body(size: int) -> bytes:
    return (LINE * (size // len(LINE) + 1))[:size]


@require_safe
def ceiling(request: HttpRequest) -> HttpResponse:
    if request.GET.get("query") == "1":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    size = request.GET.get("size", "")
    if size.isascii() and size.isdigit() and len(size) < 9:
        return HttpResponse(_body(min(int(size), MAX_SIZE)), content_type="text/plain")
    return HttpResponse(b"ok\n", content_type="text/plain")
