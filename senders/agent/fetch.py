"""Fetching the export: one conditional GET, and the polling schedule.

The request carries the token as `Authorization: Bearer`, the last ETag as
`If-None-Match` (an unchanged table costs a 304 and no body) and the User-Agent
`overrides-agent/<version>`, which the admin shows on the sender page. A fetch
never raises: every outcome is a Fetched (new table, unchanged, or an error).
"""

from __future__ import annotations

import http.client
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Literal

from senders.agent import __version__
from senders.agent.export import BadExport, Kind, read_export
from senders.engine import Rule

USER_AGENT = f"overrides-agent/{__version__}"
HTTP_TIMEOUT = 30.0
MAX_BODY = 64 * 1024 * 1024  # far above any table the admin accepts
MAX_BACKOFF = 300.0


@dataclass(frozen=True, slots=True)
class Fetched:
    outcome: Literal["new", "unchanged", "error"]
    text: str  # for logs and `check`: "200, revision 7", "304 not modified", "HTTP 401 …"
    body: bytes = b""
    etag: str | None = None
    revision: int | None = None
    rules: tuple[Rule, ...] = ()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would carry the token to wherever it points; the export never redirects.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


class Fetcher:
    def __init__(self, url: str, token: str, kind: Kind, *, timeout: float = HTTP_TIMEOUT) -> None:
        self.url = url
        self._token = token
        self.kind = kind
        self.timeout = timeout

    def fetch(self, etag: str | None = None) -> Fetched:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json" if self.kind == "json" else "text/plain",
        }
        if etag:
            headers["If-None-Match"] = etag
        request = urllib.request.Request(self.url, headers=headers)  # noqa: S310 (http(s) only: checked by the CLI)
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_BODY + 1)
                status, got = response.status, response.headers
        except urllib.error.HTTPError as error:
            if error.code == 304:
                return Fetched("unchanged", "304 not modified", etag=etag)
            detail = _first_line(error.read(300)) if error.fp is not None else ""
            return Fetched("error", f"HTTP {error.code}" + (f": {detail}" if detail else ""))
        except urllib.error.URLError as error:
            return Fetched("error", f"cannot reach {_origin(self.url)}: {error.reason}")
        except (http.client.HTTPException, OSError, ValueError) as error:
            return Fetched("error", f"fetch from {_origin(self.url)} failed: {error!r}")
        if len(body) > MAX_BODY:
            return Fetched("error", f"body over {MAX_BODY} bytes: refused")
        revision = _revision(got.get("X-Table-Revision"))
        new_etag = got.get("ETag")
        try:
            rules = read_export(body, self.kind, new_etag)
        except BadExport as error:
            what = f"revision {revision}" if revision is not None else "the table"
            return Fetched("error", f"refused {what}: {error}", revision=revision)
        return Fetched(
            "new",
            f"{status}, revision {revision if revision is not None else '?'}",
            body,
            new_etag,
            revision,
            tuple(rules),
        )


def _revision(value: str | None) -> int | None:
    if value is not None and value.strip().isdigit():
        return int(value.strip())
    return None


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rsplit('@', 1)[-1]}"


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip().splitlines()
    return text[0][:200].rstrip(".") if text else ""


def next_delay(interval: float, failures: int, rng: random.Random | None = None) -> float:
    """Seconds to the next poll: the interval with jitter (75-100 %, so a change is seen
    within one interval), doubling per consecutive failure up to MAX_BACKOFF (or the
    interval, if longer)."""
    rng = rng or random.Random()  # jitter, not security
    base = interval
    if failures:
        base = min(interval * 2**failures, max(MAX_BACKOFF, interval))
    return base * rng.uniform(0.75, 1.0)
