"""Logging filters. Imported by the LOGGING setting: no Django models here."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

# The request line of runserver's log: "GET /export/main.txt?token=abc HTTP/1.1".
_REQUEST_LINE = re.compile(
    r"^(?P<method>\S+ )(?P<path>[^?\s]*)(?P<query>\?\S*)?(?P<rest>.*)$", re.S
)


def without_export_query(request_line: str) -> str:
    """The request line without its query string when it asks for the export, where the
    query string may hold the export token (`?token=`)."""
    match = _REQUEST_LINE.match(request_line)
    if not match or not match["query"]:
        return request_line
    path = unquote(re.sub(r"^[a-z][a-z0-9+.-]*://[^/]*", "", match["path"], flags=re.I))
    if not path.startswith("/export/"):
        return request_line
    return match["method"] + match["path"] + match["rest"]


class HideExportQuery(logging.Filter):
    """On the `django.server` logger (runserver's request log): leave out the query
    string of export requests, as gunicorn.conf.py does for gunicorn's access log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args and isinstance(args[0], str):
            record.args = (without_export_query(args[0]), *args[1:])
        return True
