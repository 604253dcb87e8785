"""An upload handler that stops reading an uploaded file at the table size limit.

`senders.middleware.RequestSizeLimitMiddleware` refuses a body whose Content-Length
is over the limit before anything reads it. This handler covers what that check
cannot see: a file bigger than a table may be inside a body that is not (the
limit for the whole form leaves room for its other fields), or a body whose
length was not declared. Either way the parser stops at the first chunk past
MAX_TABLE_UPLOAD_BYTES, and the answer is the 413 page naming the limit — the
rest of the file is never spooled to memory or disk.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler


class TableSizeLimitUploadHandler(FileUploadHandler):
    """Passes chunks on to the next handler until a file passes the table size limit."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit: int = settings.MAX_TABLE_UPLOAD_BYTES

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            # A SuspiciousOperation: Django answers it with handler400, which says 413
            # and names the limit (senders.views.errors.bad_request).
            raise RequestDataTooBig(f"an uploaded file is over {self.limit} bytes")
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file
